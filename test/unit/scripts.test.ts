// Every setup and test step works from any working directory: each one's first command moves to
// the repository root (test-all.sh and setup.sh call them from there, a person may not).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const scripts = join(__dirname, '..', '..', 'scripts');
const ROOT_CD = /^cd "(\$\{REWARD_LENS_ROOT:-)?\$\(dirname "\$0"\)\/\.\.\/\.\.\}?"$/;

test('every scripts/setup.d and scripts/test.d step starts by moving to the repository root', () => {
  const steps = ['setup.d', 'test.d'].flatMap((d) => readdirSync(join(scripts, d)).filter((f) => f.endsWith('.sh')).map((f) => join(d, f)));
  assert.ok(steps.length >= 8);
  for (const step of steps) {
    const commands = readFileSync(join(scripts, step), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#') && !l.startsWith('set '));
    assert.match(commands[0] ?? '', ROOT_CD, `${step}: its first command must be cd to the repository root, not ${JSON.stringify(commands[0])}`);
  }
});
