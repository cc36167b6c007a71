// Re-verifying runs against a real store and the real Python backend: the verify process (order,
// per-item timeouts, a killed process), reverifyRun (new verdict set per verifier identity, the
// active set untouched, the diff, cancel within 1 s with no process left), and the regression set
// (relabels as cases, an edit clears a disagreement, export for --test, 1,000 cases timed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { RunStore } from '../../src/node/store';
import type { GroupEvent, RolloutEvent, RunStartEvent, TrajectoryEvent, Verdict } from '../../src/core/protocol';
import { VerifyProcess } from '../../src/node/reverify/verifyProcess';
import { answerPartDeclaration, ReverifyCancelled, reverifyRun, verifierFileIdentity } from '../../src/node/reverify/reverify';
import { RegressionRunner, currentLabels, exportLabelsJsonl, exportedId, regressionCases, type RegressionCase } from '../../src/node/reverify/regression';
import { loadScaledBound } from '../kit/load';

const REPO = resolve(__dirname, '..', '..');
const BACKEND_ROOT = join(REPO, 'python');

/** The backend's interpreter: REWARD_LENS_PYTHON, else the repo's .venv (scripts/setup.d makes it). */
function backendPython(): string {
  const fromEnv = process.env.REWARD_LENS_PYTHON;
  if (fromEnv) return fromEnv;
  const venv = join(REPO, '.venv', 'bin', 'python');
  if (!existsSync(venv)) throw new Error(`no backend Python: run scripts/setup.sh (expected ${venv}) or set REWARD_LENS_PYTHON`);
  return venv;
}

