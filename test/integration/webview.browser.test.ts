// The webview bundles in a real browser (Debian's Chromium, which setup installs for the e2e suite),
// under the production CSP, with the host replaced by a page script that posts prepared messages
// and records what the page posts. Covers what only a browser can show: hostile text stays text,
// no CSP violation, the keyboard relabel flow, and the dashboard click-through. Seconds, not minutes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { clickChartStep, harnessHtml, pickChartStepByKeyboard, sampleGroup, sampleSeries, sampleStep, HOSTILE_TEXT } from '../kit/ui';
import { whatIfGroup } from '../../src/core/rescore';
import type { HostToDashboard, HostToInspector } from '../../src/core/messages';
import { toSeriesColumns } from '../../src/core/messages';
import { CSP_RECORDER, startBrowserHarness, type BrowserHarness } from './browserHarness';

let h: BrowserHarness;
// Screenshots for people to look at (gitignored).
const ARTIFACTS = join(__dirname, 'artifacts');

before(async () => {
  h = await startBrowserHarness({ inspector: 'webview/inspector/main.ts', dashboard: 'webview/dashboard/main.ts' });
});

after(async () => {
  await h?.close();
});

async function open(name: string, view: 'inspector' | 'dashboard', messages: Array<HostToInspector | HostToDashboard>, initialMessage?: HostToDashboard): Promise<Page> {
  h.pages.set(`/${name}.html`, harnessHtml({ view, theme: 'dark', origin: h.origin, scriptUri: `${h.origin}/${view}.js`, messages, initialMessage, preludeScripts: [CSP_RECORDER] }));
  const page = await h.browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  (page as Page & { __errors?: string[] }).__errors = errors;
  await page.goto(`${h.origin}/${name}.html`);
  return page;
}

const posted = (page: Page) => page.evaluate('window.__posted') as Promise<Array<Record<string, unknown>>>;
const cspViolations = (page: Page) => page.evaluate('window.__csp') as Promise<string[]>;

test('inspector: hostile trace text renders as text, no script runs, no CSP violation', async () => {
  const g = sampleGroup({ groupId: 3, chars: 500, hostile: true });
  const hostile = g.trajectories.find((t) => t.event.text === HOSTILE_TEXT)!;
  const page = await open('hostile', 'inspector', [{ type: 'group', group: g, focusTrajectoryKey: hostile.trajectoryKey }]);
  await page.waitForSelector('[data-testid="trace-body"]');
  await page.click('[data-testid="think-toggle"]');
  await page.waitForSelector('[data-testid="think-body"] .chunk');
  const text = await page.locator('[data-testid="trace-body"]').textContent();
  assert.ok(text?.includes('<script>window.__pwned = "script";</script>'), 'markup is shown literally');
  assert.ok(text?.includes('<img src=x onerror='));
  // only our own elements exist inside the trace: nothing the text could have created
  const tags = await page.$$eval('[data-testid="trace-body"] *', (els) => [...new Set(els.map((e) => e.tagName.toLowerCase()))].sort());
  assert.deepEqual(tags.filter((t) => !['details', 'div', 'mark', 'span', 'summary'].includes(t)), []);
  assert.ok((await page.locator('[data-testid="control-char"]').count()) >= 3, 'bidi controls are shown');
  assert.doesNotMatch(text ?? '', /[\u202A-\u202E\u2066-\u2069]/, 'and removed from the text');
  assert.equal(await page.locator('[data-testid="answer-span"]').textContent(), '<b>42</b>');
  assert.equal(await page.evaluate('window.__pwned'), undefined);
  assert.deepEqual(await cspViolations(page), []);
  assert.deepEqual((page as Page & { __errors?: string[] }).__errors, []);
  // Control: the recorder does see violations, and the CSP (not only escaping) stops inline handlers.
  await page.evaluate(() => document.body.insertAdjacentHTML('beforeend', '<div style="color:red"></div><img src="data:," onload="window.__pwned=1">'));
  await page.waitForFunction(() => ((window as unknown as { __csp: string[] }).__csp).length >= 2);
  assert.ok((await cspViolations(page)).some((v) => v.startsWith('style-src-attr')));
  assert.ok((await cspViolations(page)).some((v) => v.startsWith('script-src-attr')));
  assert.equal(await page.evaluate('window.__pwned'), undefined);
  await page.close();
});

