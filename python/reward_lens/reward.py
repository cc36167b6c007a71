"""Reward and advantage maths for OGER, LUFFY and GRPO.

This mirrors src/core/reward.ts and src/core/rewardCase.ts function for function; both languages
must pass test/vectors/reward_cases.json. Every convention the paper leaves open (std estimator,
eps, ties, in-place replacement, singleton groups, verifier errors, zero-norm embeddings) is
pinned in docs/conventions.md, and a change to one is a change to both languages and the vectors.

`python -m reward_lens.reward --in FILE|-` speaks exactly the JSON contract of
`reward-lens reward`: one case or an array of cases in, the same keys out, exit 2 on a bad case
with a message naming the field and the value.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

VARIANTS = ("grpo", "luffy", "oger", "oger-no-refine", "oger-no-reward")
STD_MODES = ("sample", "population", "none")


@dataclass(frozen=True)
class AdvantageOptions:
    # verl's compute_grpo_outcome_advantage: torch.std (ddof = 1) and eps = 1e-6.
    std: str = "sample"
    eps: float = 1e-6


DEFAULT_ADVANTAGE = AdvantageOptions()


def uses_offline(variant: str) -> bool:
    return variant != "grpo"


def uses_divergence_replacement(variant: str) -> bool:
    return variant in ("oger", "oger-no-refine", "oger-no-reward")


def gives_exploration_reward(variant: str) -> bool:
    return variant in ("oger", "oger-no-refine")


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
    refined = variant == "oger"
    if refined and entropy_last is None:
        raise ValueError("last_token_entropy is required for variant oger")
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
    if variant == "luffy":
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


# ---------------------------------------------------------------------------------------------
# The JSON contract of `reward-lens reward` (src/core/rewardCase.ts).


class CaseError(ValueError):
    pass


def _js(x: Any) -> str:
    """JSON.stringify-like rendering of a bad value for error messages."""
    try:
        return json.dumps(x, allow_nan=False)
    except (TypeError, ValueError):
        return "undefined" if x is None else repr(x)


def _num(x: Any) -> str:
    if isinstance(x, float) and x.is_integer():
        return str(int(x))
    return str(x)


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _finite(x: Any, where: str) -> float:
    if not _is_number(x) or not math.isfinite(x):
        raise CaseError(f"{where} must be a finite number, got {_js(x)}")
    return float(x)


def _embedding(x: Any, where: str) -> list[float] | None:
    if x is None:
        return None
    if not isinstance(x, list) or len(x) == 0:
        raise CaseError(f"{where} must be a non-empty array of numbers")
    return [_finite(v, f"{where}[{k}]") for k, v in enumerate(x)]


def _correctness(x: Any, where: str) -> bool | None:
    if x is None or isinstance(x, bool):
        return x
    raise CaseError(f"{where} must be true, false or null (verifier error), got {_js(x)}")


_MISSING = object()


def parse_reward_case(x: Any, where: str = "case") -> dict:
    """Validates one case; every error names the offending field and value."""
    if not isinstance(x, dict):
        raise CaseError(f"{where} must be an object")
    variant = x.get("variant")
    variant = "oger" if variant is None else variant
    if not isinstance(variant, str) or variant not in VARIANTS:
        raise CaseError(f"{where}.variant must be one of grpo, luffy, oger, oger-no-refine, oger-no-reward; got {_js(variant)}")
    replace = x.get("replace")
    replace = 1 if replace is None else replace
    if not _is_number(replace) or not float(replace).is_integer() or replace < 0:
        raise CaseError(f"{where}.replace must be a non-negative integer, got {_js(replace)}")
    adv_in = x.get("advantage")
    adv_in = {} if adv_in is None else adv_in
    if not isinstance(adv_in, dict):
        raise CaseError(f"{where}.advantage must be an object")
    std = adv_in.get("std")
    std = DEFAULT_ADVANTAGE.std if std is None else std
    if not isinstance(std, str) or std not in STD_MODES:
        raise CaseError(f"{where}.advantage.std must be sample, population or none; got {_js(std)}")
    eps_raw = adv_in.get("eps")
    eps = _finite(DEFAULT_ADVANTAGE.eps if eps_raw is None else eps_raw, f"{where}.advantage.eps")
    if eps < 0:
        raise CaseError(f"{where}.advantage.eps must be >= 0, got {_num(eps)}")
    online_in = x.get("online")
    if not isinstance(online_in, list) or len(online_in) == 0:
        raise CaseError(f"{where}.online must be a non-empty array")
    online = []
    for i, m in enumerate(online_in):
        w = f"{where}.online[{i}]"
        if not isinstance(m, dict):
            raise CaseError(f"{w} must be an object")
        h = m.get("last_token_entropy")
        entropy = None
        if h is not None:
            entropy = _finite(h, f"{w}.last_token_entropy")
            if entropy < 0:
                raise CaseError(f"{w}.last_token_entropy must be >= 0 nats, got {_num(entropy)}")
        elif variant == "oger":
            raise CaseError(f"{w}.last_token_entropy is required for variant oger")
        online.append({
            "embedding": _embedding(m.get("embedding"), f"{w}.embedding"),
            "last_token_entropy": entropy,
            "correct": _correctness(m.get("correct"), f"{w}.correct"),
        })
    off_in = x.get("offline")
    off_in = [] if off_in is None else off_in
    if not isinstance(off_in, list):
        raise CaseError(f"{where}.offline must be an array")
    offline = []
    for j, m in enumerate(off_in):
        w = f"{where}.offline[{j}]"
        if not isinstance(m, dict):
            raise CaseError(f"{w} must be an object")
        corr = m.get("correct", _MISSING)
        # `correct ?? true` in TS: both a missing key and null mean a (kept, hence correct) teacher.
        corr = True if corr is _MISSING or corr is None else corr
        offline.append({"embedding": _embedding(m.get("embedding"), f"{w}.embedding"), "correct": _correctness(corr, f"{w}.correct")})
    inserted = None
    if x.get("inserted_offline") is not None:
        if not isinstance(x["inserted_offline"], list):
            raise CaseError(f"{where}.inserted_offline must be an array of offline indices")
        inserted = []
        for k, v in enumerate(x["inserted_offline"]):
            n = _finite(v, f"{where}.inserted_offline[{k}]")
            if not n.is_integer():
                raise CaseError(f"{where}.inserted_offline[{k}] must be an integer, got {_num(n)}")
            inserted.append(int(n))
    if variant not in ("grpo", "luffy") and len(offline) > 0:
        for i, m in enumerate(online):
            if not m["embedding"]:
                raise CaseError(f"{where}.online[{i}].embedding is required for variant {variant}")
        for j, m in enumerate(offline):
            if not m["embedding"]:
                raise CaseError(f"{where}.offline[{j}].embedding is required for variant {variant}")
    out = {"variant": variant, "replace": int(replace), "advantage": AdvantageOptions(std, eps), "online": online, "offline": offline}
    if inserted is not None:
        out["inserted_offline"] = inserted
    return out


def evaluate_reward_case(c: dict) -> dict:
    variant = c["variant"]
    have_all = (
        uses_offline(variant)
        and len(c["offline"]) > 0
        and all(m["embedding"] for m in c["online"])
        and all(m["embedding"] for m in c["offline"])
    )
    ds = (
        divergences([m["embedding"] for m in c["online"]], [m["embedding"] for m in c["offline"]])
        if have_all
        else [None] * len(c["online"])
    )
    try:
        score = score_group(
            variant,
            c["replace"],
            c["advantage"],
            [{"divergence": ds[i], "entropy_last": m["last_token_entropy"], "correct": m["correct"]} for i, m in enumerate(c["online"])],
            [{"correct": m["correct"]} for m in c["offline"]] if uses_offline(variant) else [],
            c.get("inserted_offline") if uses_offline(variant) else None,
        )
    except ValueError as e:
        raise CaseError(str(e)) from e
    return {
        "online": [
            {"divergence": s.divergence, "confidence": s.confidence, "exploration_reward": s.exploration_reward, "total_reward": s.total_reward}
            for s in score.online
        ],
        "replaced": score.replaced,
        "group": [{"source": m.source, "index": m.index, "total_reward": m.total_reward, "advantage": m.advantage} for m in score.group],
    }


def evaluate_reward_input(data: Any) -> dict | list[dict]:
    """One case or an array of cases, as `reward-lens reward --in FILE` accepts them."""
    if isinstance(data, list):
        return [evaluate_reward_case(parse_reward_case(c, f"case[{i}]")) for i, c in enumerate(data)]
    return evaluate_reward_case(parse_reward_case(data))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m reward_lens.reward", description="score one case or a JSON array of cases (OGER/LUFFY/GRPO) and print JSON")
    ap.add_argument("--in", dest="path", required=True, help="FILE, or - for stdin")
    args = ap.parse_args(argv)
    try:
        text = sys.stdin.read() if args.path == "-" else open(args.path, encoding="utf-8").read()
    except OSError as e:
        print(f"reward_lens.reward: cannot read {args.path}: {e.strerror}", file=sys.stderr)
        return 1
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        print(f"reward_lens.reward: {args.path} is not valid JSON: {e}", file=sys.stderr)
        return 1
    try:
        result = evaluate_reward_input(data)
    except CaseError as e:
        print(f"reward_lens.reward: {e}", file=sys.stderr)
        return 2
    sys.stdout.write(json.dumps(result, separators=(",", ":")) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
