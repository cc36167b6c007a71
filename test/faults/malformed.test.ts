// Malformed events: ≥ 1,000 generated bad lines of every kind a broken or hostile trainer can write,
// mixed with valid events. The ingest must not crash, must report each bad line with its line number
// (in its summary, in the store and through the CLI), and must ingest every valid event.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { RunStore } from '../../src/node/store';
import { ingestFile } from '../../src/node/ingest/ingest';
import { groupEventOf, REPO_ROOT, rng, runStartEvent, stepEventOf, tempDir, TSX_IMPORT } from './helpers';

type Kind =
  | 'truncated-json'
  | 'wrong-type'
  | 'nan-infinity'
  | 'line-10mb'
  | 'unknown-version'
  | 'invalid-utf8'
  | 'missing-field'
  | 'huge-array'
  | 'deep-nesting'
  | 'not-an-object';

const enc = (s: string) => Buffer.from(s, 'utf8');

/** Builds one malformed line of the given kind (without its newline). */
function malformedLine(kind: Kind, r: () => number, n: number): Buffer {
  const group = groupEventOf('r-bad', 10_000 + n, n, 60);
  const json = JSON.stringify(group);
  switch (kind) {
    case 'truncated-json':
      return enc(json.slice(0, 5 + Math.floor(r() * (json.length - 10))));
    case 'wrong-type': {
      const variants: Array<(g: Record<string, unknown>) => void> = [
        (g) => (g.step = 'seven'),
        (g) => (g.trajectories = { not: 'an array' }),
        (g) => ((g.trajectories as Record<string, unknown>[])[0]!.r_m = '1'),
        (g) => ((g.trajectories as Record<string, unknown>[])[1]!.verdict = 5),
        (g) => ((g.trajectories as Record<string, unknown>[])[2]!.text = ['a', 'b']),
        (g) => (g.prompt_id = null),
        (g) => ((g.trajectories as Record<string, unknown>[])[3]!.source = 'sideways'),
      ];
      const g = JSON.parse(json) as Record<string, unknown>;
      (variants[n % variants.length] as (g: Record<string, unknown>) => void)(g);
      return enc(JSON.stringify(g));
    }
    case 'nan-infinity': {
      const tokens = ['NaN', 'Infinity', '-Infinity', '1e999', '-1e999'];
      const tok = tokens[n % tokens.length] as string;
      return enc(json.replace('"divergence":0.1', `"divergence":${tok}`));
    }
    case 'line-10mb': {
      const g = JSON.parse(json) as { trajectories: { text: string }[] };
      g.trajectories[0]!.text = 'x'.repeat(10 * 1024 * 1024);
      return enc(JSON.stringify(g));
    }
    case 'unknown-version': {
      const vs = ['2', '"1"', '0', 'null', '1.5'];
      return enc(json.replace('"v":1', `"v":${vs[n % vs.length]}`));
    }
    case 'invalid-utf8': {
      const bad = [Buffer.from([0xff]), Buffer.from([0xc3, 0x28]), Buffer.from([0xc0, 0xaf]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xf8, 0x88, 0x80, 0x80, 0x80])];
      const at = json.indexOf('reasoning');
      return Buffer.concat([enc(json.slice(0, at)), bad[n % bad.length] as Buffer, enc(json.slice(at))]);
    }
    case 'missing-field': {
      const g = JSON.parse(json) as Record<string, unknown>;
      const fields = ['type', 'run_id', 'prompt_id', 'trajectories', 'step'];
      if (n % 6 === 5) delete (g.trajectories as Record<string, unknown>[])[0]!.id;
      else delete g[fields[n % 6] as string];
      return enc(JSON.stringify(g));
    }
    case 'huge-array': {
      const g = JSON.parse(json) as Record<string, unknown>;
      g.trajectories = new Array(200_000).fill(0);
      return enc(JSON.stringify(g));
    }
    case 'deep-nesting': {
      // A known field nested past any sane depth, and an unknown field nested as deep: the schema
      // refuses the first; the second is valid JSON the schema allows, and must still not crash.
      const depth = 20_000;
      const deep = '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
      return n % 2 === 0
        ? enc(`{"v":1,"type":"step","run_id":"r-bad","step":${n},"metrics":${deep}}`)
        : enc(`{"v":1,"type":"step","run_id":"r-bad","step":${n},"metrics":{},"x_nested":${deep}}`);
    }
    case 'not-an-object':
      return enc(['[]', '42', '"group"', 'null', 'true', '{}'][n % 6] as string);
  }
}

const PLAN: Array<[Kind, number]> = [
  ['truncated-json', 200],
  ['wrong-type', 150],
  ['nan-infinity', 150],
  ['line-10mb', 3],
  ['unknown-version', 150],
  ['invalid-utf8', 150],
  ['missing-field', 150],
  ['huge-array', 4],
  ['deep-nesting', 6],
  ['not-an-object', 60],
];

