"""Protocol-v1 events (docs/protocol.md) from a verl step, as small pure functions.

The trainer writes them with `reward_lens.events.EventWriter` to `<run_dir>/events.jsonl`, which
the extension tails exactly like a run of our own trainer ("Reward Lens: Watch Run Directory…").
Kept apart from reward_lens.train's builder on purpose for now (the two are to be unified): this
one builds from a GroupOutcome, that one from the trainer's in-memory step.
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from .group import GroupOutcome
from .settings import VerlSettings

_METRIC_SEGMENT_BAD = re.compile(r"[^A-Za-z0-9_.@-]+")


def metric_name(name: str) -> str | None:
    """verl's metric name as the protocol allows it (slash-separated [A-Za-z0-9_.@-] segments):
    other characters become `_`, empty segments are dropped."""
    segments = [_METRIC_SEGMENT_BAD.sub("_", s) for s in str(name).split("/")]
    segments = [s for s in segments if s]
    return "/".join(segments) if segments else None


def metric_value(value: Any) -> float | None | bool:
    """A number (numpy scalars and 0-d tensors included), None for NaN/inf; False when the value is
    not a scalar number at all (verl logs a few lists and strings; those are left out)."""
    if hasattr(value, "item") and callable(value.item):
        try:
            value = value.item()
        except (ValueError, RuntimeError):
            return False
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    value = float(value)
    return value if math.isfinite(value) else None


def step_event(run_id: str, step: int, metrics: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, float | None] = {}
    for key, raw in metrics.items():
        name = metric_name(key)
        value = metric_value(raw)
        if name is None or value is False:
            continue
        out[name] = value  # type: ignore[assignment]
    return {"type": "step", "run_id": run_id, "step": int(step), "metrics": out}


def run_start_event(run_id: str, settings: VerlSettings, config: Mapping[str, Any], model: str,
                    encoder: Mapping[str, Any] | None, verifier: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "type": "run_start",
        "run_id": run_id,
        "variant": settings.variant,
        "config": {"engine": "verl", **dict(config)},
        "model": model,
        "reward": {"variant": settings.variant, "replace": settings.replace if settings.variant != "grpo" else 0,
                   "advantage": {"std": settings.advantage.std, "eps": settings.advantage.eps}},
        # grpo and luffy embed nothing (protocol: encoder is null for them)
        "encoder": dict(encoder) if encoder is not None and settings.variant.startswith("oger") else None,
        "verifier": dict(verifier),
    }


def run_end_event(run_id: str, status: str, step: int | None, reason: str | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {"type": "run_end", "run_id": run_id, "status": status, "reason": reason}
    if step is not None and step >= 0:
        event["step"] = int(step)
    return event


def _r_m(verdict: str) -> int:
    return 1 if verdict == "correct" else 0


def group_event(run_id: str, step: int, outcome: GroupOutcome) -> dict[str, Any]:
    """Every trajectory of one prompt at one step: the online samples (replaced ones included,
    with advantage null) and every teacher (inserted or not), as the protocol asks."""
    g = outcome.group
    score = outcome.score
    replaced = set(score.replaced)
    teacher_of_slot = dict(zip(score.replaced, outcome.inserted))
    slot_of_teacher = {j: i for i, j in teacher_of_slot.items()}
    base = f"{run_id}/s{step}/{g.prompt_id}"
    trajectories: list[dict[str, Any]] = []
    for i, m in enumerate(g.online):
        s = score.online[i]
        t: dict[str, Any] = {
            "id": f"{base}/on{i}",
            "source": "online",
            "index": i,
            "teacher": None,
            "text": m.text,
            "r_m": _r_m(m.verdict),
            "verdict": m.verdict,
            "verdict_reason": m.verdict_reason,
            "extracted_answer": m.extracted_answer,
            "divergence": s.divergence,
            "entropy_last": None if m.entropy_last is None else max(0.0, float(m.entropy_last)),
            "r_oger": s.exploration_reward,
            "r_total": s.total_reward,
            "advantage": None if i in replaced else score.group[i].advantage,
            "replaced": i in replaced,
            "inserted": False,
            "verl_key": m.key,
        }
        if m.tokens is not None:
            t["tokens"] = int(m.tokens)
        if m.truncated is not None:
            t["truncated"] = bool(m.truncated)
        if m.embedding_truncated is not None:
            t["embedding_truncated"] = bool(m.embedding_truncated)
        trajectories.append(t)
    for j, teacher in enumerate(g.teachers):
        slot = slot_of_teacher.get(j)
        t = {
            "id": f"{base}/off{j}",
            "source": "offline",
            "index": j,
            "teacher": teacher.teacher,
            "text": teacher.text,
            "r_m": _r_m(teacher.verdict),
            "verdict": teacher.verdict,
            "verdict_reason": teacher.verdict_reason,
            "extracted_answer": teacher.extracted_answer,
            "divergence": None,
            "entropy_last": None,
            "r_oger": None,
            "r_total": float(_r_m(teacher.verdict)),
            "advantage": None if slot is None else score.group[slot].advantage,
            "replaced": False,
            "inserted": slot is not None,
            "truncated": teacher.truncated,
        }
        if teacher.ids:
            t["tokens"] = len(teacher.ids)
        trajectories.append(t)
    return {"type": "group", "run_id": run_id, "step": int(step), "prompt_id": g.prompt_id, "prompt": g.prompt,
            "gold": g.gold, "trajectories": trajectories}
