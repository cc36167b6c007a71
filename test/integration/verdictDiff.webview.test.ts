// The diff webview in a real browser (Debian's Chromium) under the production HTML and CSP
// (src/extension/panels/html.ts, the shell every webview shares), with the host replaced by a page script: the diff renders
// with its test ids, hostile trace text stays text, no CSP violation, Open/Accept post the
// right messages, and the accepted state shows.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { makeNonce, webviewHtml } from '../../src/extension/panels/html';
import { verdictDiff, type DiffMember, type VerdictLike } from '../../src/core/verdictDiff';
import type { DiffViewModel, HostToDiff } from '../../src/core/diffMessages';
import { hostStandInScript } from '../kit/ui';
import { CSP_RECORDER, startBrowserHarness, type BrowserHarness } from './browserHarness';

const HOSTILE = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>\u202Eevil';

let h: BrowserHarness;

before(async () => {
  h = await startBrowserHarness({ diff: 'webview/diff/main.ts' });
});

after(async () => {
  await h?.close();
});

function model(): DiffViewModel {
  const grpo = { variant: 'grpo' as const, replace: 0, advantage: { std: 'sample' as const, eps: 1e-6 } };
  const members: DiffMember[] = [
    { trajectoryKey: 41, id: HOSTILE, source: 'online', index: 0, verdict: 'wrong', replaced: false, extracted_answer: HOSTILE },
    { trajectoryKey: 42, id: 't2', source: 'online', index: 1, verdict: 'correct', replaced: false },
    { trajectoryKey: 43, id: 't3', source: 'online', index: 2, verdict: 'wrong', replaced: false },
  ];
  const next: Array<[number, VerdictLike]> = [
    [41, { verdict: 'correct', reason: `match ${HOSTILE}`, extracted: HOSTILE }],
    [42, { verdict: 'correct', reason: 'match', extracted: '3' }],
    [43, { verdict: 'error', reason: 'error: timeout after 5s', extracted: null }],
  ];
  const diff = verdictDiff([{ groupId: 7, step: 3, promptId: 'p', gold: HOSTILE, reward: grpo, trajectories: members, oldVerdicts: new Map(), newVerdicts: new Map(next) }]);
  return { runId: `run ${HOSTILE}`, verifier: { id: 'b'.repeat(64), name: 'verifier.py', path: '/w/verifier.py' }, previousVerifierId: null, activeVerifierId: null, written: 3, durationMs: 1234, processRestarts: 1, diff };
}

async function open(name: string, messages: HostToDiff[]): Promise<Page & { errors: string[] }> {
  h.pages.set(`/${name}.html`, webviewHtml({ view: 'diff', title: 'Re-verify diff', cspSource: h.origin, scriptUri: `${h.origin}/diff.js`, nonce: makeNonce(), preludeScripts: [CSP_RECORDER, hostStandInScript(messages)] }));
  const page = (await h.browser.newPage()) as Page & { errors: string[] };
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  await page.goto(`${h.origin}/${name}.html`);
  return page;
}

const posted = (page: Page) => page.evaluate('window.__posted') as Promise<Array<Record<string, unknown>>>;

test('the diff renders counts, examples and errors; hostile text stays text; no CSP violation', async () => {
  const page = await open('render', [{ type: 'diff', model: model() }]);
  await page.waitForSelector('[data-testid="diff-summary"]');
  assert.equal((await page.locator('[data-testid="diff-flips-wrong-to-correct"] .stat-value').textContent())?.trim(), '1');
  assert.equal((await page.locator('[data-testid="diff-flip-wrong-to-correct-count"]').textContent())?.trim(), '1');
  assert.match((await page.locator('[data-testid="diff-errors"]').textContent()) ?? '', /1 \(1 timeouts, 0 crashed\)/);
  assert.equal(await page.locator('[data-testid="diff-error-row-0"]').count(), 1);
  assert.match((await page.locator('[data-testid="diff-rtotal"]').textContent()) ?? '', /R_total: 1 changed/);
  // GRPO advantages of a group sum to zero, so their net change is float noise around 0: it must
  // not print as a negative zero.
  const advantageLine = (await page.locator('[data-testid="diff-advantage"]').textContent()) ?? '';
  assert.match(advantageLine, / net 0\.000$/, advantageLine);
  assert.ok(((await page.locator('[data-testid="diff-lints-appeared"]').textContent()) ?? '').includes('verifier error'));
  const row = page.locator('[data-testid="diff-flip-wrong-to-correct-row-0"]');
  assert.ok(((await row.textContent()) ?? '').includes('<img src=x onerror="window.__pwned=1">'), 'markup is shown literally');
  assert.ok(((await page.locator('[data-testid="diff-title"]').textContent()) ?? '').includes('<script>'));
  assert.equal(await page.evaluate('window.__pwned'), undefined);
  assert.equal(await page.locator('#app img, #app script').count(), 0);
  assert.ok((await page.locator('[data-testid="control-char"]').count()) >= 1, 'the bidi override is shown, not applied');
  assert.deepEqual(await page.evaluate('window.__csp'), []);
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('Open posts the trajectory key; Accept posts the verifier id and shows the accepted state', async () => {
  const m = model();
  const page = await open('actions', [{ type: 'diff', model: m }]);
  await page.waitForSelector('[data-testid="diff-accept"]');
  await page.click('[data-testid="diff-flip-wrong-to-correct-row-0-open"]');
  await page.click('[data-testid="diff-accept"]');
  const sent = await posted(page);
  assert.deepEqual(sent.filter((x) => x.type !== 'ready'), [
    { type: 'openTrajectory', trajectoryKey: 41 },
    { type: 'accept', verifierId: m.verifier.id },
  ]);
  await page.evaluate((id) => window.postMessage({ type: 'accepted', verifierId: id }, '*'), m.verifier.id);
  await page.waitForSelector('[data-testid="diff-accepted"]');
  assert.equal((await page.locator('[data-testid="diff-accept"]').textContent())?.trim(), 'Accepted');
  await page.close();
});

test('a failed accept is shown and can be retried', async () => {
  const m = model();
  const page = await open('failed', [{ type: 'diff', model: m }]);
  await page.waitForSelector('[data-testid="diff-accept"]');
  await page.click('[data-testid="diff-accept"]');
  await page.evaluate(() => window.postMessage({ type: 'acceptFailed', message: 'store is <b>read-only</b>' }, '*'));
  await page.waitForSelector('[data-testid="diff-accept-error"]');
  assert.equal((await page.locator('[data-testid="diff-accept-error"]').textContent())?.trim(), 'Accept failed: store is <b>read-only</b>');
  assert.equal((await page.locator('[data-testid="diff-accept"]').textContent())?.trim(), 'Accept');
  await page.close();
});
