"""The Hugging Face path on Qwen2.5's real vocabulary (tests/realvocab.py) and LUFFY's data layout.

- the tokenizer folder behaves as Qwen2.5's (ids of the special tokens, `<think>` as three tokens);
- every prompt ends with the opening `<think>\\n` exactly once, after the chat template's assistant
  header (or the "-think" template's own);
- generation ignores the model folder's generation_config (its top_k, repetition penalty, ...);
- two OGER steps on rows in LUFFY's parquet layout (the real prompts and system prompt of
  ../shared/data/eval/luffy_valid.parquet, with teacher targets added): the prompt tokens end in the
  opening tag, each teacher's tokens follow it without a second one, only the verifier-correct
  teacher counts, the format-gate warning fires for a random policy, and the events validate and
  ingest with zero malformed lines.
"""

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from conftest import REPO, ingest_with_cli
from realvocab import THINK_CHATML_TEMPLATE

from reward_lens.events import validate_event

LUFFY_VALID = REPO.parent / "shared" / "data" / "eval" / "luffy_valid.parquet"
THINK = "<think>\n"


@pytest.fixture(scope="module")
def hf_tok(qwen25_folder):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(qwen25_folder)


def test_the_folder_is_qwen25s_vocabulary(qwen25_folder, hf_tok):
    from transformers import AutoConfig

    assert len(hf_tok) == 151665 and AutoConfig.from_pretrained(qwen25_folder).vocab_size == 151936
    assert hf_tok.convert_tokens_to_ids(["<|endoftext|>", "<|im_start|>", "<|im_end|>"]) == [151643, 151644, 151645]
    assert len(hf_tok.encode("<think>", add_special_tokens=False)) == 3
    assert len(hf_tok.encode("12345", add_special_tokens=False)) == 5  # digits one per token


def test_prompt_ends_with_one_opening_tag(hf_tok):
    from reward_lens.policy import TokenizerAdapter

    tok = TokenizerAdapter(hf_tok, "hf")
    text = tok.format_prompt("What is 1+1?", "SYSTEM", None, THINK)
    assert text.endswith("<|im_start|>assistant\n" + THINK) and text.count("<|im_start|>assistant") == 1
    # LUFFY's "-think" template already opens the reasoning: nothing is added.
    saved = hf_tok.chat_template
    try:
        hf_tok.chat_template = THINK_CHATML_TEMPLATE
        assert tok.format_prompt("What is 1+1?", "SYSTEM", None, THINK).endswith("<|im_start|>assistant\n" + THINK)
        assert not tok.format_prompt("What is 1+1?", "SYSTEM", None, THINK).endswith(THINK + THINK)
    finally:
        hf_tok.chat_template = saved
    # The paper's plain template (no chat template) ends with it too.
    assert TokenizerAdapter(hf_tok, "hf").format_prompt("q", "s", "{system}\nUser: {question}\nAssistant:", THINK).endswith("Assistant:" + THINK)


def test_generate_ignores_the_folders_generation_config(qwen25_folder, hf_tok):
    """Greedy decoding through policy.sample equals a hand-written argmax loop, although the
    folder's generation_config (plus no_repeat_ngram_size set here) would change every token."""
    from transformers import AutoModelForCausalLM

    from reward_lens.config import TrainConfig
    from reward_lens.policy import TokenizerAdapter, sample

    model = AutoModelForCausalLM.from_pretrained(qwen25_folder, dtype=torch.float32).eval()
    model.generation_config.no_repeat_ngram_size = 1
    model.generation_config.suppress_tokens = [int(model(torch.tensor([[9707, 11]])).logits[0, -1].argmax())]
    tok = TokenizerAdapter(hf_tok, "hf")
    prompt = [9707, 11, 1879, 0]
    got = sample(model, tok, [prompt], 1, 0.0, 1.0, 12, TrainConfig(device="cpu", bf16=False), torch.device("cpu"))[0][0]
    ids = list(prompt)
    want = []
    with torch.no_grad():
        for _ in range(12):
            nxt = int(model(torch.tensor([ids])).logits[0, -1].argmax())
            want.append(nxt)
            ids.append(nxt)
            if nxt == tok.eos_token_id:
                break
    assert got == want
    assert model.generation_config.no_repeat_ngram_size == 1  # restored after the call


