"""OXA's Gaussian quota selection against a naive reading of the contract (docs/oxa.md).

The naive implementation below is written from the contract's sentences, loop by loop, with none of
the shortcuts of reward_lens.oxa.select (no floor-then-adjust bin index, no sorted leftover order,
no per-bin break): the two agree on random requests, and on hand-made ties, caps and short bins.
"""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys

import pytest

from reward_lens.oxa.select import SelectionError, parse_request, select, select_json


def naive(req: dict) -> dict:
    lo, hi = req.get("ppl_range", [1, 5])
    w = req.get("bin_width", 0.05)
    mpq = req.get("max_per_question", 1)
    n, mu, sigma = req["n"], req["mu"], req["sigma"]
    # As many bins as start below hi.
    bins = 0
    while lo + bins * w < hi:
        bins += 1
    phi = []
    for b in range(bins):
        x = lo + (b + 0.5) * w
        phi.append(math.exp(-0.5 * ((x - mu) / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi)))
    s = sum(phi)
    quota = [math.floor(n * p / s) for p in phi]
    leftover = n - sum(quota)
    given = set()
    for _ in range(leftover):
        best = None
        for b in range(bins):
            if b in given:
                continue
            frac = n * phi[b] / s - quota[b]
            if best is None or frac > best[0]:  # strictly larger: ties stay with the lower bin
                best = (frac, b)
        given.add(best[1])
        quota[best[1]] += 1
    selected = []
    overall: dict = {}
    for b in range(bins):
        inside = [it for it in req["items"] if lo <= it["ppl"] < hi and lo + b * w <= it["ppl"] and (it["ppl"] < lo + (b + 1) * w or b == bins - 1)]
        inside.sort(key=lambda it: it["id"])
        inside.sort(key=lambda it: it["tokens"], reverse=True)
        count = 0
        here: dict = {}
        for c in range(1, mpq + 1):
            for it in inside:
                if count < quota[b] and overall.get(it["question"], 0) < mpq and here.get(it["question"], 0) < c and it["id"] not in selected:
                    selected.append(it["id"])
                    count += 1
                    here[it["question"]] = here.get(it["question"], 0) + 1
                    overall[it["question"]] = overall.get(it["question"], 0) + 1
    return {"quota": quota, "selected": selected}


def random_request(rng: random.Random) -> dict:
    lo = rng.choice([1.0, 1.0, 0.5])
    hi = lo + rng.choice([4.0, 2.0, 1.0])
    w = rng.choice([0.05, 0.1, 0.25, 0.3])
    questions = rng.randint(1, 12)
    items = []
    for k in range(rng.randint(0, 120)):
        ppl = rng.choice([round(rng.uniform(lo - 0.5, hi + 0.5), 2), lo + rng.randint(0, 20) * w])  # many exactly on edges
        items.append({"id": f"r{k:03d}", "question": f"q{rng.randrange(questions)}", "ppl": ppl, "tokens": rng.choice([10, 20, 20, 30, rng.randint(1, 99)])})
    return {
        "mu": rng.uniform(lo, hi), "sigma": rng.choice([0.1, 0.25, 0.5, 1.0]), "n": rng.randint(0, 60),
        "ppl_range": [lo, hi], "bin_width": w, "max_per_question": rng.randint(1, 3), "items": items,
    }


def test_agrees_with_naive_on_random_requests():
    rng = random.Random(7)
    for _ in range(400):
        req = random_request(rng)
        assert select_json(req).to_json() == naive(req), json.dumps(req)[:400]


def test_paper_defaults_give_eighty_bins_summing_to_n():
    res = select_json({"mu": 2.5, "sigma": 0.25, "n": 1000, "items": []})
    assert len(res.quota) == 80 and sum(res.quota) == 1000
    assert res.quota.index(max(res.quota)) in (29, 30)  # the bins around 2.5
    assert res.selected == [] and len(res.short_bins) == sum(1 for q in res.quota if q > 0)


def test_bins_follow_the_written_edges():
    # (1.15 - 1) / 0.05 = 2.9999999999999996: floor puts it in bin 2, its edges say bin 3.
    req = {"mu": 1.175, "sigma": 0.001, "n": 1, "items": [{"id": "a", "question": "q", "ppl": 1.15, "tokens": 1}]}
    res = select_json(req)
    assert res.quota[3] == 1 and res.selected == ["a"]
    # hi is excluded, lo included; outside the range is discarded.
    edge_items = [
        {"id": "lo", "question": 1, "ppl": 1.0, "tokens": 1},
        {"id": "hi", "question": 2, "ppl": 5.0, "tokens": 1},
        {"id": "out", "question": 3, "ppl": 0.99, "tokens": 1},
    ]
    req = {"mu": 3, "sigma": 10, "n": 80, "items": edge_items}
    assert select_json(req).selected == ["lo"]


def test_leftover_goes_to_largest_fractions_ties_to_lower_bin():
    # Two bins [1,2) and [2,3), centres 1.5 and 2.5, mu at 2: equal densities, n = 3 -> 1.5 each;
    # the one leftover goes to the lower bin.
    res = select_json({"mu": 2.0, "sigma": 1.0, "n": 3, "ppl_range": [1, 3], "bin_width": 1, "items": []})
    assert res.quota == [2, 1]


