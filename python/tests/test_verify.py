"""The verifier backend: format gate, worker pool (timeouts, crashes, errors), API, overrides, CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from reward_lens.verifier import default
from reward_lens.verifier.default import FormatFailure, format_gate, solution_text, verify_response
from reward_lens.verify import (
    VerifierPool,
    label_key,
    load_verifier,
    read_labels,
    verifier_identity,
    verify_batch,
    verify_one,
)

PYTHON_DIR = Path(__file__).resolve().parents[1]
TEMPLATE = PYTHON_DIR / "reward_lens" / "templates" / "verifier.py"

HOSTILE = textwrap.dedent(
    """
    import os, sys, time

    def verify(response, gold):
        if response == "hang":
            time.sleep(600)
        if response == "crash":
            os._exit(3)
        if response == "raise":
            raise ZeroDivisionError("boom")
        if response == "print":
            print("noise on stdout")
            sys.stdout.flush()
            os.write(1, b"raw noise on fd 1\\n")
        if response == "bad":
            return "yes"
        if response == "none":
            return {"correct": None, "reason": "error: cannot judge"}
        return {"correct": response == gold, "reason": "cmp", "extracted": response}
    """
)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("verifiers") / "hostile.py"
    path.write_text(HOSTILE, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def hostile_pool(hostile):
    with VerifierPool(str(hostile), workers=2, timeout_s=1.5) as pool:
        yield pool


def run_cli(*args: str, stdin: str = "", timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "reward_lens.verify", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=PYTHON_DIR,
    )


# -- the default verifier's steps -------------------------------------------------------------


def test_format_gate_prepends_think_only_when_missing():
    assert format_gate("reasoning</think>answer") == "answer"
    assert format_gate("<think>reasoning</think>answer") == "answer"
    # LUFFY takes split('</think>')[1]: text after a second closing tag is not the answer.
    assert format_gate("a</think>first</think>second") == "first"


def test_missing_close_tag_is_a_truncation():
    with pytest.raises(FormatFailure) as info:
        format_gate("<think>still thinking when the length limit hit")
    assert info.value.reason.startswith("truncated: missing </think>")


def test_missing_open_tag_without_prepend_is_a_format_failure():
    gate = default.FormatGate(prepend_open=False)
    with pytest.raises(FormatFailure) as info:
        format_gate("no tags</think> 5", gate)
    assert info.value.reason == "format: missing <think>"


def test_nothing_after_close_tag_is_a_truncation():
    with pytest.raises(FormatFailure) as info:
        solution_text(format_gate("<think>done</think>  \n "))
    assert info.value.reason == "truncated: no final answer after </think>"


def test_verdicts_of_the_default_verifier():
    assert verify_response("<think>x</think> so \\boxed{\\frac{1}{2}}", "1/2") == {"correct": True, "reason": "match", "extracted": "\\frac{1}{2}"}
    wrong = verify_response("x</think> The answer is \\boxed{3}.", "4")
    assert wrong["correct"] is False and wrong["extracted"] == "3" and wrong["reason"].startswith("mismatch")
    no_answer = verify_response("x</think> I give up.", "4")
    assert no_answer == {"correct": False, "reason": "no answer: nothing could be extracted after </think>", "extracted": None}


def test_unparseable_gold_is_an_error_not_a_wrong():
    result = verify_response("x</think> \\boxed{4}", "")
    assert result["correct"] is None and result["reason"].startswith("error: gold")


# -- the worker pool ----------------------------------------------------------------------------


def test_pool_keeps_order_and_survives_hang_crash_and_exceptions(hostile_pool):
    items = [("a", "a"), ("hang", "x"), ("b", "c"), ("crash", "x"), ("raise", "x"), ("print", "print"), ("bad", "x"), ("none", "x"), ("z", "z")]
    results = list(hostile_pool.run(items))
    assert [r["correct"] for r in results] == [True, None, False, None, None, True, None, None, True]
    assert results[1]["reason"] == "error: timeout after 1.5s"
    assert results[3]["reason"] == "error: crashed (worker exited with code 3)"
    assert results[4]["reason"].startswith("error: ZeroDivisionError: boom at hostile.py:")
    assert results[6]["reason"] == "error: verifier returned str (expected bool or dict)"
    assert results[7]["reason"] == "error: cannot judge"
    assert results[8]["extracted"] == "z"
    assert hostile_pool.restarts >= 2


def test_pool_is_reusable_after_failures(hostile_pool):
    assert [r["correct"] for r in hostile_pool.run([("q", "q"), ("q", "r")])] == [True, False]


def test_non_string_input_is_an_error(hostile_pool):
    (result,) = hostile_pool.run([(5, "x")])
    assert result == {"correct": None, "reason": "error: response and gold must be strings", "extracted": None}


def test_unloadable_verifier_errors_every_item(tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("def verify(response, gold)\n    return True\n", encoding="utf-8")
    with VerifierPool(str(broken), workers=1, timeout_s=5) as pool:
        results = list(pool.run([("a", "a"), ("b", "b")]))
    assert all(r["correct"] is None and r["reason"].startswith("error: cannot load verifier") and "SyntaxError" in r["reason"] for r in results)


# -- API --------------------------------------------------------------------------------------------


def test_verify_batch_and_verify_one():
    items = [
        {"id": "p1", "response": "r</think> \\boxed{12}", "gold": "12"},
        {"id": "p2", "response": "cut off mid-thought", "gold": "12"},
        {"id": "p3", "response": "r</think> \\boxed{13}", "gold": "12"},
    ]
    results = verify_batch(items, timeout_s=30)
    assert [(r["id"], r["correct"]) for r in results] == [("p1", True), ("p2", False), ("p3", False)]
    assert results[1]["reason"].startswith("truncated:")
    one = verify_one("r</think> \\boxed{x^2}", "x^2", timeout_s=30)
    assert one == {"correct": True, "reason": "match", "extracted": "x^2"}


def test_load_verifier_module_function_and_file(hostile):
    by_module = load_verifier("reward_lens.verifier.default:verify_skyt1")
    (r,) = by_module([{"id": 1, "response": "<|begin_of_thought|>x<|end_of_thought|><|begin_of_solution|>\\boxed{7}<|end_of_solution|>", "gold": "7"}], timeout_s=30, workers=1)
    assert r["correct"] is True
    by_file = load_verifier(str(hostile))
    assert [x["correct"] for x in by_file([{"id": 1, "response": "k", "gold": "k"}], timeout_s=30, workers=1)] == [True]
    with pytest.raises(FileNotFoundError):
        load_verifier("/nonexistent/verifier.py")
    with pytest.raises(ModuleNotFoundError):
        load_verifier("no_such_module_xyz:verify")


def test_label_overrides_win_for_matching_pairs(tmp_path, hostile):
    labels = tmp_path / "labels.jsonl"
    labels.write_text(
        json.dumps({"id": "t1", "response": "k", "gold": "other", "label": "correct", "note": "equivalent form"}) + "\n"
        + "{broken json\n"
        + json.dumps({"id": "t2", "response": "k", "gold": "k", "label": "hack"}) + "\n",
        encoding="utf-8",
    )
    rows, problems = read_labels(labels)
    assert [r["id"] for r in rows] == ["t1"] and len(problems) == 2
    fn = load_verifier(str(hostile), overrides=labels)
    results = fn([{"id": "a", "response": "k", "gold": "other"}, {"id": "b", "response": "k", "gold": "zzz"}], timeout_s=30, workers=1)
    assert results[0] == {"id": "a", "correct": True, "reason": "label override: correct (equivalent form)", "extracted": None}
    assert results[1]["correct"] is False
    # The pair is hashed with a separator, so moving characters across it is another pair.
    assert label_key("ab", "c") != label_key("a", "bc")


def test_identity_is_the_hash_of_the_source(tmp_path):
    path = tmp_path / "verifier.py"
    path.write_text("def verify(r, g):\n    return r == g\n", encoding="utf-8")
    first = verifier_identity(str(path))
    import hashlib

    assert first["id"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert first["name"] == "verifier.py"
    path.write_text("def verify(r, g):\n    return r.strip() == g\n", encoding="utf-8")
    assert verifier_identity(str(path))["id"] != first["id"]
    assert verifier_identity(None)["name"] == "default"
    assert verifier_identity("reward_lens.verifier.default:verify")["id"] != verifier_identity("reward_lens.verifier.default:verify_skyt1")["id"]


def test_template_wraps_the_default_pieces_and_judges_like_the_default(tmp_path):
    source = TEMPLATE.read_text(encoding="utf-8")
    assert "from reward_lens.verifier.default import" in source
    assert "def verify(response: str, gold: str)" in source
    path = tmp_path / "verifier.py"
    path.write_text(source, encoding="utf-8")
    items = [
        ("<think>a</think> \\boxed{\\frac{2}{4}}", "1/2"),
        ("a</think> \\boxed{3}", "4"),
        ("never closed", "4"),
        ("a</think>", "4"),
        ("a</think> \\boxed{(1,2)}", "(1, 2)"),
    ]
    with VerifierPool(str(path), workers=1, timeout_s=30) as pool:
        from_template = list(pool.run(items))
    from_default = [verify_response(r, g) for r, g in items]
    assert [x["correct"] for x in from_template] == [x["correct"] for x in from_default] == [True, False, False, False, True]
    assert [x["extracted"] for x in from_template] == [x["extracted"] for x in from_default]


# -- CLI -------------------------------------------------------------------------------------------


def test_cli_streams_results_in_order_with_malformed_lines_and_control(hostile):
    lines = [
        json.dumps({"id": "a", "response": "r</think> \\boxed{2}", "gold": "2"}),
        "this is not json",
        json.dumps({"id": "b", "response": 7, "gold": "2"}),
        json.dumps({"control": "verifier", "spec": str(hostile)}),
        json.dumps({"id": "c", "response": "same", "gold": "same"}),
        json.dumps({"control": "verifier", "spec": "/no/such/verifier.py"}),
        json.dumps({"id": "d", "response": "x", "gold": "y"}),
    ]
    proc = run_cli("--workers", "1", "--timeout", "30", stdin="\n".join(lines) + "\n")
    assert proc.returncode == 0, proc.stderr
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert out[0] == {"id": "a", "correct": True, "reason": "match", "extracted": "2"}
    assert out[1]["id"] is None and out[1]["reason"].startswith("error: malformed input line")
    assert out[2] == {"id": "b", "correct": None, "reason": "error: response and gold must be strings", "extracted": None}
    assert out[3]["control"] == "verifier" and out[3]["identity"]["name"] == "hostile.py"
    assert out[4] == {"id": "c", "correct": True, "reason": "cmp", "extracted": "same"}
    assert out[5]["control"] == "error"
    # A failed switch keeps the previous verifier.
    assert out[6] == {"id": "d", "correct": False, "reason": "cmp", "extracted": "x"}
    assert len(out) == 7


def test_cli_test_mode_exits_nonzero_on_disagreement(tmp_path):
    good = tmp_path / "good.jsonl"
    rows = [
        {"id": "run/t1", "response": "r</think> \\boxed{5}", "gold": "5", "label": "correct", "note": None},
        {"id": "run/t2", "response": "r</think> \\boxed{6}", "gold": "5", "label": "wrong", "note": "off by one"},
    ]
    good.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    ok = run_cli("--test", str(good), "--workers", "1", "--timeout", "30")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "2/2 labels agree" in ok.stdout
    bad = tmp_path / "bad.jsonl"
    rows.append({"id": "run/t3", "response": "r</think> \\boxed{0.5}", "gold": "\\frac{1}{2}", "label": "wrong", "note": "should be a fraction"})
    bad.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    failing = run_cli("--test", str(bad), "--workers", "1", "--timeout", "30")
    assert failing.returncode == 1
    assert "DISAGREE id='run/t3': labelled wrong, verifier says correct" in failing.stdout
    assert "note='should be a fraction'" in failing.stdout


def test_cli_rejects_bad_arguments():
    assert run_cli("--workers", "0").returncode == 2
    assert run_cli("--verifier", "/no/such/file.py", "--identity").returncode == 2


def test_reload_picks_up_an_edit_without_restarting_workers(tmp_path):
    path = tmp_path / "verifier.py"
    path.write_text("def verify(response, gold):\n    return response == gold\n", encoding="utf-8")
    with VerifierPool(str(path), workers=1, timeout_s=30) as pool:
        assert [r["correct"] for r in pool.run([("A", "a")])] == [False]
        pids = [w.process.pid for w in pool._workers]
        path.write_text("def verify(response, gold):\n    return response.lower() == gold.lower()\n", encoding="utf-8")
        pool.reload(str(path))
        assert [r["correct"] for r in pool.run([("A", "a")])] == [True]
        assert [w.process.pid for w in pool._workers] == pids and pool.restarts == 0
        path.write_text("def verify(response, gold)\n", encoding="utf-8")
        pool.reload(str(path))
        (broken,) = pool.run([("A", "a")])
        assert broken["correct"] is None and "SyntaxError" in broken["reason"]


def test_cli_answers_each_line_before_stdin_closes():
    """Streaming: a client that writes one line and waits gets its answer (malformed lines too)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "reward_lens.verify", "--workers", "1", "--timeout", "30"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=PYTHON_DIR,
    )
    try:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write("not json\n")
        proc.stdin.flush()
        assert json.loads(proc.stdout.readline())["reason"].startswith("error: malformed input line")
        proc.stdin.write(json.dumps({"id": 1, "response": "a</think> \\boxed{2}", "gold": "2"}) + "\n")
        proc.stdin.flush()
        assert json.loads(proc.stdout.readline()) == {"id": 1, "correct": True, "reason": "match", "extracted": "2"}
        proc.stdin.close()
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
