"""The OGER group step over a verl batch, as pure functions (no verl, no Ray, no GPU).

verl groups a batch's rows by `uid` (one dataset prompt; its `rollout.n` samples are sessions
0..n-1) and computes GRPO advantages per group from token-level rewards. Here each group becomes
a Reward Lens group: R_total = R_m + R_OGER for online members, the lowest-D online members are
replaced in place by teacher trajectories of the same prompt, and GRPO advantages over the
hybrid group come from `reward_lens.reward.score_group`, the function our own trainer and the
TypeScript core share (test/vectors). The trainer (trainer.py) moves data between verl's
TransferQueue and these functions; everything that decides a number is here, tested on CPU.
"""
from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ...reward import AdvantageOptions, GroupScore, divergences_np, reward_from_correct, score_group, select_replaced, uses_offline

# verl's v1 TransferQueue key of one agent-loop output: {uid}_{session_id}_{index}.
_KEY = re.compile(r"^(?P<uid>.+)_(?P<session>\d+)_(?P<index>\d+)$")


def correct_of(verdict: str) -> bool | None:
    """The verdict as score_group reads it: an error is None (R_m 0, never 'wrong')."""
    return True if verdict == "correct" else False if verdict == "wrong" else None


@dataclass
class OnlineRow:
    """One online response of the batch, with what the reward manager and the actor said about it."""

    row: int
    key: str
    session: int
    verdict: str
    text: str = ""
    verdict_reason: str | None = None
    extracted_answer: str | None = None
    divergence: float | None = None
    entropy_last: float | None = None
    tokens: int | None = None
    truncated: bool | None = None
    embedding_truncated: bool | None = None


@dataclass
class TeacherTrajectory:
    text: str
    verdict: str
    teacher: str | None = None
    verdict_reason: str | None = None
    extracted_answer: str | None = None
    ids: list[int] = field(default_factory=list)
    # the text had more tokens than the rollout's response_length, so its ids were cut
    truncated: bool = False


@dataclass
class PromptGroup:
    uid: str
    prompt_id: str
    prompt: str
    gold: str
    online: list[OnlineRow]
    teachers: list[TeacherTrajectory] = field(default_factory=list)


@dataclass
class GroupOutcome:
    group: PromptGroup
    score: GroupScore
    # the teacher drawn for each replaced member, in the order score.replaced lists them
    inserted: list[int]
    # batch row -> index of the teacher that now occupies it
    row_teacher: dict[int, int]
    # batch row -> R_total and advantage of the member in that row after replacement
    row_reward: dict[int, float]
    row_advantage: dict[int, float]


def split_key(key: str) -> tuple[str, int, int]:
    """(uid, session, index) of a v1 TransferQueue key; a key of another shape is its own uid."""
    m = _KEY.match(key)
    if not m:
        return key, 0, 0
    return m.group("uid"), int(m.group("session")), int(m.group("index"))


def rows_by_uid(keys: Sequence[str], uids: Sequence[Any]) -> dict[str, list[int]]:
    """Row indices per prompt uid, each list ordered by session, first-appearance order of uids.

    verl's GRPO groups by the `uid` column; the key carries the session. A multi-turn agent loop
    can write several outputs per session: replacing one of them is undefined, so it is refused.
    """
    groups: dict[str, list[tuple[int, int]]] = {}
    seen: dict[tuple[str, int], int] = {}
    for row, (key, uid) in enumerate(zip(keys, uids)):
        _, session, index = split_key(str(key))
        uid = str(uid)
        if (uid, session) in seen or index != 0:
            raise ValueError(
                f"row {row} (key {key!r}) is a second output of session {session} of prompt {uid!r}: "
                "the Reward Lens group step needs single-turn rollouts (one output per session)"
            )
        seen[(uid, session)] = row
        groups.setdefault(uid, []).append((session, row))
    return {uid: [row for _, row in sorted(members)] for uid, members in groups.items()}