test('inspector: j moves, w relabels at once (pending), the what-if badges match whatIfGroup, the stored state clears pending', async () => {
  const g = sampleGroup({ groupId: 5, chars: 800, seed: 4 });
  const page = await open('keys', 'inspector', [{ type: 'group', group: g, focusTrajectoryKey: null }]);
  await page.waitForSelector('[data-testid="member-0"][aria-selected="true"]');
  await page.keyboard.press('j');
  await page.waitForSelector('[data-testid="member-1"][aria-selected="true"]');
  const key = Number(await page.getAttribute('[data-testid="member-1"]', 'data-trajectory-key'));
  const member = g.trajectories.find((t) => t.trajectoryKey === key)!;
  const target = member.event.verdict === 'correct' ? 'wrong' : 'correct';
  await page.keyboard.press(target === 'wrong' ? 'w' : 'c');
  const badge = page.locator('[data-testid="member-1"] [data-testid="badge-verdict"]');
  assert.equal(await badge.getAttribute('data-verdict'), target);
  assert.equal(await badge.getAttribute('data-pending'), 'true');
  const sent = (await posted(page)).filter((m) => m.type === 'relabel');
  assert.deepEqual(sent, [{ type: 'relabel', groupId: 5, trajectoryKey: key, label: target }]);
  const want = whatIfGroup(g.trajectories.map((t) => t.event), g.reward, { verdicts: new Map([[member.event.id, target]]) });
  const flips = want.members.filter((m) => m.signFlip).length;
  assert.equal(await page.getAttribute('[data-testid="whatif-summary"]', 'data-sign-flips'), String(flips));
  for (const m of want.members) {
    if (m.after.advantage === null || m.before.advantage === null || Math.abs(m.after.advantage - m.before.advantage) < 1e-9) continue;
    const shown = await page.getAttribute(`[data-trajectory-id="${m.id}"] [data-testid="badge-advantage-whatif"]`, 'data-value');
    assert.ok(Math.abs(Number(shown) - m.after.advantage) < 1e-12, `${m.id}: ${shown} vs ${m.after.advantage}`);
  }
  const stored = { current: { id: 9, label: target, note: null, author: 'tester', createdAt: '2026-11-23T00:00:00Z', supersedes: null }, notes: [], history: [] };
  await page.evaluate((m) => window.postMessage(m, '*'), { type: 'labelSaved', trajectoryKey: key, label: stored } as HostToInspector);
  await page.waitForSelector('[data-testid="member-1"] [data-testid="badge-verdict"][data-pending="false"]');
  // n opens the note box; Enter sends the note; typing there does not relabel
  await page.keyboard.press('n');
  await page.waitForSelector('[data-testid="note-editor"]:not([hidden])');
  await page.locator('[data-testid="note-input"]').click();
  await page.keyboard.type('w looks copied');
  await page.keyboard.press('Enter');
  const after = await posted(page);
  assert.equal(after.filter((m) => m.type === 'relabel').length, 1);
  assert.deepEqual(after.filter((m) => m.type === 'note'), [{ type: 'note', groupId: 5, trajectoryKey: key, text: 'w looks copied' }]);
  assert.deepEqual(await cspViolations(page), []);
  await page.close();
});

