// Start Training Run / Stop Run: pick or create a config, validate it with the backend, launch the
// trainer under the supervisor with its log in the Output channel, and ingest its events live.
import * as vscode from 'vscode';
import { mkdir, readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Supervisor, closeRunIfOpen, type SupervisorExit, type SupervisorIssue } from '../../node/supervisor';
import { runProcess } from '../../node/backendSetup';
import type { Backend, BackendPython } from '../backend';
import type { StoreHost } from '../storeHost';
import { settings } from '../settings';
import { finalStatusOfExit, type FinalStatus } from './trainerRow';

export type TrainingState = 'starting' | 'running' | 'stopping';

interface ActiveTraining {
  supervisor: Supervisor;
  runDir: string;
  eventsFile: string;
  configPath: string;
  runId: string | undefined;
  state: TrainingState;
  /** set when the run's run_end was ingested: the run is over even if the process still checkpoints */
  ended?: FinalStatus;
}

/** The trainer this window ran last, after its process exited. */
export interface FinishedTraining {
  runId: string | undefined;
  runDir: string;
  status: FinalStatus;
}

export class TrainingController implements vscode.Disposable {
  private current: ActiveTraining | undefined;
  private last: FinishedTraining | undefined;
  private readonly stateChanged = new vscode.EventEmitter<void>();
  readonly onDidChangeState = this.stateChanged.event;
  private readonly subs: vscode.Disposable[] = [];

  constructor(
    private readonly backend: Backend,
    private readonly stores: StoreHost,
    private readonly output: vscode.OutputChannel,
    private readonly openDashboard: (runId: string) => Promise<void>,
  ) {
    this.subs.push(
      // the Runs tree shows its inline Stop button only while this window trains
      this.onDidChangeState(() => void vscode.commands.executeCommand('setContext', 'rewardLens.training', this.current !== undefined)),
      stores.onDidIngest((changes) => {
        const cur = this.current;
        if (!cur) return;
        if (!cur.runId) {
          const started = changes.find((c) => c.runStarted);
          if (started) {
            cur.runId = started.runId;
            this.stateChanged.fire();
          }
        }
        const ended = cur.runId !== undefined && changes.some((c) => c.runId === cur.runId && c.runEnded);
        if (ended && !cur.ended) void this.onRunEnded(cur);
      }),
    );
  }

  get active(): { runId: string | undefined; state: TrainingState; runDir: string; ended: FinalStatus | undefined } | undefined {
    const c = this.current;
    return c ? { runId: c.runId, state: c.state, runDir: c.runDir, ended: c.ended } : undefined;
  }

  /** The last trainer of this window once its process exited (until another one starts). */
  get finished(): FinishedTraining | undefined {
    return this.current ? undefined : this.last;
  }

  /** run_end was ingested: show the run as finished with the status it logged. */
  private async onRunEnded(cur: ActiveTraining): Promise<void> {
    const run = cur.runId ? await this.stores.get()?.getRun(cur.runId).catch(() => null) : null;
    const status = run?.status;
    cur.ended = status === 'completed' || status === 'stopped' || status === 'failed' ? status : 'completed';
    this.stateChanged.fire();
  }

