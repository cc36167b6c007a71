"""`python -m reward_lens.bench_memory`: peak memory of one policy update, ours against full logits.

Both sides take the same update: a random Qwen2 with the real Qwen2.5 vocabulary size (151,936)
and a small width, N responses of T tokens after a short prompt, the trainer's loss (LUFFY's
token-sum-norm policy loss with teacher shaping on some rows and an entropy bonus), backward.

- ours: the trainer's path, `logprobs.response_logprobs` (decoder without its head, the head only
  at response positions, in `--chunk-tokens` chunks, recomputed in backward), rows packed into
  micro-batches by `--max-tokens-per-micro-batch`;
- naive: the previous trainer's path, full-vocabulary logits at every position, gathered, tempered
  and soft-maxed in full (`loss.token_logprobs_and_entropy`), at micro-batch 1: one sequence at a
  time, the least memory that path can use.

Each side runs in its own subprocess and reports its peak resident memory (VmHWM) and its
baseline before the update (Python, torch, the model); the loss and every gradient are written to
disk and compared here (max abs difference, goal 1e-5). The naive side needs about
(prompt + T) x vocab x 26 B at once (~17 GiB at the issue's 8 x 4,096); before starting it this
checks MemAvailable and, when it would not fit with a margin for the machine's other users,
halves T for both sides until it does, and says so (ours is also reported at the full T, with the
naive peer estimated there). The last line is one JSON object with `figures` for bench/run.ts.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

VOCAB = 151936


def vm_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def mem_available_bytes() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0


def build_inputs(args):
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(args.seed)
    model = Qwen2ForCausalLM(
        Qwen2Config(
            vocab_size=VOCAB,
            hidden_size=args.hidden,
            intermediate_size=args.hidden * 2,
            num_hidden_layers=args.layers,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=args.prompt_tokens + args.response_tokens + 8,
            tie_word_embeddings=True,
        )
    )
    model.train()
    g = torch.Generator().manual_seed(args.seed + 1)
    prompts = [torch.randint(0, VOCAB - 300, (args.prompt_tokens,), generator=g).tolist() for _ in range(args.responses)]
    # Slightly different lengths, as real responses have (the last is the full T).
    responses = [torch.randint(0, VOCAB - 300, (args.response_tokens - 16 * (args.responses - 1 - i),), generator=g).tolist() for i in range(args.responses)]
    adv = torch.linspace(-1.0, 1.0, args.responses)
    off = torch.tensor([i % 4 == 0 for i in range(args.responses)])  # a teacher row in each 4
    return model, prompts, responses, adv, off


def loss_terms(args, rows, logp, entropy, mask, adv, off, norm):
    from .loss import policy_loss

    # old log-probs equal to the current ones: the first mini-batch of a PPO step (ratio 1).
    return policy_loss(logp, logp.detach(), adv[rows], mask, off[rows], entropy, agg="token-sum-norm", max_len=args.response_tokens, entropy_coef=0.01, norm=norm).loss


def side(args) -> int:
    import torch

    from .logprobs import micro_batches, response_logprobs
    from .loss import LossNorm, token_logprobs_and_entropy

    torch.set_num_threads(args.threads)
    model, prompts, responses, adv, off = build_inputs(args)
    lens = [len(r) for r in responses]
    norm = LossNorm(sum(lens), len(lens), args.response_tokens, sum(n for n, o in zip(lens, off) if not o), sum(n for n, o in zip(lens, off) if o))
    baseline = vm_kib("VmRSS")
    t0 = time.perf_counter()
    total = 0.0
    if args.side == "ours":
        for mb in micro_batches([len(p) + len(r) for p, r in zip(prompts, responses)], args.max_tokens_per_micro_batch):
            st = response_logprobs(model, [prompts[i] for i in mb], [responses[i] for i in mb], temperature=1.0, chunk_tokens=args.chunk_tokens)
            loss = loss_terms(args, torch.tensor(mb), st.padded("logp"), st.padded("entropy"), st.mask(), adv, off, norm)
            loss.backward()
            total += float(loss.detach())
    else:
        for i in range(len(prompts)):  # micro_batch = 1
            p, r = prompts[i], responses[i]
            ids = torch.tensor([p + r])
            logits = model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits
            pos = torch.arange(len(p) - 1, len(p) - 1 + len(r))[None, :]
            picked = torch.gather(logits, 1, pos.unsqueeze(-1).expand(-1, -1, logits.shape[-1]))
            logp, ent = token_logprobs_and_entropy(picked, torch.tensor([r]), 1.0)
            loss = loss_terms(args, torch.tensor([i]), logp, ent, torch.ones_like(logp), adv, off, norm)
            loss.backward()
            total += float(loss.detach())
            del logits, picked, logp, ent, loss
    seconds = time.perf_counter() - t0
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}
    torch.save({"loss": total, "grads": grads}, args.out)
    print(json.dumps({"side": args.side, "peak_rss_kib": vm_kib("VmHWM"), "baseline_rss_kib": baseline, "seconds": seconds, "loss": total}))
    return 0


def run_side(name: str, args, out: Path) -> dict:
    cmd = [sys.executable, "-m", "reward_lens.bench_memory", "--side", name, "--out", str(out)]
    for k in ("responses", "response_tokens", "prompt_tokens", "hidden", "layers", "chunk_tokens", "max_tokens_per_micro_batch", "threads", "seed"):
        cmd += [f"--{k.replace('_', '-')}", str(getattr(args, k))]
    res = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": str(args.threads)})
    if res.returncode != 0:
        raise RuntimeError(f"{name} side failed (exit {res.returncode}):\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m reward_lens.bench_memory", description=__doc__.split("\n")[0])
    ap.add_argument("--side", choices=("ours", "naive"))
    ap.add_argument("--out")
    ap.add_argument("--responses", type=int, default=8)
    ap.add_argument("--response-tokens", type=int, default=4096)
    ap.add_argument("--prompt-tokens", type=int, default=64)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--chunk-tokens", type=int, default=512)
    ap.add_argument("--max-tokens-per-micro-batch", type=int, default=16384)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--margin-gib", type=float, default=3.0, help="free memory to leave to the machine's other users")
    args = ap.parse_args(argv)
    if args.side:
        return side(args)

    import torch

    def setting_of(tokens: int) -> str:
        return f"vocab {VOCAB}, {args.responses} responses x {tokens} tokens (+{args.prompt_tokens} prompt), hidden {args.hidden}, {args.layers} layers, fp32, CPU"

    def naive_need(tokens: int, baseline_bytes: float) -> float:
        # Measured: the full-logits path holds ~26 B per (position, vocabulary entry) at its peak
        # (six to seven float32 copies); 7 x 4 B keeps a little above that.
        return 7 * 4 * (args.prompt_tokens + tokens) * VOCAB + baseline_bytes

    gib = 2**30
    target = args.response_tokens
    print(f"trainer-memory: one update, {setting_of(target)}", flush=True)
    with tempfile.TemporaryDirectory(prefix="rl-bench-mem-") as d:
        ours_full = run_side("ours", args, Path(d) / "ours.pt")
        print(f"  ours at {target} tokens: peak RSS {ours_full['peak_rss_kib'] / 2**20:.2f} GiB (baseline {ours_full['baseline_rss_kib'] / 2**20:.2f}), {ours_full['seconds']:.1f} s", flush=True)
        baseline = ours_full["baseline_rss_kib"] * 1024.0
        avail = mem_available_bytes()
        tokens = target
        while tokens > 128 and avail - naive_need(tokens, baseline) < args.margin_gib * gib:
            tokens //= 2
        shrunk = tokens != target
        if avail - naive_need(tokens, baseline) < args.margin_gib * gib:
            msg = f"naive side not started: even at {tokens} tokens it needs about {naive_need(tokens, baseline) / gib:.1f} GiB and {avail / gib:.1f} GiB are available"
            print(msg)
            print(json.dumps({"device": "cpu", "setting": setting_of(target), "ours_full": ours_full, "naive": None, "error": msg, "figures": []}))
            return 1
        if shrunk:
            print(
                f"  the naive side at {target} tokens needs about {naive_need(target, baseline) / gib:.1f} GiB and {avail / gib:.1f} GiB are available "
                f"(keeping {args.margin_gib} GiB for the machine's other users): both sides are compared at {tokens} tokens",
                flush=True,
            )
            args.response_tokens = tokens
            ours = run_side("ours", args, Path(d) / "ours.pt")
            print(f"  ours at {tokens} tokens: peak RSS {ours['peak_rss_kib'] / 2**20:.2f} GiB (baseline {ours['baseline_rss_kib'] / 2**20:.2f}), {ours['seconds']:.1f} s", flush=True)
        else:
            ours = ours_full
        naive = run_side("naive", args, Path(d) / "naive.pt")
        print(f"  naive at {tokens} tokens: peak RSS {naive['peak_rss_kib'] / 2**20:.2f} GiB (baseline {naive['baseline_rss_kib'] / 2**20:.2f}), {naive['seconds']:.1f} s", flush=True)
        a, b = torch.load(Path(d) / "ours.pt"), torch.load(Path(d) / "naive.pt")
        loss_diff = abs(a["loss"] - b["loss"])
        grad_diff = max(float((a["grads"][n] - b["grads"][n]).abs().max()) for n in b["grads"])
        grad_scale = max(float(g.abs().max()) for g in b["grads"].values())
    setting = setting_of(tokens)
    ratio = ours["peak_rss_kib"] / naive["peak_rss_kib"]
    inc_ratio = (ours["peak_rss_kib"] - ours["baseline_rss_kib"]) / max(1, naive["peak_rss_kib"] - naive["baseline_rss_kib"])
    same = loss_diff <= 1e-5 and grad_diff <= 1e-5
    print(
        f"  ratio ours/naive at {tokens} tokens: {ratio:.3f} of the peak ({inc_ratio:.3f} of the update's own growth); "
        f"loss diff {loss_diff:.2e}, max grad diff {grad_diff:.2e} (largest grad {grad_scale:.2e}): {'same to 1e-5' if same else 'DIFFERENT'}"
    )
    note = (
        f"{setting}; naive = full-vocabulary logits at micro-batch 1 (the previous trainer's path); ours = chunked head "
        f"({args.chunk_tokens}-token chunks), micro-batches of {args.max_tokens_per_micro_batch} tokens; same loss and gradients: loss diff {loss_diff:.1e}, max grad diff {grad_diff:.1e}; "
        f"peaks include the {ours['baseline_rss_kib'] / 2**20:.2f} GiB baseline (Python, torch, model)"
        + (
            f"; compared at {tokens} instead of {target} tokens because the naive side needs ~{naive_need(target, baseline) / gib:.0f} GiB "
            f"and {avail / gib:.1f} GiB were available on this shared machine"
            if shrunk
            else ""
        )
    )
    cmd = "npm run bench -- --only trainer-memory"
    figures = [
        {
            "benchmark": "trainer-memory",
            "name": f"peak RSS of one update, {args.responses} x {tokens} tokens, ours (GiB)",
            "unit": "GiB",
            "value": round(ours["peak_rss_kib"] / 2**20, 3),
            "peer": "naive full logits, micro-batch 1, same update",
            "peerValue": round(naive["peak_rss_kib"] / 2**20, 3),
            "ratio": round(ratio, 3),
            "better": "lower",
            "device": "cpu",
            "command": cmd,
            "note": note,
        },
        {
            "benchmark": "trainer-memory",
            "name": f"update time, {args.responses} x {tokens} tokens, ours (s)",
            "unit": "s",
            "value": round(ours["seconds"], 1),
            "peer": "naive full logits, micro-batch 1, same update",
            "peerValue": round(naive["seconds"], 1),
            "ratio": round(ours["seconds"] / naive["seconds"], 3),
            "better": "lower",
            "device": "cpu",
            "command": cmd,
            "note": "wall time on a shared 2-core machine",
        },
    ]
    if shrunk:
        figures.append(
            {
                "benchmark": "trainer-memory",
                "name": f"peak RSS of one update, {args.responses} x {target} tokens, ours (GiB)",
                "unit": "GiB",
                "value": round(ours_full["peak_rss_kib"] / 2**20, 3),
                "peer": f"naive full logits, estimated (~26 B per position x vocabulary entry, measured at {tokens} tokens)",
                "peerValue": round(naive_need(target, baseline) / gib, 1),
                "ratio": round(ours_full["peak_rss_kib"] * 1024 / naive_need(target, baseline), 3),
                "better": "lower",
                "device": "cpu",
                "command": cmd,
                "note": "the issue's configuration; the naive peer is an estimate here, not a measurement",
            }
        )
    print(
        json.dumps(
            {
                "device": "cpu",
                "setting": setting,
                "target_tokens": target,
                "compared_tokens": tokens,
                "ours_full": ours_full,
                "ours": ours,
                "naive": naive,
                "ratio": ratio,
                "growth_ratio": inc_ratio,
                "loss_diff": loss_diff,
                "grad_max_diff": grad_diff,
                "same_to_1e-5": same,
                "figures": figures,
            }
        )
    )
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
