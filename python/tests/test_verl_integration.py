"""The verl adapter: verl's reward-function signature and one prompt's OGER group."""
import json
from pathlib import Path

import pytest

from reward_lens.integrations.verl import compute_score, oger_group_rewards

VECTORS = Path(__file__).resolve().parents[2] / "test" / "vectors" / "reward_cases.json"


def test_compute_score_reports_verdicts_for_rollout_dumps():
    right = compute_score("math", "<think>\n2+2 is 4\n</think>\nThe answer is \\boxed{4}", "4")
    assert right["score"] == 1.0 and right["verdict"] == "correct" and right["extracted_answer"]
    wrong = compute_score("math", "<think>\nhmm\n</think>\n\\boxed{5}", "4")
    assert wrong["score"] == 0.0 and wrong["verdict"] == "wrong"
    cut = compute_score("math", "<think>\nI was still thinking when the", "4")
    assert cut["verdict"] == "wrong" and "truncated" in cut["verdict_reason"]


def test_oger_group_rewards_matches_the_shared_vectors():
    cases = json.loads(VECTORS.read_text())["cases"]
    case = next(c for c in cases if c["name"] == "oger replace=2 mixed verdicts")
    inp, exp = case["input"], case["expected"]
    got = oger_group_rewards(
        online_embeddings=[m["embedding"] for m in inp["online"]],
        online_correct=[m["correct"] for m in inp["online"]],
        online_last_entropy=[m["last_token_entropy"] for m in inp["online"]],
        teacher_embeddings=[m["embedding"] for m in inp["offline"]],
        replace=inp["replace"],
        inserted_offline=inp["inserted_offline"],
    )
    assert got["replaced"] == exp["replaced"]
    assert got["total_reward"] == pytest.approx([o["total_reward"] for o in exp["online"]], abs=1e-9)
    assert [g[3] for g in got["group"]] == pytest.approx([g["advantage"] for g in exp["group"]], abs=1e-9)
