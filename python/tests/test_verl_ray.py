"""The verl integration inside a local Ray cluster (ray.init(num_cpus=2), shut down after), on CPU.

- compute_score through verl's own RewardLoopManager: a reward-loop Ray actor runs verl's naive
  manager, which calls our function from its executor for all 64 rows at once; 0 lost.
- the Reward Lens trainer's group step (`RewardLensTrainer._compute_advantage`, the real method)
  on verl's real TransferQueue, with rows shaped as verl's agent loop writes them and the reward
  extra info our reward manager returned for them; then the step's events (schema-valid, ingested
  by `reward-lens ingest` with 0 malformed lines) and its dump (verl's _dump_generations, imported
  by `reward-lens import --verl` with the verdicts kept).

One Ray session for the module: its start-up is most of the time.
"""
from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from test_verl_integration import (
    EXPECTED_VERDICT,
    REPO,
    RUN_SIZE,
    batch_dataproto,
    compose,
    documented_overrides,
    qwen_tokenizer_dir,
    tiny_encoder,
    write_verifier,
)

import reward_lens.integrations.verl.plugin  # noqa: F401
from reward_lens.events import validate_event

ray = pytest.importorskip("ray")  # a dependency of verl: present wherever verl is


@pytest.fixture(scope="module")
def cluster():
    # Workers import reward_lens from this checkout, not from wherever the venv's install points.
    pythonpath = os.pathsep.join(p for p in [str(REPO / "python"), os.environ.get("PYTHONPATH", "")] if p)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": pythonpath, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}})
    try:
        where = ray.get(ray.remote(lambda: __import__("reward_lens").__file__).remote())
        assert Path(where).resolve().is_relative_to(REPO / "python"), f"Ray workers import reward_lens from {where}"
        yield
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def tokenizer_dir() -> Path:
    return qwen_tokenizer_dir()


def test_compute_score_inside_ray_through_verls_reward_loop_manager(cluster, tokenizer_dir):
    from transformers import AutoTokenizer
    from verl.experimental.reward_loop.reward_loop import RewardLoopManager

    config = compose(documented_overrides("verifier") + RUN_SIZE + [f"actor_rollout_ref.model.path={tokenizer_dir}"])
    manager = RewardLoopManager(config)  # starts reward.num_workers=1 reward-loop actor
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    data, kinds = batch_dataproto(tokenizer, prompts=16, per_prompt=4, teachers=False)
    out = manager.compute_rm_score(data)
    verdicts = list(out.non_tensor_batch["verdict"])
    assert verdicts == [EXPECTED_VERDICT[k] for k in kinds], [r for r in out.non_tensor_batch["verdict_reason"] if str(r).startswith("error")]
    assert out.batch["rm_scores"].sum(dim=1).tolist() == [1.0 if k == "correct" else 0.0 for k in kinds]
    assert set(out.meta_info["reward_extra_keys"]) == {"score", "acc", "verdict", "verdict_reason", "extracted_answer"}


def _agent_loop_rows(tokenizer, data, infos, entropy_rng: random.Random) -> tuple[list[str], list[dict], list[dict]]:
    """TransferQueue rows as verl's v1 agent loop writes them (agent_loop_tq._agent_loop_postprocess:
    the output's fields, the dataset row's fields, loss_mask, input_ids, position_ids), after the
    trainer's old_log_prob pass has added old_log_probs and entropy."""
    keys, fields, tags = [], [], []
    plen = data.batch["prompts"].shape[1]
    for row in range(len(data)):
        attn = data.batch["attention_mask"][row]
        prompt = data.batch["prompts"][row][attn[:plen].bool()]
        n = int(attn[plen:].sum())
        response = data.batch["responses"][row, :n]
        uid = str(data.non_tensor_batch["uid"][row])
        session = row % 4
        rm = torch.zeros(n, dtype=torch.float32)
        rm[-1] = 1.0 if infos[row]["verdict"] == "correct" else 0.0
        seq = torch.cat([prompt, response])
        keys.append(f"{uid}_{session}_0")
        fields.append({
            "prompts": prompt, "responses": response, "response_mask": torch.ones(n, dtype=torch.int64),
            "loss_mask": torch.ones(n, dtype=torch.int64), "input_ids": seq, "position_ids": torch.arange(seq.numel()),
            "rm_scores": rm, "old_log_probs": -torch.rand(n) * 2,
            "entropy": torch.tensor([entropy_rng.uniform(0.0, 2.5) for _ in range(n)], dtype=torch.float32),
            "extra_fields": {"reward_extra_info": infos[row]}, "num_turns": 2, "multi_modal_inputs": {},
            "uid": uid, "data_source": "math", "reward_model": dict(data.non_tensor_batch["reward_model"][row]),
            "extra_info": dict(data.non_tensor_batch["extra_info"][row]),
        })
        tags.append({"status": "success", "prompt_len": int(prompt.numel()), "response_len": n, "seq_len": int(seq.numel()),
                     "global_steps": 1, "min_global_steps": 0, "max_global_steps": 0})
    return keys, fields, tags