test('inspector: heatmap and diff toggles render and report their timings', async () => {
  const g = sampleGroup({ groupId: 6, chars: 20_000, seed: 8, online: 3, offline: 2 });
  const page = await open('toggles', 'inspector', [{ type: 'group', group: g, focusTrajectoryKey: null }]);
  await page.waitForSelector('[data-testid="trace-body"]');
  await page.click('[data-testid="think-toggle-all"]');
  await page.click('[data-testid="heatmap-toggle"]');
  await page.waitForSelector('[data-testid="heatmap-legend"]');
  assert.ok((await page.locator('[data-testid="trace-body"] .heat').count()) > 50);
  await page.click('[data-testid="diff-toggle"]');
  await page.waitForSelector('[data-testid="diff-summary"]');
  await page.waitForFunction(() => ((window as unknown as { __rewardLensPerf?: Array<{ what: string }> }).__rewardLensPerf ?? []).some((e) => e.what === 'diff'));
  const whats = new Set((await posted(page)).filter((m) => m.type === 'rendered').map((m) => m.what));
  for (const w of ['group', 'trace', 'heatmap', 'diff', 'traceComplete']) assert.ok(whats.has(w), `rendered ${w}`);
  await page.close();
});

test('inspector: a long trace with its reasoning open is built once, each chunk queued once', async () => {
  // Opening the fold from the code also fires its toggle event; queuing the reasoning's chunks
  // again there doubled the build's tasks (each a timer of at least 4 ms) on a 150K trace.
  const g = sampleGroup({ groupId: 8, chars: 150_000, seed: 11, online: 2, offline: 1 });
  const page = await open('build-once', 'inspector', [{ type: 'group', group: g, focusTrajectoryKey: null }]);
  await page.waitForSelector('[data-testid="trace-body"]');
  await page.click('[data-testid="think-toggle-all"]');
  // Each build marks its trace body once every chunk is in (data-build-tasks).
  await page.waitForSelector('[data-testid="trace-body"]:not(.heatmap-on)[data-build-tasks]');
  await page.click('[data-testid="heatmap-toggle"]');
  await page.waitForSelector('[data-testid="trace-body"].heatmap-on[data-build-tasks]');
  const body = page.locator('[data-testid="trace-body"]');
  const chunks = await body.locator('.chunk').count();
  const tasks = Number(await body.getAttribute('data-build-tasks'));
  assert.ok(chunks > 40, `a long trace in many chunks (${chunks})`);
  assert.equal(await body.locator('.chunk:empty').count(), 0, 'every chunk is built');
  assert.ok(tasks > 0 && tasks <= Math.ceil(chunks / 12) + 1, `${chunks} chunks built in ${tasks} tasks`);
  await page.close();
});

test('dashboard: a 2,000-step chart has no marker elements; a click picks the nearest step and the keyboard picks exactly', async () => {
  const series = sampleSeries(2000);
  const page = await open('dash-dense', 'dashboard', [{ type: 'series', runId: 'sample-run', variant: 'oger', series: toSeriesColumns(series), selectedStep: null }]);
  await page.waitForSelector('[data-testid="chart-accuracy"] svg');
  assert.equal(await page.locator('[data-testid^="point-step-"]').count(), 0);
  const selected = async () => (await posted(page)).filter((m) => m.type === 'selectStep').map((m) => (m as { step: number }).step);
  const tolerance = await clickChartStep(page, 'accuracy', 1234);
  const [clicked] = await selected();
  assert.ok(clicked !== undefined && Math.abs(clicked - 1234) <= tolerance, `clicked near step 1234 (±${tolerance}), picked ${clicked}`);
  await pickChartStepByKeyboard(page, 'accuracy', 137);
  assert.equal((await selected()).at(-1), 137);
  const svg = page.locator('[data-testid="chart-accuracy"] svg');
  await svg.press('End');
  assert.match((await page.locator('[data-testid="readout-accuracy"]').textContent()) ?? '', /step 1999:/);
  await svg.press('ArrowLeft');
  await svg.press('Enter');
  assert.equal((await selected()).at(-1), 1998);
  assert.deepEqual(await cspViolations(page), []);
  await page.close();
});

