"""`oxa score`: PPL from the trainer's log-prob path equals exp(mean NLL) from full logits."""

from __future__ import annotations

import json
import math

import pytest
import torch

from reward_lens.config import PAPER_SYSTEM_PROMPT, THINK_OPENING
from reward_lens.oxa.__main__ import main
from reward_lens.oxa.score import ScoreRow, score

ROWS = [
    ScoreRow("a", "What is 2 + 3?", "<think>\n2 + 3 = 5.\n</think>\nThe answer is \\boxed{5}."),
    ScoreRow("b", "Compute 12 * 12.", "<think>\n144\n</think>\n\\boxed{144}"),
    ScoreRow("c", "Is 7 prime?", "<think>\nYes: 7 has no divisor between 2 and 6, so it is prime. Answer yes.\n</think>\n\\boxed{yes}", system="Be brief."),
]


def reference_ppl(model, tok, row: ScoreRow, conditioning: str) -> float:
    """exp(mean NLL) from the model's own full logits, one unpadded row at a time."""
    resp = tok.encode(row.response)
    if conditioning == "question":
        prompt = tok.encode(tok.format_prompt(row.question, row.system if row.system is not None else PAPER_SYSTEM_PROMPT, None, THINK_OPENING))
    else:
        prompt, resp = resp[:1], resp[1:]
    ids = torch.tensor([prompt + resp])
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0].double()
    logp = torch.log_softmax(logits, -1)
    pos = torch.arange(len(prompt) - 1, len(prompt) - 1 + len(resp))
    nll = -logp[pos, torch.tensor(resp)].mean()
    return math.exp(float(nll))


@pytest.mark.parametrize("conditioning", ["question", "none"])
def test_ppl_matches_full_logits_on_the_real_vocabulary(qwen25_folder, conditioning):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from reward_lens.policy import TokenizerAdapter

    tok = TokenizerAdapter(AutoTokenizer.from_pretrained(qwen25_folder), "hf")
    model = AutoModelForCausalLM.from_pretrained(qwen25_folder, dtype=torch.float32).eval()
    # A budget below the longest row: rows go into several padded batches, so padding and
    # batching must not change any row's PPL.
    out = list(score(model, tok, ROWS, conditioning=conditioning, batch_tokens=120, system_prompt=PAPER_SYSTEM_PROMPT, ends_with=THINK_OPENING))
    assert sorted(r["id"] for r in out) == ["a", "b", "c"]
    for r in out:
        row = next(x for x in ROWS if x.id == r["id"])
        assert r["conditioning"] == conditioning
        assert r["tokens"] == len(tok.encode(row.response)) - (1 if conditioning == "none" else 0)
        assert r["ppl"] == pytest.approx(reference_ppl(model, tok, row, conditioning), rel=1e-5)
        assert r["ppl"] == pytest.approx(math.exp(r["nll_mean"]), rel=1e-12)


def test_the_two_conditionings_differ(qwen25_folder):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from reward_lens.policy import TokenizerAdapter

    tok = TokenizerAdapter(AutoTokenizer.from_pretrained(qwen25_folder), "hf")
    model = AutoModelForCausalLM.from_pretrained(qwen25_folder, dtype=torch.float32).eval()
    q = {r["id"]: r["ppl"] for r in score(model, tok, ROWS[:1], conditioning="question", system_prompt=PAPER_SYSTEM_PROMPT)}
    n = {r["id"]: r["ppl"] for r in score(model, tok, ROWS[:1], conditioning="none")}
    assert q["a"] != pytest.approx(n["a"], rel=1e-6)


def write_rows(path, rows):
    path.write_text("".join(json.dumps({"id": r.id, "question": r.question, "response": r.response}) + "\n" for r in rows))


TINY = json.dumps({"tiny": {"hidden_size": 32, "layers": 1, "heads": 2}})


def test_cli_resumes_and_drops_a_torn_row(tmp_path, capsys):
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_rows(inp, ROWS[:2])
    assert main(["score", "--model", TINY, "--in", str(inp), "--out", str(out), "--batch-tokens", "64"]) == 0
    first = [json.loads(x) for x in out.read_text().splitlines()]
    assert sorted(r["id"] for r in first) == ["a", "b"]
    assert "2/2 responses" in capsys.readouterr().err
    # A crash mid-write leaves a row without its newline: it is cut off and scored again.
    out.write_text(out.read_text() + '{"id": "c", "ppl": 1.')
    write_rows(inp, ROWS)
    assert main(["score", "--model", TINY, "--in", str(inp), "--out", str(out)]) == 0
    assert "2 already in" in capsys.readouterr().err
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["id"] for r in rows[:2]] == [r["id"] for r in first] and [r["id"] for r in rows[2:]] == ["c"]
    assert all(r["ppl"] > 1 and r["conditioning"] == "question" for r in rows)
    # Same seed, same weights: a rerun from scratch gives the same PPLs.
    again = tmp_path / "again.jsonl"
    assert main(["score", "--model", TINY, "--in", str(inp), "--out", str(again)]) == 0
    assert {r["id"]: r["ppl"] for r in rows} == pytest.approx({json.loads(x)["id"]: json.loads(x)["ppl"] for x in again.read_text().splitlines()})


def test_cli_refuses_mixed_conditioning_and_bad_rows(tmp_path, capsys):
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_rows(inp, ROWS[:1])
    out.write_text(json.dumps({"id": "a", "ppl": 2.0, "conditioning": "question"}) + "\n")
    assert main(["score", "--model", TINY, "--in", str(inp), "--out", str(out), "--conditioning", "none"]) == 2
    assert "scored with conditioning 'question', this run asks for 'none'" in capsys.readouterr().err
    inp.write_text('{"id": "x", "question": "q"}\n')
    assert main(["score", "--model", TINY, "--in", str(inp), "--out", str(tmp_path / "o2.jsonl")]) == 2
    assert "in.jsonl:1: response = None: must be a string" in capsys.readouterr().err
