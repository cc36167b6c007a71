"""verl integration: scale-out runs on verl (Ray) with Reward Lens' verifier, OGER and live events.

docs/scale-out.md walks through a run. The parts, and the verl 0.9 extension point each uses:

- `compute_score` (score.py): a custom reward function,
  `reward.custom_reward_function.path=pkg://reward_lens.integrations.verl`. Thread-safe; returns
  verdict, reason and extracted answer beside the score; ignores extra keyword arguments.
- `RewardLensRewardManager` (reward_manager.py): a reward-loop reward manager,
  `reward.reward_manager.name=reward_lens`: verdicts, D against the prompt's teachers, R_OGER.
- `luffy_mixed_policy_loss` (loss.py): `actor_rollout_ref.actor.policy_loss.loss_mode=reward_lens_luffy`.
- `RewardLensTrainer` (trainer.py): `trainer.v1.trainer_mode=reward_lens`, the OGER group step
  and protocol-v1 events in `<reward_lens.run_dir>/events.jsonl`.
- plugin.py: the `verl.plugins` entry point that registers those names in every verl process.
- group.py, events.py, settings.py: the pure parts (no verl import), tested on CPU.

Importing this package does not import verl: the verl-facing classes load on first access.
"""
from __future__ import annotations

from typing import Any

from .group import oger_group_rewards
from .score import compute_score

_LAZY = {
    "RewardLensRewardManager": "reward_manager",
    "RewardLensTrainer": "trainer",
    "luffy_mixed_policy_loss": "loss",
}

__all__ = ["compute_score", "oger_group_rewards", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
