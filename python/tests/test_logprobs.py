"""The log-prob path (logprobs.py): exact against full logits, bounded memory, token-budget batches."""

import pytest
import torch

from reward_lens.logprobs import ResponseLogprobs, decoder_and_head, eval_mode, micro_batches, response_logprobs, token_statistics
from reward_lens.loss import token_logprobs_and_entropy


def tiny(arch="qwen2", vocab=300, tied=False, dropout=False):
    from transformers import GPT2Config, GPT2LMHeadModel, Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    if arch == "gpt2":
        p = 0.1 if dropout else 0.0
        return GPT2LMHeadModel(GPT2Config(vocab_size=vocab, n_positions=64, n_embd=32, n_layer=2, n_head=4, resid_pdrop=p, embd_pdrop=p, attn_pdrop=p, bos_token_id=0, eos_token_id=0))
    return Qwen2ForCausalLM(
        Qwen2Config(vocab_size=vocab, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=tied, max_position_embeddings=64)
    )


PROMPTS = [[1, 2, 3], [4, 5], [7, 8, 9, 10], [11]]
RESPONSES = [[11, 12, 13, 14], [15], [16, 17], []]


def naive(model, prompts, responses, temperature):
    """The old way: full logits at every position, then log-softmax over the vocabulary."""
    lps, ents = [], []
    for p, r in zip(prompts, responses):
        if not r:
            continue
        logits = model(input_ids=torch.tensor([p + r])).logits[:, len(p) - 1 : len(p) - 1 + len(r)]
        lp, ent = token_logprobs_and_entropy(logits, torch.tensor([r]), temperature)
        lps.append(lp[0])
        ents.append(ent[0])
    return torch.cat(lps), torch.cat(ents)


def weighted(lp, ent):
    n = len(lp)
    return (lp * torch.linspace(-1.0, 1.0, n)).sum() + 0.3 * (ent * torch.linspace(0.5, 2.0, n)).sum()


@pytest.mark.parametrize("arch,tied,chunk", [("qwen2", False, 1), ("qwen2", True, 3), ("qwen2", False, 4096), ("gpt2", True, 2)])
def test_matches_full_logits_values_and_gradients(arch, tied, chunk):
    model = tiny(arch, tied=tied).eval()
    st = response_logprobs(model, PROMPTS, RESPONSES, temperature=0.7, chunk_tokens=chunk)
    weighted(st.logp, st.entropy).backward()
    ours = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    lp, ent = naive(model, PROMPTS, RESPONSES, 0.7)
    weighted(lp, ent).backward()
    assert st.lengths == [4, 1, 2, 0]
    assert torch.allclose(st.logp, lp, atol=1e-5) and torch.allclose(st.entropy, ent, atol=1e-5)
    for n, p in model.named_parameters():
        if p.grad is not None:
            assert torch.allclose(ours[n], p.grad, atol=1e-5), (n, (ours[n] - p.grad).abs().max())


def test_logprob_only_gradient_and_rows_split():
    model = tiny().eval()
    st = response_logprobs(model, PROMPTS, RESPONSES, temperature=1.0, with_entropy=False, chunk_tokens=2)
    assert st.entropy is None
    (-st.logp.sum()).backward()
    ours = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()
    lp, _ = naive(model, PROMPTS, RESPONSES, 1.0)
    (-lp.sum()).backward()
    assert all(torch.allclose(ours[n], p.grad, atol=1e-5) for n, p in model.named_parameters())
    rows = st.split()
    assert [len(lp) for lp, _ in rows] == [4, 1, 2, 0]
    padded, mask = st.padded("logp"), st.mask()
    assert padded.shape == (4, 4) and mask.sum() == 7 and torch.equal(padded[0], st.logp[:4])


def test_saved_for_backward_holds_no_full_vocabulary_copy():
    """What autograd keeps between forward and backward: far less than one logits copy (rows x
    vocab x 4 B) of the sequences, because the head's chunks are recomputed in backward."""
    vocab = 20000
    model = tiny(vocab=vocab).train()
    prompts, responses = [[1, 2, 3] * 4] * 2, [list(range(20, 60))] * 2
    saved = []

    def pack(t):
        saved.append(t.numel() * t.element_size())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        st = response_logprobs(model, prompts, responses, temperature=1.0, chunk_tokens=16)
        loss = -(st.logp.sum() + 0.01 * st.entropy.sum())
    one_copy = sum(len(p) + len(r) for p, r in zip(prompts, responses)) * vocab * 4
    largest_param = max(p.numel() * 4 for p in model.parameters())
    # The head's weight (vocab x hidden) is saved once; nothing vocabulary-wide per position is.
    assert sum(saved) - largest_param < one_copy / 4, (sum(saved), one_copy)
    assert max(saved) <= largest_param
    loss.backward()


def test_micro_batches_respect_the_token_budget():
    lengths = [5, 40, 7, 33, 12, 12, 90, 1, 0]
    batches = micro_batches(lengths, 64)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for b in batches:
        longest = max(max(1, lengths[i]) for i in b)
        assert len(b) * longest <= 64 or len(b) == 1  # a row over the budget goes alone
    assert batches[0] == [6]  # longest first
    assert micro_batches([3, 3, 3], 1000) == [[0, 1, 2]]
    with pytest.raises(ValueError):
        micro_batches([1], 0)


def test_token_statistics_run_in_eval_mode_and_restore_the_mode():
    model = tiny("gpt2", dropout=True).train()
    a = token_statistics(model, PROMPTS, RESPONSES, temperature=1.0, max_tokens_per_micro_batch=8)
    b = token_statistics(model, PROMPTS, RESPONSES, temperature=1.0, max_tokens_per_micro_batch=1000)
    assert model.training  # restored
    with eval_mode(model), torch.no_grad():
        lp, ent = naive(model, PROMPTS, RESPONSES, 1.0)
    flat_a = torch.cat([x[0] for x in a])
    assert torch.equal(flat_a, torch.cat([x[0] for x in b])) or torch.allclose(flat_a, torch.cat([x[0] for x in b]), atol=1e-6)
    assert torch.allclose(flat_a, lp, atol=1e-5) and torch.allclose(torch.cat([x[1] for x in a]), ent, atol=1e-5)


def test_refuses_heads_it_cannot_chunk():
    model = tiny()
    model.config.final_logit_softcapping = 30.0
    with pytest.raises(NotImplementedError, match="final_logit_softcapping"):
        decoder_and_head(model)
    model = tiny()
    model.lm_head = torch.nn.Sequential(model.lm_head)
    with pytest.raises(NotImplementedError, match="not a plain Linear"):
        decoder_and_head(model)


def test_empty_prompt_is_an_error_and_empty_rows_are_fine():
    model = tiny()
    with pytest.raises(ValueError, match="empty prompt"):
        response_logprobs(model, [[]], [[3]])
    st = response_logprobs(model, [[1]], [[]])
    assert isinstance(st, ResponseLogprobs) and st.logp.numel() == 0