test('dashboard: a page created with its series renders before any host message, and hostile run text in it stays text', async () => {
  const runId = '</script><script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">';
  const page = await open('dash-seeded', 'dashboard', [], { type: 'series', runId, variant: 'oger', series: toSeriesColumns(sampleSeries(30)), selectedStep: null });
  await page.waitForSelector('body[data-rendered-series]');
  assert.equal(await page.locator('[data-testid="run-id"]').textContent(), runId);
  assert.equal(await page.locator('[data-testid="step-count"]').getAttribute('data-value'), '30');
  assert.equal(await page.evaluate('window.__pwned'), undefined);
  assert.equal(await page.locator('#reward-lens-initial-message').count(), 0, 'the data block is taken once');
  assert.ok((await posted(page)).some((m) => m.type === 'ready'), 'the page still says ready');
  assert.deepEqual(await cspViolations(page), []);
  await page.close();
});

test('dashboard: a one-step GRPO run hides the charts it cannot have and says why', async () => {
  const [first] = sampleSeries(1);
  const grpo = [{ ...first!, rOgerMean: null, rOgerMax: null, meanOfflineAdvantage: null }];
  const page = await open('dash-grpo', 'dashboard', [{ type: 'series', runId: 'grpo-run', variant: 'grpo', series: toSeriesColumns(grpo), selectedStep: null }]);
  await page.waitForSelector('[data-testid="point-step-0"]');
  assert.equal(await page.locator('[data-testid="chart-roger"]').count(), 0, 'no empty R_OGER frame');
  assert.equal(await page.locator('[data-testid="chart-offline-advantage"]').count(), 0);
  assert.equal(await page.locator('[data-testid^="chart-empty-"]').count(), 0, 'no "Not logged" frame at all');
  assert.equal(await page.locator('[data-testid="chart-entropy"] circle.solo').count(), 1, 'the one step\'s entropy is a visible dot, not an invisible one-point path');
  assert.equal(await page.locator('[data-testid="step-count"]').textContent(), '1 step');
  const note = page.locator('[data-testid="not-charted"]');
  assert.equal(await note.getAttribute('data-charts'), 'roger offline-advantage');
  assert.match((await note.textContent()) ?? '', /R_OGER mean \/ max \(a GRPO run has no OGER reward\); Advantage of the offline member \(a GRPO group has no teacher trajectory\)/);
  const full = await open('dash-full', 'dashboard', [{ type: 'series', runId: 'oger-run', variant: 'oger', series: toSeriesColumns(sampleSeries(5)), selectedStep: null }]);
  await full.waitForSelector('[data-testid="chart-roger"]');
  assert.equal(await full.locator('[data-testid="not-charted"]').count(), 0, 'nothing to explain when every chart has data');
  assert.deepEqual(await cspViolations(page), []);
  await page.close();
  await full.close();
});

