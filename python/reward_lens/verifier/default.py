"""The default verifier: LUFFY's format gate followed by a Math-Verify comparison.

Every step is a separate function so a workspace verifier (templates/verifier.py) can replace one
step and keep the others. A step never swallows an exception into a "wrong" verdict: the caller
(`verify_response`, or the worker pool) turns an exception into `correct: None` with an
`error: ...` reason, because a silent 0 corrupts the gradient exactly like a false negative.

Choices where LUFFY's code and this task differ (see docs/verifier.md):
- LUFFY prepends "<think>\\n" to every decoded response because its chat template puts the opening
  tag in the prompt. Prepending to a response that already opens its reasoning would create a
  second tag, so the tag is prepended only when the response does not contain it.
- A response without the closing tag is wrong (LUFFY's gate). Its reason is reported as a
  truncation, because a response that never closes its reasoning has, in practice, been cut off
  by the length limit; a response whose text after the closing tag is empty is truncated too.
- Math-Verify's own timeouts use signal.alarm and fail off the main thread, so they are disabled
  here (`parsing_timeout=None`, `timeout_seconds=None`); the worker pool enforces a wall-clock
  timeout per item by killing the worker process instead.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

# Math-Verify logs a warning when its signal-based timeout is disabled; here that is deliberate.
logging.getLogger("math_verify").setLevel(logging.ERROR)


@dataclass(frozen=True)
class FormatGate:
    """Where the reasoning opens and closes. LUFFY uses <think>...</think>; Sky-T1 uses
    <|begin_of_thought|>...<|end_of_thought|> followed by a <|begin_of_solution|> block."""

    open_tag: str = "<think>"
    close_tag: str = "</think>"
    # LUFFY's chat template ends the prompt with the opening tag, so the decoded response lacks it.
    prepend_open: bool = True
    # When set, the answer is read from inside this block (its end tag is optional: a missing end
    # tag with no answer before the cut is still caught as "no final answer").
    solution_open: str | None = None
    solution_close: str | None = None


LUFFY_FORMAT = FormatGate()
SKYT1_FORMAT = FormatGate(
    open_tag="<|begin_of_thought|>",
    close_tag="<|end_of_thought|>",
    prepend_open=False,
    solution_open="<|begin_of_solution|>",
    solution_close="<|end_of_solution|>",
)


@dataclass(frozen=True)
class CompareConfig:
    """How answers are extracted and compared. The defaults are Math-Verify's `parse`/`verify`
    defaults, i.e. exactly LUFFY's `verify(parse('$'+gold+'$'), parse(solution))`."""

    # "latex", "expr" and/or "string" (multiple-choice letters), in priority order; None means
    # Math-Verify's default extraction config.
    match_types: tuple[str, ...] | None = None
    # Math-Verify's test helper uses boxed_match_priority=0 with match types; its parse() default is 50.
    boxed_match_priority: int = 0
    float_rounding: int = 6
    numeric_precision: int = 15
    strict: bool = True
    allow_set_relation_comp: bool = False
    # keyword arguments of Math-Verify's StringExtractionConfig, as (name, value) pairs, e.g.
    # (("strings", ("A", "B")), ("lowercase", False)); a tuple keeps the config hashable (cache key)
    string_options: tuple[tuple[str, Any], ...] = ()


DEFAULT_COMPARE = CompareConfig()

# What verify() reads: only the text after the first </think> (and whether there is one), with the
# gold. Re-verifying a stored run (the extension) then calls it once per distinct (that text, gold).
# A copy of this file that reads more of the response must remove this line.
REWARD_LENS_READS_AFTER = "</think>"


class FormatFailure(Exception):
    """The response fails the format gate; `reason` is the verdict reason (it is wrong, not an error)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def format_gate(response: str, gate: FormatGate = LUFFY_FORMAT) -> str:
    """Returns the text after the closing tag, or raises FormatFailure with a reason."""
    text = response
    if gate.prepend_open and gate.open_tag not in text:
        text = gate.open_tag + "\n" + text
    if gate.open_tag not in text:
        raise FormatFailure(f"format: missing {gate.open_tag}")
    if gate.close_tag not in text:
        raise FormatFailure(f"truncated: missing {gate.close_tag} (the response ends inside its reasoning)")
    # LUFFY takes split(close)[1]: the text between the first and the second closing tag.
    return text.split(gate.close_tag)[1]


def solution_text(after_close: str, gate: FormatGate = LUFFY_FORMAT) -> str:
    """The part of the post-reasoning text that holds the answer; raises FormatFailure when none."""
    text = after_close
    if gate.solution_open and gate.solution_open in text:
        text = text.split(gate.solution_open, 1)[1]
        if gate.solution_close and gate.solution_close in text:
            text = text.split(gate.solution_close, 1)[0]
    if not text.strip():
        raise FormatFailure(f"truncated: no final answer after {gate.close_tag}")
    return text


def _extraction_config(config: CompareConfig) -> list[Any] | None:
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, StringExtractionConfig

    if config.match_types is None:
        return None
    targets: list[Any] = []
    for kind in config.match_types:
        if kind == "latex":
            targets.append(LatexExtractionConfig(boxed_match_priority=config.boxed_match_priority))
        elif kind == "expr":
            targets.append(ExprExtractionConfig())
        elif kind == "string":
            targets.append(StringExtractionConfig(**dict(config.string_options)))
        else:
            raise ValueError(f"unknown match type {kind!r} (expected 'latex', 'expr' or 'string')")
    return targets


def parse_answer(text: str, config: CompareConfig = DEFAULT_COMPARE) -> list[Any]:
    """Math-Verify's parse without its signal-based timeout; raise_on_error so failures surface."""
    from math_verify import parse

    targets = _extraction_config(config)
    if targets is None:
        return parse(text, parsing_timeout=None, raise_on_error=True)
    return parse(text, targets, parsing_timeout=None, raise_on_error=True)


