"""`python -m reward_lens.oxa {score,sample,select,compare}`: the OXA data pipeline and its comparison with SFT (docs/oxa.md)."""

from __future__ import annotations

import argparse
import json
import sys

from .sample import run_sample
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


def cmd_sample(args: argparse.Namespace) -> int:
    for name in ("samples", "batch_prompts", "batch_tokens", "max_new_tokens"):
        if getattr(args, name) < 1:
            print(f"reward_lens.oxa sample: --{name.replace('_', '-')} = {getattr(args, name)}: must be >= 1", file=sys.stderr)
            return 2
    if args.k < 0 or not args.temperature > 0:
        print("reward_lens.oxa sample: --k must be >= 0 and --temperature > 0", file=sys.stderr)
        return 2
    try:
        return run_sample(args)
    except (OSError, ScoreError, ValueError) as e:
        print(f"reward_lens.oxa sample: {e}", file=sys.stderr)
        return 2


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["compare"]:  # its own options (compare.py)
        from .compare import main as compare_main

        return compare_main(argv[1:])
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
    sa = sub.add_parser("sample", help="the policy's own responses per question, verified and scored; then the suppress selection")
    sa.add_argument("--model", required=True, help='a local model folder, or a JSON tiny spec such as \'{"tiny": {}}\'')
    sa.add_argument("--in", dest="input", required=True, help="questions with gold answers: the trainer's data formats (JSONL or Parquet)")
    sa.add_argument("--out", required=True, help="JSONL of every sample {id, question_id, response, verdict, ppl, tokens}, appended; questions already there are skipped")
    sa.add_argument("--samples", type=int, default=4, help="responses per question")
    sa.add_argument("--temperature", type=float, default=1.0)
    sa.add_argument("--max-new-tokens", type=int, default=1024)
    sa.add_argument("--k", type=int, default=50000, help="suppress set size: the K lowest-PPL incorrect responses (one per question)")
    sa.add_argument("--min-ppl", type=float, default=1.2, help="incorrect responses below this PPL are dropped (degenerate loops)")
    sa.add_argument("--selected", default=None, help="write the selection {selected ids, counts} as JSON here")
    sa.add_argument("--system-prompt", default=None, help="system prompt of the question template (default: the trainer's)")
    sa.add_argument("--template", default=None, help="prompt template with {question} (default: the tokenizer's chat template, else the paper's)")
    sa.add_argument("--verifier", default=None, help="module:function or a file (default: the built-in Math-Verify verifier)")
    sa.add_argument("--workers", type=int, default=None, help="verifier processes (default: every core)")
    sa.add_argument("--timeout", type=float, default=5.0, help="seconds per verification")
    sa.add_argument("--batch-prompts", type=int, default=64, help="questions sampled together")
    sa.add_argument("--batch-tokens", type=int, default=16384, help="token budget of one scoring forward")
    sa.add_argument("--seed", type=int, default=0)
    sa.set_defaults(run=cmd_sample)
    sub.add_parser("compare", help="SFT against OXA warm starts of the same budget on the demo task, over seeds (see compare --help)")
    args = ap.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
