// Supervision against real child processes: small Node scripts that crash, hang, flood, ignore
// SIGTERM, or stop cleanly on it. Every failure mode must be reported within 5 s with its log kept.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, appendFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Supervisor, type SupervisorIssue, closeRunIfOpen, LineSplitter, lastMeaningfulLine } from '../../src/node/supervisor';
import { eventTypes } from '../../src/node/supervisor/runEnd';
import { loadScaledBound } from '../kit/load';

/** Alive and not a zombie (an orphan's zombie lingers until the container's init reaps it). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'rl-sup-'));
}

function nodeScript(code: string, dir: string, opts: Partial<Parameters<typeof Supervisor.start>[0]> = {}) {
  const lines: string[] = [];
  const issues: SupervisorIssue[] = [];
  const sup = Supervisor.start({
    command: process.execPath,
    args: ['-e', code],
    logFile: join(dir, 'trainer.log'),
    hangTimeoutMs: 0,
    stopGraceMs: 2000,
    pollIntervalMs: 100,
    onLine: (l) => lines.push(l),
    onIssue: (i) => issues.push(i),
    ...opts,
  });
  return { sup, lines, issues };
}

test('a clean run is reported completed with its output streamed and logged', async () => {
  const dir = tmp();
  const { sup, lines } = nodeScript(`console.log('step 1'); console.error('warn: x'); console.log('done')`, dir);
  const exit = await sup.exited;
  assert.equal(exit.outcome, 'completed');
  assert.equal(exit.code, 0);
  assert.deepEqual(lines.sort(), ['done', 'step 1', 'warn: x']);
  const log = readFileSync(join(dir, 'trainer.log'), 'utf8');
  assert.match(log, /step 1/);
  assert.match(log, /warn: x/);
  rmSync(dir, { recursive: true, force: true });
});

test('a crash is reported within 5 s with the exception line, the log kept, and the run closed as failed', async () => {
  const dir = tmp();
  const events = join(dir, 'events.jsonl');
  writeFileSync(events, JSON.stringify({ v: 1, type: 'run_start', run_id: 'r-crash' }) + '\n' + '{"v":1,"type":"step","run_id":"r-crash","st');
  const t0 = Date.now();
  const { sup } = nodeScript(`console.log('step 1 ok'); console.error('Traceback (most recent call last):'); console.error('  File "x.py", line 3'); console.error('ValueError: loss is nan'); process.exit(3)`, dir, { eventsFile: events });
  const exit = await sup.exited;
  assert.ok(Date.now() - t0 < 5000);
  assert.equal(exit.outcome, 'crashed');
  assert.equal(exit.code, 3);
  assert.match(exit.message, /exit code 3/);
  assert.match(exit.message, /ValueError: loss is nan/);
  assert.match(exit.message, /trainer\.log/);
  assert.ok(exit.lastLines.includes('ValueError: loss is nan'));
  assert.match(readFileSync(exit.logFile, 'utf8'), /ValueError: loss is nan/);
  const appended = await closeRunIfOpen(events, 'failed', exit.message);
  assert.equal(appended?.runId, 'r-crash');
  // the partial line stays malformed on its own; run_end starts on a fresh line
  assert.deepEqual(await eventTypes(events), ['run_start', '(malformed)', 'run_end']);
  const last = JSON.parse(readFileSync(events, 'utf8').trim().split('\n').pop() as string);
  assert.equal(last.status, 'failed');
  assert.match(last.reason, /ValueError/);
  // a second close is a no-op: the run already ended
  assert.equal(await closeRunIfOpen(events, 'failed', 'again'), null);
  rmSync(dir, { recursive: true, force: true });
});

test('known failures get advice: missing backend module, CUDA OOM, kernel OOM kill', async () => {
  const dir = tmp();
  const a = await nodeScript(`console.error("ModuleNotFoundError: No module named 'torch'"); process.exit(1)`, dir).sup.exited;
  assert.match(a.message, /Set Up Python Backend/);
  const b = await nodeScript(`console.error('torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2 GiB'); process.exit(1)`, dir).sup.exited;
  assert.match(b.message, /batch size/);
  const c = await nodeScript(`process.kill(process.pid, 'SIGKILL')`, dir).sup.exited;
  assert.equal(c.outcome, 'crashed');
  assert.equal(c.signal, 'SIGKILL');
  assert.match(c.message, /out-of-memory killer/);
  rmSync(dir, { recursive: true, force: true });
});

test('a missing interpreter is a spawn failure that says what to do', async () => {
  const dir = tmp();
  const sup = Supervisor.start({ command: join(dir, 'no-such-python'), args: [], logFile: join(dir, 'l.log'), hangTimeoutMs: 0, stopGraceMs: 100 });
  const exit = await sup.exited;
  assert.equal(exit.outcome, 'spawn-failed');
  assert.match(exit.message, /not found/);
  assert.match(exit.message, /Set Up Python Backend/);
  rmSync(dir, { recursive: true, force: true });
});

test('a hang (no output, no event growth) is reported within 5 s; event growth counts as activity', async () => {
  const dir = tmp();
  const events = join(dir, 'events.jsonl');
  writeFileSync(events, '');
  const t0 = Date.now();
  // writes events (not stdout) for ~1.2 s, then goes silent
  const { sup, issues } = nodeScript(
    `const fs=require('fs'); let n=0; const t=setInterval(()=>{fs.appendFileSync(${JSON.stringify(events)}, 'x\\n'); if(++n>=6) clearInterval(t);}, 200); setInterval(()=>{}, 1000); console.log('started')`,
    dir,
    { eventsFile: events, hangTimeoutMs: 800 },
  );
  while (!issues.some((i) => i.kind === 'hang') && Date.now() - t0 < 20_000) await new Promise((r) => setTimeout(r, 50));
  const elapsed = Date.now() - t0;
  const hang = issues.find((i) => i.kind === 'hang');
  assert.ok(hang, 'hang reported');
  const bound = loadScaledBound(5000);
  assert.ok(elapsed < bound.ms, `reported after ${elapsed} ms; ${bound.note}`);
  // the event writes kept it alive past its first 800 ms of stdout silence
  assert.ok(elapsed >= 1500, `event growth should have deferred the hang report (${elapsed} ms)`);
  assert.match(hang.message, /no output and no events/);
  assert.match(hang.message, /hangTimeoutSeconds/);
  assert.equal(issues.filter((i) => i.kind === 'hang').length, 1, 'reported once per silence');
  const exit = await sup.stop(1000);
  assert.equal(exit.outcome, 'stopped');
  assert.match(readFileSync(exit.logFile, 'utf8'), /reported as hung/);
  rmSync(dir, { recursive: true, force: true });
});

test('a log flood is reported within 5 s, lines are summarised, memory is capped, the file keeps everything', async () => {
  const dir = tmp();
  const t0 = Date.now();
  let floodAt = 0;
  const total = 60_000;
  const { sup, lines, issues } = nodeScript(
    `let i=0; function w(){ while(i<${total}){ const ok=process.stdout.write('line '+(i++)+' '+'x'.repeat(40)+'\\n'); if(!ok){process.stdout.once('drain', w); return;} } } w();`,
    dir,
    { floodLinesPerSecond: 1000, tailLines: 50, onIssue: (i) => { if (i.kind === 'flood' && !floodAt) floodAt = Date.now(); issues.push(i); } },
  );
  const exit = await sup.exited;
  assert.equal(exit.outcome, 'completed');
  const flood = issues.find((i) => i.kind === 'flood');
  assert.ok(flood, 'flood reported');
  assert.ok(floodAt - t0 < 5000);
  assert.match(flood.message, /full log is in/);
  assert.ok(lines.length < total / 2, `forwarded ${lines.length} of ${total} lines`);
  assert.ok(lines.some((l) => /log lines not shown \(log flood\)/.test(l)));
  assert.ok(exit.suppressedLines > total / 2);
  assert.equal(sup.lastLines().length, 50);
  assert.equal(sup.lastLines().at(-1)?.startsWith(`line ${total - 1} `), true);
  const logLines = readFileSync(exit.logFile, 'utf8').split('\n').filter((l) => l.startsWith('line '));
  assert.equal(logLines.length, total);
  rmSync(dir, { recursive: true, force: true });
});

test('stop: a trainer that handles SIGTERM exits as stopped; one that ignores it is killed after the grace', async () => {
  const dir = tmp();
  const polite = nodeScript(`process.on('SIGTERM', () => { console.log('finishing step, checkpoint'); setTimeout(() => process.exit(0), 200); }); console.log('ready'); setInterval(() => {}, 1000);`, dir);
  while (!polite.lines.includes('ready')) await new Promise((r) => setTimeout(r, 20));
  const a = await polite.sup.stop(3000);
  assert.equal(a.outcome, 'stopped');
  assert.ok(polite.lines.includes('finishing step, checkpoint'));

  const stubborn = nodeScript(`process.on('SIGTERM', () => console.log('ignoring SIGTERM')); console.log('ready'); setInterval(() => {}, 1000);`, dir);
  while (!stubborn.lines.includes('ready')) await new Promise((r) => setTimeout(r, 20));
  const t0 = Date.now();
  const b = await stubborn.sup.stop(500);
  assert.equal(b.outcome, 'killed');
  assert.equal(b.signal, 'SIGKILL');
  assert.ok(Date.now() - t0 >= 450 && Date.now() - t0 < 5000);
  assert.ok(stubborn.lines.includes('ignoring SIGTERM'));
  assert.match(b.message, /SIGKILL/);
  rmSync(dir, { recursive: true, force: true });
});

test('SIGKILL escalation reaches grandchildren in the process group', async () => {
  const dir = tmp();
  const pidFile = join(dir, 'grandchild.pid');
  const { sup, lines } = nodeScript(
    `const c=require('child_process').spawn(process.execPath,['-e','setInterval(()=>{},1000)'],{stdio:'ignore'}); require('fs').writeFileSync(${JSON.stringify(pidFile)}, String(c.pid)); process.on('SIGTERM',()=>{}); console.log('ready'); setInterval(()=>{},1000)`,
    dir,
  );
  while (!lines.includes('ready')) await new Promise((r) => setTimeout(r, 20));
  const gpid = Number(readFileSync(pidFile, 'utf8'));
  await sup.stop(300);
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(isAlive(gpid), false, `grandchild ${gpid} survived`);
  rmSync(dir, { recursive: true, force: true });
});

test('closeRunIfOpen leaves files without run_start or with run_end alone', async () => {
  const dir = tmp();
  const f = join(dir, 'events.jsonl');
  assert.equal(await closeRunIfOpen(f, 'failed', 'x'), null);
  writeFileSync(f, '');
  assert.equal(await closeRunIfOpen(f, 'failed', 'x'), null);
  writeFileSync(f, JSON.stringify({ v: 1, type: 'run_start', run_id: 'a' }) + '\n');
  appendFileSync(f, JSON.stringify({ v: 1, type: 'run_end', run_id: 'a', status: 'completed' }) + '\n');
  assert.equal(await closeRunIfOpen(f, 'failed', 'x'), null);
  assert.deepEqual(await eventTypes(f), ['run_start', 'run_end']);
  rmSync(dir, { recursive: true, force: true });
});

test('LineSplitter: CR, CRLF across chunks, UTF-8 split across chunks, giant lines cut', () => {
  const out: string[] = [];
  const s = new LineSplitter(10, (l) => out.push(l));
  const euro = Buffer.from('€');
  s.push(Buffer.from('a\r'));
  s.push(Buffer.from('\nb\rc\n'));
  s.push(Buffer.concat([Buffer.from('x'), euro.subarray(0, 1)]));
  s.push(Buffer.concat([euro.subarray(1), Buffer.from('\n')]));
  s.push(Buffer.from('0123456789abcdef\n'));
  s.push(Buffer.from('tail'));
  s.end();
  assert.deepEqual(out, ['a', 'b', 'c', 'x€', '0123456789 … [6 more characters on this line, see the log file]', 'tail']);
});

test('lastMeaningfulLine skips traceback frames and blank lines', () => {
  assert.equal(lastMeaningfulLine(['Traceback', '  File "a.py", line 1', 'KeyError: 1', '', '  ']), 'KeyError: 1');
  assert.equal(lastMeaningfulLine([]), undefined);
});

test("the trainer writes into the log file itself, not into a pipe to this process (a VS Code reload cannot break its output)", async () => {
  const dir = tmp();
  const { sup, lines } = nodeScript(`console.log('ready'); setInterval(() => {}, 1000)`, dir);
  while (!lines.includes('ready')) await new Promise((r) => setTimeout(r, 20));
  const { readlinkSync } = await import('node:fs');
  assert.equal(readlinkSync(`/proc/${sup.pid}/fd/1`), join(dir, 'trainer.log'));
  assert.equal(readlinkSync(`/proc/${sup.pid}/fd/2`), join(dir, 'trainer.log'));
  await sup.stop(500);
  rmSync(dir, { recursive: true, force: true });
});
