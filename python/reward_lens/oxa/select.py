"""Gaussian quota selection of promote data by perplexity (OXA, docs/oxa.md).

A pure function over plain data: no model, no I/O. `python -m reward_lens.oxa select --in FILE`
reads the request as JSON and prints the result.

Request: {"mu", "sigma", "n", "ppl_range": [lo, hi], "bin_width": w, "max_per_question",
          "items": [{"id", "question", "ppl", "tokens"}]}
Result:  {"quota": [one int per bin], "selected": [ids in the order taken]}

- Bins. Items whose ppl is outside [lo, hi) are discarded. Bin b covers [lo + b·w, lo + (b+1)·w),
  with the edges computed exactly as written (so 1.15 lands in the bin whose lower edge is
  1 + 3·0.05, whatever floor((1.15 − 1)/0.05) says in floating point). There are
  ceil((hi − lo)/w) bins; an item in [lo + B·w, hi) cannot exist when (hi − lo)/w is whole, and
  otherwise belongs to the last bin.
- Quotas. φ_b = NormalPDF(lo + (b + ½)·w; μ, σ); quota_b = floor(n·φ_b / Σφ). The n − Σ quota
  left over goes one each to the bins with the largest fractional parts n·φ_b/Σφ − quota_b,
  ties to the lower bin.
- Filling. Bins in ascending order. Inside a bin, items by tokens descending, then id ascending.
  Passes c = 1 … max_per_question: in pass c an item is taken when its bin is not full, its
  question has fewer than max_per_question selected overall and fewer than c in this bin, and
  it is not taken yet. A bin short of items stays short: `short_bins` lists them for the caller
  to report, and they are never topped up from a neighbour (the target shape is the point).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


class SelectionError(ValueError):
    """A request that does not follow the contract; the message names the field."""


@dataclass(frozen=True)
class Item:
    id: Any  # str or int, as given; all ids of one request have one type
    question: Any
    ppl: float
    tokens: int


@dataclass(frozen=True)
class Request:
    mu: float
    sigma: float
    n: int
    lo: float
    hi: float
    bin_width: float
    max_per_question: int
    items: tuple[Item, ...]


@dataclass(frozen=True)
class Selection:
    quota: list[int]
    selected: list[Any]
    # (bin, quota, filled) for every bin that could not be filled to its quota
    short_bins: list[tuple[int, int, int]]

    def to_json(self) -> dict:
        return {"quota": self.quota, "selected": self.selected}


def _finite(d: dict, key: str, where: str = "") -> float:
    v = d.get(key)
    if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v):
        raise SelectionError(f"{where}{key} = {v!r}: must be a finite number")
    return float(v)


def _int(d: dict, key: str, minimum: int, where: str = "") -> int:
    v = d.get(key)
    if not isinstance(v, int) or isinstance(v, bool) or v < minimum:
        raise SelectionError(f"{where}{key} = {v!r}: must be an integer >= {minimum}")
    return v


def parse_request(d: Any) -> Request:
    """Validates a request dict; defaults as the contract: ppl_range [1, 5], bin_width 0.05, max_per_question 1."""
    if not isinstance(d, dict):
        raise SelectionError("request: must be a JSON object")
    mu = _finite(d, "mu")
    sigma = _finite(d, "sigma")
    if sigma <= 0:
        raise SelectionError(f"sigma = {sigma!r}: must be > 0")
    n = _int(d, "n", 0)
    rng = d.get("ppl_range", [1, 5])
    if not (isinstance(rng, list) and len(rng) == 2 and all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in rng) and rng[0] < rng[1]):
        raise SelectionError(f"ppl_range = {rng!r}: must be [lo, hi] with finite lo < hi")
    w = d.get("bin_width", 0.05)
    if not isinstance(w, (int, float)) or isinstance(w, bool) or not math.isfinite(w) or w <= 0:
        raise SelectionError(f"bin_width = {w!r}: must be a finite number > 0")
    if (rng[1] - rng[0]) / w > 1_000_000:
        raise SelectionError(f"bin_width = {w!r}: makes more than 1,000,000 bins over ppl_range {rng!r}")
    mpq = d.get("max_per_question", 1)
    if not isinstance(mpq, int) or isinstance(mpq, bool) or mpq < 1:
        raise SelectionError(f"max_per_question = {mpq!r}: must be an integer >= 1")
    raw = d.get("items")
    if not isinstance(raw, list):
        raise SelectionError("items: must be a list of {id, question, ppl, tokens}")
    items: list[Item] = []
    seen: set = set()
    id_type: type | None = None
    for k, it in enumerate(raw):
        where = f"items[{k}]."
        if not isinstance(it, dict):
            raise SelectionError(f"items[{k}]: must be an object {{id, question, ppl, tokens}}")
        iid = it.get("id")
        if isinstance(iid, bool) or not isinstance(iid, (str, int)):
            raise SelectionError(f"{where}id = {iid!r}: must be a string or an integer")
        if id_type is None:
            id_type = type(iid)
        elif type(iid) is not id_type:
            raise SelectionError(f"{where}id = {iid!r}: ids must all be strings or all be integers (ordering by id needs one type)")
        if iid in seen:
            raise SelectionError(f"{where}id = {iid!r}: duplicate id")
        seen.add(iid)
        q = it.get("question")
        if isinstance(q, bool) or not isinstance(q, (str, int)):
            raise SelectionError(f"{where}question = {q!r}: must be a string or an integer")
        items.append(Item(iid, q, _finite(it, "ppl", where), _int(it, "tokens", 0, where)))
    return Request(mu, sigma, n, float(rng[0]), float(rng[1]), float(w), mpq, tuple(items))


def bin_count(lo: float, hi: float, w: float) -> int:
    """Bins whose lower edge lo + b·w lies below hi (so (5 − 1)/0.05 gives 80, whatever the rounding)."""
    count = max(1, math.ceil((hi - lo) / w))
    while lo + count * w < hi:
        count += 1
    while count > 1 and lo + (count - 1) * w >= hi:
        count -= 1
    return count


def bin_of(ppl: float, lo: float, hi: float, w: float, bins: int) -> int | None:
    """The bin whose [lo + b·w, lo + (b+1)·w) holds ppl, with the edges as written; None outside [lo, hi)."""
    if not (lo <= ppl < hi):
        return None
    b = min(bins - 1, max(0, int(math.floor((ppl - lo) / w))))
    # floor((ppl - lo) / w) can be off by one at an edge; the edges themselves decide.
    while b + 1 < bins and ppl >= lo + (b + 1) * w:
        b += 1
    while b > 0 and ppl < lo + b * w:
        b -= 1
    return b


def normal_pdf(x: float, mu: float, sigma: float) -> float:
    z = (x - mu) / sigma
    return math.exp(-0.5 * z * z) / (sigma * math.sqrt(2.0 * math.pi))


def quotas(n: int, mu: float, sigma: float, lo: float, w: float, bins: int) -> list[int]:
    phi = [normal_pdf(lo + (b + 0.5) * w, mu, sigma) for b in range(bins)]
    total = sum(phi)
    if total == 0.0:
        # Every centre is so far out in the tail that the density underflows: the same shares
        # from log densities (what the formula means, computed where the floats can hold it).
        logs = [-0.5 * ((lo + (b + 0.5) * w - mu) / sigma) ** 2 for b in range(bins)]
        top = max(logs)
        phi = [math.exp(v - top) for v in logs]
        total = sum(phi)
    exact = [n * p / total for p in phi]
    quota = [int(math.floor(e)) for e in exact]
    left = n - sum(quota)
    # Largest fractional part first; equal parts go to the lower bin.
    order = sorted(range(bins), key=lambda b: (-(exact[b] - quota[b]), b))
    for b in order[:left]:
        quota[b] += 1
    return quota


def select(req: Request) -> Selection:
    bins = bin_count(req.lo, req.hi, req.bin_width)
    quota = quotas(req.n, req.mu, req.sigma, req.lo, req.bin_width, bins)
    members: list[list[Item]] = [[] for _ in range(bins)]
    for it in req.items:
        b = bin_of(it.ppl, req.lo, req.hi, req.bin_width, bins)
        if b is not None:
            members[b].append(it)
    selected: list[Any] = []
    per_question: dict[Any, int] = {}
    short: list[tuple[int, int, int]] = []
    for b in range(bins):
        ordered = sorted(members[b], key=lambda it: (-it.tokens, it.id))
        taken: set = set()
        in_bin: dict[Any, int] = {}
        for c in range(1, req.max_per_question + 1):
            for it in ordered:
                if len(taken) >= quota[b]:
                    break
                if it.id in taken or per_question.get(it.question, 0) >= req.max_per_question or in_bin.get(it.question, 0) >= c:
                    continue
                taken.add(it.id)
                in_bin[it.question] = in_bin.get(it.question, 0) + 1
                per_question[it.question] = per_question.get(it.question, 0) + 1
                selected.append(it.id)
            if len(taken) >= quota[b]:
                break
        if len(taken) < quota[b]:
            short.append((b, quota[b], len(taken)))
    return Selection(quota, selected, short)


def select_json(d: Any) -> Selection:
    return select(parse_request(d))
