"""The variant study's parts: task, strategy classifier, hashed encoder, statistics, curves."""

import json
import math
import random

import jsonschema
import numpy as np
import pytest

from reward_lens.ngram_encoder import NgramEncoder
from reward_lens.study import stats, strategy, task
from reward_lens.study.curves import read_curves
from reward_lens.study.evaluate import pass_curve
from reward_lens.verify import verify_batch


def _pairs(n, seed=0, longer=False):
    return task.draw_pairs(random.Random(seed), 3, n, longer)


def test_every_teacher_trace_is_correct_under_the_default_verifier():
    pairs = _pairs(20) + _pairs(10, longer=True) + [(500, 300), (120, 380), (109, 190), (999, 999)]
    items = [{"id": f"{s}/{a}+{b}", "response": task.trace(s, a, b), "gold": str(a + b)} for s in task.STYLE_NAMES for a, b in pairs]
    res = verify_batch(items, timeout_s=30, workers=1)
    assert [r["id"] for r in res if r["correct"] is not True] == []


def test_splits_are_disjoint_deterministic_and_follow_the_sum_rule():
    a = task.make_splits(3, 200, 30, 30)
    assert a == task.make_splits(3, 200, 30, 30)
    assert a.train != task.make_splits(4, 200, 30, 30).train
    assert len(set(a.train) | set(a.test_id) | set(a.test_ood)) == 260
    assert all(100 <= x <= 999 and 100 <= y <= 999 for x, y in a.train + a.test_id + a.test_ood)
    assert all(x + y < 1000 for x, y in a.train + a.test_id)
    assert all(x + y >= 1000 for x, y in a.test_ood)


def test_task_files_layouts(tmp_path):
    f = task.write_task(tmp_path, 0, 40, 5, 5, ("column",))
    rows = {k: [json.loads(line) for line in getattr(f, k).read_text().splitlines()] for k in ("train", "train_luffy", "warm", "test_id", "test_ood")}
    assert all([t["teacher"] for t in r["teachers"]] == list(task.STYLE_NAMES) for r in rows["train"])
    assert all(len(r["teachers"]) == 1 for r in rows["train_luffy"])
    # LUFFY's one teacher per prompt is drawn, so every style appears across prompts
    assert {r["teachers"][0]["teacher"] for r in rows["train_luffy"]} == set(task.STYLE_NAMES)
    assert all([t["teacher"] for t in r["teachers"]] == ["column"] for r in rows["warm"])
    assert [r["id"] for r in rows["train"]] == [r["id"] for r in rows["warm"]] == [r["id"] for r in rows["train_luffy"]]
    assert all("teachers" not in r for r in rows["test_id"] + rows["test_ood"])
    with pytest.raises(ValueError, match="warm_styles"):
        task.write_task(tmp_path, 0, 40, 5, 5, ("columns",))


@pytest.mark.parametrize("style", task.STYLE_NAMES)
def test_classifier_recognises_each_teacher_style(style):
    pairs = _pairs(200, seed=1) + _pairs(50, seed=2, longer=True) + [(500, 300), (120, 380), (109, 190), (999, 999), (100, 100)]
    assert {strategy.classify(task.trace(style, a, b)) for a, b in pairs} == {style}


@pytest.mark.parametrize(
    "text",
    [
        "",  # nothing
        "</think>\n\\boxed{385}",  # no reasoning
        "247+138=385\n</think>\n\\boxed{385}",  # a direct answer is no teacher's
        "U 7+8=15\n247+100=347\n</think>\n\\boxed{385}",  # column then decomposition: mixed
        "138=140-2\nU 7+8=15\n</think>\n\\boxed{385}",  # compensation with a column line
        "247 + 100 = 347\n347+30=377\n377+8=385\n</think>\n\\boxed{385}",  # spaces: not the teacher's form
        "the answer is 385\n</think>\n\\boxed{385}",
        "247+100=347\n347-2=345\n</think>\n\\boxed{345}",  # subtraction without a rounding line
    ],
)
def test_classifier_calls_anything_else_other(text):
    assert strategy.classify(text) == strategy.OTHER


def test_classifier_reads_only_the_reasoning():
    # Text after </think> (the boxed answer, or anything else) does not change the style.
    assert strategy.classify("U 7+8=15\nT 4+3+1=8\nH 2+1=3\n</think>\nso 385 \\boxed{385}") == "column"
    assert strategy.classify("U 7+8=15\nT 4+3+1=8\nH 2+1=3") == "column"  # unterminated: still its lines


