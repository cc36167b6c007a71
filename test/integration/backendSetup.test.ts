// Backend set-up: the error mapping on real pip/venv/Debian output, interpreter discovery with
// stand-in interpreters (shell scripts that answer like an old or venv-less Python), pip progress
// parsing, cancellation, and one real venv + pip install of the bundled backend (--no-deps, so no
// torch download: it proves the flow, not PyPI).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { cp } from 'node:fs/promises';
import { setUpBackend, backendState, findPython, mapFailure, PipProgress, runProcess, SetupError, venvPython } from '../../src/node/backendSetup';

const repo = resolve(__dirname, '..', '..');

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'rl-setup-'));
}

/** A stand-in interpreter: a shell script that answers the probe like the given Python would. */
function fakePython(dir: string, name: string, version: string, opts: { venv?: boolean; venvFails?: string } = {}): string {
  const p = join(dir, name);
  const probe = JSON.stringify({ executable: p, version, venv: opts.venv ?? true, ensurepip: opts.venv ?? true, backend: false, torch: false });
  writeFileSync(
    p,
    `#!/bin/sh\nif [ "$1" = "-c" ]; then echo 'REWARD_LENS_PROBE ${probe}'; exit 0; fi\n` +
      `if [ "$1" = "-m" ] && [ "$2" = "venv" ]; then printf '%s\\n' ${JSON.stringify(opts.venvFails ?? '')} >&2; exit 1; fi\nexit 2\n`,
  );
  chmodSync(p, 0o755);
  return p;
}

test('error mapping: disk full, network, no matching package, permission, venv missing, generic', () => {
  const cases: Array<[string[], string, RegExp]> = [
    [["ERROR: Could not install packages due to an OSError: [Errno 28] No space left on device"], 'disk-full', /disk is full/],
    [["WARNING: Retrying (Retry(total=4, ...)) after connection broken by 'NewConnectionError('<pip._vendor.urllib3.connection.HTTPSConnection object at 0x7f>: Failed to establish a new connection: [Errno -3] Temporary failure in name resolution')': /simple/torch/", "ERROR: Could not find a version that satisfies the requirement torch>=2.1 (from reward-lens) (from versions: none)", "ERROR: No matching distribution found for torch>=2.1"], 'network', /could not reach the package index/],
    [["ERROR: Could not find a version that satisfies the requirement torch>=2.1 (from versions: none)", "ERROR: No matching distribution found for torch>=2.1"], 'no-matching-package', /torch>=2\.1/],
    [["ERROR: Could not install packages due to an OSError: [Errno 13] Permission denied: '/opt/x'"], 'permission', /permission denied/],
    [["The virtual environment was not created successfully because ensurepip is not", "available.  On Debian/Ubuntu systems, you need to install the python3-venv", "package using the following command.", "    apt install python3.11-venv"], 'venv-missing', /apt install python3-venv/],
    [["Traceback (most recent call last):", "ERROR: something odd happened"], 'pip-failed', /something odd happened.*Output channel/],
  ];
  for (const [lines, kind, message] of cases) {
    const e = mapFailure('Installing the Python backend', '/x/venv', 1, lines);
    assert.equal(e.kind, kind, lines.join(' | '));
    assert.match(e.message, message);
    assert.match(e.message, /Set Up Python Backend/, 'every message says how to retry');
  }
});

test('findPython: a missing interpreter, a too-old one, then a good one', async () => {
  const dir = tmp();
  const old = fakePython(dir, 'python3.8', '3.8.18');
  await assert.rejects(findPython([join(dir, 'nope')]), (e: SetupError) => e.kind === 'python-not-found' && /rewardLens\.python\.interpreter/.test(e.message));
  await assert.rejects(findPython([join(dir, 'nope'), old]), (e: SetupError) => e.kind === 'python-too-old' && /3\.8\.18/.test(e.message) && /3\.10 or newer/.test(e.message));
  const good = fakePython(dir, 'python3.12', '3.12.1');
  const info = await findPython([old, good]);
  assert.equal(info.version, '3.12.1');
  rmSync(dir, { recursive: true, force: true });
});

