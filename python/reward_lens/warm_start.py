"""The warm start before RL, one phase of the trainer: plain SFT or OXA (config `warm_start`,
docs/oxa.md).

- **sft**: next-token NLL on prompt -> teacher trace, `batch` traces drawn per step from all of
  them (token mean over the batch, as the trainer always did).
- **oxa**: first the data. The verified-correct teacher traces are scored (PPL under the policy
  as it is now, conditioned on the question) and `n` of them chosen by the Gaussian quota
  selection (`oxa.select`); the policy samples its own responses to the training prompts, which
  are verified and scored, and the lowest-PPL incorrect ones form the suppress set
  (`oxa.sample`). Then `steps` optimizer steps of `batch` promote and `batch` suppress sequences
  (1:1 in every step, `oxa.batches`) under `oxa_model_loss`: per-sequence mean NLL + λ ·
  per-sequence mean unlikelihood, through the trainer's memory-bounded log-prob path.

Both use the trainer's optimizer with a cosine decay from `lr` to 10%, then hand RL fresh Adam
moments at its own learning rate.

Events. Warm-start step k of N (k = 0 before the first update) is written as a `step` event
numbered k − N − 1 (so −N−1 … −1) with "phase": "warm_start": RL's step 0 is the policy RL starts
from and its steps count from 1, so one axis holds both phases. Every `log_every` steps (and the
first and last) it carries `sft/loss`, `sft/nll`, `sft/lr`, `sft/entropy_promote` (token entropy
of the step's promote rows, teacher-forced) and `actor/entropy_on_policy` (mean token entropy of
fresh samples at the RL temperature for `entropy_probe_prompts` fixed prompts: the same quantity
RL logs, so the curve continues across phases); OXA adds `sft/unlikelihood`,
`sft/entropy_suppress` and, on the first event, the selection (`sft/oxa_*` metrics and a
`ppl_histogram` field: pool, selected and suppress counts per PPL bin).

Stopping. SIGTERM finishes the step; the checkpoint records `warm_step`, and `--resume` continues
the warm start there (the OXA selection is read back from DIR/warm-start-selection.json, never
redrawn). A warm start is complete only when the checkpoint says `sft_done`.
"""

from __future__ import annotations

import json
import math
import random
import statistics
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

from .logprobs import micro_batches, response_logprobs, token_statistics
from .oxa.batches import interleave, paired_steps
from .oxa.objective import oxa_model_loss
from .oxa.sample import pick_suppress, sample_and_score
from .oxa.score import ppl_of
from .oxa.select import Item, Request, bin_count, bin_of, select

if TYPE_CHECKING:
    from .train import Trainer

SELECTION_FILE = "warm-start-selection.json"
AUTO_BINS = 80  # the reference's 80 bins over [1, 5]


def event_step(k: int, steps: int) -> int:
    """Warm-start step k (0 = before any update … steps) as the event's step number (−steps−1 … −1)."""
    return k - steps - 1


@dataclass
class Row:
    prompt: list[int]
    response: list[int]


@dataclass
class OxaSelection:
    """What OXA trains on, and how it was chosen (saved for resume and for the run's record)."""

    promote: list[dict]  # {"item", "teacher", "ppl"}
    suppress: list[dict]  # {"item", "ids", "ppl"}
    request: dict  # mu, sigma, n, ppl_range, bin_width, max_per_question as used
    counts: dict[str, Any]
    histogram: dict[str, Any]
    short_bins: list[tuple[int, int, int]] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"promote": self.promote, "suppress": self.suppress, "request": self.request, "counts": self.counts,
                "histogram": self.histogram, "short_bins": [list(x) for x in self.short_bins], "conditioning": "question"}

    @staticmethod
    def from_json(d: dict) -> OxaSelection:
        return OxaSelection(d["promote"], d["suppress"], d["request"], d["counts"], d["histogram"], [tuple(x) for x in d.get("short_bins", [])])


