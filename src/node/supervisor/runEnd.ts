// When the trainer dies without writing run_end (crash, SIGKILL, OOM killer), the run would stay
// "running" forever in the store. The supervisor closes it the protocol's way: it appends a
// run_end event to the run's events.jsonl, which the live tailer ingests like any other line.
import { open, readFile, stat } from 'node:fs/promises';

export interface RunEndAppend {
  runId: string;
  status: 'failed' | 'stopped';
  reason: string;
}

const TAIL_BYTES = 64 * 1024;
const HEAD_BYTES = 4 * 1024 * 1024;

/** The run_id of the run_start line (the first line), or null when there is none yet. */
export async function readRunId(eventsFile: string): Promise<string | null> {
  let fh;
  try {
    fh = await open(eventsFile, 'r');
  } catch {
    return null;
  }
  try {
    const buf = Buffer.alloc(HEAD_BYTES);
    const { bytesRead } = await fh.read(buf, 0, HEAD_BYTES, 0);
    const head = buf.subarray(0, bytesRead).toString('utf8');
    for (const line of head.split('\n')) {
      if (!line.trim()) continue;
      try {
        const ev = JSON.parse(line) as { type?: unknown; run_id?: unknown };
        if (ev.type === 'run_start' && typeof ev.run_id === 'string') return ev.run_id;
      } catch {
        // a malformed first line: keep looking (the ingest reports it)
      }
      // run_start is the first event by protocol; anything else first means no run to close
      return null;
    }
    return null;
  } finally {
    await fh.close();
  }
}

/** True when the file's last complete line is a run_end event. */
export async function hasRunEnd(eventsFile: string): Promise<boolean> {
  let size: number;
  try {
    size = (await stat(eventsFile)).size;
  } catch {
    return false;
  }
  const fh = await open(eventsFile, 'r');
  try {
    const len = Math.min(size, TAIL_BYTES);
    const buf = Buffer.alloc(len);
    await fh.read(buf, 0, len, size - len);
    const lines = buf.toString('utf8').split('\n').filter((l) => l.trim());
    const last = lines[lines.length - 1];
    if (!last) return false;
    try {
      return (JSON.parse(last) as { type?: unknown }).type === 'run_end';
    } catch {
      return false;
    }
  } finally {
    await fh.close();
  }
}

/**
 * Appends run_end unless the trainer wrote one. Returns what was appended, or null when nothing
 * was (no run_start yet, or the run already ended).
 */
export async function closeRunIfOpen(eventsFile: string, status: 'failed' | 'stopped', reason: string): Promise<RunEndAppend | null> {
  const runId = await readRunId(eventsFile);
  if (runId === null) return null;
  if (await hasRunEnd(eventsFile)) return null;
  const size = (await stat(eventsFile)).size;
  const fh = await open(eventsFile, 'r+');
  try {
    // A trainer killed mid-write leaves a partial last line; start on a fresh line so that only
    // the partial one is malformed, not ours.
    let prefix = '';
    if (size > 0) {
      const b = Buffer.alloc(1);
      await fh.read(b, 0, 1, size - 1);
      if (b[0] !== 0x0a) prefix = '\n';
    }
    const event = { v: 1, type: 'run_end', run_id: runId, time: new Date().toISOString(), status, reason: capReason(reason) };
    await fh.write(`${prefix}${JSON.stringify(event)}\n`, size);
  } finally {
    await fh.close();
  }
  return { runId, status, reason: capReason(reason) };
}

function capReason(reason: string): string {
  return reason.length > 4000 ? `${reason.slice(0, 4000)}…` : reason;
}

/** For tests and diagnostics: every event type in file order. */
export async function eventTypes(eventsFile: string): Promise<string[]> {
  const text = await readFile(eventsFile, 'utf8');
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => {
      try {
        return String((JSON.parse(l) as { type?: unknown }).type);
      } catch {
        return '(malformed)';
      }
    });
}
