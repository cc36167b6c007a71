"""`oxa score`: the perplexity of each response under the base model (docs/oxa.md).

Input rows (JSONL): {"id", "question", "response"} and optionally "system". Output rows (JSONL,
appended): {"id", "question", "ppl", "nll_mean", "tokens", "conditioning"}, which is the item
shape `oxa select` reads. PPL = exp(mean over the scored response tokens of −log p).

Conditioning (the paper leaves it open, docs/oxa.md):
- "question" (default): the response follows the question in the prompt the trainer builds
  (`TokenizerAdapter.format_prompt` with the config's template, ending "<think>\\n"), so the PPL
  is the one the warm start will train against; every response token is scored.
- "none": the reference implementation's behaviour: the response text alone, no question, no
  template, no BOS; its first token only conditions the rest and is not scored.

The log-probs come from the trainer's one log-prob path (`token_statistics`), micro-batched by a
token budget. Resumable: ids already in the output file are skipped, and a row cut off by a crash
(a last line without its newline) is dropped before appending.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import torch

from ..logprobs import micro_batches, token_statistics

CONDITIONINGS = ("question", "none")


class ScoreError(ValueError):
    """Input that cannot be scored; the message names the line and the field."""


@dataclass
class ScoreRow:
    id: object
    question: str
    response: str
    system: str | None = None


def read_rows(path: str) -> list[ScoreRow]:
    rows: list[ScoreRow] = []
    seen: set = set()
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                d = json.loads(line)
            except json.JSONDecodeError as e:
                raise ScoreError(f"{path}:{n}: not JSON ({e.msg})") from e
            if not isinstance(d, dict):
                raise ScoreError(f"{path}:{n}: a row must be an object, got {type(d).__name__}")
            for k in ("question", "response"):
                if not isinstance(d.get(k), str):
                    raise ScoreError(f"{path}:{n}: {k} = {d.get(k)!r}: must be a string")
            rid = d.get("id")
            if not isinstance(rid, (str, int)) or isinstance(rid, bool):
                raise ScoreError(f"{path}:{n}: id = {rid!r}: must be a string or an integer")
            if rid in seen:
                raise ScoreError(f"{path}:{n}: id = {rid!r}: appears twice")
            seen.add(rid)
            system = d.get("system")
            if system is not None and not isinstance(system, str):
                raise ScoreError(f"{path}:{n}: system = {system!r}: must be a string")
            rows.append(ScoreRow(rid, d["question"], d["response"], system))
    return rows


def complete_lines(path: str) -> list[str]:
    """The lines of a resumable JSONL output; a torn last line (no newline, a crash mid-write) is
    cut off the file first, so the rerun appends after the last whole row."""
    if not os.path.exists(path):
        return []
    with open(path, "rb") as f:
        data = f.read()
    if data and not data.endswith(b"\n"):
        with open(path, "r+b") as f:
            f.truncate(data.rfind(b"\n") + 1)
        data = data[: data.rfind(b"\n") + 1]
    return data.decode("utf-8").splitlines()


def already_scored(path: str, conditioning: str) -> set:
    """Ids in an existing output file (after `complete_lines` drops a torn last line)."""
    done = set()
    for n, line in enumerate(complete_lines(path), 1):
        if not line.strip():
            continue
        d = json.loads(line)
        if d.get("conditioning") != conditioning:
            raise ScoreError(f"{path}:{n}: scored with conditioning {d.get('conditioning')!r}, this run asks for {conditioning!r}; write to another file")
        done.add(d["id"])
    return done


def encode_rows(rows: Sequence[ScoreRow], tok, conditioning: str, *, system_prompt: str, template: str | None, ends_with: str) -> tuple[list[list[int]], list[list[int]]]:
    """(prompt ids, scored response ids) per row under the chosen conditioning."""
    if conditioning not in CONDITIONINGS:
        raise ScoreError(f"conditioning = {conditioning!r}: must be one of {', '.join(CONDITIONINGS)}")
    prompts, responses = [], []
    for r in rows:
        ids = tok.encode(r.response)
        if conditioning == "question":
            prompt = tok.format_prompt(r.question, r.system if r.system is not None else system_prompt, template, ends_with)
            prompts.append(tok.encode(prompt))
            responses.append(ids)
        else:
            prompts.append(ids[:1])
            responses.append(ids[1:])
    return prompts, responses


def ppl_of(logp: torch.Tensor) -> tuple[float, float]:
    """(ppl, mean NLL) of one response's token log-probs; nan for a response with no scored token."""
    if logp.numel() == 0:
        return math.nan, math.nan
    nll = float(-logp.double().mean())
    return math.exp(nll), nll


