// The pure half of the in-editor audit / what-if commands: which scope a tree node or argument
// means, what the scope quick pick offers, and the Markdown report (escaping hostile trainer data).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RunAudit } from '../../src/node/audit/audit';
import { quantiles } from '../../src/node/audit/audit';
import { MAX_REPORT_ROWS, describeScope, mdInline, fmtDelta, formatReport, groupLinks, scopeChoices, scopeFromArgument, summarize } from '../../src/extension/encoder/report';

const groupNode = { kind: 'group', group: { groupId: 42, runId: 'run-a', step: 3, promptId: 'p-7', promptPreview: 'x', trajectoryCount: 6 } };
const stepNode = { kind: 'step', runId: 'run-a', step: { step: 3, groupCount: 4 } };
const runNode = { kind: 'run', run: { runId: 'run-a', status: 'finished' } };

test('scope from a Runs tree node, a group row id, or a plain object', () => {
  assert.deepEqual(scopeFromArgument(groupNode), { runId: 'run-a', groupId: 42 });
  assert.deepEqual(scopeFromArgument(stepNode), { runId: 'run-a', step: 3 });
  assert.deepEqual(scopeFromArgument(runNode), { runId: 'run-a' });
  // rewardLens.openGroup takes the group row id as a string; the same argument works here
  assert.deepEqual(scopeFromArgument('42'), { groupId: 42 });
  assert.deepEqual(scopeFromArgument(7), { groupId: 7 });
  assert.deepEqual(scopeFromArgument({ runId: 'r', step: '2' }), { runId: 'r', step: 2 });
  assert.deepEqual(scopeFromArgument({ groupId: 5 }), { groupId: 5 });
});

test('scope: anything malformed means "ask", never a wrong scope', () => {
  for (const bad of [undefined, null, '', 'abc', '-1', '1.5', -3, 2.5, Number.NaN, [], {}, { kind: 'message', text: 'x' }, { kind: 'group', group: { groupId: -1 } },
    { kind: 'step', runId: 'r', step: { step: 'x' } }, { step: 3 }, { runId: 5 }, { runId: '' }, { runId: 'r', groupId: 'x' }, { runId: 'r', step: -1 }, '1e3', '99999999999999999999']) {
    assert.equal(scopeFromArgument(bad), undefined, `argument ${JSON.stringify(bad)}`);
  }
});

test('scope choices: the tree selection first, then the active run, a step of it, another run', () => {
  const withGroup = scopeChoices(groupNode, 'run-a');
  assert.deepEqual(withGroup.map((c) => c.label), ['Selected group: prompt p-7, step 3', 'Whole run run-a', 'One step of run run-a…', 'Another run…']);
  assert.deepEqual(withGroup[0]?.scope, { runId: 'run-a', groupId: 42 });
  assert.deepEqual(withGroup[2]?.ask, { kind: 'step', runId: 'run-a' });
  // a selected run that is the active run is not offered twice
  assert.deepEqual(scopeChoices(runNode, 'run-a').map((c) => c.label), ['Selected run run-a', 'One step of run run-a…', 'Another run…']);
  assert.deepEqual(scopeChoices(undefined, undefined).map((c) => c.ask), [{ kind: 'run' }]);
  // a hostile run id stays one line in the quick pick
  assert.equal(scopeChoices(undefined, 'a\nb\u202ec')[0]?.label, 'Whole run a b c');
});

test('scope descriptions', () => {
  assert.equal(describeScope({ runId: 'r' }), 'run r');
  assert.equal(describeScope({ runId: 'r', step: 4 }), 'step 4 of run r');
  assert.equal(describeScope({ runId: 'r', groupId: 9 }, 'p-1'), 'group 9 (prompt p-1)');
});

const HOSTILE = 'evil](command:workbench.action.terminal.new)<img src=x onerror=alert(1)>|`x`\n# heading';

