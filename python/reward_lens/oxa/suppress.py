"""The suppress set: the policy's own incorrect responses it is most confident in (docs/oxa.md).

A pure function over scored samples. Rules (notes on the paper, docs/oxa.md):
- only verdict "incorrect" counts: "correct" is not suppressed, and "error" (the verifier could not
  decide) is neither correct nor incorrect, so it is never suppressed either;
- PPL below `min_ppl` (1.2) is dropped: near-certain output is mostly degenerate loops;
- a sample without a PPL (no scored token) is dropped;
- per question, the lowest-PPL incorrect response (ties: the lower id);
- then the global K lowest of those (ties: the lower id).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MIN_PPL = 1.2


@dataclass(frozen=True)
class Sample:
    id: Any
    question: Any
    verdict: str  # "correct" | "incorrect" | "error"
    ppl: float | None


@dataclass
class SuppressSelection:
    selected: list[Any]  # ids, lowest PPL first
    counts: dict[str, int]  # why samples were left out, for the run's events


def select_suppress(samples: list[Sample], k: int, *, min_ppl: float = MIN_PPL) -> SuppressSelection:
    if k < 0:
        raise ValueError(f"k = {k}: must be >= 0")
    counts = {"correct": 0, "error": 0, "no_ppl": 0, "below_min_ppl": 0, "not_lowest_of_question": 0, "beyond_k": 0}
    best: dict[Any, Sample] = {}
    for s in samples:
        if s.verdict == "correct":
            counts["correct"] += 1
            continue
        if s.verdict != "incorrect":
            counts["error"] += 1
            continue
        if s.ppl is None or s.ppl != s.ppl:
            counts["no_ppl"] += 1
            continue
        if s.ppl < min_ppl:
            counts["below_min_ppl"] += 1
            continue
        cur = best.get(s.question)
        if cur is None or (s.ppl, s.id) < (cur.ppl, cur.id):
            if cur is not None:
                counts["not_lowest_of_question"] += 1
            best[s.question] = s
        else:
            counts["not_lowest_of_question"] += 1
    ranked = sorted(best.values(), key=lambda s: (s.ppl, s.id))
    counts["beyond_k"] = max(0, len(ranked) - k)
    return SuppressSelection([s.id for s in ranked[:k]], counts)