def _cli(*args: str) -> subprocess.CompletedProcess:
    cli = REPO / "dist" / "cli.js"
    assert cli.is_file(), "dist/cli.js is missing: run npm run build (scripts/test.d/20-python.sh does)"
    return subprocess.run(["node", str(cli), *args], capture_output=True, text=True, timeout=300)


def test_trainer_group_step_on_verls_transferqueue_then_events_and_dump_into_reward_lens(cluster, tokenizer_dir, tmp_path):
    import transfer_queue as tq
    from omegaconf import OmegaConf
    from transfer_queue import KVBatchMeta
    from transformers import AutoTokenizer
    from verl.experimental.reward_loop.reward_loop import RewardLoopWorker
    from verl.trainer.ppo.core_algos import compute_grpo_outcome_advantage
    from verl.utils.tensordict_utils import list_of_dict_to_tensordict

    from reward_lens.integrations.verl.events import run_end_event
    from reward_lens.integrations.verl.loss import OFF_POLICY_OLD_LOG_PROB
    from reward_lens.integrations.verl.trainer import RewardLensTrainer

    run_dir = tmp_path / "oger-verl"
    spec = write_verifier(tmp_path / "verifier.py")
    config = compose(documented_overrides("oger") + RUN_SIZE + [
        f"actor_rollout_ref.model.path={tokenizer_dir}", f"+reward_lens.verifier={spec}", f"++reward_lens.run_dir={run_dir}",
        f"+reward_lens.encoder.path={tiny_encoder(tmp_path)}", "+reward_lens.run_id=verl-oger-test", "actor_rollout_ref.rollout.response_length=64"])
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    data, kinds = batch_dataproto(tokenizer, prompts=4, per_prompt=4, teachers=True, boom_row=6)
    # 1. the reward manager, through verl's reward-loop worker, gives each row its verdict and D
    worker = RewardLoopWorker(config)
    infos = [o["reward_extra_info"] for o in asyncio.run(worker.compute_score_batch(data))]
    assert [i["verdict"] for i in infos] == [EXPECTED_VERDICT[k] for k in kinds]

    # 2. the rows in verl's TransferQueue, as the agent loop and the old_log_prob pass leave them
    tq.init(OmegaConf.create({"backend": {"SimpleStorage": {"num_data_storage_units": 1, "total_storage_size": 1000}}}))
    try:
        keys, fields, tags = _agent_loop_rows(tokenizer, data, infos, random.Random(5))
        tq.kv_batch_put(keys=keys, partition_id="train", fields=list_of_dict_to_tensordict(fields), tags=tags)

        # 3. the trainer, built by verl's own __init__; init() (GPU workers, rollout servers) is not
        # called, so the two things it would set for these methods are set here.
        trainer = RewardLensTrainer(config)
        trainer.tokenizer = tokenizer
        trainer.global_steps = 1
        trainer._init_dump_executor()
        trainer._rl_open_events()
        batch = trainer._compute_advantage(KVBatchMeta(keys=keys, tags=tags, partition_id="train"), {})
        verl_metrics = {"actor/pg_loss": np.float32(-0.03), "actor/entropy": torch.tensor(1.2), "timing_s/gen": 3.5,
                        "perf/mfu/actor": float("nan"), "critic/score/mean": 0.5, "training/global_step": 1, "note": "text is not a metric",
                        "response_length/clip ratio": 0.0}
        trainer._rl_write_step(1, verl_metrics)
        trainer._log_rollout_data(batch, {}, str(run_dir / "rollouts"))
        trainer._shutdown_dump_executor()
        trainer.rl_events.write(run_end_event("verl-oger-test", "completed", 1))
        trainer.rl_events.close()

        got = tq.kv_batch_get(keys=keys, partition_id="train", select_fields=["advantages", "responses", "old_log_probs", "rm_scores", "response_mask", "input_ids"])
    finally:
        tq.close()

    rows = trainer.rl_step_rows
    replaced = [k for k in keys if rows[k]["source"] == "offline"]
    assert len(replaced) == 4, "one member replaced per prompt (replace=1, every prompt has teachers)"
    adv_rows = [r for r in (got["advantages"].unbind() if got["advantages"].is_nested else got["advantages"])]
    resp_rows = got["responses"].unbind()
    old_rows = got["old_log_probs"].unbind()
    for i, key in enumerate(keys):
        r = rows[key]
        assert torch.allclose(adv_rows[i], torch.full_like(adv_rows[i], r["advantage"]), atol=1e-6)
        if key in replaced:
            teacher_ids = tokenizer.encode(r["output"], add_special_tokens=False) + [tokenizer.eos_token_id]
            assert resp_rows[i].tolist() == teacher_ids
            assert torch.all(old_rows[i] == OFF_POLICY_OLD_LOG_PROB)
            assert r["verdict"] == "correct" and r["teacher"] in ("R1", None)
        else:
            assert torch.all(old_rows[i] < 0)
    # verl's own GRPO on the trained rewards (R_total at the last token) gives the same advantages
    lengths = [int(t.numel()) for t in resp_rows]
    width = max(lengths)
    scores = torch.zeros(len(keys), width)
    mask = torch.zeros(len(keys), width, dtype=torch.int64)
    for i, (key, n) in enumerate(zip(keys, lengths)):
        scores[i, n - 1] = rows[key]["r_total"]
        mask[i, :n] = 1
    verl_adv, _ = compute_grpo_outcome_advantage(scores, mask, np.array([k.rsplit("_", 2)[0] for k in keys], dtype=object))
    assert torch.allclose(verl_adv[:, 0], torch.tensor([rows[k]["advantage"] for k in keys]), atol=1e-5)
    # the verifier error stays an error, scored 0, in the trained rows
    boom = rows[keys[6]]
    assert boom["verdict"] == "error" and "exploded on purpose" in boom["verdict_reason"] and boom["r_total"] == 0.0

    # 4. events: schema-valid, then ingested by the TypeScript ingest with 0 malformed lines
    lines = (run_dir / "events.jsonl").read_text(encoding="utf-8").splitlines()
    events = [json.loads(line) for line in lines]
    assert [e["type"] for e in events] == ["run_start", "group", "group", "group", "group", "step", "run_end"]
    for e in events:
        assert validate_event(e) == [], (e["type"], validate_event(e))
    step = events[5]["metrics"]
    assert step["actor/pg_loss"] == pytest.approx(-0.03) and step["perf/mfu/actor"] is None and "note" not in step
    assert "response_length/clip_ratio" in step and step["oger/replaced"] == 4.0
    group = events[2]
    online = [t for t in group["trajectories"] if t["source"] == "online"]
    assert sum(t["replaced"] for t in online) == 1 and all(t["advantage"] is None for t in online if t["replaced"])
    assert all(t["r_oger"] == pytest.approx(t["divergence"] * np.exp(-t["entropy_last"]) * t["r_m"]) for t in online)
    # the trainer's teacher rule (docs/conventions.md): outside the final group, no R_total and no A
    offline = [t for t in group["trajectories"] if t["source"] == "offline"]
    assert any(not t["inserted"] for t in offline)
    assert all(t["r_total"] is None and t["advantage"] is None for t in offline if not t["inserted"])
    db = tmp_path / "runs.db"
    res = _cli("ingest", str(run_dir / "events.jsonl"), "--db", str(db), "--json")
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert summary["malformed"] == [] and summary["groups"] == 4 and summary["trajectories"] == 16 + 8

    # 5. the dump, written by verl's _dump_generations, imported with the verdicts kept
    res = _cli("import", "--verl", str(run_dir / "rollouts"), "--db", str(tmp_path / "dump.db"), "--json")
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert summary["malformed"] == [] and summary["groups"] == 4 and summary["trajectories"] == 16
    dump = [json.loads(line) for line in (run_dir / "rollouts" / "1.jsonl").read_text(encoding="utf-8").splitlines()]
    assert sorted(r["verdict"] for r in dump).count("error") == 1
