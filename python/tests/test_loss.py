"""Loss maths: LUFFY's off-policy shaping gradient against finite differences, clipping, aggregation."""

import torch

from reward_lens.loss import aggregate, off_policy_shaped_ratio, policy_loss, token_logprobs_and_entropy


def test_shaping_gradient_matches_finite_differences():
    torch.manual_seed(0)
    logits = torch.randn(2, 5, 7, dtype=torch.float64, requires_grad=True)
    targets = torch.randint(0, 7, (2, 5))
    adv = torch.tensor([0.7, -1.3], dtype=torch.float64)
    mask = torch.tensor([[1, 1, 1, 1, 0], [1, 1, 1, 0, 0]], dtype=torch.float64)
    offline = torch.tensor([True, True])

    def loss_of(lg):
        logp, _ = token_logprobs_and_entropy(lg, targets)
        return policy_loss(logp, logp.detach(), adv, mask, offline, gamma=0.1, agg="token-mean").loss

    loss_of(logits).backward()
    analytic = logits.grad.clone()
    numeric = torch.zeros_like(logits)
    h = 1e-6
    flat = logits.detach().view(-1)
    for k in range(flat.numel()):
        plus, minus = flat.clone(), flat.clone()
        plus[k] += h
        minus[k] -= h
        numeric.view(-1)[k] = (loss_of(plus.view_as(logits)) - loss_of(minus.view_as(logits))) / (2 * h)
    assert torch.allclose(analytic, numeric, atol=1e-7), (analytic - numeric).abs().max()


def test_shaping_gradient_closed_form():
    # d/dlogp [-A p/(p+g)] = -A * g p / (p+g)^2: largest for low-probability tokens, never clipped.
    logp = torch.log(torch.tensor([[0.01, 0.5, 0.99]], dtype=torch.float64)).requires_grad_(True)
    parts = policy_loss(logp, torch.zeros_like(logp), torch.tensor([2.0], dtype=torch.float64), torch.ones_like(logp), torch.tensor([True]), agg="token-mean")
    parts.loss.backward()
    p = torch.exp(logp.detach())
    expected = -2.0 * 0.1 * p / (p + 0.1) ** 2 / 3
    assert torch.allclose(logp.grad, expected)
    assert abs(parts.off_ratio_mean - float(off_policy_shaped_ratio(logp.detach()).mean())) < 1e-12


def test_teacher_rows_ignore_old_logp_and_clipping():
    logp = torch.log(torch.tensor([[0.3, 0.4]], dtype=torch.float64))
    adv = torch.tensor([1.0], dtype=torch.float64)
    a = policy_loss(logp, logp - 5.0, adv, torch.ones_like(logp), torch.tensor([True]), clip_low=0.2, clip_high=0.2)
    b = policy_loss(logp, logp, adv, torch.ones_like(logp), torch.tensor([True]))
    assert torch.allclose(a.loss, b.loss)


def test_online_clip_and_clip_higher():
    old = torch.zeros(1, 1, dtype=torch.float64)
    mask = torch.ones(1, 1, dtype=torch.float64)
    online = torch.tensor([False])
    big = torch.log(torch.tensor([[1.5]], dtype=torch.float64))
    pos = torch.tensor([1.0], dtype=torch.float64)
    unclipped = policy_loss(big, old, pos, mask, online, agg="token-mean")
    ppo = policy_loss(big, old, pos, mask, online, clip_low=0.2, clip_high=0.2, agg="token-mean")
    dapo = policy_loss(big, old, pos, mask, online, clip_low=0.2, clip_high=0.28, agg="token-mean")
    assert abs(float(unclipped.loss) + 1.5) < 1e-12
    assert abs(float(ppo.loss) + 1.2) < 1e-12 and ppo.clip_frac == 1.0
    assert abs(float(dapo.loss) + 1.28) < 1e-12


def test_aggregations_differ_as_documented():
    v = torch.tensor([[1.0, 1.0, 1.0, 1.0], [2.0, 0.0, 0.0, 0.0]], dtype=torch.float64)
    m = torch.tensor([[1, 1, 1, 1], [1, 0, 0, 0]])
    assert float(aggregate(v, m, "token-mean")) == 6.0 / 5
    assert float(aggregate(v, m, "seq-mean-token-mean")) == 1.5
    assert float(aggregate(v, m, "seq-mean-token-sum-norm", max_len=8)) == (4 / 8 + 2 / 8) / 2


def test_entropy_bonus_lowers_loss_and_entropy_is_in_nats():
    logits = torch.zeros(1, 3, 4)
    logp, ent = token_logprobs_and_entropy(logits, torch.zeros(1, 3, dtype=torch.long))
    assert torch.allclose(ent, torch.full_like(ent, torch.log(torch.tensor(4.0))))
    with_bonus = policy_loss(logp, logp, torch.tensor([1.0]), torch.ones(1, 3), torch.tensor([False]), ent, entropy_coef=0.01)
    without = policy_loss(logp, logp, torch.tensor([1.0]), torch.ones(1, 3), torch.tensor([False]), ent, entropy_coef=0.0)
    assert float(with_bonus.loss) < float(without.loss)