@lru_cache(maxsize=4096)
def _parse_gold_cached(wrapped: str, config: CompareConfig) -> tuple[Any, ...]:
    return tuple(parse_answer(wrapped, config))


def parse_gold(gold: str, config: CompareConfig = DEFAULT_COMPARE) -> list[Any]:
    """LUFFY wraps the gold in $...$ so a bare "1/2" is read as LaTeX math. A run has few distinct
    golds (one per prompt, shared by the whole group), so parses are cached per worker; sympy
    objects are immutable, so sharing them is safe."""
    return list(_parse_gold_cached("$" + gold + "$", config))


def last_boxed(text: str) -> str | None:
    """The content of the last \\boxed{...} as the model wrote it (Math-Verify reports its own
    normalised form, e.g. \\frac{1}{2} for 0.5, which would misname the prediction in the UI)."""
    start = text.rfind("\\boxed{")
    if start < 0:
        return None
    i = start + len("\\boxed{")
    depth = 1
    for j in range(i, len(text)):
        c = text[j]
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return text[i:j].strip()
    return None


def compare(gold_parsed: Sequence[Any], pred_parsed: Sequence[Any], config: CompareConfig = DEFAULT_COMPARE) -> bool:
    from math_verify import verify

    return bool(
        verify(
            list(gold_parsed),
            list(pred_parsed),
            float_rounding=config.float_rounding,
            numeric_precision=config.numeric_precision,
            strict=config.strict,
            allow_set_relation_comp=config.allow_set_relation_comp,
            timeout_seconds=None,
            # Math-Verify tries every (gold, prediction) candidate pair; an exception on one pair
            # means that pair does not match, and the others are still tried. Raising here would
            # turn "12:00 vs 12:00" into an error because one candidate form cannot be evaluated.
            raise_on_error=False,
        )
    )


def describe(parsed: Sequence[Any]) -> str | None:
    """Math-Verify returns [sympy_object, source_string]; the string is what the model wrote."""
    if not parsed:
        return None
    last = parsed[-1]
    return last if isinstance(last, str) else str(parsed[0])


def verify_response(
    response: str,
    gold: str,
    gate: FormatGate = LUFFY_FORMAT,
    config: CompareConfig = DEFAULT_COMPARE,
) -> dict[str, Any]:
    """The whole default verifier for one item: {correct, reason, extracted}."""
    try:
        solution = solution_text(format_gate(response, gate), gate)
    except FormatFailure as failure:
        return {"correct": False, "reason": failure.reason, "extracted": None}
    gold_parsed = parse_gold(gold, config)
    if not gold_parsed:
        # A gold that Math-Verify cannot read says nothing about the response.
        return {"correct": None, "reason": f"error: gold {gold!r} could not be parsed", "extracted": None}
    pred_parsed = parse_answer(solution, config)
    extracted = (last_boxed(solution) or describe(pred_parsed)) if pred_parsed else None
    if not pred_parsed:
        return {"correct": False, "reason": f"no answer: nothing could be extracted after {gate.close_tag}", "extracted": None}
    if compare(gold_parsed, pred_parsed, config):
        return {"correct": True, "reason": "match", "extracted": extracted}
    return {"correct": False, "reason": f"mismatch: {extracted} != {gold}", "extracted": extracted}


def verify(response: str, gold: str) -> dict[str, Any]:
    """The default verifier as a workspace verifier would expose it: verify(response, gold)."""
    return verify_response(response, gold)


def verify_skyt1(response: str, gold: str) -> dict[str, Any]:
    """The default verifier for Sky-T1 style outputs (<|begin_of_thought|> ... <|end_of_thought|>,
    then the answer inside <|begin_of_solution|> ... <|end_of_solution|>)."""
    return verify_response(response, gold, SKYT1_FORMAT)
