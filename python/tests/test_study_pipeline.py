"""The variant study end to end on its CI preset (2 seeds, 2 steps, a model too small to learn):
it runs, stops on SIGTERM and resumes, writes every field of results.json, draws the plots, and
lands every run in one Reward Lens store. What the figures say is the full study's business."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from reward_lens.study import plan as plan_mod
from reward_lens.study.aggregate import check_results
from reward_lens.study.job import STOPPED


def _env(repo):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(repo / "python") + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.update(OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")
    return env


def _progress(out):
    try:
        return json.loads((out / "progress.json").read_text())
    except (OSError, json.JSONDecodeError):
        return None


def test_ci_study_stops_resumes_and_writes_every_field(tmp_path, repo):
    cli = repo / "dist" / "cli.js"
    if not cli.is_file():
        pytest.skip("dist/cli.js is missing: run `npm run build` (scripts/test.d/20-python.sh builds it)")
    out = tmp_path / "study"
    cmd = [sys.executable, "-m", "reward_lens.study", "run", "--out", str(out), "--preset", "ci"]
    proc = subprocess.Popen(cmd, env=_env(repo), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    # Stop it as soon as the first arm runs: the scheduler passes SIGTERM on and exits with 3.
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        pr = _progress(out)
        if pr and any(j["kind"] == "arm" and j["state"] == "running" for j in pr["jobs"].values()):
            break
        time.sleep(0.1)
    assert proc.poll() is None, proc.communicate()[0]
    proc.send_signal(signal.SIGTERM)
    log = proc.communicate(timeout=300)[0]
    assert proc.returncode == STOPPED, log
    pr = _progress(out)
    assert pr["state"] == "stopped" and pr["done"] < pr["total"], pr

    # Run again: the finished runs are skipped, the rest resume, and the results are whole.
    r = subprocess.run(cmd, env=_env(repo), capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"{pr['done']} of {pr['total']} runs already done" in r.stderr, r.stderr
    res = json.loads((out / "results.json").read_text())
    assert check_results(res) == []
    p = plan_mod.PRESETS["ci"]
    assert set(res["arms"]) == {"warm-start", *p.arms} and res["seeds"] == [0, 1]
    for arm in p.arms:
        if arm != "grpo":
            d = res["paired_vs_baseline"]["pass@1/id/T1"][arm]
            assert d["seeds"] == [0, 1] and d["n"] == 2
    for name in ("entropy", "training", "pass_at_k", "strategies"):
        assert (out / "plots" / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "pass@k, held-out" in (out / "report.md").read_text()

    # The encoder each arm used is in its run_start; the on-policy entropy in every step.
    def run_start(arm):
        return json.loads((out / "seed-0" / f"{arm}-seed0" / "events.jsonl").read_text().splitlines()[0])

    assert run_start("oger")["encoder"]["id"].startswith("hashed-ngrams:")
    assert run_start("oger-minilm")["encoder"]["id"].lower().find("minilm") >= 0
    assert run_start("grpo")["encoder"] is None
    steps = [json.loads(x) for x in (out / "seed-1" / "luffy-seed1" / "events.jsonl").read_text().splitlines()]
    assert all("actor/entropy_on_policy" in e["metrics"] for e in steps if e["type"] == "step" and e["step"] > 0)

    # Every run of both seeds is in the one store.
    node = shutil.which("node")
    st = subprocess.run([node, str(cli), "stats", "--db", str(out / "study.db"), "--json"], capture_output=True, text=True, timeout=120)
    assert st.returncode == 0, st.stderr
    assert json.loads(st.stdout)["runs"] == 2 * (1 + len(p.arms))
    assert res["store"]["malformed_lines"] == 0

    # A third run has nothing left to do.
    r = subprocess.run(cmd, env=_env(repo), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and f"{pr['total']} of {pr['total']} runs already done" in r.stderr


def test_a_stopped_run_resumes_from_its_checkpoint(tmp_path, repo):
    import dataclasses

    from reward_lens.study.task import write_task

    p = dataclasses.replace(plan_mod.PRESETS["ci"], steps=8)
    data = tmp_path / "data"
    write_task(data, 0, p.train_prompts, p.eval_prompts, p.eval_prompts, p.warm_styles)
    cfg = plan_mod.arm_config(p, 0, plan_mod.ARMS["oger"], data, data / "none.pt")
    cfg["init_from"] = None  # from random weights: the warm start is not what this test is about
    run_dir = tmp_path / "run"
    spec = tmp_path / "spec.json"
    one = {"greedy_prompts": 1, "prompts": 1, "temperatures": [1.0]}
    spec.write_text(json.dumps({"run_dir": str(run_dir), "config": cfg, "eval": {"samples": p.samples, "splits": {
        "id": {"path": str(data / "test-id.jsonl"), **one}, "ood": {"path": str(data / "test-ood.jsonl"), **one}}}}))
    cmd = [sys.executable, "-m", "reward_lens.study", "job", "--spec", str(spec)]
    proc = subprocess.Popen(cmd, env=_env(repo), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    events = run_dir / "events.jsonl"
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if events.exists() and any(json.loads(x)["type"] == "step" for x in events.read_text().splitlines()[:-1]):
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    log = proc.communicate(timeout=300)[0]
    assert proc.returncode == STOPPED, log
    ckpts = sorted((run_dir / "checkpoints").glob("step-*.pt"))
    assert ckpts and ckpts[-1].name < "step-000008.pt", ckpts
    assert not (run_dir / "eval.json").exists()

    r = subprocess.run(cmd, env=_env(repo), capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "resuming" in r.stdout + r.stderr
    lines = [json.loads(x) for x in events.read_text().splitlines()]
    assert [e["type"] for e in lines].count("run_start") == 1
    assert [e["status"] for e in lines if e["type"] == "run_end"] == ["stopped", "completed"]
    assert sorted({e["step"] for e in lines if e["type"] == "step"}) == list(range(1, 9))
    assert json.loads((run_dir / "eval.json").read_text())["checkpoint_step"] == 8
    assert [c.name for c in (run_dir / "checkpoints").glob("step-*.pt")] == ["step-000008.pt"]
