// How the suites drive Reward Lens itself: ingest with the CLI, open a store, walk the Runs tree,
// find the inspector. Kept in one place so a UI change is fixed once for every suite.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { Frame, Page } from 'playwright-core';
import sqlite3 from 'sqlite3';
import { repoRoot, runCommand, sleep, waitFor, webviewFrame } from './rig';

/** `reward-lens ingest EVENTS --db DB` with the built CLI; returns its stdout. */
export function ingest(events: string, db: string): string {
  const result = spawnSync(process.execPath, [join(repoRoot, 'dist', 'cli.js'), 'ingest', events, '--db', db], { encoding: 'utf8', timeout: 60_000 });
  if (result.status !== 0) throw new Error(`reward-lens ingest failed (exit ${result.status}):\n${result.stdout}${result.stderr}`);
  return result.stdout;
}

/** "Reward Lens: Open Run Store…" then the path typed into VS Code's file dialog. */
export async function openStore(page: Page, db: string): Promise<void> {
  const name = db.split('/').pop() as string;
  const input = page.locator('.quick-input-widget input.input');
  // code-server's open dialog is a quick input holding a path. Under load it can fill in its
  // default path after ours was typed, so the path is checked before Enter, and the store counts as
  // open only once the Training view lists it.
  for (let attempt = 1; attempt <= 3; attempt++) {
    await runCommand(page, 'Reward Lens: Open Run Store…');
    await input.waitFor({ state: 'visible', timeout: 10_000 });
    await sleep(500);
    const typed = await waitFor('the store path in the open dialog', 5_000, async () => {
      if ((await input.inputValue()) === db) return true;
      await input.fill(db);
      return undefined;
    }, 250).then(() => true, () => false);
    if (typed) {
      await sleep(150);
      await page.keyboard.press('Enter');
      const listed = page.locator('.part.sidebar .monaco-list-row', { hasText: name }).first();
      if (await listed.waitFor({ state: 'visible', timeout: 15_000 }).then(() => true, () => false)) return;
    }
    await page.keyboard.press('Escape');
  }
  throw new Error(`the store ${name} did not open after three Open Run Store… attempts`);
}

export async function showRunsView(page: Page): Promise<void> {
  const container = page.locator('.part.activitybar .action-item a[aria-label^="Reward Lens"]');
  await container.waitFor({ state: 'visible', timeout: 30_000 });
  const header = page.locator('.part.sidebar .pane-header', { hasText: /^\s*Runs/i });
  // Clicking the container while its view is shown hides the side bar, so click only when the
  // Runs pane is not already on screen (aria-expanded is not always set on the item).
  if (!(await header.isVisible())) {
    const checked = await container.getAttribute('aria-expanded').catch(() => null);
    if (checked !== 'true') await container.click();
  }
  await header.waitFor({ state: 'visible', timeout: 15_000 });
}

/** A row of the Runs tree whose label matches. */
export function treeRow(page: Page, label: string | RegExp) {
  return page.locator('.part.sidebar .monaco-list-row', { has: page.locator('.label-name', { hasText: label }) }).first();
}

/** Expands a tree row (when collapsed) by clicking its twistie. */
export async function expand(page: Page, label: string | RegExp, timeoutMs = 20_000): Promise<void> {
  const row = treeRow(page, label);
  await row.waitFor({ state: 'visible', timeout: timeoutMs });
  if ((await row.getAttribute('aria-expanded')) === 'false') {
    await row.locator('.monaco-tl-twistie').click();
    await waitFor(`tree row ${String(label)} to expand`, 5_000, async () => (await row.getAttribute('aria-expanded')) === 'true');
  }
}

/** Walks run → step → group in the Runs tree and opens the group in the inspector. */
export async function openGroupFromTree(page: Page, run: string | RegExp, step: string | RegExp, group: string | RegExp): Promise<Frame> {
  await showRunsView(page);
  await expand(page, run);
  await expand(page, step);
  const row = treeRow(page, group);
  await row.waitFor({ state: 'visible', timeout: 15_000 });
  await row.click();
  return inspectorFrame(page);
}

