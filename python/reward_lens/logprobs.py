"""Per-token log-probs and entropies of responses, with the LM head only where they are needed.

The one log-prob path of the package: the RL update, the no-grad statistics pass (old log-probs,
H_last, per-token entropies) and the supervised warm start all go through `response_logprobs`;
it does not depend on the trainer, so other objectives (perplexity scoring, promote/suppress
losses) can call it with any (prompt ids, response ids) rows.

Why not `model(...).logits`: a causal LM computes logits at every position, prompt included, over
the whole vocabulary, and the usual log-softmax keeps several full-vocabulary copies alive until
backward. At Qwen2.5's 151,936 tokens that is ~0.6 MB per position per fp32 copy: ~5 GB per copy
of one 8k-token sequence. Here:

- the decoder runs without its head, and only the hidden states that predict a response token are
  gathered (position len(prompt) - 1 + j predicts response token j);
- the head runs over those rows in chunks of `chunk_tokens`, in float32 per chunk, inside one
  autograd function that keeps only its inputs (hidden rows, head weight, targets) and recomputes
  each chunk's logits in backward. Peak extra memory is a few (chunk_tokens x vocab) fp32 buffers,
  whatever the response length.

Gradients are exact (not an approximation): d log p_y / dz = onehot(y) - p, and
dH/dz = -p * (log p + H), both divided by the temperature.

Supported models: those whose forward is `lm_head(decoder(...))` with a plain Linear head (Qwen2,
Llama, Mistral, GPT-2, ...). Models that scale or soft-cap their logits are refused by name.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch

DEFAULT_CHUNK_TOKENS = 512


@dataclass
class ResponseLogprobs:
    """Flat over every response token of the rows, row after row."""

    logp: torch.Tensor  # (N,) float32, log-prob of each response token at the temperature
    entropy: torch.Tensor | None  # (N,) float32, entropy (nats) of the distribution it was drawn from
    lengths: list[int]  # response length of each row; sum(lengths) == N

    def split(self) -> list[tuple[torch.Tensor, torch.Tensor | None]]:
        """Per row: (logp, entropy), views into the flat tensors."""
        lp = list(self.logp.split(self.lengths))
        ent = list(self.entropy.split(self.lengths)) if self.entropy is not None else [None] * len(self.lengths)
        return list(zip(lp, ent))

    def padded(self, which: str = "logp") -> torch.Tensor:
        """(rows, longest response) with zeros after each row's end; differentiable."""
        flat = self.logp if which == "logp" else self.entropy
        if flat is None:
            raise ValueError("entropies were not computed (with_entropy=False)")
        width = max(self.lengths, default=0)
        out = flat.new_zeros((len(self.lengths), max(1, width)))
        rows = [r for r in flat.split(self.lengths)]
        for i, r in enumerate(rows):
            if len(r):
                out[i, : len(r)] = r
        return out

    def mask(self) -> torch.Tensor:
        width = max(1, max(self.lengths, default=0))
        idx = torch.arange(width, device=self.logp.device)
        return (idx[None, :] < torch.tensor(self.lengths, device=self.logp.device)[:, None]).to(torch.float32)


def micro_batches(lengths: Sequence[int], max_tokens: int) -> list[list[int]]:
    """Row indices grouped so each group's padded size (rows x its longest row) fits max_tokens.

    Longest rows first, so rows of similar length share a batch and little is padding. A row longer
    than the budget goes alone (it cannot be split without changing its attention). Every index
    appears exactly once; the order within the result does not change a summed loss.
    """
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be >= 1, got {max_tokens}")
    order = sorted(range(len(lengths)), key=lambda i: (-int(lengths[i]), i))
    out: list[list[int]] = []
    cur: list[int] = []
    longest = 0
    for i in order:
        n = max(1, int(lengths[i]))
        if cur and (len(cur) + 1) * max(longest, n) > max_tokens:
            out.append(cur)
            cur, longest = [], 0
        cur.append(i)
        longest = max(longest, n)
    if cur:
        out.append(cur)
    return out


@contextlib.contextmanager
def eval_mode(model: torch.nn.Module) -> Iterator[None]:
    """Dropout off for statistics (H_last, old log-probs); the previous mode is restored."""
    was = model.training
    model.eval()
    try:
        yield
    finally:
        if was:
            model.train()


def _unwrap(model: torch.nn.Module) -> torch.nn.Module:
    # peft's PeftModel wraps the causal LM; its LoRA layers live inside the wrapped modules.
    get_base = getattr(model, "get_base_model", None)
    return get_base() if callable(get_base) else model


