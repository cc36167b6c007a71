"""Reward and advantage maths for OGER, LUFFY and GRPO: small pure functions, nothing else.

This mirrors src/core/reward.ts function for function; both languages must pass
test/vectors/reward_cases.json. Every convention the paper leaves open (std estimator, eps, ties,
in-place replacement, singleton groups, verifier errors, zero-norm embeddings) is pinned in
docs/conventions.md, and a change to one is a change to both languages and the vectors. What each
variant does comes from variants.json (read by variants.py and src/core/variants.ts).

The JSON contract of `reward-lens reward` (parsing a case, the CLI) lives in reward_case.py;
`python -m reward_lens.reward --in FILE|-` still runs it.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

from .variants import (  # noqa: F401  (re-exported: the trainer and the config import the traits from here)
    VARIANT_TRAITS,
    VARIANTS,
    gives_exploration_reward,
    needs_encoder,
    uses_divergence_replacement,
    uses_entropy_confidence,
    uses_offline,
)

STD_MODES = ("sample", "population", "none")


@dataclass(frozen=True)
class AdvantageOptions:
    # verl's compute_grpo_outcome_advantage: torch.std (ddof = 1) and eps = 1e-6.
    std: str = "sample"
    eps: float = 1e-6


DEFAULT_ADVANTAGE = AdvantageOptions()


def normalized(v: Sequence[float]) -> list[float] | None:
    """L2-normalised copy, or None for a zero (or non-finite) vector."""
    norm = math.sqrt(sum(float(x) * float(x) for x in v))
    if not (norm > 0) or not math.isfinite(norm):
        return None
    return [float(x) / norm for x in v]


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine similarity. A zero vector has cosine 0 with everything (pinned convention)."""
    if len(a) != len(b):
        raise ValueError(f"cosine: dimension mismatch {len(a)} vs {len(b)}")
    na, nb = normalized(a), normalized(b)
    if na is None or nb is None:
        return 0.0
    return sum(x * y for x, y in zip(na, nb))


def divergences(online: Sequence[Sequence[float]], offline: Sequence[Sequence[float]]) -> list[float | None]:
    """D_i = 1 - (1/M) sum_j cos(E_i, E_j) for every online embedding.

    The mean of cosines is the dot product of the normalised E_i with the mean of the normalised
    E_j: O(d) per online trajectory instead of O(M d). None entries when there are no offline
    embeddings (D is undefined then). A zero offline vector counts in M but adds nothing.
    """
    if len(offline) == 0:
        return [None for _ in online]
    dim = len(offline[0])
    centroid = [0.0] * dim
    for e in offline:
        if len(e) != dim:
            raise ValueError(f"divergence: offline embeddings differ in dimension ({len(e)} vs {dim})")
        n = normalized(e)
        if n is None:
            continue
        for k in range(dim):
            centroid[k] += n[k]
    centroid = [c / len(offline) for c in centroid]
    out: list[float | None] = []
    for e in online:
        if len(e) != dim:
            raise ValueError(f"divergence: online embedding has dimension {len(e)}, offline {dim}")
        n = normalized(e)
        if n is None:
            out.append(1.0)
            continue
        out.append(1.0 - sum(n[k] * centroid[k] for k in range(dim)))
    return out


def divergences_np(online, offline):
    """Vectorised divergences for the trainer (numpy arrays (n, d) and (m, d)); same conventions."""
    import numpy as np

    online = np.asarray(online, dtype=np.float64)
    offline = np.asarray(offline, dtype=np.float64)
    if offline.shape[0] == 0:
        return [None] * online.shape[0]

    def unit(x):
        norms = np.linalg.norm(x, axis=1, keepdims=True)
        ok = (norms[:, 0] > 0) & np.isfinite(norms[:, 0])
        safe = np.where(norms > 0, norms, 1.0)
        return np.where(ok[:, None], x / safe, 0.0), ok

    off_unit, _ = unit(offline)
    centroid = off_unit.sum(axis=0) / offline.shape[0]
    on_unit, on_ok = unit(online)
    d = 1.0 - on_unit @ centroid
    return [float(v) if ok else 1.0 for v, ok in zip(d, on_ok)]


def confidence_from_entropy(entropy_last: float) -> float:
    """exp(-H_last): the policy's confidence at its last generated token."""
    return math.exp(-entropy_last)


def exploration_terms(variant: str, divergence: float | None, entropy_last: float | None, reward_m: float) -> tuple[float, float]:
    """(confidence, R_OGER) for one online member. Zero for wrong answers and variants without the bonus.

    confidence is exp(-H) for the refined variant, 1 otherwise ("not refined").
    """
    refined = uses_entropy_confidence(variant)
    if refined and entropy_last is None:
        raise ValueError(f"last_token_entropy is required for variant {variant}")
    confidence = confidence_from_entropy(entropy_last) if refined else 1.0
    if not gives_exploration_reward(variant) or divergence is None or reward_m == 0:
        return confidence, 0.0
    return confidence, divergence * confidence * reward_m


