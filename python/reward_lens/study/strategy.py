"""Which teacher style a response follows: a rule-based classifier over its reasoning lines.

The reasoning is the text before `</think>` (the prompt already opened the tag). Each non-empty
line is given a shape:

- `place`:  a place tag and two digits, with an optional carry: `U 7+8=15`, `T 4+3+1=8`
- `part`:   a number plus a place part (one non-zero digit then zeros): `347+30=377`
- `round`:  a number written as a round number minus its excess, or declared round:
            `138=140-2`, `300 is round`
- `back`:   a subtraction of the excess: `387-2=385`
- `sum`:    any other `x+y=z`
- anything else is `free`.

A response follows
- **column** when every line is `place`;
- **decompose** when every line is `part`;
- **compensate** when its first line is `round`, and the rest are `sum`, `part` or `back`;
- **other** otherwise: no reasoning, free text, or a mix of styles (e.g. a `place` line in a
  compensation) is not counted as any teacher's.

The rule reads the shape, not the arithmetic: correctness is the verifier's job, and the study
classifies only responses the verifier marked correct. Thousands separators, spaces around
operators and other free variations are `free` on purpose: the teachers never write them.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable

from .task import STYLE_NAMES

OTHER = "other"
CATEGORIES = (*STYLE_NAMES, OTHER)

_PLACE = re.compile(r"^(?:[UTHKM]|P\d+) \d\+\d(?:\+1)?=\d+$")
_PART = re.compile(r"^\d+\+[1-9]0*=\d+$")
_ROUND = re.compile(r"^(?:\d+=\d+-\d+|\d+ is round)$")
_BACK = re.compile(r"^\d+-\d+=\d+$")
_SUM = re.compile(r"^\d+\+\d+=\d+$")


def line_shape(line: str) -> str:
    for name, rx in (("place", _PLACE), ("part", _PART), ("round", _ROUND), ("back", _BACK), ("sum", _SUM)):
        if rx.match(line):
            return name
    return "free"


def reasoning(response: str) -> str:
    """The text before the closing tag (all of it when the tag is missing)."""
    return response.split("</think>", 1)[0]


def classify(response: str) -> str:
    lines = [ln.strip() for ln in reasoning(response).splitlines() if ln.strip()]
    if not lines:
        return OTHER
    shapes = [line_shape(ln) for ln in lines]
    if all(s == "place" for s in shapes):
        return "column"
    if all(s == "part" for s in shapes):
        return "decompose"
    if shapes[0] == "round" and all(s in ("sum", "part", "back") for s in shapes[1:]):
        return "compensate"
    return OTHER


def distribution(labels: Iterable[str]) -> dict[str, float]:
    """Share of each category (every category present, 0.0 when unseen); all 0.0 for no labels."""
    c = Counter(labels)
    n = sum(c.values())
    return {k: (c[k] / n if n else 0.0) for k in CATEGORIES}


def entropy_bits(shares: dict[str, float]) -> float:
    """Shannon entropy (bits) of a distribution over the categories: 0 = one style, log2(4) = 2 max."""
    return float(-sum(p * math.log2(p) for p in shares.values() if p > 0))
