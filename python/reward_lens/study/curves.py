"""Training curves of one run, read back from its events.jsonl (protocol v1).

A run resumed after a stop appends to the same file and repeats the steps after its last
checkpoint; the last record of a step wins, as it is the one the resumed run built on.
Malformed lines are counted, never fatal.
"""

from __future__ import annotations

import json
from pathlib import Path

from . import strategy

# Step metrics the study plots and tabulates; absent ones are null.
METRICS = (
    "actor/entropy_on_policy",
    "actor/entropy",
    "critic/score/mean",
    "batch/failed_ratio",
    "batch/solve_all",
    "batch/solve_none",
    "oger/reward_mean",
    "response_length/mean",
    "timing/step_s",
)


def read_curves(events: Path) -> dict:
    steps: dict[int, dict] = {}
    styles: dict[int, list[str]] = {}
    closed: set[int] = set()  # steps whose `step` event (written after their groups) was read
    malformed = 0
    status = None
    with events.open(encoding="utf-8", errors="replace") as f:
        for line in f:
            try:
                e = json.loads(line)
                kind = e["type"]
            except (json.JSONDecodeError, KeyError, TypeError):
                malformed += 1
                continue
            if kind == "step" and e.get("phase") != "sft" and isinstance(e.get("step"), int) and e["step"] > 0:
                steps[e["step"]] = e.get("metrics") or {}
                closed.add(e["step"])
            elif kind == "group" and isinstance(e.get("step"), int):
                if e["step"] in closed:  # a resumed run repeats this step: its groups start again
                    closed.discard(e["step"])
                    styles[e["step"]] = []
                labels = styles.setdefault(e["step"], [])
                for t in e.get("trajectories") or []:
                    if t.get("source") == "online" and t.get("verdict") == "correct":
                        labels.append(strategy.classify(t.get("text") or ""))
            elif kind == "run_end":
                status = e.get("status")
    order = sorted(steps)
    out: dict = {"steps": order, "status": status, "malformed_lines": malformed}
    for m in METRICS:
        out[m] = [steps[s].get(m) for s in order]
    ent = []
    for s in order:
        labels = styles.get(s) or []
        ent.append(strategy.entropy_bits(strategy.distribution(labels)) if labels else None)
    out["train/strategy_entropy_bits"] = ent
    return out
