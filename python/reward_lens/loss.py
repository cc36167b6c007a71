"""Policy-gradient loss maths (pure functions on tensors).

- Online tokens: ratio = exp(logp - old_logp); with clipping, PPO's pessimistic max, and DAPO's
  clip-higher when clip_high > clip_low. No clipping is LUFFY's `loss_remove_clip=True`.
- Teacher (off-policy) tokens: LUFFY's shaping. The teacher's behaviour probability is taken as 1,
  so the "ratio" is the shaped probability p / (p + gamma) with p = exp(logp), gamma = 0.1, and
  there is no old log-prob and no clipping. Its gradient, A * gamma / (p + gamma)^2 * dp, boosts
  low-probability teacher tokens instead of letting them vanish.
- Aggregation: token-mean (DAPO's token-level loss), seq-mean-token-mean (GRPO's sequence
  level), or seq-mean-token-sum-norm (LUFFY's sum over tokens divided by the max response length).
- Entropy bonus: loss -= entropy_coef * mean token entropy. No KL term.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


def off_policy_shaped_ratio(logp: torch.Tensor, gamma: float = 0.1) -> torch.Tensor:
    p = torch.exp(logp)
    return p / (p + gamma)


def on_policy_ratio(logp: torch.Tensor, old_logp: torch.Tensor) -> torch.Tensor:
    return torch.exp(logp - old_logp)


def aggregate(values: torch.Tensor, mask: torch.Tensor, mode: str, max_len: int | None = None) -> torch.Tensor:
    """values, mask: (batch, T). Reduces to a scalar under the chosen aggregation."""
    mask = mask.to(values.dtype)
    if mode == "token-mean":
        return (values * mask).sum() / mask.sum().clamp_min(1.0)
    if mode == "seq-mean-token-mean":
        per_seq = (values * mask).sum(-1) / mask.sum(-1).clamp_min(1.0)
        return per_seq.mean()
    if mode == "seq-mean-token-sum-norm":
        norm = float(max_len if max_len is not None else values.shape[-1])
        return ((values * mask).sum(-1) / norm).mean()
    raise ValueError(f"unknown loss aggregation {mode!r}")


@dataclass
class LossParts:
    loss: torch.Tensor
    pg_loss: torch.Tensor
    on_pg_loss: torch.Tensor
    off_pg_loss: torch.Tensor
    entropy: torch.Tensor
    off_ratio_mean: float
    clip_frac: float


def policy_loss(
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    is_offline: torch.Tensor,
    entropy: torch.Tensor | None = None,
    *,
    gamma: float = 0.1,
    clip_low: float | None = None,
    clip_high: float | None = None,
    agg: str = "seq-mean-token-sum-norm",
    max_len: int | None = None,
    entropy_coef: float = 0.0,
) -> LossParts:
    """logp/old_logp/mask/entropy: (B, T); advantages: (B,) broadcast over tokens; is_offline: (B,) bool.

    Teacher rows ignore old_logp. Returns the total loss plus the parts LUFFY logs.
    """
    adv = advantages[:, None].to(logp.dtype)
    off = is_offline[:, None].to(torch.bool)
    mask = mask.to(logp.dtype)
    on_mask = mask * (~off).to(logp.dtype)
    off_mask = mask * off.to(logp.dtype)

    ratio = on_policy_ratio(logp, old_logp)
    on_loss = -adv * ratio
    clip_frac = 0.0
    if clip_low is not None and clip_high is not None:
        clipped = -adv * torch.clamp(ratio, 1.0 - clip_low, 1.0 + clip_high)
        clip_frac = float(((clipped > on_loss).to(logp.dtype) * on_mask).sum() / on_mask.sum().clamp_min(1.0))
        on_loss = torch.maximum(on_loss, clipped)
    shaped = off_policy_shaped_ratio(logp, gamma)
    off_loss = -adv * shaped
    per_token = torch.where(off, off_loss, on_loss)

    pg = aggregate(per_token, mask, agg, max_len)
    on_pg = aggregate(on_loss, on_mask, agg, max_len)
    off_pg = aggregate(off_loss, off_mask, agg, max_len)
    ent = aggregate(entropy, mask, "token-mean") if entropy is not None else torch.zeros((), dtype=logp.dtype, device=logp.device)
    total = pg - entropy_coef * ent if entropy is not None else pg
    n_off = off_mask.sum()
    off_ratio_mean = float((shaped.detach() * off_mask).sum() / n_off) if float(n_off) > 0 else 0.0
    return LossParts(total, pg.detach(), on_pg.detach(), off_pg.detach(), ent.detach(), off_ratio_mean, clip_frac)


def token_logprobs_and_entropy(logits: torch.Tensor, targets: torch.Tensor, temperature: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-probs of targets and the entropy (nats) of each position's distribution at the temperature.

    logits: (B, T, V) predicting targets (B, T). Computed in float32 for stability under bf16.
    """
    if logits.dtype in (torch.float16, torch.bfloat16):
        logits = logits.float()
    logits = logits / temperature
    logz = torch.logsumexp(logits, dim=-1)
    logp = torch.gather(logits, -1, targets.unsqueeze(-1)).squeeze(-1) - logz
    probs = torch.softmax(logits, dim=-1)
    entropy = logz - (probs * logits).sum(-1)
    return logp, entropy.clamp_min(0.0)
