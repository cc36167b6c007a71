"""`python -m reward_lens.teachers`: build the offline set from several teachers' outputs.

    python -m reward_lens.teachers --teacher r1=r1.jsonl --teacher qwen3=q.jsonl --out offline.jsonl
        [--max-tokens 8192] [--tokenizer PATH] [--verifier SPEC]

Each input is JSONL: a prompt (prompt | question | problem), its gold (gold | answer | gt) and the
teacher's response(s) (response | output | text | generation, or a list in responses | code).
Every response is verified (the same verifier as training); the correct ones within the token
limit are merged per prompt into the training layout {id, prompt, gold, teachers: [{teacher, text}]}.
Prints the paper's Table 1 per teacher: samples, valid samples, average length, accuracy.
Lengths are counted with --tokenizer when given, else as whitespace-separated words (said in the table).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

PROMPT_KEYS = ("prompt", "question", "problem")
GOLD_KEYS = ("gold", "answer", "gt")
RESPONSE_KEYS = ("response", "output", "text", "generation", "completion")
RESPONSE_LIST_KEYS = ("responses", "code", "outputs")


def _first(row: dict, keys) -> Any:
    for k in keys:
        v = row.get(k)
        if v is not None:
            return v
    return None


def read_teacher_file(path: Path) -> tuple[list[dict], int]:
    """Rows as {prompt, gold, responses}; returns (rows, malformed line count)."""
    rows, bad = [], 0
    with path.open(encoding="utf-8", errors="replace") as f:
        for line in f:
            if not line.strip():
                continue
            try:
                r = json.loads(line)
            except json.JSONDecodeError:
                bad += 1
                continue
            if not isinstance(r, dict):
                bad += 1
                continue
            prompt, gold = _first(r, PROMPT_KEYS), _first(r, GOLD_KEYS)
            if isinstance(gold, (int, float)) and not isinstance(gold, bool):
                gold = str(gold)
            responses = []
            single = _first(r, RESPONSE_KEYS)
            if isinstance(single, str):
                responses.append(single)
            many = _first(r, RESPONSE_LIST_KEYS)
            if isinstance(many, list):
                responses += [x for x in many if isinstance(x, str)]
            if not isinstance(prompt, str) or not isinstance(gold, str) or not responses:
                bad += 1
                continue
            rows.append({"prompt": prompt, "gold": gold, "responses": responses})
    return rows, bad


def build(teachers: list[tuple[str, Path]], max_tokens: int, count_tokens, verify) -> tuple[list[dict], list[dict]]:
    merged: dict[str, dict] = {}
    table = []
    for name, path in teachers:
        rows, bad = read_teacher_file(path)
        items = [(r, resp) for r in rows for resp in r["responses"]]
        results = verify([{"id": str(k), "response": resp, "gold": r["gold"]} for k, (r, resp) in enumerate(items)]) if items else []
        correct = valid = 0
        lengths: list[int] = []
        errors = 0
        for (r, resp), res in zip(items, results):
            if res.get("correct") is None:
                errors += 1
            if res.get("correct") is not True:
                continue
            correct += 1
            n = count_tokens(resp)
            if n > max_tokens:
                continue
            valid += 1
            lengths.append(n)
            key = hashlib.sha256(r["prompt"].encode("utf-8")).hexdigest()[:16]
            entry = merged.setdefault(key, {"id": key, "prompt": r["prompt"], "gold": r["gold"], "teachers": []})
            entry["teachers"].append({"teacher": name, "text": resp})
        table.append({
            "teacher": name,
            "samples": len(items),
            "valid_samples": valid,
            "avg_length": (sum(lengths) / len(lengths)) if lengths else None,
            "accuracy": correct / len(items) if items else None,
            "verifier_errors": errors,
            "malformed_lines": bad,
        })
    return list(merged.values()), table


def format_table(table: list[dict], unit: str) -> str:
    lines = [f"| Teacher | Samples | Valid samples | Avg length ({unit}) | Accuracy | Verifier errors | Malformed lines |", "|---|---|---|---|---|---|---|"]
    for t in table:
        avg = f"{t['avg_length']:.0f}" if t["avg_length"] is not None else "n/a"
        acc = f"{t['accuracy']:.1%}" if t["accuracy"] is not None else "n/a"
        lines.append(f"| {t['teacher']} | {t['samples']} | {t['valid_samples']} | {avg} | {acc} | {t['verifier_errors']} | {t['malformed_lines']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m reward_lens.teachers", description="merge teachers' outputs into an offline set, keeping correct ones within a token limit")
    ap.add_argument("--teacher", action="append", required=True, metavar="NAME=FILE")
    ap.add_argument("--out", required=True)
    ap.add_argument("--max-tokens", type=int, default=8192)
    ap.add_argument("--tokenizer", help="a local tokenizer folder for token counts (default: whitespace words)")
    ap.add_argument("--verifier", help="module:function or a file path (default: Math-Verify with LUFFY's gate)")
    ap.add_argument("--timeout", type=float, default=5.0)
    args = ap.parse_args(argv)
    teachers = []
    for spec in args.teacher:
        name, sep, path = spec.partition("=")
        if not sep or not name or not Path(path).is_file():
            print(f"reward_lens.teachers: --teacher {spec!r}: expected NAME=FILE with an existing file", file=sys.stderr)
            return 2
        teachers.append((name, Path(path)))
    if args.tokenizer:
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(args.tokenizer)
        count, unit = (lambda s: len(tok.encode(s, add_special_tokens=False))), "tokens"
    else:
        count, unit = (lambda s: len(s.split())), "words"
    from .verify import load_verifier

    fn = load_verifier(args.verifier)
    merged, table = build(teachers, args.max_tokens, count, lambda items: fn(items, timeout_s=args.timeout))
    with open(args.out, "w", encoding="utf-8") as f:
        for row in merged:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(format_table(table, unit))
    print(json.dumps({"out": args.out, "prompts": len(merged), "table": table}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