def decoder_and_head(model: torch.nn.Module) -> tuple[torch.nn.Module, torch.nn.Linear]:
    """The causal LM's decoder (hidden states) and its output projection, checked to be plain."""
    base = _unwrap(model)
    conf = getattr(base, "config", None)
    for attr in ("final_logit_softcapping", "logit_scale", "logits_scaling", "output_multiplier_scale"):
        v = getattr(conf, attr, None)
        if v not in (None, 1, 1.0):
            raise NotImplementedError(f"{type(base).__name__} transforms its logits ({attr} = {v}); the chunked log-prob path supports plain lm_head models")
    head = base.get_output_embeddings()
    if type(head) is not torch.nn.Linear:
        raise NotImplementedError(f"the output projection of {type(base).__name__} is a {type(head).__name__}, not a plain Linear (LoRA on lm_head is not supported by the chunked log-prob path)")
    decoder = base.get_decoder()
    if decoder is base:
        raise NotImplementedError(f"{type(base).__name__}: cannot find its decoder module (get_decoder() returned the model itself)")
    return decoder, head


def _compute_dtype(device: torch.device, weight: torch.Tensor) -> torch.dtype:
    if torch.is_autocast_enabled(device.type):
        return torch.get_autocast_dtype(device.type)
    return weight.dtype


def _rowdot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Row-wise dot product of two (c, V) tensors without a (c, V) temporary."""
    return torch.bmm(a.unsqueeze(1), b.unsqueeze(2)).view(-1)


class _ChunkedHeadStats(torch.autograd.Function):
    """(log p(target), entropy) per row of hidden, computing the head chunk by chunk.

    Saves only hidden, weight, bias and targets; backward recomputes each chunk's logits.
    """

    @staticmethod
    def forward(ctx, hidden, weight, bias, targets, inv_temp: float, chunk: int, with_entropy: bool, dtype: torch.dtype):
        n = hidden.shape[0]
        logp = torch.empty(n, dtype=torch.float32, device=hidden.device)
        ent = torch.empty(n, dtype=torch.float32, device=hidden.device) if with_entropy else None
        w = weight.to(dtype)
        b = bias.to(dtype) if bias is not None else None
        with torch.autocast(hidden.device.type, enabled=False):
            for s in range(0, n, chunk):
                e = min(n, s + chunk)
                z = torch.nn.functional.linear(hidden[s:e].to(dtype), w, b).float()
                z.mul_(inv_temp)
                lse = torch.logsumexp(z, dim=-1)
                logp[s:e] = z.gather(-1, targets[s:e, None]).squeeze(-1) - lse
                if ent is not None:
                    z.sub_(lse[:, None])  # now log p
                    ent[s:e] = -_rowdot(z.exp(), z)
                del z
        ctx.save_for_backward(hidden, weight, bias if bias is not None else torch.empty(0), targets)
        ctx.has_bias = bias is not None
        ctx.inv_temp, ctx.chunk, ctx.dtype = inv_temp, chunk, dtype
        ctx.set_materialize_grads(False)  # an unused output (e.g. entropy without a bonus) costs nothing
        if ent is None:
            ent = torch.zeros(0, device=hidden.device)
        return logp, ent

    @staticmethod
    def backward(ctx, g_logp, g_ent):
        hidden, weight, bias, targets = ctx.saved_tensors
        has_bias = ctx.has_bias
        dtype, inv_temp, chunk = ctx.dtype, ctx.inv_temp, ctx.chunk
        n = hidden.shape[0]
        w = weight.to(dtype)
        b = bias.to(dtype) if has_bias else None
        need_h, need_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        need_b = has_bias and ctx.needs_input_grad[2]
        grad_h = torch.zeros_like(hidden) if need_h else None
        grad_w = torch.zeros(weight.shape, dtype=torch.float32, device=weight.device) if need_w else None
        grad_b = torch.zeros(bias.shape, dtype=torch.float32, device=bias.device) if need_b else None
        use_ent = g_ent is not None and g_ent.numel() == n
        with torch.autocast(hidden.device.type, enabled=False):
            for s in range(0, n, chunk):
                e = min(n, s + chunk)
                h = hidden[s:e].to(dtype)
                z = torch.nn.functional.linear(h, w, b).float()
                z.mul_(inv_temp)
                z.sub_(torch.logsumexp(z, dim=-1, keepdim=True))  # log p
                p = z.exp()
                gl = g_logp[s:e].float() if g_logp is not None else torch.zeros(e - s, device=z.device)
                # d/dz of sum(g_logp * logp_y + g_ent * H) = g_logp (onehot - p) - g_ent p (log p + H)
                if use_ent:
                    ge = g_ent[s:e].float()
                    hh = -_rowdot(p, z)[:, None]
                    z.add_(hh).mul_(-ge[:, None]).sub_(gl[:, None]).mul_(p)
                else:
                    z = p.mul_(-gl[:, None])
                del p
                z.scatter_add_(-1, targets[s:e, None], gl[:, None])
                z.mul_(inv_temp)
                gz = z.to(dtype)
                del z
                if grad_h is not None:
                    grad_h[s:e] = (gz @ w).to(hidden.dtype)
                if grad_w is not None:
                    grad_w.add_((gz.t() @ h).float())
                if grad_b is not None:
                    grad_b.add_(gz.float().sum(0))
                del gz
        return (
            grad_h,
            grad_w.to(weight.dtype) if grad_w is not None else None,
            grad_b.to(bias.dtype) if grad_b is not None else None,
            None,
            None,
            None,
            None,
            None,
        )


def head_logprobs(
    hidden: torch.Tensor, head: torch.nn.Linear, targets: torch.Tensor, temperature: float = 1.0, *, with_entropy: bool = True, chunk_tokens: int = DEFAULT_CHUNK_TOKENS
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """log p(targets) and entropies for hidden rows (N, H) through a Linear head, chunked.

    The building block of `response_logprobs`, usable on its own (e.g. by a benchmark or a loss
    that already holds the hidden states).
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    dtype = _compute_dtype(hidden.device, head.weight)
    logp, ent = _ChunkedHeadStats.apply(hidden, head.weight, head.bias, targets, 1.0 / float(temperature), max(1, int(chunk_tokens)), with_entropy, dtype)
    return logp, (ent if with_entropy else None)


