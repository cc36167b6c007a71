// A trajectory as a read-only text document (reward-lens:/trajectory/<key>/<id>.txt) with inline
// decorations: the reward summary after the header, a margin bar and the mean token entropy per
// paragraph, and hovers with the full reward breakdown. The text is the model's output verbatim;
// a text document cannot run it, and VS Code itself flags bidi controls in it.
import * as vscode from 'vscode';
import type { StoredTrajectory } from '../node/store/types';
import type { StoreHost } from './storeHost';
import { SUMMARY_LINE, breakdownRows, marginText, renderTrajectory, summaryDecorationText, summaryText, type Paragraph, type RenderedTrajectory } from './inline/render';
import { fmtCompact as num } from '../core/format';
import { mdEscape } from '../core/formatText';
import { resolveFormat } from '../core/reasoning';
import { explainAdvantage, explainROger, explainRTotal, type GroupFacts, type MemberFacts } from '../core/explain';
import type { GroupDetail } from '../node/store/types';
import { settings } from './settings';

export const TRAJECTORY_SCHEME = 'reward-lens';
/** The document's language: plain text with word wrap on (package.json configurationDefaults). */
export const TRAJECTORY_LANGUAGE = 'reward-lens-trajectory';

interface Loaded {
  traj: StoredTrajectory;
  gold: string | null;
  group: GroupDetail | null;
  rendered: RenderedTrajectory;
}

/** The formula rows of the hover: R_OGER, R_total and A with this trajectory's numbers. */
function formulas(t: StoredTrajectory, g: GroupDetail | null) {
  if (!g) return [];
  const e = t.event;
  const inFinal = (x: StoredTrajectory) => (x.event.source === 'online' ? x.event.replaced !== true : x.event.inserted === true);
  const finalRewards = g.trajectories.filter(inFinal).map((x) => x.event.r_total).filter((v): v is number => typeof v === 'number');
  const facts: MemberFacts = {
    source: e.source, verdict: e.verdict, divergence: e.divergence ?? null, entropyLast: e.entropy_last ?? null, rOger: e.r_oger ?? null,
    rTotal: e.r_total ?? null, advantage: e.advantage ?? null, replaced: e.replaced === true, inFinalGroup: inFinal(t),
  };
  const group: GroupFacts = { variant: g.variant, advantage: g.reward.advantage, finalRewards };
  return [explainROger(facts, group), explainRTotal(facts, group), explainAdvantage(facts, group)];
}

export function trajectoryUri(trajectoryKey: number, trajectoryId: string): vscode.Uri {
  const safe = trajectoryId.replace(/[^\w.-]+/g, '_').slice(0, 80) || 'trajectory';
  return vscode.Uri.from({ scheme: TRAJECTORY_SCHEME, path: `/trajectory/${trajectoryKey}/${safe}.txt` });
}

