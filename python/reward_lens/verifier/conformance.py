"""Running Math-Verify's own test cases through the default verifier's comparison step.

Each case of `shared/data/verifier/mathverify_cases.jsonl` names the helper and configuration the
upstream test used; `case_config` maps it onto `CompareConfig`, and `compare_strings` runs the
same parse -> verify steps the default verifier runs after its format gate (the gate itself does
not apply: these cases are bare answers, not model responses with a reasoning block).

`verify_case` has the `verify(response, gold)` shape so the cases run in the killable worker pool
with a per-case timeout: the payload travels as JSON in `response`.
"""

from __future__ import annotations

import ast
import json
from typing import Any

from .default import CompareConfig, compare, parse_answer


def case_config(config: dict[str, Any]) -> CompareConfig:
    helper = config.get("helper", "")
    if helper == "compare_strings":
        return CompareConfig(
            match_types=tuple(config.get("match_types", ["latex", "expr"])),
            boxed_match_priority=0,
            float_rounding=int(config.get("precision", 6)),
            strict=bool(config.get("strict", True)),
            allow_set_relation_comp=bool(config.get("allow_set_relation_comp", False)),
        )
    if helper == "sympy_expr_eq":
        # Upstream compares sympy.Rational against sympy.Float directly; parsing the plain-text
        # values as expressions yields exactly those objects.
        return CompareConfig(
            match_types=("expr",),
            float_rounding=int(config.get("float_rounding", 6)),
            numeric_precision=int(config.get("numeric_precision", 15)),
        )
    if helper.startswith("verify(parse(gold), parse(pred))"):
        return CompareConfig(match_types=None)
    raise ValueError(f"unknown conformance helper {helper!r}")


def compare_strings(gold: str, pred: str, config: CompareConfig) -> bool:
    """Math-Verify's test helper: parse both sides with the same extraction config, then verify."""
    gold_parsed = parse_answer(gold, config)
    pred_parsed = parse_answer(pred, config)
    return compare(gold_parsed, pred_parsed, config)


def verify_case(payload: str, _unused: str = "") -> dict[str, Any]:
    case = json.loads(payload)
    outcome = compare_strings(case["gold"], case["pred"], case_config(case["config"]))
    return {"correct": outcome, "reason": "match" if outcome else "mismatch", "extracted": None}


def string_extraction_config(source: str) -> CompareConfig:
    """Reads an upstream `StringExtractionConfig(...)` source text (keywords with literal values
    only; anything else is refused) into a string-matching CompareConfig."""
    call = ast.parse(source.strip(), mode="eval").body
    if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Name) or call.func.id != "StringExtractionConfig" or call.args:
        raise ValueError(f"not a keyword-only StringExtractionConfig call: {source!r}")
    options = {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords if kw.arg is not None}
    return CompareConfig(match_types=("string",), string_options=tuple(options.items()))
