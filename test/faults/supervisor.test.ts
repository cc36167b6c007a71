// Backend supervision: real Python processes stand in for a trainer that crashes, hangs (and ignores
// SIGTERM), or floods its log, under src/node/supervisor. Each must give a clear error within 5 s,
// leave its log on disk, and end with its run marked failed in the store (through the protocol:
// closeRunIfOpen appends run_end, ingest stores it), as the extension's training host does.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Supervisor, closeRunIfOpen, type SupervisorIssue } from '../../src/node/supervisor';
import { RunStore } from '../../src/node/store';
import { ingestFile } from '../../src/node/ingest/ingest';
import { killAllChildren, runStartEvent, tempDir } from './helpers';

after(killAllChildren);

const PYTHON = process.env.REWARD_LENS_PYTHON && existsSync(process.env.REWARD_LENS_PYTHON) ? process.env.REWARD_LENS_PYTHON : 'python3';

/** Common head of every stand-in: writes run_start to events.jsonl like the real trainer. */
function script(runId: string, body: string): string {
  return `
import json, sys, time, signal
events = open(sys.argv[1], 'a')
events.write(${JSON.stringify(JSON.stringify(runStartEvent(runId)))} + '\\n'); events.flush()
print('[reward_lens.train] step 0 starting', flush=True)
${body}
`;
}

const CRASH = `
print('[reward_lens.train] loading policy', flush=True)
time.sleep(0.3)
print('CRASH_AT %d' % int(time.time() * 1000), flush=True)
raise RuntimeError('CUDA out of memory. Tried to allocate 2.00 GiB')
`;

const HANG = `
signal.signal(signal.SIGTERM, signal.SIG_IGN)  # stuck in native code: SIGTERM does nothing
print('SILENT_AT %d' % int(time.time() * 1000), flush=True)
time.sleep(3600)
`;

const FLOOD = `
print('FLOOD_AT %d' % int(time.time() * 1000), flush=True)
for i in range(300000):
    sys.stdout.write('debug: token %d of the rollout buffer\\n' % i)
sys.stdout.flush()
print('FLOOD_DONE', flush=True)
time.sleep(3600)
`;

interface Outcome {
  issues: Array<{ issue: SupervisorIssue; at: number }>;
  lines: string[];
  marker: number | null;
}

