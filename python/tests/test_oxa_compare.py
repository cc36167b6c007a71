"""`reward_lens.oxa compare`: the style classifier on every demo teacher, and the seed aggregation
and table (paired OXA − SFT) on synthetic per-seed results."""

from __future__ import annotations

import argparse
import random

import pytest

from reward_lens.demo_task import STYLES, trace
from reward_lens.oxa.compare import aggregate, demo_style, table, update_doc


@pytest.mark.parametrize("style", sorted(STYLES))
def test_demo_style_recognises_every_teacher_on_many_pairs(style):
    rng = random.Random(7)
    pairs = [(rng.randrange(10, 100), rng.randrange(10, 100)) for _ in range(200)] + [(23, 40), (99, 99), (10, 10)]
    for a, b in pairs:
        assert demo_style(trace(style, a, b)) == style, (style, a, b)


@pytest.mark.parametrize("text", ["", "</think>\n\\boxed{5}", "so 85\n</think>\n\\boxed{85}", "47+38=85\n</think>", "38=4*2\n"])
def test_demo_style_other_for_anything_else(text):
    assert demo_style(text) == "other"


def _seed_result(entropy: float, greedy: float, p1: float, shares: dict) -> dict:
    return {"entropy_on_policy": entropy, "greedy": greedy, "pass_at_k": {"1": p1, "2": min(1.0, p1 + 0.1)},
            "style_shares": shares, "style_entropy_bits": 1.0}


def test_aggregate_pairs_by_seed_and_table_renders():
    shares = {"column": 0.5, "decompose": 0.25, "compensate": 0.25, "other": 0.0}
    per_seed = {
        s: {"sft": _seed_result(0.2 + s, 0.5, 0.4, shares), "oxa": _seed_result(0.3 + s, 0.6 + 0.01 * s, 0.5, shares)}
        for s in range(3)
    }
    res = aggregate(per_seed, samples=2)
    assert res["seeds"] == [0, 1, 2]
    ent = res["paired_oxa_minus_sft"]["entropy_on_policy"]
    # the per-seed offsets cancel in the paired difference: exactly +0.1 each seed, zero spread
    assert ent["mean"] == pytest.approx(0.1) and ent["sd"] == pytest.approx(0.0, abs=1e-12)
    assert res["measures"]["entropy_on_policy"]["sft"]["sd"] == pytest.approx(1.0)
    g = res["paired_oxa_minus_sft"]["greedy"]
    assert g["lo"] < g["mean"] < g["hi"] and g["mean"] == pytest.approx(0.11)
    text = table(res, argparse.Namespace(samples=2))
    assert "Mean over 3 seeds" in text
    assert "| greedy accuracy (%) | 50.0 [50.0, 50.0] |" in text
    assert "| pass@1 at T = 1 (%) | 40.0 [40.0, 40.0] | 50.0 [50.0, 50.0] | +10.0 [10.0, 10.0] |" in text
    assert "pass@16" not in text


def test_update_doc_replaces_only_between_markers(tmp_path):
    doc = tmp_path / "oxa.md"
    doc.write_text("head\n<!-- oxa:compare:start -->\nold\n<!-- oxa:compare:end -->\ntail\n")
    update_doc(doc, "new table")
    assert doc.read_text() == "head\n<!-- oxa:compare:start -->\nnew table\n<!-- oxa:compare:end -->\ntail\n"