export function keyOfUri(uri: vscode.Uri): number | null {
  const m = uri.path.match(/^\/trajectory\/(\d+)\//);
  return m ? Number(m[1]) : null;
}

export class TrajectoryDocuments implements vscode.TextDocumentContentProvider, vscode.HoverProvider, vscode.FoldingRangeProvider, vscode.Disposable {
  private readonly loaded = new Map<string, Loaded>();
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  private readonly subs: vscode.Disposable[] = [];
  private readonly summaryType = vscode.window.createTextEditorDecorationType({
    after: { color: new vscode.ThemeColor('rewardLens.inlineSummaryForeground'), margin: '0 0 0 2em', fontStyle: 'italic' },
  });
  private readonly levelTypes: Record<NonNullable<Paragraph['level']>, vscode.TextEditorDecorationType>;

  constructor(private readonly stores: StoreHost) {
    const bar = (color: string) =>
      vscode.window.createTextEditorDecorationType({
        isWholeLine: true,
        borderWidth: '0 0 0 3px',
        borderStyle: 'solid',
        borderColor: new vscode.ThemeColor(color),
        overviewRulerColor: new vscode.ThemeColor(color),
        overviewRulerLane: vscode.OverviewRulerLane.Left,
        after: { color: new vscode.ThemeColor(color), margin: '0 0 0 2em' },
      });
    this.levelTypes = { low: bar('rewardLens.entropyLow'), mid: bar('rewardLens.entropyMid'), high: bar('rewardLens.entropyHigh') };
    this.subs.push(
      vscode.window.onDidChangeVisibleTextEditors((eds) => eds.forEach((e) => this.decorate(e))),
      // labels change the breakdown; stores change what the key means
      stores.onDidOpen(() => {
        this.loaded.clear();
      }),
    );
  }

  /** Opens a trajectory in `column` (the inspector's, when it asks; else beside), with word wrap and its reasoning foldable. */
  async open(trajectoryKey: number, column: vscode.ViewColumn = vscode.ViewColumn.Beside): Promise<void> {
    const store = this.stores.get();
    if (!store) {
      void vscode.window.showErrorMessage('Reward Lens: no run store is open. Open one with "Reward Lens: Open Run Store…".');
      return;
    }
    const traj = await store.getTrajectory(trajectoryKey);
    if (!traj) {
      void vscode.window.showErrorMessage(`Reward Lens: trajectory ${trajectoryKey} is not in the open store ${this.stores.path ?? ''}. Search for it with "Reward Lens: Find Trajectories".`);
      return;
    }
    const uri = trajectoryUri(trajectoryKey, traj.event.id);
    this.loaded.delete(uri.toString());
    let doc = await vscode.workspace.openTextDocument(uri);
    if (doc.languageId !== TRAJECTORY_LANGUAGE) doc = await vscode.languages.setTextDocumentLanguage(doc, TRAJECTORY_LANGUAGE);
    const editor = await vscode.window.showTextDocument(doc, { preview: true, viewColumn: column });
    this.decorate(editor);
  }

  /** Re-reads an open document (after a relabel). */
  refresh(trajectoryKey: number): void {
    for (const key of [...this.loaded.keys()]) {
      const uri = vscode.Uri.parse(key);
      if (keyOfUri(uri) === trajectoryKey) {
        this.loaded.delete(key);
        this.changed.fire(uri);
      }
    }
  }

  private async load(uri: vscode.Uri): Promise<Loaded | null> {
    const hit = this.loaded.get(uri.toString());
    if (hit) return hit;
    const key = keyOfUri(uri);
    const store = this.stores.get();
    if (key === null || !store) return null;
    const traj = await store.getTrajectory(key);
    if (!traj) return null;
    const group = await store.getGroup(traj.groupId);
    const format = resolveFormat(settings.reasoningFormat(), null, () => (group?.trajectories ?? [traj]).map((x) => (typeof x.event.text === 'string' ? x.event.text : '')));
    const rendered = renderTrajectory(traj.event, { runId: traj.runId, step: traj.step, promptId: traj.promptId }, format);
    const loaded: Loaded = { traj, gold: group?.gold ?? null, group, rendered };
    this.loaded.set(uri.toString(), loaded);
    return loaded;
  }

  async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    try {
      const l = await this.load(uri);
      if (l) return l.rendered.content;
      return this.stores.get()
        ? `This trajectory is not in the open run store (${this.stores.path ?? ''}).\nFind it with "Reward Lens: Find Trajectories", or open the store that holds it with "Reward Lens: Open Run Store…".`
        : 'No run store is open.\nOpen one with "Reward Lens: Open Run Store…", then reopen this trajectory.';
    } catch (e) {
      return `Cannot read this trajectory: ${(e as Error).message}\nReopen the store with "Reward Lens: Open Run Store…" and try again.`;
    }
  }

  private decorate(editor: vscode.TextEditor): void {
    if (editor.document.uri.scheme !== TRAJECTORY_SCHEME) return;
    const l = this.loaded.get(editor.document.uri.toString());
    if (!l) {
      // the content is still loading: decorate when it is there
      void this.load(editor.document.uri).then((x) => x && this.decorate(editor));
      return;
    }
    const lineEnd = (line: number) => editor.document.lineAt(Math.min(line, editor.document.lineCount - 1)).range.end;
    editor.setDecorations(this.summaryType, [
      { range: new vscode.Range(lineEnd(SUMMARY_LINE), lineEnd(SUMMARY_LINE)), renderOptions: { after: { contentText: summaryDecorationText(l.traj.event) } } },
    ]);
    const byLevel: Record<string, vscode.DecorationOptions[]> = { low: [], mid: [], high: [] };
    for (const p of l.rendered.paragraphs) {
      if (!p.level || p.line >= editor.document.lineCount) continue;
      for (let line = p.line; line <= p.endLine && line < editor.document.lineCount; line++) {
        // the range ends at the line's end so the `after` text sits behind the text, not before it
        const range = new vscode.Range(line, 0, line, editor.document.lineAt(line).range.end.character);
        byLevel[p.level]?.push(line === p.line ? { range, renderOptions: { after: { contentText: marginText(p) } } } : { range });
      }
    }
    for (const level of ['low', 'mid', 'high'] as const) editor.setDecorations(this.levelTypes[level], byLevel[level] ?? []);
  }

  async provideHover(doc: vscode.TextDocument, pos: vscode.Position): Promise<vscode.Hover | null> {
    const l = await this.load(doc.uri);
    if (!l) return null;
    // labels and verdicts change while the document is open (relabels in the inspector): read them fresh
    const t = (await this.stores.get()?.getTrajectory(l.traj.trajectoryKey).catch(() => null)) ?? l.traj;
    if (pos.line < l.rendered.headerLines) {
      const rows = breakdownRows(t.event, {
        gold: l.gold,
        lints: t.lints,
        label: t.label.current ? `${t.label.current.label} by ${t.label.current.author}` : null,
        notes: t.label.notes.map((n) => n.note ?? '').filter(Boolean),
        formulas: formulas(t, l.group),
      }, l.rendered.meanEntropy);
      const md = new vscode.MarkdownString(`**Reward breakdown** · ${mdEscape(t.event.id)}\n\n| | |\n|---|---|\n${rows.map(([k, v]) => `| ${mdEscape(k)} | ${mdEscape(v)} |`).join('\n')}\n`);
      md.isTrusted = false;
      return new vscode.Hover(md, doc.lineAt(pos.line).range);
    }
    const p = l.rendered.paragraphs.find((x) => pos.line >= x.line && pos.line <= x.endLine);
    if (!p) {
      const md = new vscode.MarkdownString(mdEscape(summaryText(t.event)));
      md.isTrusted = false;
      return new vscode.Hover(md);
    }
    const text = p.meanEntropy === null
      ? 'No token entropies were logged in this paragraph (the trainer samples them every `stride` tokens).'
      : `**Paragraph entropy** · mean ${num(p.meanEntropy, 3)} nats, max ${num(p.maxEntropy, 3)} over ${p.tokens} sampled token${p.tokens === 1 ? '' : 's'} (${p.level} for this trajectory; whole trajectory ${num(l.rendered.meanEntropy, 3)})\n\n${mdEscape(summaryText(t.event))}`;
    const md = new vscode.MarkdownString(text);
    md.isTrusted = false;
    return new vscode.Hover(md, new vscode.Range(p.line, 0, p.endLine, doc.lineAt(Math.min(p.endLine, doc.lineCount - 1)).range.end.character));
  }

  /** The reasoning block folds (by the run's format). */
  async provideFoldingRanges(doc: vscode.TextDocument): Promise<vscode.FoldingRange[]> {
    const l = await this.load(doc.uri).catch(() => null);
    if (!l) return [];
    return l.rendered.folds.filter((f) => f.end < doc.lineCount).map((f) => new vscode.FoldingRange(f.start, f.end, vscode.FoldingRangeKind.Region));
  }

  dispose(): void {
    this.subs.forEach((s) => s.dispose());
    this.changed.dispose();
    this.summaryType.dispose();
    Object.values(this.levelTypes).forEach((t) => t.dispose());
  }
}
