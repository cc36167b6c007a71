"""`python -m reward_lens.oxa compare`: SFT against OXA warm starts of the same budget on the demo
task, over several seeds (docs/oxa.md, "SFT against OXA on the demo task").

Per seed:
1. the demo task (two-digit addition, three teacher styles) drawn from the seed;
2. a **base** policy: the tiny model trained from random weights on the *column* traces only, the
   stand-in for a pretrained model that already answers one way (OXA scores confidence under the
   model about to be fine-tuned; under random weights every trace has the same PPL and the
   selection would have nothing to read);
3. two warm starts from that base, the same optimizer steps, learning rate and promote batch:
   - **sft**: NLL on `batch` traces per step drawn from all verified teacher traces (all styles);
   - **oxa**: the trainer's OXA warm start (`warm_start.method = "oxa"`): Gaussian-quota promote
     selection over the base's PPL, the base's lowest-PPL incorrect self-samples suppressed, 1:1;
4. each evaluated on the held-out prompts: the on-policy token entropy at T = 1 (the probe the
   trainer logs at RL's step 0), greedy accuracy, pass@k for k = 1 … samples at T = 1 (unbiased
   estimator), and the styles of the correct answers.

Every figure is a mean over seeds with a 95% t-interval, and OXA − SFT is taken seed by seed
(`study.stats`). Stages are skipped when their output exists, so a stopped comparison resumes.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
from functools import partial
from pathlib import Path

DOC_START = "<!-- oxa:compare:start -->"
DOC_END = "<!-- oxa:compare:end -->"
METHODS = ("sft", "oxa")
TABLE_K = (1, 2, 4, 8, 16)


def log(msg: str) -> None:
    print(f"[reward_lens.oxa compare] {msg}", file=sys.stderr, flush=True)


def demo_style(response: str) -> str:
    """Which demo teacher style a response's reasoning follows (demo_task.py's three), else other."""
    body = response.split("</think>")[0].strip()
    first = body.splitlines()[0].strip() if body else ""
    if first.startswith("units "):
        return "column"
    if re.fullmatch(r"\d+=\d+0-\d", first) or first.endswith("is a round ten"):
        return "compensate"
    if re.fullmatch(r"\d+=\d+0\+\d", first):
        return "decompose"
    return "other"


def _train(cfg: dict, run_dir: Path) -> None:
    from .. import config as config_mod
    from ..train import Trainer

    trainer = Trainer(config_mod.from_dict(cfg), run_dir, resume=False)
    status = trainer.run()
    trainer.events.write({"type": "run_end", "run_id": trainer.run_id, "status": status, "step": trainer.step})
    trainer.events.close()
    if status != "completed":
        raise RuntimeError(f"{run_dir.name}: the trainer ended {status}")


def _step0(run_dir: Path) -> dict:
    for line in (run_dir / "events.jsonl").read_text().splitlines():
        e = json.loads(line)
        if e.get("type") == "step" and e.get("step") == 0:
            return e["metrics"]
    raise RuntimeError(f"{run_dir}: no step-0 record")


def run_seed(out: Path, seed: int, args) -> dict:
    from ..demo_task import base_config, oxa_warm_start, write_demo
    from ..eval import evaluate as generate_and_verify
    from ..study.evaluate import pass_curve

    sd = out / f"seed-{seed}"
    data = sd / "data"
    if not (data / "heldout.jsonl").exists():
        write_demo(data, steps=0, sft_steps=0, seed=seed)
    base_cfg = base_config(data, args.base_steps, seed)
    base_ckpt = data / "base-checkpoints" / "step-000000.pt"
    if not base_ckpt.exists():
        log(f"seed {seed}: base (column traces only, {args.base_steps} steps)")
        _train(base_cfg, sd / "base")
    result: dict = {}
    for method in METHODS:
        rd = sd / method
        ev_path = rd / "eval.json"
        if ev_path.exists():
            result[method] = json.loads(ev_path.read_text())
            continue
        ws = oxa_warm_start(args.steps, args.batch, args.lr, args.promote, args.suppress_prompts, args.probe_prompts)
        if args.ppl_range:
            ws |= {"ppl_range": args.ppl_range, "bin_width": args.bin_width}
        if method == "sft":  # the same budget: steps, learning rate, promote batch, probe
            ws = {k: ws[k] for k in ("steps", "lr", "batch", "log_every", "entropy_probe_prompts")} | {"method": "sft"}
        cfg = {**base_cfg, "data": str(data / "train.jsonl"), "init_from": str(base_ckpt), "warm_start": ws, "checkpoint_dir": None}
        ckpt = rd / "checkpoints" / "step-000000.pt"
        t0 = time.perf_counter()
        if not ckpt.exists():
            log(f"seed {seed}: {method} warm start ({args.steps} steps, batch {args.batch})")
            _train(cfg, rd)
        train_s = time.perf_counter() - t0
        log(f"seed {seed}: evaluating {method}")
        import torch

        from .. import config as config_mod
        from ..data import load_prompts
        from ..policy import build_policy
        from ..verify import load_verifier

        c = config_mod.from_dict(cfg)
        torch.manual_seed(seed + 4242)  # the two methods of a seed sample with the same seed
        model, tok = build_policy(c, torch.device("cpu"))
        model.load_state_dict(torch.load(ckpt, map_location="cpu", weights_only=False)["model"])
        model.eval()
        items = load_prompts(str(data / "heldout.jsonl"))[0]
        for it in items:
            it.prompt_text = tok.format_prompt(it.question, "", c.prompt_template, c.prompt_ends_with)
            it.prompt_ids = tok.encode(it.prompt_text)[-c.max_prompt_tokens:]
        verify = partial(load_verifier(None), timeout_s=c.verifier_timeout_s, workers=c.verifier_workers)
        greedy = generate_and_verify(model, tok, c, torch.device("cpu"), items, 1, 0.0, verify, batch=128)
        sampled = generate_and_verify(model, tok, c, torch.device("cpu"), items[: args.eval_prompts], args.samples, 1.0, verify, batch=max(1, 512 // args.samples))
        counts = [sum(1 for r in rr if r.get("correct") is True) for _, _, rr, _ in sampled]
        styles: dict[str, int] = {}
        for _, texts, rr, _ in sampled:
            for t, r in zip(texts, rr):
                if r.get("correct") is True:
                    s = demo_style(t)
                    styles[s] = styles.get(s, 0) + 1
        total = sum(styles.values())
        shares = {s: styles.get(s, 0) / total if total else None for s in ("column", "decompose", "compensate", "other")}
        step0 = _step0(rd)
        sel = json.loads((rd / "warm-start-selection.json").read_text()) if method == "oxa" else None
        res = {
            "entropy_on_policy": step0.get("actor/entropy_on_policy"),
            "greedy": sum(1 for _, _, r, _ in greedy if r[0].get("correct") is True) / len(greedy),
            "pass_at_k": pass_curve(counts, args.samples),
            "style_shares": shares,
            "style_entropy_bits": -sum(p * math.log2(p) for p in shares.values() if p) if total else None,
            "final_nll": step0.get("sft/nll"),
            "train_s": train_s,
            "selection": {k: sel[k] for k in ("request", "counts")} if sel else None,
        }
        ev_path.write_text(json.dumps(res))
        result[method] = res
        log(f"seed {seed} {method}: entropy {res['entropy_on_policy']:.3f} greedy {res['greedy']:.3f} pass@1 {res['pass_at_k']['1']:.3f} pass@{args.samples} {res['pass_at_k'][str(args.samples)]:.3f}")
    return result


def aggregate(per_seed: dict[int, dict], samples: int) -> dict:
    from ..study import stats

    def values(method, key):
        return {s: key(r[method]) for s, r in per_seed.items()}

    measures = {
        "entropy_on_policy": lambda r: r["entropy_on_policy"],
        "greedy": lambda r: r["greedy"],
        "style_entropy_bits": lambda r: r["style_entropy_bits"],
        **{f"pass@{k}": (lambda r, k=k: r["pass_at_k"][str(k)]) for k in range(1, samples + 1)},
        **{f"share/{s}": (lambda r, s=s: r["style_shares"][s]) for s in ("column", "decompose", "compensate", "other")},
    }
    out: dict = {"seeds": sorted(per_seed), "measures": {}, "paired_oxa_minus_sft": {}}
    for name, key in measures.items():
        by = {m: values(m, key) for m in METHODS}
        out["measures"][name] = {m: stats.interval(list(by[m].values())) for m in METHODS}
        out["paired_oxa_minus_sft"][name] = stats.paired(by["oxa"], by["sft"])
    return out


def _fmt(iv: dict, pct: bool, signed: bool = False) -> str:
    if iv is None or iv.get("mean") is None:
        return "–"
    scale, unit = (100.0, "") if pct else (1.0, "")
    sign = "+" if signed else ""
    mean = f"{iv['mean'] * scale:{sign}.1f}" if pct else f"{iv['mean'] * scale:{sign}.3f}"
    if iv.get("lo") is None:
        return mean + unit
    lo, hi = iv["lo"] * scale, iv["hi"] * scale
    return f"{mean} [{lo:.1f}, {hi:.1f}]" if pct else f"{mean} [{lo:.3f}, {hi:.3f}]"


def table(res: dict, args) -> str:
    n = len(res["seeds"])
    m, d = res["measures"], res["paired_oxa_minus_sft"]
    rows = [("on-policy token entropy at T = 1 (nats)", "entropy_on_policy", False), ("greedy accuracy (%)", "greedy", True)]
    rows += [(f"pass@{k} at T = 1 (%)", f"pass@{k}", True) for k in TABLE_K if k <= args.samples]
    rows += [("style entropy of correct answers (bits)", "style_entropy_bits", False)]
    rows += [(f"share of correct answers in style {s} (%)", f"share/{s}", True) for s in ("column", "decompose", "compensate")]
    lines = [f"Mean over {n} seeds [95% t-interval over seeds]; OXA − SFT is paired seed by seed.", "",
             "| measure | SFT | OXA | OXA − SFT |", "|---|---:|---:|---:|"]
    for label, key, pct in rows:
        lines.append(f"| {label} | {_fmt(m[key]['sft'], pct)} | {_fmt(m[key]['oxa'], pct)} | {_fmt(d[key], pct, signed=True)} |")
    lines += ["", "pass@k for every k (mean over seeds, %):", "", "| k | " + " | ".join(str(k) for k in range(1, args.samples + 1)) + " |",
              "|---|" + "---:|" * args.samples]
    for meth in METHODS:
        lines.append(f"| {meth.upper()} | " + " | ".join(f"{m[f'pass@{k}'][meth]['mean'] * 100:.1f}" for k in range(1, args.samples + 1)) + " |")
    return "\n".join(lines)


def update_doc(doc: Path, text: str, marker: str = "compare") -> None:
    s = doc.read_text()
    start, end = DOC_START.replace("compare", marker), DOC_END.replace("compare", marker)
    i, j = s.index(start), s.index(end)
    doc.write_text(s[: i + len(start)] + "\n" + text + "\n" + s[j:])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m reward_lens.oxa compare", description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--base-steps", type=int, default=200, help="column-only SFT steps of the base policy")
    ap.add_argument("--steps", type=int, default=200, help="warm-start optimizer steps of each method")
    ap.add_argument("--batch", type=int, default=32, help="promote sequences per step (OXA adds as many suppress ones)")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--promote", type=int, default=2000, help="OXA's promote set size n")
    ap.add_argument("--suppress-prompts", type=int, default=1024, help="training prompts the base samples 4 times each for the suppress set")
    ap.add_argument("--probe-prompts", type=int, default=64, help="prompts sampled for the on-policy entropy")
    ap.add_argument("--eval-prompts", type=int, default=100, help="held-out prompts for pass@k (greedy uses all 200)")
    ap.add_argument("--samples", type=int, default=16, help="samples per prompt for pass@k (k = 1 .. samples)")
    ap.add_argument("--ppl-range", type=float, nargs=2, metavar=("LO", "HI"), default=None,
                    help='OXA\'s PPL range (default "auto": the pool\'s [min, max]; the reference: 1 5)')
    ap.add_argument("--bin-width", type=float, default=0.05, help="OXA's PPL bin width with --ppl-range")
    ap.add_argument("--doc", default=None, help="write the table into this Markdown file between its oxa:MARKER markers")
    ap.add_argument("--doc-marker", default="compare", help="the marker name: <!-- oxa:MARKER:start --> … <!-- oxa:MARKER:end -->")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    per_seed = {s: run_seed(out, s, args) for s in range(args.seeds)}
    res = aggregate(per_seed, args.samples)
    res["settings"] = vars(args)
    res["per_seed"] = per_seed
    (out / "results.json").write_text(json.dumps(res, indent=1))
    text = table(res, args)
    (out / "report.md").write_text(text + "\n")
    print(text)
    if args.doc:
        update_doc(Path(args.doc), text, args.doc_marker)
    return 0


if __name__ == "__main__":
    sys.exit(main())
