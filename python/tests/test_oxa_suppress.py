"""The suppress set's rules, each against a case that breaks it."""

from __future__ import annotations

import pytest

from reward_lens.oxa.suppress import Sample, select_suppress


def test_lowest_incorrect_per_question_then_global_k():
    samples = [
        Sample("a1", "qa", "incorrect", 2.0),
        Sample("a2", "qa", "incorrect", 1.5),  # qa's lowest
        Sample("a3", "qa", "correct", 1.3),  # correct: never suppressed, even with a lower PPL
        Sample("b1", "qb", "incorrect", 1.1),  # below 1.2: a degenerate loop, dropped
        Sample("b2", "qb", "incorrect", 3.0),  # qb's lowest once b1 is dropped
        Sample("c1", "qc", "error", 1.25),  # the verifier could not decide: not incorrect
        Sample("c2", "qc", "incorrect", 1.4),
        Sample("d1", "qd", "incorrect", None),  # no scored token
        Sample("e1", "qe", "incorrect", 2.5),
    ]
    res = select_suppress(samples, k=3)
    assert res.selected == ["c2", "a2", "e1"]
    assert res.counts == {"correct": 1, "error": 1, "no_ppl": 1, "below_min_ppl": 1, "not_lowest_of_question": 1, "beyond_k": 1}


def test_ties_go_to_the_lower_id_whatever_the_input_order():
    a = [Sample("x2", "q", "incorrect", 1.5), Sample("x1", "q", "incorrect", 1.5), Sample("y", "r", "incorrect", 1.5)]
    assert select_suppress(a, k=1).selected == select_suppress(a[::-1], k=1).selected == ["x1"]
    assert select_suppress(a, k=5).selected == ["x1", "y"]


def test_the_threshold_is_inclusive_and_k_is_checked():
    assert select_suppress([Sample(1, "q", "incorrect", 1.2)], k=1).selected == [1]
    with pytest.raises(ValueError, match="k = -1"):
        select_suppress([], k=-1)