function audit(over: Partial<RunAudit> = {}): RunAudit {
  const deltas = [0.002, -0.0005, 0];
  return {
    runId: 'run-a',
    mode: 'audit',
    runEncoder: { id: 'encoders/minilm', strategy: 'truncate', pooling: 'mean', max_length: 256 },
    encoder: {
      dir: '/enc/minilm',
      fingerprint: 'abcdef0123456789abcdef',
      settings: { pooling: 'mean', maxLength: 256, strategy: 'truncate', normalize: true },
      sourceModelId: 'all-MiniLM-L6-v2',
      matchesRun: true,
      warnings: [],
    },
    skipped: null,
    tolerance: 1e-3,
    groups: 2,
    trajectories: 12,
    embedded: 10,
    cached: 2,
    divergence: {
      compared: 3,
      notLogged: 1,
      flags: [{ runId: 'run-a', step: 3, groupId: 42, promptId: 'p|7', trajectoryId: HOSTILE, trajectoryKey: 1001, logged: 0.25, recomputed: 0.252, delta: 0.002 }],
      maxAbsDelta: 0.002,
      deltaD: quantiles(deltas),
    },
    whatIf: { groups: 2, replacementChanged: 0, signFlips: 0, deltaR: quantiles([0, 0.001]), changedGroups: [] },
    errors: [],
    ...over,
  };
}

