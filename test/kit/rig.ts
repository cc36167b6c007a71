// The end-to-end rig: a real VS Code (code-server 4.100.3, VS Code 1.100.3) with our packaged .vsix
// installed, served on 127.0.0.1, driven by playwright-core in Debian's Chromium.
// code-server cannot run extension tests in-process, so every check goes through the UI (and the
// store on disk). Every wait is bounded; every process started here is killed in close(), and on
// process exit as a last resort, so a failing test never leaves a server or browser behind.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type BrowserContext, type ConsoleMessage, type Frame, type Page } from 'playwright-core';

export const repoRoot = resolve(__dirname, '..', '..');
export const sharedRoot = resolve(repoRoot, '..', 'shared');
export const artifactsDir = join(repoRoot, 'test', 'e2e', 'artifacts');
export const codeServerBin = join(repoRoot, '.cache', 'code-server', 'node_modules', '.bin', 'code-server');
export const vsixPath = join(repoRoot, 'dist', 'reward-lens-linux-x64.vsix');
export const chromiumPath = process.env.REWARD_LENS_CHROMIUM ?? '/usr/bin/chromium';

export type Theme = 'light' | 'dark';
const THEMES: Record<Theme, string> = { light: 'Default Light Modern', dark: 'Default Dark Modern' };

export interface RigOptions {
  /** a .vsix to install (default: the packaged Reward Lens) */
  vsix?: string;
  /** folder opened as the workspace; created empty in the rig's temp dir when absent */
  folder?: string;
  theme?: Theme;
  /** merged into the user settings.json */
  settings?: Record<string, unknown>;
  /** label used in artifact names and logs */
  name: string;
  /**
   * Starts the server instead of the rig (e.g. the demo's own scripts/demo-open.sh), listening on
   * the given port in its own process group; the rig's settings and extension install are skipped.
   */
  serve?: (port: number) => ChildProcess;
}

export interface Rig {
  name: string;
  page: Page;
  context: BrowserContext;
  baseUrl: string;
  /** the rig's private temp dir (user data, extensions, browser profile, workspace) */
  root: string;
  folder: string;
  /** every console line from the workbench and its frames (webviews included) */
  consoleLines: string[];
  /** code-server's stdout+stderr */
  serverLog: () => string;
  screenshot: (file: string) => Promise<string>;
  close: () => Promise<void>;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) killTree(child);
});

function killTree(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    try { child.kill('SIGKILL'); } catch { /* already gone */ }
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (address === null || typeof address === 'string') { reject(new Error('no port')); return; }
      server.close(() => resolvePort(address.port));
    });
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `probe` until it returns a value other than undefined/false, or throws with `what`. */
export async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined | false> | T | undefined | false, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const detail = lastError instanceof Error ? `: ${lastError.message}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`);
    }
    await sleep(everyMs);
  }
}

function assertRigInstalled(): void {
  if (!existsSync(codeServerBin)) throw new Error(`code-server is not installed at ${codeServerBin}: run scripts/setup.d/40-e2e.sh`);
  if (!existsSync(chromiumPath)) throw new Error(`Chromium is missing at ${chromiumPath}: run scripts/setup.d/10-system.sh`);
}

function serverEnv(root: string): NodeJS.ProcessEnv {
  // code-server and VS Code write config and caches under XDG dirs; keep them inside the rig.
  return { ...process.env, XDG_CONFIG_HOME: join(root, 'xdg-config'), XDG_DATA_HOME: join(root, 'xdg-data'), XDG_CACHE_HOME: join(root, 'xdg-cache') };
}

export function installExtension(root: string, vsix: string): string {
  const result = spawnSync(codeServerBin, [
    '--user-data-dir', join(root, 'user'), '--extensions-dir', join(root, 'ext'),
    '--config', join(root, 'config.yaml'), '--install-extension', vsix, '--force',
  ], { env: serverEnv(root), encoding: 'utf8', timeout: 60_000 });
  const output = `${result.stdout}${result.stderr}`;
  if (result.status !== 0) throw new Error(`installing ${vsix} failed (exit ${result.status}):\n${output}`);
  return output;
}

/** Packages a throwaway extension folder into a .vsix with vsce (used by the rig's own test). */
export function packageFolder(folder: string, out: string): void {
  const vsce = join(repoRoot, 'node_modules', '.bin', 'vsce');
  const result = spawnSync(vsce, ['package', '--allow-missing-repository', '--skip-license', '--no-dependencies', '-o', out], { cwd: folder, encoding: 'utf8', timeout: 60_000 });
  if (result.status !== 0) throw new Error(`vsce package failed:\n${result.stdout}${result.stderr}`);
}

