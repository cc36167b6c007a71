"""Intervals over seeds: Student-t 95% intervals of a mean, and of paired differences.

Seeds are the unit of replication: each arm's figure is one number per seed, and every arm of a
seed shares its warm start, prompts and evaluation set, so a difference against GRPO is taken
seed by seed (paired) before its interval.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from scipy import stats as _st

LEVEL = 0.95


def interval(values: Sequence[float | None]) -> dict:
    """{mean, lo, hi, sd, n} of the finite values; lo/hi null when fewer than 2 values."""
    xs = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    n = len(xs)
    if n == 0:
        return {"mean": None, "lo": None, "hi": None, "sd": None, "n": 0}
    mean = sum(xs) / n
    if n < 2:
        return {"mean": mean, "lo": None, "hi": None, "sd": None, "n": 1}
    sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1))
    half = float(_st.t.ppf(0.5 + LEVEL / 2, n - 1)) * sd / math.sqrt(n)
    return {"mean": mean, "lo": mean - half, "hi": mean + half, "sd": sd, "n": n}


def paired(arm: dict[int, float | None], base: dict[int, float | None]) -> dict:
    """Interval of arm - base over the seeds both have a value for (the pairing is by seed)."""
    seeds = sorted(s for s in arm if s in base and arm[s] is not None and base[s] is not None)
    out = interval([arm[s] - base[s] for s in seeds])
    out["seeds"] = seeds
    return out


def excludes_zero(iv: dict) -> bool:
    return iv.get("lo") is not None and (iv["lo"] > 0 or iv["hi"] < 0)