test('dashboard: runaway repetition is charted per step with its help, and a run stored before it was counted says so instead of drawing zeros', async () => {
  const series = sampleSeries(12);
  const page = await open('dash-loops', 'dashboard', [{ type: 'series', runId: 'loop-run', variant: 'oger', series: toSeriesColumns(series), selectedStep: null }]);
  await page.waitForSelector('[data-testid="chart-repetition"] svg');
  assert.match((await page.locator('[data-testid="help-repetition"]').getAttribute('title')) ?? '', /window of 24 words recurs 8 times or more/);
  await page.locator('[data-testid="chart-repetition"] svg').press('End');
  assert.match((await page.locator('[data-testid="readout-repetition"]').textContent()) ?? '', new RegExp(`step 11:.*\\b${series[11]!.runawayCount}\\b`));
  for (const id of ['accuracy', 'entropy', 'roger', 'failed', 'length', 'offline-advantage']) {
    assert.ok(((await page.locator(`[data-testid="help-${id}"]`).getAttribute('title')) ?? '').length > 20, `chart ${id} has a one-line help`);
  }
  const old = await open('dash-loops-old', 'dashboard', [{ type: 'series', runId: 'old-run', variant: 'oger', series: toSeriesColumns(series.map((p) => ({ ...p, runawayCount: null }))), selectedStep: null }]);
  await old.waitForSelector('[data-testid="chart-accuracy"] svg');
  assert.equal(await old.locator('[data-testid="chart-repetition"]').count(), 0, 'no row of false zeros');
  assert.equal(await old.locator('[data-testid="not-charted"]').getAttribute('data-charts'), 'repetition');
  assert.match((await old.locator('[data-testid="not-charted"]').textContent()) ?? '', /stored before Reward Lens counted loops/);
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.setViewportSize({ width: 1200, height: 900 });
  await page.locator('[data-testid="chart-repetition"]').hover();
  await page.screenshot({ path: join(ARTIFACTS, 'dashboard-repetition.png'), fullPage: true });
  assert.deepEqual(await cspViolations(page), []);
  await page.close();
  await old.close();
});

test('dashboard: a dip picked on the teacher-advantage curve opens its step\'s groups sorted by teacher advantage, the pushed-down ones marked; every column sorts by click and keyboard', async () => {
  const series = sampleSeries(30);
  const page = await open('dash-behind', 'dashboard', [{ type: 'series', runId: 'sample-run', variant: 'oger', series: toSeriesColumns(series), selectedStep: null }]);
  await page.setViewportSize({ width: 1200, height: 1000 });
  await page.waitForSelector('[data-testid="chart-offline-advantage"] svg');
  const pickByArrows = async (chartId: string, index: number) => {
    const svg = page.locator(`[data-testid="chart-${chartId}"] svg`);
    await svg.focus();
    await svg.press('Home');
    for (let i = 0; i < index; i++) await svg.press('ArrowRight');
    await svg.press('Enter');
  };
  await pickByArrows('offline-advantage', 12);
  // (which step the keys reach is the keyboard test's business; this one answers whatever was picked)
  const picked = (await posted(page)).filter((m) => m.type === 'selectStep').at(-1) as { step: number } | undefined;
  assert.ok(picked && picked.step >= 0 && picked.step < 30);
  const step = sampleStep(picked.step, 12, 4);
  await page.evaluate((m) => window.postMessage(m, '*'), { type: 'step', runId: 'sample-run', ...step, step: picked.step } as HostToDashboard);
  await page.waitForSelector('[data-testid="step-groups"]');
  const rowIds = async () => (await page.$$eval('[data-group-row]', (rows) => rows.map((r) => Number(r.getAttribute('data-group-row')))));
  const byAdvantage = [...step.groups].sort((a, b) => (a.meanOfflineAdvantage ?? Infinity) - (b.meanOfflineAdvantage ?? Infinity) || a.groupId - b.groupId);
  assert.deepEqual(await rowIds(), byAdvantage.map((g) => g.groupId), 'most negative teacher advantage first, groups without a teacher last');
  const pushedDown = step.groups.filter((g) => g.meanOfflineAdvantage !== null && g.meanOfflineAdvantage < 0).map((g) => g.groupId);
  assert.ok(pushedDown.length > 0 && pushedDown.length < step.groups.length, 'the sample has both kinds');
  const marked = await page.$$eval('[data-behind="true"]', (rows) => rows.map((r) => Number(r.getAttribute('data-group-row'))));
  assert.deepEqual(marked.sort(), [...pushedDown].sort());
  assert.match((await page.locator('[data-testid="groups-caption"]').textContent()) ?? '', new RegExp(`Picked on “Advantage of the offline member”: ${pushedDown.length} of 12 groups marked`));
  assert.equal(await page.locator('[role=columnheader]:has([data-testid="sort-teacherAdvantage"])').getAttribute('aria-sort'), 'ascending');
  await page.screenshot({ path: join(ARTIFACTS, 'dashboard-groups-behind-dip.png'), fullPage: true });
  // A click sorts by failures, most first; Enter on the same header (focus kept) reverses it.
  await page.click('[data-testid="sort-failed"]');
  const failedDesc = [...step.groups].sort((a, b) => b.failedCount - a.failedCount || a.groupId - b.groupId).map((g) => g.groupId);
  assert.deepEqual(await rowIds(), failedDesc);
  await page.keyboard.press('Enter');
  assert.equal(await page.locator('[role=columnheader]:has([data-testid="sort-failed"])').getAttribute('aria-sort'), 'ascending');
  const failedAsc = [...step.groups].sort((a, b) => a.failedCount - b.failedCount || a.groupId - b.groupId).map((g) => g.groupId);
  assert.deepEqual(await rowIds(), failedAsc);
  // The same table component as the trajectories table: j moves the selection, Enter opens its group.
  await page.focus('[data-testid="step-groups"]');
  await page.keyboard.press('j');
  await page.keyboard.press('Enter');
  assert.deepEqual((await posted(page)).filter((m) => m.type === 'openGroup').at(-1), { type: 'openGroup', groupId: failedAsc[1], focusTrajectoryKey: null });
  assert.equal(await page.locator('[data-testid="step-groups"] .grid-row.selected').getAttribute('data-group-row'), String(failedAsc[1]));
  // Picked on the entropy curve (no per-group figure): stored order, nothing marked, no caption.
  await pickByArrows('entropy', picked.step);
  await page.waitForFunction((n) => ((window as unknown as { __posted: Array<{ type: string }> }).__posted.filter((m) => m.type === 'selectStep').length >= n), 2);
  const again = (await posted(page)).filter((m) => m.type === 'selectStep').at(-1) as { step: number };
  await page.evaluate((m) => window.postMessage(m, '*'), { type: 'step', runId: 'sample-run', ...step, step: again.step } as HostToDashboard);
  await page.waitForSelector('[data-testid="step-groups"]');
  assert.deepEqual(await rowIds(), step.groups.map((g) => g.groupId));
  assert.equal(await page.locator('[data-behind="true"]').count(), 0);
  assert.equal(await page.locator('[data-testid="groups-caption"]').count(), 0);
  assert.deepEqual(await cspViolations(page), []);
  await page.close();
});

