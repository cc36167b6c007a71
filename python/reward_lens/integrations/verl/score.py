"""verl's custom reward function: Reward Lens' verifier behind verl's `compute_score` signature.

verl 0.9 reads it from `reward.custom_reward_function.path=pkg://reward_lens.integrations.verl`
(`name=compute_score`; the top-level `custom_reward_function` key is ignored by main_ppo). Its
reward loop calls a synchronous reward function through `loop.run_in_executor` for every
response of the batch at once, so this must be thread-safe: every call goes to the shared
verifier pool through `submit`, and the pool answers each caller (docs/scale-out.md).
"""
from __future__ import annotations

from typing import Any

from ...verify import submit_one

# verl's reward loop builds one column per key of the FIRST result and indexes every other result
# by those keys, so every call returns exactly these keys, error or not.
RESULT_KEYS = ("score", "acc", "verdict", "verdict_reason", "extracted_answer")


def verdict_of(correct: Any) -> str:
    return "correct" if correct is True else "wrong" if correct is False else "error"


def score_result(result: dict[str, Any]) -> dict[str, Any]:
    """A verifier result as verl's reward dict: `score` is R_m (an error scores 0 but keeps its verdict)."""
    verdict = verdict_of(result.get("correct"))
    r_m = 1.0 if verdict == "correct" else 0.0
    return {
        "score": r_m,
        "acc": r_m,
        "verdict": verdict,
        "verdict_reason": result.get("reason"),
        "extracted_answer": result.get("extracted"),
    }


def ground_truth_text(ground_truth: Any) -> str | None:
    if isinstance(ground_truth, str):
        return ground_truth
    if isinstance(ground_truth, (int, float)) and not isinstance(ground_truth, bool):
        return str(ground_truth)
    return None


def compute_score(
    data_source: Any = None,
    solution_str: Any = None,
    ground_truth: Any = None,
    extra_info: Any = None,
    *,
    verifier: str | None = None,
    timeout_s: float = 5.0,
    workers: int | None = None,
    **ignored: Any,
) -> dict[str, Any]:
    """verl's reward signature. `verifier`, `timeout_s` and `workers` can be set with
    `+reward.custom_reward_function.reward_kwargs.KEY=VALUE`; any other keyword verl passes
    (`reward_router_address`, `reward_model_tokenizer`, ...) is accepted and ignored."""
    gold = ground_truth_text(ground_truth)
    if not isinstance(solution_str, str) or gold is None:
        got = f"solution_str of type {type(solution_str).__name__} and ground_truth of type {type(ground_truth).__name__}"
        return score_result({"correct": None, "reason": f"error: verl passed {got}; both must be text"})
    return score_result(submit_one(solution_str, gold, timeout_s=timeout_s, spec=verifier, workers=workers).result())
