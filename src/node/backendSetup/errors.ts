// Every way setting up the Python backend fails, mapped from pip's and venv's own output to a
// message that says what to do next. The patterns come from real pip/venv/Debian output.

export type SetupErrorKind =
  | 'python-not-found'
  | 'python-too-old'
  | 'venv-missing'
  | 'network'
  | 'no-matching-package'
  | 'disk-full'
  | 'permission'
  | 'pip-failed'
  | 'cancelled';

export class SetupError extends Error {
  constructor(
    readonly kind: SetupErrorKind,
    message: string,
    /** the last lines of the failing tool's output, for the Output channel */
    readonly detail: readonly string[] = [],
  ) {
    super(message);
    this.name = 'SetupError';
  }
}

export const MIN_PYTHON: readonly [number, number] = [3, 10];

const RETRY = 'then run "Reward Lens: Set Up Python Backend" again';

export function pythonNotFound(tried: readonly string[]): SetupError {
  return new SetupError(
    'python-not-found',
    `No Python interpreter found (tried ${tried.join(', ')}). Install Python ${MIN_PYTHON.join('.')} or newer (Debian/Ubuntu: sudo apt install python3 python3-venv) or set rewardLens.python.interpreter to its path, ${RETRY}.`,
  );
}

export function pythonTooOld(executable: string, version: string): SetupError {
  return new SetupError(
    'python-too-old',
    `${executable} is Python ${version}; the backend needs Python ${MIN_PYTHON.join('.')} or newer. Install a newer Python and set rewardLens.python.interpreter to it, ${RETRY}.`,
  );
}

export function venvMissing(executable: string, version: string, detail: readonly string[] = []): SetupError {
  const [major, minor] = version.split('.');
  return new SetupError(
    'venv-missing',
    `${executable} cannot create virtual environments (its venv/ensurepip module is missing). On Debian/Ubuntu: sudo apt install python3-venv (or python${major}.${minor}-venv), ${RETRY}.`,
    detail,
  );
}

interface Rule {
  kind: SetupErrorKind;
  test: RegExp;
  message: (ctx: { what: string; dir: string }) => string;
}

// Order matters: a disk-full during a download also logs a connection error, and the disk is the cause.
const RULES: Rule[] = [
  {
    kind: 'disk-full',
    test: /No space left on device|\[Errno 28\]|ENOSPC|Disk quota exceeded/,
    message: ({ what, dir }) => `${what} failed: the disk is full. The backend with PyTorch needs several GB; free space on the disk holding ${dir} (and pip's cache in ~/.cache/pip), ${RETRY}.`,
  },
  {
    kind: 'network',
    test: /Failed to establish a new connection|Temporary failure in name resolution|Name or service not known|Network is unreachable|ConnectTimeoutError|ReadTimeoutError|Connection (?:refused|reset)|ProxyError|SSLError|CERTIFICATE_VERIFY_FAILED|Max retries exceeded|HTTPSConnectionPool/,
    message: ({ what }) => `${what} failed: pip could not reach the package index. Check the network connection or proxy (pip honours HTTPS_PROXY, PIP_INDEX_URL and rewardLens.python.pipArgs), ${RETRY}.`,
  },
  {
    kind: 'permission',
    test: /Permission denied|\[Errno 13\]|EACCES/,
    message: ({ what, dir }) => `${what} failed: permission denied while writing. Make sure ${dir} is writable by you, ${RETRY}.`,
  },
  {
    kind: 'venv-missing',
    test: /ensurepip is not available|No module named (?:venv|ensurepip)|apt install python3[\d.]*-venv/,
    message: () => `Python cannot create virtual environments (venv/ensurepip missing). On Debian/Ubuntu: sudo apt install python3-venv, ${RETRY}.`,
  },
  {
    kind: 'no-matching-package',
    test: /No matching distribution found for ([^\s]+)|Could not find a version that satisfies the requirement ([^\s]+)/,
    message: ({ what }) => `${what} failed: pip found no release of a required package for this Python and platform. If you are offline or behind a private index, set PIP_INDEX_URL or rewardLens.python.pipArgs; otherwise use a Python version PyTorch supports, ${RETRY}.`,
  },
];

/** Maps a failed tool run (exit code and its output) to an actionable SetupError. */
export function mapFailure(what: string, dir: string, code: number | null, lines: readonly string[]): SetupError {
  const text = lines.join('\n');
  for (const r of RULES) {
    const m = text.match(r.test);
    if (!m) continue;
    let message = r.message({ what, dir });
    if (r.kind === 'no-matching-package') {
      const pkg = m[1] ?? m[2];
      if (pkg) message = message.replace('a required package', `${pkg}`);
    }
    return new SetupError(r.kind, message, lines.slice(-40));
  }
  // The exception line says more than pip's closing "error: metadata-generation-failed".
  const rev = [...lines].reverse();
  const last =
    rev.find((l) => /^\s*[A-Za-z_.]*(?:Error|Exception):\s/.test(l)) ?? rev.find((l) => /^(ERROR|error):/.test(l.trim())) ?? rev.find((l) => l.trim());
  return new SetupError(
    'pip-failed',
    `${what} failed (exit code ${code ?? 'none'})${last ? `: ${last.trim().slice(0, 300)}` : ''}. The full output is in the "Reward Lens" Output channel; fix the cause shown there, ${RETRY}.`,
    lines.slice(-40),
  );
}
