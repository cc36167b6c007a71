"""The study's scheduler: every (seed, arm) run in its own process, `jobs` at a time.

State lives in files, so a study stopped at any moment restarts where it stopped:
- DIR/study.json    the plan (preset and its sizes); a restart must not change it;
- DIR/progress.json what is done, running and left, with each running run's step and an ETA;
- per run: eval.json once evaluated (the run is then skipped), else its checkpoints (the run
  resumes with --resume), else nothing (it starts).
SIGTERM or Ctrl-C stops the runs the way the trainer stops (finish the step, checkpoint) and
exits with status 3. One scheduler per study directory (a lock file).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import plan as plan_mod
from .job import STOPPED, write_json
from .task import write_task

PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # the directory that holds reward_lens/
POLL_S = 0.5
PROGRESS_EVERY_S = 10.0


@dataclass
class Job:
    name: str
    kind: str  # "warm" or "arm"
    seed: int
    arm: str | None
    run_dir: Path
    spec: dict
    deps: list[str] = field(default_factory=list)
    state: str = "pending"  # pending | running | done | failed | stopped | blocked
    returncode: int | None = None
    seconds: float | None = None
    proc: subprocess.Popen | None = None
    started: float | None = None


def seed_dir(out: Path, seed: int) -> Path:
    return out / f"seed-{seed}"


def run_dir(out: Path, seed: int, arm: str) -> Path:
    """A run's folder; its name starts the run id, so a store of the whole study reads `oger-seed3-…`."""
    return seed_dir(out, seed) / f"{arm}-seed{seed}"


def build_jobs(out: Path, p: plan_mod.Preset) -> list[Job]:
    """Every run of the study, seed by seed (so complete seeds arrive first), warm start first."""
    jobs: list[Job] = []
    for seed in range(p.seeds):
        sd = seed_dir(out, seed)
        data = sd / "data"
        ev = {"samples": p.samples, "splits": {
            "id": {"path": str(data / "test-id.jsonl"), "greedy_prompts": p.greedy_prompts, "prompts": p.eval_prompts, "temperatures": list(p.temperatures)},
            "ood": {"path": str(data / "test-ood.jsonl"), "greedy_prompts": p.greedy_prompts, "prompts": p.eval_prompts, "temperatures": list(p.ood_temperatures)},
        }}
        warm_dir = run_dir(out, seed, "warm-start")
        warm = Job(f"seed-{seed}/warm-start", "warm", seed, None, warm_dir, {
            "run_dir": str(warm_dir), "config": plan_mod.warm_config(p, seed, data), "eval": ev})
        jobs.append(warm)
        ckpt = warm_dir / "checkpoints" / "step-000000.pt"
        for name in p.arms:
            arm = plan_mod.ARMS[name]
            rd = run_dir(out, seed, name)
            jobs.append(Job(f"seed-{seed}/{name}", "arm", seed, name, rd, {
                "run_dir": str(rd), "config": plan_mod.arm_config(p, seed, arm, data, ckpt), "eval": ev}, deps=[warm.name]))
    return jobs


def prepare(out: Path, p: plan_mod.Preset) -> None:
    for seed in range(p.seeds):
        data = seed_dir(out, seed) / "data"
        if not (data / "test-ood.jsonl").exists():
            write_task(data, seed, p.train_prompts, max(p.eval_prompts, p.greedy_prompts), max(p.eval_prompts, p.greedy_prompts), p.warm_styles)


def load_or_create_plan(out: Path, p: plan_mod.Preset) -> plan_mod.Preset:
    """The plan on disk wins over the arguments; a conflicting argument is an error naming the field."""
    path = out / "study.json"
    want = plan_mod.plan_dict(p)
    if path.exists():
        have = json.loads(path.read_text())
        diff = [k for k in want if json.dumps(want[k]) != json.dumps(have.get(k))]
        if diff:
            raise SystemExit(
                f"reward_lens.study: {out} holds a study with different settings ({', '.join(f'{k}: {json.dumps(have.get(k))} there, {json.dumps(want[k])} asked' for k in diff)}); "
                "run it with the same arguments to resume it, or use a new --out"
            )
        return plan_mod.preset_from_dict(have)
    out.mkdir(parents=True, exist_ok=True)
    write_json(path, want)
    return p