test('audit report: names the trajectory and both D values; hostile ids cannot inject links, HTML, rows or headings', () => {
  const md = formatReport([audit()], { mode: 'audit', scopeText: 'run run-a', at: '2026-01-01T00:00:00.000Z', seconds: 1.25 });
  assert.match(md, /^# Divergence audit: run run-a$/m);
  assert.match(md, /### Divergences beyond the tolerance: 1/);
  const row = md.split('\n').find((l) => l.startsWith('| 3 | 42 |'));
  assert.ok(row, md);
  assert.match(row, /\| 0\.250000 \| 0\.252000 \| \+0\.0020 \|$/);
  // the id is on the row, every markdown-active character escaped, the newline flattened
  assert.ok(row.includes('evil\\](command:workbench.action.terminal.new)\\<img src=x onerror=alert(1)\\>\\|\\`x\\` # heading'), row);
  assert.ok(!/[^\\]\]\(command:/.test(md), 'no live command link');
  assert.ok(!/[^\\]<img/.test(md), 'no raw HTML');
  assert.ok(!md.split('\n').some((l) => l.startsWith('# heading')), 'no injected heading');
  // a pipe inside the prompt id does not add a column: 7 unescaped separators + 1 = 8 pipes per row
  assert.equal(row.replace(/\\\|/g, '').split('|').length - 1, 8);
  // the audit section does not carry a what-if section when the run's own encoder was used
  assert.ok(!md.includes('What changes'));
});

test('what-if report: replacement changes, sign flips, ΔR quantiles and the changed groups', () => {
  const w = audit({
    mode: 'what-if',
    whatIf: {
      groups: 5,
      replacementChanged: 2,
      signFlips: 3,
      deltaR: quantiles([-0.1, 0, 0.05, 0.2]),
      changedGroups: [
        { groupId: 8, step: 1, promptId: 'p<1>', replacedBefore: ['on-1'], replacedAfter: [HOSTILE], signFlips: 1 },
        { groupId: 9, step: 2, promptId: 'p2', replacedBefore: ['on-3'], replacedAfter: ['on-3'], signFlips: 2 },
      ],
    },
  });
  const md = formatReport([w], { mode: 'what-if', scopeText: 'step 1 of run run-a', at: 't', seconds: 0 });
  assert.match(md, /- Replacement choices changed: 2/);
  assert.match(md, /- Advantage signs flipped: 3/);
  assert.match(md, /\| 4 \| −0\.1000 \| −0\.0850 \| −0\.0250 \| \+0\.0250 \| \+0\.0875 \| \+0\.1775 \| \+0\.2000 \| \+0\.0375 \|/);
  assert.match(md, /\| 1 \| 8 \| p\\<1\\> \| on-1 \| evil\\\]/);
  const s = summarize([w], 'what-if');
  assert.equal(s.text, 'Reward Lens: what-if over 5 groups: 2 replacement choices changed, 3 advantage signs flipped, median ΔR_total +0.0250.');
  const one = audit({ mode: 'what-if', whatIf: { groups: 1, replacementChanged: 0, signFlips: 0, deltaR: null, changedGroups: [] } });
  assert.equal(summarize([one], 'what-if').text, 'Reward Lens: what-if over 1 group: 0 replacement choices changed, 0 advantage signs flipped.');
  assert.deepEqual(groupLinks([one], 'what-if'), [], 'nothing changed: nothing to open');
  const links = groupLinks([w], 'what-if');
  assert.deepEqual(links.map((l) => l.groupId), [8, 9]);
  assert.ok(!links[0]?.description.includes('\n'));
  assert.match(links[1]?.description ?? '', /same replacement · 2 sign flip/);
});

test('summary and links of an audit; skipped runs; long flag lists are cut', () => {
  const a = audit();
  assert.deepEqual(summarize([a], 'audit'), { severity: 'warning', text: 'Reward Lens: 1 of 3 divergences differ from the logged D by more than 0.001 (max |ΔD| 0.0020).' });
  const clean = audit({ divergence: { ...a.divergence, flags: [], maxAbsDelta: 2e-5 } });
  assert.equal(summarize([clean], 'audit').severity, 'info');
  assert.match(summarize([clean], 'audit').text, /0 of 3 .* \(max \|ΔD\| 2\.00e-5\)/);
  assert.deepEqual(groupLinks([a], 'audit'), [{ groupId: 42, focus: '1001', label: 'Group 42: prompt p|7', description: `step 3 · ${'evil](command:workbench.action.terminal.new)<img src=x onerror=alert(1)>|`x` # heading'.slice(0, 59)}…: D logged 0.250000, recomputed 0.252000` }]);

  const skipped = audit({ skipped: 'variant grpo logs no divergence (no encoder)', encoder: null });
  assert.match(summarize([skipped], 'audit').text, /nothing was audited: variant grpo/);
  assert.match(formatReport([skipped], { mode: 'audit', scopeText: 'run run-a', at: 't', seconds: 0 }), /Not audited: variant grpo logs no divergence \(no encoder\)/);

  const many = Array.from({ length: MAX_REPORT_ROWS + 7 }, (_, i) => ({ ...a.divergence.flags[0]!, groupId: i, trajectoryId: `t${i}` }));
  const md = formatReport([audit({ divergence: { ...a.divergence, flags: many } })], { mode: 'audit', scopeText: 'r', at: 't', seconds: 0 });
  assert.equal(md.split('\n').filter((l) => /^\| 3 \| \d+ \|/.test(l)).length, MAX_REPORT_ROWS);
  assert.match(md, /… and 7 more \(not listed\)\./);
});

test('deltas: signed, exponent for tiny values, never NaN text for finite input', () => {
  assert.equal(fmtDelta(0), '0');
  assert.equal(fmtDelta(-0.25), '−0.2500');
  assert.equal(fmtDelta(3e-5), '+3.00e-5');
  assert.equal(fmtDelta(Number.NaN), 'NaN');
});

test('inline escaping: links, images, HTML, entities, emphasis, code and strikethrough stay literal', () => {
  assert.equal(mdInline('![x](javascript:alert(1))'), '!\\[x\\](javascript:alert(1))');
  assert.equal(mdInline('&lt;script&gt; <b>**bold**</b> ~~s~~ `c` a_b \\'), '\\&lt;script\\&gt; \\<b\\>\\*\\*bold\\*\\*\\</b\\> \\~\\~s\\~\\~ \\`c\\` a\\_b \\\\');
  // plain ids, numbers and dates stay readable in the editor
  assert.equal(mdInline('g1-on2 2026-01-01T00:00:00.000Z p.7'), 'g1-on2 2026-01-01T00:00:00.000Z p.7');
});