test('set-up with a Python lacking venv says to install python3-venv, before touching the disk', async () => {
  const dir = tmp();
  const py = fakePython(dir, 'python3', '3.11.2', { venv: false });
  await assert.rejects(
    setUpBackend({ candidates: [py], sourceDir: join(repo, 'python'), venvDir: join(dir, 'venv') }),
    (e: SetupError) => e.kind === 'venv-missing' && /apt install python3-venv/.test(e.message) && /python3\.11-venv/.test(e.message),
  );
  assert.equal(existsSync(join(dir, 'venv')), false);
  // Debian's python3 has the venv module but not ensurepip's wheels: venv itself fails
  const deb = fakePython(dir, 'python3-deb', '3.11.2', { venvFails: 'The virtual environment was not created successfully because ensurepip is not available.' });
  await assert.rejects(setUpBackend({ candidates: [deb], sourceDir: join(repo, 'python'), venvDir: join(dir, 'venv2') }), (e: SetupError) => e.kind === 'venv-missing');
  rmSync(dir, { recursive: true, force: true });
});

test('pip progress lines become monotone messages', () => {
  const p = new PipProgress();
  const seen = [
    'Processing /tmp/x/python',
    'Collecting torch>=2.1 (from reward-lens==0.1.0)',
    '  Downloading torch-2.5.1-cp311-cp311-manylinux1_x86_64.whl (906.4 MB)',
    'Collecting numpy>=1.24',
    '  Using cached numpy-2.1.0.whl',
    'Building wheels for collected packages: reward-lens',
    'Installing collected packages: numpy, torch, reward-lens',
    'Successfully installed numpy-2.1.0 reward-lens-0.1.0 torch-2.5.1',
  ]
    .map((l) => p.update(l))
    .filter((u) => u !== null);
  assert.deepEqual(
    seen.map((u) => u.message),
    ['Preparing the backend package', 'Resolving torch', 'Downloading torch (906.4 MB)', 'Resolving numpy', 'Building the backend package', 'Installing 3 packages', 'Installed'],
  );
  for (let i = 1; i < seen.length; i++) assert.ok(seen[i]!.percent >= seen[i - 1]!.percent);
  assert.equal(p.update('random chatter'), null);
});

test('cancelling kills the running tool and reports cancelled', async () => {
  const ac = new AbortController();
  const t0 = Date.now();
  setTimeout(() => ac.abort(), 200);
  await assert.rejects(runProcess('sh', ['-c', 'sleep 30'], { signal: ac.signal }), (e: SetupError) => e.kind === 'cancelled' && /Set Up Python Backend/.test(e.message));
  // far below the 30 s the tool would run: it was killed, not waited for
  assert.ok(Date.now() - t0 < 10_000);
});

test('real venv + pip install of the bundled backend (--no-deps), then the stamp says ready', async () => {
  const dir = tmp();
  const venvDir = join(dir, 'venv');
  // a snapshot: the repo's python/ may change while this runs, which would (rightly) read as outdated
  const sourceDir = join(dir, 'python');
  await cp(join(repo, 'python'), sourceDir, { recursive: true, filter: (s) => !/tests$|egg-info|__pycache__/.test(s) });
  assert.deepEqual(await backendState(venvDir, sourceDir), { state: 'missing' });
  const lines: string[] = [];
  const progress: number[] = [];
  // Build isolation stays on (the product path): pip fetches setuptools>=68 for the build (from
  // its cache after the first run); --no-deps keeps torch and friends out.
  const r = await setUpBackend({
    candidates: ['python3'],
    sourceDir,
    venvDir,
    pipArgs: ['--no-deps'],
    onLine: (l) => lines.push(l),
    onProgress: (p) => progress.push(p.percent),
  });
  assert.equal(r.python, venvPython(venvDir));
  assert.ok(lines.some((l) => /Successfully installed reward-lens/.test(l)), lines.slice(-10).join('\n'));
  assert.ok(lines.some((l) => /^reward_lens .* on Python 3\./.test(l)));
  assert.equal(progress.at(-1), 100);
  assert.deepEqual(await backendState(venvDir, sourceDir), { state: 'ready', python: r.python });
  // the bundled sources are not modified by the install (no egg-info written next to them by us)
  const imp = await runProcess(r.python, ['-c', 'import reward_lens, os; print(os.path.dirname(reward_lens.__file__))']);
  assert.match(imp.lines.join('\n'), /site-packages/);
  // a different source tree makes it outdated
  const other = join(dir, 'src2');
  await cp(sourceDir, other, { recursive: true, filter: (s) => !/tests|egg-info|__pycache__/.test(s) });
  writeFileSync(join(other, 'reward_lens', 'zz_new_module.py'), '# new\n');
  assert.equal((await backendState(venvDir, other)).state, 'outdated');
  rmSync(dir, { recursive: true, force: true });
});
