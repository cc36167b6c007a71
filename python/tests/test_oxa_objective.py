"""OXA's objective: the unlikelihood term against finite differences and at p near 1, the
promote/suppress weighting, and the 1:1 promote:suppress mixing of every optimizer step."""

from __future__ import annotations

import math

import pytest
import torch

from reward_lens.oxa.batches import interleave, paired_steps
from reward_lens.oxa.objective import LOG_P_MAX, oxa_loss, unlikelihood


def ul_reference(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """−log(1 − min(p, 1 − 1e-6)) the plain way, in float64 (fine away from p = 1)."""
    p = torch.softmax(logits.double(), -1).gather(-1, targets[..., None])[..., 0]
    return -torch.log(1 - p.clamp(max=1 - 1e-6))


def logp_of(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return torch.log_softmax(logits, -1).gather(-1, targets[..., None])[..., 0]


def test_unlikelihood_matches_the_plain_formula_across_the_range():
    lp = torch.tensor([-30.0, -5.0, -1.0, math.log(0.5) - 1e-9, math.log(0.5), -0.1, -1e-3, -1e-5], dtype=torch.float64)
    got = unlikelihood(lp)
    want = -torch.log(1 - torch.exp(lp).clamp(max=1 - 1e-6))
    assert torch.allclose(got.double(), want, rtol=1e-5, atol=1e-9)


def test_unlikelihood_gradient_against_finite_differences():
    torch.manual_seed(0)
    logits = (torch.randn(3, 5, 11, dtype=torch.float64) * 2).requires_grad_(True)
    targets = torch.randint(0, 11, (3, 5))
    # Make some targets likely (p up to ~0.99), where the expm1 branch is the one in use.
    with torch.no_grad():
        logits[0, :2].scatter_(-1, targets[0, :2, None], 8.0)
    loss = unlikelihood(logp_of(logits, targets).double()).sum()
    (grad,) = torch.autograd.grad(loss, logits)
    eps = 1e-6
    num = torch.zeros_like(logits)
    flat = logits.detach().clone().view(-1)
    for k in range(flat.numel()):
        plus, minus = flat.clone(), flat.clone()
        plus[k] += eps
        minus[k] -= eps
        lp_plus = ul_reference(plus.view_as(logits), targets).sum()
        lp_minus = ul_reference(minus.view_as(logits), targets).sum()
        num.view(-1)[k] = (lp_plus - lp_minus) / (2 * eps)
    assert torch.allclose(grad, num, rtol=1e-4, atol=1e-6)


def test_p_near_one_stays_finite_in_value_and_gradient():
    logits = torch.zeros(1, 4, 7, requires_grad=True)
    targets = torch.tensor([[1, 2, 3, 4]])
    with torch.no_grad():
        logits[0, 0, 1] = 40.0  # p = 1 - ~1e-17: clamped at 1 - 1e-6
        logits[0, 1, 2] = 14.0  # p ~ 1 - 5e-6: just below the clamp
        logits[0, 2, 3] = 100.0  # p = 1 in float32
    lp = logp_of(logits, targets)
    ul = unlikelihood(lp)
    assert torch.isfinite(ul).all()
    assert float(ul.detach()[0, 0]) == pytest.approx(-math.log(1e-6), rel=1e-3)
    assert float(ul.detach().max()) <= -math.log(1e-6) * 1.001
    ul.sum().backward()
    assert torch.isfinite(logits.grad).all()
    # Clamped tokens push nothing further: the gradient is zero past the clamp.
    assert float(lp.detach()[0, 0]) > LOG_P_MAX and torch.count_nonzero(logits.grad[0, 0]) == 0
    # A token just under the clamp is pushed down (descent lowers its logit): d UL / d z = p.
    assert float(logits.grad[0, 1, 2]) == pytest.approx(1.0, abs=1e-4)


def test_loss_is_nll_plus_lambda_unlikelihood_of_per_sequence_means():
    torch.manual_seed(1)
    logp = -torch.rand(4, 6) * 3
    mask = torch.tensor([[1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 1], [1, 1, 0, 0, 0, 0], [1, 1, 1, 1, 0, 0]], dtype=torch.float32)
    sup = torch.tensor([False, True, False, True])
    parts = oxa_loss(logp, mask, sup, lam=0.5)
    nll = ((-logp[0, :3]).mean() + (-logp[2, :2]).mean()) / 2
    ul = (unlikelihood(logp[1]).mean() + unlikelihood(logp[3, :4]).mean()) / 2
    assert float(parts.loss) == pytest.approx(float(nll + 0.5 * ul), rel=1e-6)
    assert float(parts.nll) == pytest.approx(float(nll), rel=1e-6)
    assert float(parts.ul) == pytest.approx(float(ul), rel=1e-6)


def test_micro_batches_add_up_to_the_step_loss():
    torch.manual_seed(2)
    logp = -torch.rand(6, 5) * 2
    mask = torch.ones(6, 5)
    sup = torch.tensor([False, True, False, True, False, True])
    whole = oxa_loss(logp, mask, sup, lam=1e-4).loss
    split = sum(oxa_loss(logp[s], mask[s], sup[s], lam=1e-4, promote_total=3, suppress_total=3).loss for s in (slice(0, 1), slice(1, 4), slice(4, 6)))
    assert float(split) == pytest.approx(float(whole), rel=1e-6)


def test_default_lambda_is_the_reference_1e_4():
    logp = torch.full((2, 3), -0.01)
    parts = oxa_loss(logp, torch.ones(2, 3), torch.tensor([False, True]))
    assert float(parts.loss) == pytest.approx(float(parts.nll + 1e-4 * parts.ul), rel=1e-6)


@pytest.mark.parametrize("batch", [1, 2, 3, 5, 8, 13])
@pytest.mark.parametrize("sizes", [(10, 10), (7, 3), (3, 50)])
def test_every_step_is_one_to_one_whatever_the_batch_size(batch, sizes):
    promote, suppress = sizes
    steps = list(paired_steps(promote, suppress, batch, steps=9, seed=4))
    assert len(steps) == 9
    for s in steps:
        assert len(s.promote) == batch and len(s.suppress) == batch
        rows = interleave(s.promote, s.suppress)
        assert sum(1 for is_sup, _ in rows if is_sup) == sum(1 for is_sup, _ in rows if not is_sup)
    # Each set is used evenly: no index is drawn twice before its set has been walked once.
    flat = [i for s in steps for i in s.suppress]
    first = flat[:suppress] if len(flat) >= suppress else flat
    assert len(set(first)) == len(first)


def test_mixing_refuses_an_empty_promote_set_and_allows_promote_only():
    with pytest.raises(ValueError, match="promote"):
        list(paired_steps(0, 5, 4, 1, 0))
    assert [s.suppress for s in paired_steps(4, 0, 2, 2, 0)] == [[], []]


def test_model_loss_through_the_chunked_path_matches_full_logits():
    """oxa_model_loss (response_logprobs, head in chunks) = the objective on full logits, value and gradients."""
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from reward_lens.oxa.objective import oxa_model_loss

    torch.manual_seed(0)
    conf = Qwen2Config(vocab_size=97, hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=64)
    model = Qwen2ForCausalLM(conf).double()
    prompts = [[5, 6, 7], [8, 9], [10, 11, 12, 13]]
    responses = [[20, 21, 22, 23], [30, 31], [40, 41, 42]]
    sup = [False, True, False]
    lam = 0.3  # large enough that the suppress term's gradient is visible next to the NLL's

    got = oxa_model_loss(model, prompts, responses, sup, lam=lam, chunk_tokens=2)
    g_got = torch.autograd.grad(got.loss, list(model.parameters()))

    total = torch.zeros((), dtype=torch.float64)
    for p, r, s in zip(prompts, responses, sup):
        logits = model(input_ids=torch.tensor([p + r])).logits[0]
        lp = torch.log_softmax(logits, -1)[torch.arange(len(p) - 1, len(p) - 1 + len(r)), torch.tensor(r)]
        total = total + (lam * -torch.log(1 - lp.exp().clamp(max=1 - 1e-6)).mean() / 1 if s else -lp.mean() / 2)
    g_ref = torch.autograd.grad(total, list(model.parameters()))
    assert float(got.loss.detach()) == pytest.approx(float(total.detach()), rel=1e-5)
    for a, b in zip(g_got, g_ref):
        assert torch.allclose(a.double(), b, rtol=1e-4, atol=1e-8)
