"""The `verl.plugins` entry point: registers Reward Lens' parts in every process that imports verl.

verl 0.9's `verl/__init__.py` loads every entry point of the `verl.plugins` group (unless
VERL_USE_EXTERNAL_PLUGINS=none) in each process that imports it: the driver, the TaskRunner,
the reward-loop workers and the GPU actor workers alike. That is what makes the names usable in
a config:
- `reward.reward_manager.name=reward_lens` (reward-loop registry),
- `actor_rollout_ref.actor.policy_loss.loss_mode=reward_lens_luffy` (policy-loss registry; the
  GPU workers need it, and they read no Reward Lens config key that could import it),
- `trainer.v1.trainer_mode=reward_lens` (v1 trainer registry; needs verl's TransferQueue).
verl swallows a plugin's import error at debug level, so each failure is logged here as a
warning that says what is missing.
"""
from __future__ import annotations

import logging

logger = logging.getLogger("reward_lens.verl")

REGISTERED: dict[str, str] = {}


def _try(name: str, module: str) -> None:
    try:
        __import__(module)
        REGISTERED[name] = module
    except Exception as exc:  # noqa: BLE001 - verl would hide it; say what to install
        logger.warning("Reward Lens: %s is not available in this process (%s: %s). "
                       "Install the extra with pip install 'reward-lens[verl]'.", name, type(exc).__name__, exc)


def register() -> dict[str, str]:
    _try("reward manager 'reward_lens'", "reward_lens.integrations.verl.reward_manager")
    _try("policy loss 'reward_lens_luffy'", "reward_lens.integrations.verl.loss")
    _try("trainer mode 'reward_lens'", "reward_lens.integrations.verl.trainer")
    return dict(REGISTERED)


register()
