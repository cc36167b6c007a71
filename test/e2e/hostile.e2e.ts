// Issue 5, safety: model output is hostile input (issue 18: with Markdown/LaTeX rendering on and
// off). A run whose traces, prompt, gold, teacher name, extracted answer and verdict reason carry
// script tags, event-handler attributes, javascript: links, CSS and LaTeX injection and bidi
// controls is ingested and opened in the inspector. Every
// payload must be visible as literal text, and the canaries (a __pwned global, document.title,
// console lines, navigation, inline handlers in the DOM) must show that no script ran.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HOSTILE_PAYLOADS, hostileRun, writeEvents } from './fixtures';
import { canaryFindings, ingest, inspectorFrame, openGroupFromTree, openStore } from '../kit/driver';
import { sleep, startRig, waitFor, type Rig } from '../kit/rig';

const work = mkdtempSync(join(tmpdir(), 'rl-e2e-hostile-'));
const db = join(work, 'hostile.db');
let rig: Rig | undefined;

before(async () => {
  writeEvents(join(work, 'events.jsonl'), hostileRun('hostile-run'));
  ingest(join(work, 'events.jsonl'), db);
  rig = await startRig({ name: 'hostile', folder: work, theme: 'dark', settings: { 'rewardLens.inspector.renderMarkdown': true } });
});
after(async () => {
  await rig?.close();
  rmSync(work, { recursive: true, force: true });
});

// The suite runs twice on one code-server: first with Markdown/LaTeX rendering on (from the
// setting, so the setting's path is the one tested), then with the inspector's toggle turned off.
for (const mode of ['rendered', 'raw'] as const) {
  test(`hostile traces render as literal text in the inspector and no payload runs (${mode === 'rendered' ? 'Markdown/LaTeX rendering on' : 'rendering off'})`, { timeout: 150_000 }, async () => {
    const page = rig!.page;
    let frame;
    if (mode === 'rendered') {
      await openStore(page, db);
      frame = await openGroupFromTree(page, /hostile-run/, /step 0|^0$/i, /hostile-prompt|Solve/);
      await waitFor('the renderer to load', 20_000, async () => (await frame!.locator('[data-testid=trace-body].rendered').count()) > 0);
      assert.equal(await frame.locator('[data-testid=render-toggle]').getAttribute('aria-pressed'), 'true', 'rewardLens.inspector.renderMarkdown turned it on');
    } else {
      frame = await inspectorFrame(page);
      await frame.locator('[data-testid=render-toggle]').click();
      await waitFor('the raw trace', 10_000, async () => (await frame!.locator('[data-testid=trace-body]:not(.rendered)').count()) > 0);
      assert.equal(await frame.locator('[data-testid=render-toggle]').getAttribute('aria-pressed'), 'false');
    }
    await sleep(1_000);

    // Open every fold so the reasoning text is laid out, then read what a person sees.
    for (const toggle of await frame.locator('[data-testid=think-toggle]').all()) await toggle.click().catch(() => undefined);
    await sleep(300);
    // textContent, not innerText: long traces render off-screen chunks with content-visibility,
    // which innerText skips. Text nodes are what matters here: a payload that became markup would
    // not be in them as its literal characters.
    const visible = (await frame.locator('body').textContent()) ?? '';
    const missingLiterals = HOSTILE_PAYLOADS.filter((p) => !visible.includes(p.literal)).map((p) => p.name);
    assert.deepEqual(missingLiterals, [], 'each payload is visible as its literal characters');
    assert.ok((await frame.locator('[data-testid=control-char]').count()) > 0, 'bidi controls are shown as marked, neutralised characters');
    if (mode === 'rendered') {
      assert.ok((await frame.locator('[data-testid=math-raw]').count()) > 0, 'maths asking for \\href is shown as its source, not rendered');
      const tags = await frame.$$eval('[data-testid=trace-body] *', (els) => [...new Set(els.map((e) => e.tagName.toLowerCase()))]);
      for (const bad of ['a', 'img', 'script', 'iframe', 'svg', 'style', 'b']) assert.ok(!tags.includes(bad), `no <${bad}> made from the text`);
    }

    const bodyStyle = await frame.evaluate(() => {
      const st = getComputedStyle(document.body);
      return { display: st.display, visibility: st.visibility };
    });
    assert.notEqual(bodyStyle.display, 'none', 'injected CSS did not hide the page');
    assert.notEqual(bodyStyle.visibility, 'hidden', 'injected CSS did not hide the page');
    await rig!.screenshot(`hostile-inspector-${mode}-dark`);

    // Walk every member (each renders its own trace) and hover over the text, where a live
    // onmouseover would fire; then check the canaries.
    const members = await frame.locator('[data-testid^=member-]').count();
    assert.ok(members >= 6, `all 6 members are listed (saw ${members})`);
    await frame.locator('[data-testid=member-0]').click();
    for (let i = 0; i < members; i += 1) {
      await page.keyboard.press('j');
      await sleep(150);
    }
    await frame.locator('body').hover();
    await frame.locator('[data-testid=trace]').hover();
    await sleep(500);
    const findings = await canaryFindings(page, rig!.consoleLines);
    assert.deepEqual(findings, [], 'no canary fired');
    const csp = rig!.consoleLines.filter((l) => /Content Security Policy|Refused to/.test(l));
    assert.deepEqual(csp, [], 'no CSP violation');
  });
}