def test_style_entropy():
    assert strategy.entropy_bits(strategy.distribution(["column"] * 5)) == 0.0
    assert strategy.entropy_bits(strategy.distribution(list(task.STYLE_NAMES) * 4)) == pytest.approx(math.log2(3))
    assert strategy.entropy_bits(strategy.distribution(list(strategy.CATEGORIES))) == pytest.approx(2.0)
    d = strategy.distribution(["column", "column", "other", "decompose"])
    assert d == {"column": 0.5, "decompose": 0.25, "compensate": 0.0, "other": 0.25}
    assert strategy.distribution([]) == {k: 0.0 for k in strategy.CATEGORIES}


def test_hashed_encoder_is_deterministic_normalised_and_separates_styles(repo):
    texts = [task.trace(s, 247, 138) for s in task.STYLE_NAMES]
    a, ta = NgramEncoder().embed(texts)
    b, _ = NgramEncoder().embed(texts)
    assert np.array_equal(a, b) and ta == [False, False, False]
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-6)
    cos = a @ a.T
    assert max(cos[0, 1], cos[0, 2], cos[1, 2]) < 0.8  # the three styles of one prompt are far apart
    same, _ = NgramEncoder().embed([texts[0], task.trace("column", 247, 139)])
    assert float(same[0] @ same[1]) > 0.8  # one style, one digit changed: close
    empty, trunc = NgramEncoder(max_length=10).embed(["", "x" * 11])
    assert not empty[0].any() and trunc == [False, True]
    # what it logs is a valid run_start.encoder of protocol v1
    schema = json.loads((repo / "python/reward_lens/schema/events.v1.schema.json").read_text())
    enc_schema = schema["definitions"]["run_start"]["properties"]["encoder"]
    jsonschema.validate(NgramEncoder().describe(), enc_schema)
    assert NgramEncoder().describe()["fingerprint"] != NgramEncoder(dim=128).describe()["fingerprint"]
    with pytest.raises(ValueError, match="encoder.ngram_max"):
        NgramEncoder(ngram_min=3, ngram_max=2)


def test_hashed_encoder_pins_its_vectors():
    # The definition in ngram_encoder.py, computed by hand for a 2-character text and dim 8:
    # n-grams "a", "b" (n=1) and "ab" (n=2); bucket = crc32 mod 8, sign from bit 31.
    import zlib

    enc = NgramEncoder(dim=8, ngram_min=1, ngram_max=2)
    want = np.zeros(8)
    for g in ("a", "b", "ab"):
        h = zlib.crc32(g.encode())
        want[h % 8] += -1.0 if h & 0x80000000 else 1.0
    want /= np.linalg.norm(want)
    assert np.allclose(enc.embed(["ab"])[0][0], want)


def test_t_interval_and_paired_difference():
    iv = stats.interval([1, 2, 3, 4, 5])
    # t(0.975, 4) = 2.7764; sd = 1.5811; half-width = 2.7764 * 1.5811 / sqrt(5) = 1.9632
    assert iv["mean"] == 3 and iv["n"] == 5
    assert iv["lo"] == pytest.approx(3 - 1.9632, abs=1e-4) and iv["hi"] == pytest.approx(3 + 1.9632, abs=1e-4)
    one = stats.interval([0.4, None])
    assert one["mean"] == 0.4 and one["lo"] is None
    assert stats.interval([])["n"] == 0
    # pairing by seed: a constant shift has a zero-width interval, whatever the spread of the seeds
    d = stats.paired({0: 0.5, 1: 0.9, 2: 0.1, 3: 0.7}, {0: 0.4, 1: 0.8, 2: 0.0, 3: 0.6, 9: 1.0})
    assert d["seeds"] == [0, 1, 2, 3] and d["mean"] == pytest.approx(0.1) and d["hi"] - d["lo"] == pytest.approx(0, abs=1e-12)
    assert stats.excludes_zero(d)
    assert not stats.excludes_zero(stats.interval([-1, 1, 0.5]))


def test_pass_curve_uses_the_unbiased_estimator():
    c = pass_curve([0, 64, 32], 64)
    assert c["1"] == pytest.approx((0 + 1 + 0.5) / 3)
    assert c["64"] == pytest.approx(2 / 3)
    assert c["2"] == pytest.approx((0 + 1 + (1 - (32 * 31) / (64 * 63))) / 3)
    assert len(c) == 64


def _group(step, texts_verdicts):
    return {"type": "group", "run_id": "r", "step": step, "prompt_id": "p", "prompt": "Q", "gold": "1",
            "trajectories": [{"source": "online", "text": t, "verdict": v} for t, v in texts_verdicts]}


