// The inspector in a real browser under the production CSP, on real SkyThought traces: the list
// beside the trace (stacked when narrow) with j/k keeping the trace in view, formula popovers,
// folding by the run's markers, find in folded text, the position bar, back/forward, and the
// optional Markdown/LaTeX rendering with hostile text. Seconds, not minutes; the same behaviour in
// real VS Code is in test/e2e/inspection.e2e.ts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { harnessHtml, sampleGroup, HOSTILE_TEXT } from '../kit/ui';
import { longestSkyThought, skyThoughtGroup } from '../kit/traces';
import type { HostToInspector, ViewGroup } from '../../src/core/messages';
import { CSP_RECORDER, startBrowserHarness, type BrowserHarness } from './browserHarness';
import { HOSTILE_PAYLOADS } from '../e2e/fixtures';

let h: BrowserHarness;

before(async () => {
  h = await startBrowserHarness({ inspector: 'webview/inspector/main.ts', render: 'webview/render/main.ts' });
});

after(async () => {
  await h?.close();
});

interface OpenOptions {
  width?: number;
  height?: number;
  render?: boolean;
}

async function open(name: string, messages: HostToInspector[], o: OpenOptions = {}): Promise<Page> {
  const assets = { renderScript: `${h.origin}/render.js`, katexCss: `${h.origin}/katex/katex.min.css` };
  h.pages.set(`/${name}.html`, harnessHtml({ view: 'inspector', theme: 'dark', origin: h.origin, scriptUri: `${h.origin}/inspector.js`, messages, preludeScripts: [CSP_RECORDER], assets }));
  const page = await h.browser.newPage({ viewport: { width: o.width ?? 1280, height: o.height ?? 800 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  (page as Page & { __errors?: string[] }).__errors = errors;
  await page.goto(`${h.origin}/${name}.html`);
  return page;
}

const groupMsg = (group: ViewGroup, extra: Partial<Extract<HostToInspector, { type: 'group' }>> = {}): HostToInspector => ({ type: 'group', group, focusTrajectoryKey: null, ...extra });
const posted = (page: Page) => page.evaluate('window.__posted') as Promise<Array<Record<string, unknown>>>;
const cspViolations = (page: Page) => page.evaluate('window.__csp') as Promise<string[]>;
const errorsOf = (page: Page) => (page as Page & { __errors?: string[] }).__errors ?? [];

type Box = { x: number; y: number; width: number; height: number };
async function box(page: Page, selector: string): Promise<Box> {
  const b = await page.locator(selector).first().boundingBox();
  assert.ok(b, `${selector} has a box`);
  return b;
}
const inside = (inner: Box, outer: Box) => inner.y >= outer.y - 1 && inner.y + inner.height <= outer.y + outer.height + 1;

test('layout: the list sits beside the trace; j/k keep the selected row and its trace in view; stacked when narrow', async () => {
  // 6 SkyThought members, 2 teachers and 10 more sampled members: the list must scroll
  const g = skyThoughtGroup();
  const extra = sampleGroup({ groupId: 41, chars: 400, online: 10, offline: 0, seed: 3 }).trajectories.map((t, k) => ({ ...t, trajectoryKey: 9000 + k, event: { ...t.event, id: `extra-${k}`, index: 6 + k } }));
  g.trajectories.push(...extra);
  const page = await open('layout', [groupMsg(g)], { width: 1280, height: 700 });
  await page.waitForSelector('[data-testid="trace-body"]');
  const list = await box(page, '[data-testid="members"]');
  const trace = await box(page, '[data-testid="trace"]');
  assert.ok(list.x + list.width <= trace.x, 'the list is left of the trace');
  assert.ok(trace.y + trace.height <= 700 + 1 && trace.height > 250, `the trace pane is on screen and tall (${JSON.stringify(trace)})`);
  const scrolls = await page.locator('[data-testid="members"]').evaluate((el) => el.scrollHeight > el.clientHeight);
  assert.ok(scrolls, 'with 18 members the list scrolls on its own');
  await page.locator('[data-testid="member-0"]').click();
  const rows = await page.locator('[data-testid^="member-"]').count();
  for (let i = 1; i < rows; i++) {
    await page.keyboard.press('j');
    await page.waitForSelector(`[data-testid="member-${i}"][aria-selected="true"]`);
    const key = await page.getAttribute(`[data-testid="member-${i}"]`, 'data-trajectory-key');
    assert.equal(await page.getAttribute('[data-testid="trace"]', 'data-trajectory-key'), key, 'the trace pane shows the selected member');
    assert.ok(inside(await box(page, `[data-testid="member-${i}"]`), await box(page, '[data-testid="members"]')), `row ${i} scrolled into the list's view`);
    assert.ok(inside(await box(page, '[data-testid="trace"]'), { x: 0, y: 0, width: 1280, height: 700 }), 'and the trace stays on screen');
  }
  await page.keyboard.press('k');
  await page.waitForSelector(`[data-testid="member-${rows - 2}"][aria-selected="true"]`);
  const selected = (await posted(page)).filter((m) => m.type === 'selected');
  assert.equal(selected.length, rows, 'each user selection is reported to the host (back/forward return to it)');
  // identical texts: the second copy of row 0's trace points at it
  const same = page.locator('[data-testid="chip-same"]');
  assert.equal(await same.count(), 1);
  assert.match((await same.textContent()) ?? '', /same as online #1/);
  // narrow: stacked, both still on screen
  await page.setViewportSize({ width: 600, height: 800 });
  await page.waitForTimeout(100);
  const l2 = await box(page, '[data-testid="members"]');
  const t2 = await box(page, '[data-testid="trace"]');
  assert.ok(l2.y + l2.height <= t2.y + 1, 'narrow: the list is above the trace');
  assert.ok(t2.y + t2.height <= 800 + 1 && t2.height > 200, `narrow: the trace is on screen (${JSON.stringify(t2)})`);
  assert.deepEqual(await cspViolations(page), []);
  assert.deepEqual(errorsOf(page), []);
  await page.close();
});

test('numbers explained: hovering or focusing a badge shows its formula with this member\'s numbers', async () => {
  const g = skyThoughtGroup();
  const page = await open('explain', [groupMsg(g)]);
  await page.waitForSelector('[data-testid="trace-body"]');
  const first = g.trajectories[0]!.event;
  await page.hover('[data-testid="member-2"] [data-testid="badge-advantage"]');
  const pop = page.locator('[data-testid="explain-popover"]');
  await pop.waitFor({ state: 'visible' });
  const text = (await pop.textContent()) ?? '';
  assert.match(text, /A: the group-normalised advantage/);
  assert.match(text, /A = \(\d\.\d{3} − \d\.\d{3}\) \/ \(\d\.\d{3} \+ 1e−6\) = [+−]?\d\.\d{3}/);
  assert.match(text, /sample std \(ddof = 1/);
  assert.equal(await pop.getAttribute('data-explains'), 'advantage');
  // R_OGER in the selected member's detail: D·exp(−H_last)·R_m with its own D
  await page.hover('[data-testid="detail-roger"]');
  await page.waitForFunction(() => document.querySelector('[data-testid="explain-popover"]')?.getAttribute('data-explains') === 'roger');
  assert.ok(((await page.locator('[data-testid="explain-arithmetic"]').textContent()) ?? '').startsWith(`R_OGER = D·exp(−H_last)·R_m = ${first.divergence!.toFixed(3)}·`));
  // the keyboard reaches it too, and Escape closes it
  await page.locator('[data-testid="detail-hlast"]').focus();
  await page.waitForFunction(() => document.querySelector('[data-testid="explain-popover"]')?.getAttribute('data-explains') === 'hlast');
  await page.keyboard.press('Escape');
  await pop.waitFor({ state: 'hidden' });
  // the popover stays inside the page
  await page.hover('[data-testid="badge-mean-roger"]');
  await pop.waitFor({ state: 'visible' });
  const b = await pop.boundingBox();
  assert.ok(b && b.x >= 0 && b.x + b.width <= 1280 && b.y + b.height <= 800);
  // a key that acts (j) closes it with the pointer still on the badge, so it never covers the
  // controls the reader goes to next
  await page.hover('[data-testid="member-1"] [data-testid="badge-rtotal"]');
  await page.waitForFunction(() => document.querySelector('[data-testid="explain-popover"]')?.getAttribute('data-explains') === 'rtotal');
  await page.keyboard.press('j');
  await pop.waitFor({ state: 'hidden' });
  assert.deepEqual(await cspViolations(page), []);
  await page.close();
});

test('SkyThought markers: the 153,700-character trace folds; find reveals a word inside the fold; the position bar marks the cut-off and the loop', async () => {
  const g = skyThoughtGroup();
  const long = longestSkyThought();
  const page = await open('sky', [groupMsg(g, { focusTrajectoryKey: g.trajectories[0]!.trajectoryKey })]);
  await page.waitForSelector('[data-testid="think-fold"]');
  assert.equal(await page.getAttribute('[data-testid="trace-body"]', 'data-chars'), String(long.text.length));
  assert.match((await page.locator('[data-testid="think-toggle"]').textContent()) ?? '', /Reasoning · 154K characters · never closed/);
  assert.equal(await page.locator('[data-testid="think-fold"]').evaluate((d) => (d as HTMLDetailsElement).open), false, 'folded');
  assert.equal(await page.locator('[data-testid="think-body"] .chunk').count(), 0, 'and not built');
  assert.equal(await page.getAttribute('[data-testid="badge-format"]', 'data-format'), 'skythought');
  // position bar: the cut-off point at the end, the loop from where it starts
  await page.waitForSelector('[data-testid="posbar-truncation"]');
  await page.waitForSelector('[data-testid="posbar-repetition"]');
  assert.equal(await page.getAttribute('[data-testid="trace-wrap"]', 'data-repetition'), 'true');
  // find: Ctrl+F, a word that occurs once, deep inside the folded reasoning
  await page.locator('[data-testid="trace"]').click({ position: { x: 5, y: 5 } });
  await page.keyboard.press('Control+f');
  await page.waitForSelector('[data-testid="find-bar"]:not([hidden])');
  await page.keyboard.type('symmetric');
  await page.waitForFunction(() => document.querySelector('[data-testid="find-count"]')?.textContent === '1 of 1');
  assert.equal(await page.locator('[data-testid="think-fold"]').evaluate((d) => (d as HTMLDetailsElement).open), true, 'the fold opened around the hit');
  await page.waitForTimeout(100);
  const hit = await page.evaluate(() => {
    const reg = (CSS as unknown as { highlights: Map<string, Set<Range>> }).highlights;
    const r = [...(reg.get('rl-find-current') ?? [])][0];
    if (!r) return null;
    const rect = r.getBoundingClientRect();
    const sc = document.querySelector('[data-testid="trace"]')!.getBoundingClientRect();
    return { text: r.toString(), visible: rect.top >= sc.top && rect.bottom <= sc.bottom && rect.height > 0 };
  });
  assert.deepEqual(hit, { text: 'symmetric', visible: true }, 'the hit is highlighted and scrolled into view');
  assert.equal(await page.locator('[data-testid="posbar-current-hit"]').count(), 1);
  // a common word: the search starts from what is on screen; Enter walks forward, Shift+Enter back
  await page.fill('[data-testid="find-input"]', 'dodecagon');
  const count = async () => ((await page.locator('[data-testid="find-count"]').textContent()) ?? '').match(/^(\d+) of (\d+)$/);
  await page.waitForFunction(() => /^\d+ of \d+$/.test(document.querySelector('[data-testid="find-count"]')?.textContent ?? ''));
  const [, k0, n] = (await count())!;
  assert.ok(Number(n) > 100, `"dodecagon" is all over this trace (${n})`);
  const next = (Number(k0) % Number(n)) + 1;
  await page.keyboard.press('Enter');
  await page.waitForFunction((want) => document.querySelector('[data-testid="find-count"]')?.textContent === want, `${next} of ${n}`);
  await page.keyboard.press('Shift+Enter');
  await page.waitForFunction((want) => document.querySelector('[data-testid="find-count"]')?.textContent === want, `${k0} of ${n}`);
  const finds = (await posted(page)).filter((m) => m.type === 'rendered' && m.what === 'find');
  assert.ok(finds.length >= 3, 'find reports its timing');
  // Escape closes it; the truncation mark jumps to the end of the response
  await page.keyboard.press('Escape');
  await page.waitForSelector('[data-testid="find-bar"][hidden]', { state: 'attached' });
  await page.locator('[data-testid="posbar-truncation"]').click();
  await page.waitForTimeout(150);
  const atEnd = await page.locator('[data-testid="trace"]').evaluate((el) => {
    const chunks = [...el.querySelectorAll<HTMLElement>('.chunk')];
    const last = chunks.at(-1)!;
    const r = last.getBoundingClientRect();
    const sc = el.getBoundingClientRect();
    return r.top < sc.bottom && r.bottom > sc.top;
  });
  assert.ok(atEnd, 'the end of the response is on screen');
  assert.deepEqual(await cspViolations(page), []);
  assert.deepEqual(errorsOf(page), []);
  await page.close();
});

test('back and forward: the buttons follow the host\'s history, Alt+← asks for it, a disabled direction sends nothing', async () => {
  const g = sampleGroup({ groupId: 8, chars: 300, seed: 2 });
  const page = await open('history', [groupMsg(g, { history: { back: true, forward: false } })]);
  await page.waitForSelector('[data-testid="trace-body"]');
  assert.equal(await page.locator('[data-testid="nav-back"]').isDisabled(), false);
  assert.equal(await page.locator('[data-testid="nav-forward"]').isDisabled(), true);
  await page.keyboard.press('Alt+ArrowLeft');
  await page.keyboard.press('Alt+ArrowRight');
  await page.locator('[data-testid="nav-back"]').click();
  const nav = (await posted(page)).filter((m) => m.type === 'navigate');
  assert.deepEqual(nav, [{ type: 'navigate', direction: 'back' }, { type: 'navigate', direction: 'back' }]);
  await page.close();
});

test('Markdown/LaTeX rendering: formulas typeset with KaTeX, hostile text stays literal text, nothing runs, no CSP violation', async () => {
  const g = sampleGroup({ groupId: 12, chars: 300, seed: 5, hostile: true });
  const hostileText = `${HOSTILE_PAYLOADS.map((p) => p.text).join('\n\n')}\n\nNow $x^2 + \\frac{1}{2}$ and\n\n$$\\int_0^1 t\\,dt$$\n\n**bold** <b>not bold</b> \`code\``;
  g.trajectories[0]!.event.text = hostileText;
  const page = await open('render', [groupMsg(g, { focusTrajectoryKey: g.trajectories[0]!.trajectoryKey, options: { renderMarkdown: true } })]);
  await page.waitForSelector('[data-testid="trace-body"].rendered .katex');
  assert.equal(await page.getAttribute('[data-testid="render-toggle"]', 'aria-pressed'), 'true', 'the setting turned it on');
  const text = (await page.locator('[data-testid="trace-body"]').textContent()) ?? '';
  const missing = HOSTILE_PAYLOADS.filter((p) => !text.includes(p.literal)).map((p) => p.name);
  assert.deepEqual(missing, [], 'every payload is visible as its literal characters');
  assert.ok((await page.locator('[data-testid="trace-body"] .katex').count()) >= 2, 'inline and display maths typeset');
  assert.ok((await page.locator('[data-testid="trace-body"] strong').count()) >= 1, 'Markdown emphasis');
  assert.ok((await page.locator('[data-testid="math-raw"]').count()) >= 2, '\\href and \\htmlData are not trusted: shown as their source');
  assert.ok(text.includes(String.raw`\(\htmlData{x=1}{y}\)`), 'with the delimiters as written');
  const tags = await page.$$eval('[data-testid="trace-body"] *', (els) => [...new Set(els.map((e) => e.tagName.toLowerCase()))]);
  for (const bad of ['a', 'img', 'script', 'iframe', 'svg', 'style', 'link', 'b']) assert.ok(!tags.includes(bad), `no <${bad}> from the text`);
  const handlers = await page.$$eval('[data-testid="trace-body"] *', (els) => els.flatMap((e) => [...e.attributes].filter((a) => /^on/i.test(a.name) || a.name === 'href' || a.name === 'src').map((a) => a.name)));
  assert.deepEqual(handlers, []);
  // KaTeX's stylesheet and a font loaded from the extension's own resources
  await page.waitForFunction(() => [...document.fonts].some((f) => /KaTeX/.test(f.family) && f.status === 'loaded'), undefined, { timeout: 5_000 });
  // hover every member and toggle back and forth
  for (let i = 0; i < 3; i++) await page.keyboard.press('j');
  await page.locator('[data-testid="render-toggle"]').click();
  await page.waitForSelector('[data-testid="trace-body"]:not(.rendered)');
  assert.equal(await page.evaluate('window.__pwned'), undefined);
  assert.equal(await page.locator('#reward-lens-assets').count(), 0, 'the assets data block is taken once: no script element but the page\'s own remains');
  assert.deepEqual(await cspViolations(page), []);
  assert.deepEqual(errorsOf(page), []);
  // the sample hostile trace too
  assert.ok(g.trajectories.some((t) => t.event.text === HOSTILE_TEXT));
  await page.close();
});
