"""Protocol-v1 `group` events built from plain typed data: the one place a trajectory is written.

Pure functions, no trainer and no torch: the trainer, `reward_lens.eval` and any other writer
(a verl hook, say) describe their members with `OnlineMember` / `TeacherMember` and get the same
fields, ids and verdict mapping.

The verdict mapping (`verdict_fields`): a verifier result's `correct` True -> verdict `correct`
and r_m 1; False -> `wrong`, r_m 0; None (the verifier errored or timed out) -> `error`, r_m 0
with the reason kept. Anything else is an error too, never a silent `wrong`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


def verdict_fields(result: Mapping[str, Any]) -> dict[str, Any]:
    correct = result.get("correct")
    verdict = "correct" if correct is True else ("wrong" if correct is False else "error")
    return {
        "r_m": 1 if correct is True else 0,
        "verdict": verdict,
        "verdict_reason": result.get("reason") if correct in (True, False, None) else f"error: verifier returned correct = {correct!r}",
        "extracted_answer": result.get("extracted"),
    }


def trajectory_id(run_id: str, step: int, prompt_id: str, source: str, index: int) -> str:
    return f"{run_id}/s{step}/{prompt_id}/{'on' if source == 'online' else 'off'}{index}"


@dataclass
class TokenEntropies:
    offsets: list[int]  # character offsets in the text, strictly increasing, each < len(text)
    values: list[float]  # nats
    stride: int

    def to_dict(self) -> dict:
        return {"offsets": self.offsets, "values": self.values, "stride": self.stride}


@dataclass
class OnlineMember:
    index: int
    text: str
    tokens: int
    truncated: bool
    verifier: Mapping[str, Any]  # {correct, reason, extracted}
    divergence: float | None = None
    entropy_last: float | None = None
    r_oger: float | None = None
    r_total: float | None = None
    advantage: float | None = None  # None when the member left the group
    replaced: bool = False
    embedding_truncated: bool | None = None
    token_entropies: TokenEntropies | None = None


@dataclass
class TeacherMember:
    index: int
    name: str
    text: str
    tokens: int
    verifier: Mapping[str, Any]
    in_group: bool = False  # inserted into the final group in a replaced member's slot
    advantage: float | None = None
    embedding_truncated: bool | None = None
    entropy_last: float | None = None
    token_entropies: TokenEntropies | None = None


def online_trajectory(run_id: str, step: int, prompt_id: str, m: OnlineMember) -> dict:
    t: dict[str, Any] = {
        "id": trajectory_id(run_id, step, prompt_id, "online", m.index),
        "source": "online",
        "index": m.index,
        "teacher": None,
        "text": m.text,
        "tokens": m.tokens,
        "truncated": m.truncated,
        **verdict_fields(m.verifier),
        "divergence": m.divergence,
        "entropy_last": m.entropy_last,
        "r_oger": m.r_oger,
        "r_total": m.r_total,
        "advantage": None if m.replaced else m.advantage,
        "replaced": m.replaced,
        "inserted": False,
    }
    if m.embedding_truncated is not None:
        t["embedding_truncated"] = m.embedding_truncated
    if m.token_entropies is not None:
        t["token_entropies"] = m.token_entropies.to_dict()
    return t


def teacher_trajectory(run_id: str, step: int, prompt_id: str, m: TeacherMember) -> dict:
    v = verdict_fields(m.verifier)
    t: dict[str, Any] = {
        "id": trajectory_id(run_id, step, prompt_id, "offline", m.index),
        "source": "offline",
        "index": m.index,
        "teacher": m.name,
        "text": m.text,
        "tokens": m.tokens,
        "truncated": False,
        **v,
        "divergence": None,
        "entropy_last": m.entropy_last,
        "r_oger": None,
        # R_total exists only for a member of the final group; a teacher outside it has none.
        "r_total": float(v["r_m"]) if m.in_group else None,
        "advantage": m.advantage if m.in_group else None,
        "replaced": False,
        "inserted": m.in_group,
    }
    if m.embedding_truncated is not None:
        t["embedding_truncated"] = m.embedding_truncated
    if m.token_entropies is not None:
        t["token_entropies"] = m.token_entropies.to_dict()
    return t


def group_event(run_id: str, step: int, prompt_id: str, prompt: str, gold: str, online: Sequence[OnlineMember], teachers: Sequence[TeacherMember] = ()) -> dict:
    return {
        "type": "group",
        "run_id": run_id,
        "step": step,
        "prompt_id": prompt_id,
        "prompt": prompt,
        "gold": gold,
        "trajectories": [online_trajectory(run_id, step, prompt_id, m) for m in online] + [teacher_trajectory(run_id, step, prompt_id, m) for m in teachers],
    }
