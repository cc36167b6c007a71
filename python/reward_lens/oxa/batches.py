"""Optimizer-step batches for OXA: promote and suppress sequences 1:1 in every step.

`batch` is the number of promote sequences per step, and each step takes exactly as many suppress
sequences, whatever `batch` is and however many of each set there are. Each set is walked in its
own shuffled order, reshuffled when it runs out (an epoch), so the smaller set is repeated rather
than the ratio bent. Token-budget micro-batching happens after this, on the step's rows.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class StepRows:
    promote: list[int]  # indices into the promote set
    suppress: list[int]  # indices into the suppress set


class _Cycle:
    def __init__(self, size: int, rng: random.Random):
        self.size = size
        self.rng = rng
        self.order: list[int] = []
        self.pos = 0
        self.epochs = 0

    def take(self, k: int) -> list[int]:
        out: list[int] = []
        while len(out) < k:
            if self.pos >= len(self.order):
                self.order = list(range(self.size))
                self.rng.shuffle(self.order)
                self.pos = 0
                self.epochs += 1
            out.append(self.order[self.pos])
            self.pos += 1
        return out


def paired_steps(promote_size: int, suppress_size: int, batch: int, steps: int, seed: int) -> Iterator[StepRows]:
    """`steps` steps of `batch` promote and `batch` suppress indices each (suppress_size 0: promote only)."""
    if batch < 1:
        raise ValueError(f"batch = {batch}: must be >= 1")
    if promote_size < 1:
        raise ValueError("OXA needs at least one promote (selected teacher) sequence")
    rng = random.Random(seed)
    promote = _Cycle(promote_size, random.Random(rng.random()))
    suppress = _Cycle(suppress_size, random.Random(rng.random())) if suppress_size > 0 else None
    for _ in range(steps):
        yield StepRows(promote.take(batch), suppress.take(batch) if suppress is not None else [])


def interleave(promote_rows: Sequence, suppress_rows: Sequence) -> list[tuple[bool, object]]:
    """One step's rows as (is_suppress, row), alternating, so any prefix split stays close to 1:1."""
    out: list[tuple[bool, object]] = []
    for k in range(max(len(promote_rows), len(suppress_rows))):
        if k < len(promote_rows):
            out.append((False, promote_rows[k]))
        if k < len(suppress_rows):
            out.append((True, suppress_rows[k]))
    return out