test('dashboard: a step point selects the step, its groups open through the host', async () => {
  const series = sampleSeries(60);
  const page = await open('dash', 'dashboard', [{ type: 'series', runId: 'sample-run', variant: 'oger', series: toSeriesColumns(series), selectedStep: null }]);
  await page.waitForSelector('[data-testid="point-step-10"]');
  assert.equal(await page.locator('[data-testid^="point-step-"]').count(), 60);
  assert.equal(await page.locator('[data-testid="chart-entropy"] path.series').count(), 1, 'one path per series');
  await page.locator('[data-testid="point-step-10"]').click({ force: true });
  assert.deepEqual((await posted(page)).filter((m) => m.type === 'selectStep'), [{ type: 'selectStep', runId: 'sample-run', step: 10 }]);
  const step = sampleStep(10, 3, 4);
  await page.evaluate((m) => window.postMessage(m, '*'), { type: 'step', runId: 'sample-run', step: 10, ...step } as HostToDashboard);
  const gid = step.groups[1]!.groupId;
  await page.click(`[data-testid="group-${gid}"]`);
  assert.deepEqual((await posted(page)).filter((m) => m.type === 'openGroup'), [{ type: 'openGroup', groupId: gid, focusTrajectoryKey: null }]);
  assert.equal(await page.locator('[data-testid="histogram"] rect.bar').count() > 0, true);
  assert.deepEqual(await cspViolations(page), []);
  await page.close();
});