def score(
    model,
    tok,
    rows: Sequence[ScoreRow],
    *,
    conditioning: str = "question",
    batch_tokens: int = 16384,
    system_prompt: str = "",
    template: str | None = None,
    ends_with: str = "<think>\n",
    autocast: Callable | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Iterable[dict]:
    """Output rows, one token-budget batch at a time (in batch order, not input order)."""
    prompts, responses = encode_rows(rows, tok, conditioning, system_prompt=system_prompt, template=template, ends_with=ends_with)
    lens = [len(p) + len(r) for p, r in zip(prompts, responses)]
    done = 0
    pad = tok.pad_token_id if tok.pad_token_id is not None else 0
    for mb in micro_batches(lens, batch_tokens):
        scorable = [i for i in mb if prompts[i] and responses[i]]
        stats = []
        if scorable:
            p_mb, r_mb = [prompts[i] for i in scorable], [responses[i] for i in scorable]
            stats = token_statistics(model, p_mb, r_mb, temperature=1.0, max_tokens_per_micro_batch=batch_tokens, pad_token_id=pad, with_entropy=False, autocast=autocast)
        by_row = dict(zip(scorable, stats))
        for i in mb:
            lp = by_row[i][0] if i in by_row else torch.zeros(0)
            ppl, nll = ppl_of(lp)
            # A response with no scored token has no PPL: null, never a made-up number.
            ppl_v, nll_v = (None, None) if math.isnan(ppl) else (ppl, nll)
            yield {"id": rows[i].id, "question": rows[i].question, "ppl": ppl_v, "nll_mean": nll_v, "tokens": int(lp.numel()), "conditioning": conditioning}
        done += len(mb)
        if progress is not None:
            progress(done, len(rows))


def load_model(spec: str, device: torch.device):
    """A model folder, or a tiny spec as JSON ({"tiny": {...}}), through the trainer's builder."""
    from ..config import TrainConfig
    from ..policy import build_policy

    model = spec
    if spec.lstrip().startswith("{"):
        try:
            model = json.loads(spec)
        except json.JSONDecodeError as e:
            raise ScoreError(f"--model {spec!r}: not a folder and not a JSON tiny spec ({e.msg})") from e
        if not isinstance(model, dict) or not isinstance(model.get("tiny"), dict):
            raise ScoreError(f"--model {spec!r}: a JSON spec must be {{\"tiny\": {{...}}}}")
    elif not os.path.isdir(spec):
        raise ScoreError(f"--model {spec!r}: no such folder (give a local model folder or a JSON tiny spec)")
    return build_policy(TrainConfig(model=model, gradient_checkpointing=False), device)


def run_score(args) -> int:
    from ..config import PAPER_SYSTEM_PROMPT, THINK_OPENING

    rows = read_rows(args.input)
    done = already_scored(args.out, args.conditioning)
    todo = [r for r in rows if r.id not in done]
    if done:
        print(f"reward_lens.oxa score: {len(done)} already in {args.out}, {len(todo)} to score", file=sys.stderr)
    if not todo:
        return 0
    torch.manual_seed(int(args.seed))  # a tiny spec builds random weights: the seed pins them
    model, tok = load_model(args.model, torch.device("cpu"))
    t0 = time.monotonic()

    def progress(n: int, total: int) -> None:
        print(f"reward_lens.oxa score: {n}/{total} responses ({time.monotonic() - t0:.1f} s)", file=sys.stderr, flush=True)

    with open(args.out, "a", encoding="utf-8") as out:
        system = args.system_prompt if args.system_prompt is not None else PAPER_SYSTEM_PROMPT
        for row in score(model, tok, todo, conditioning=args.conditioning, batch_tokens=args.batch_tokens, system_prompt=system, ends_with=THINK_OPENING, progress=progress):
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            out.flush()
    return 0
