"""The study's task: multi-digit addition with three valid strategies, in the real reasoning format.

A prompt is `Q: 247+138\\n<think>\\n`; a response reasons, closes the tag and boxes the answer,
and the default verifier (LUFFY's format gate + Math-Verify) checks it like any other run.
Three teacher styles reach the same sum by different routes, so their traces differ in structure
and in embedding (demo_task.py's styles, generalised to any number of digits and kept short):

- column:     place by place from the units, carrying: `U 7+8=15` / `T 4+3+1=8` / `H 1+2=3`
- decompose:  add the second number's place parts from the largest: `247+100=347` / `347+30=377` / `377+8=385`
- compensate: round the second number up, add, take the excess back: `138=140-2` / `247+140=387` / `387-2=385`

Splits, all fixed by the seed: `train` (pairs of 3-digit operands whose sum has 3 digits, with every
teacher style), `test-id` (held-out pairs from the same distribution) and `test-ood` (pairs whose
sum has 4 digits: a longer answer and one more carry than any training trace or teacher shows,
the generalisation test). Pairs never repeat across splits.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

PROMPT_TEMPLATE = "Q: {question}\n<think>\n"
STYLE_NAMES = ("column", "decompose", "compensate")
# Place names for the column style, units first; beyond 5 digits the place is numbered.
_PLACES = ("U", "T", "H", "K", "M")


def _place(i: int) -> str:
    return _PLACES[i] if i < len(_PLACES) else f"P{i}"


def column(a: int, b: int) -> str:
    da, db = str(a)[::-1], str(b)[::-1]
    lines, carry = [], 0
    for i in range(max(len(da), len(db))):
        x = int(da[i]) if i < len(da) else 0
        y = int(db[i]) if i < len(db) else 0
        s = x + y + carry
        lines.append(f"{_place(i)} {x}+{y}" + ("+1" if carry else "") + f"={s}")
        carry = s // 10
    return "\n".join(lines)


def decompose(a: int, b: int) -> str:
    digits = str(b)
    parts = [int(d) * 10 ** (len(digits) - 1 - i) for i, d in enumerate(digits)]
    parts = [p for p in parts if p] or [0]
    lines, acc = [], a
    for p in parts:
        lines.append(f"{acc}+{p}={acc + p}")
        acc += p
    return "\n".join(lines)


def compensate(a: int, b: int) -> str:
    if b % 10 == 0:
        return f"{b} is round\n{a}+{b}={a + b}"
    up = (b // 10 + 1) * 10
    excess = up - b
    return f"{b}={up}-{excess}\n{a}+{up}={a + up}\n{a + up}-{excess}={a + b}"


STYLES = {"column": column, "decompose": decompose, "compensate": compensate}


def trace(style: str, a: int, b: int) -> str:
    # The prompt ends with the opening tag (LUFFY's layout); the response closes it and boxes the answer.
    return f"{STYLES[style](a, b)}\n</think>\n\\boxed{{{a + b}}}"


def question(a: int, b: int) -> str:
    return f"{a}+{b}"


@dataclass(frozen=True)
class Splits:
    train: list[tuple[int, int]]
    test_id: list[tuple[int, int]]
    test_ood: list[tuple[int, int]]


def _operands(digits: int) -> range:
    return range(10 ** (digits - 1), 10**digits)


def draw_pairs(rng: random.Random, digits: int, count: int, longer_sum: bool) -> list[tuple[int, int]]:
    """`count` distinct pairs of `digits`-digit operands whose sum is one digit longer (or not)."""
    ops = _operands(digits)
    limit = 10**digits
    # Either kind is at least a third of all pairs for any digits >= 2; beyond half of that,
    # rejection sampling would slow down, and no preset comes close.
    if count > len(ops) ** 2 // 6:
        raise ValueError(f"cannot draw {count} distinct {digits}-digit pairs")
    out: list[tuple[int, int]] = []
    seen: set[tuple[int, int]] = set()
    while len(out) < count:
        p = (rng.choice(ops), rng.choice(ops))
        if p not in seen and ((p[0] + p[1] >= limit) == longer_sum):
            seen.add(p)
            out.append(p)
    return out


def make_splits(seed: int, train: int, test_id: int, test_ood: int, digits: int = 3) -> Splits:
    """Training and in-distribution pairs have a sum of `digits` digits; the OOD pairs' sum is one
    digit longer, which no training trace or teacher ever writes (one more carry, a longer answer)."""
    rng = random.Random(f"study-task-{seed}")
    pool = draw_pairs(rng, digits, train + test_id, False)
    return Splits(pool[:train], pool[train:], draw_pairs(rng, digits, test_ood, True))


def row(a: int, b: int, styles: tuple[str, ...] = ()) -> dict:
    r = {"id": question(a, b), "prompt": question(a, b), "gold": str(a + b)}
    if styles:
        r["teachers"] = [{"teacher": s, "text": trace(s, a, b)} for s in styles]
    return r


def luffy_style(seed: int, a: int, b: int) -> str:
    """LUFFY's one teacher per prompt: a style drawn per prompt, fixed by the seed."""
    return random.Random(f"luffy-{seed}-{a}+{b}").choice(STYLE_NAMES)


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    tmp.replace(path)
    return path


@dataclass(frozen=True)
class TaskFiles:
    train: Path  # every prompt with all teacher styles (OGER arms; GRPO ignores the teachers)
    train_luffy: Path  # every prompt with one teacher (LUFFY's layout)
    warm: Path  # the warm start's traces: only the warm-start styles
    test_id: Path
    test_ood: Path


def write_task(out: Path, seed: int, train: int, test_id: int, test_ood: int, warm_styles: tuple[str, ...], digits: int = 3) -> TaskFiles:
    bad = [s for s in warm_styles if s not in STYLES]
    if bad or not warm_styles:
        raise ValueError(f"warm_styles must be a non-empty subset of {', '.join(STYLE_NAMES)}; got {list(warm_styles)}")
    sp = make_splits(seed, train, test_id, test_ood, digits)
    return TaskFiles(
        train=write_jsonl(out / "train.jsonl", [row(a, b, STYLE_NAMES) for a, b in sp.train]),
        train_luffy=write_jsonl(out / "train-luffy.jsonl", [row(a, b, (luffy_style(seed, a, b),)) for a, b in sp.train]),
        warm=write_jsonl(out / "warm.jsonl", [row(a, b, warm_styles) for a, b in sp.train]),
        test_id=write_jsonl(out / "test-id.jsonl", [row(a, b) for a, b in sp.test_id]),
        test_ood=write_jsonl(out / "test-ood.jsonl", [row(a, b) for a, b in sp.test_ood]),
    )
