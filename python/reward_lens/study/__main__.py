"""`python -m reward_lens.study COMMAND`: the OGER variant study.

    run    --out DIR [--preset full|ci] [--seeds N] [--steps N] [--jobs N] [--detach]
           every run not yet done (a stopped study resumes), then results.json, plots, the
           Reward Lens store DIR/study.db and DIR/report.md. --detach returns at once and
           leaves the study running in its own session (log: DIR/study.log).
    status --out DIR [--json]
           what is done, running (with its step) and left, and an ETA.
    report --out DIR [--doc FILE] [--plots-dir DIR2]
           results.json, plots and report.md again from the finished runs; --doc fills the
           generated region of a hand-written document, --plots-dir copies the plots there.
    job    --spec FILE   (internal) one run: train or resume, then evaluate.

Exit status: 0 done, 1 failed or incomplete, 2 bad arguments, 3 stopped (run it again to resume).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from . import plan as plan_mod


def _preset(args) -> plan_mod.Preset:
    p = plan_mod.PRESETS[args.preset]
    changes = {}
    if args.seeds is not None:
        changes["seeds"] = args.seeds
    if args.steps is not None:
        changes["steps"] = args.steps
    if args.arms:
        arms = tuple(a.strip() for a in args.arms.split(",") if a.strip())
        unknown = [a for a in arms if a not in plan_mod.ARMS]
        if unknown:
            raise SystemExit(f"reward_lens.study: --arms {','.join(unknown)}: unknown arm; the arms are {', '.join(plan_mod.ARMS)}")
        if plan_mod.BASELINE not in arms:
            raise SystemExit(f"reward_lens.study: --arms must include {plan_mod.BASELINE}, the baseline of every paired difference")
        changes["arms"] = arms
    return dataclasses.replace(p, **changes) if changes else p


def finish(out: Path, p: plan_mod.Preset) -> int:
    """results.json, plots, store and report from whatever runs are done."""
    from .aggregate import aggregate, check_results
    from .plots import plot_all
    from .report import write_report
    from .runner import ingest

    res = aggregate(out, p)
    events = sorted(out.glob("seed-*/*/events.jsonl"))
    res["store"] = ingest(out, events)
    (out / "results.json").write_text(json.dumps(res, indent=1))
    plots = plot_all(res, out / "plots")
    write_report(res, out / "report.md", plots)
    problems = check_results(res)
    for q in problems[:20]:
        print(f"reward_lens.study: results: {q}", file=sys.stderr)
    if len(problems) > 20:
        print(f"reward_lens.study: results: ... and {len(problems) - 20} more", file=sys.stderr)
    print(f"results: {out / 'results.json'}; report: {out / 'report.md'}; store: {res['store']['path']}")
    return 0 if not problems else 1


def cmd_run(args) -> int:
    from .runner import Scheduler, StudyLock, load_or_create_plan, prepare

    out = Path(args.out).resolve()
    p = load_or_create_plan(out, _preset(args))
    if args.detach:
        argv = [sys.executable, "-m", "reward_lens.study", "run", "--out", str(out), "--preset", args.preset]
        argv += [x for flag, v in (("--seeds", args.seeds), ("--steps", args.steps), ("--jobs", args.jobs), ("--arms", args.arms)) if v is not None for x in (flag, str(v))]
        from .runner import child_env

        with (out / "study.log").open("ab") as logf:
            proc = subprocess.Popen(argv, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True, env=child_env())
        print(f"study running detached (pid {proc.pid}); log {out / 'study.log'}")
        print(f"  progress: python -m reward_lens.study status --out {out}")
        print(f"  stop:     kill {proc.pid}   (runs checkpoint; `run` again resumes)")
        return 0
    lock = StudyLock(out)
    if not lock.acquire():
        print(f"reward_lens.study: a study is already running in {out} (see `python -m reward_lens.study status --out {out}`)", file=sys.stderr)
        return 2
    prepare(out, p)
    sched = Scheduler(out, p, args.jobs)
    signal.signal(signal.SIGTERM, sched.request_stop)
    signal.signal(signal.SIGINT, sched.request_stop)
    todo = sum(1 for j in sched.jobs if j.state != "done")
    print(f"study {out}: preset {p.name}, {p.seeds} seeds x {len(p.arms)} arms, {p.steps} steps; {len(sched.jobs) - todo} of {len(sched.jobs)} runs already done", file=sys.stderr, flush=True)
    state = sched.run()
    if state == "stopped":
        print(f"reward_lens.study: stopped; run the same command again to resume ({out})", file=sys.stderr)
        return 3
    rc = finish(out, p)
    if state != "done":
        failed = [j.name for j in sched.jobs if j.state in ("failed", "blocked")]
        print(f"reward_lens.study: incomplete: {', '.join(failed)} did not finish; see their job.log, then run again", file=sys.stderr)
        return 1
    return rc


def cmd_status(args) -> int:
    from .runner import StudyLock

    out = Path(args.out)
    prog = out / "progress.json"
    if not prog.exists():
        print(f"no study progress in {out} (not started, or not a study directory)")
        return 1
    pr = json.loads(prog.read_text())
    alive = StudyLock.held(out)
    if args.json:
        print(json.dumps({**pr, "scheduler_alive": alive}))
        return 0
    eta = pr.get("eta_s")
    print(f"{out}: {pr['done']}/{pr['total']} runs done; state {pr['state']}{' (scheduler running)' if alive else ' (no scheduler running)'}; "
          f"elapsed {pr['elapsed_s'] / 60:.1f} min; " + (f"ETA {eta / 60:.0f} min" if eta is not None else "ETA after the first run") + f"; updated {pr['updated']}")
    for name, j in pr["jobs"].items():
        if j["state"] == "running":
            step = f"step {j.get('step') or 0}/{j.get('steps')}" if j.get("phase") == "training" else "evaluating"
            print(f"  running  {name}: {step}, {j.get('running_s', 0) / 60:.1f} min")
        elif j["state"] in ("failed", "blocked"):
            print(f"  {j['state']:8} {name} (exit {j.get('returncode')})")
    return 0


def cmd_report(args) -> int:
    from .aggregate import aggregate
    from .plots import plot_all
    from .report import update_doc, write_report

    out = Path(args.out)
    p = plan_mod.preset_from_dict(json.loads((out / "study.json").read_text()))
    res_path = out / "results.json"
    res = aggregate(out, p)
    old = json.loads(res_path.read_text()) if res_path.exists() else {}
    res["store"] = old.get("store", {"path": str(out / "study.db")})
    res_path.write_text(json.dumps(res, indent=1))
    plots = plot_all(res, out / "plots")
    write_report(res, out / "report.md", plots)
    linked = plots
    if args.plots_dir:
        dest = Path(args.plots_dir)
        dest.mkdir(parents=True, exist_ok=True)
        linked = []
        for q in plots:
            shutil.copyfile(q, dest / q.name)
            linked.append(dest / q.name)
    if args.doc:
        update_doc(Path(args.doc), res, linked)
    print(out / "report.md")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m reward_lens.study", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="run (or resume) the study")
    r.add_argument("--out", required=True)
    r.add_argument("--preset", choices=sorted(plan_mod.PRESETS), default="full")
    r.add_argument("--seeds", type=int)
    r.add_argument("--steps", type=int)
    r.add_argument("--arms", help=f"comma-separated subset of {','.join(plan_mod.ARMS)}")
    r.add_argument("--jobs", type=int, help="runs at a time (default: the preset's, 2)")
    r.add_argument("--detach", action="store_true")
    s = sub.add_parser("status", help="progress of a study")
    s.add_argument("--out", required=True)
    s.add_argument("--json", action="store_true")
    rp = sub.add_parser("report", help="results, plots and tables again from the finished runs")
    rp.add_argument("--out", required=True)
    rp.add_argument("--doc")
    rp.add_argument("--plots-dir")
    j = sub.add_parser("job", help=argparse.SUPPRESS)
    j.add_argument("--spec", required=True)
    args = ap.parse_args(argv)
    if args.cmd == "run":
        for name in ("seeds", "steps", "jobs"):
            v = getattr(args, name)
            if v is not None and v < 1:
                ap.error(f"--{name} must be at least 1, got {v}")
        return cmd_run(args)
    if args.cmd == "status":
        return cmd_status(args)
    if args.cmd == "report":
        return cmd_report(args)
    from .job import main as job_main

    return job_main(args.spec)


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    t0 = time.time()
    sys.exit(main())
