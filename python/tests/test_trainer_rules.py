"""The trainer's rules, one test each, on tiny CPU models (char tokenizer) in-process:

- statistics (H_last, old log-probs) come from the eval-mode policy: no dropout noise in R_OGER;
- LoRA with gradient checkpointing: the adapters learn;
- PPO mini-batches and epochs: several optimizer steps per RL step, so clipping can happen;
- teachers: only verifier-correct ones count and can be inserted; an errored verdict is retried;
- checkpoints carry the CUDA RNG states; the paper's evaluation defaults; LUFFY's teacher text.
"""

import copy
import json
import random
import subprocess
import sys

import pytest
import torch
from conftest import PYTHON_DIR

from reward_lens import config as config_mod
from reward_lens.chartok import CharTokenizer
from reward_lens.demo_task import PROMPT_TEMPLATE, row


def data_file(tmp_path, pairs=((12, 34), (47, 38), (90, 19), (55, 55))):
    f = tmp_path / "train.jsonl"
    f.write_text("".join(json.dumps(row(a, b, True)) + "\n" for a, b in pairs))
    return f


def tiny_config(tmp_path, **over):
    base = {
        "model": {"tiny": {"arch": "qwen2", "hidden_size": 32, "layers": 1, "heads": 2, "max_positions": 128}},
        "data": str(data_file(tmp_path)), "variant": "grpo", "replace": 0, "prompt_template": PROMPT_TEMPLATE, "system_prompt": "",
        "rollout_n": 4, "batch_prompts": 2, "max_new_tokens": 64, "max_prompt_tokens": 32, "lr": 1e-3, "steps": 1,
        "device": "cpu", "bf16": False, "checkpoint_every": 0, "verifier_workers": 1, "threads": 1, "token_entropy_stride": 4,
    }
    base.update(over)
    return config_mod.from_dict(base)


def make_trainer(tmp_path, **over):
    from reward_lens.train import Trainer

    run = tmp_path / "run"
    run.mkdir(exist_ok=True)
    return Trainer(tiny_config(tmp_path, **over), run, resume=False)


def events_of(trainer):
    return [json.loads(line) for line in (trainer.run_dir / "events.jsonl").read_text().splitlines()]


def test_statistics_come_from_the_eval_mode_policy(tmp_path):
    """GPT-2 has dropout 0.1: H_last computed in train mode would be a noisy draw. Each logged
    H_last equals the eval-mode entropy of the policy that sampled it (recomputed naively)."""
    tr = make_trainer(tmp_path, model={"tiny": {"arch": "gpt2", "hidden_size": 32, "layers": 1, "heads": 2, "max_positions": 128}}, entropy_coef=0.0)
    before = copy.deepcopy(tr.model).eval()
    sampled = []
    real = tr._generate
    tr._generate = lambda *a, **k: sampled.append(real(*a, **k)) or sampled[-1]
    tr.rl_step()
    tr.events.close()
    groups = [e for e in events_of(tr) if e["type"] == "group"]
    tok = CharTokenizer()
    for g, group in enumerate(groups):
        prompt = tok.encode(group["prompt"])
        online = [t for t in group["trajectories"] if t["source"] == "online"]
        for t, ids in zip(online, sampled[0][g]):
            with torch.no_grad():
                logits = before(input_ids=torch.tensor([prompt + ids])).logits[0, len(prompt) + len(ids) - 2]
            h = float(-(torch.softmax(logits, -1) * torch.log_softmax(logits, -1)).sum())
            assert abs(t["entropy_last"] - h) < 1e-4, (t["entropy_last"], h)


def transformers4_checkpointing(self, gradient_checkpointing_kwargs=None):
    """transformers 4.x's gradient_checkpointing_enable (pyproject allows >= 4.40): reentrant unless
    told otherwise, and the input-grad hook only for PEFT loaded through transformers itself. With
    a PeftModel wrapper nothing then requires grad at the first checkpointed layer, and the adapters
    get no gradient. transformers 5 defaults to non-reentrant and always adds the hook, so the
    installed version alone cannot show the failure."""
    import functools

    from torch.utils.checkpoint import checkpoint

    kwargs = gradient_checkpointing_kwargs if gradient_checkpointing_kwargs is not None else {"use_reentrant": True}
    self._set_gradient_checkpointing(enable=True, gradient_checkpointing_func=functools.partial(checkpoint, **kwargs))
    if getattr(self, "_hf_peft_config_loaded", False):
        self.enable_input_require_grads()


