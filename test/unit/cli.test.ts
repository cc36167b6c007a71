// The CLI's conventions, in process (fast): every subcommand answers --help with its usage and
// exit 0 (`reward-lens embed --help` used to fail with "--help needs a value"), a bad command line
// names the flag and exits 2, --version prints the package version. The spawned binary is
// exercised in test/integration/cli.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { COMMANDS, runCli } from '../../src/node/cli/main';

async function cli(...argv: string[]) {
  let out = '';
  let err = '';
  const code = await runCli(argv, { out: (t) => void (out += t), err: (t) => void (err += t) });
  return { code, out, err };
}

test('every subcommand answers --help and -h with its usage and every option, exit 0', async () => {
  assert.ok(COMMANDS.length >= 6);
  for (const c of COMMANDS) {
    for (const h of ['--help', '-h']) {
      const r = await cli(c.name, h);
      assert.equal(r.code, 0, `${c.name} ${h}: ${r.err}`);
      assert.ok(r.out.startsWith(`usage: reward-lens ${c.name}`), r.out);
      for (const name of Object.keys(c.options)) assert.ok(r.out.includes(`--${name}`), `${c.name} --help lists --${name}`);
    }
    // help wins over anything else on the line, including a flag that would need a value
    const withOthers = await cli(c.name, '--db', '--help');
    assert.equal(withOthers.code, 0, `${c.name} --db --help`);
  }
});

test('usage errors name the flag and exit 2', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['stats'], /--db is required/],
    [['stats', '--db'], /'--db <value>' argument missing/],
    [['stats', '--db', 'x', '--bogus'], /Unknown option '--bogus'/],
    [['stats', '--db', 'x', 'extra'], /Unexpected argument 'extra'/],
    [['stats', '--db', 'x', '--json=yes'], /'--json' does not take an argument/],
    [['embed', '--encoder', 'e', '--in', 'i', '--out', 'o', '--threads', 'two'], /--threads must be a positive integer, got "two"/],
    [['embed', '--encoder', 'e', '--in', 'i', '--out', 'o', '--strategy', 'mean'], /--strategy must be truncate or chunk-mean, got "mean"/],
    [['audit', '--db', 'x', '--step=-1'], /--step must be a non-negative integer, got "-1"/],
    [['audit', '--db', 'x', '--tolerance', 'lots'], /--tolerance must be a number >= 0/],
    [['import', '--db', 'x'], /exactly one of --verl DIR or --trl DIR/],
    [['ingest', '--db', 'x'], /at least one events.jsonl/],
    [['reward'], /--in is required/],
  ];
  for (const [argv, message] of cases) {
    const r = await cli(...argv);
    assert.equal(r.code, 2, `${argv.join(' ')}: exit ${r.code} ${r.err}`);
    assert.match(r.err, message);
    assert.match(r.err, new RegExp(`usage: reward-lens ${argv[0]}`));
  }
  const unknown = await cli('frobnicate');
  assert.equal(unknown.code, 2);
  assert.match(unknown.err, /unknown command 'frobnicate'/);
  assert.equal((await cli()).code, 2, 'no command is a usage error');
});

test('--version prints the package version; a runtime failure exits 1', async () => {
  const pkg = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };
  const v = await cli('--version');
  assert.equal(v.code, 0);
  assert.equal(v.out, `reward-lens ${pkg.version}\n`);
  const missing = await cli('stats', '--db', join(__dirname, 'no-such-store.db'));
  assert.equal(missing.code, 1);
  assert.match(missing.err, /no store at/);
});
