"""The numpy peer of the re-score benchmark: the same what-if group arithmetic as src/core/rescore.ts
(R_OGER, R_total, divergence-aware or LUFFY replacement, GRPO advantages, sign flips), vectorised
over every group at once. It reads the columnar file that bench/rescore.ts wrote, so both sides
score the same data; it prints one JSON line with its timing, its totals and sample values that
the TypeScript side compares against its own.

Usage: python bench/rescore_numpy.py DATA.bin HEADER.json [REPEATS]
"""
import json
import sys
import time

import numpy as np

GRPO, LUFFY, OGER, NO_REFINE, NO_REWARD = 0, 1, 2, 3, 4
SAMPLE, POPULATION, NONE = 0, 1, 2
CORRECT = 0


def load(data_path, header_path):
    header = json.load(open(header_path))
    raw = np.fromfile(data_path, dtype=np.uint8)
    arrays = {}
    for name, spec in header["arrays"].items():
        dtype = np.dtype(spec["dtype"])
        count = spec["count"]
        start = spec["offset"]
        arr = raw[start : start + count * dtype.itemsize].view(dtype)
        if spec["per"] == "slot":
            arr = arr.reshape(header["groups"], header["slots"])
        arrays[name] = arr
    return header, arrays


def score(a, verdict):
    """One pass of the reward core over every group: returns (r_total, advantage, replaced, r_oger)."""
    online = a["source"] == 1
    offline = a["source"] == 0
    variant = a["variant"][:, None]
    correct = verdict == CORRECT
    rm = correct.astype(np.float64)
    refine = variant == OGER
    gives = (variant == OGER) | (variant == NO_REFINE)
    div = a["div"]
    conf = np.where(refine, np.exp(-np.where(online, a["ent"], 0.0)), 1.0)
    r_oger = np.where(online & gives & correct & ~np.isnan(div), div * conf * rm, 0.0)
    r_total = rm + r_oger

    uses_offline = variant != GRPO
    inserted = offline & (a["inserted"] == 1) & uses_offline
    k = inserted.sum(axis=1)
    n_on = online.sum(axis=1)
    k = np.minimum(k, n_on)

    # Divergence-aware: the k online members with the lowest D, ties to the lower index (stable sort).
    key = np.where(online, div, np.inf)
    order = np.argsort(key, axis=1, kind="stable")
    rank = np.empty_like(order)
    rows = np.arange(order.shape[0])[:, None]
    rank[rows, order] = np.arange(order.shape[1])[None, :]
    replaced_div = online & (rank < k[:, None])
    replaced_luffy = online & (a["index"] >= (n_on - k)[:, None])
    div_aware = (variant == OGER) | (variant == NO_REFINE) | (variant == NO_REWARD)
    replaced = np.where(div_aware, replaced_div, np.where(variant == LUFFY, replaced_luffy, False))

    in_group = (online & ~replaced) | inserted
    n = in_group.sum(axis=1).astype(np.float64)
    masked = np.where(in_group, r_total, 0.0)
    mean = masked.sum(axis=1) / n
    dev = np.where(in_group, r_total - mean[:, None], 0.0)
    ddof = np.where(a["std"] == POPULATION, 0.0, 1.0)
    std = np.sqrt((dev * dev).sum(axis=1) / np.maximum(n - ddof, 1.0))
    singleton = n == 1
    mean = np.where(singleton, 0.0, mean)
    std = np.where(singleton, 1.0, std)
    centred = r_total - mean[:, None]
    adv = np.where((a["std"] == NONE)[:, None], centred, centred / (std + a["eps"])[:, None])
    adv = np.where(in_group, adv, np.nan)
    # Offline members outside the final group have no R_total (as in rescoreGroup).
    r_total = np.where(offline & ~in_group, np.nan, r_total)
    return r_total, adv, replaced, r_oger


def sign(x):
    return np.where(np.isnan(x) | (np.abs(x) < 1e-12), 0, np.where(x > 0, 1, -1))


def what_if(a):
    rt_b, adv_b, rep_b, _ = score(a, a["verdict_before"])
    rt_a, adv_a, rep_a, _ = score(a, a["verdict_after"])
    both_adv = ~np.isnan(adv_b) & ~np.isnan(adv_a)
    both_rt = ~np.isnan(rt_b) & ~np.isnan(rt_a)
    flips = both_adv & (sign(adv_b) * sign(adv_a) == -1)
    d_total = np.where(both_rt, rt_a - rt_b, 0.0)
    d_adv = np.where(both_adv, adv_a - adv_b, 0.0)
    replacement_changed = (rep_b != rep_a).any(axis=1)
    return {
        "signFlips": int(flips.sum()),
        "replacementChanged": int(replacement_changed.sum()),
        "sumAbsDeltaTotal": float(np.abs(d_total).sum()),
        "sumAbsDeltaAdvantage": float(np.abs(d_adv).sum()),
        "groupsChanged": int((np.abs(d_adv) > 1e-12).any(axis=1).sum()),
    }, (rt_a, adv_a, adv_b)


def main():
    data_path, header_path = sys.argv[1], sys.argv[2]
    repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    header, a = load(data_path, header_path)
    times = []
    totals = None
    arrays = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        totals, arrays = what_if(a)
        times.append(time.perf_counter() - t0)
    rt_a, adv_a, adv_b = arrays
    sample = header["sampleGroups"]

    def clean(row):
        return [None if np.isnan(v) else float(v) for v in row]

    samples = {
        str(g): {"rTotalAfter": clean(rt_a[g]), "advantageAfter": clean(adv_a[g]), "advantageBefore": clean(adv_b[g])}
        for g in sample
    }
    times.sort()
    print(
        json.dumps(
            {
                "numpy": np.__version__,
                "groups": int(header["groups"]),
                "trajectories": int(header["groups"] * header["slots"]),
                "seconds": times[len(times) // 2],
                "secondsAll": times,
                "totals": totals,
                "samples": samples,
            }
        )
    )


if __name__ == "__main__":
    main()
