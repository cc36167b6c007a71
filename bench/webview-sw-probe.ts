// Probe behind the "new panel" analysis in bench/results-notes.md: opens the dashboard as a new
// panel several times in code-server, varying how long ago the previous webview closed, and prints
// when each webview's content frame could first be fetched (its navigation fetchStart) and what
// VS Code's webview host page logged about its service worker. Then it opens VS Code's own
// Markdown preview, a built-in webview, to show the wait is not Reward Lens's. Not part of any suite.
// Run (after npm run package, with code-server set up): node --import tsx bench/webview-sw-probe.ts [--store FILE]
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, runCommand, sleep, startRig, waitFor, webviewFrame } from '../test/kit/rig';
import { openStore, showRunsView } from '../test/kit/driver';

const i = process.argv.indexOf('--store');
const storePath = i >= 0 && process.argv[i + 1] ? (process.argv[i + 1] as string) : join(repoRoot, '.cache', 'bench', 'queries-80000.db');
/** seconds between closing one dashboard and opening the next */
const GAPS_S = [0.5, 0.5, 5, 35, 0.5];

async function main(): Promise<void> {
  if (!existsSync(storePath)) throw new Error(`${storePath} is missing: npm run bench -- --only queries builds it`);
  const rig = await startRig({ name: 'webview-sw-probe', theme: 'dark', settings: { 'workbench.editor.enablePreview': false } });
  const page = rig.page;
  try {
    await showRunsView(page);
    await openStore(page, storePath);
    for (let n = 0; n <= GAPS_S.length; n++) {
      const mark = rig.consoleLines.length;
      await runCommand(page, 'Reward Lens: Open Dashboard');
      const frame = await webviewFrame(page, '[data-testid=step-count]', 60_000);
      const nav = (await frame.evaluate('(() => { const e = performance.getEntriesByType("navigation")[0]; return { fetchStart: Math.round(e.fetchStart), workerStart: Math.round(e.workerStart) }; })()')) as { fetchStart: number; workerStart: number };
      const worker = rig.consoleLines.slice(mark).find((l) => /service worker/i.test(l)) ?? '(nothing logged)';
      console.log(JSON.stringify({ panel: n + 1, secondsSincePreviousClosed: n === 0 ? null : GAPS_S[n - 1], contentFrameFetchStartMs: nav.fetchStart, workerStartMs: nav.workerStart, hostPage: worker.slice(0, 160) }));
      await runCommand(page, 'View: Close All Editors');
      await waitFor('the dashboard to close', 10_000, async () => page.locator('.tab', { hasText: 'Dashboard' }).count().then((c) => c === 0));
      if (n < GAPS_S.length) await sleep((GAPS_S[n] as number) * 1000);
    }
    // VS Code's built-in Markdown preview, opened the same way after those.
    writeFileSync(join(rig.folder, 'probe.md'), '# Probe\n\nA built-in webview.\n');
    await page.keyboard.press('Control+P');
    await page.locator('.quick-input-widget input.input').fill('probe.md');
    await page.locator('.quick-input-list .monaco-list-row', { hasText: 'probe.md' }).first().click();
    await sleep(1000);
    const mark = rig.consoleLines.length;
    await runCommand(page, 'Markdown: Open Preview');
    const preview = await waitFor('the Markdown preview', 30_000, async () => {
      for (const f of page.frames()) if ((await f.locator('h1', { hasText: 'Probe' }).count().catch(() => 0)) > 0) return f;
      return undefined;
    });
    const nav = (await preview.evaluate('(() => { const e = performance.getEntriesByType("navigation")[0]; return { fetchStart: Math.round(e.fetchStart), workerStart: Math.round(e.workerStart) }; })()')) as { fetchStart: number; workerStart: number };
    const worker = rig.consoleLines.slice(mark).find((l) => /service worker/i.test(l)) ?? '(nothing logged)';
    console.log(JSON.stringify({ panel: 'VS Code Markdown preview', contentFrameFetchStartMs: nav.fetchStart, workerStartMs: nav.workerStart, hostPage: worker.slice(0, 160) }));
  } finally {
    await rig.close();
  }
}

main().catch((e: unknown) => { console.error(e); process.exitCode = 1; });
