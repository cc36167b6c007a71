// Renders the built webviews (dist/webview/*.js) in headless Chromium with sample data, outside
// VS Code: prints render timings from the pages' own perf log, checks that hostile text ran no
// script, and saves light/dark screenshots.
//   node --import tsx bench/ui-preview.ts [outDir] [--chromium /usr/bin/chromium]
// Needs `npm run build` first. This times rendering only; in VS Code the host adds the store
// query and the postMessage hop (see the "[perf]" lines in the Reward Lens output channel).
import { createServer, type Server } from 'node:http';
import { mkdirSync, readFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { READ_PERF_JS, pickChartStepByKeyboard, harnessHtml, sampleGroup, sampleSeries, sampleStep, summarise, type PerfSample } from '../test/kit/ui';
import { skyThoughtGroup } from '../test/kit/traces';
import type { HostToDashboard, HostToInspector } from '../src/core/messages';
import { toSeriesColumns } from '../src/core/messages';

const root = resolve(__dirname, '..');
const args = process.argv.slice(2);
const outDir = resolve(args.find((a) => !a.startsWith('--') && args[args.indexOf(a) - 1] !== '--chromium') ?? join(root, 'artifacts', 'ui-preview'));
const chromiumPath = args.includes('--chromium') ? (args[args.indexOf('--chromium') + 1] as string) : '/usr/bin/chromium';

const pages = new Map<string, string>();

function serve(): Promise<{ server: Server; origin: string }> {
  const server = createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0] as string;
    const page = pages.get(url);
    if (page !== undefined) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(page);
      return;
    }
    const m = /^\/dist\/webview\/(inspector|dashboard|render)\.js$/.exec(url);
    if (m) {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      res.end(readFileSync(join(root, 'dist', 'webview', `${m[1]}.js`)));
      return;
    }
    const k = /^\/dist\/webview\/katex\/((?:fonts\/)?[\w.-]+\.(?:css|woff2))$/.exec(url);
    if (k && existsSync(join(root, 'dist', 'webview', 'katex', k[1] as string))) {
      res.writeHead(200, { 'content-type': url.endsWith('.css') ? 'text/css' : 'font/woff2' });
      res.end(readFileSync(join(root, 'dist', 'webview', 'katex', k[1] as string)));
      return;
    }
    res.writeHead(404).end();
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => {
    const addr = server.address();
    ok({ server, origin: `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}` });
  }));
}

async function perf(page: Page): Promise<PerfSample[]> {
  return (await page.evaluate(`(${READ_PERF_JS})()`)) as PerfSample[];
}

async function waitForPerf(page: Page, what: string, count = 1): Promise<PerfSample[]> {
  await page.waitForFunction(([w, c]) => ((window as unknown as { __rewardLensPerf?: Array<{ what: string }> }).__rewardLensPerf ?? []).filter((e) => e.what === w).length >= (c as number), [what, count] as const, { timeout: 20_000 });
  return (await perf(page)).filter((e) => e.what === what);
}

