"""Markdown tables from results.json: each arm's figures with 95% intervals over seeds, and
paired differences against GRPO (a difference whose interval excludes 0 is marked †)."""

from __future__ import annotations

import os
from pathlib import Path

from . import stats
from .aggregate import TABLE_K, WARM

START = "<!-- study:results:start -->"
END = "<!-- study:results:end -->"


def _pct(iv: dict | None, signed: bool = False) -> str:
    if not iv or iv.get("mean") is None:
        return "n/a"
    sign = "+" if signed and iv["mean"] >= 0 else ""
    s = f"{sign}{100 * iv['mean']:.1f}"
    if iv.get("lo") is not None:
        s += f" [{100 * iv['lo']:.1f}, {100 * iv['hi']:.1f}]"
    return s + (" †" if signed and stats.excludes_zero(iv) else "")


def _num(iv: dict | None, signed: bool = False, digits: int = 3) -> str:
    if not iv or iv.get("mean") is None:
        return "n/a"
    sign = "+" if signed and iv["mean"] >= 0 else ""
    s = f"{sign}{iv['mean']:.{digits}f}"
    if iv.get("lo") is not None:
        s += f" [{iv['lo']:.{digits}f}, {iv['hi']:.{digits}f}]"
    return s + (" †" if signed and stats.excludes_zero(iv) else "")


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header), *["| " + " | ".join(r) + " |" for r in rows]]


def tables(res: dict) -> str:
    p = res["plan"]
    m, d = res["measures"], res["paired_vs_baseline"]
    arms, base = res["arms"], res["baseline"]
    rl_arms = [a for a in arms if a != WARM]
    temps_of = {"id": [f"{t:g}" for t in p["temperatures"]], "ood": [f"{t:g}" for t in p["ood_temperatures"]]}
    ks = [k for k in TABLE_K if k <= p["samples"]]
    n = len(res["seeds"])

    def get(table, key, arm):
        return table.get(key, {}).get(arm)

    out: list[str] = []
    out.append(f"All figures: mean over {n} seeds [95% t-interval]. Accuracies and shares in %. "
               f"Differences are arm − {base}, paired by seed; † marks an interval that excludes 0. "
               f"Greedy accuracy on {p['greedy_prompts']} prompts per split; pass@k and styles on {p['eval_prompts']} prompts per split, "
               f"{p['samples']} samples each.")
    out.append("")
    head = [("greedy/id", "greedy, held-out", _pct), ("greedy/ood", "greedy, longer numbers", _pct),
            ("pass@1/id/T1", "pass@1, T=1", _pct), (f"pass@{p['samples']}/id/T1", f"pass@{p['samples']}, T=1", _pct),
            ("strategy_entropy/id/T1", "style entropy (bits), T=1", _num),
            ("train/entropy_on_policy_last", "on-policy entropy, last fifth (nats)", _num),
            ("train/accuracy_last", "training accuracy, last fifth", _pct)]
    out.append("**Main figures** (held-out prompts of the training lengths unless marked)")
    out.append("")
    out += _table(["arm", *[h[1] for h in head]], [[a, *[h[2](get(m, h[0], a)) for h in head]] for a in arms])
    out.append("")
    out.append(f"**Paired differences against {base}**")
    out.append("")
    out += _table(["arm", *[h[1] for h in head]], [[a, *[h[2](get(d, h[0], a), signed=True) for h in head]] for a in rl_arms if a != base])
    for split, label in (("id", "held-out prompts, training lengths"), ("ood", "longer numbers (OOD)")):
        out.append("")
        out.append(f"**pass@k, {label}** ({p['samples']} samples per prompt, unbiased estimator)")
        out.append("")
        cols = [(t, k) for t in temps_of[split] for k in ks]
        out += _table(["arm", *[f"T={t} pass@{k}" for t, k in cols]], [[a, *[_pct(get(m, f"pass@{k}/{split}/T{t}", a)) for t, k in cols]] for a in arms])
        out.append("")
        out.append(f"Paired differences against {base}:")
        out.append("")
        out += _table(["arm", *[f"T={t} pass@{k}" for t, k in cols]], [[a, *[_pct(get(d, f"pass@{k}/{split}/T{t}", a), signed=True) for t, k in cols]] for a in rl_arms if a != base])
    out.append("")
    out.append("**Styles of correct answers** (held-out, T = 1; classifier in `reward_lens/study/strategy.py`)")
    out.append("")
    styles = res["strategies"]
    out += _table(["arm", *styles, "entropy pooled (bits)", "entropy within a prompt (bits)"],
                  [[a, *[_pct(get(m, f"share/{s}/id/T1", a)) for s in styles], _num(get(m, "strategy_entropy/id/T1", a)), _num(get(m, "strategy_entropy_per_prompt/id/T1", a))] for a in arms])
    out.append("")
    out.append("**Wall time per run** (seconds; two runs at a time on two cores)")
    out.append("")
    out += _table(["arm", "training", "evaluation"], [[a, _num(res["timing"][a]["train_s"], digits=0), _num(res["timing"][a]["eval_s"], digits=0)] for a in arms])
    store = res.get("store") or {}
    out.append("")
    if store.get("error"):
        out.append(f"Run store: not written ({store['error']}).")
    else:
        out.append(f"Run store: every run's events in one Reward Lens store, `{Path(store.get('path', 'study.db')).name}` "
                   f"({store.get('files')} runs, {store.get('trajectories')} trajectories, {store.get('malformed_lines')} malformed lines).")
    if res.get("missing_runs"):
        out.append("")
        out.append(f"Runs without results: {', '.join(res['missing_runs'])}.")
    return "\n".join(out) + "\n"


def write_report(res: dict, path: Path, plots: list[Path]) -> None:
    rel = [q.relative_to(path.parent) if q.is_relative_to(path.parent) else q for q in plots]
    body = ["# Variant study results", "", tables(res), "", *[f"![{q.stem}]({q})" for q in rel], ""]
    path.write_text("\n".join(body))


def update_doc(doc: Path, res: dict, plots: list[Path] = ()) -> None:
    """Replace the generated region of a hand-written document (between the two markers): the
    tables, then the plots linked relative to the document."""
    text = doc.read_text()
    links = [f"![{q.stem}]({os.path.relpath(q.resolve(), doc.resolve().parent)})" for q in plots]
    if START not in text or END not in text:
        raise SystemExit(f"reward_lens.study: {doc} has no {START} ... {END} region to fill")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    doc.write_text(head + START + "\n" + tables(res) + ("\n" + "\n\n".join(links) + "\n" if links else "") + END + tail)