@pytest.mark.parametrize("checkpointing", ["installed transformers", "transformers 4.x behaviour"])
def test_lora_with_gradient_checkpointing_trains_the_adapters(tmp_path, monkeypatch, checkpointing):
    pytest.importorskip("peft")
    import transformers

    from reward_lens.logprobs import response_logprobs
    from reward_lens.policy import build_policy

    if checkpointing != "installed transformers":
        monkeypatch.setattr(transformers.PreTrainedModel, "gradient_checkpointing_enable", transformers4_checkpointing)
    cfg = tiny_config(tmp_path, lora={"r": 4, "alpha": 8}, gradient_checkpointing=True)
    model, tok = build_policy(cfg, torch.device("cpu"))
    model.train()
    lora = {n: p.detach().clone() for n, p in model.named_parameters() if "lora_" in n}
    assert lora and all(p.requires_grad == ("lora_" in n) for n, p in model.named_parameters())
    assert any(getattr(m, "gradient_checkpointing", False) for m in model.modules())
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.5)
    st = response_logprobs(model, [tok.encode("Q: 1+2\n<think>\n")], [tok.encode("1+2=3\n</think>\n\\boxed{3}") + [tok.eos_token_id]])
    (-st.logp.sum()).backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for n, p in model.named_parameters() if "lora_B" in n)
    opt.step()
    assert any(not torch.equal(lora[n], p.detach()) for n, p in model.named_parameters() if "lora_B" in n)


def test_ppo_mini_batches_and_epochs_step_the_optimizer_per_mini_batch(tmp_path):
    # luffy: the inserted teacher (R = 1) beside wrong online members gives non-zero advantages.
    tr = make_trainer(tmp_path, variant="luffy", replace=1, batch_prompts=2, ppo_mini_batch=1, ppo_epochs=2, clip_ratio_low=0.2, clip_ratio_high=0.2, lr=0.05, max_tokens_per_micro_batch=128)
    calls = []
    real = tr.opt.step
    tr.opt.step = lambda *a, **k: (calls.append(1), real(*a, **k))[1]
    m = tr.rl_step()
    tr.events.close()
    assert len(calls) == 4 and m["actor/optimizer_steps"] == 4.0  # 2 mini-batches x 2 epochs
    assert m["actor/micro_batches"] > 4  # 128-token budget: the rows of a mini-batch are split further
    # After the first optimizer step the policy has moved: with lr 0.05 some ratios leave [0.8, 1.2].
    assert m["actor/pg_clipfrac"] > 0


def test_only_correct_teachers_count_and_an_errored_verdict_is_retried(tmp_path):
    """Teacher 'decompose' is wrong, 'compensate' errors on its first verification: neither may be
    inserted nor counted in M; the error is verified again next step and then cached."""
    tr = make_trainer(tmp_path, variant="luffy", replace=1, batch_prompts=1, steps=3)
    real = tr.verify_fn
    seen: dict[str, int] = {}

    def verify(items, **kw):
        out = real(items, **kw)
        for it, r in zip(items, out):
            if it["id"].endswith("/t1"):
                r.update(correct=False, reason="mismatch: made wrong for the test")
            if it["id"].endswith("/t2"):
                seen[it["id"]] = seen.get(it["id"], 0) + 1
                if seen[it["id"]] == 1:
                    r.update(correct=None, reason="error: timeout after 5s")
        return out

    tr.verify_fn = verify
    for _ in range(3):
        tr.cursor = 0  # the same prompt every step
        tr.order = [0]
        tr.rl_step()
    tr.events.close()
    groups = [e for e in events_of(tr) if e["type"] == "group"]
    assert {g["prompt_id"] for g in groups} == {tr.items[0].id}
    first = {t["teacher"]: t for t in groups[0]["trajectories"] if t["source"] == "offline"}
    assert first["decompose"]["verdict"] == "wrong" and not first["decompose"]["inserted"] and first["decompose"]["r_total"] is None
    assert first["compensate"]["verdict"] == "error" and not first["compensate"]["inserted"] and first["compensate"]["r_total"] is None
    assert first["column"]["inserted"] and first["column"]["r_total"] == 1.0  # the only eligible teacher
    second = {t["teacher"]: t for t in groups[1]["trajectories"] if t["source"] == "offline"}
    assert second["compensate"]["verdict"] == "correct"  # verified again, now correct
    assert list(seen.values()) == [2]  # ... and cached after that: no third verification
    for g in groups:
        assert sum(t["inserted"] for t in g["trajectories"]) == 1
        assert all(t["teacher"] != "decompose" for t in g["trajectories"] if t["inserted"])


