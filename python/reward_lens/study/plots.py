"""The study's figures, drawn from results.json alone (so they can be redrawn without the runs).

- entropy.png:   on-policy token entropy per step, mean over seeds with its 95% band, per arm
- training.png:  training accuracy, style entropy of correct answers, mean R_OGER per step
- pass_at_k.png: pass@k against k (log scale), one panel per split and temperature
- strategies.png: style shares of correct answers per arm (held-out, T = 1.0)
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on a server or in CI
import matplotlib.pyplot as plt  # noqa: E402

COLORS = {
    "warm-start": "#7f7f7f",
    "grpo": "#1f77b4",
    "luffy": "#ff7f0e",
    "oger": "#d62728",
    "oger-no-refine": "#9467bd",
    "oger-no-reward": "#8c564b",
    "oger-2replace": "#e377c2",
    "oger-minilm": "#2ca02c",
}


def _band(ax, xs, c, label):
    pts = [(x, m, lo, hi) for x, m, lo, hi in zip(xs, c["mean"], c["lo"], c["hi"]) if m is not None]
    if not pts:
        return
    x = [p[0] for p in pts]
    ax.plot(x, [p[1] for p in pts], color=COLORS.get(label), label=label, lw=1.4)
    band = [(p[0], p[2], p[3]) for p in pts if p[2] is not None]
    if band:
        ax.fill_between([b[0] for b in band], [b[1] for b in band], [b[2] for b in band], color=COLORS.get(label), alpha=0.15, lw=0)


def _curves(ax, res, metric, title, ylabel, transform=None):
    for arm, c in res["curves"].get(metric, {}).items():
        if transform:
            c = {k: ([None if v is None else transform(v) for v in c[k]] if k in ("mean", "lo", "hi") else c[k]) for k in c}
            if metric == "batch/failed_ratio":  # 1 - x swaps the band's edges
                c["lo"], c["hi"] = c["hi"], c["lo"]
        _band(ax, c["steps"], c, arm)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("RL step")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)


def plot_all(res: dict, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    n_seeds = len(res["seeds"])
    written = []

    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    _curves(ax, res, "actor/entropy_on_policy", f"On-policy token entropy (mean of {n_seeds} seeds, 95% band)", "entropy (nats)")
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    written.append(out_dir / "entropy.png")
    fig.savefig(written[-1], dpi=110)
    plt.close(fig)

    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    _curves(axes[0], res, "batch/failed_ratio", "Training accuracy (online samples)", "share correct", transform=lambda v: 1.0 - v)
    _curves(axes[1], res, "train/strategy_entropy_bits", "Style entropy of correct online samples", "bits")
    _curves(axes[2], res, "oger/reward_mean", "Mean R_OGER of online samples", "R_OGER")
    axes[0].legend(fontsize=7, ncol=2)
    fig.tight_layout()
    written.append(out_dir / "training.png")
    fig.savefig(written[-1], dpi=110)
    plt.close(fig)

    splits = list(res["pass_at_k"])
    # each split has its own temperature sweep (the longer sums are evaluated at T = 1 only)
    width = max((len(res["pass_at_k"][s]) for s in splits), default=1)
    fig, axes = plt.subplots(len(splits), width, figsize=(4.2 * max(1, width), 3.4 * max(1, len(splits))), squeeze=False)
    for i, split in enumerate(splits):
        temps = list(res["pass_at_k"][split])
        for j in range(len(temps), width):
            axes[i][j].axis("off")
        for j, t in enumerate(temps):
            ax = axes[i][j]
            for arm, c in res["pass_at_k"][split][t].items():
                _band(ax, c["k"], c, arm)
            ax.set_xscale("log", base=2)
            ax.set_title(f"{'held-out (same lengths)' if split == 'id' else 'longer numbers (OOD)'}, T = {t}", fontsize=10)
            ax.set_xlabel("k")
            ax.set_ylabel("pass@k")
            ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7, ncol=2)
    fig.tight_layout()
    written.append(out_dir / "pass_at_k.png")
    fig.savefig(written[-1], dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    arms = res["arms"]
    bottom = [0.0] * len(arms)
    style_colors = {"column": "#4c72b0", "decompose": "#55a868", "compensate": "#c44e52", "other": "#bbbbbb"}
    for style in res["strategies"]:
        key = f"share/{style}/id/T1"
        vals = [(res["measures"].get(key, {}).get(a, {}).get("mean") or 0.0) for a in arms]
        ax.bar(arms, vals, bottom=bottom, label=style, color=style_colors.get(style))
        bottom = [b + v for b, v in zip(bottom, vals)]
    ax.set_ylabel("share of correct answers")
    ax.set_title("Styles of correct held-out answers (T = 1.0, mean over seeds)", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    plt.setp(ax.get_xticklabels(), rotation=25, ha="right", fontsize=8)
    fig.tight_layout()
    written.append(out_dir / "strategies.png")
    fig.savefig(written[-1], dpi=110)
    plt.close(fig)
    return written
