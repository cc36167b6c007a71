// The CLI as researchers and scripts call it, as a process: ingest (exit 0 with malformed lines
// listed on stderr as FILE:LINE and in --json), stats --json, import --verl, and the exit codes of
// --help, --version and a usage error (test/unit/cli.test.ts covers every subcommand in process).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { groupEvent, runStart } from '../kit/events';

const repo = resolve(__dirname, '..', '..');

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(repo, 'src', 'node', 'cli.ts'), ...args], { cwd: repo, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('reward-lens ingest / stats / import', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rl-cli-'));
  try {
    const events = join(dir, 'events.jsonl');
    const db = join(dir, 'store.db');
    writeFileSync(events, [JSON.stringify(runStart('cli')), '{"v":1,"type":', JSON.stringify(groupEvent('cli', 0, 0, { textBytes: 300 })), '{"v":9,"type":"step"}', ''].join('\n'));
    const ing = cli('ingest', events, '--db', db, '--json');
    assert.equal(ing.code, 0, ing.stderr);
    const summary = JSON.parse(ing.stdout);
    assert.equal(summary.events, 2);
    assert.equal(summary.groups, 1);
    assert.equal(summary.trajectories, 8);
    assert.deepEqual(summary.malformed.map((m: { line: number }) => m.line), [2, 4]);
    assert.deepEqual(ing.stderr.trim().split('\n').map((l) => l.slice(0, l.indexOf(': '))), [`${events}:2`, `${events}:4`]);
    const plain = cli('ingest', events, '--db', db);
    assert.equal(plain.code, 0);
    assert.match(plain.stdout, /0 events \(0 new groups/);
    const imp = cli('import', '--verl', join(repo, 'test', 'fixtures', 'verl', 'rollout'), '--db', db, '--json');
    assert.equal(imp.code, 0, imp.stderr);
    assert.equal(JSON.parse(imp.stdout).groups, 4);
    const stats = cli('stats', '--db', db, '--json');
    assert.equal(stats.code, 0, stats.stderr);
    assert.deepEqual(JSON.parse(stats.stdout), { runs: 2, steps: 3, groups: 5, trajectories: 21, labels: 0, malformedLines: 2 });
    const missing = cli('stats', '--db', join(dir, 'nope.db'), '--json');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no store at/);
    const both = cli('import', '--verl', dir, '--trl', dir, '--db', db);
    assert.equal(both.code, 2, 'a usage error');
    assert.match(both.stderr, /exactly one of/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the binary: `embed --help` exits 0 with its usage, --version prints the version, a bad flag exits 2 naming it', () => {
  const help = cli('embed', '--help');
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /^usage: reward-lens embed --encoder DIR/);
  const version = cli('--version');
  assert.equal(version.code, 0);
  assert.match(version.stdout, /^reward-lens \d+\.\d+\.\d+\n$/);
  const bad = cli('stats', '--db', 'x.db', '--bogus');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /Unknown option '--bogus'/);
});
