"""verl integration: scale-out runs on verl (Ray) with Reward Lens' verifier and OGER maths.

Reward Lens trains on one GPU itself; larger runs belong to verl. Two pieces make such a run
debuggable in Reward Lens:

1. ``compute_score`` is a verl custom reward function
   (``custom_reward_function.path=<this file>``, ``custom_reward_function.name=compute_score``).
   It runs the same default verifier as the Reward Lens trainer and returns a dict, so verl
   writes ``verdict``, ``verdict_reason`` and ``extracted_answer`` into every line of its
   ``trainer.rollout_data_dir`` dump next to ``score``. A verifier error is reported as
   verdict ``error`` (score 0), never as a silent 0.
2. ``oger_group_rewards`` turns one prompt's group (what a verl advantage estimator sees per
   ``uid``) into OGER total rewards, the replaced members and GRPO advantages, through the same
   pure functions the trainer uses (``reward_lens.reward.score_group``).

Then import the dump with "Reward Lens: Import Rollouts…" or
``reward-lens import --verl <rollout_data_dir> --db runs.db``.
"""
from __future__ import annotations

from typing import Any, Sequence

from ..reward import AdvantageOptions, divergences_np, score_group
from ..verify import verify_one


def compute_score(data_source: str, solution_str: str, ground_truth: str, extra_info: dict | None = None,
                  timeout_s: float = 5.0) -> dict[str, Any]:
    """verl's custom reward signature; the dict's extra keys land in rollout_data_dir dumps."""
    result = verify_one(solution_str, str(ground_truth), timeout_s=timeout_s)
    correct = result.get("correct")
    verdict = "correct" if correct is True else "wrong" if correct is False else "error"
    return {
        "score": 1.0 if correct is True else 0.0,
        "verdict": verdict,
        "verdict_reason": result.get("reason"),
        "extracted_answer": result.get("extracted"),
    }


def oger_group_rewards(
    online_embeddings: Sequence[Sequence[float]],
    online_correct: Sequence[bool | None],
    online_last_entropy: Sequence[float],
    teacher_embeddings: Sequence[Sequence[float]],
    teacher_correct: Sequence[bool | None] | None = None,
    variant: str = "oger",
    replace: int = 1,
    inserted_offline: Sequence[int] | None = None,
    std: str = "sample",
    eps: float = 1e-6,
) -> dict[str, Any]:
    """One prompt's group scored as the Reward Lens trainer scores it.

    Returns ``{"divergence", "exploration_reward", "total_reward", "replaced", "group"}`` where
    ``group`` lists ``(source, index, total_reward, advantage)`` for the final hybrid group.
    """
    if teacher_correct is None:
        teacher_correct = [True] * len(teacher_embeddings)
    ds = divergences_np(online_embeddings, teacher_embeddings) if len(teacher_embeddings) else [None] * len(online_correct)
    score = score_group(
        variant=variant,
        replace=replace,
        advantage=AdvantageOptions(std=std, eps=eps),
        online=[{"divergence": None if d is None else float(d), "entropy_last": float(h), "correct": c}
                for d, h, c in zip(ds, online_last_entropy, online_correct)],
        offline=[{"correct": c} for c in teacher_correct],
        inserted_offline=list(inserted_offline) if inserted_offline is not None else None,
    )
    return {
        "divergence": [s.divergence for s in score.online],
        "exploration_reward": [s.exploration_reward for s in score.online],
        "total_reward": [s.total_reward for s in score.online],
        "replaced": list(score.replaced),
        "group": [(m.source, m.index, m.total_reward, m.advantage) for m in score.group],
    }