def quantile(xs: list[float], q: float) -> float:
    s = sorted(xs)
    if not s:
        raise ValueError("quantile of an empty list")
    pos = q * (len(s) - 1)
    lo = math.floor(pos)
    hi = min(len(s) - 1, lo + 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def resolve_request(ws: dict, pool_ppl: list[float]) -> dict:
    """The selection's parameters with every "auto" replaced from the pool's PPL (docs/oxa.md)."""
    if ws["ppl_range"] == "auto":
        lo, hi = min(pool_ppl), max(pool_ppl)
        hi = math.nextafter(hi, math.inf) if hi > lo else lo + 1.0  # [lo, hi): the maximum stays in
    else:
        lo, hi = (float(x) for x in ws["ppl_range"])
    width = ws["bin_width"] if ws["bin_width"] != "auto" else (hi - lo) / AUTO_BINS
    # The quantiles of the traces the range keeps: with a fixed range (the reference's [1, 5]) a
    # pool whose unseen styles score in the thousands would otherwise put mu far outside it.
    kept = [v for v in pool_ppl if lo <= v < hi] or pool_ppl
    mu = ws["mu"] if ws["mu"] != "auto" else quantile(kept, 0.75)
    if ws["sigma"] != "auto":
        sigma = ws["sigma"]
    else:
        # half the interquartile range; a pool without spread falls back to a quarter of the range
        sigma = (quantile(kept, 0.75) - quantile(kept, 0.25)) / 2 or (hi - lo) / 4
    n = ws["n"] if ws["n"] is not None else max(1, len(pool_ppl) // 2)
    return {"mu": float(mu), "sigma": float(sigma), "n": int(n), "ppl_range": [float(lo), float(hi)], "bin_width": float(width), "max_per_question": int(ws["max_per_question"])}


def histogram(values: list[float], lo: float, hi: float, width: float) -> list[int]:
    bins = bin_count(lo, hi, width)
    counts = [0] * bins
    for v in values:
        b = bin_of(v, lo, hi, width, bins)
        if b is not None:
            counts[b] += 1
    return counts


class WarmStart:
    def __init__(self, trainer: Trainer):
        self.t = trainer
        self.cfg = trainer.cfg
        self.ws: dict = trainer.cfg.warm_start or {}
        self.steps: int = self.ws["steps"]
        self.oxa: OxaSelection | None = None
        probe_rng = random.Random(self.cfg.seed + 11)
        idx = list(range(len(trainer.items)))
        probe_rng.shuffle(idx)
        self.probe = [trainer.items[i] for i in idx[: self.ws.get("entropy_probe_prompts", 0)]]

    # -- data ---------------------------------------------------------------------------------

    def sft_pairs(self) -> list[Row]:
        rows = [Row(it.prompt_ids, t.ids) for it in self.t.items for t in it.teachers]
        if not rows:
            raise RuntimeError("config.warm_start needs teacher trajectories to warm up on, and the training data has none")
        return rows

    def _score(self, prompts: list[list[int]], responses: list[list[int]]) -> list[float | None]:
        cfg, t = self.cfg, self.t
        stats = token_statistics(
            t.model, prompts, responses, temperature=1.0, max_tokens_per_micro_batch=cfg.max_tokens_per_micro_batch,
            chunk_tokens=cfg.logits_chunk_tokens, pad_token_id=t.tok.pad_token_id, with_entropy=False, autocast=t._autocast,
        )
        out: list[float | None] = []
        for lp, _ in stats:
            p, _ = ppl_of(lp)
            out.append(None if math.isnan(p) else p)
        return out

    def select_oxa(self) -> OxaSelection:
        """Promote and suppress sets under the policy as it is now (the base model of the warm start)."""
        cfg, t, ws = self.cfg, self.t, self.ws
        t0 = time.perf_counter()
        # Promote pool: verified-correct teacher traces (the verifier's word, as RL uses them).
        cands = [(i, j) for i, it in enumerate(t.items) for j in range(len(it.teachers))]
        res = t.verify_fn(
            [{"id": f"{i}/{j}", "response": t.items[i].teachers[j].response, "gold": t.items[i].gold} for i, j in cands],
            timeout_s=cfg.verifier_timeout_s, workers=cfg.verifier_workers,
        )
        correct = [c for c, r in zip(cands, res) if r.get("correct") is True]
        if not correct:
            raise RuntimeError("OXA warm start: no teacher trace is verified correct, so there is nothing to promote (check the data's gold answers and the verifier)")
        ppl = self._score([t.items[i].prompt_ids for i, _ in correct], [t.items[i].teachers[j].ids for i, j in correct])
        scored = [(c, p) for c, p in zip(correct, ppl) if p is not None]
        req = resolve_request(ws, [p for _, p in scored])
        items = [Item(k, c[0], p, len(t.items[c[0]].teachers[c[1]].ids)) for k, (c, p) in enumerate(scored)]
        sel = select(Request(req["mu"], req["sigma"], req["n"], req["ppl_range"][0], req["ppl_range"][1], req["bin_width"], req["max_per_question"], tuple(items)))
        promote = [{"item": scored[k][0][0], "teacher": scored[k][0][1], "ppl": scored[k][1]} for k in sel.selected]
        t_promote = time.perf_counter() - t0
        # Suppress pool: the policy's own responses, verified and scored the same way.
        k_sup = ws["suppress_k"] if ws["suppress_k"] is not None else len(promote)
        order = list(range(len(t.items)))
        random.Random(cfg.seed + 13).shuffle(order)
        asked = order[: ws["suppress_prompts"]] if ws["suppress_prompts"] is not None else order
        pool = []
        if k_sup > 0:
            pool = sample_and_score(
                t.model, t.tok, [t.items[i].prompt_ids for i in asked], [t.items[i].gold for i in asked],
                samples=ws["suppress_samples"], temperature=ws["suppress_temperature"],
                generate=lambda prompts, n, temp: t._generate(prompts, n, temp, 1.0, "oxa-suppress"),
                verify=lambda batch: t.verify_fn(batch, timeout_s=cfg.verifier_timeout_s, workers=cfg.verifier_workers),
                max_tokens_per_micro_batch=cfg.max_tokens_per_micro_batch, chunk_tokens=cfg.logits_chunk_tokens, autocast=t._autocast,
                progress=lambda done, total: None,
            )
        chosen, sup_counts = pick_suppress(pool, k_sup, ws["min_ppl"])
        suppress = [{"item": asked[s.question_index], "ids": s.ids, "ppl": s.ppl} for s in chosen]
        lo, hi, w = req["ppl_range"][0], req["ppl_range"][1], req["bin_width"]
        hist = {
            "edges": [lo + b * w for b in range(bin_count(lo, hi, w))] + [hi],
            "pool": histogram([p for _, p in scored], lo, hi, w),
            "selected": histogram([x["ppl"] for x in promote], lo, hi, w),
            "suppress": histogram([s["ppl"] for s in suppress], lo, hi, w),
            "suppress_outside_range": sum(1 for s in suppress if not lo <= s["ppl"] < hi),
        }
        counts = {
            "teachers": len(cands), "teachers_correct": len(correct), "teachers_scored": len(scored), "promote_selected": len(promote),
            "promote_quota": sum(sel.quota), "self_samples": len(pool),
            "self_incorrect": sum(1 for s in pool if s.verdict == "incorrect"), "suppress_selected": len(suppress),
            "suppress_left_out": sup_counts, "select_seconds": round(time.perf_counter() - t0, 3), "promote_seconds": round(t_promote, 3),
        }
        return OxaSelection(promote, suppress, req, counts, hist, sel.short_bins)

    # -- training -----------------------------------------------------------------------------

    def _lr(self, k: int) -> float:
        # Cosine decay to 10%: a short warm start converges better than at a flat rate.
        return self.ws["lr"] * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * k / self.steps)))

    def _probe_entropy(self) -> float | None:
        """Mean token entropy of fresh samples at the RL temperature: what RL logs as actor/entropy_on_policy."""
        if not self.probe:
            return None
        t, cfg = self.t, self.cfg
        prompts = [it.prompt_ids for it in self.probe]
        # A measurement must not change the run: the probe samples from its own RNG stream.
        with torch.random.fork_rng(devices=[t.device] if t.device.type == "cuda" else []):
            torch.manual_seed(cfg.seed + 17 + t.warm_step)
            resp = [g[0] for g in t._generate(prompts, 1, cfg.temperature, cfg.top_p, "warm-start-probe")]
        keep = [k for k, r in enumerate(resp) if r]
        if not keep:
            return None
        stats = token_statistics(
            t.model, [prompts[k] for k in keep], [resp[k] for k in keep], temperature=cfg.temperature,
            max_tokens_per_micro_batch=cfg.max_tokens_per_micro_batch, chunk_tokens=cfg.logits_chunk_tokens, pad_token_id=t.tok.pad_token_id, autocast=t._autocast,
        )
        ent = torch.cat([e for _, e in stats if e is not None])
        return float(ent.mean()) if ent.numel() else None

    def _mean_entropy(self, rows: list[Row]) -> float | None:
        if not rows:
            return None
        t, cfg = self.t, self.cfg
        stats = token_statistics(
            t.model, [r.prompt for r in rows], [r.response for r in rows], temperature=1.0,
            max_tokens_per_micro_batch=cfg.max_tokens_per_micro_batch, chunk_tokens=cfg.logits_chunk_tokens, pad_token_id=t.tok.pad_token_id, autocast=t._autocast,
        )
        ent = torch.cat([e for _, e in stats if e is not None])
        return float(ent.mean()) if ent.numel() else None

    def _emit(self, k: int, metrics: dict, extra: dict | None = None) -> None:
        ev = {"type": "step", "run_id": self.t.run_id, "step": event_step(k, self.steps), "phase": "warm_start", "metrics": metrics}
        if extra:
            ev.update(extra)
        self.t.events.write(ev)
        self.t.events.sync()

    def _step_sft(self, batch: list[Row]) -> dict:
        cfg, t = self.cfg, self.t
        total = sum(len(r.response) for r in batch)
        nll = 0.0
        for mb in micro_batches([len(r.prompt) + len(r.response) for r in batch], cfg.max_tokens_per_micro_batch):
            with t._autocast():
                st = response_logprobs(t.model, [batch[i].prompt for i in mb], [batch[i].response for i in mb], temperature=1.0, with_entropy=False,
                                       chunk_tokens=cfg.logits_chunk_tokens, pad_token_id=t.tok.pad_token_id)
            loss = -st.logp.sum() / total
            loss.backward()
            nll += float(loss.detach())
        return {"sft/loss": nll, "sft/nll": nll}

    def _step_oxa(self, promote: list[Row], suppress: list[Row]) -> dict:
        cfg, t = self.cfg, self.t
        rows = interleave(promote, suppress)
        loss_sum = nll_sum = ul_sum = 0.0
        for mb in micro_batches([len(r.prompt) + len(r.response) for _, r in rows], cfg.max_tokens_per_micro_batch):
            with t._autocast():
                parts = oxa_model_loss(
                    t.model, [rows[i][1].prompt for i in mb], [rows[i][1].response for i in mb], [rows[i][0] for i in mb],
                    lam=self.ws["lambda"], promote_total=len(promote), suppress_total=len(suppress),
                    chunk_tokens=cfg.logits_chunk_tokens, pad_token_id=t.tok.pad_token_id,
                )
            parts.loss.backward()
            loss_sum += float(parts.loss.detach())
            nll_sum += float(parts.nll)
            ul_sum += float(parts.ul)
        return {"sft/loss": loss_sum, "sft/nll": nll_sum, "sft/unlikelihood": ul_sum if suppress else None}

    def run(self) -> dict:
        """Trains from the trainer's `warm_step` to `steps`; returns the summary for the step-0 record."""
        from .train import log  # (train imports this module)

        cfg, t, ws = self.cfg, self.t, self.ws
        t0 = time.perf_counter()
        first_event: dict = {}
        extra: dict | None = None
        if ws["method"] == "oxa":
            path = t.run_dir / SELECTION_FILE
            if t.warm_step > 0 and path.exists():
                self.oxa = OxaSelection.from_json(json.loads(path.read_text()))
            else:
                self.oxa = self.select_oxa()
                tmp = path.with_suffix(".tmp")
                tmp.write_text(json.dumps(self.oxa.to_json()))
                tmp.replace(path)
            o = self.oxa
            log(f"OXA selection: {o.counts['promote_selected']} promote of {o.counts['teachers_correct']} verified teacher traces "
                f"(mu {o.request['mu']:.3g}, sigma {o.request['sigma']:.3g}, PPL range {o.request['ppl_range'][0]:.3g}-{o.request['ppl_range'][1]:.3g}), "
                f"{o.counts['suppress_selected']} suppress of {o.counts['self_incorrect']} incorrect self-samples")
            for b, q, filled in o.short_bins:
                log(f"OXA selection: PPL bin {b} is short: {filled} of its quota {q} (not topped up)")
            first_event = {
                "sft/oxa_mu": o.request["mu"], "sft/oxa_sigma": o.request["sigma"], "sft/oxa_promote_selected": float(len(o.promote)),
                "sft/oxa_suppress_selected": float(len(o.suppress)), "sft/oxa_teachers_correct": float(o.counts["teachers_correct"]),
                "sft/oxa_promote_ppl_median": statistics.median([x["ppl"] for x in o.promote]) if o.promote else None,
                "sft/oxa_suppress_ppl_median": statistics.median([s["ppl"] for s in o.suppress]) if o.suppress else None,
            }
            extra = {"ppl_histogram": o.histogram, "oxa_request": o.request}
            promote_rows = [Row(t.items[x["item"]].prompt_ids, t.items[x["item"]].teachers[x["teacher"]].ids) for x in o.promote]
            suppress_rows = [Row(t.items[s["item"]].prompt_ids, s["ids"]) for s in o.suppress]
            if not promote_rows:
                raise RuntimeError("OXA warm start: the selection chose no promote trace (every verified teacher's PPL is outside warm_start.ppl_range)")
            plan = list(paired_steps(len(promote_rows), len(suppress_rows), ws["batch"], self.steps, cfg.seed + 7))
        else:
            pairs = self.sft_pairs()
            rng = random.Random(cfg.seed + 7)
            plan = [[rng.randrange(len(pairs)) for _ in range(ws["batch"])] for _ in range(self.steps)]
        if t.warm_step == 0:
            m = {"actor/entropy_on_policy": self._probe_entropy(), "sft/lr": self._lr(0), **first_event}
            self._emit(0, m, extra)
        t.model.train()
        params = [p for p in t.model.parameters() if p.requires_grad]
        last: dict = {}
        while t.warm_step < self.steps:
            if t.stop.flag:
                break
            k = t.warm_step
            for g in t.opt.param_groups:
                g["lr"] = self._lr(k)
            t.opt.zero_grad(set_to_none=True)
            if self.oxa is not None:
                step_rows = plan[k]
                promote = [promote_rows[i] for i in step_rows.promote]
                suppress = [suppress_rows[i] for i in step_rows.suppress]
                m = self._step_oxa(promote, suppress)
            else:
                promote, suppress = [pairs[i] for i in plan[k]], []
                m = self._step_sft(promote)
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            t.opt.step()
            t.warm_step = k + 1
            last = m
            if t.warm_step % ws["log_every"] == 0 or t.warm_step == self.steps:
                m = {**m, "sft/lr": self._lr(k), "sft/entropy_promote": self._mean_entropy(promote), "actor/entropy_on_policy": self._probe_entropy()}
                if self.oxa is not None:
                    m["sft/entropy_suppress"] = self._mean_entropy(suppress)
                t.model.train()
                self._emit(t.warm_step, m)
                ent = m["actor/entropy_on_policy"]
                log(f"warm start ({ws['method']}) {t.warm_step}/{self.steps} loss {m['sft/loss']:.4f} entropy on policy {ent if ent is not None else math.nan:.3f} ({time.perf_counter() - t0:.0f}s)")
        if t.warm_step < self.steps:
            return {}
        for g in t.opt.param_groups:
            g["lr"] = cfg.lr
        t.opt.state.clear()  # RL starts with fresh Adam moments at its own learning rate
        t.opt.zero_grad(set_to_none=True)
        t.sft_done = True
        out = {"sft/nll": last.get("sft/nll"), "sft/seconds": time.perf_counter() - t0, "actor/entropy_on_policy": self._probe_entropy()}
        if last.get("sft/unlikelihood") is not None:
            out["sft/unlikelihood"] = last["sft/unlikelihood"]
        return out