def test_inside_a_bin_longest_first_then_id():
    items = [{"id": "b", "question": "q1", "ppl": 2.01, "tokens": 10}, {"id": "a", "question": "q2", "ppl": 2.02, "tokens": 10}, {"id": "c", "question": "q3", "ppl": 2.03, "tokens": 50}]
    res = select_json({"mu": 2.0, "sigma": 0.001, "n": 2, "ppl_range": [2, 3], "bin_width": 1, "items": items})
    assert res.selected == ["c", "a"]


def test_question_caps_overall_and_round_robin_within_a_bin():
    items = [
        {"id": 1, "question": "A", "ppl": 1.5, "tokens": 90},
        {"id": 2, "question": "A", "ppl": 1.5, "tokens": 80},
        {"id": 3, "question": "A", "ppl": 1.5, "tokens": 70},
        {"id": 4, "question": "B", "ppl": 1.5, "tokens": 10},
        {"id": 5, "question": "A", "ppl": 2.5, "tokens": 99},
        {"id": 6, "question": "C", "ppl": 2.5, "tokens": 1},
    ]
    base = {"mu": 2.0, "sigma": 100.0, "n": 8, "ppl_range": [1, 3], "bin_width": 1, "items": items}
    # Cap 2: pass 1 takes one per question (1, 4), pass 2 a second of A (2); A is then full
    # overall, so bin 2 skips 5 and takes 6; both bins stay short of their quota of 4.
    res = select_json({**base, "max_per_question": 2})
    assert res.quota == [4, 4]
    assert res.selected == [1, 4, 2, 6]
    assert res.short_bins == [(0, 4, 3), (1, 4, 1)]
    # Cap 1 (the contract's default): one per question over the whole selection.
    assert select_json(base).selected == [1, 4, 6]


def test_short_bin_is_not_topped_up_from_a_neighbour():
    items = [{"id": f"x{k}", "question": f"q{k}", "ppl": 1.2, "tokens": 5} for k in range(10)]
    res = select_json({"mu": 1.5, "sigma": 0.5, "n": 10, "ppl_range": [1, 2], "bin_width": 0.5, "items": items})
    assert res.quota == [5, 5]
    assert len(res.selected) == 5
    assert res.short_bins == [(1, 5, 0)]


def test_tail_mu_does_not_divide_by_zero():
    res = select_json({"mu": 1e6, "sigma": 0.01, "n": 7, "items": [{"id": "z", "question": 1, "ppl": 4.99, "tokens": 1}]})
    assert sum(res.quota) == 7 and res.quota[-1] == 7 and res.selected == ["z"]


@pytest.mark.parametrize(
    "patch, field",
    [
        ({"sigma": 0}, "sigma"),
        ({"mu": "x"}, "mu"),
        ({"n": -1}, "n"),
        ({"n": 2.5}, "n"),
        ({"ppl_range": [5, 1]}, "ppl_range"),
        ({"bin_width": 0}, "bin_width"),
        ({"max_per_question": 0}, "max_per_question"),
        ({"items": {}}, "items"),
        ({"items": [{"id": "a", "question": "q", "ppl": float("nan"), "tokens": 1}]}, "items[0].ppl"),
        ({"items": [{"id": "a", "question": "q", "ppl": 2, "tokens": -1}]}, "items[0].tokens"),
        ({"items": [{"id": "a", "question": "q", "ppl": 2, "tokens": 1}, {"id": "a", "question": "q", "ppl": 2, "tokens": 1}]}, "items[1].id"),
        ({"items": [{"id": "a", "question": "q", "ppl": 2, "tokens": 1}, {"id": 3, "question": "q", "ppl": 2, "tokens": 1}]}, "items[1].id"),
    ],
)
def test_bad_requests_name_the_field(patch, field):
    with pytest.raises(SelectionError) as e:
        parse_request({"mu": 2.5, "sigma": 0.25, "n": 3, "items": [], **patch})
    assert str(e.value).startswith(field)


def test_cli_prints_the_contract_and_reports_short_bins(tmp_path, repo):
    req = {"mu": 2.0, "sigma": 0.5, "n": 4, "items": [{"id": "a", "question": "q", "ppl": 2.0, "tokens": 3}]}
    f = tmp_path / "req.json"
    f.write_text(json.dumps(req))
    out = subprocess.run([sys.executable, "-m", "reward_lens.oxa", "select", "--in", str(f)], capture_output=True, text=True, cwd=repo / "python", check=True)
    assert json.loads(out.stdout) == select(parse_request(req)).to_json()
    assert "short" in out.stderr
    bad = subprocess.run([sys.executable, "-m", "reward_lens.oxa", "select", "--in", "-"], input='{"mu": 1, "sigma": -1, "n": 1, "items": []}', capture_output=True, text=True, cwd=repo / "python")
    assert bad.returncode == 2 and "sigma" in bad.stderr