def response_logprobs(
    model: torch.nn.Module,
    prompts: Sequence[Sequence[int]],
    responses: Sequence[Sequence[int]],
    *,
    temperature: float = 1.0,
    with_entropy: bool = True,
    chunk_tokens: int = DEFAULT_CHUNK_TOKENS,
    pad_token_id: int = 0,
) -> ResponseLogprobs:
    """Log-probs (and entropies) of each response token given its prompt, in one forward.

    Rows are right-padded to the longest prompt+response; differentiable when grad is enabled.
    The caller chooses the mode (train for an update, `eval_mode` for statistics) and autocast.
    Prompts must be non-empty (the first response token is predicted from the last prompt token).
    """
    if len(prompts) != len(responses):
        raise ValueError(f"{len(prompts)} prompts but {len(responses)} responses")
    lengths = [len(r) for r in responses]
    decoder, head = decoder_and_head(model)
    device = head.weight.device
    if sum(lengths) == 0:
        empty = torch.zeros(0, dtype=torch.float32, device=device)
        return ResponseLogprobs(empty, empty.clone() if with_entropy else None, lengths)
    for i, p in enumerate(prompts):
        if len(p) == 0:
            raise ValueError(f"row {i}: empty prompt (the first response token needs a prompt token before it)")
    width = max(len(p) + len(r) for p, r in zip(prompts, responses))
    ids = torch.full((len(prompts), width), int(pad_token_id), dtype=torch.long)
    attn = torch.zeros((len(prompts), width), dtype=torch.long)
    rows, cols = [], []
    for i, (p, r) in enumerate(zip(prompts, responses)):
        s = list(p) + list(r)
        ids[i, : len(s)] = torch.tensor(s, dtype=torch.long)
        attn[i, : len(s)] = 1
        rows += [i] * len(r)
        cols += range(len(p) - 1, len(p) - 1 + len(r))
    targets = torch.tensor([t for r in responses for t in r], dtype=torch.long, device=device)
    out = decoder(input_ids=ids.to(device), attention_mask=attn.to(device), use_cache=False)
    hidden = out.last_hidden_state if hasattr(out, "last_hidden_state") else out[0]
    picked = hidden[torch.tensor(rows, device=device), torch.tensor(cols, device=device)]
    del hidden, out
    logp, ent = head_logprobs(picked, head, targets, temperature, with_entropy=with_entropy, chunk_tokens=chunk_tokens)
    return ResponseLogprobs(logp, ent, lengths)


@torch.no_grad()
def token_statistics(
    model: torch.nn.Module,
    prompts: Sequence[Sequence[int]],
    responses: Sequence[Sequence[int]],
    *,
    temperature: float,
    max_tokens_per_micro_batch: int,
    chunk_tokens: int = DEFAULT_CHUNK_TOKENS,
    pad_token_id: int = 0,
    with_entropy: bool = True,
    autocast=None,
) -> list[tuple[torch.Tensor, torch.Tensor | None]]:
    """No-grad (logp, entropy) per row on the CPU, in eval mode, micro-batched by a token budget.

    `autocast` is an optional context-manager factory (e.g. bf16 on CUDA).
    """
    out: list[tuple[torch.Tensor, torch.Tensor | None]] = [None] * len(prompts)  # type: ignore[list-item]
    lens = [len(p) + len(r) for p, r in zip(prompts, responses)]
    with eval_mode(model):
        for mb in micro_batches(lens, max_tokens_per_micro_batch):
            ctx = autocast() if autocast is not None else contextlib.nullcontext()
            with ctx:
                st = response_logprobs(
                    model, [prompts[i] for i in mb], [responses[i] for i in mb], temperature=temperature, with_entropy=with_entropy, chunk_tokens=chunk_tokens, pad_token_id=pad_token_id
                )
            for i, (lp, en) in zip(mb, st.split()):
                out[i] = (lp.detach().cpu(), en.detach().cpu() if en is not None else None)
    return out
