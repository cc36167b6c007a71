// The palette commands that read or fill the store: Open Run Store…, Import Rollouts…, Find
// Trajectories, Export Labels…. Long work shows progress, can be cancelled, and every error
// message says what to do next.
import * as vscode from 'vscode';
import { writeFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { ingestFile } from '../node/ingest';
import { importTrl, importVerl } from '../node/importers';
import { PROMPT_HIT_LIMIT, type PromptHit, type RunSummary, type SearchHit } from '../node/store/types';
import { SEARCH_SCAN_LIMIT } from '../node/store';
import { FILTER_KEYS, suggestFilters } from '../core/searchFilters';
import { storeGroupId, storeTrajectoryKey, type GroupId, type TrajectoryKey } from '../core/ids';
import { runIdArg } from './commandArgs';
import { exportLabelsJsonl, regressionCases } from '../node/reverify/regression';
import type { StoreHost } from './storeHost';
import { fmtPercent as pct } from '../core/format';
import { oneLine } from '../core/formatText';
import { settings, workspaceRoot } from './settings';
import { COMMANDS } from './commandRegistry';

export async function openStoreCommand(stores: StoreHost, arg?: unknown): Promise<void> {
  let path = typeof arg === 'string' ? arg : arg instanceof vscode.Uri ? arg.fsPath : undefined;
  if (!path) {
    const def = settings.storePath();
    const uris = await vscode.window.showOpenDialog({
      canSelectMany: false,
      openLabel: 'Open Run Store',
      title: 'Reward Lens: open a run store (.db)',
      defaultUri: def ? vscode.Uri.file(def) : undefined,
      filters: { 'Reward Lens store': ['db', 'sqlite', 'sqlite3'], 'All files': ['*'] },
    });
    path = uris?.[0]?.fsPath;
  }
  if (!path) return;
  try {
    const isFile = await stat(path).then((s) => s.isFile(), () => false);
    if (!isFile) {
      const pick = await vscode.window.showWarningMessage(`Reward Lens: ${path} does not exist. Create a new, empty run store there?`, { modal: false }, 'Create Store');
      if (pick !== 'Create Store') return;
    }
    const store = await stores.open(path);
    const runs = await store.listRuns();
    vscode.window.setStatusBarMessage(`Reward Lens: opened ${basename(path)} (${runs.length} run${runs.length === 1 ? '' : 's'})`, 5000);
  } catch (e) {
    void vscode.window.showErrorMessage(`Reward Lens: ${(e as Error).message}`);
  }
}

type ImportKind = 'events' | 'verl' | 'trl';

export async function importRolloutsCommand(stores: StoreHost, output: vscode.OutputChannel): Promise<void> {
  const items: Array<vscode.QuickPickItem & { source: ImportKind }> = [
    { label: '$(file) Reward Lens events.jsonl', description: 'protocol v1, from the Reward Lens trainer or your own logger', source: 'events' },
    { label: '$(folder) verl rollout folder', description: 'trainer.rollout_data_dir: one {step}.jsonl per step', source: 'verl' },
    { label: '$(folder) TRL completions folder', description: 'completions/completions_*.parquet written by GRPOTrainer', source: 'trl' },
  ];
  const pick = await vscode.window.showQuickPick(items, { title: 'Reward Lens: Import Rollouts…', placeHolder: 'What do you want to import?' });
  if (!pick) return;
  const kind = pick.source;
  const root = workspaceRoot();
  const uris = await vscode.window.showOpenDialog({
    canSelectMany: false,
    canSelectFiles: kind === 'events',
    canSelectFolders: kind !== 'events',
    openLabel: 'Import',
    title: pick.label.replace(/\$\([^)]*\)\s*/, ''),
    defaultUri: root ? vscode.Uri.file(root) : undefined,
    filters: kind === 'events' ? { 'Events (JSON Lines)': ['jsonl', 'json'], 'All files': ['*'] } : undefined,
  });
  const path = uris?.[0]?.fsPath;
  if (!path) return;
  let store = stores.get();
  if (!store) {
    const def = settings.storePath();
    if (!def) {
      void vscode.window.showErrorMessage('Reward Lens: no run store is open and no folder is open to create one in. Open a folder or a store ("Reward Lens: Open Run Store…") first.');
      return;
    }
    try {
      store = await stores.open(def);
    } catch (e) {
      void vscode.window.showErrorMessage(`Reward Lens: ${(e as Error).message}`);
      return;
    }
  }
  const target = store;
  await vscode.window.withProgress(
    // only the events.jsonl ingest can stop mid-file (and resume later); the folder importers run to the end
    { location: vscode.ProgressLocation.Notification, title: `Reward Lens: importing ${basename(path)}`, cancellable: kind === 'events' },
    async (progress, token) => {
      const ac = new AbortController();
      const sub = token.onCancellationRequested(() => ac.abort());
      try {
        let msg: string;
        let malformed: ReadonlyArray<{ file: string; line: number; reason: string }>;
        if (kind === 'events') {
          let lastPct = 0;
          const summary = await ingestFile(target, path, {
            signal: ac.signal,
            onProgress: (p) => {
              const now = p.fileSize ? Math.floor((100 * p.byteOffset) / p.fileSize) : 0;
              progress.report({ message: `${p.trajectories.toLocaleString()} trajectories, ${p.malformed} malformed lines`, increment: Math.max(0, now - lastPct) });
              lastPct = Math.max(lastPct, now);
            },
          });
          stores.publish(summary.changes);
          malformed = summary.malformed;
          msg = `imported ${summary.events.toLocaleString()} events (${summary.trajectories.toLocaleString()} trajectories, ${summary.duplicates} already stored)${summary.aborted ? ' before it was cancelled; importing the file again resumes where it stopped' : ''}`;
        } else {
          progress.report({ message: kind === 'verl' ? 'reading {step}.jsonl files…' : 'reading parquet files…' });
          const summary = kind === 'verl' ? await importVerl(target, path) : await importTrl(target, path);
          stores.publish(summary.changes);
          malformed = summary.malformed;
          msg = `imported run ${summary.runId} from ${summary.files} files (${summary.groups.toLocaleString()} groups, ${summary.trajectories.toLocaleString()} trajectories${summary.skippedFiles ? `, ${summary.skippedFiles} files already imported` : ''})`;
        }
        for (const m of malformed.slice(0, 50)) output.appendLine(`[import] ${m.file}:${m.line}: ${m.reason}`);
        if (malformed.length > 50) output.appendLine(`[import] … ${malformed.length - 50} more malformed lines`);
        if (malformed.length) {
          const choice = await vscode.window.showWarningMessage(`Reward Lens: ${msg}; ${malformed.length} malformed lines were skipped and recorded (FILE:LINE and the reason are in the Output channel).`, 'Show Output');
          if (choice) output.show();
        } else {
          void vscode.window.showInformationMessage(`Reward Lens: ${msg}.`);
        }
      } catch (e) {
        output.appendLine(`[import] ${path}: ${(e as Error).stack ?? (e as Error).message}`);
        void vscode.window.showErrorMessage(`Reward Lens: importing ${basename(path)} failed: ${(e as Error).message}. Check that it is the format you picked; details are in the "Reward Lens" Output channel.`);
      } finally {
        sub.dispose();
      }
    },
  );
}