def test_curves_keep_the_last_record_of_a_resumed_step(tmp_path):
    col, dec = task.trace("column", 247, 138), task.trace("decompose", 247, 138)
    lines = [
        {"type": "run_start", "run_id": "r"},
        {"type": "step", "run_id": "r", "step": 0, "phase": "sft", "metrics": {"eval/greedy_accuracy": 0.1}},
        _group(1, [(col, "correct"), (dec, "wrong")]),
        {"type": "step", "run_id": "r", "step": 1, "metrics": {"actor/entropy_on_policy": 1.0}},
        _group(2, [(col, "correct"), (dec, "correct")]),
        {"type": "step", "run_id": "r", "step": 2, "metrics": {"actor/entropy_on_policy": 2.0}},
        # killed after step 2, resumed from the checkpoint of step 1: step 2 again
        _group(2, [(col, "correct")]),
        {"type": "step", "run_id": "r", "step": 2, "metrics": {"actor/entropy_on_policy": 3.0}},
    ]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\nnot json\n")
    c = read_curves(path)
    assert c["steps"] == [1, 2]
    assert c["actor/entropy_on_policy"] == [1.0, 3.0]
    assert c["train/strategy_entropy_bits"] == [0.0, 0.0]  # the rerun's one column answer, not three
    assert c["malformed_lines"] == 1


def _fake_eval(p, acc):
    """An eval.json as job.py writes it, with every pass@k at `acc` and one column answer."""
    by_t = lambda temps: {f"{t:g}": {  # noqa: E731
        "pass_at_k": {str(k): acc for k in range(1, p.samples + 1)}, "verifier_errors": 0, "mean_response_tokens": 40.0,
        "strategy": {"correct_responses": 1, "shares": {"column": 1.0, "decompose": 0.0, "compensate": 0.0, "other": 0.0},
                     "entropy_bits": 0.0, "per_prompt_entropy_bits": 0.0, "solved_prompts": 1}} for t in temps}
    return {"checkpoint_step": p.steps, "samples": p.samples, "timing": {"train_s": 1.0, "eval_s": 1.0}, "splits": {
        "id": {"greedy_prompts": 2, "greedy_accuracy": acc, "prompts": 2, "by_temperature": by_t(p.temperatures)},
        "ood": {"greedy_prompts": 2, "greedy_accuracy": acc, "prompts": 2, "by_temperature": by_t(p.ood_temperatures)}}}


def test_aggregate_pairs_by_seed_and_check_results_names_what_is_missing(tmp_path):
    import dataclasses

    from reward_lens.study import plan as plan_mod
    from reward_lens.study.aggregate import aggregate, check_results
    from reward_lens.study.runner import run_dir

    p = dataclasses.replace(plan_mod.PRESETS["ci"], arms=("grpo", "oger"), steps=3)
    acc = {("warm-start", 0): 0.1, ("warm-start", 1): 0.5, ("grpo", 0): 0.2, ("grpo", 1): 0.6, ("oger", 0): 0.3, ("oger", 1): 0.7}
    for (arm, seed), a in acc.items():
        rd = run_dir(tmp_path, seed, arm)
        rd.mkdir(parents=True)
        (rd / "eval.json").write_text(json.dumps(_fake_eval(p, a)))
        if arm != "warm-start":
            steps = [{"type": "step", "run_id": "r", "step": s, "metrics": {"actor/entropy_on_policy": 0.5, "batch/failed_ratio": 0.5,
                      "critic/score/mean": 0.5, "oger/reward_mean": 0.0, "actor/entropy": 0.5}} for s in (1, 2, 3)]
            (rd / "events.jsonl").write_text("\n".join(json.dumps(e) for e in steps) + "\n")
    res = aggregate(tmp_path, p)
    res["store"] = {"path": "study.db", "files": 6, "trajectories": 0, "malformed_lines": 0}
    assert check_results(res) == []
    # The seeds differ by 0.4, the arms by exactly 0.1 on every seed: the paired interval is tight.
    d = res["paired_vs_baseline"]["pass@1/id/T1"]["oger"]
    assert d["mean"] == pytest.approx(0.1) and d["hi"] - d["lo"] == pytest.approx(0, abs=1e-9)
    assert res["measures"]["pass@1/id/T1"]["oger"]["hi"] - res["measures"]["pass@1/id/T1"]["oger"]["lo"] > 1
    assert res["measures"]["train/accuracy_last"]["grpo"]["mean"] == pytest.approx(0.5)

    del res["measures"]["pass@3/ood/T1"]
    res["curves"]["actor/entropy_on_policy"]["oger"]["steps"] = [1, 2]
    (run_dir(tmp_path, 1, "oger") / "eval.json").unlink()
    problems = check_results({**res, "missing_runs": aggregate(tmp_path, p)["missing_runs"]})
    assert "measure pass@3/ood/T1 is missing" in problems
    assert "curve actor/entropy_on_policy of oger does not cover the 3 steps" in problems
    assert "runs without results: seed-1/oger" in problems
