// Issue 6 acceptance, the steps of docs/verifier.md ("End-to-end steps"): relabel a false
// negative → it appears in the Problems panel on verifier.py → open the verifier from it → edit
// the verifier so it handles the case → save, and the diagnostic clears → re-verify the run and
// read the diff → accept, after which the store's active verdict set is the edited file's hash.
// A screenshot of each state.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { groupEvent, runStart, stepEvent, writeEvents } from './fixtures';
import { ingest, openGroupFromTree, queryStore } from '../kit/driver';
import { repoRoot, runCommand, sleep, startRig, waitFor, webviewFrame, type Rig } from '../kit/rig';

const RUN = 'verifier-run';
const FALSE_NEGATIVE = 'three-s0-on1';
const python = join(repoRoot, '.venv', 'bin', 'python');
const work = mkdtempSync(join(tmpdir(), 'rl-e2e-verifier-'));
const db = join(work, '.reward-lens', 'runs.db');
let rig: Rig | undefined;

before(async () => {
  if (!existsSync(python)) throw new Error(`${python} is missing: scripts/setup.d/30-python.sh sets up the backend`);
  const answer = (a: string): string => `<think>\ncounting\n</think>\nThe answer is $\\boxed{${a}}$.`;
  writeEvents(join(work, 'events.jsonl'), [
    runStart(RUN),
    stepEvent(RUN, 0),
    groupEvent(RUN, {
      step: 0, promptId: 'three', prompt: 'How many sides does a triangle have?', gold: '3',
      online: [
        { text: answer('3'), correct: true, extracted: '3' },
        // Math-Verify cannot read a number word: the default verifier says wrong, a person says correct.
        { text: answer('\\text{three}'), correct: false, extracted: '\\text{three}', reason: 'mismatch' },
        { text: answer('4'), correct: false, extracted: '4' },
        { text: answer('3'), correct: true, extracted: '3' },
      ],
      offline: [
        { text: answer('3'), correct: true, teacher: 'DeepSeek-R1', extracted: '3' },
        { text: answer('3'), correct: true, teacher: 'Qwen3-32B', extracted: '3' },
      ],
    }),
    { v: 1, type: 'run_end', run_id: RUN, status: 'completed', reason: null, step: 0 },
  ]);
  mkdirSync(join(work, '.reward-lens'), { recursive: true });
  ingest(join(work, 'events.jsonl'), db);
  rig = await startRig({ name: 'verifier', folder: work, theme: 'dark', settings: { 'rewardLens.python.interpreter': python } });
});
after(async () => {
  await rig?.close();
  rmSync(work, { recursive: true, force: true });
});

async function problemsText(page: Page): Promise<string> {
  return (await page.locator('.markers-panel').innerText().catch(() => '')).replace(/\u00a0/g, ' ');
}

