"""The trainer end to end on CPU: a tiny random policy, a tiny random BERT, the default verifier.

- 3 OGER steps whose events.jsonl validates against the protocol schema and that the TypeScript
  ingest (`node dist/cli.js ingest --json`) accepts with zero malformed lines;
- SIGTERM finishes the step, checkpoints and ends `stopped`; --resume continues the numbering in
  the same file and the same run;
- a failing run ends with `run_end` status `failed` and the reason.
"""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import PYTHON_DIR, ingest_with_cli

from reward_lens.demo_task import PROMPT_TEMPLATE, row
from reward_lens.events import validate_event

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(PYTHON_DIR)}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    from reward_lens.encoder import tiny_random_bert

    d = tmp_path_factory.mktemp("e2e")
    with (d / "train.jsonl").open("w") as f:
        for a, b in [(12, 34), (47, 38), (90, 19), (55, 55)]:
            f.write(json.dumps(row(a, b, True)) + "\n")
        f.write("this line is not JSON\n")  # counted and skipped, never fatal
    bert = tiny_random_bert(d / "bert")
    return d, bert


def write_config(d, bert, **over):
    cfg = {
        "model": {"tiny": {"arch": "qwen2", "hidden_size": 32, "layers": 1, "heads": 2, "max_positions": 128}},
        "data": str(d / "train.jsonl"),
        "variant": "oger",
        "replace": 1,
        "encoder": {"path": bert, "pooling": "cls", "max_length": 64},
        "prompt_template": PROMPT_TEMPLATE,
        "system_prompt": "",
        "rollout_n": 4,
        "batch_prompts": 2,
        "max_new_tokens": 64,
        "max_prompt_tokens": 32,
        "lr": 1e-3,
        "steps": 3,
        "sft_steps": 2,
        "sft_batch": 4,
        "device": "cpu",
        "token_entropy_stride": 4,
        "checkpoint_every": 0,
        "verifier_workers": 1,
        "threads": 1,
        **over,
    }
    path = d / f"config-{len(list(d.glob('config-*.json')))}.json"
    path.write_text(json.dumps(cfg))
    return path


def train(config, run_dir, *extra, timeout=900):
    return subprocess.run([sys.executable, "-m", "reward_lens.train", "--config", str(config), "--run-dir", str(run_dir), *extra], env=ENV, capture_output=True, text=True, timeout=timeout)


def read_events(run_dir):
    return [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]


def test_three_oger_steps_validate_and_ingest(workdir, tmp_path):
    d, bert = workdir
    run = tmp_path / "run"
    out = train(write_config(d, bert), run)
    assert out.returncode == 0, out.stderr[-3000:]
    events = read_events(run)
    for e in events:
        assert validate_event(e) == [], (e["type"], validate_event(e))
    types = [e["type"] for e in events]
    assert types[0] == "run_start" and types[-1] == "run_end" and events[-1]["status"] == "completed"
    # the warm start (sft_steps 2): before it (-3) and its last step (-1), then RL's step 0 and 1-3
    assert [e["step"] for e in events if e["type"] == "step"] == [-3, -1, 0, 1, 2, 3]
    assert [e.get("phase") for e in events if e["type"] == "step"][:3] == ["warm_start", "warm_start", "sft"]
    groups = [e for e in events if e["type"] == "group"]
    assert len(groups) == 3 * 2
    for g in groups:
        online = [t for t in g["trajectories"] if t["source"] == "online"]
        offline = [t for t in g["trajectories"] if t["source"] == "offline"]
        assert len(online) == 4 and len(offline) == 3
        assert sum(t["replaced"] for t in online) == 1 and sum(t["inserted"] for t in offline) == 1
        replaced = next(t for t in online if t["replaced"])
        assert replaced["advantage"] is None
        # the replaced member is the one with the lowest divergence (ties to the lower index)
        assert replaced["divergence"] == min(t["divergence"] for t in online)
        assert all(t["verdict"] == "correct" for t in offline)  # the teachers' traces are right
        assert all(t["entropy_last"] >= 0 for t in online)
        for t in online:
            # Offsets lie inside the text and increase, so the viewer keeps every value, H_last's
            # (the last) included; an empty response has no character to carry one.
            te = t.get("token_entropies")
            assert (te is not None) == (len(t["text"]) > 0)
            if te:
                assert te["offsets"] == sorted(set(te["offsets"])) and te["offsets"][-1] < len(t["text"])
                assert te["values"][-1] == round(t["entropy_last"], 6)
    step = next(e for e in events if e["type"] == "step" and e["step"] == 1)
    for key in ("batch/solve_none", "critic/score/mean", "actor/pg_loss", "actor/off_pg_loss", "actor/grad_norm", "oger/reward_mean", "batch/failed_ratio", "response_length/mean", "actor/entropy"):
        assert key in step["metrics"], key
    summary = ingest_with_cli(run / "events.jsonl", tmp_path / "store.db")
    assert summary["malformed"] == [] and summary["events"] == len(events) and summary["groups"] == 6


def test_sigterm_stops_then_resume_continues(workdir, tmp_path):
    d, bert = workdir
    run = tmp_path / "run"
    cfg = write_config(d, bert, variant="grpo", steps=500, sft_steps=0)
    proc = subprocess.Popen([sys.executable, "-m", "reward_lens.train", "--config", str(cfg), "--run-dir", str(run)], env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 600
    while time.time() < deadline:
        ev = run / "events.jsonl"
        if ev.exists() and '"type":"step"' in ev.read_text():
            break
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]
    events = read_events(run)
    end = events[-1]
    assert end["type"] == "run_end" and end["status"] == "stopped", end
    stopped_at = end["step"]
    assert 1 <= stopped_at < 500
    assert (run / "checkpoints" / f"step-{stopped_at:06d}.pt").is_file()

    out = train(write_config(d, bert, variant="grpo", steps=stopped_at + 2, sft_steps=0), run, "--resume")
    assert out.returncode == 0, out.stderr[-3000:]
    after = read_events(run)[len(events):]
    assert [e["type"] for e in after].count("run_start") == 0
    assert [e["step"] for e in after if e["type"] == "step"] == [stopped_at + 1, stopped_at + 2]
    assert after[-1]["status"] == "completed" and after[-1]["run_id"] == end["run_id"]
    for e in after:
        assert validate_event(e) == []


def test_failure_ends_with_reason(workdir, tmp_path):
    d, bert = workdir
    run = tmp_path / "run"
    out = train(write_config(d, bert, encoder={"path": str(tmp_path / "no-such-encoder")}), run)
    assert out.returncode == 1
    end = read_events(run)[-1]
    assert end["type"] == "run_end" and end["status"] == "failed"
    assert "no-such-encoder" in end["reason"]


def test_bad_config_exits_2_naming_the_field(workdir, tmp_path):
    d, bert = workdir
    out = train(write_config(d, bert, replace=-1), tmp_path / "run")
    assert out.returncode == 2
    assert "config.replace = -1: must be an integer >= 0" in out.stderr
    assert not (tmp_path / "run" / "events.jsonl").exists()
