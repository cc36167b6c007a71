"""Protocol-v1 events (docs/protocol.md) from a verl step, as small pure functions.

The trainer writes them with `reward_lens.events.EventWriter` to `<run_dir>/events.jsonl`, which
the extension tails exactly like a run of our own trainer ("Reward Lens: Watch Run Directory…").
Group events are built by `reward_lens.group_events`, the trainer's own builder.
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from ...group_events import OnlineMember, TeacherMember
from ...group_events import group_event as build_group_event
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


_CORRECT_OF = {"correct": True, "wrong": False}


def _verifier(verdict: str, reason: str | None, extracted: str | None) -> dict[str, Any]:
    # verl's rows carry our verdict string; anything but correct/wrong (error, missing) is an error
    return {"correct": _CORRECT_OF.get(verdict), "reason": reason, "extracted": extracted}


def group_event(run_id: str, step: int, outcome: GroupOutcome) -> dict[str, Any]:
    """Every trajectory of one prompt at one step: the online samples (replaced ones included,
    with advantage null) and every teacher (inserted or not), as the protocol asks. Built by
    `reward_lens.group_events`, the trainer's builder, so ids, the verdict mapping and the teacher
    rules are the same for both engines; verl adds each row's TransferQueue key (`verl_key`)."""
    g = outcome.group
    score = outcome.score
    replaced = set(score.replaced)
    slot_of_teacher = {j: i for i, j in zip(score.replaced, outcome.inserted)}
    online = [
        OnlineMember(
            index=i, text=m.text, tokens=m.tokens if m.tokens is not None else -1, truncated=bool(m.truncated),
            verifier=_verifier(m.verdict, m.verdict_reason, m.extracted_answer),
            divergence=score.online[i].divergence,
            entropy_last=None if m.entropy_last is None else max(0.0, float(m.entropy_last)),
            r_oger=score.online[i].exploration_reward, r_total=score.online[i].total_reward,
            advantage=score.group[i].advantage, replaced=i in replaced,
            embedding_truncated=None if m.embedding_truncated is None else bool(m.embedding_truncated),
        )
        for i, m in enumerate(g.online)
    ]
    teachers = [
        TeacherMember(
            index=j, name=t.teacher, text=t.text, tokens=len(t.ids) if t.ids else -1,  # type: ignore[arg-type]
            verifier=_verifier(t.verdict, t.verdict_reason, t.extracted_answer),
            in_group=j in slot_of_teacher,
            advantage=score.group[slot_of_teacher[j]].advantage if j in slot_of_teacher else None,
        )
        for j, t in enumerate(g.teachers)
    ]
    event = build_group_event(run_id, int(step), g.prompt_id, g.prompt, g.gold, online, teachers)
    for t, m in zip(event["trajectories"], g.online):
        t["verl_key"] = m.key
        if m.truncated is None:
            del t["truncated"]
    for t, teacher in zip(event["trajectories"][len(g.online):], g.teachers):
        t["truncated"] = teacher.truncated
    for t in event["trajectories"]:
        if t["tokens"] == -1:
            del t["tokens"]  # verl did not say; the protocol's field is optional
    return event