  /** Start Training Run. `configArg` (a path or Uri) skips the picker: for the explorer menu and scripted use. */
  async start(configArg?: unknown): Promise<void> {
    if (this.current) {
      const pick = await vscode.window.showWarningMessage(`Reward Lens: a training run is already running (${this.current.runId ?? basename(this.current.runDir)}). Stop it before starting another.`, 'Stop Run');
      if (pick === 'Stop Run') await this.stop();
      return;
    }
    const runsDir = settings.runsDirectory();
    const storePath = settings.storePath();
    if (!runsDir || !storePath) {
      const pick = await vscode.window.showErrorMessage('Reward Lens: open a folder first. Runs and their store are kept under <folder>/.reward-lens/ (or set rewardLens.runsDirectory and rewardLens.storePath to absolute paths).', 'Open Folder…');
      if (pick) await vscode.commands.executeCommand('vscode.openFolder');
      return;
    }
    const py = await this.backend.ensure();
    if (!py) return;
    const configPath = configArgPath(configArg) ?? (await this.pickConfig(py));
    if (!configPath) return;
    if (!(await this.validate(py, configPath))) return;

    const runDir = join(runsDir, `${timestamp()}-${basename(configPath).replace(/\.json$/i, '').replace(/[^\w.-]+/g, '_')}`);
    await mkdir(runDir, { recursive: true });
    const eventsFile = join(runDir, 'events.jsonl');
    try {
      await this.stores.open(storePath);
      this.stores.tail(eventsFile, settings.liveRefreshMs());
    } catch (e) {
      void vscode.window.showErrorMessage(`Reward Lens: ${(e as Error).message}`);
      return;
    }

    const args = ['-u', '-m', 'reward_lens.train', '--config', configPath, '--run-dir', runDir];
    this.output.appendLine(`[train] ${py.origin}`);
    this.output.appendLine(`[train] $ ${py.python} ${args.join(' ')}`);
    this.output.appendLine(`[train] run directory ${runDir}; log ${join(runDir, 'trainer.log')}`);
    this.output.show(true);
    const supervisor = Supervisor.start({
      command: py.python,
      args,
      cwd: runDir,
      env: { ...py.env, PYTHONUNBUFFERED: '1' },
      logFile: join(runDir, 'trainer.log'),
      eventsFile,
      hangTimeoutMs: settings.hangTimeoutMs(),
      stopGraceMs: settings.stopGraceMs(),
      onLine: (l) => this.output.appendLine(l),
      onIssue: (i) => void this.onIssue(i, runDir),
    });
    const cur: ActiveTraining = { supervisor, runDir, eventsFile, configPath, runId: undefined, state: 'starting' };
    this.current = cur;
    this.last = undefined;
    this.stateChanged.fire();
    void supervisor.exited.then((exit) => this.onExit(cur, exit));
    void this.launchProgress(cur);
  }

