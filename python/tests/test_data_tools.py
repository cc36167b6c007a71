"""Data loading (ours and LUFFY's layout), the char tokenizer, pass@k, the offline-set builder."""

import itertools
import json
import math

import pytest
from conftest import REPO

from reward_lens.chartok import CharTokenizer
from reward_lens.config import PAPER_SYSTEM_PROMPT
from reward_lens.data import load_prompts
from reward_lens.demo_task import STYLES, trace
from reward_lens.eval import pass_at_k

SHARED = REPO.parent / "shared"


@pytest.mark.skipif(not (SHARED / "data" / "eval" / "luffy_valid.parquet").is_file(), reason="needs ../shared/data/eval/luffy_valid.parquet")
def test_luffy_parquet_layout_and_paper_system_prompt():
    items, report = load_prompts(SHARED / "data" / "eval" / "luffy_valid.parquet")
    assert report.kept == len(items) > 0 and not report.skipped
    first = items[0]
    assert first.gold == "204" and first.question.startswith("Every morning Aya")
    # The default system prompt is the paper's Table 5 text, as LUFFY's data carries it.
    assert first.system == PAPER_SYSTEM_PROMPT


def test_jsonl_layout_counts_bad_rows(tmp_path):
    f = tmp_path / "p.jsonl"
    f.write_text("\n".join([
        json.dumps({"id": "a", "problem": "1+1", "answer": 2, "teachers": [{"teacher": "r1", "text": "x"}, "plain text teacher"]}),
        "{broken",
        json.dumps({"question": "no gold"}),
        json.dumps({"id": "a", "prompt": "dup id", "gold": "3"}),
        json.dumps(["not", "an", "object"]),
    ]))
    items, report = load_prompts(f)
    assert [it.id for it in items] == ["a", "a#1"]
    assert items[0].gold == "2" and [t.name for t in items[0].teachers] == ["r1", "teacher1"]
    assert report.rows == 5 and report.kept == 2 and sum(report.skipped.values()) == 3


def test_char_tokenizer_round_trip_and_tags():
    tok = CharTokenizer()
    text = trace("column", 47, 38)
    ids = tok.encode("<think>\n" + text)
    assert ids[0] == tok.stoi["<think>"] and tok.stoi["</think>"] in ids
    assert tok.decode(ids) == "<think>\n" + text
    assert tok.decode(tok.encode("é")) == "?" and tok.unknown_chars == 1


def test_teacher_styles_are_correct_and_different():
    for a, b in [(47, 38), (10, 90), (99, 99), (12, 30)]:
        texts = {s: trace(s, a, b) for s in STYLES}
        assert len(set(texts.values())) == 3
        for t in texts.values():
            assert t.endswith(f"\\boxed{{{a + b}}}")


def test_pass_at_k_matches_enumeration():
    for n, c, k in [(8, 3, 1), (8, 3, 4), (6, 0, 2), (5, 5, 3), (7, 2, 7)]:
        samples = [1] * c + [0] * (n - c)
        subsets = list(itertools.combinations(range(n), k))
        brute = sum(1 for s in subsets if any(samples[i] for i in s)) / len(subsets)
        assert math.isclose(pass_at_k(n, c, k), brute)
    with pytest.raises(ValueError):
        pass_at_k(2, 1, 3)


def test_offline_set_builder_keeps_correct_within_limit(tmp_path):
    from reward_lens import teachers
    from reward_lens.verify import verify_batch

    a = tmp_path / "a.jsonl"
    a.write_text("\n".join([
        json.dumps({"question": "2+2", "answer": "4", "response": "add\n</think>\n\\boxed{4}"}),
        json.dumps({"question": "3+3", "answer": "6", "responses": ["wrong\n</think>\n\\boxed{7}", "right\n</think>\n\\boxed{6}"]}),
        "garbage",
    ]))
    b = tmp_path / "b.jsonl"
    b.write_text(json.dumps({"question": "2+2", "answer": "4", "response": "a very long way to say it " * 20 + "\n</think>\n\\boxed{4}"}) + "\n")
    out = tmp_path / "merged.jsonl"
    assert teachers.main(["--teacher", f"a={a}", "--teacher", f"b={b}", "--out", str(out), "--max-tokens", "50", "--timeout", "60"]) == 0
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    by_prompt = {r["prompt"]: [t["teacher"] for t in r["teachers"]] for r in rows}
    assert by_prompt == {"2+2": ["a"], "3+3": ["a"]}  # b's trace is correct but over the limit
    merged, table = teachers.build([("a", a), ("b", b)], 50, lambda s: len(s.split()), lambda items: verify_batch(items, timeout_s=60))
    ta, tb = table
    assert (ta["samples"], ta["valid_samples"], ta["malformed_lines"]) == (3, 2, 1) and math.isclose(ta["accuracy"], 2 / 3)
    assert (tb["samples"], tb["valid_samples"], tb["accuracy"]) == (1, 0, 1.0)
