"""From the runs' files to results.json: every measure per arm with a 95% interval over seeds,
and its paired difference against GRPO.

Measures are one number per run (a seed of an arm); the keys name what they are:
- `greedy/{split}`                               greedy accuracy (split: id | ood)
- `pass@{k}/{split}/T{t}`                        unbiased pass@k from `samples` per prompt
- `strategy_entropy/{split}/T{t}`                entropy (bits) of the styles of correct answers, pooled
- `strategy_entropy_per_prompt/{split}/T{t}`     the same within each solved prompt, averaged
- `share/{style}/{split}/T{t}`                   share of correct answers in that style
- `train/entropy_on_policy_last`                 on-policy token entropy, mean over the last fifth of steps
- `train/entropy_on_policy_mean`                 ... over all steps
- `train/accuracy_last`                          share of correct online responses, last fifth of steps
- `train/strategy_entropy_last`                  style entropy of correct online responses, last fifth
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from . import plan as plan_mod
from . import stats, strategy
from .curves import read_curves
from .runner import run_dir

WARM = "warm-start"
CURVE_METRICS = ("actor/entropy_on_policy", "actor/entropy", "batch/failed_ratio", "critic/score/mean", "oger/reward_mean", "train/strategy_entropy_bits")
TABLE_K = (1, 4, 16, 64)
# Measures with no value when a run has no correct answer to classify (a CI model solves nothing).
MAY_BE_EMPTY = ("strategy", "share", "train/strategy")


def _mean(xs) -> float | None:
    xs = [x for x in xs if x is not None and math.isfinite(x)]
    return sum(xs) / len(xs) if xs else None


def _last_fifth(xs: list) -> list:
    return xs[len(xs) - max(1, len(xs) // 5):] if xs else []


def run_measures(ev: dict, curves: dict | None, samples: int) -> dict[str, float | None]:
    m: dict[str, float | None] = {}
    for split, sp in ev["splits"].items():
        m[f"greedy/{split}"] = sp["greedy_accuracy"]
        for t, bt in sp["by_temperature"].items():
            for k, v in bt["pass_at_k"].items():
                m[f"pass@{k}/{split}/T{t}"] = v
            st = bt["strategy"]
            m[f"strategy_entropy/{split}/T{t}"] = st["entropy_bits"] if st["correct_responses"] else None
            m[f"strategy_entropy_per_prompt/{split}/T{t}"] = st["per_prompt_entropy_bits"]
            for style, share in st["shares"].items():
                m[f"share/{style}/{split}/T{t}"] = share if st["correct_responses"] else None
    if curves is not None:
        ent = curves.get("actor/entropy_on_policy") or []
        m["train/entropy_on_policy_last"] = _mean(_last_fifth(ent))
        m["train/entropy_on_policy_mean"] = _mean(ent)
        failed = curves.get("batch/failed_ratio") or []
        last = _mean(_last_fifth(failed))
        m["train/accuracy_last"] = None if last is None else 1.0 - last
        m["train/strategy_entropy_last"] = _mean(_last_fifth(curves.get("train/strategy_entropy_bits") or []))
    return m


def smooth(xs: list, window: int) -> list:
    out = []
    for i in range(len(xs)):
        w = [x for x in xs[max(0, i - window + 1): i + 1] if x is not None]
        out.append(sum(w) / len(w) if w else None)
    return out


def curve_band(per_seed: list[dict], metric: str, window: int) -> dict:
    """Mean and 95% band over seeds at every step, each seed smoothed first (trailing window)."""
    steps = sorted(set().union(*[set(c["steps"]) for c in per_seed])) if per_seed else []
    series = []
    for c in per_seed:
        by = dict(zip(c["steps"], smooth(c.get(metric) or [None] * len(c["steps"]), window)))
        series.append([by.get(s) for s in steps])
    mean, lo, hi = [], [], []
    for i in range(len(steps)):
        iv = stats.interval([s[i] for s in series])
        mean.append(iv["mean"])
        lo.append(iv["lo"])
        hi.append(iv["hi"])
    return {"steps": steps, "mean": mean, "lo": lo, "hi": hi, "window": window}


def aggregate(out: Path, p: plan_mod.Preset) -> dict:
    arms = [WARM, *p.arms]
    runs: dict[str, dict[int, dict]] = {a: {} for a in arms}
    measures_by_run: dict[str, dict[int, dict]] = {a: {} for a in arms}
    missing: list[str] = []
    for seed in range(p.seeds):
        for arm in arms:
            rd = run_dir(out, seed, arm)
            evp = rd / "eval.json"
            if not evp.exists():
                missing.append(f"seed-{seed}/{arm}")
                continue
            ev = json.loads(evp.read_text())
            curves = read_curves(rd / "events.jsonl") if arm != WARM and (rd / "events.jsonl").exists() else None
            runs[arm][seed] = {"eval": ev, "curves": curves}
            measures_by_run[arm][seed] = run_measures(ev, curves, p.samples)
    keys = sorted({k for a in arms for m in measures_by_run[a].values() for k in m})
    measures = {k: {a: stats.interval([measures_by_run[a][s].get(k) for s in measures_by_run[a]]) for a in arms} for k in keys}
    base = measures_by_run.get(plan_mod.BASELINE, {})
    paired = {
        k: {a: stats.paired({s: m.get(k) for s, m in measures_by_run[a].items()}, {s: m.get(k) for s, m in base.items()}) for a in p.arms if a != plan_mod.BASELINE}
        for k in keys
    }
    pass_curves: dict = {}
    for split, temps in split_temperatures(p).items():
        for t in temps:
            for a in arms:
                ks = list(range(1, p.samples + 1))
                ivs = [measures[f"pass@{k}/{split}/T{t:g}"][a] if f"pass@{k}/{split}/T{t:g}" in measures else stats.interval([]) for k in ks]
                pass_curves.setdefault(split, {}).setdefault(f"{t:g}", {})[a] = {
                    "k": ks, "mean": [iv["mean"] for iv in ivs], "lo": [iv["lo"] for iv in ivs], "hi": [iv["hi"] for iv in ivs]}
    window = max(1, p.steps // 20)
    curves = {m: {a: curve_band([r["curves"] for r in runs[a].values() if r["curves"]], m, window) for a in p.arms} for m in CURVE_METRICS}
    timing = {a: {"train_s": stats.interval([r["eval"].get("timing", {}).get("train_s") for r in runs[a].values()]),
                  "eval_s": stats.interval([r["eval"].get("timing", {}).get("eval_s") for r in runs[a].values()])} for a in arms}
    warm_about = f"the seed's supervised warm start ({p.sft_steps} steps on {', '.join(p.warm_styles)}), before any RL"
    return {
        "schema": 1,
        "plan": plan_mod.plan_dict(p),
        "arms": arms,
        "arm_descriptions": {a: plan_mod.ARMS[a].about if a in plan_mod.ARMS else warm_about for a in arms},
        "baseline": plan_mod.BASELINE,
        "seeds": list(range(p.seeds)),
        "missing_runs": missing,
        "strategies": list(strategy.CATEGORIES),
        "measures": measures,
        "paired_vs_baseline": paired,
        "pass_at_k": pass_curves,
        "curves": curves,
        "timing": timing,
        "runs": {a: {str(s): {"measures": measures_by_run[a][s], "timing": runs[a][s]["eval"].get("timing"), "status": (runs[a][s]["curves"] or {}).get("status"),
                              "malformed_lines": (runs[a][s]["curves"] or {}).get("malformed_lines")} for s in runs[a]} for a in arms},
    }


def split_temperatures(p: plan_mod.Preset) -> dict[str, tuple[float, ...]]:
    return {"id": p.temperatures, "ood": p.ood_temperatures}


def required_measures(p: plan_mod.Preset) -> list[str]:
    keys = []
    for split, temps in split_temperatures(p).items():
        keys.append(f"greedy/{split}")
        for t in temps:
            keys += [f"pass@{k}/{split}/T{t:g}" for k in range(1, p.samples + 1)]
            keys += [f"strategy_entropy/{split}/T{t:g}", f"strategy_entropy_per_prompt/{split}/T{t:g}"]
            keys += [f"share/{s}/{split}/T{t:g}" for s in strategy.CATEGORIES]
    keys += ["train/entropy_on_policy_last", "train/entropy_on_policy_mean", "train/accuracy_last", "train/strategy_entropy_last"]
    return keys


def check_results(res: dict) -> list[str]:
    """Every field the report needs, for every arm: the list of what is missing (empty when whole)."""
    p = plan_mod.preset_from_dict(res["plan"])
    problems = [f"missing top-level field {k}" for k in ("plan", "arms", "seeds", "measures", "paired_vs_baseline", "pass_at_k", "curves", "timing", "runs", "store") if k not in res]
    if res.get("missing_runs"):
        problems.append(f"runs without results: {', '.join(res['missing_runs'])}")
    for key in required_measures(p):
        per_arm = res.get("measures", {}).get(key)
        if per_arm is None:
            problems.append(f"measure {key} is missing")
            continue
        for a in p.arms:
            if key.startswith("train/") and a == WARM:
                continue
            if a not in per_arm or per_arm[a]["n"] != p.seeds and not key.startswith(MAY_BE_EMPTY):
                problems.append(f"measure {key} has {per_arm.get(a, {}).get('n', 0)} of {p.seeds} seeds for {a}")
        if not key.startswith("train/") and WARM not in per_arm:
            problems.append(f"measure {key} is missing for {WARM}")
        for a in p.arms:
            if a != plan_mod.BASELINE and a not in res.get("paired_vs_baseline", {}).get(key, {}):
                problems.append(f"paired difference {key} is missing for {a}")
    for m in CURVE_METRICS:
        for a in p.arms:
            c = res.get("curves", {}).get(m, {}).get(a)
            if not c or len(c["steps"]) != p.steps:
                problems.append(f"curve {m} of {a} does not cover the {p.steps} steps")
    if res.get("store", {}).get("error"):
        problems.append(f"store: {res['store']['error']}")
    return problems