/** Prompts matched by their text shown above the trajectory hits (the store returns up to PROMPT_HIT_LIMIT). */
const PROMPT_TEXT_SHOWN = 5;

/**
 * Find Trajectories: full-text search as you type, with filter tokens (core/searchFilters.ts) in
 * the same box. One list: completions for a filter being typed, then prompts (by id or by their
 * words; they open their newest group), then trajectory hits (the chosen one opens in the
 * inspector, or as a document with `asDocument`), then the filter keys a word could start.
 */
export async function findTrajectoriesCommand(
  stores: StoreHost,
  open: { group(groupId: GroupId, focusTrajectoryKey?: string): Promise<void>; document(trajectoryKey: TrajectoryKey): Promise<void> },
  asDocument = false,
): Promise<void> {
  const store = stores.get();
  if (!store) {
    const pick = await vscode.window.showErrorMessage('Reward Lens: no run store is open to search. Open one first.', 'Open Run Store…');
    if (pick) await vscode.commands.executeCommand(COMMANDS.openStore);
    return;
  }
  type Item = vscode.QuickPickItem & { hit?: SearchHit; prompt?: PromptHit; complete?: string };
  const qp = vscode.window.createQuickPick<Item>();
  const name = asDocument ? 'Open a trajectory as a document' : 'Find Trajectories';
  const placeholder = 'Words, "a phrase", prefix*, a OR b, a prompt id; filters: run: step:10-20 verdict: label: lint: source: prompt:';
  qp.title = `Reward Lens: ${name}`;
  qp.placeholder = placeholder;
  qp.matchOnDescription = true;
  qp.matchOnDetail = true;
  const filterButton: vscode.QuickInputButton = { iconPath: new vscode.ThemeIcon('filter'), tooltip: `Add a filter: ${FILTER_KEYS.map((k) => `${k.key}:`).join(' ')}` };
  qp.buttons = [filterButton];
  let seq = 0;
  let timer: NodeJS.Timeout | undefined;
  // Completions keep the quick pick open and only rewrite the box: typing stays the way to search.
  const completions = (v: string) => {
    const all = suggestFilters(v).map((s): Item => ({ label: `$(filter) ${s.label}`, description: s.hint, alwaysShow: true, complete: s.value }));
    // A value being typed (`verdict:w`) leads the list; key names a word may start (`ver`) trail it,
    // so Enter on an ordinary word still opens the first hit.
    return { values: all.filter((i) => !i.complete?.endsWith(':')), keys: all.filter((i) => i.complete?.endsWith(':')) };
  };
  const runSearch = (q: string) => {
    const mine = ++seq;
    const { values, keys } = completions(q);
    if (!q.trim()) {
      qp.items = keys;
      qp.busy = false;
      qp.title = `Reward Lens: ${name}`;
      return;
    }
    qp.busy = true;
    void store
      .search(q, 100, { isStale: () => mine !== seq })
      .then((res) => {
        if (mine !== seq) return;
        // the quick pick filters its own items by label too: alwaysShow keeps every hit visible
        // A common word matches many prompts' text; listed in full they would push every trajectory
        // hit out of view. Id matches all show; text matches five while there are trajectory hits.
        const textCap = res.hits.length ? PROMPT_TEXT_SHOWN : Infinity;
        let byText = 0;
        const shown = res.prompts.filter((p) => p.match === 'id' || byText++ < textCap);
        const prompts: Item[] = asDocument ? [] : shown.map((p) => ({
          label: `$(symbol-key) ${oneLine(p.promptId, 60)}`,
          description: `prompt ${p.match === 'id' ? 'id' : 'text'} · ${p.groups} group${p.groups === 1 ? '' : 's'} · newest: run ${oneLine(p.runId, 40)} · step ${p.step}`,
          detail: oneLine(p.snippet.map((s) => s.text).join(''), 160),
          alwaysShow: true,
          prompt: p,
        }));
        const hits: Item[] = res.hits.map((hit) => ({
          label: oneLine(hit.snippet.map((p) => p.text).join(''), 120) || hit.trajectoryId,
          description: `${hit.verdict} · ${hit.source} · run ${oneLine(hit.runId, 40)} · step ${hit.step}`,
          detail: `${hit.trajectoryId} · prompt ${oneLine(hit.promptId, 40)}`,
          alwaysShow: true,
          hit,
        }));
        const sep = (label: string, items: Item[]): Item[] => (items.length ? [{ label, kind: vscode.QuickPickItemKind.Separator }, ...items] : []);
        qp.items = [...values, ...sep('prompts', prompts), ...sep('trajectories', hits), ...sep('filters', keys)];
        qp.placeholder = res.fellBackToPhrase ? `Searched as the phrase ${res.query} (not valid FTS5 syntax)` : placeholder;
        const more = prompts.length < res.prompts.length && !asDocument ? ` of ${res.prompts.length}${res.prompts.length === PROMPT_HIT_LIMIT ? '+' : ''}` : '';
        const count = `${prompts.length ? `${prompts.length}${more} prompt${res.prompts.length === 1 ? '' : 's'}, ` : ''}${res.hits.length}${res.hits.length === 100 ? '+' : ''} hits`;
        qp.title = res.problems.length
          ? `${name}: ${res.problems.join(' · ')}`
          : `${name}: ${count}${res.ranked ? '' : ' (too many matches to rank: newest first)'}${res.partial ? ` (a phrase checked in the newest ${SEARCH_SCAN_LIMIT.toLocaleString('en-US')} texts holding its words: older matches may exist)` : ''}`;
      })
      .catch((e: Error) => {
        if (mine === seq) qp.title = `Search failed: ${e.message}`;
      })
      .finally(() => {
        if (mine === seq) qp.busy = false;
      });
  };
  qp.onDidChangeValue((v) => {
    clearTimeout(timer);
    timer = setTimeout(() => runSearch(v), 150);
  });
  qp.onDidTriggerButton(() => {
    // A trailing space makes the next token empty: every filter key is offered.
    qp.value = qp.value && !/\s$/.test(qp.value) ? `${qp.value} ` : qp.value;
    runSearch(qp.value);
  });
  qp.onDidAccept(async () => {
    const sel = qp.selectedItems[0] ?? qp.activeItems[0];
    if (!sel) return;
    if (sel.complete !== undefined) {
      qp.value = sel.complete;
      runSearch(sel.complete);
      return;
    }
    qp.hide();
    if (sel.prompt) await open.group(storeGroupId(sel.prompt.groupId));
    else if (sel.hit && asDocument) await open.document(storeTrajectoryKey(sel.hit.trajectoryKey));
    else if (sel.hit) await open.group(storeGroupId(sel.hit.groupId), String(sel.hit.trajectoryKey));
  });
  qp.onDidHide(() => {
    clearTimeout(timer);
    qp.dispose();
  });
  runSearch('');
  qp.show();
}