def last_step(events: Path) -> int | None:
    """The step of the last `step` event, read from the file's tail (cheap on a growing file)."""
    try:
        with events.open("rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - 65536))
            tail = f.read().decode("utf-8", "replace")
    except OSError:
        return None
    for line in reversed(tail.splitlines()):
        if '"type": "step"' in line or '"type":"step"' in line:
            try:
                return int(json.loads(line)["step"])
            except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                continue
    return None


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(PACKAGE_ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false", HF_HUB_OFFLINE="1")
    return env


class Scheduler:
    def __init__(self, out: Path, p: plan_mod.Preset, jobs: int | None = None, log=None):
        self.out = out
        self.p = p
        self.parallel = jobs or p.jobs
        self.jobs = build_jobs(out, p)
        self.by_name = {j.name: j for j in self.jobs}
        self.stopping = False
        self.t0 = time.time()
        self.log = log or (lambda m: print(f"[reward_lens.study] {m}", file=sys.stderr, flush=True))
        for j in self.jobs:
            if (j.run_dir / "eval.json").exists():
                j.state = "done"

    # -- progress -----------------------------------------------------------------------------

    def eta_s(self) -> float | None:
        def mean(kind):
            xs = [j.seconds for j in self.jobs if j.kind == kind and j.state == "done" and j.seconds]
            return sum(xs) / len(xs) if xs else None

        left = 0.0
        for j in self.jobs:
            if j.state in ("done", "failed", "blocked"):
                continue
            m = mean(j.kind) or mean("arm") or mean("warm")
            if m is None:
                return None
            elapsed = time.time() - j.started if j.state == "running" and j.started else 0.0
            left += max(0.0, m - elapsed)
        return left / self.parallel

    def write_progress(self, state: str) -> None:
        jobs = {}
        for j in self.jobs:
            entry = {"state": j.state, "kind": j.kind, "seconds": round(j.seconds, 1) if j.seconds else None, "returncode": j.returncode}
            if j.state == "running":
                entry["step"] = last_step(j.run_dir / "events.jsonl")
                entry["steps"] = j.spec["config"]["steps"]
                entry["running_s"] = round(time.time() - (j.started or time.time()), 1)
                entry["phase"] = "evaluating" if (j.run_dir / "checkpoints" / f"step-{j.spec['config']['steps']:06d}.pt").exists() else "training"
            jobs[j.name] = entry
        eta = self.eta_s()
        write_json(self.out / "progress.json", {
            "state": state,
            "pid": os.getpid(),
            "updated": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "elapsed_s": round(time.time() - self.t0, 1),
            "done": sum(1 for j in self.jobs if j.state == "done"),
            "total": len(self.jobs),
            "eta_s": round(eta) if eta is not None else None,
            "jobs": jobs,
        })

    # -- running ------------------------------------------------------------------------------

    def _ready(self) -> Job | None:
        for j in self.jobs:
            if j.state != "pending":
                continue
            deps = [self.by_name[d] for d in j.deps]
            if any(d.state in ("failed", "blocked") for d in deps):
                j.state = "blocked"
                continue
            if all(d.state == "done" for d in deps):
                return j
        return None

    def _start(self, j: Job) -> None:
        j.run_dir.mkdir(parents=True, exist_ok=True)
        spec_path = j.run_dir / "spec.json"
        write_json(spec_path, j.spec)
        logf = (j.run_dir / "job.log").open("ab")
        j.proc = subprocess.Popen([sys.executable, "-m", "reward_lens.study", "job", "--spec", str(spec_path)], stdout=logf, stderr=subprocess.STDOUT, env=child_env(), cwd=str(self.out))
        logf.close()
        j.state, j.started = "running", time.time()
        self.log(f"start {j.name}")

    def _reap(self, j: Job) -> None:
        rc = j.proc.poll() if j.proc else None
        if rc is None:
            return
        j.returncode, j.proc = rc, None
        j.seconds = time.time() - (j.started or time.time())
        if (j.run_dir / "eval.json").exists():  # written last and atomically: done, even if stopped on its way out
            j.state = "done"
        elif rc == STOPPED or self.stopping:
            j.state = "stopped"
        else:
            j.state = "failed"
        where = f"; see {j.run_dir / 'job.log'}" if j.state == "failed" else ""
        self.log(f"{j.state} {j.name} ({j.seconds:.0f}s, exit {rc}){where}")

    def request_stop(self, signum=None, frame=None) -> None:  # noqa: ARG002 - signal handler
        if not self.stopping:
            self.log("stop requested: the running runs finish their step and checkpoint")
        self.stopping = True
        for j in self.jobs:
            if j.proc is not None and j.proc.poll() is None:
                j.proc.send_signal(signal.SIGTERM)

    def run(self) -> str:
        last = 0.0
        while True:
            changed = False
            for j in self.jobs:
                if j.state == "running":
                    self._reap(j)
                    changed |= j.state != "running"
            running = sum(1 for j in self.jobs if j.state == "running")
            while not self.stopping and running < self.parallel:
                j = self._ready()
                if j is None:
                    break
                self._start(j)
                running += 1
                changed = True
            if changed or time.time() - last > PROGRESS_EVERY_S:
                self.write_progress("stopping" if self.stopping else "running")
                last = time.time()
            if running == 0 and (self.stopping or self._ready() is None):
                break
            time.sleep(POLL_S)
        state = "stopped" if self.stopping else ("done" if all(j.state == "done" for j in self.jobs) else "incomplete")
        for j in self.jobs:
            if j.state == "stopped":
                j.state = "pending"  # resumable: a restart picks it up again
        self.write_progress(state)
        return state


class StudyLock:
    """An exclusive lock on DIR/study.lock for the scheduler's lifetime."""

    def __init__(self, out: Path):
        self.path = out / "study.lock"
        self.f = None

    def acquire(self) -> bool:
        self.f = self.path.open("a+")
        try:
            fcntl.flock(self.f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self.f.close()
            self.f = None
            return False
        self.f.seek(0)
        self.f.truncate()
        self.f.write(str(os.getpid()))
        self.f.flush()
        return True

    @staticmethod
    def held(out: Path) -> bool:
        path = out / "study.lock"
        if not path.exists():
            return False
        with path.open("a+") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return True
            fcntl.flock(f, fcntl.LOCK_UN)
            return False


def find_cli() -> tuple[str, str] | None:
    """(node, cli.js) of the Reward Lens CLI: REWARD_LENS_CLI, else the checkout's dist/cli.js."""
    node = shutil.which("node")
    cli = os.environ.get("REWARD_LENS_CLI") or str(PACKAGE_ROOT.parent / "dist" / "cli.js")
    if node and Path(cli).is_file():
        return node, cli
    return None


def ingest(out: Path, events: list[Path]) -> dict:
    """Every run's events into one Reward Lens store, DIR/study.db (resumable, like every ingest)."""
    db = out / "study.db"
    found = find_cli()
    by_hand = f"node dist/cli.js ingest {out}/seed-*/*/events.jsonl --db {db}"
    if found is None:
        return {"path": str(db), "error": f"the Reward Lens CLI was not found (no node on PATH, or no dist/cli.js: run `npm run build`); ingest by hand: {by_hand}"}
    node, cli = found
    r = subprocess.run([node, cli, "ingest", *map(str, events), "--db", str(db), "--json"], capture_output=True, text=True)
    if r.returncode != 0:
        return {"path": str(db), "error": f"ingest failed (exit {r.returncode}): {r.stderr.strip()[-800:]}; by hand: {by_hand}"}
    res = json.loads(r.stdout)
    res = res if isinstance(res, list) else [res]
    return {
        "path": str(db),
        "files": len(res),
        "events": sum(x["events"] for x in res),
        "trajectories": sum(x["trajectories"] for x in res),
        "malformed_lines": sum(len(x["malformed"]) for x in res),
    }