export async function startRig(options: RigOptions): Promise<Rig> {
  assertRigInstalled();
  const vsix = options.vsix ?? vsixPath;
  if (!existsSync(vsix)) throw new Error(`${vsix} is missing: run 'npm run package' first`);
  const root = mkdtempSync(join(tmpdir(), `rl-e2e-${options.name}-`));
  const folder = options.folder ?? join(root, 'workspace');
  mkdirSync(folder, { recursive: true });
  mkdirSync(join(root, 'user', 'User'), { recursive: true });
  mkdirSync(artifactsDir, { recursive: true });
  writeFileSync(join(root, 'config.yaml'), 'auth: none\ncert: false\n');
  const settings = {
    'workbench.colorTheme': THEMES[options.theme ?? 'dark'],
    'workbench.startupEditor': 'none',
    'workbench.tips.enabled': false,
    'workbench.welcomePage.walkthroughs.openOnInstall': false,
    'security.workspace.trust.enabled': false,
    'telemetry.telemetryLevel': 'off',
    'update.mode': 'none',
    'extensions.autoUpdate': false,
    'extensions.autoCheckUpdates': false,
    'extensions.ignoreRecommendations': true,
    'git.enabled': false,
    'window.commandCenter': false,
    'chat.commandCenter.enabled': false,
    'workbench.secondarySideBar.defaultVisibility': 'hidden',
    ...options.settings,
  };
  writeFileSync(join(root, 'user', 'User', 'settings.json'), JSON.stringify(settings, null, 2));
  if (!options.serve) installExtension(root, vsix);

  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  let log = '';
  const server = options.serve ? options.serve(port) : spawn(codeServerBin, [
    '--auth', 'none', '--bind-addr', `127.0.0.1:${port}`, '--disable-telemetry', '--disable-update-check',
    '--disable-workspace-trust', '--user-data-dir', join(root, 'user'), '--extensions-dir', join(root, 'ext'),
    '--config', join(root, 'config.yaml'), folder,
  ], { env: serverEnv(root), detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(server);
  server.stdout?.on('data', (d: Buffer) => { log += d.toString(); });
  server.stderr?.on('data', (d: Buffer) => { log += d.toString(); });

  let browser: Browser | undefined;
  let context: BrowserContext | undefined;
  const closeAll = async (): Promise<void> => {
    // The last state of every suite, pass or fail: the first thing to look at when one fails.
    const last = context?.pages()[0];
    if (last) await last.screenshot({ path: join(artifactsDir, `${options.name}-final.png`), timeout: 10_000 }).catch(() => undefined);
    await context?.close().catch(() => undefined);
    await browser?.close().catch(() => undefined);
    killTree(server);
    live.delete(server);
    rmSync(root, { recursive: true, force: true, maxRetries: 3 });
  };
  try {
    await waitFor('code-server /healthz', options.serve ? 120_000 : 30_000, async () => {
      if (server.exitCode !== null) throw new Error(`code-server exited ${server.exitCode}:\n${log}`);
      const res = await fetch(`${baseUrl}/healthz`).catch(() => undefined);
      return res?.ok === true;
    });
    browser = await chromium.launch({
      executablePath: chromiumPath,
      headless: true,
      timeout: 30_000,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
    });
    context = await browser.newContext({ viewport: { width: 1440, height: 900 }, colorScheme: options.theme === 'light' ? 'light' : 'dark' });
    context.setDefaultTimeout(20_000);
    const page = await context.newPage();
    const consoleLines: string[] = [];
    const record = (m: ConsoleMessage): void => { consoleLines.push(`[${m.type()}] ${m.text()}`); };
    page.on('console', record);
    page.on('pageerror', (e) => consoleLines.push(`[pageerror] ${e.message}`));
    await page.goto(`${baseUrl}/?folder=${encodeURIComponent(folder)}`, { timeout: 30_000 });
    await page.locator('.monaco-workbench .part.activitybar').waitFor({ state: 'visible', timeout: 60_000 });
    // The statusbar fills in once the extension host has started; before that, commands from
    // extensions are not yet in the palette.
    await page.locator('.part.statusbar').waitFor({ state: 'visible', timeout: 30_000 });
    const rig: Rig = {
      name: options.name,
      page,
      context,
      baseUrl,
      root,
      folder,
      consoleLines,
      serverLog: () => log,
      screenshot: async (file: string) => {
        const path = join(artifactsDir, file.endsWith('.png') ? file : `${file}.png`);
        // Park the pointer on empty editor space so no tooltip covers what the shot is for.
        await page.mouse.move(1300, 880);
        await page.screenshot({ path, timeout: 15_000 });
        return path;
      },
      close: closeAll,
    };
    return rig;
  } catch (err) {
    const tail = log.split('\n').slice(-30).join('\n');
    await closeAll();
    throw new Error(`${err instanceof Error ? err.message : String(err)}\ncode-server log tail:\n${tail}`);
  }
}

/**
 * Runs a command from the palette by its full title ("Reward Lens: Open Dashboard"). Retries
 * with a fresh palette: on a loaded machine the extension's contributions can register after
 * the workbench first paints.
 */
export async function runCommand(page: Page, title: string, timeoutMs = 30_000): Promise<void> {
  const input = page.locator('.quick-input-widget input.input');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await page.keyboard.press('F1');
    await input.waitFor({ state: 'visible', timeout: 10_000 });
    await input.fill(`>${title}`);
    // Pick the row whose label is exactly the title: fuzzy matching also offers near misses.
    const index = await waitFor(`palette entry "${title}"`, 4_000, async () => {
      const labels = await page.locator('.quick-input-list .monaco-list-row .label-name').allTextContents();
      const at = labels.findIndex((l) => sameTitle(l, title));
      return at >= 0 ? at : undefined;
    }).catch(() => -1);
    if (index >= 0) {
      await page.locator('.quick-input-list .monaco-list-row').nth(index).click();
      return;
    }
    await page.keyboard.press('Escape');
    if (Date.now() > deadline) throw new Error(`the palette never offered "${title}" within ${timeoutMs} ms`);
    await sleep(1_000);
  }
}

/** Compares palette titles ignoring whitespace runs and "..." versus "…". */
export function sameTitle(a: string, b: string): boolean {
  const norm = (s: string): string => s.replace(/\s+/g, ' ').replace(/\.\.\./g, '…').trim();
  return norm(a) === norm(b);
}

/**
 * Which of `titles` the palette offers. The palette list is virtualised (only visible rows exist
 * in the DOM), so each title is typed in turn rather than read from one long list.
 */
export async function paletteOffers(page: Page, titles: string[]): Promise<{ present: string[]; missing: string[] }> {
  const input = page.locator('.quick-input-widget input.input');
  await page.keyboard.press('F1');
  await input.waitFor({ state: 'visible', timeout: 5_000 });
  const present: string[] = [];
  const missing: string[] = [];
  for (const title of titles) {
    await input.fill(`>${title}`);
    const found = await waitFor(`palette row "${title}"`, 3_000, async () => {
      const labels = await page.locator('.quick-input-list .monaco-list-row .label-name').allTextContents();
      return labels.some((l) => sameTitle(l, title));
    }).then(() => true, () => false);
    (found ? present : missing).push(title);
  }
  await page.keyboard.press('Escape');
  return { present, missing };
}

/** Answers an open quick pick / input box: types `text` (when given) and presses Enter. */
export async function answerQuickInput(page: Page, text: string | null, timeoutMs = 10_000): Promise<void> {
  const input = page.locator('.quick-input-widget input.input');
  await input.waitFor({ state: 'visible', timeout: timeoutMs });
  if (text !== null) await input.fill(text);
  await sleep(150);
  await page.keyboard.press('Enter');
}

/**
 * The frame holding a webview's own HTML (code-server nests it in iframe.webview.ready and then
 * iframe#active-frame). Finds the first frame in which `selector` matches, so tests need not care
 * how many webviews are open.
 */
export async function webviewFrame(page: Page, selector: string, timeoutMs = 20_000): Promise<Frame> {
  return waitFor(`a webview frame with ${selector}`, timeoutMs, async () => {
    for (const frame of page.frames()) {
      if (frame === page.mainFrame()) continue;
      const handle = await frame.$(selector).catch(() => null);
      if (handle !== null) {
        await handle.dispose();
        return frame;
      }
    }
    return undefined;
  }, 300);
}

/** Text of the output channel `name`, read from the Output panel. */
export async function outputChannelText(page: Page, name: string): Promise<string> {
  await runCommand(page, 'Output: Show Output Channels...');
  await answerQuickInput(page, name);
  const editor = page.locator('.part.panel .output-view .view-lines');
  await editor.waitFor({ state: 'visible', timeout: 10_000 });
  await sleep(300);
  return (await editor.innerText()).replace(/\u00a0/g, ' ');
}

/** Lists the artifacts dir (the suite's summary prints it). */
export function artifacts(): string[] {
  return existsSync(artifactsDir) ? readdirSync(artifactsDir).sort() : [];
}

/** Switches the workbench to VS Code's Light Modern theme through the palette, as a user would. */
export async function switchToLightTheme(page: Page): Promise<void> {
  await runCommand(page, 'Preferences: Color Theme');
  await page.locator('.quick-input-widget input.input').fill('Light Modern');
  await page.locator('.quick-input-list .monaco-list-row', { has: page.locator('.label-name', { hasText: /^(Default )?Light Modern$/ }) }).first().click();
  await waitFor('the light theme', 15_000, async () => (await page.locator('.monaco-workbench.vs').count()) > 0);
}