async function main(): Promise<void> {
  for (const v of ['inspector', 'dashboard']) if (!existsSync(join(root, 'dist', 'webview', `${v}.js`))) throw new Error(`dist/webview/${v}.js is missing: run npm run build`);
  mkdirSync(outDir, { recursive: true });
  const { server, origin } = await serve();
  const browser = await chromium.launch({ executablePath: chromiumPath, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] });
  const cspViolations: string[] = [];
  const report: string[] = [];
  try {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const assets = { renderScript: `${origin}/dist/webview/render.js`, katexCss: `${origin}/dist/webview/katex/katex.min.css` };
    const open = async (name: string, view: 'inspector' | 'dashboard', theme: 'light' | 'dark' | 'hc', messages: Array<HostToInspector | HostToDashboard>, c = ctx) => {
      pages.set(`/${name}.html`, harnessHtml({ view, theme, origin, scriptUri: `${origin}/dist/webview/${view}.js`, messages, assets }));
      const page = await c.newPage();
      page.on('console', (m) => { if (/Content Security Policy|Refused/.test(m.text())) cspViolations.push(`${name}: ${m.text()}`); });
      page.on('pageerror', (e) => cspViolations.push(`${name}: page error ${e.message}`));
      await page.goto(`${origin}/${name}.html`);
      return page;
    };

    // 1. a normal group, both themes, with a relabel through the keyboard
    for (const theme of ['light', 'dark', 'hc'] as const) {
      const g = sampleGroup({ groupId: 7, chars: 3000, hostile: true });
      const page = await open(`inspector-${theme}`, 'inspector', theme, [{ type: 'group', group: g, focusTrajectoryKey: null }]);
      const [first] = await waitForPerf(page, 'group');
      report.push(`inspector group (${theme}): ${first?.ms} ms`);
      await page.keyboard.press('j');
      await page.keyboard.press('w');
      await page.screenshot({ path: join(outDir, `inspector-${theme}.png`), fullPage: false });
      const posted = (await page.evaluate('window.__posted')) as Array<{ type: string }>;
      report.push(`inspector posted: ${posted.map((p) => p.type).join(', ')}`);
      const pwned = await page.evaluate('window.__pwned');
      report.push(`hostile canary (${theme}): ${pwned === undefined ? 'no script ran' : `SCRIPT RAN: ${String(pwned)}`}`);
      // the hostile member, reasoning unfolded
      await page.click(`[data-trajectory-id="${g.trajectories[1]!.event.id}"]`);
      await page.click('[data-testid="think-toggle-all"]');
      await page.waitForTimeout(100);
      await page.screenshot({ path: join(outDir, `inspector-hostile-${theme}.png`) });
      await page.close();
    }

    // 1b. real SkyThought traces: the 153,700-character loop folded, found in, explained; rendered; narrow
    for (const theme of ['light', 'dark'] as const) {
      const g = skyThoughtGroup();
      const page = await open(`inspector-sky-${theme}`, 'inspector', theme, [{ type: 'group', group: g, focusTrajectoryKey: g.trajectories[0]!.trajectoryKey }]);
      await page.waitForSelector('[data-testid="posbar-repetition"]');
      await page.screenshot({ path: join(outDir, `inspector-sky-folded-${theme}.png`) });
      await page.keyboard.press('Control+f');
      await page.keyboard.type('symmetric');
      await page.waitForTimeout(400);
      await page.screenshot({ path: join(outDir, `inspector-sky-find-${theme}.png`) });
      await page.keyboard.press('Escape');
      await page.hover('[data-testid="detail-roger"]');
      await page.waitForTimeout(150);
      await page.screenshot({ path: join(outDir, `inspector-explain-${theme}.png`) });
      await page.click('[data-testid="member-4"]');
      await page.click('[data-testid="render-toggle"]');
      await page.waitForSelector('.katex');
      await page.waitForTimeout(300);
      await page.screenshot({ path: join(outDir, `inspector-rendered-${theme}.png`) });
      await page.close();
    }
    {
      const narrow = await browser.newContext({ viewport: { width: 620, height: 900 } });
      const g = skyThoughtGroup();
      const page = await open('inspector-narrow', 'inspector', 'dark', [{ type: 'group', group: g, focusTrajectoryKey: null }], narrow);
      await page.waitForSelector('[data-testid="trace-body"]');
      await page.keyboard.press('j');
      await page.keyboard.press('j');
      await page.waitForTimeout(200);
      await page.screenshot({ path: join(outDir, 'inspector-narrow-dark.png') });
      await narrow.close();
    }

    // 2. open-group latency over several groups
    const opens: number[] = [];
    for (let i = 0; i < 20; i++) {
      const page = await open(`open-${i}`, 'inspector', 'dark', [{ type: 'group', group: sampleGroup({ groupId: 100 + i, seed: i + 2, chars: 6000 }), focusTrajectoryKey: null }]);
      opens.push(...(await waitForPerf(page, 'group')).map((e) => e.ms));
      await page.close();
    }
    const s = summarise(opens);
    report.push(`inspector open group (8+2 members, 6K chars): p50 ${s.p50} ms, p95 ${s.p95} ms, max ${s.max} ms over ${s.n}`);

    // 3. a 150K-character trace with its heatmap
    {
      const g = sampleGroup({ groupId: 9, chars: 150_000, online: 4, offline: 2, seed: 11 });
      const page = await open('inspector-150k', 'inspector', 'dark', [{ type: 'group', group: g, focusTrajectoryKey: null }]);
      const [opened] = await waitForPerf(page, 'group');
      report.push(`150K trace, reasoning folded: group ${opened?.ms} ms`);
      const heat: number[] = [];
      const complete: number[] = [];
      const completes = async () => (await perf(page)).filter((e) => e.what === 'traceComplete');
      for (let i = 0; i < 5; i++) {
        if (i === 0) await page.click('[data-testid="think-toggle-all"]');
        const before = (await completes()).length;
        await page.click('[data-testid="heatmap-toggle"]');
        const on = await waitForPerf(page, 'heatmap', 2 * i + 1);
        heat.push((on[on.length - 1] as PerfSample).ms);
        const done = await waitForPerf(page, 'traceComplete', before + 1);
        complete.push((done[done.length - 1] as PerfSample).ms);
        await page.click('[data-testid="heatmap-toggle"]');
        await waitForPerf(page, 'heatmap', 2 * i + 2);
        await waitForPerf(page, 'traceComplete', before + 2);
      }
      const cs = summarise(complete);
      report.push(`150K trace + heatmap, whole trace built: p50 ${cs.p50} ms, max ${cs.max} ms over ${cs.n}`);
      const hs = summarise(heat);
      report.push(`150K trace + heatmap (reasoning unfolded), first frame: p50 ${hs.p50} ms, max ${hs.max} ms over ${hs.n}`);
      await page.click('[data-testid="heatmap-toggle"]');
      await waitForPerf(page, 'heatmap', 11);
      await page.screenshot({ path: join(outDir, 'inspector-150k-heatmap.png') });
      await page.click('[data-testid="diff-toggle"]');
      const [d] = await waitForPerf(page, 'diff');
      report.push(`150K trace diff vs nearest teacher: ${d?.ms} ms`);
      await page.screenshot({ path: join(outDir, 'inspector-150k-diff.png') });
      await page.close();
    }

    // 3b. find in the same 150K trace, on its own page: a reveal unfolds the reasoning, which would
    // change what the heatmap figures above measure.
    // Find while the reasoning is folded (issue 18: at most 100 ms): the bar searches the whole
    // text, not the DOM, and reveals the current hit, unfolding what hides it. Queries cut from
    // the shown trace at several depths (so each one has a hit to reveal), plus a common word.
    {
      const g = sampleGroup({ groupId: 9, chars: 150_000, online: 4, offline: 2, seed: 11 });
      const page = await open('inspector-150k-find', 'inspector', 'dark', [{ type: 'group', group: g, focusTrajectoryKey: null }]);
      await waitForPerf(page, 'group');
      {
        const text = g.trajectories[0]!.event.text;
        const queries = [0.05, 0.3, 0.55, 0.8, 0.97].map((at) => text.slice(Math.floor(text.length * at), Math.floor(text.length * at) + 14).trim());
        queries.push('the', 'answer', 'zzzz-no-such-text');
        await page.keyboard.press('Control+f');
        await page.waitForSelector('[data-testid="find-input"]:visible');
        const times: number[] = [];
        let revealed = 0;
        for (let rep = 0; rep < 3; rep++) {
          for (const q of queries) {
            const before = (await perf(page)).filter((e) => e.what === 'find').length;
            await page.fill('[data-testid="find-input"]', q);
            const found = await waitForPerf(page, 'find', before + 1);
            times.push((found[found.length - 1] as PerfSample).ms);
            if (rep === 0 && /^[1-9]/.test(((await page.textContent('[data-testid="find-count"]')) ?? '').trim())) revealed++;
          }
        }
        const fs = summarise(times);
        report.push(`find in the 150K trace (reasoning folded), hit revealed: p50 ${fs.p50} ms, p95 ${fs.p95} ms, max ${fs.max} ms over ${fs.n} (${revealed} of ${queries.length} queries with hits)`);
        await page.screenshot({ path: join(outDir, 'inspector-150k-find.png') });
        await page.keyboard.press('Escape');
      }
      await page.close();
    }

    // 4. dashboard, 2,000 steps
    for (const theme of ['light', 'dark', 'hc'] as const) {
      const series = sampleSeries(2000);
      const step = sampleStep(120);
      const page = await open(`dashboard-${theme}`, 'dashboard', theme, [
        { type: 'series', runId: 'sample-run', variant: 'oger', series: toSeriesColumns(series), selectedStep: null },
      ]);
      const [r] = await waitForPerf(page, 'series');
      report.push(`dashboard 2,000 steps (${theme}): ${r?.ms} ms`);
      await pickChartStepByKeyboard(page, 'accuracy', 120); // no marker elements at 2,000 steps; the keyboard picks exactly
      // the stand-in host does not answer selectStep; deliver the step as the host would
      await page.evaluate((m) => window.postMessage(m, '*'), { type: 'step', runId: 'sample-run', step: 120, ...step } as HostToDashboard);
      const [st] = await waitForPerf(page, 'step');
      report.push(`dashboard step detail (${step.points.length} points): ${st?.ms} ms`);
      await page.waitForTimeout(100);
      await page.screenshot({ path: join(outDir, `dashboard-${theme}.png`), fullPage: true });
      const posted = (await page.evaluate('window.__posted')) as Array<{ type: string }>;
      report.push(`dashboard posted: ${posted.map((p) => p.type).join(', ')}`);
      await page.close();
    }
    // 5. states
    for (const [name, view, msg] of [
      ['state-empty', 'dashboard', { type: 'empty', reason: 'Open a run store or start a training run to see its steps.' }],
      ['state-error', 'inspector', { type: 'error', message: 'group 12 is not in the store' }],
    ] as const) {
      const page = await open(name, view, 'dark', [msg as HostToInspector]);
      await page.waitForSelector(`[data-testid="${name}"]`);
      await page.screenshot({ path: join(outDir, `${name}.png`) });
      await page.close();
    }
  } finally {
    await browser.close();
    server.close();
  }
  for (const line of report) console.log(line);
  console.log(cspViolations.length ? `CSP violations / page errors:\n  ${cspViolations.join('\n  ')}` : 'CSP violations / page errors: none');
  console.log(`screenshots in ${outDir}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
