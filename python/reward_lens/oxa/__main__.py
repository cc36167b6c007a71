"""`python -m reward_lens.oxa {score,sample,select}`: the OXA data pipeline (docs/oxa.md)."""

from __future__ import annotations

import argparse
import json
import sys

from .score import ScoreError, run_score
from .select import SelectionError, select_json


def _read_json(path: str):
    text = sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()
    return json.loads(text)


def cmd_select(args: argparse.Namespace) -> int:
    try:
        res = select_json(_read_json(args.input))
    except (OSError, json.JSONDecodeError) as e:
        print(f"reward_lens.oxa select: cannot read {args.input}: {e}", file=sys.stderr)
        return 2
    except SelectionError as e:
        print(f"reward_lens.oxa select: {e}", file=sys.stderr)
        return 2
    for b, quota, filled in res.short_bins:
        print(f"reward_lens.oxa select: bin {b} is short: {filled} of its quota {quota} (not topped up)", file=sys.stderr)
    json.dump(res.to_json(), sys.stdout)
    sys.stdout.write("\n")
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    if args.batch_tokens < 1:
        print(f"reward_lens.oxa score: --batch-tokens = {args.batch_tokens}: must be >= 1", file=sys.stderr)
        return 2
    try:
        return run_score(args)
    except (OSError, ScoreError) as e:
        print(f"reward_lens.oxa score: {e}", file=sys.stderr)
        return 2


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m reward_lens.oxa", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    sel = sub.add_parser("select", help="Gaussian quota selection over perplexity (a pure function of the request)")
    sel.add_argument("--in", dest="input", required=True, help="request JSON file, or - for standard input")
    sel.set_defaults(run=cmd_select)
    sc = sub.add_parser("score", help="perplexity of each response under the base model (resumable JSONL)")
    sc.add_argument("--model", required=True, help='a local model folder, or a JSON tiny spec such as \'{"tiny": {}}\'')
    sc.add_argument("--in", dest="input", required=True, help="JSONL rows {id, question, response[, system]}")
    sc.add_argument("--out", required=True, help="JSONL output, appended; ids already there are skipped")
    sc.add_argument("--conditioning", choices=["question", "none"], default="question", help="question: after the trainer's prompt (default); none: the response alone (the reference)")
    sc.add_argument("--batch-tokens", type=int, default=16384, help="token budget of one forward (rows x longest row)")
    sc.add_argument("--system-prompt", default=None, help="system prompt of the question template (default: the trainer's)")
    sc.add_argument("--seed", type=int, default=0, help="seed for a tiny spec's random weights")
    sc.set_defaults(run=cmd_score)
    args = ap.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