test('≥ 1,000 malformed events mixed with valid ones: no crash, each reported with its line number, every valid event ingested', async () => {
  const { dir, cleanup } = tempDir('malformed');
  try {
    const r = rng(2024);
    const bad: Array<{ kind: Kind; n: number }> = [];
    for (const [kind, count] of PLAN) for (let i = 0; i < count; i++) bad.push({ kind, n: i });
    assert.ok(bad.length >= 1000, `${bad.length} malformed events planned`);
    // Shuffle the bad lines among the valid ones.
    for (let i = bad.length - 1; i > 0; i--) {
      const j = Math.floor(r() * (i + 1));
      [bad[i], bad[j]] = [bad[j] as { kind: Kind; n: number }, bad[i] as { kind: Kind; n: number }];
    }
    const lines: Buffer[] = [enc(JSON.stringify(runStartEvent('r-good')))];
    const expectedBad = new Map<number, Kind>();
    let validGroups = 0;
    let validSteps = 0;
    let step = 0;
    let b = 0;
    while (b < bad.length || step < 120) {
      if (step < 120 && (b >= bad.length || r() < 0.35)) {
        lines.push(enc(JSON.stringify(stepEventOf('r-good', step))));
        validSteps++;
        for (let p = 0; p < 2; p++) {
          lines.push(enc(JSON.stringify(groupEventOf('r-good', step, p))));
          validGroups++;
        }
        step++;
      } else {
        const { kind, n } = bad[b++] as { kind: Kind; n: number };
        lines.push(malformedLine(kind, r, n));
        expectedBad.set(lines.length, kind); // 1-based line number of the line just pushed
      }
    }
    const file = path.join(dir, 'events.jsonl');
    writeFileSync(file, Buffer.concat(lines.flatMap((l) => [l, Buffer.from('\n')])));

    const store = await RunStore.open(path.join(dir, 'store.db'));
    try {
      const summary = await ingestFile(store, file);
      const reported = new Map(summary.malformed.map((m) => [m.line, m.reason]));
      const perKind = new Map<Kind, { planned: number; reported: number }>();
      const missed: string[] = [];
      for (const [line, kind] of expectedBad) {
        const k = perKind.get(kind) ?? { planned: 0, reported: 0 };
        k.planned++;
        if (reported.has(line)) k.reported++;
        else missed.push(`line ${line} (${kind})`);
        perKind.set(kind, k);
      }
      console.log('malformed lines by kind (planned / reported with their line number):');
      for (const [kind, k] of perKind) console.log(`  ${kind.padEnd(16)} ${k.planned} / ${k.reported}  e.g. ${[...expectedBad].find(([, x]) => x === kind)?.[0]}: ${reported.get([...expectedBad].find(([, x]) => x === kind)?.[0] ?? -1)?.slice(0, 90)}`);
      assert.deepEqual(missed.slice(0, 20), [], `${missed.length} malformed lines not reported`);
      const falseAlarms = summary.malformed.filter((m) => !expectedBad.has(m.line));
      assert.deepEqual(falseAlarms.map((m) => `${m.line}: ${m.reason}`), [], 'valid lines reported as malformed');
      const stats = await store.stats();
      assert.equal(stats.groups, validGroups, 'every valid group stored');
      assert.equal(stats.trajectories, validGroups * 8, 'every valid trajectory stored');
      assert.equal(stats.steps, validSteps);
      assert.equal(stats.malformedLines, expectedBad.size, 'every malformed line recorded in the store');
      const stored = await store.malformedLines();
      assert.deepEqual(
        stored.map((m) => m.line).sort((a, b) => a - b),
        [...expectedBad.keys()].sort((a, b) => a - b),
        'the store records the right line numbers',
      );
      const integrity = await store.db.get<{ integrity_check: string }>('PRAGMA integrity_check');
      assert.equal(integrity?.integrity_check, 'ok');
    } finally {
      await store.close();
    }

    // The CLI on the same file, in a fresh store: exits 0, one FILE:LINE report per bad line.
    const cli = spawnSync(process.execPath, [...TSX_IMPORT, path.join(REPO_ROOT, 'src/node/cli.ts'), 'ingest', file, '--db', path.join(dir, 'cli.db'), '--json'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      maxBuffer: 256 * 1024 * 1024,
      timeout: 120_000,
    });
    assert.equal(cli.status, 0, `CLI exit ${cli.status}: ${cli.stderr.slice(-400)}`);
    const reportedLines = new Set(
      cli.stderr
        .split('\n')
        .map((l) => /:(\d+): /.exec(l)?.[1])
        .filter((x): x is string => x !== undefined)
        .map(Number),
    );
    for (const line of expectedBad.keys()) assert.ok(reportedLines.has(line), `CLI did not report line ${line}`);
  } finally {
    cleanup();
  }
});