def prompt_id_of(prompt: str, extra_info: Any = None) -> str:
    """Stable across steps (verl's uid is a fresh uuid per batch): the dataset's own id when it
    has one, else the first 16 hex of sha256(prompt), as the TypeScript importers do."""
    if isinstance(extra_info, dict):
        for key in ("prompt_id", "index"):
            value = extra_info.get(key)
            if isinstance(value, str) and value:
                return value[:256]
            if isinstance(value, int) and not isinstance(value, bool):
                return f"{key}-{value}"
    return hashlib.sha256(prompt.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def distinct_prompt_ids(prompt_ids: Sequence[str]) -> list[str]:
    """One id per group of a step: a prompt that appears in two uids of one batch (a dataset with
    repeated rows and no index) keeps its id on the first group and gets `#2`, `#3`, ... on the
    others. The store keys a group by (run, step, prompt id), so a repeat would otherwise be
    ingested as a duplicate and dropped."""
    seen: dict[str, int] = {}
    out = []
    for pid in prompt_ids:
        seen[pid] = seen.get(pid, 0) + 1
        out.append(pid if seen[pid] == 1 else f"{pid}#{seen[pid]}")
    return out


def draw_inserted(rng: random.Random, replaced: int, teachers: int) -> list[int]:
    """Which teacher takes each replaced slot: uniform without replacement (docs/conventions.md)."""
    if replaced == 0:
        return []
    return rng.sample(range(teachers), replaced)


def score_prompt_group(
    group: PromptGroup,
    variant: str,
    replace: int,
    advantage: AdvantageOptions,
    rng: random.Random,
) -> GroupOutcome:
    """One prompt's hybrid group: which rows are replaced, by which teacher, and every row's
    R_total and advantage after replacement."""
    teachers = group.teachers if uses_offline(variant) else []
    if teachers and variant.startswith("oger"):
        missing = [m.row for m in group.online if m.divergence is None]
        if missing:
            raise ValueError(
                f"prompt {group.prompt_id!r} has {len(teachers)} teachers but rows {missing} carry no divergence: "
                "the reward manager computes D only when it can embed the teachers (reward_lens.encoder)"
            )
    online = [{"divergence": m.divergence, "entropy_last": m.entropy_last, "correct": correct_of(m.verdict)} for m in group.online]
    offline = [{"correct": correct_of(t.verdict)} for t in teachers]
    # Draw after knowing how many are replaced, so the seeded RNG advances only by what is used.
    replaced = select_replaced(variant, [m["divergence"] for m in online], replace, len(teachers))
    inserted = draw_inserted(rng, len(replaced), len(teachers))
    score = score_group(variant=variant, replace=replace, advantage=advantage, online=online, offline=offline, inserted_offline=inserted)
    row_teacher = {group.online[i].row: j for i, j in zip(score.replaced, inserted)}
    row_reward: dict[int, float] = {}
    row_advantage: dict[int, float] = {}
    # score.group is the final hybrid group in slot order: slot i is online row i, or the teacher
    # that took its place.
    for slot, member in enumerate(score.group):
        row = group.online[slot].row
        row_reward[row] = member.total_reward
        row_advantage[row] = member.advantage
    return GroupOutcome(group, score, inserted, row_teacher, row_reward, row_advantage)


def outcome_rows(outcomes: Sequence[GroupOutcome], batch_size: int) -> tuple[list[float], list[float]]:
    """Per batch row, (R_total, advantage) of the member that row now holds."""
    rewards = [float("nan")] * batch_size
    advantages = [float("nan")] * batch_size
    for o in outcomes:
        for row, r in o.row_reward.items():
            rewards[row] = r
            advantages[row] = o.row_advantage[row]
    missing = [i for i, r in enumerate(rewards) if r != r]
    if missing:
        raise ValueError(f"rows {missing[:10]} belong to no group")
    return rewards, advantages


def last_token_values(values, lengths) -> list[float]:
    """values[i, lengths[i] - 1] per row (H_last: the entropy at the last response token)."""
    out = []
    for i, n in enumerate(lengths):
        n = int(n)
        out.append(float(values[i][n - 1]) if n > 0 else float("nan"))
    return out


def oger_group_rewards(
    online_embeddings: Sequence[Sequence[float]],
    online_correct: Sequence[bool | None],
    online_last_entropy: Sequence[float],
    teacher_embeddings: Sequence[Sequence[float]],
    teacher_correct: Sequence[bool | None] | None = None,
    variant: str = "oger",
    replace: int = 1,
    inserted_offline: Sequence[int] | None = None,
    std: str = "sample",
    eps: float = 1e-6,
) -> dict[str, Any]:
    """One prompt's group from raw embeddings, as the Reward Lens trainer scores it.

    Returns ``{"divergence", "exploration_reward", "total_reward", "replaced", "group"}`` where
    ``group`` lists ``(source, index, total_reward, advantage)`` for the final hybrid group.
    """
    if teacher_correct is None:
        teacher_correct = [True] * len(teacher_embeddings)
    ds = divergences_np(online_embeddings, teacher_embeddings) if len(teacher_embeddings) else [None] * len(online_correct)
    score = score_group(
        variant=variant,
        replace=replace,
        advantage=AdvantageOptions(std=std, eps=eps),
        online=[{"divergence": None if d is None else float(d), "entropy_last": float(h), "correct": c}
                for d, h, c in zip(ds, online_last_entropy, online_correct)],
        offline=[{"correct": c} for c in teacher_correct],
        inserted_offline=list(inserted_offline) if inserted_offline is not None else None,
    )
    return {
        "divergence": [s.divergence for s in score.online],
        "exploration_reward": [s.exploration_reward for s in score.online],
        "total_reward": [s.total_reward for s in score.online],
        "replaced": list(score.replaced),
        "group": [(m.source, m.index, m.total_reward, m.advantage) for m in score.group],
    }


__all__ = [
    "OnlineRow", "TeacherTrajectory", "PromptGroup", "GroupOutcome", "split_key", "rows_by_uid", "prompt_id_of", "distinct_prompt_ids",
    "draw_inserted", "score_prompt_group", "outcome_rows", "last_token_values", "oger_group_rewards",
    "reward_from_correct",
]