def test_checkpoint_rng_states_include_cuda(monkeypatch):
    from reward_lens import train

    restored = []
    monkeypatch.setattr(train.torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(train.torch.cuda, "get_rng_state_all", lambda: ["cuda0-state", "cuda1-state"])
    monkeypatch.setattr(train.torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(train.torch.cuda, "set_rng_state_all", lambda states: restored.append(list(states)))
    rng = random.Random(5)
    state = train.capture_rng_states(rng)
    assert state["cuda_rng"] == ["cuda0-state", "cuda1-state"]
    a = [rng.random(), random.random()]
    train.restore_rng_states(state, rng)
    assert [rng.random(), random.random()] == a and restored == [["cuda0-state", "cuda1-state"]]


def test_paper_evaluation_defaults():
    from reward_lens.config import TrainConfig
    from reward_lens.eval import paper_samples

    cfg = TrainConfig()
    assert cfg.eval_temperature == 0.8 and cfg.eval_samples == 1
    assert paper_samples("data/aime24.jsonl") == 32 and paper_samples("AMC23.parquet") == 32 and paper_samples("math500.jsonl") == 1


def test_teacher_response_drops_only_a_repeated_opening():
    from reward_lens.data import teacher_response

    assert teacher_response("...assistant\n<think>\n", "<think>\nstep\n</think>\nx", "<think>\n") == "step\n</think>\nx"
    assert teacher_response("...assistant\n", "<think>\nstep", "<think>\n") == "<think>\nstep"  # the prompt does not open it
    assert teacher_response("...<think>\n", "step", "<think>\n") == "step"
    assert teacher_response("...<think>\n", "<think>\nstep", "") == "<think>\nstep"


def test_warm_start_trains_on_the_stripped_teacher(tmp_path):
    f = tmp_path / "t.jsonl"
    f.write_text(json.dumps({"prompt": "1+2", "gold": "3", "teachers": [{"teacher": "r1", "text": "<think>\n1+2=3\n</think>\n\\boxed{3}"}]}) + "\n")
    tr = make_trainer(tmp_path, data=str(f), sft_steps=1, sft_batch=1)
    tok = CharTokenizer()
    (it,) = tr.items
    assert it.prompt_text.endswith("<think>\n")
    assert it.teachers[0].ids == tok.encode("1+2=3\n</think>\n\\boxed{3}") + [tok.eos_token_id]
    tr.events.close()


def test_check_config_prints_a_memory_estimate(tmp_path, qwen25_folder):
    cfg = {"model": str(qwen25_folder), "data": str(data_file(tmp_path)), "max_new_tokens": 2048, "max_prompt_tokens": 1024}
    path = tmp_path / "c.json"
    path.write_text(json.dumps(cfg))
    env = {"PYTHONPATH": str(PYTHON_DIR), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "CUDA_VISIBLE_DEVICES": ""}
    out = subprocess.run([sys.executable, "-m", "reward_lens.train", "--config", str(path), "--run-dir", str(tmp_path / "r"), "--check-config"], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.splitlines()[0])["max_new_tokens"] == 2048
    assert "memory estimate (peak" in out.stderr and "log-prob head (512-token chunks)" in out.stderr and "optimizer (AdamW)" in out.stderr
    assert "no CUDA device visible" in out.stderr


def test_memory_estimate_warns_above_the_device():
    from reward_lens.config import TrainConfig
    from reward_lens.memory import estimate
    from reward_lens.model_info import ModelInfo

    qwen15 = ModelInfo("t", "Qwen2ForCausalLM", 151936, 1536, 8960, 28, 12, 2, 4096, True, 10000.0, None, 0.0, "bfloat16")
    assert 1.4e9 < qwen15.parameters() < 1.7e9  # Qwen2.5-1.5B has 1.54B
    est = estimate(TrainConfig(gradient_checkpointing=True, max_tokens_per_micro_batch=16384), qwen15, "cuda:0 test", 16 * 1024**3)
    assert est.peak > 16 * 1024**3 and "exceeds the visible device" in est.warning()
    big = estimate(TrainConfig(gradient_checkpointing=True), qwen15, "cuda:0 test", 141 * 1024**3)
    assert big.warning() is None
    no_ckpt = estimate(TrainConfig(gradient_checkpointing=False), qwen15, "cuda:0 test", 141 * 1024**3)
    assert no_ckpt.peak > big.peak


def test_context_longer_than_the_model_is_refused(tmp_path, qwen25_folder):
    with pytest.raises(config_mod.ConfigError) as e:
        config_mod.from_dict({"model": str(qwen25_folder), "data": str(data_file(tmp_path)), "max_prompt_tokens": 1024, "max_new_tokens": 4000})
    msg = str(e.value)
    assert "config.max_new_tokens = 4000: max_prompt_tokens (1024) + max_new_tokens (4000) = 5024 exceeds the model's max_position_embeddings (4096" in msg


def test_replaced_fields_say_what_replaced_them(tmp_path):
    with pytest.raises(config_mod.ConfigError, match="config.micro_batch = 64: replaced by max_tokens_per_micro_batch"):
        config_mod.from_dict({"model": {"tiny": {}}, "data": str(data_file(tmp_path)), "micro_batch": 64})
    with pytest.raises(config_mod.ConfigError, match=r"config.ppo_mini_batch = 9: cannot exceed batch_prompts \(8\)"):
        config_mod.from_dict({"model": {"tiny": {}}, "data": str(data_file(tmp_path)), "ppo_mini_batch": 9, "max_new_tokens": 64, "max_prompt_tokens": 64})
