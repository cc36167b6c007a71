// Child process standing in for a trainer that writes its events.jsonl in pieces (several write()
// calls per line, with pauses), so a kill -9 can leave a torn last line. It appends to whatever
// is there, as a naive trainer would on restart.
import { openSync, writeSync } from 'node:fs';
import { groupEventOf, stepEventOf } from '../helpers';

const [file, runId, firstStepArg] = process.argv.slice(2) as [string, string, string];
const fd = openSync(file, 'a');
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  process.stdout.write('ready\n');
  for (let step = Number(firstStepArg); ; step++) {
    for (const ev of [stepEventOf(runId, step), groupEventOf(runId, step, 0, 2000), groupEventOf(runId, step, 1, 2000)]) {
      const line = Buffer.from(JSON.stringify(ev) + '\n');
      const cut1 = Math.floor(line.length / 3);
      const cut2 = Math.floor((2 * line.length) / 3);
      writeSync(fd, line.subarray(0, cut1));
      await sleep(2);
      writeSync(fd, line.subarray(cut1, cut2));
      await sleep(2);
      writeSync(fd, line.subarray(cut2));
    }
    await sleep(5);
  }
}

void main();
