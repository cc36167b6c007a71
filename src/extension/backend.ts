// Which Python runs the training backend, and the "Set Up Python Backend" command that makes one.
// Order: the interpreter in rewardLens.python.interpreter when it can train (reward_lens or torch
// importable; the bundled sources go on PYTHONPATH when reward_lens is not installed), else the
// managed venv in the extension's global storage once set up. Otherwise the user is asked to set up.
import * as vscode from 'vscode';
import { join } from 'node:path';
import { backendState, isSupported, probePython, setUpBackend, SetupError, type BackendState, type PythonInfo } from '../node/backendSetup';
import { settings } from './settings';

export interface BackendPython {
  python: string;
  env: NodeJS.ProcessEnv;
  /** for the log: where this interpreter came from */
  origin: string;
}

export class BackendNotReady extends Error {}

export class Backend {
  private probed = new Map<string, Promise<PythonInfo>>();
  private setupRunning: Promise<boolean> | undefined;
  private state: Promise<BackendState> | undefined;

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly output: vscode.OutputChannel,
  ) {
    context.subscriptions.push(
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (settings.affects(e, 'python')) this.probed.clear();
      }),
    );
  }

  /** the bundled python/ folder (pyproject.toml + reward_lens/) */
  get sourceDir(): string {
    return join(this.context.extensionUri.fsPath, 'python');
  }

  get venvDir(): string {
    return join(this.context.globalStorageUri.fsPath, 'venv');
  }

  private probe(cmd: string): Promise<PythonInfo> {
    let p = this.probed.get(cmd);
    if (!p) {
      p = probePython(cmd);
      this.probed.set(cmd, p);
      p.catch(() => this.probed.delete(cmd));
    }
    return p;
  }

  /** The interpreter to train with; throws BackendNotReady with a message that says what to do. */
  async resolve(): Promise<BackendPython> {
    const configured = settings.interpreter();
    if (configured) {
      let info: PythonInfo | undefined;
      try {
        info = await this.probe(configured);
      } catch {
        throw new BackendNotReady(`rewardLens.python.interpreter is "${configured}", which does not run. Fix the setting, or clear it and run "Reward Lens: Set Up Python Backend".`);
      }
      if (!isSupported(info)) throw new BackendNotReady(`${info.executable} is Python ${info.version}; the backend needs 3.10 or newer. Point rewardLens.python.interpreter at a newer Python.`);
      if (info.hasBackend) return { python: info.executable, env: { ...process.env }, origin: `rewardLens.python.interpreter (${info.executable})` };
      if (info.hasTorch) {
        const pp = [this.sourceDir, process.env.PYTHONPATH].filter(Boolean).join(':');
        return { python: info.executable, env: { ...process.env, PYTHONPATH: pp }, origin: `rewardLens.python.interpreter (${info.executable}) with the bundled backend sources` };
      }
      throw new BackendNotReady(`${info.executable} has neither the reward_lens package nor PyTorch. Install them there, or clear rewardLens.python.interpreter and run "Reward Lens: Set Up Python Backend".`);
    }
    // the bundled sources cannot change while the extension runs: hash them once per set-up
    this.state ??= backendState(this.venvDir, this.sourceDir);
    const st = await this.state;
    if (st.state === 'missing') this.state = undefined;
    if (st.state === 'ready') return { python: st.python, env: { ...process.env }, origin: `managed venv (${this.venvDir})` };
    if (st.state === 'outdated') {
      this.output.appendLine('[backend] the managed venv holds an older backend than this extension: run "Reward Lens: Set Up Python Backend" to update it.');
      return { python: st.python, env: { ...process.env, PYTHONPATH: this.sourceDir }, origin: `managed venv (${this.venvDir}), bundled sources on PYTHONPATH` };
    }
    throw new BackendNotReady('The Python training backend is not set up yet. Run "Reward Lens: Set Up Python Backend" (it creates a venv and installs PyTorch), or set rewardLens.python.interpreter to a Python that has it.');
  }

  /** For features that only need a Python with the backend importable (the verifier). */
  async pythonPath(): Promise<string> {
    return (await this.resolve()).python;
  }

  /**
   * Resolves, and when the backend is missing offers to set it up. Returns undefined when the
   * user declined or set-up failed (the error was shown).
   */
  async ensure(): Promise<BackendPython | undefined> {
    try {
      return await this.resolve();
    } catch (e) {
      if (!(e instanceof BackendNotReady)) throw e;
      const pick = await vscode.window.showErrorMessage(`Reward Lens: ${e.message}`, 'Set Up Python Backend', 'Choose Interpreter…');
      if (pick === 'Set Up Python Backend') {
        if (await this.setUp()) return this.resolve().catch(() => undefined);
      } else if (pick === 'Choose Interpreter…') {
        await chooseInterpreter();
      }
      return undefined;
    }
  }

  /** The "Set Up Python Backend" command: progress with cancel, pip's output live in the Output channel. */
  setUp(): Promise<boolean> {
    this.setupRunning ??= this.runSetUp().finally(() => {
      this.setupRunning = undefined;
    });
    return this.setupRunning;
  }

  private async runSetUp(): Promise<boolean> {
    const configured = settings.interpreter();
    const candidates = configured ? [configured] : ['python3', 'python'];
    this.output.show(true);
    this.output.appendLine(`[setup] setting up the Python backend in ${this.venvDir}`);
    try {
      const result = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: 'Reward Lens: setting up the Python backend', cancellable: true },
        async (progress, token) => {
          const ac = new AbortController();
          const sub = token.onCancellationRequested(() => ac.abort());
          let last = 0;
          try {
            return await setUpBackend({
              candidates,
              sourceDir: this.sourceDir,
              venvDir: this.venvDir,
              pipArgs: settings.pipArgs(),
              signal: ac.signal,
              onLine: (l) => this.output.appendLine(`[setup] ${l}`),
              onProgress: (p) => {
                progress.report({ message: p.message, increment: Math.max(0, p.percent - last) });
                last = Math.max(last, p.percent);
              },
            });
          } finally {
            sub.dispose();
          }
        },
      );
      this.probed.clear();
      this.state = undefined;
      this.output.appendLine(`[setup] ready: ${result.python} (from Python ${result.baseInterpreter.version})`);
      void vscode.window.showInformationMessage(`Reward Lens: the Python backend is ready (Python ${result.baseInterpreter.version}).`);
      return true;
    } catch (e) {
      const err = e instanceof SetupError ? e : new SetupError('pip-failed', `Setting up the Python backend failed: ${(e as Error).message}. See the "Reward Lens" Output channel, then run "Reward Lens: Set Up Python Backend" again.`);
      for (const l of err.detail) this.output.appendLine(`[setup] ${l}`);
      this.output.appendLine(`[setup] ${err.kind}: ${err.message}`);
      if (err.kind === 'cancelled') {
        void vscode.window.showWarningMessage(`Reward Lens: ${err.message}`);
        return false;
      }
      const actions = err.kind === 'python-not-found' || err.kind === 'python-too-old' ? ['Choose Interpreter…', 'Show Log'] : ['Retry', 'Show Log'];
      const pick = await vscode.window.showErrorMessage(`Reward Lens: ${err.message}`, ...actions);
      if (pick === 'Show Log') this.output.show();
      else if (pick === 'Retry') return this.runSetUp();
      else if (pick === 'Choose Interpreter…') await chooseInterpreter();
      return false;
    }
  }
}

async function chooseInterpreter(): Promise<void> {
  const picked = await vscode.window.showOpenDialog({ canSelectMany: false, openLabel: 'Use this Python', title: 'Python interpreter for Reward Lens (3.10 or newer)' });
  const p = picked?.[0]?.fsPath;
  if (!p) return;
  await vscode.workspace.getConfiguration('rewardLens').update('python.interpreter', p, vscode.ConfigurationTarget.Global);
  void vscode.window.showInformationMessage(`Reward Lens: rewardLens.python.interpreter is now ${p}.`);
}
