#!/usr/bin/env node
// The `reward-lens` binary (dist/cli.js). Everything but starting up lives in src/node/cli/main.ts.
import { runCli } from './cli/main';

runCli(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`reward-lens: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  },
);
