"""Self-distillation samples for OXA's suppress set (docs/oxa.md): the policy's own responses per
question, verified, each with its PPL under the same policy, then `select_suppress`.

Used by `python -m reward_lens.oxa sample` and by the trainer's OXA warm start (warm_start.py), so
both sample, verify and score the same way: transformers `generate` through `policy.sample` (as the
trainer's rollouts), the verifier's batch function, and the trainer's log-prob path for the PPL.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..logprobs import token_statistics
from .score import ppl_of
from .suppress import MIN_PPL, Sample, select_suppress


@dataclass
class SelfSample:
    question_index: int  # into the questions given
    sample_index: int
    ids: list[int]  # response token ids as sampled (EOS kept when generated)
    text: str
    verdict: str  # "correct" | "incorrect" | "error"
    reason: str
    ppl: float | None
    tokens: int


def verdict_of(result: dict) -> str:
    c = result.get("correct")
    return "correct" if c is True else "incorrect" if c is False else "error"


def sample_and_score(
    model,
    tok,
    prompts: Sequence[list[int]],
    golds: Sequence[str],
    *,
    samples: int,
    temperature: float,
    generate: Callable[[list[list[int]], int, float], list[list[list[int]]]],
    verify: Callable[[list[dict]], list[dict]],
    max_tokens_per_micro_batch: int,
    chunk_tokens: int,
    autocast=None,
    batch_prompts: int = 64,
    progress: Callable[[int, int], None] | None = None,
) -> list[SelfSample]:
    """`samples` responses per prompt, each verified against its gold and scored (PPL after its prompt)."""
    out: list[SelfSample] = []
    pad = tok.pad_token_id if tok.pad_token_id is not None else 0
    for s in range(0, len(prompts), batch_prompts):
        chunk = list(range(s, min(len(prompts), s + batch_prompts)))
        resp = generate([list(prompts[q]) for q in chunk], samples, temperature)
        rows = [(q, i, resp[k][i]) for k, q in enumerate(chunk) for i in range(samples)]
        texts = [tok.decode([t for t in ids if t != tok.eos_token_id]) for _, _, ids in rows]
        verdicts = verify([{"id": f"{q}/{i}", "response": t, "gold": golds[q]} for (q, i, _), t in zip(rows, texts)])
        scorable = [k for k, (_, _, ids) in enumerate(rows) if ids]
        stats = token_statistics(
            model, [prompts[rows[k][0]] for k in scorable], [rows[k][2] for k in scorable], temperature=1.0,
            max_tokens_per_micro_batch=max_tokens_per_micro_batch, chunk_tokens=chunk_tokens, pad_token_id=pad, with_entropy=False, autocast=autocast,
        )
        ppl: dict[int, float] = {}
        for k, (lp, _) in zip(scorable, stats):
            p, _ = ppl_of(lp)
            if not math.isnan(p):
                ppl[k] = p
        for k, ((q, i, ids), text, v) in enumerate(zip(rows, texts, verdicts)):
            out.append(SelfSample(q, i, list(ids), text, verdict_of(v), str(v.get("reason") or ""), ppl.get(k), len(ids)))
        if progress is not None:
            progress(chunk[-1] + 1, len(prompts))
    return out


def pick_suppress(pool: Sequence[SelfSample], k: int, min_ppl: float = MIN_PPL):
    """The suppress set among the samples (`select_suppress`'s rules), as samples, lowest PPL first."""
    # (question, sample) as the id: ties in PPL go to the lower question, then the lower sample
    sel = select_suppress([Sample((s.question_index, s.sample_index), s.question_index, s.verdict, s.ppl) for s in pool], k, min_ppl=min_ppl)
    by_key = {(s.question_index, s.sample_index): s for s in pool}
    return [by_key[key] for key in sel.selected], sel.counts


def _done_questions(path: str) -> set:
    """Question ids already in an output file (after `complete_lines` drops a torn last line)."""
    import json

    from .score import complete_lines

    return {json.loads(line)["question_id"] for line in complete_lines(path) if line.strip()}


def run_sample(args) -> int:
    """`oxa sample`: every sample written (resumable per question), then the suppress selection."""
    import json
    import sys
    import time

    import torch

    from ..config import PAPER_SYSTEM_PROMPT, THINK_OPENING, TrainConfig
    from ..data import load_prompts
    from ..policy import sample as policy_sample
    from ..verify import load_verifier
    from .score import load_model

    items, report = load_prompts(args.input)
    if report.skipped:
        print(f"reward_lens.oxa sample: {args.input}: skipped rows {report.skipped}", file=sys.stderr)
    if not items:
        print(f"reward_lens.oxa sample: {args.input}: no usable question rows", file=sys.stderr)
        return 2
    done = _done_questions(args.out)
    todo = [it for it in items if it.id not in done]
    if done:
        print(f"reward_lens.oxa sample: {len(done)} questions already in {args.out}, {len(todo)} to sample", file=sys.stderr)
    if todo:
        torch.manual_seed(int(args.seed))
        device = torch.device("cpu")
        model, tok = load_model(args.model, device)
        cfg = TrainConfig(model=None, device="cpu", bf16=False)
        system = args.system_prompt if args.system_prompt is not None else PAPER_SYSTEM_PROMPT
        prompts = [tok.encode(tok.format_prompt(it.question, it.system if it.system is not None else system, args.template, THINK_OPENING)) for it in todo]
        verify_fn = load_verifier(args.verifier)
        t0 = time.monotonic()

        def progress(n: int, total: int) -> None:
            print(f"reward_lens.oxa sample: {n}/{total} questions ({time.monotonic() - t0:.1f} s)", file=sys.stderr, flush=True)

        with open(args.out, "a", encoding="utf-8") as out:
            # one question batch at a time, so a stop loses at most the batch being sampled
            for s in range(0, len(todo), args.batch_prompts):
                part = range(s, min(len(todo), s + args.batch_prompts))
                rows = sample_and_score(
                    model, tok, [prompts[q] for q in part], [todo[q].gold for q in part], samples=args.samples, temperature=args.temperature,
                    generate=lambda p, n, temp: policy_sample(model, tok, p, n, temp, 1.0, args.max_new_tokens, cfg, device),
                    verify=lambda batch: verify_fn(batch, timeout_s=args.timeout, workers=args.workers),
                    max_tokens_per_micro_batch=args.batch_tokens, chunk_tokens=512, batch_prompts=args.batch_prompts,
                )
                for r in rows:
                    it = todo[part[r.question_index]]
                    out.write(json.dumps({"id": f"{it.id}#{r.sample_index}", "question_id": it.id, "question": it.question, "sample": r.sample_index,
                                          "response": r.text, "verdict": r.verdict, "reason": r.reason, "ppl": r.ppl, "tokens": r.tokens}, ensure_ascii=False) + "\n")
                out.flush()
                progress(part[-1] + 1, len(todo))
    rows = [json.loads(line) for line in open(args.out, encoding="utf-8") if line.strip()]
    sel = select_suppress([Sample(r["id"], r["question_id"], r["verdict"], r["ppl"]) for r in rows], args.k, min_ppl=args.min_ppl)
    result = {"selected": sel.selected, "counts": sel.counts, "k": args.k, "min_ppl": args.min_ppl, "samples_file": args.out}
    if args.selected:
        with open(args.selected, "w", encoding="utf-8") as f:
            json.dump(result, f)
    print(json.dumps({"samples": len(rows), "incorrect": sum(1 for r in rows if r["verdict"] == "incorrect"), "selected": len(sel.selected), "left_out": sel.counts}))
    return 0