function tempDir(prefix = 'rl-reverify-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

function templateSource(): string {
  return readFileSync(join(BACKEND_ROOT, 'reward_lens', 'templates', 'verifier.py'), 'utf8');
}

function writeVerifier(dir: string, source: string, name = 'verifier.py'): string {
  const path = join(dir, name);
  writeFileSync(path, source);
  return path;
}

interface MemberSpec {
  answer: string | null;
  logged: Verdict;
}

function luffyText(answer: string | null): string {
  return answer === null ? '<think>\nstill working on it when the length limit hit' : `<think>\nsome reasoning\n</think>\nThe answer is $\\boxed{${answer}}$.`;
}

function runStartEvent(runId: string): RunStartEvent {
  return {
    v: 1,
    type: 'run_start',
    run_id: runId,
    variant: 'grpo',
    config: {},
    model: 'test-model',
    reward: { variant: 'grpo', replace: 0, advantage: { std: 'sample', eps: 1e-6 } },
    encoder: null,
    verifier: { id: 'logged', name: 'trainer default' },
  };
}

function groupOf(runId: string, step: number, g: number, gold: string, members: MemberSpec[]): GroupEvent {
  const trajectories: TrajectoryEvent[] = members.map((m, i) => ({
    id: `s${step}-g${g}-on${i}`,
    source: 'online',
    index: i,
    text: luffyText(m.answer),
    r_m: m.logged === 'correct' ? 1 : 0,
    verdict: m.logged,
    replaced: false,
  }));
  return { v: 1, type: 'group', run_id: runId, step, prompt_id: `p${g}`, prompt: `Problem ${g}`, gold, trajectories };
}

async function storeWith(path: string, events: RolloutEvent[]): Promise<RunStore> {
  const store = await RunStore.open(path);
  await store.writeBatch({
    file: 'test',
    events: events.map((event, i) => ({ line: i + 1, byteOffset: i, event })),
    malformed: [],
    endOffset: events.length,
    endLine: events.length,
  });
  return store;
}

const HOSTILE = `
import os, time
def verify(response, gold):
    if "HANG" in response:
        time.sleep(600)
    if "CRASH" in response:
        os._exit(3)
    if "RAISE" in response:
        raise ValueError("boom")
    if "SLOW" in response:
        time.sleep(0.4)
    return "boxed{" + gold + "}" in response
`;

function processesMentioning(marker: string): string[] {
  const out = spawnSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' }).stdout ?? '';
  return out.split('\n').filter((l) => l.includes(marker) && !l.includes('ps -eo'));
}

test('verify process: results in order, per-item timeout and crash, and recovery after the process is killed', async () => {
  const dir = tempDir();
  const path = writeVerifier(dir, HOSTILE, 'hostile.py');
  const proc = new VerifyProcess({ python: backendPython(), backendRoot: BACKEND_ROOT, verifier: path, workers: 2, timeoutS: 1 });
  try {
    const results = await proc.verify([
      { id: 'a', response: 'boxed{1}', gold: '1' },
      { id: 'b', response: 'HANG', gold: '1' },
      { id: 'c', response: 'CRASH', gold: '1' },
      { id: 'd', response: 'RAISE', gold: '1' },
      { id: 'e', response: 'boxed{2}', gold: '1' },
    ]);
    assert.deepEqual(results.map((r) => [r.id, r.correct]), [['a', true], ['b', null], ['c', null], ['d', null], ['e', false]]);
    assert.equal(results[1]?.reason, 'error: timeout after 1s');
    assert.match(results[2]?.reason ?? '', /^error: crashed \(worker exited with code 3\)/);
    assert.match(results[3]?.reason ?? '', /^error: ValueError: boom/);
    // Kill the whole Python process while it holds items: they are answered as crashed, and the
    // next call starts a fresh process.
    const pending = proc.verify([{ id: 'x', response: 'SLOW boxed{1}', gold: '1' }, { id: 'y', response: 'SLOW', gold: '1' }]);
    await new Promise((r) => setTimeout(r, 100));
    for (const line of processesMentioning(path)) {
      const pid = Number(line.trim().split(/\s+/)[0]);
      if (line.includes('reward_lens.verify ')) process.kill(pid, 'SIGKILL');
    }
    const killed = await pending;
    assert.ok(killed.every((r) => r.correct === null && r.reason.startsWith('error: crashed (verifier process')), JSON.stringify(killed));
    const again = await proc.verify([{ id: 'z', response: 'boxed{9}', gold: '9' }]);
    assert.equal(again[0]?.correct, true);
    assert.equal(proc.restarts, 1);
  } finally {
    await proc.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});

function twoStepRun(runId: string): RolloutEvent[] {
  return [
    runStartEvent(runId),
    // group 0: a false negative (0.5 vs 1/2 logged wrong) and a false positive (7 logged correct)
    groupOf(runId, 0, 0, '\\frac{1}{2}', [{ answer: '0.5', logged: 'wrong' }, { answer: '\\frac{1}{2}', logged: 'correct' }, { answer: '7', logged: 'correct' }, { answer: '3', logged: 'wrong' }]),
    groupOf(runId, 0, 1, '12', [{ answer: '12', logged: 'correct' }, { answer: null, logged: 'wrong' }, { answer: '12', logged: 'correct' }, { answer: '11', logged: 'wrong' }]),
    groupOf(runId, 1, 0, '\\frac{1}{2}', [{ answer: '1/2', logged: 'correct' }, { answer: '2', logged: 'wrong' }, { answer: '0.5', logged: 'correct' }, { answer: null, logged: 'wrong' }]),
    groupOf(runId, 1, 1, '12', [{ answer: '12', logged: 'correct' }, { answer: '12', logged: 'correct' }, { answer: '12', logged: 'correct' }, { answer: '13', logged: 'wrong' }]),
  ];
}

test('reverifyRun writes a new verdict set under the file hash, leaves the active set alone, and diffs against it', async () => {
  const dir = tempDir();
  const store = await storeWith(join(dir, 'store.db'), twoStepRun('r1'));
  try {
    const activeBefore = await store.activeVerifier('r1');
    const path = writeVerifier(dir, templateSource());
    const progress: number[] = [];
    const result = await reverifyRun(store, 'r1', { python: backendPython(), backendRoot: BACKEND_ROOT, verifierPath: path, processes: 2, workersPerProcess: 1, timeoutS: 30, batchSize: 3, onProgress: (p) => progress.push(p.done) });
    const id = createHash('sha256').update(readFileSync(path)).digest('hex');
    assert.equal(result.verifier.id, id);
    assert.equal((await verifierFileIdentity(path)).id, id);
    assert.equal(result.written, 16);
    assert.equal((await store.verdicts(id, 'r1')).length, 16);
    assert.equal((await store.activeVerifier('r1'))?.id ?? null, activeBefore?.id ?? null);
    assert.equal(progress.at(-1), 16);
    const d = result.diff;
    assert.equal(d.trajectories, 16);
    assert.equal(d.reverified, 16);
    assert.equal(d.flips['wrong->correct'], 1, JSON.stringify(d.examples));
    assert.equal(d.flips['correct->wrong'], 1);
    assert.equal(d.examples['wrong->correct'][0]?.afterExtracted, '0.5');
    assert.equal(d.examples['correct->wrong'][0]?.afterExtracted, '7');
    assert.equal(d.errors.total, 0);
    assert.equal(d.groupsChanged, 1);
    // truncated responses are wrong with a truncation reason, in the stored set too
    const stored = await store.verdicts(id, 'r1');
    assert.equal(stored.filter((v) => (v.reason ?? '').startsWith('truncated:')).length, 2);

    // An edited verifier is a new identity and a new set; the first set stays browsable.
    writeFileSync(path, templateSource().replace('def verify(response: str, gold: str):', 'def verify(response: str, gold: str):\n    return False\n\n\ndef _unused(response: str, gold: str):'));
    const second = await reverifyRun(store, 'r1', { python: backendPython(), backendRoot: BACKEND_ROOT, verifierPath: path, processes: 1, timeoutS: 30 });
    assert.notEqual(second.verifier.id, id);
    assert.equal((await store.verdicts(id, 'r1')).length, 16);
    assert.equal((await store.verdicts(second.verifier.id, 'r1')).filter((v) => v.verdict === 'wrong').length, 16);
    // Accepting is the caller's move; after it the next diff compares against the accepted set.
    await store.setActiveVerifier('r1', id);
    const third = await reverifyRun(store, 'r1', { python: backendPython(), backendRoot: BACKEND_ROOT, verifierPath: path, processes: 1, timeoutS: 30 });
    assert.equal(third.previousVerifierId, id);
    assert.equal(third.diff.flips['correct->wrong'], 9);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a verifier that declares it reads only the answer part is called once per distinct (answer part, gold), with the same verdicts', async () => {
  const dir = tempDir();
  // twoStepRun repeats answers ("12" three times in one group, "0.5" in two groups of one gold), and
  // every group's reasoning is the same text, so only the part after </think> tells them apart.
  const store = await storeWith(join(dir, 'store.db'), twoStepRun('rd'));
  try {
    const calls = join(dir, 'calls.log');
    const body = (declare: boolean) =>
      `${declare ? 'REWARD_LENS_READS_AFTER = "</think>"  # only the answer part\n' : ''}` +
      `from reward_lens.verifier.default import verify as _default\n\n\ndef verify(response, gold):\n` +
      `    with open(${JSON.stringify(calls)}, "a") as f:\n        f.write("x\\n")\n    return _default(response, gold)\n`;
    const whole = await reverifyRun(store, 'rd', { python: backendPython(), backendRoot: BACKEND_ROOT, verifierPath: writeVerifier(dir, body(false), 'whole.py'), timeoutS: 30 });
    assert.equal(whole.readsAfter, null);
    assert.equal(whole.verifierCalls, 16);
    assert.equal(readFileSync(calls, 'utf8').length, 16 * 2);
    rmSync(calls);
    const deduped = await reverifyRun(store, 'rd', { python: backendPython(), backendRoot: BACKEND_ROOT, verifierPath: writeVerifier(dir, body(true), 'answer_only.py'), timeoutS: 30, batchSize: 3 });
    assert.equal(deduped.readsAfter, '</think>');
    const members = (await store.db.all<{ text: string; gold: string }>('SELECT t.id, g.gold, t.text FROM trajectories t JOIN groups g ON g.id = t.group_id WHERE t.run_id = ?', ['rd']));
    const distinct = new Set(members.map((m) => `${m.gold}\u0000${m.text.includes('</think>') ? 'A' + m.text.split('</think>').slice(1).join('</think>') : 'T' + m.text}`)).size;
    assert.ok(distinct < 16, `the run repeats answers (${distinct} distinct of 16)`);
    assert.equal(deduped.verifierCalls, distinct);
    assert.equal(readFileSync(calls, 'utf8').length, distinct * 2, 'the verifier itself ran once per distinct pair');
    assert.equal(deduped.written, 16);
    const a = await store.verdicts(whole.verifier.id, 'rd');
    const b = await store.verdicts(deduped.verifier.id, 'rd');
    assert.deepEqual(b.map(({ verifierId: _v, ...rest }) => rest), a.map(({ verifierId: _v, ...rest }) => rest));
    assert.deepEqual(deduped.diff.flips, whole.diff.flips);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the answer-part declaration is read from the source, plain string literals only', () => {
  assert.equal(answerPartDeclaration('x = 1\nREWARD_LENS_READS_AFTER = "</think>"\n'), '</think>');
  assert.equal(answerPartDeclaration("REWARD_LENS_READS_AFTER: str = '<|end_of_thought|>'  # why\n"), '<|end_of_thought|>');
  assert.equal(answerPartDeclaration('# REWARD_LENS_READS_AFTER = "</think>"\n'), null, 'a comment declares nothing');
  assert.equal(answerPartDeclaration('    REWARD_LENS_READS_AFTER = "</think>"\n'), null, 'only at module level');
  assert.equal(answerPartDeclaration('REWARD_LENS_READS_AFTER = "\\n"\n'), null, 'escapes are not interpreted');
  assert.equal(answerPartDeclaration('REWARD_LENS_READS_AFTER = ""\n'), null);
  assert.equal(answerPartDeclaration('REWARD_LENS_READS_AFTER = MARKER\n'), null);
  assert.equal(answerPartDeclaration(readFileSync(join(BACKEND_ROOT, 'reward_lens', 'verifier', 'default.py'), 'utf8')), '</think>');
});

test('reverifyRun counts timeouts and crashes as errors in the diff and finishes', async () => {
  const dir = tempDir();
  const events: RolloutEvent[] = [runStartEvent('r2'), groupOf('r2', 0, 0, '5', [{ answer: '5', logged: 'correct' }, { answer: 'HANG', logged: 'wrong' }, { answer: 'CRASH', logged: 'wrong' }, { answer: 'RAISE', logged: 'wrong' }])];
  const store = await storeWith(join(dir, 'store.db'), events);
  try {
    const path = writeVerifier(dir, HOSTILE, 'hostile.py');
    const result = await reverifyRun(store, 'r2', { python: backendPython(), backendRoot: BACKEND_ROOT, verifierPath: path, processes: 1, workersPerProcess: 2, timeoutS: 1 });
    assert.deepEqual({ total: result.diff.errors.total, timeouts: result.diff.errors.timeouts, crashed: result.diff.errors.crashed, other: result.diff.errors.other }, { total: 3, timeouts: 1, crashed: 1, other: 1 });
    assert.equal(result.diff.lintsAppeared['verifier-error'], 3);
    const stored = await store.verdicts(result.verifier.id, 'r2');
    assert.equal(stored.filter((v) => v.verdict === 'error').length, 3);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('cancelling a re-verify stops within 1 s, kills its processes and writes nothing more', async () => {
  const dir = tempDir();
  const events: RolloutEvent[] = [runStartEvent('r3')];
  for (let g = 0; g < 10; g++) events.push(groupOf('r3', 0, g, '1', [{ answer: 'SLOW 1', logged: 'correct' }, { answer: 'SLOW 2', logged: 'wrong' }]));
  const store = await storeWith(join(dir, 'store.db'), events);
  const path = writeVerifier(dir, HOSTILE, 'slow_verifier_marker.py');
  try {
    const abort = new AbortController();
    let abortedAt = 0;
    const running = reverifyRun(store, 'r3', {
      python: backendPython(),
      backendRoot: BACKEND_ROOT,
      verifierPath: path,
      processes: 1,
      workersPerProcess: 1,
      timeoutS: 30,
      batchSize: 2,
      signal: abort.signal,
      onProgress: () => {
        if (!abortedAt) {
          abortedAt = Date.now();
          abort.abort();
        }
      },
    });
    await assert.rejects(running, ReverifyCancelled);
    const stoppedIn = Date.now() - abortedAt;
    assert.ok(stoppedIn < 1000, `stopped ${stoppedIn} ms after cancel`);
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(processesMentioning('slow_verifier_marker.py'), []);
    assert.ok((await store.verdicts((await verifierFileIdentity(path)).id, 'r3')).length < 20);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('relabels are regression cases; an edit that fixes the verifier clears the disagreement; export works with --test', async () => {
  const dir = tempDir();
  const store = await storeWith(join(dir, 'store.db'), twoStepRun('r4'));
  const runner = new RegressionRunner({ python: backendPython(), backendRoot: BACKEND_ROOT, workers: 2, timeoutS: 30 });
  try {
    const group = await store.getGroup((await store.listGroups('r4', 0))[0]?.groupId as number);
    assert.ok(group);
    const [falseNeg, , falsePos] = group.trajectories;
    // The researcher says: 0.5 == 1/2 is correct (the default agrees), and "7" is wrong (default agrees).
    const l1 = await store.addLabel({ trajectoryKey: falseNeg!.trajectoryKey, label: 'wrong', note: 'first guess', author: 'me' });
    await store.addLabel({ trajectoryKey: falseNeg!.trajectoryKey, label: 'correct', note: '0.5 is 1/2', author: 'me', supersedes: l1.id });
    await store.addLabel({ trajectoryKey: falsePos!.trajectoryKey, label: 'wrong', note: null, author: 'me' });
    await store.addLabel({ trajectoryKey: falsePos!.trajectoryKey, label: 'note', note: 'just a note', author: 'me' });
    await store.addLabel({ trajectoryKey: falseNeg!.trajectoryKey, label: 'note', note: 'Math-Verify misses decimals vs fractions', author: 'me' });
    const current = currentLabels(await store.labels('r4'));
    assert.deepEqual(current.map((l) => l.label), ['correct', 'wrong']);
    const cases = await regressionCases(store, 'r4');
    assert.equal(cases.length, 2);
    assert.equal(cases[0]?.gold, '\\frac{1}{2}');

    // A verifier that compares strings exactly misses 0.5 == 1/2.
    const path = writeVerifier(dir, 'def verify(response, gold):\n    return "boxed{" + gold + "}" in response\n');
    const strict = await runner.run(path, cases);
    assert.equal(strict.total, 2);
    assert.deepEqual(strict.disagreements.map((d) => [d.case.trajectoryId, d.result.correct]), [[falseNeg!.event.id, false]]);
    // The fix: fall back to the template's Math-Verify comparison. Same path, new content.
    writeFileSync(path, templateSource());
    const fixed = await runner.run(path, cases);
    assert.equal(fixed.disagreements.length, 0);
    assert.notEqual(fixed.verifierId, strict.verifierId);

    const labelsFile = join(dir, 'labels.jsonl');
    writeFileSync(labelsFile, exportLabelsJsonl(cases));
    const lines = readFileSync(labelsFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(lines.map((l) => l.label), ['correct', 'wrong']);
    // Notes travel with the label: its own note, then the free-standing notes on that trajectory.
    assert.equal(lines[0]?.note, '0.5 is 1/2\nMath-Verify misses decimals vs fractions');
    assert.equal(lines[1]?.note, 'just a note');
    // Round trip: each exported id names the stored trajectory once (run id not doubled).
    assert.deepEqual(lines.map((l) => l.id), cases.map((c) => `r4/${c.trajectoryId}`));
    assert.equal(exportedId({ runId: 'r4', trajectoryId: 'r4/s0/p1/on0' }), 'r4/s0/p1/on0');
    const run = (verifier: string) => spawnSync(backendPython(), ['-m', 'reward_lens.verify', '--test', labelsFile, '--verifier', verifier, '--workers', '1', '--timeout', '30'], { cwd: BACKEND_ROOT, encoding: 'utf8' });
    assert.equal(run(path).status, 0);
    const strictPath = writeVerifier(dir, 'def verify(response, gold):\n    return "boxed{" + gold + "}" in response\n', 'strict.py');
    const failing = run(strictPath);
    assert.equal(failing.status, 1);
    assert.match(failing.stdout, /DISAGREE id='r4\/s0-g0-on0': labelled correct, verifier says wrong/);
  } finally {
    await runner.dispose();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the regression set: 1,000 relabels re-run after a save in under 5 s', async () => {
  const dir = tempDir();
  const runner = new RegressionRunner({ python: backendPython(), backendRoot: BACKEND_ROOT, workers: 2, timeoutS: 30 });
  try {
    const path = writeVerifier(dir, templateSource());
    const answers = ['\\frac{1}{2}', '0.5', '12', '3\\sqrt{2}', '(1, 2)', 'x^2+1', '\\pi/4', '-7', '1000', '2^{10}'];
    const cases: RegressionCase[] = [];
    for (let i = 0; i < 1000; i++) {
      const gold = answers[i % answers.length] as string;
      const answer = i % 7 === 0 ? answers[(i + 3) % answers.length] as string : gold;
      const response = i % 50 === 0 ? `<think>\n${'reasoning '.repeat(200)}` : `<think>\nstep ${i}: ${'we compute carefully. '.repeat(20)}\n</think>\nTherefore the answer is $\\boxed{${answer}}$.`;
      cases.push({ trajectoryKey: i, trajectoryId: `t${i}`, runId: 'bench', step: 0, groupId: 0, response, gold, label: answer === gold && i % 50 !== 0 ? 'correct' : 'wrong', note: null, labelId: i });
    }
    await runner.run(path, cases.slice(0, 10)); // the process and its interpreter start once, at activation
    writeFileSync(path, templateSource() + '\n# saved again\n');
    const started = Date.now();
    const report = await runner.run(path, cases);
    const ms = Date.now() - started;
    // The bound is 5 s on an otherwise idle 2-core machine. This machine is shared: when more
    // runnable processes than cores compete, the wall-clock budget scales with the excess load
    // (reported, so a slow run on an idle machine still fails).
    const load = loadavg()[0] ?? 0;
    const budget = 5000 * Math.max(1, load / cpus().length);
    console.log(`regression: ${report.total} cases after a save in ${ms} ms (${report.disagreements.length} disagree, ${report.errors} errors; load ${load.toFixed(1)} on ${cpus().length} cores, budget ${Math.round(budget)} ms)`);
    assert.equal(report.total, 1000);
    assert.equal(report.errors, 0);
    assert.equal(report.disagreements.length, 0);
    assert.ok(ms < budget, `1,000 regression cases took ${ms} ms (budget ${Math.round(budget)} ms)`);
  } finally {
    await runner.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a verifier process that says nothing is killed after the per-item timeout plus the grace, and its items time out', async () => {
  const dir = tempDir();
  // Stands in for an interpreter that hangs before answering anything (it ignores its arguments).
  const silent = join(dir, 'silent-python');
  writeFileSync(silent, '#!/bin/sh\nexec sleep 613.25\n', { mode: 0o755 });
  const proc = new VerifyProcess({ python: silent, backendRoot: BACKEND_ROOT, timeoutS: 1, stallGraceMs: 500 });
  try {
    const started = Date.now();
    const results = await proc.verify([{ id: 'a', response: 'x', gold: 'x' }, { id: 'b', response: 'y', gold: 'y' }]);
    const took = Date.now() - started;
    assert.ok(results.every((r) => r.correct === null && /^error: timeout \(verifier process silent for \d+s, restarted\)$/.test(r.reason)), JSON.stringify(results));
    const bound = loadScaledBound(5000);
    assert.ok(took >= 1500 && took < bound.ms, `answered after ${took} ms; ${bound.note}`);
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(processesMentioning('sleep 613.25'), [], 'the silent process was killed');
  } finally {
    await proc.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});