export async function inspectorFrame(page: Page): Promise<Frame> {
  return webviewFrame(page, '[data-testid=member-0]', 30_000);
}

/** Reads rows from a store read-only, the way an outside observer would. */
export async function queryStore<T>(db: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const conn = await new Promise<sqlite3.Database>((resolve, reject) => {
    const d = new sqlite3.Database(db, sqlite3.OPEN_READONLY, (err) => (err ? reject(err) : resolve(d)));
  });
  try {
    return await new Promise<T[]>((resolve, reject) => conn.all(sql, params, (err, rows) => (err ? reject(err) : resolve(rows as T[]))));
  } finally {
    await new Promise<void>((resolve) => conn.close(() => resolve()));
  }
}

/** Every string the canary payloads would have left behind, looked for in each frame and the page. */
export async function canaryFindings(page: Page, consoleLines: string[]): Promise<string[]> {
  const found: string[] = [];
  for (const line of consoleLines) if (/PWNED/.test(line)) found.push(`console: ${line}`);
  for (const frame of page.frames()) {
    const state = await frame.evaluate(() => ({
      pwned: (window as unknown as { __pwned?: unknown }).__pwned ?? null,
      title: document.title,
      href: location.href,
      handlerAttributes: Array.from(document.querySelectorAll('*')).flatMap((el) => Array.from(el.attributes).filter((a) => /^on/i.test(a.name)).map((a) => `${el.tagName}[${a.name}]`)),
      jsLinks: Array.from(document.querySelectorAll('[href^="javascript:" i], [src^="javascript:" i]')).length,
      strayScripts: Array.from(document.querySelectorAll('script')).filter((s) => !s.nonce && !s.src && !/^\s*globalThis\.acquireVsCodeApi\b/.test(s.textContent ?? '')).map((s) => (s.textContent ?? '').slice(0, 120)),
    })).catch(() => null);
    if (state === null) continue;
    // (VS Code injects one inline script into a webview that has scripts enabled: acquireVsCodeApi.)
    // VS Code's own frames (the webview host page, the web-worker extension host) carry their own
    // inline scripts; the DOM checks apply to the frames that hold a webview's content
    // (code-server names them active-frame / pending-frame; their URL is the host page's).
    const frameId = frame === page.mainFrame() ? null : await frame.frameElement().then((el) => el.getAttribute('id')).catch(() => null);
    const vscodeFrame = frameId !== 'active-frame' && frameId !== 'pending-frame';
    if (state.pwned !== null) found.push(`window.__pwned=${String(state.pwned)} in ${state.href}`);
    if (/PWNED/.test(state.title)) found.push(`title "${state.title}" in ${state.href}`);
    if (/#pwned|about:blank#/.test(state.href)) found.push(`navigated to ${state.href}`);
    if (!vscodeFrame && state.handlerAttributes.length > 0) found.push(`inline handlers ${state.handlerAttributes.slice(0, 5).join(', ')} in ${state.href}`);
    if (!vscodeFrame && state.jsLinks > 0) found.push(`${state.jsLinks} javascript: links in ${state.href}`);
    if (!vscodeFrame && state.strayScripts.length > 0) found.push(`inline scripts without nonce in ${state.href}: ${state.strayScripts.join(' | ')}`);
  }
  return found;
}

export { sleep };

/**
 * In an open multi-select quick pick, makes exactly `labels` the picked rows (by clicking their
 * check boxes) and returns the pick's title, which says how many are picked or what is wrong.
 */
export async function setQuickPicks(page: Page, labels: readonly string[]): Promise<string> {
  const rows = page.locator('.quick-input-list .monaco-list-row');
  await rows.first().waitFor({ state: 'visible', timeout: 10_000 });
  const n = await rows.count();
  for (let i = 0; i < n; i++) {
    const row = rows.nth(i);
    const label = ((await row.locator('.label-name').first().textContent()) ?? '').trim();
    // VS Code 1.100: the row is role=checkbox with aria-checked; its box is a monaco checkbox toggle.
    const checked = (await row.getAttribute('aria-checked')) === 'true';
    if (checked !== labels.includes(label)) await row.locator('.monaco-checkbox').first().click();
  }
  await sleep(200);
  return ((await page.locator('.quick-input-widget .quick-input-title').textContent()) ?? '').trim();
}

/** "Reward Lens: Compare Runs…" with these runs picked in its quick pick; resolves the panel's frame. */
export async function compareRuns(page: Page, runIds: readonly string[]): Promise<Frame> {
  await runCommand(page, 'Reward Lens: Compare Runs…');
  let title = await setQuickPicks(page, runIds);
  // The title follows the picks one event-loop turn of the host later: on a loaded machine, later
  // than setQuickPicks' pause (seen at a load of 10 on 2 cores).
  const until = Date.now() + 10_000;
  while (!title.includes(`${runIds.length} picked`) && Date.now() < until) {
    await sleep(100);
    title = ((await page.locator('.quick-input-widget .quick-input-title').textContent()) ?? '').trim();
  }
  if (!title.includes(`${runIds.length} picked`)) throw new Error(`the Compare Runs pick did not take ${runIds.join(', ')}: its title reads "${title}"`);
  await page.locator('.quick-input-widget input.input').focus();
  await page.keyboard.press('Enter');
  return compareFrame(page);
}

/** The Compare Runs panel's frame once its table is drawn. */
export async function compareFrame(page: Page): Promise<Frame> {
  return webviewFrame(page, '[data-testid=prompt-table]', 30_000);
}

/** Where an element sits against the inspector page's viewport and its own scroll pane. */
export async function inViewport(frame: Frame, selector: string): Promise<boolean> {
  return frame.locator(selector).first().evaluate((el) => {
    const r = el.getBoundingClientRect();
    return r.height > 0 && r.top >= -1 && r.bottom <= document.documentElement.clientHeight + 1 && r.left >= -1 && r.right <= document.documentElement.clientWidth + 1;
  });
}

/** Opens the inspector's find (Ctrl+F in its page) and types a query; returns the count text once it settles. */
export async function findInTrace(page: Page, frame: Frame, query: string): Promise<string> {
  await frame.locator('[data-testid="trace"]').click({ position: { x: 4, y: 4 } });
  await page.keyboard.press('Control+f');
  const input = frame.locator('[data-testid="find-input"]');
  await input.waitFor({ state: 'visible', timeout: 5_000 });
  await input.fill(query);
  return waitFor(`find results for "${query}"`, 10_000, async () => {
    const t = (await frame.locator('[data-testid="find-count"]').textContent()) ?? '';
    return /^(\d+ of \d+\+?|No results)$/.test(t) ? t : undefined;
  });
}

/** The text and on-screen state of the current find hit (painted with the CSS Custom Highlight API). */
export async function currentFindHit(frame: Frame): Promise<{ text: string; visible: boolean } | null> {
  return frame.evaluate(() => {
    const reg = (CSS as unknown as { highlights?: Map<string, Set<Range>> }).highlights;
    const r = [...(reg?.get('rl-find-current') ?? [])][0];
    if (!r) return null;
    const rect = r.getBoundingClientRect();
    const pane = document.querySelector('[data-testid="trace"]')?.getBoundingClientRect();
    return { text: r.toString(), visible: !!pane && rect.height > 0 && rect.top >= pane.top && rect.bottom <= pane.bottom };
  });
}

/**
 * Closes a formula popover left open by the pointer resting on a badge (a click on a row lands on
 * one; a re-render can open it again under a still pointer): Escape, as a reader would.
 */
export async function closeExplanation(page: Page, frame: Frame): Promise<void> {
  const pop = frame.locator('[data-testid=explain-popover]');
  if (!(await pop.isVisible())) return;
  await page.keyboard.press('Escape');
  await pop.waitFor({ state: 'hidden', timeout: 3_000 });
}
