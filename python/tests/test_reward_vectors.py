"""Every case of test/vectors/reward_cases.json through the Python reward maths and its CLI, and the
variant traits file (reward_lens/variants.json) against the same independently generated vectors."""

import json
import math
import subprocess
import sys

import pytest
from conftest import PYTHON_DIR, REPO

from reward_lens import reward, reward_case, variants

VECTORS = json.loads((REPO / "test" / "vectors" / "reward_cases.json").read_text())
TOL = VECTORS["tolerance"]


def assert_close(actual, expected, path="result"):
    if isinstance(expected, dict):
        assert isinstance(actual, dict), path
        assert set(actual) == set(expected), f"{path}: keys {sorted(actual)} vs {sorted(expected)}"
        for k in expected:
            assert_close(actual[k], expected[k], f"{path}.{k}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), f"{path}: {actual!r} vs {expected!r}"
        for i, (a, e) in enumerate(zip(actual, expected)):
            assert_close(a, e, f"{path}[{i}]")
    elif isinstance(expected, (int, float)) and not isinstance(expected, bool):
        assert isinstance(actual, (int, float)) and not isinstance(actual, bool), f"{path}: {actual!r}"
        assert math.isclose(actual, expected, rel_tol=0, abs_tol=TOL), f"{path}: {actual} vs {expected}"
    else:
        assert actual == expected, f"{path}: {actual!r} vs {expected!r}"


@pytest.mark.parametrize("case", VECTORS["cases"], ids=[c["name"] for c in VECTORS["cases"]])
def test_vector_in_process(case):
    assert_close(reward_case.evaluate_reward_input(case["input"]), case["expected"])


def test_vectors_through_cli(tmp_path):
    """The CLI takes the whole array in one go, exactly as `reward-lens reward --in FILE` does."""
    f = tmp_path / "cases.json"
    f.write_text(json.dumps([c["input"] for c in VECTORS["cases"]]))
    out = subprocess.run([sys.executable, "-m", "reward_lens.reward", "--in", str(f)], cwd=PYTHON_DIR, capture_output=True, text=True, check=True)
    assert_close(json.loads(out.stdout), [c["expected"] for c in VECTORS["cases"]])


def test_cli_reads_stdin_single_case():
    case = VECTORS["cases"][0]
    out = subprocess.run([sys.executable, "-m", "reward_lens.reward", "--in", "-"], cwd=PYTHON_DIR, input=json.dumps(case["input"]), capture_output=True, text=True, check=True)
    assert_close(json.loads(out.stdout), case["expected"])


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"variant": "ppo", "online": [{"correct": True}]}, 'case.variant must be one of grpo, luffy, oger, oger-no-refine, oger-no-reward; got "ppo"'),
        ({"variant": "grpo", "replace": -1, "online": [{"correct": True}]}, "case.replace must be a non-negative integer, got -1"),
        ({"variant": "grpo", "online": [{"correct": "yes"}]}, 'case.online[0].correct must be true, false or null (verifier error), got "yes"'),
        ({"variant": "oger", "online": [{"correct": True, "embedding": [1]}]}, "case.online[0].last_token_entropy is required for variant oger"),
        ({"variant": "grpo", "advantage": {"std": "mad"}, "online": [{"correct": True}]}, 'case.advantage.std must be sample, population or none; got "mad"'),
    ],
)
def test_cli_errors_name_field_and_value(tmp_path, bad, message):
    f = tmp_path / "bad.json"
    f.write_text(json.dumps(bad))
    out = subprocess.run([sys.executable, "-m", "reward_lens.reward", "--in", str(f)], cwd=PYTHON_DIR, capture_output=True, text=True)
    assert out.returncode == 2
    assert message in out.stderr


def test_numpy_divergences_match_reference():
    import numpy as np

    rng = np.random.default_rng(0)
    on = rng.normal(size=(6, 5))
    on[2] = 0.0
    off = rng.normal(size=(3, 5))
    off[1] = 0.0
    ref = reward.divergences(on.tolist(), off.tolist())
    fast = reward.divergences_np(on, off)
    assert ref[2] == 1.0 and fast[2] == 1.0
    for a, b in zip(ref, fast):
        assert math.isclose(a, b, abs_tol=1e-12)


def test_reward_module_keeps_only_the_maths():
    # The case parser and the CLI live in reward_case.py; the maths names the trainer imports stay.
    for name in ("parse_reward_case", "evaluate_reward_input", "CaseError", "main"):
        assert not hasattr(reward, name), name
    for name in ("score_group", "select_replaced", "group_advantages", "divergences", "divergences_np", "uses_offline", "uses_divergence_replacement", "VARIANTS", "STD_MODES", "AdvantageOptions"):
        assert hasattr(reward, name), name


@pytest.mark.parametrize("variant", variants.VARIANTS)
def test_variant_traits_agree_with_the_vectors(variant):
    """A wrong trait in variants.json disagrees with the vectors' hard-coded naive implementation."""
    t = variants.VARIANT_TRAITS[variant]
    cases = [c for c in VECTORS["cases"] if c["input"].get("variant") == variant]
    assert len(cases) >= 3
    saw_offline = saw_bonus = saw_confidence = False
    for c in cases:
        e = c["expected"]
        offline = any(m["source"] == "offline" for m in e["group"])
        saw_offline |= offline
        if t.replacement == "last" and e["replaced"]:
            n, k = len(c["input"]["online"]), len(e["replaced"])
            assert e["replaced"] == list(range(n - k, n)), c["name"]
        for m in e["online"]:
            saw_bonus |= m["exploration_reward"] != 0
            saw_confidence |= m["confidence"] != 1
    assert saw_offline == t.offline_members
    assert saw_bonus == t.exploration_reward
    assert saw_confidence == t.entropy_confidence
    if t.needs_encoder:
        case = next(c for c in cases if c["input"].get("offline"))
        stripped = json.loads(json.dumps(case["input"]))
        del stripped["online"][0]["embedding"]
        with pytest.raises(reward_case.CaseError, match="embedding is required"):
            reward_case.parse_reward_case(stripped)


def test_both_languages_read_one_traits_file():
    data = json.loads((PYTHON_DIR / "reward_lens" / "variants.json").read_text())
    assert tuple(data["variants"]) == variants.VARIANTS == reward.VARIANTS
    ts = (REPO / "src" / "core" / "variants.ts").read_text()
    assert "python/reward_lens/variants.json" in ts