/** Export Labels…: the current correct/wrong labels as JSON Lines for `python -m reward_lens.verify --test FILE`. */
export async function exportLabelsCommand(stores: StoreHost, runId: string | undefined): Promise<void> {
  const store = stores.get();
  if (!store) {
    void vscode.window.showErrorMessage('Reward Lens: no run store is open. Open one with "Reward Lens: Open Run Store…", then export its labels.');
    return;
  }
  const runs = await store.listRuns();
  type Scope = vscode.QuickPickItem & { runId: string | undefined };
  const scopes: Scope[] = [{ label: '$(database) All runs', description: `${runs.length} runs`, runId: undefined }];
  for (const r of sortRuns(runs)) scopes.push({ label: `$(pulse) ${r.runId}`, description: `${r.variant} · ${r.status} · acc ${pct(r.accuracy)}`, runId: r.runId, picked: r.runId === runId });
  const scope = runs.length > 1 ? await vscode.window.showQuickPick(scopes, { title: 'Reward Lens: Export Labels…', placeHolder: 'Export the labels of…' }) : scopes[0];
  if (!scope) return;
  const cases = await regressionCases(store, scope.runId);
  if (!cases.length) {
    void vscode.window.showInformationMessage('Reward Lens: there are no correct/wrong labels to export yet. Relabel members in the inspector with c (correct) and w (wrong).');
    return;
  }
  const root = workspaceRoot();
  const uri = await vscode.window.showSaveDialog({
    defaultUri: root ? vscode.Uri.file(join(root, `labels${scope.runId ? `-${scope.runId.replace(/[^\w.-]+/g, '_')}` : ''}.jsonl`)) : undefined,
    filters: { 'JSON Lines': ['jsonl'] },
    title: 'Export labels for `python -m reward_lens.verify --test FILE`',
  });
  if (!uri) return;
  try {
    await writeFile(uri.fsPath, exportLabelsJsonl(cases));
  } catch (e) {
    void vscode.window.showErrorMessage(`Reward Lens: cannot write ${uri.fsPath}: ${(e as Error).message}. Pick a writable location.`);
    return;
  }
  const pick = await vscode.window.showInformationMessage(`Reward Lens: exported ${cases.length} labels to ${basename(uri.fsPath)}. Test a verifier with: python -m reward_lens.verify --test ${basename(uri.fsPath)}`, 'Open File');
  if (pick) await vscode.window.showTextDocument(uri);
}