test('verifier loop: relabel → Problems → open verifier → edit → save clears → re-verify diff → accept', { timeout: 300_000 }, async () => {
  const page = rig!.page;

  await runCommand(page, 'Reward Lens: Create Verifier');
  await page.locator('.tab', { hasText: 'verifier.py' }).waitFor({ state: 'visible', timeout: 30_000 });
  assert.ok(existsSync(join(work, 'verifier.py')), 'verifier.py is written into the workspace');

  const frame = await openGroupFromTree(page, RUN, /^step 0$/, /triangle|three/i);
  await frame.locator(`[data-trajectory-id="${FALSE_NEGATIVE}"]`).click();
  await page.keyboard.press('c');
  const verdict = frame.locator(`[data-trajectory-id="${FALSE_NEGATIVE}"] [data-testid=badge-verdict]`);
  await waitFor('the relabel to be saved', 10_000, async () => (await verdict.getAttribute('data-label')) === 'correct' && (await verdict.getAttribute('data-pending')) === 'false');
  await rig!.screenshot('verifier-1-relabelled-dark');

  await page.keyboard.press('Control+Shift+M');
  await waitFor('the disagreeing relabel in the Problems panel', 60_000, async () => {
    const text = await problemsText(page);
    return /verifier\.py/.test(text) && /disagree/i.test(text) && text.includes('\\text{three}');
  });
  await rig!.screenshot('verifier-2-problems-dark');

  const problem = page.locator('.markers-panel .monaco-list-row', { hasText: /disagree/i }).first();
  await problem.click();
  await waitFor('verifier.py to be the active editor at def verify', 15_000, async () => {
    const active = await page.locator('.editor-group-container.active .tab.active').innerText().catch(() => '');
    const cursor = await page.locator('.part.statusbar').innerText();
    const line = Number(/Ln (\d+)/.exec(cursor)?.[1] ?? '0');
    const source = readFileSync(join(work, 'verifier.py'), 'utf8').split('\n');
    return active.includes('verifier.py') && (source[line - 1] ?? '').includes('def verify');
  });
  await rig!.screenshot('verifier-3-opened-from-problem-dark');

  // The edit of docs/verifier.md, typed through the editor's replace widget, then saved.
  const before = 'return parse_answer(solution, COMPARE)';
  const fixed = 'return parse_answer(solution.replace("\\\\text{three}", "3"), COMPARE)';
  await page.locator('.editor-group-container.active .monaco-editor .view-lines').first().click();
  await page.keyboard.press('Control+H');
  const findInput = page.locator('.editor-group-container.active .find-widget .find-part textarea, .editor-group-container.active .find-widget .find-part input').first();
  await findInput.fill(before);
  const replaceInput = page.locator('.editor-group-container.active .find-widget .replace-part textarea, .editor-group-container.active .find-widget .replace-part input').first();
  await replaceInput.fill(fixed);
  await replaceInput.press('Control+Alt+Enter');
  await page.keyboard.press('Escape');
  await page.keyboard.press('Control+S');
  await waitFor('the edit to be saved to disk', 10_000, () => readFileSync(join(work, 'verifier.py'), 'utf8').includes('solution.replace("\\\\text{three}", "3")'));
  await page.keyboard.press('Control+Shift+M');
  await waitFor('the diagnostic to clear after the save', 60_000, async () => {
    const text = await problemsText(page);
    return !/disagree/i.test(text);
  });
  // The CodeLens must follow the regression re-run too. Read it now, assert it at the end, so a
  // stale CodeLens does not hide whether re-verify and accept work.
  const codeLensAfterSave = await waitFor('the CodeLens to read 0 relabels disagree', 20_000, async () => {
    const text = (await page.locator('.editor-group-container.active .codelens-decoration').allInnerTexts()).join(' | ');
    return /\b0 relabels? disagree/.test(text) ? text : undefined;
  }).catch(async () => (await page.locator('.editor-group-container.active .codelens-decoration').allInnerTexts()).join(' | '));
  await rig!.screenshot('verifier-4-saved-cleared-dark');

  await runCommand(page, 'Reward Lens: Re-verify Run');
  // With one run in the store, the command may still ask which run: answer with ours.
  const quick = page.locator('.quick-input-widget input.input');
  if (await quick.isVisible().catch(() => false)) {
    await quick.fill(RUN);
    await sleep(200);
    await page.keyboard.press('Enter');
  }
  const diff = await webviewFrame(page, '[data-testid=diff-flips-wrong-to-correct]', 120_000);
  await waitFor('the diff to count the flip', 60_000, async () => Number((await diff.locator('[data-testid=diff-flips-wrong-to-correct]').innerText()).match(/\d+/)?.[0] ?? '0') >= 1);
  const flipped = await diff.locator('[data-testid=diff-flip-wrong-to-correct]').innerText();
  assert.match(flipped, new RegExp(FALSE_NEGATIVE), 'the flipped member is listed');
  assert.ok((await diff.locator('[data-testid=diff-sign-flips]').count()) === 1, 'the advantage sign-flip count is shown');
  await rig!.screenshot('verifier-5-diff-dark');

  await diff.locator('[data-testid=diff-accept]').click();
  await diff.locator('[data-testid=diff-accepted]').waitFor({ state: 'visible', timeout: 20_000 });
  const sha = createHash('sha256').update(readFileSync(join(work, 'verifier.py'))).digest('hex');
  const rows = await queryStore<{ active_verifier: string | null }>(db, 'SELECT active_verifier FROM runs WHERE run_id = ?', [RUN]);
  assert.equal(rows[0]?.active_verifier, sha, 'the accepted verdict set is the edited verifier\'s');
  await rig!.screenshot('verifier-6-accepted-dark');
  assert.match(codeLensAfterSave, /\b0 relabels? disagree/, `after the save the CodeLens read: ${codeLensAfterSave}`);
});
