"""The trainer's warm start (warm_start.py): config validation, OXA's selection and objective in a
real (tiny) run, the warm-start events, and stop/resume inside the warm start.

In-process runs of the real Trainer on a 1-layer random policy and the default verifier.
"""

import json

import pytest
from conftest import ingest_with_cli

from reward_lens import config as config_mod
from reward_lens.config import ConfigError
from reward_lens.demo_task import PROMPT_TEMPLATE, row
from reward_lens.events import validate_event
from reward_lens.train import Trainer
from reward_lens.warm_start import SELECTION_FILE, event_step, quantile, resolve_request

PAIRS = [(12, 34), (47, 38), (90, 19), (55, 55), (23, 61), (38, 44)]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("warm")
    with (d / "train.jsonl").open("w") as f:
        for a, b in PAIRS:
            f.write(json.dumps(row(a, b, True)) + "\n")
    return d


def cfg_dict(d, **over):
    return {
        "model": {"tiny": {"arch": "qwen2", "hidden_size": 32, "layers": 1, "heads": 2, "max_positions": 128}},
        "data": str(d / "train.jsonl"),
        "variant": "grpo",
        "replace": 0,
        "prompt_template": PROMPT_TEMPLATE,
        "system_prompt": "",
        "rollout_n": 2,
        "batch_prompts": 2,
        "max_new_tokens": 64,
        "max_prompt_tokens": 32,
        "lr": 1e-3,
        "steps": 1,
        "device": "cpu",
        "checkpoint_every": 0,
        "verifier_workers": 1,
        "threads": 1,
        **over,
    }


def problems(d, **over):
    with pytest.raises(ConfigError) as e:
        config_mod.from_dict(cfg_dict(d, **over))
    return e.value.problems


# -- config -------------------------------------------------------------------------------------


def test_config_errors_name_the_field(data):
    p = problems(data, warm_start={"method": "dpo", "steps": 3})
    assert any(x.startswith("config.warm_start.method = \"dpo\"") for x in p)
    p = problems(data, warm_start={"method": "oxa"})
    assert any(x.startswith("config.warm_start.steps = null: is required") for x in p)
    p = problems(data, warm_start={"method": "sft", "steps": 3, "lambda": 0.1})
    assert p == ['config.warm_start.lambda = 0.1: only for method oxa']
    p = problems(data, warm_start={"method": "oxa", "steps": 3, "mu": "high", "sigma": 0, "ppl_range": [5, 1], "batch": 0, "typo": 1})
    assert {x.split(" = ")[0] for x in p} == {"config.warm_start.mu", "config.warm_start.sigma", "config.warm_start.ppl_range", "config.warm_start.batch", "config.warm_start.typo"}
    p = problems(data, sft_steps=5, warm_start={"method": "oxa", "steps": 3})
    assert any(x.startswith("config.sft_steps = 5: is a shorthand") for x in p)


def test_sft_steps_is_a_shorthand_and_a_validated_config_validates_again(data):
    cfg = config_mod.from_dict(cfg_dict(data, sft_steps=7, sft_lr=2e-3, sft_batch=5))
    assert cfg.warm_start["method"] == "sft" and cfg.warm_start["steps"] == 7 and cfg.warm_start["lr"] == 2e-3 and cfg.warm_start["batch"] == 5
    again = config_mod.from_dict(cfg.to_dict())
    assert again.warm_start == cfg.warm_start
    oxa = config_mod.from_dict(cfg_dict(data, warm_start={"method": "oxa", "steps": 3}))
    assert oxa.warm_start["lambda"] == 1e-4 and oxa.warm_start["mu"] == "auto"
    assert config_mod.from_dict(oxa.to_dict()).warm_start == oxa.warm_start


def test_auto_request_from_the_pool():
    pool = [1.0, 2.0, 3.0, 4.0, 5.0]
    ws = {"ppl_range": "auto", "bin_width": "auto", "mu": "auto", "sigma": "auto", "n": None, "max_per_question": 1}
    r = resolve_request(ws, pool)
    assert r["mu"] == quantile(pool, 0.75) == 4.0
    assert r["sigma"] == (4.0 - 2.0) / 2
    assert r["ppl_range"][0] == 1.0 and r["ppl_range"][1] > 5.0  # the maximum stays inside [lo, hi)
    assert r["bin_width"] == pytest.approx((r["ppl_range"][1] - 1.0) / 80)
    assert r["n"] == 2
    fixed = resolve_request({**ws, "ppl_range": [1, 5], "bin_width": 0.05, "mu": 2.5, "sigma": 0.25, "n": 3}, pool)
    assert fixed == {"mu": 2.5, "sigma": 0.25, "n": 3, "ppl_range": [1.0, 5.0], "bin_width": 0.05, "max_per_question": 1}
    # a fixed range: mu and sigma come from the traces inside it, not from alien ones far above
    wide = [1.0, 1.5, 2.0, 2.5, 3.0, 900.0, 1200.0, 1500.0, 4000.0]
    ranged = resolve_request({**ws, "ppl_range": [1, 5], "bin_width": 0.05}, wide)
    assert ranged["mu"] == quantile([1.0, 1.5, 2.0, 2.5, 3.0], 0.75) == 2.5 and ranged["sigma"] == (2.5 - 1.5) / 2
    flat = resolve_request(ws, [3.0, 3.0])
    assert flat["sigma"] > 0 and flat["ppl_range"] == [3.0, 4.0]


# -- runs ---------------------------------------------------------------------------------------


