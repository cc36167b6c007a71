"""OXA's training objective on per-token log-probs (pure tensor functions, docs/oxa.md), and the
same on a model's rows through the trainer's log-prob path (`oxa_model_loss`).

loss = mean over promote sequences of (mean token NLL)
     + λ · mean over suppress sequences of (mean token unlikelihood −log(1 − p))

p is the policy's probability of the suppressed token, clamped to at most 1 − 1e-6 so that a token
the model is certain of costs a large but finite −log(1e-6) ≈ 13.8 and its gradient stays finite.
−log(1 − p) is computed from lp = log p in the stable form of the authors' code: −log1p(−exp(lp))
below lp = ln ½, −log(−expm1(lp)) above it (each form loses precision on the other side).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

P_MAX = 1.0 - 1e-6
LOG_P_MAX = math.log(P_MAX)
LOG_HALF = math.log(0.5)
DEFAULT_LAMBDA = 1e-4


def unlikelihood(logp: torch.Tensor) -> torch.Tensor:
    """Token-wise −log(1 − min(p, 1 − 1e-6)) from log-probs, stable over the whole range."""
    lp = logp.float().clamp(max=LOG_P_MAX)
    # torch.where evaluates both branches: feed each only the values it is stable for, so the
    # unused branch never produces an inf or nan that would poison the gradient.
    low = lp < LOG_HALF
    lp_low = torch.where(low, lp, torch.full_like(lp, LOG_HALF))
    lp_high = torch.where(low, torch.full_like(lp, LOG_HALF), lp)
    return torch.where(low, -torch.log1p(-torch.exp(lp_low)), -torch.log(-torch.expm1(lp_high)))


def per_sequence_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B, T) values and mask -> (B,) means over each sequence's tokens (0 for an empty one)."""
    mask = mask.to(values.dtype)
    return (values * mask).sum(-1) / mask.sum(-1).clamp_min(1.0)


@dataclass
class OxaLossParts:
    loss: torch.Tensor
    nll: torch.Tensor  # mean per-sequence NLL of the promote rows (detached)
    ul: torch.Tensor  # mean per-sequence unlikelihood of the suppress rows (detached)


def oxa_loss(logp: torch.Tensor, mask: torch.Tensor, is_suppress: torch.Tensor, *, lam: float = DEFAULT_LAMBDA, promote_total: int | None = None, suppress_total: int | None = None) -> OxaLossParts:
    """The objective over one (micro-)batch of rows.

    logp, mask: (B, T); is_suppress: (B,) bool. promote_total / suppress_total are the numbers of
    promote and suppress sequences in the whole optimizer step: a micro-batch divides its sums by
    them, so the micro-batches' losses add up to the step's loss whatever the split. Left None,
    they are this batch's own counts.
    """
    sup = is_suppress.to(torch.bool)
    seq_nll = per_sequence_mean(-logp.float(), mask)
    seq_ul = per_sequence_mean(unlikelihood(logp), mask)
    n_p = int((~sup).sum()) if promote_total is None else promote_total
    n_s = int(sup.sum()) if suppress_total is None else suppress_total
    zero = seq_nll.sum() * 0.0
    nll = seq_nll[~sup].sum() / n_p if n_p > 0 else zero
    ul = seq_ul[sup].sum() / n_s if n_s > 0 else zero
    return OxaLossParts(nll + lam * ul, nll.detach(), ul.detach())


def oxa_model_loss(
    model: torch.nn.Module,
    prompts: list[list[int]],
    responses: list[list[int]],
    is_suppress: list[bool],
    *,
    lam: float = DEFAULT_LAMBDA,
    promote_total: int | None = None,
    suppress_total: int | None = None,
    chunk_tokens: int | None = None,
    pad_token_id: int = 0,
) -> OxaLossParts:
    """`oxa_loss` on the model's log-probs of (prompt, response) rows, differentiable.

    The log-probs come from the trainer's memory-bounded path (`response_logprobs`: the LM head
    chunked, no full-vocabulary logits kept), not from `model(...).logits`, so a warm start on
    long traces costs what an RL update costs. Temperature 1: the objective is on the model itself.
    """
    from ..logprobs import DEFAULT_CHUNK_TOKENS, response_logprobs

    st = response_logprobs(model, prompts, responses, temperature=1.0, with_entropy=False, chunk_tokens=chunk_tokens or DEFAULT_CHUNK_TOKENS, pad_token_id=pad_token_id)
    sup = torch.tensor(is_suppress, dtype=torch.bool, device=st.logp.device)
    return oxa_loss(st.padded(), st.mask(), sup, lam=lam, promote_total=promote_total, suppress_total=suppress_total)
