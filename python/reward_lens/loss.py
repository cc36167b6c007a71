"""Policy-gradient loss maths (pure functions on tensors).

- Online tokens: ratio = exp(logp - old_logp); with clipping, PPO's pessimistic max, and DAPO's
  clip-higher when clip_high > clip_low. No clipping is LUFFY's `loss_remove_clip=True`.
- Teacher (off-policy) tokens: LUFFY's shaping. The teacher's behaviour probability is taken as 1,
  so the "ratio" is the shaped probability p / (p + gamma) with p = exp(logp), gamma = 0.1, and
  there is no old log-prob and no clipping. Its gradient, A * gamma / (p + gamma)^2 * dp, boosts
  low-probability teacher tokens instead of letting them vanish.
- Aggregation (`aggregate`): token-sum-norm (LUFFY's default: the sum over tokens and sequences
  divided by the padded response length), token-mean (DAPO), seq-mean-token-mean (GRPO) and
  seq-mean-token-sum-norm (verl's mode of that name: the same sum, also divided by the sequences).
- Entropy bonus: loss -= entropy_coef * token-mean entropy, as LUFFY. No KL term.
- Micro-batches: with a `LossNorm` of the whole mini-batch, each micro-batch's loss is its share,
  so the accumulated gradient does not depend on how the rows were split.
- `token_logprobs_and_entropy` is the naive full-logits reference the tests and the memory
  benchmark compare `logprobs.response_logprobs` against; the trainer does not use it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


def off_policy_shaped_ratio(logp: torch.Tensor, gamma: float = 0.1) -> torch.Tensor:
    p = torch.exp(logp)
    return p / (p + gamma)


def on_policy_ratio(logp: torch.Tensor, old_logp: torch.Tensor) -> torch.Tensor:
    return torch.exp(logp - old_logp)


@dataclass(frozen=True)
class LossNorm:
    """The denominators of one optimizer step's (mini-batch's) loss.

    A mini-batch is split into micro-batches that each call `policy_loss` and backward; with the
    mini-batch's own denominators every micro-batch loss is a share of the mini-batch loss, so the
    summed gradient is the same however the rows were split (by a token budget, say).
    """

    tokens: int  # response tokens in the mini-batch
    sequences: int  # rows in the mini-batch
    horizon: int  # the padded response length LUFFY divides by (max_new_tokens)
    on_tokens: int = 0  # tokens of online rows (for on_pg_loss, clip fraction)
    off_tokens: int = 0  # tokens of teacher rows (for off_pg_loss, off_ratio_mean)

    @staticmethod
    def of(mask: torch.Tensor, is_offline: torch.Tensor, horizon: int) -> LossNorm:
        mask = mask.to(torch.float64)
        off = is_offline.to(torch.bool)
        per_row = mask.sum(-1)
        return LossNorm(int(per_row.sum()), int(mask.shape[0]), int(horizon), int(per_row[~off].sum()), int(per_row[off].sum()))


def aggregate(values: torch.Tensor, mask: torch.Tensor, mode: str, max_len: int | None = None, norm: LossNorm | None = None) -> torch.Tensor:
    """values, mask: (batch, T). Reduces to a scalar under the chosen aggregation.

    - token-mean: sum over all tokens / tokens (DAPO);
    - seq-mean-token-mean: per-sequence token mean, then mean over sequences (GRPO);
    - seq-mean-token-sum-norm: per-sequence token sum / horizon, then mean over sequences (verl's
      mode of that name);
    - token-sum-norm: sum over tokens *and* sequences / horizon: LUFFY's `loss_remove_token_mean`
      (`(pg_losses * eos_mask).sum() / eos_mask.shape[-1]`), no division by the sequence count.
    The horizon is `max_len` (the padded response length), else the width of `values`.
    `norm` supplies the mini-batch's denominators when `values` is one micro-batch of it.
    """
    mask = mask.to(values.dtype)
    horizon = float(norm.horizon if norm is not None else (max_len if max_len is not None else values.shape[-1]))
    sequences = float(norm.sequences) if norm is not None else float(values.shape[0])
    if mode == "token-mean":
        tokens = float(norm.tokens) if norm is not None else float(mask.sum())
        return (values * mask).sum() / max(tokens, 1.0)
    if mode == "seq-mean-token-mean":
        per_seq = (values * mask).sum(-1) / mask.sum(-1).clamp_min(1.0)
        return per_seq.sum() / max(sequences, 1.0)
    if mode == "seq-mean-token-sum-norm":
        return (values * mask).sum() / horizon / max(sequences, 1.0)
    if mode == "token-sum-norm":
        return (values * mask).sum() / horizon
    raise ValueError(f"unknown loss aggregation {mode!r}")


def _masked_share(values: torch.Tensor, mask: torch.Tensor, count: int | None) -> torch.Tensor:
    """sum(values * mask) / count (the mini-batch's count when given, else this mask's)."""
    total = (values * mask).sum()
    denom = float(count) if count is not None else float(mask.sum())
    return total / denom if denom > 0 else total * 0.0


@dataclass
class LossParts:
    loss: torch.Tensor
    pg_loss: torch.Tensor
    on_pg_loss: torch.Tensor  # token mean over online tokens (LUFFY's on_pg_loss)
    off_pg_loss: torch.Tensor  # token mean over teacher tokens (LUFFY's off_pg_loss)
    entropy: torch.Tensor  # token mean over all response tokens
    off_ratio_mean: float
    clip_frac: float
    # token mean over online tokens only: actor/entropy mixes in teacher tokens, whose share differs by variant
    entropy_on_policy: float = 0.0


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
    agg: str = "token-sum-norm",
    max_len: int | None = None,
    entropy_coef: float = 0.0,
    norm: LossNorm | None = None,
) -> LossParts:
    """logp/old_logp/mask/entropy: (B, T); advantages: (B,) broadcast over tokens; is_offline: (B,) bool.

    Teacher rows ignore old_logp. Returns the total loss plus the parts LUFFY logs. Without `norm`
    the rows are the whole mini-batch; with it they are one micro-batch and every returned part
    (loss, metrics, fractions) is this micro-batch's share, so summing the parts over the
    micro-batches gives the mini-batch's values. The entropy term is a token mean (LUFFY's
    `masked_mean(entropy, response_mask)`), whatever the policy-loss aggregation.
    """
    adv = advantages[:, None].to(logp.dtype)
    off = is_offline[:, None].to(torch.bool)
    mask = mask.to(logp.dtype)
    on_mask = mask * (~off).to(logp.dtype)
    off_mask = mask * off.to(logp.dtype)

    ratio = on_policy_ratio(logp, old_logp)
    on_loss = -adv * ratio
    clipped_tokens = 0.0
    if clip_low is not None and clip_high is not None:
        clipped = -adv * torch.clamp(ratio, 1.0 - clip_low, 1.0 + clip_high)
        clipped_tokens = float(((clipped > on_loss).to(logp.dtype) * on_mask).sum())
        on_loss = torch.maximum(on_loss, clipped)
    shaped = off_policy_shaped_ratio(logp, gamma)
    off_loss = -adv * shaped
    per_token = torch.where(off, off_loss, on_loss)

    pg = aggregate(per_token, mask, agg, max_len, norm)
    on_pg = _masked_share(on_loss.detach(), on_mask, norm.on_tokens if norm else None)
    off_pg = _masked_share(off_loss.detach(), off_mask, norm.off_tokens if norm else None)
    if entropy is not None:
        ent = _masked_share(entropy, mask, norm.tokens if norm else None)
        total = pg - entropy_coef * ent
    else:
        ent = torch.zeros((), dtype=logp.dtype, device=logp.device)
        total = pg
    on_count = float(norm.on_tokens) if norm is not None else float(on_mask.sum())
    clip_frac = clipped_tokens / on_count if on_count > 0 else 0.0
    off_ratio_mean = float(_masked_share(shaped.detach(), off_mask, norm.off_tokens if norm else None))
    ent_on = float(_masked_share(entropy.detach(), on_mask, norm.on_tokens if norm else None)) if entropy is not None else 0.0
    return LossParts(total, pg.detach(), on_pg, off_pg, ent.detach(), off_ratio_mean, clip_frac, ent_on)


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
