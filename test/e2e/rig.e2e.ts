// The rig's own test, with a throwaway extension built in a temp dir: install from a .vsix,
// activation, an activity-bar container, a palette command, an output channel and a webview.
// When a product suite fails, this one says whether the rig itself still works.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canaryFindings } from '../kit/driver';
import { outputChannelText, packageFolder, runCommand, startRig, waitFor, webviewFrame, type Rig } from '../kit/rig';

const probeManifest = {
  name: 'rig-probe',
  displayName: 'Rig Probe',
  publisher: 'reward-lens-tests',
  version: '0.0.1',
  engines: { vscode: '^1.100.0' },
  main: './extension.js',
  activationEvents: ['onStartupFinished'],
  contributes: {
    commands: [
      { command: 'rigProbe.hello', title: 'Say Hello', category: 'Rig Probe' },
      { command: 'rigProbe.pwn', title: 'Run Unsafe Webview', category: 'Rig Probe' },
    ],
    viewsContainers: { activitybar: [{ id: 'rigProbe', title: 'Rig Probe', icon: '$(beaker)' }] },
    views: { rigProbe: [{ id: 'rigProbe.items', name: 'Probe Items' }] },
  },
};

const probeSource = `
const vscode = require('vscode');
exports.activate = (context) => {
  const out = vscode.window.createOutputChannel('Rig Probe');
  out.appendLine('rig probe activated');
  context.subscriptions.push(out);
  context.subscriptions.push(vscode.window.registerTreeDataProvider('rigProbe.items', {
    getChildren: () => ['first probe item'],
    getTreeItem: (label) => new vscode.TreeItem(label),
  }));
  context.subscriptions.push(vscode.commands.registerCommand('rigProbe.hello', () => {
    const panel = vscode.window.createWebviewPanel('rigProbe.view', 'Probe Webview', vscode.ViewColumn.One, { enableScripts: false });
    panel.webview.html = '<!doctype html><html><body><h1 id="probe">hello from the probe</h1></body></html>';
    out.appendLine('hello command ran');
  }));
  // The canary's positive control: a webview that does exactly what a hostile trace must never do.
  context.subscriptions.push(vscode.commands.registerCommand('rigProbe.pwn', () => {
    const panel = vscode.window.createWebviewPanel('rigProbe.pwn', 'Unsafe Webview', vscode.ViewColumn.One, { enableScripts: true });
    panel.webview.html = '<!doctype html><html><body><p id="unsafe">unsafe</p><img src="x" onerror="console.log(\\'PWNED img\\')"><script>window.__pwned = "script"; console.log("PWNED script");</script></body></html>';
  }));
};
exports.deactivate = () => {};
`;

test('rig: a throwaway .vsix installs, activates, and its view, command, output and webview are reachable', { timeout: 120_000 }, async () => {
  const work = mkdtempSync(join(tmpdir(), 'rl-e2e-probe-'));
  let rig: Rig | undefined;
  try {
    const ext = join(work, 'probe');
    mkdirSync(ext);
    writeFileSync(join(ext, 'package.json'), JSON.stringify(probeManifest, null, 2));
    writeFileSync(join(ext, 'extension.js'), probeSource);
    writeFileSync(join(ext, 'README.md'), '# rig probe\n');
    const vsix = join(work, 'probe.vsix');
    packageFolder(ext, vsix);

    rig = await startRig({ name: 'rig', vsix, theme: 'dark' });
    const { page } = rig;
    const container = page.locator('.part.activitybar .action-item a[aria-label^="Rig Probe"]');
    await container.waitFor({ state: 'visible', timeout: 30_000 });
    await container.click();
    await page.locator('.part.sidebar .monaco-list-row', { hasText: 'first probe item' }).waitFor({ timeout: 15_000 });

    await runCommand(page, 'Rig Probe: Say Hello');
    const frame = await webviewFrame(page, '#probe');
    assert.equal((await frame.locator('#probe').textContent())?.trim(), 'hello from the probe');

    const output = await outputChannelText(page, 'Rig Probe');
    assert.match(output, /rig probe activated/);
    assert.match(output, /hello command ran/);
    // The canary check must not fire on a benign webview, or the hostile suite proves nothing.
    assert.deepEqual(await canaryFindings(page, rig.consoleLines), []);
    await rig.screenshot('rig-probe-dark');

    await runCommand(page, 'Rig Probe: Run Unsafe Webview');
    await webviewFrame(page, '#unsafe');
    const fired = await waitFor('the canaries to fire on the unsafe webview', 10_000, async () => {
      const found = await canaryFindings(page, rig!.consoleLines);
      return found.length >= 3 ? found : undefined;
    });
    assert.ok(fired.some((f) => f.startsWith('window.__pwned=script')), fired.join('\n'));
    assert.ok(fired.some((f) => f.startsWith('console:') && f.includes('PWNED')), fired.join('\n'));
    assert.ok(fired.some((f) => f.startsWith('inline handlers IMG[onerror]')), fired.join('\n'));
  } finally {
    await rig?.close();
    rmSync(work, { recursive: true, force: true });
  }
});
