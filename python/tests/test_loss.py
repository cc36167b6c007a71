"""Loss maths: LUFFY's off-policy shaping gradient against finite differences, clipping, aggregation."""

import pytest
import torch

from reward_lens.loss import LossNorm, aggregate, off_policy_shaped_ratio, policy_loss, token_logprobs_and_entropy


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


def luffy_reference(log_prob, old_log_prob, advantages, eos_mask, prefix_mask, entropy, entropy_coeff, gamma=0.1):
    """LUFFY's own arithmetic for its published run (mix_core_alg.compute_token_on_off_policy_loss
    and mix_actor.update_policy with loss_remove_token_mean=True, loss_remove_clip=True,
    off_policy_reshape="p_div_p_0.1"), written out naively on one micro-batch of (bs, L) tensors."""
    adv = advantages[:, None].expand_as(log_prob)
    on_pg_losses = -adv * torch.exp(log_prob - old_log_prob)
    p = torch.exp(log_prob)
    off_pg_losses = -adv * (p / (p + gamma))
    prefix = prefix_mask.to(log_prob.dtype)
    pg_losses = off_pg_losses * prefix + on_pg_losses * (1 - prefix)
    pg_loss = (pg_losses * eos_mask).sum() / eos_mask.shape[-1]  # sum over tokens AND sequences / L
    entropy_loss = (entropy * eos_mask).sum() / eos_mask.sum()  # verl_F.masked_mean
    return pg_loss - entropy_loss * entropy_coeff


def luffy_batch(seed=0, rows=6, width=9):
    g = torch.Generator().manual_seed(seed)
    logp = -torch.rand(rows, width, generator=g, dtype=torch.float64) * 3
    old = logp + 0.1 * torch.randn(rows, width, generator=g, dtype=torch.float64)
    lens = torch.tensor([9, 3, 5, 1, 7, 4])[:rows]
    mask = (torch.arange(width)[None, :] < lens[:, None]).to(torch.float64)
    adv = torch.randn(rows, generator=g, dtype=torch.float64)
    off = torch.tensor([True, False, False, True, False, False])[:rows]
    ent = torch.rand(rows, width, generator=g, dtype=torch.float64) * 2
    return logp, old, adv, mask, off, ent


def test_token_sum_norm_is_luffys_loss_exactly():
    logp, old, adv, mask, off, ent = luffy_batch()
    logp.requires_grad_(True)
    ent.requires_grad_(True)
    ours = policy_loss(logp, old, adv, mask, off, ent, agg="token-sum-norm", max_len=9, entropy_coef=0.01)
    ref = luffy_reference(logp, old, adv, mask, off[:, None].expand_as(logp), ent, 0.01)
    assert abs(float(ours.loss.detach()) - float(ref.detach())) < 1e-12
    g_ours = torch.autograd.grad(ours.loss, (logp, ent))
    g_ref = torch.autograd.grad(ref, (logp, ent))
    assert all(torch.allclose(a, b, atol=1e-14) for a, b in zip(g_ours, g_ref))
    # It is not a mean over sequences: verl's seq-mean-token-sum-norm is the same sum divided by B.
    verl = policy_loss(logp, old, adv, mask, off, agg="seq-mean-token-sum-norm", max_len=9)
    assert abs(float(verl.pg_loss) * logp.shape[0] - float(ours.pg_loss)) < 1e-12
    # LUFFY's logged parts: token means over on-policy and teacher tokens.
    logp = logp.detach()
    on_mask, off_mask = mask * (~off)[:, None], mask * off[:, None]
    assert abs(float(ours.on_pg_loss) - float((-adv[:, None] * torch.exp(logp - old) * on_mask).sum() / on_mask.sum())) < 1e-12
    p = torch.exp(logp)
    assert abs(float(ours.off_pg_loss) - float((-adv[:, None] * p / (p + 0.1) * off_mask).sum() / off_mask.sum())) < 1e-12


@pytest.mark.parametrize("agg", ["token-sum-norm", "token-mean", "seq-mean-token-mean", "seq-mean-token-sum-norm"])
def test_micro_batches_add_up_to_the_mini_batch(agg):
    """With the mini-batch's LossNorm, any split into micro-batches gives the same loss, gradient
    and logged parts (the trainer cuts micro-batches by a token budget)."""
    logp, old, adv, mask, off, ent = luffy_batch(seed=3)
    logp.requires_grad_(True)
    kw = dict(agg=agg, max_len=9, entropy_coef=0.01, clip_low=0.2, clip_high=0.28)
    whole = policy_loss(logp, old, adv, mask, off, ent, **kw)
    (g_whole,) = torch.autograd.grad(whole.loss, logp)
    norm = LossNorm.of(mask, off, 9)
    total = torch.zeros((), dtype=torch.float64)
    parts = {"pg": 0.0, "on": 0.0, "off": 0.0, "ent": 0.0, "ent_on": 0.0, "ratio": 0.0, "clip": 0.0}
    for rows in ([0, 4], [1], [2, 3, 5]):
        r = torch.tensor(rows)
        pp = policy_loss(logp[r], old[r], adv[r], mask[r], off[r], ent[r], norm=norm, **kw)
        total = total + pp.loss
        for k, v in (("pg", pp.pg_loss), ("on", pp.on_pg_loss), ("off", pp.off_pg_loss), ("ent", pp.entropy), ("ent_on", pp.entropy_on_policy), ("ratio", pp.off_ratio_mean), ("clip", pp.clip_frac)):
            parts[k] += float(v)
    (g_split,) = torch.autograd.grad(total, logp)
    assert abs(float(total.detach()) - float(whole.loss.detach())) < 1e-12
    assert torch.allclose(g_split, g_whole, atol=1e-14)
    logged = (("pg", whole.pg_loss), ("on", whole.on_pg_loss), ("off", whole.off_pg_loss), ("ent", whole.entropy), ("ent_on", whole.entropy_on_policy))
    for k, v in (*logged, ("ratio", whole.off_ratio_mean), ("clip", whole.clip_frac)):
        assert abs(parts[k] - float(v)) < 1e-12, k


def test_on_policy_entropy_leaves_teacher_tokens_out():
    """actor/entropy_on_policy: the token mean of the entropy over online rows only, so arms that
    insert different numbers of teacher tokens compare on what the policy sampled."""
    logp, old, adv, mask, off, ent = luffy_batch(seed=5)
    parts = policy_loss(logp, old, adv, mask, off, ent, max_len=9)
    on = mask.to(torch.bool) & ~off[:, None].to(torch.bool)
    assert off.any() and (~off).any()
    assert abs(parts.entropy_on_policy - float(ent[on].mean())) < 1e-12
    assert abs(float(parts.entropy) - float(ent[mask.to(torch.bool)].mean())) < 1e-12
