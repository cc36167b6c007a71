"""Long outputs: the 30 Sky-T1 AIME24 outputs of shared/data/traces, verified against their gold.

They use the Sky-T1 format (<|begin_of_thought|> ... <|end_of_thought|> then a
<|begin_of_solution|> block), so they go through the default verifier with the format gate set for
that format (`reward_lens.verifier.default:verify_skyt1`). Eleven were cut off by the length limit
inside their reasoning: each must be wrong with a truncation reason. The result table is in
docs/verifier.md.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from reward_lens.verify import VerifierPool

TRACES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "traces" / "skythought_aime24_outputs.jsonl"


def response_of(row: dict) -> str:
    # `code` is a list of samples; some rows store it as JSON, others as a Python literal.
    code = row["code"]
    if isinstance(code, str):
        try:
            code = json.loads(code)
        except ValueError:
            code = ast.literal_eval(code)
    return code[0]


@pytest.fixture(scope="module")
def rows_and_results():
    rows = [json.loads(line) for line in TRACES.read_text(encoding="utf-8").splitlines() if line.strip()]
    with VerifierPool("reward_lens.verifier.default:verify_skyt1", workers=2, timeout_s=60) as pool:
        by_gt = list(pool.run((response_of(r), str(r["gt"])) for r in rows))
        by_answer = list(pool.run((response_of(r), str(r["answer"])) for r in rows))
    return rows, by_gt, by_answer


def test_thirty_outputs(rows_and_results):
    rows, by_gt, _ = rows_and_results
    assert len(rows) == len(by_gt) == 30
    print("\n| idx | gold | chars | verdict | extracted | reason |")
    for row, result in zip(rows, by_gt):
        verdict = {True: "correct", False: "wrong", None: "error"}[result["correct"]]
        print(f"| {row['idx']} | {row['gt']} | {len(response_of(row))} | {verdict} | {result['extracted']} | {result['reason']} |")
    assert all(r["correct"] is not None for r in by_gt), "no output may error or time out"


def test_every_cut_off_output_is_wrong_with_a_truncation_reason(rows_and_results):
    rows, by_gt, _ = rows_and_results
    cut_off = [(row, result) for row, result in zip(rows, by_gt) if "<|end_of_thought|>" not in response_of(row)]
    assert len(cut_off) == 11
    for row, result in cut_off:
        assert result["correct"] is False, row["idx"]
        assert result["reason"].startswith("truncated:"), (row["idx"], result["reason"])


def test_cut_off_outputs_have_no_boxed_answer(rows_and_results):
    rows, _, _ = rows_and_results
    without_boxed = {row["idx"] for row in rows if "\\boxed" not in response_of(row)}
    cut_off = {row["idx"] for row in rows if "<|end_of_thought|>" not in response_of(row)}
    assert without_boxed == cut_off


def test_verdicts_match_skythoughts_own_scores(rows_and_results):
    """SkyThought scored these outputs itself (`score`); the default verifier agrees on all 30,
    and reading the gold from `answer` (zero-padded, e.g. "025") changes nothing."""
    rows, by_gt, by_answer = rows_and_results
    theirs = [ast.literal_eval(r["score"])[0] if isinstance(r["score"], str) else r["score"][0] for r in rows]
    ours = [r["correct"] for r in by_gt]
    assert ours == theirs
    assert [r["correct"] for r in by_answer] == ours
    assert sum(ours) == 9