export function sortRuns(runs: readonly RunSummary[]): RunSummary[] {
  return [...runs].sort((a, b) => (b.startedAt ?? '').localeCompare(a.startedAt ?? ''));
}

/** A run id from a command argument (tree node, string) or a quick pick over the store's runs. */
export async function pickRun(stores: StoreHost, arg: unknown, preferred: string | undefined, title: string): Promise<string | undefined> {
  const given = runIdArg(arg);
  if (given) return given;
  const store = stores.get();
  if (!store) {
    const pick = await vscode.window.showErrorMessage('Reward Lens: no run store is open. Open one, or start a training run.', 'Open Run Store…', 'Start Training Run');
    if (pick === 'Open Run Store…') await vscode.commands.executeCommand(COMMANDS.openStore);
    else if (pick === 'Start Training Run') await vscode.commands.executeCommand(COMMANDS.startTraining);
    return undefined;
  }
  const runs = sortRuns(await store.listRuns());
  if (!runs.length) {
    void vscode.window.showInformationMessage('Reward Lens: the open store has no runs yet. Start a training run or import rollouts.');
    return undefined;
  }
  if (preferred && runs.some((r) => r.runId === preferred)) return preferred;
  if (runs.length === 1) return runs[0]?.runId;
  const pick = await vscode.window.showQuickPick(
    runs.map((r) => ({ label: r.runId, description: `${r.variant} · ${r.status} · step ${r.lastStep ?? '—'} · acc ${pct(r.accuracy)}`, runId: r.runId })),
    { title },
  );
  return pick?.runId;
}