def select_replaced(variant: str, online_divergences: Sequence[float | None], replace: int, offline_count: int) -> list[int]:
    """Indices of the online members that leave the group, in the order they were chosen.

    OGER variants: lowest divergence first, ties to the lower index. luffy: the last k members,
    ascending. grpo: none. k is clipped to the online and offline members available.
    """
    if not uses_offline(variant):
        return []
    n = len(online_divergences)
    k = max(0, min(replace, n, offline_count))
    if k == 0:
        return []
    if VARIANT_TRAITS[variant].replacement == "last":
        return list(range(n - k, n))
    if any(d is None for d in online_divergences):
        raise ValueError("divergence-aware replacement needs a divergence for every online member")
    order = sorted(range(n), key=lambda i: (online_divergences[i], i))
    return order[:k]


def group_advantages(rewards: Sequence[float], opts: AdvantageOptions = DEFAULT_ADVANTAGE) -> list[float]:
    """GRPO group advantages: A = (R - mean) / (std + eps), or R - mean when std is 'none'.

    sample: ddof = 1 (torch.std, verl); population: ddof = 0. A group of one gets mean 0 and
    std 1, as verl does.
    """
    n = len(rewards)
    if n == 0:
        return []
    if n == 1:
        mean, std = 0.0, 1.0
    else:
        mean = sum(rewards) / n
        sq = sum((r - mean) * (r - mean) for r in rewards)
        std = math.sqrt(sq / (n if opts.std == "population" else n - 1))
    if opts.std == "none":
        return [r - mean for r in rewards]
    return [(r - mean) / (std + opts.eps) for r in rewards]


def group_reward_std(rewards: Sequence[float], mode: str = "sample") -> float:
    n = len(rewards)
    if n < 2:
        return 0.0
    mean = sum(rewards) / n
    sq = sum((r - mean) * (r - mean) for r in rewards)
    return math.sqrt(sq / (n if mode == "population" else n - 1))


def reward_from_correct(correct: bool | None) -> float:
    # A verifier error scores 0 in the maths but is never silent: it keeps verdict 'error'.
    return 1.0 if correct is True else 0.0


@dataclass
class OnlineScore:
    divergence: float | None
    confidence: float
    exploration_reward: float
    total_reward: float


@dataclass
class GroupMember:
    source: str  # "online" | "offline"
    index: int
    total_reward: float
    advantage: float = 0.0


@dataclass
class GroupScore:
    online: list[OnlineScore]
    replaced: list[int]
    group: list[GroupMember] = field(default_factory=list)


def score_group(
    variant: str,
    replace: int,
    advantage: AdvantageOptions,
    online: Sequence[dict],
    offline: Sequence[dict],
    inserted_offline: Sequence[int] | None = None,
) -> GroupScore:
    """Scores one group from components.

    online: dicts with divergence, entropy_last, correct; offline: dicts with correct.
    The final group keeps the online members in order, and each replaced member's slot is taken
    in place by the offline member drawn for it (pinned convention; order changes no advantage).
    """
    scores: list[OnlineScore] = []
    for m in online:
        rm = reward_from_correct(m.get("correct"))
        conf, r_oger = exploration_terms(variant, m.get("divergence"), m.get("entropy_last"), rm)
        scores.append(OnlineScore(m.get("divergence"), conf, r_oger, rm + r_oger))
    offline_count = len(offline) if uses_offline(variant) else 0
    replaced = select_replaced(variant, [m.get("divergence") for m in online], replace, offline_count)
    inserted = list(inserted_offline) if inserted_offline is not None else list(range(len(replaced)))
    if len(inserted) != len(replaced):
        raise ValueError(f"inserted_offline has {len(inserted)} entries but {len(replaced)} online members are replaced")
    seen: set[int] = set()
    for j in inserted:
        if not isinstance(j, int) or isinstance(j, bool) or j < 0 or j >= offline_count:
            raise ValueError(f"inserted_offline entry {_num(j)} is not an offline index in [0, {offline_count})")
        if j in seen:
            raise ValueError(f"inserted_offline lists offline member {j} twice")
        seen.add(j)
    slot_of = {i: inserted[r] for r, i in enumerate(replaced)}
    members: list[GroupMember] = []
    for i, s in enumerate(scores):
        j = slot_of.get(i)
        if j is None:
            members.append(GroupMember("online", i, s.total_reward))
        else:
            members.append(GroupMember("offline", j, reward_from_correct(offline[j].get("correct"))))
    adv = group_advantages([m.total_reward for m in members], advantage)
    for m, a in zip(members, adv):
        m.advantage = a
    return GroupScore(scores, replaced, members)


def _num(x) -> str:
    """A number as JSON.stringify writes it (1.0 -> "1"), for messages that must match the TypeScript ones."""
    if isinstance(x, float) and x.is_integer():
        return str(int(x))
    return str(x)


if __name__ == "__main__":
    # `python -m reward_lens.reward` is the documented CLI; its code lives with the case parser.
    from reward_lens.reward_case import main

    sys.exit(main())
