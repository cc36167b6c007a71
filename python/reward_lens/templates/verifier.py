"""Workspace verifier for Reward Lens.

Reward Lens runs `verify(response, gold)` on every trajectory when you re-verify a run, and on
every relabel (your regression set) each time you save this file. Each relabel this function
disagrees with shows up in the Problems panel on the `def verify` line.

The steps below call the backend's default pieces (LUFFY's format gate, then Math-Verify) one by
one, so you can change one step and keep the others. Return a bool, or a dict
{"correct": True | False | None, "reason": str, "extracted": str | None}. An exception, or a
result of correct=None, is recorded as a verifier error (never as a silent "wrong").

The verifier's identity is the hash of this file: every edit gets its own verdict set, and earlier
verdicts stay browsable.
"""

from reward_lens.verifier.default import (
    LUFFY_FORMAT,
    CompareConfig,
    FormatFailure,
    compare,
    describe,
    format_gate,
    last_boxed,
    parse_answer,
    parse_gold,
    solution_text,
)

# Where the reasoning opens and closes. For Sky-T1 style outputs use SKYT1_FORMAT from the same module.
GATE = LUFFY_FORMAT
# Extraction and comparison settings (Math-Verify's): float_rounding, strict, allow_set_relation_comp ...
COMPARE = CompareConfig()


def extract_solution(response: str) -> str:
    """Step 1: the format gate. Raises FormatFailure(reason) when the response is malformed or cut off."""
    return solution_text(format_gate(response, GATE), GATE)


def normalize_gold(gold: str) -> str:
    """Step 2: clean the gold answer before parsing (e.g. strip units your dataset adds)."""
    return gold.strip()


def extract_prediction(solution: str) -> list:
    """Step 3: the answer the model gave, as Math-Verify parses it ([] when none)."""
    return parse_answer(solution, COMPARE)


def answers_match(gold_parsed: list, pred_parsed: list) -> bool:
    """Step 4: the comparison."""
    return compare(gold_parsed, pred_parsed, COMPARE)


def verify(response: str, gold: str):
    try:
        solution = extract_solution(response)
    except FormatFailure as failure:
        return {"correct": False, "reason": failure.reason, "extracted": None}
    gold_parsed = parse_gold(normalize_gold(gold), COMPARE)
    if not gold_parsed:
        return {"correct": None, "reason": f"error: gold {gold!r} could not be parsed", "extracted": None}
    pred_parsed = extract_prediction(solution)
    extracted = last_boxed(solution) or describe(pred_parsed)
    if not pred_parsed:
        return {"correct": False, "reason": "no answer: nothing could be extracted", "extracted": None}
    if answers_match(gold_parsed, pred_parsed):
        return {"correct": True, "reason": "match", "extracted": extracted}
    return {"correct": False, "reason": f"mismatch: {extracted} != {gold}", "extracted": extracted}