def luffy_rows(path):
    """Two real LUFFY validation rows (system + user prompt, ground truth) with teacher targets:
    a correct one that opens its reasoning as DeepSeek-R1's traces do, and a wrong one."""
    rows = pq.read_table(LUFFY_VALID).to_pylist()
    picked = [r for r in rows if r["data_source"] == "math" and r["reward_model"]["ground_truth"] in ("\\frac{14}{3}", "9")][:2]
    assert len(picked) == 2
    for r in picked:
        gt = r["reward_model"]["ground_truth"]
        r["target_lst"] = [
            [{"role": "assistant", "content": f"{THINK}Work it out step by step.\n</think>\nThe answer is $\\boxed{{{gt}}}$."}],
            [{"role": "assistant", "content": f"{THINK}A guess.\n</think>\nThe answer is $\\boxed{{12345}}$."}],
        ]
    pq.write_table(pa.Table.from_pylist(picked), path)
    return picked


def test_two_oger_steps_on_luffy_rows(qwen25_folder, hf_tok, tmp_path, capfd):
    from reward_lens import config as config_mod
    from reward_lens.train import Trainer

    rows = luffy_rows(tmp_path / "train.parquet")
    cfg = config_mod.from_dict({
        "model": str(qwen25_folder), "data": str(tmp_path / "train.parquet"), "variant": "oger", "replace": 1,
        "encoder": {"max_length": 128, "batch_size": 16}, "rollout_n": 4, "batch_prompts": 2, "ppo_mini_batch": 1,
        "max_new_tokens": 40, "max_prompt_tokens": 512, "max_tokens_per_micro_batch": 800, "logits_chunk_tokens": 16,
        "lr": 1e-3, "steps": 2, "device": "cpu", "bf16": False, "token_entropy_stride": 4, "checkpoint_every": 0,
        "verifier_workers": 1, "verifier_timeout_s": 30.0, "threads": 1, "seed": 3,
    })
    run = tmp_path / "run"
    trainer = Trainer(cfg, run, resume=False)
    think_ids = hf_tok.encode(THINK, add_special_tokens=False)
    for it in trainer.items:
        assert it.system and it.system.startswith("Your task is to follow a systematic")  # the row's own system prompt
        assert it.prompt_text.endswith("<|im_start|>assistant\n" + THINK)
        assert it.prompt_ids[-len(think_ids):] == think_ids
        assert len(it.teachers) == 2
        for t in it.teachers:
            # LUFFY's _process_target: the trace's own opening is dropped, the prompt's is the one.
            assert t.ids[: len(think_ids)] != think_ids and not hf_tok.decode(t.ids).startswith("<think>")
            joined = hf_tok.decode(it.prompt_ids + t.ids)
            assert joined.count("<|im_start|>assistant\n" + THINK) == 1 and "<|im_start|>assistant\n" + THINK + THINK not in joined
            assert t.ids[-1] == hf_tok.eos_token_id
    assert trainer.run() == "completed"
    trainer.events.write({"type": "run_end", "run_id": trainer.run_id, "status": "completed", "reason": None, "step": trainer.step})
    trainer.events.close()
    err = capfd.readouterr().err
    assert "failed the format gate" in err  # a random policy writes no reasoning format

    events = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]
    for e in events:
        assert validate_event(e) == [], (e["type"], validate_event(e))
    start = events[0]
    assert start["model_info"]["vocab_size"] == 151936 and start["model_info"]["max_position_embeddings"] == 4096
    assert start["model_info"]["rope_theta"] == 10000.0
    steps = [e for e in events if e["type"] == "step"]
    assert [s["step"] for s in steps] == [1, 2]
    m = steps[0]["metrics"]
    assert m["batch/format_fail_ratio"] == 1.0 and m["warning/format_gate"] == 1.0
    assert m["actor/optimizer_steps"] == 2.0 and m["actor/micro_batches"] >= 2  # ppo_mini_batch 1 of 2 prompts
    for k in ("timing/gen_s", "timing/verify_s", "timing/embed_s", "timing/plan_s", "timing/old_logp_s", "timing/score_s", "timing/update_s", "timing/emit_s"):
        assert k in m, k
    groups = [e for e in events if e["type"] == "group"]
    assert len(groups) == 4
    for g in groups:
        teachers = [t for t in g["trajectories"] if t["source"] == "offline"]
        right, wrong = teachers
        assert right["verdict"] == "correct" and wrong["verdict"] == "wrong"
        # Only the verifier-correct teacher counts in M and can be inserted.
        assert right["inserted"] and right["r_total"] == 1.0 and right["advantage"] is not None
        assert not wrong["inserted"] and wrong["r_total"] is None and wrong["advantage"] is None
        assert not right["text"].startswith("<think>")
        for t in g["trajectories"]:
            te = t.get("token_entropies")
            if te:
                assert te["offsets"] == sorted(set(te["offsets"])) and te["offsets"][-1] < len(t["text"])
    summary = ingest_with_cli(run / "events.jsonl", tmp_path / "store.db")
    assert summary["malformed"] == [] and summary["events"] == len(events) and summary["groups"] == 4
    assert rows  # the parquet rows were LUFFY's own