async function runStandIn(kind: string, body: string, opts: { hangTimeoutMs: number; afterStart: (s: Supervisor, o: Outcome) => Promise<void> }) {
  const { dir, cleanup } = tempDir(`sup-${kind}`);
  const file = path.join(dir, `${kind}.py`);
  const events = path.join(dir, 'events.jsonl');
  const logFile = path.join(dir, 'trainer.log');
  writeFileSync(file, script(`run-${kind}`, body));
  const o: Outcome = { issues: [], lines: [], marker: null };
  const sup = Supervisor.start({
    command: PYTHON,
    args: ['-u', file, events],
    cwd: dir,
    logFile,
    eventsFile: events,
    hangTimeoutMs: opts.hangTimeoutMs,
    stopGraceMs: 1000,
    pollIntervalMs: 200,
    onLine: (l) => {
      o.lines.push(l);
      const m = /^(?:CRASH_AT|SILENT_AT|FLOOD_AT) (\d+)$/.exec(l);
      if (m) o.marker = Number(m[1]);
    },
    onIssue: (issue) => o.issues.push({ issue, at: Date.now() }),
  });
  try {
    await opts.afterStart(sup, o);
    let timer: NodeJS.Timeout | undefined;
    const exit = await Promise.race([
      sup.exited,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${kind}: the supervisor did not report an exit within 30 s`)), 30_000);
      }),
    ]).finally(() => clearTimeout(timer));
    return { exit, o, dir, events, logFile, cleanup, exitedAt: Date.now() };
  } catch (e) {
    sup.kill();
    cleanup();
    throw e;
  }
}

/** Marks the run as the extension does and checks the store says failed, with the reason. */
async function assertMarkedFailed(dir: string, events: string, reason: string): Promise<string> {
  const closed = await closeRunIfOpen(events, 'failed', reason);
  assert.ok(closed, 'run_end appended for a run that died without one');
  const store = await RunStore.open(path.join(dir, 'store.db'));
  try {
    const s = await ingestFile(store, events);
    assert.equal(s.malformed.length, 0);
    const [run] = await store.listRuns();
    assert.equal(run?.status, 'failed', 'the run is marked failed in the store');
    assert.ok((run?.reason ?? '').length > 0, 'the failed run carries its reason');
    return run?.reason ?? '';
  } finally {
    await store.close();
  }
}

async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('a trainer that crashes: clear error within 5 s, run marked failed, log kept', async () => {
  const r = await runStandIn('crash', CRASH, { hangTimeoutMs: 0, afterStart: async () => undefined });
  try {
    assert.equal(r.exit.outcome, 'crashed');
    assert.ok(r.o.marker !== null, 'the stand-in reached its crash');
    const latency = r.exitedAt - (r.o.marker as number);
    assert.ok(latency < 5000, `crash reported ${latency} ms after it happened`);
    assert.match(r.exit.message, /CUDA ran out of memory/, 'the message says what happened and what to do');
    assert.ok(r.exit.lastLines.some((l) => l.includes('RuntimeError: CUDA out of memory')), 'the traceback is in the last lines');
    const log = readFileSync(r.logFile, 'utf8');
    assert.match(log, /loading policy/);
    assert.match(log, /RuntimeError: CUDA out of memory/);
    const reason = await assertMarkedFailed(r.dir, r.events, `${r.exit.message}\n${r.exit.lastLines.slice(-15).join('\n')}`);
    assert.match(reason, /CUDA/);
    console.log(`crash: reported ${latency} ms after the crash; message: ${r.exit.message.slice(0, 120)}`);
  } finally {
    r.cleanup();
  }
});

test('a trainer that hangs and ignores SIGTERM: hang reported within 5 s, stop escalates to SIGKILL, run marked failed, log kept', async () => {
  let issueLatency = -1;
  const r = await runStandIn('hang', HANG, {
    hangTimeoutMs: 2000,
    afterStart: async (sup, o) => {
      await until(() => o.issues.some((i) => i.issue.kind === 'hang'), 15_000, 'the hang report');
      const hang = o.issues.find((i) => i.issue.kind === 'hang') as { issue: SupervisorIssue; at: number };
      issueLatency = hang.at - (o.marker as number);
      await sup.stop(1000);
    },
  });
  try {
    assert.ok(issueLatency >= 0 && issueLatency < 5000, `hang reported ${issueLatency} ms after the trainer went silent`);
    const hang = r.o.issues.find((i) => i.issue.kind === 'hang')?.issue as SupervisorIssue;
    assert.match(hang.message, /no output and no events/);
    assert.match(hang.message, /trainer\.log/, 'the message points at the log');
    assert.equal(r.exit.outcome, 'killed', 'SIGTERM was ignored, so stop escalated to SIGKILL');
    const log = readFileSync(r.logFile, 'utf8');
    assert.match(log, /SILENT_AT/);
    assert.match(log, /reported as hung/);
    await assertMarkedFailed(r.dir, r.events, hang.message);
    console.log(`hang: reported ${issueLatency} ms after the trainer went silent (threshold 2000 ms)`);
  } finally {
    r.cleanup();
  }
});

test('a trainer that floods its log: flood reported within 5 s, every line kept in the log file, run marked failed', async () => {
  let issueLatency = -1;
  let reportedAt = -1;
  const r = await runStandIn('flood', FLOOD, {
    hangTimeoutMs: 0,
    afterStart: async (sup, o) => {
      await until(() => o.issues.some((i) => i.issue.kind === 'flood'), 15_000, 'the flood report');
      reportedAt = o.issues.find((i) => i.issue.kind === 'flood')?.at as number;
      // The stand-in has finished flooding when FLOOD_DONE is among the last lines the supervisor saw.
      const t0 = Date.now();
      while (Date.now() - t0 < 20_000 && !sup.lastLines().includes('FLOOD_DONE')) await new Promise((res) => setTimeout(res, 50));
      await sup.stop(1000);
    },
  });
  try {
    // The supervisor throttles forwarding once it sees the flood, so on a fast machine the
    // FLOOD_AT line can arrive in the same read as the flood and never be forwarded; the log file
    // keeps every line, so the start time is read from there when it was not forwarded.
    const began = r.o.marker ?? Number(/^FLOOD_AT (\d+)$/m.exec(readFileSync(r.logFile, 'utf8'))?.[1]);
    issueLatency = reportedAt - began;
    assert.ok(issueLatency >= 0 && issueLatency < 5000, `flood reported ${issueLatency} ms after it began`);
    const flood = r.o.issues.find((i) => i.issue.kind === 'flood')?.issue as SupervisorIssue;
    assert.match(flood.message, /flooding its log/);
    assert.ok(r.o.lines.length < 300_000, `forwarding was throttled (${r.o.lines.length} lines forwarded)`);
    const log = readFileSync(r.logFile, 'utf8');
    const kept = log.split('\n').filter((l) => l.startsWith('debug: token ')).length;
    assert.equal(kept, 300_000, 'every flooded line is kept in the log file');
    assert.match(log, /FLOOD_DONE/);
    await assertMarkedFailed(r.dir, r.events, flood.message);
    console.log(`flood: reported ${issueLatency} ms after it began; ${r.o.lines.length} lines forwarded, ${kept} kept in the log, ${r.exit.suppressedLines} suppressed`);
  } finally {
    r.cleanup();
  }
});
