"""`python -m reward_lens.oxa sample`: the policy's own responses, verified and scored, resumable
per question, then the suppress selection of `select_suppress` over every sample written."""

import json
import os
import subprocess
import sys

from conftest import PYTHON_DIR

from reward_lens.demo_task import PROMPT_TEMPLATE, row
from reward_lens.oxa.suppress import Sample, select_suppress

TINY = json.dumps({"tiny": {"arch": "qwen2", "hidden_size": 32, "layers": 1, "heads": 2, "max_positions": 128}})
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(PYTHON_DIR)}


def sample(tmp_path, *extra):
    args = ["--model", TINY, "--in", str(tmp_path / "q.jsonl"), "--out", str(tmp_path / "s.jsonl"), "--samples", "3", "--max-new-tokens", "24",
            "--k", "4", "--template", PROMPT_TEMPLATE, "--system-prompt", "", "--workers", "1", "--batch-prompts", "2",
            "--selected", str(tmp_path / "sel.json"),
            # generous: on a loaded 2-core machine a 5 s verification timed out once and its
            # verdict became "error" (correctly, but not what this test is about)
            "--timeout", "60", *extra]
    return subprocess.run([sys.executable, "-m", "reward_lens.oxa", "sample", *args], env=ENV, capture_output=True, text=True, timeout=300)


def test_sample_verifies_scores_resumes_and_selects(tmp_path):
    with (tmp_path / "q.jsonl").open("w") as f:
        for a, b in [(12, 34), (47, 38), (90, 19), (55, 55), (23, 61)]:
            f.write(json.dumps(row(a, b, False)) + "\n")
    out = sample(tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    rows = [json.loads(x) for x in (tmp_path / "s.jsonl").read_text().splitlines()]
    assert len(rows) == 15 and {r["question_id"] for r in rows} == {"12+34", "47+38", "90+19", "55+55", "23+61"}
    for r in rows:  # a random policy writes no valid format: every verdict is a real "incorrect" with its reason
        assert r["verdict"] == "incorrect" and r["reason"] and (r["ppl"] is None or r["ppl"] > 1.0)
    sel = json.loads((tmp_path / "sel.json").read_text())
    want = select_suppress([Sample(r["id"], r["question_id"], r["verdict"], r["ppl"]) for r in rows], 4)
    assert sel["selected"] == want.selected and len(sel["selected"]) == 4 and sel["counts"] == want.counts
    # a crash mid-line: the torn line is cut, its question sampled again, nothing else redone
    text = (tmp_path / "s.jsonl").read_text()
    keep = "".join(x + "\n" for x in text.splitlines()[:12])
    (tmp_path / "s.jsonl").write_text(keep + '{"id": "23+61#0", "question_id": "23')
    out = sample(tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "4 questions already in" in out.stderr and "1 to sample" in out.stderr
    rows2 = [json.loads(x) for x in (tmp_path / "s.jsonl").read_text().splitlines()]
    assert len(rows2) == 15 and rows2[:12] == rows[:12]


def test_bad_arguments_exit_2(tmp_path):
    (tmp_path / "q.jsonl").write_text(json.dumps(row(12, 34, False)) + "\n")
    out = sample(tmp_path, "--samples", "0")
    assert out.returncode == 2 and "--samples = 0: must be >= 1" in out.stderr