  /** A notification while the trainer starts: it closes at the first step, or at exit. Cancel stops the run. */
  private launchProgress(cur: ActiveTraining): Thenable<void> {
    return vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'Reward Lens: starting the training run', cancellable: true },
      (progress, token) =>
        new Promise<void>((resolve) => {
          progress.report({ message: 'launching the Python backend…' });
          const subs: vscode.Disposable[] = [];
          const finish = () => {
            subs.forEach((s) => s.dispose());
            resolve();
          };
          subs.push(
            token.onCancellationRequested(() => {
              void this.stop();
              finish();
            }),
            this.stores.onDidIngest((changes) => {
              const mine = changes.find((c) => c.runId === cur.runId || c.runStarted);
              if (!mine) return;
              if (mine.steps.length) {
                if (cur.state === 'starting') {
                  cur.state = 'running';
                  this.stateChanged.fire();
                }
                finish();
              } else if (mine.runStarted) {
                progress.report({ message: `run ${mine.runId} started; waiting for its first step (a warm start may come first)…` });
              }
            }),
          );
          void cur.supervisor.exited.then(finish);
        }),
    );
  }

  async stop(): Promise<void> {
    const cur = this.current;
    if (!cur || cur.ended) {
      void vscode.window.showInformationMessage('Reward Lens: no training run is running in this window.');
      return;
    }
    if (cur.state === 'stopping') return;
    cur.state = 'stopping';
    this.stateChanged.fire();
    const grace = settings.stopGraceMs();
    await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Reward Lens: stopping ${cur.runId ?? 'the run'}`, cancellable: false },
      async (progress) => {
        progress.report({ message: `the trainer finishes its step and checkpoints (SIGKILL after ${Math.round(grace / 1000)} s)…` });
        await cur.supervisor.stop(grace);
      },
    );
  }

  private async onIssue(issue: SupervisorIssue, runDir: string): Promise<void> {
    const logUri = vscode.Uri.file(join(runDir, 'trainer.log'));
    if (issue.kind === 'hang') {
      this.output.appendLine(`[train] ${issue.message}`);
      const pick = await vscode.window.showErrorMessage(`Reward Lens: ${issue.message}`, 'Stop Run', 'Keep Waiting', 'Open Log');
      if (pick === 'Stop Run') await this.stop();
      else if (pick === 'Open Log') await vscode.window.showTextDocument(logUri, { preview: true });
    } else {
      this.output.appendLine(`[train] ${issue.message}`);
      const pick = await vscode.window.showWarningMessage(`Reward Lens: ${issue.message}`, 'Open Log');
      if (pick === 'Open Log') await vscode.window.showTextDocument(logUri, { preview: true });
    }
  }

  private async onExit(cur: ActiveTraining, exit: SupervisorExit): Promise<void> {
    try {
      // A trainer that died without run_end leaves the run "running" forever: close it the protocol's way.
      if (exit.outcome === 'crashed' || exit.outcome === 'killed') {
        const reason = exit.outcome === 'killed' ? exit.message : `${exit.message}\n${exit.lastLines.slice(-15).join('\n')}`;
        const closed = await closeRunIfOpen(cur.eventsFile, exit.outcome === 'killed' ? 'stopped' : 'failed', reason).catch((e: Error) => {
          this.output.appendLine(`[train] could not append run_end: ${e.message}`);
          return null;
        });
        if (closed) this.output.appendLine(`[train] run ${closed.runId} marked ${closed.status} in ${cur.eventsFile}`);
      }
      await this.stores.untail(cur.eventsFile).catch((e: Error) => this.output.appendLine(`[ingest] ${e.message}`));
    } finally {
      if (this.current === cur) {
        this.current = undefined;
        // A logged run_end knows best (a trainer that wrote 'failed' and exited 0 still failed).
        this.last = { runId: cur.runId, runDir: cur.runDir, status: cur.ended ?? finalStatusOfExit(exit.outcome) };
      }
      this.stateChanged.fire();
    }
    this.output.appendLine(`[train] ${exit.outcome}: ${exit.message}`);
    const logUri = vscode.Uri.file(exit.logFile);
    const runId = cur.runId;
    switch (exit.outcome) {
      case 'completed':
      case 'stopped': {
        const pick = await vscode.window.showInformationMessage(`Reward Lens: ${runId ? `run ${runId}: ` : ''}${exit.message}`, ...(runId ? ['Open Dashboard'] : []));
        if (pick === 'Open Dashboard' && runId) await this.openDashboard(runId);
        break;
      }
      default: {
        const pick = await vscode.window.showErrorMessage(`Reward Lens: ${exit.message}`, 'Open Log', 'Show Output');
        if (pick === 'Open Log') await vscode.window.showTextDocument(logUri, { preview: true });
        else if (pick === 'Show Output') this.output.show();
      }
    }
  }

  /** Validates with the backend's own loader: its errors name the field and value. */
  private async validate(py: BackendPython, configPath: string): Promise<boolean> {
    const scratch = join(settings.runsDirectory() ?? '', '.check-config');
    const res = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'Reward Lens: validating the config' }, () =>
      runProcess(py.python, ['-m', 'reward_lens.train', '--config', configPath, '--run-dir', scratch, '--check-config'], { env: py.env }).catch((e: Error) => ({
        code: -1,
        signal: null,
        lines: [`cannot run ${py.python}: ${e.message}`],
      })),
    );
    if (res.code === 0) return true;
    const msg = res.lines.filter((l) => l.trim()).slice(-3).join(' ').replace(/^reward_lens\.train:\s*/, '');
    this.output.appendLine(`[train] config check failed for ${configPath}:`);
    res.lines.forEach((l) => this.output.appendLine(`  ${l}`));
    const pick = await vscode.window.showErrorMessage(`Reward Lens: the config ${basename(configPath)} is invalid: ${msg || `exit code ${res.code}`}. Fix it and start again.`, 'Open Config', 'Show Output');
    if (pick === 'Open Config') await vscode.window.showTextDocument(vscode.Uri.file(configPath));
    else if (pick === 'Show Output') this.output.show();
    return false;
  }

  private async pickConfig(py: BackendPython): Promise<string | undefined> {
    type Item = vscode.QuickPickItem & { action: 'demo' | 'browse' | 'file'; path?: string };
    const items: Item[] = [
      { label: '$(beaker) Demo: two-digit addition', description: 'CPU, a tiny model, learns in minutes', detail: 'Writes the demo data and config under .reward-lens/configs/demo and trains on it', action: 'demo' },
    ];
    const files = await this.knownConfigs();
    if (files.length) items.push({ label: 'Configs', kind: vscode.QuickPickItemKind.Separator, action: 'file' });
    for (const f of files) items.push({ label: `$(json) ${basename(f)}`, description: vscode.workspace.asRelativePath(f), action: 'file', path: f });
    items.push({ label: '$(folder-opened) Browse…', description: 'a JSON config anywhere', action: 'browse' });
    const pick = await vscode.window.showQuickPick(items, { title: 'Reward Lens: Start Training Run', placeHolder: 'Pick a training config, or create the demo one', matchOnDescription: true });
    if (!pick) return undefined;
    if (pick.action === 'file') return pick.path;
    if (pick.action === 'browse') {
      const uris = await vscode.window.showOpenDialog({ canSelectMany: false, filters: { 'Training config': ['json'] }, openLabel: 'Train with this config' });
      return uris?.[0]?.fsPath;
    }
    return this.createDemoConfig(py);
  }

  private async knownConfigs(): Promise<string[]> {
    const out = new Set<string>();
    const dir = settings.configsDirectory();
    if (dir) {
      try {
        for (const e of await readdir(dir, { withFileTypes: true })) {
          if (e.isFile() && e.name.endsWith('.json')) out.add(join(dir, e.name));
          if (e.isDirectory()) {
            const c = join(dir, e.name, 'config.json');
            if (await stat(c).then(() => true, () => false)) out.add(c);
          }
        }
      } catch {
        // no configs yet
      }
    }
    for (const u of await vscode.workspace.findFiles('**/*{reward-lens,reward_lens}*.json', '**/{node_modules,.git,.venv}/**', 50)) out.add(u.fsPath);
    return [...out].sort();
  }

  private async createDemoConfig(py: BackendPython): Promise<string | undefined> {
    const dir = settings.configsDirectory();
    if (!dir) return undefined;
    const out = join(dir, 'demo');
    await mkdir(out, { recursive: true });
    const res = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'Reward Lens: writing the demo task and config' }, () =>
      runProcess(py.python, ['-m', 'reward_lens.demo_task', '--out', out], { env: py.env }).catch((e: Error) => ({ code: -1, signal: null, lines: [e.message] })),
    );
    res.lines.forEach((l) => this.output.appendLine(`[demo] ${l}`));
    const printed = res.lines.map((l) => l.trim()).filter((l) => l.endsWith('.json')).pop();
    if (res.code !== 0 || !printed) {
      void vscode.window.showErrorMessage(`Reward Lens: writing the demo config failed (exit code ${res.code}): ${res.lines.slice(-1)[0] ?? ''}. See the "Reward Lens" Output channel; run "Reward Lens: Set Up Python Backend" if the backend is missing.`);
      return undefined;
    }
    return printed;
  }

  /** Extension shutdown: ask the trainer to stop (it checkpoints on SIGTERM); the host cannot wait for it. */
  dispose(): void {
    const cur = this.current;
    if (cur) void cur.supervisor.stop(settings.stopGraceMs());
    this.subs.forEach((s) => s.dispose());
    this.stateChanged.dispose();
  }
}

function configArgPath(arg: unknown): string | undefined {
  if (typeof arg === 'string' && arg) return arg;
  if (arg instanceof vscode.Uri) return arg.fsPath;
  if (arg && typeof arg === 'object' && typeof (arg as { config?: unknown }).config === 'string') return (arg as { config: string }).config;
  return undefined;
}

function timestamp(): string {
  const d = new Date();
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}
