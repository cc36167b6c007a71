"""LUFFY's mixed policy loss as a verl policy-loss mode: `reward_lens_luffy`.

verl's actor calls a registered policy loss with (old_log_prob, log_prob, advantages,
response_mask, loss_agg_mode, config, rollout_is_weights): no per-token "this is a teacher's
token" flag reaches it. The Reward Lens trainer therefore marks the tokens of an inserted teacher
trajectory in old_log_prob itself, with a value no log-probability can take (+1.0: log p <= 0).
LUFFY treats the teacher's behaviour probability as 1 and uses no old log-prob and no clipping
for those tokens; here:
- teacher tokens: loss -A · p/(p + γ) with p = exp(log π_θ(token)) and γ = 0.1 (LUFFY's value);
- on-policy tokens: verl's PPO objective (ratio exp(logp - old_logp), clip_ratio_low/high and the
  dual clip clip_ratio_c, rollout-correction weights when verl supplies them), so a batch with
  no teacher token gives exactly `vanilla`'s loss (tests/test_verl_integration.py).
The token losses are aggregated once, with verl's agg_loss and the actor's loss_agg_mode.
Runs on the actor workers (GPU); registered in every process by the verl.plugins entry point.
"""
from __future__ import annotations

from typing import Any

import torch
from verl.trainer.ppo.core_algos import agg_loss, register_policy_loss
from verl.utils import torch_functional as verl_F

LOSS_MODE = "reward_lens_luffy"
# What the trainer writes into old_log_probs at every token of an inserted teacher trajectory.
OFF_POLICY_OLD_LOG_PROB = 1.0
OFF_POLICY_GAMMA = 0.1


def off_policy_mask(old_log_prob: torch.Tensor, response_mask: torch.Tensor) -> torch.Tensor:
    return (old_log_prob > OFF_POLICY_OLD_LOG_PROB / 2) & response_mask.bool()


@register_policy_loss(LOSS_MODE)  # type: ignore[arg-type]
def luffy_mixed_policy_loss(
    old_log_prob: torch.Tensor,
    log_prob: torch.Tensor,
    advantages: torch.Tensor,
    response_mask: torch.Tensor,
    loss_agg_mode: str = "token-mean",
    config: Any = None,
    rollout_is_weights: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict[str, Any]]:
    assert config is not None, "the policy loss needs the actor config (clip ratios, global batch info)"
    mask = response_mask.bool()
    off = off_policy_mask(old_log_prob, response_mask)
    on = mask & ~off

    clip_ratio = config.clip_ratio
    low = config.clip_ratio_low if config.clip_ratio_low is not None else clip_ratio
    high = config.clip_ratio_high if config.clip_ratio_high is not None else clip_ratio
    clip_c = config.get("clip_ratio_c", 3.0)

    # On-policy tokens: PPO's clipped ratio. Teacher tokens get a neutral old log-prob here so the
    # marker never enters an exp.
    old = torch.where(off, log_prob.detach(), old_log_prob)
    neg_kl = torch.clamp(log_prob - old, min=-20.0, max=20.0)
    ratio = torch.exp(neg_kl)
    loss1 = -advantages * ratio
    loss2 = -advantages * torch.clamp(ratio, 1 - low, 1 + high)
    clipped = torch.maximum(loss1, loss2)
    dual = torch.minimum(-advantages * clip_c, clipped)
    on_losses = torch.where(advantages < 0, dual, clipped)
    if rollout_is_weights is not None:
        on_losses = on_losses * rollout_is_weights

    # Teacher tokens: LUFFY's shaped probability, no clip.
    p = torch.exp(log_prob)
    off_ratio = p / (p + OFF_POLICY_GAMMA)
    off_losses = -advantages * off_ratio

    losses = torch.where(off, off_losses, on_losses)
    pg_loss = agg_loss(loss_mat=losses, loss_mask=response_mask, loss_agg_mode=loss_agg_mode, **config.global_batch_info)

    on_f, off_f = on.float(), off.float()
    metrics = {
        "actor/pg_clipfrac": verl_F.masked_mean(torch.gt(loss2, loss1).float(), on_f).detach().item() if on.any() else 0.0,
        "actor/ppo_kl": verl_F.masked_mean(-neg_kl, on_f).detach().item() if on.any() else 0.0,
        "actor/off_ratio_mean": verl_F.masked_mean(off_ratio, off_f).detach().item() if off.any() else 0.0,
        "actor/off_token_frac": (off_f.sum() / mask.float().sum().clamp(min=1)).detach().item(),
    }
    return pg_loss, metrics
