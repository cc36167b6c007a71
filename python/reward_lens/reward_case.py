"""The JSON contract of `reward-lens reward` and `python -m reward_lens.reward`.

One case or an array of cases in (embeddings, last-token entropies, verdicts), the same keys out
as src/core/rewardCase.ts, exit 2 on a bad case with a message naming the field and the value.
The maths is reward.py's; this module only parses, validates and prints.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

from .reward import (
    DEFAULT_ADVANTAGE,
    STD_MODES,
    VARIANTS,
    AdvantageOptions,
    _num,
    divergences,
    needs_encoder,
    score_group,
    uses_entropy_confidence,
    uses_offline,
)


class CaseError(ValueError):
    pass


def _js(x: Any) -> str:
    """JSON.stringify-like rendering of a bad value for error messages."""
    try:
        return json.dumps(x, allow_nan=False)
    except (TypeError, ValueError):
        return "undefined" if x is None else repr(x)


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
        raise CaseError(f"{where}.variant must be one of {', '.join(VARIANTS)}; got {_js(variant)}")
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
        elif uses_entropy_confidence(variant):
            raise CaseError(f"{w}.last_token_entropy is required for variant {variant}")
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
        # A missing key is a kept (hence correct) teacher; null is a verifier error: R = 0, never correct.
        corr = True if corr is _MISSING else corr
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
    if needs_encoder(variant) and len(offline) > 0:
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