def run_trainer(d, run_dir, warm_start, resume=False, stop_after=None, **over):
    cfg = config_mod.from_dict(cfg_dict(d, warm_start=warm_start, **over))
    t = Trainer(cfg, run_dir, resume)
    if stop_after is not None:
        from reward_lens import warm_start as ws_mod

        calls = {"n": 0}
        real = ws_mod.WarmStart._step_oxa if warm_start["method"] == "oxa" else ws_mod.WarmStart._step_sft

        def counting(self, *a):
            calls["n"] += 1
            if calls["n"] == stop_after:
                t.stop.flag = True  # as SIGTERM does: this step finishes, then the trainer stops
            return real(self, *a)

        name = "_step_oxa" if warm_start["method"] == "oxa" else "_step_sft"
        setattr(ws_mod.WarmStart, name, counting)
        try:
            status = t.run()
        finally:
            setattr(ws_mod.WarmStart, name, real)
    else:
        status = t.run()
    t.events.write({"type": "run_end", "run_id": t.run_id, "status": status, "step": t.step})
    t.events.close()
    return status, t


def events(run_dir):
    return [json.loads(x) for x in (run_dir / "events.jsonl").read_text().splitlines()]


OXA = {"method": "oxa", "steps": 4, "batch": 3, "lr": 1e-3, "log_every": 2, "entropy_probe_prompts": 2, "n": 4, "suppress_samples": 2, "suppress_k": 3}


def test_oxa_warm_start_selects_trains_and_streams_its_phase(data, tmp_path):
    run = tmp_path / "run"
    status, t = run_trainer(data, run, OXA)
    assert status == "completed" and t.sft_done and t.warm_step == 4
    sel = json.loads((run / SELECTION_FILE).read_text())
    assert sel["conditioning"] == "question"
    assert sel["counts"]["teachers"] == len(PAIRS) * 3 and sel["counts"]["teachers_correct"] == len(PAIRS) * 3
    # n = 4 by Gaussian quotas: what a short bin could not fill stays unfilled (never topped up)
    assert len(sel["promote"]) + sum(q - filled for _, q, filled in sel["short_bins"]) == 4 and sel["promote"]
    assert len({p["item"] for p in sel["promote"]}) == len(sel["promote"])  # max_per_question 1
    assert 0 < len(sel["suppress"]) <= 3 and all(s["ppl"] >= 1.2 for s in sel["suppress"])
    assert sum(sel["histogram"]["selected"]) == len(sel["promote"]) and sum(sel["histogram"]["pool"]) == len(PAIRS) * 3
    evs = events(run)
    for e in evs:
        assert validate_event(e) == [], e
    warm = [e for e in evs if e.get("phase") == "warm_start"]
    assert [e["step"] for e in warm] == [event_step(0, 4), event_step(2, 4), event_step(4, 4)] == [-5, -3, -1]
    first, last = warm[0], warm[-1]
    assert first["ppl_histogram"]["edges"] and first["metrics"]["sft/oxa_promote_selected"] == len(sel["promote"])
    assert first["metrics"]["actor/entropy_on_policy"] > 0
    for k in ("sft/loss", "sft/nll", "sft/unlikelihood", "sft/entropy_promote", "sft/entropy_suppress", "actor/entropy_on_policy", "sft/lr"):
        assert last["metrics"][k] is not None and last["metrics"][k] >= 0, k
    # the loss is NLL + λ·UL with λ = 1e-4
    assert last["metrics"]["sft/loss"] == pytest.approx(last["metrics"]["sft/nll"] + 1e-4 * last["metrics"]["sft/unlikelihood"], rel=1e-5)
    step0 = next(e for e in evs if e["type"] == "step" and e["step"] == 0)
    assert step0["phase"] == "sft" and step0["metrics"]["actor/entropy_on_policy"] > 0
    assert [e["step"] for e in evs if e["type"] == "step" and e.get("phase") is None] == [1]
    # the store takes negative warm-start steps (Reward Lens' own ingest: zero malformed lines)
    report = ingest_with_cli(run / "events.jsonl", tmp_path / "s.db")
    assert report["malformed"] == [] and report["events"] == len(evs), report


def test_a_stop_inside_the_warm_start_resumes_there(data, tmp_path):
    run = tmp_path / "run"
    ws = {"method": "sft", "steps": 5, "batch": 3, "log_every": 1, "entropy_probe_prompts": 0}
    status, t = run_trainer(data, run, ws, stop_after=2, checkpoint_every=1)
    assert status == "stopped" and not t.sft_done and t.warm_step == 2
    assert not any(e["type"] == "step" and e["step"] >= 0 for e in events(run))  # no step-0 record yet
    status, t = run_trainer(data, run, ws, resume=True, checkpoint_every=1)
    assert status == "completed" and t.sft_done and t.warm_step == 5
    warm_steps = [e["step"] for e in events(run) if e.get("phase") == "warm_start"]
    assert warm_steps == [-6, -5, -4, -3, -2, -1]  # before, 1, 2 | resumed: 3, 4, 5, no step redone


def test_oxa_resume_reads_its_selection_back(data, tmp_path):
    run = tmp_path / "run"
    status, _ = run_trainer(data, run, OXA, stop_after=1, checkpoint_every=1)
    assert status == "stopped"
    before = (run / SELECTION_FILE).read_text()
    status, t = run_trainer(data, run, OXA, resume=True, checkpoint_every=1)
    assert status == "completed" and t.warm_step == 4
    assert (run / SELECTION_FILE).read_text() == before
