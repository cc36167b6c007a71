"""`python -m reward_lens.train --config FILE --run-dir DIR [--resume]`: GRPO, LUFFY and OGER.

Per RL step, for each prompt of the batch:
  sample N online responses at temperature T -> verify (worker processes, per-item timeout)
  -> embed online + the prompt's M teachers (teacher embeddings cached) -> D per online member
  -> replace the lowest-D member(s) in place by randomly drawn teachers (luffy: the last k)
  -> H_last and per-token entropies from the policy at T -> score_group (reward.py) -> advantages
  -> loss (teacher tokens use LUFFY's shaping) -> optimizer step -> events.
Events (protocol v1) go to DIR/events.jsonl: run_start, one `step` per step, one `group` per
prompt per step with every trajectory (replaced online ones and all teachers included), run_end.

SIGTERM finishes the current step, checkpoints and ends with status `stopped`; `--resume` picks
up the latest checkpoint, continues the step numbering and appends to the same events.jsonl.
A crash ends with status `failed` and the reason (CUDA OOM names the setting to change).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import signal
import sys
import time
import traceback
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import config as config_mod
from .config import ConfigError, TrainConfig
from .data import PromptItem, load_prompts
from .events import EventWriter
from .loss import policy_loss
from .policy import build_policy, describe_model, pick_device, response_stats, sample
from .reward import AdvantageOptions, divergences_np, score_group, select_replaced, uses_divergence_replacement, uses_offline
from .vllm_sampler import generation_seed

EMBEDDING_VARIANTS = ("oger", "oger-no-refine", "oger-no-reward")


def log(msg: str) -> None:
    print(f"[reward_lens.train] {msg}", file=sys.stderr, flush=True)


class StopRequested:
    def __init__(self) -> None:
        self.flag = False

    def __call__(self, signum, frame) -> None:  # signal handler
        if self.flag:  # a second SIGTERM means now: no checkpoint, the supervisor records the end
            log("second SIGTERM: exiting without checkpoint")
            raise SystemExit(143)
        self.flag = True
        log("SIGTERM received: finishing the current step, then checkpointing")


def sampled_positions(n: int, stride: int) -> list[int]:
    if n == 0:
        return []
    pos = list(range(0, n, stride))
    if pos[-1] != n - 1:
        pos.append(n - 1)  # the last token's entropy is the one OGER's reward uses
    return pos


class Trainer:
    def __init__(self, cfg: TrainConfig, run_dir: Path, resume: bool):
        self.cfg = cfg
        self.run_dir = run_dir
        self.ckpt_dir = Path(cfg.checkpoint_dir) if cfg.checkpoint_dir else run_dir / "checkpoints"
        self.stop = StopRequested()
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        self.device = pick_device(cfg)
        random.seed(cfg.seed)
        np.random.seed(cfg.seed)
        torch.manual_seed(cfg.seed)
        self.rng = random.Random(cfg.seed + 1)
        self.model, self.tok = build_policy(cfg, self.device)
        self.model.train()
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.items, report = load_prompts(cfg.data)
        if report.skipped:
            log(f"{cfg.data}: skipped rows {report.skipped}")
        if not self.items:
            raise RuntimeError(f"{cfg.data}: no usable prompt rows ({report.rows} rows, skipped {report.skipped})")
        self._prepare_items()
        self.eval_items = load_prompts(cfg.eval_data)[0][: cfg.eval_max_prompts] if cfg.eval_data else []
        for it in self.eval_items:
            self._format(it)
        from .verify import load_verifier, verifier_identity

        self.verify_fn = load_verifier(cfg.verifier, overrides=cfg.verifier_overrides)
        self.verifier_identity = verifier_identity(cfg.verifier)
        self.encoder = None
        if cfg.variant in EMBEDDING_VARIANTS:
            from .encoder import TextEncoder, find_minilm

            enc = cfg.encoder
            self.encoder = TextEncoder(enc["path"] or find_minilm(), pooling=enc["pooling"], max_length=enc["max_length"], strategy=enc["strategy"], normalize=True, device=str(self.device))
        self.teacher_cache: dict[tuple[str, int], dict] = {}  # (prompt id, teacher index) -> verdict, embedding
        self.step = 0
        self.cursor = 0
        self.order: list[int] = []
        self.epoch = 0
        self.run_id = f"{run_dir.name}-{uuid.uuid4().hex[:8]}"
        self.sft_done = cfg.sft_steps == 0
        self.resumed = False
        if cfg.init_from and not resume:
            state = torch.load(cfg.init_from, map_location=self.device, weights_only=False)
            self.model.load_state_dict(state["model"])
            self.sft_done = True
            log(f"policy initialised from {cfg.init_from}")
        if resume:
            self._load_latest_checkpoint()
        # The generator is chosen once. vLLM starts last, after every cheaper check has passed,
        # and picks up the weights loaded above on its first generation (its copy starts stale).
        self.vllm = None
        if cfg.vllm:
            from .vllm_sampler import VLLMSampler

            self.vllm = VLLMSampler(cfg, self.model, self.tok.eos_token_id)
            self.vllm.watch(self.opt)
            log(f"rollouts with vLLM (gpu_memory_utilization {cfg.vllm_gpu_memory_utilization}); weights pushed after each optimizer step")
        self.events = EventWriter(run_dir / "events.jsonl")

    def _generate(self, prompts: list[list[int]], n: int, temperature: float, top_p: float, purpose: str, chunk: int = 0) -> list[list[list[int]]]:
        """N responses per prompt from the chosen generator (transformers unless config.vllm)."""
        cfg = self.cfg
        if self.vllm is None:
            return sample(self.model, self.tok, prompts, n, temperature, top_p, cfg.max_new_tokens, cfg, self.device)
        return self.vllm.sample(prompts, n, temperature, top_p, cfg.max_new_tokens, seed=generation_seed(cfg.seed, self.step, purpose, chunk))

    # -- data ---------------------------------------------------------------------------------

    def _format(self, it: PromptItem) -> None:
        cfg = self.cfg
        it.prompt_text = self.tok.format_prompt(it.question, it.system if it.system is not None else cfg.system_prompt, cfg.prompt_template)
        # Left truncation keeps the end of the prompt, where the question and the opening tag are.
        it.prompt_ids = self.tok.encode(it.prompt_text)[-cfg.max_prompt_tokens:]

    def _prepare_items(self) -> None:
        cfg = self.cfg
        dropped = 0
        for it in self.items:
            self._format(it)
            kept = []
            for t in it.teachers:
                ids = self.tok.encode(t.text)
                if len(ids) + 1 > min(cfg.max_teacher_tokens, cfg.max_new_tokens):
                    dropped += 1
                    continue
                t.ids = ids + [self.tok.eos_token_id]
                kept.append(t)
            it.teachers = kept
        if dropped:
            log(f"left out {dropped} teacher trajectories longer than min(max_teacher_tokens, max_new_tokens)")
        if uses_offline(cfg.variant) and not any(it.teachers for it in self.items):
            raise RuntimeError(f"variant {cfg.variant} needs teacher trajectories, and {cfg.data} has none within the token limit")

    def _next_batch(self) -> list[PromptItem]:
        batch = []
        while len(batch) < self.cfg.batch_prompts:
            if self.cursor >= len(self.order):
                self.order = list(range(len(self.items)))
                random.Random(self.cfg.seed * 1000 + self.epoch).shuffle(self.order)
                self.epoch += 1
                self.cursor = 0
            batch.append(self.items[self.order[self.cursor]])
            self.cursor += 1
        return batch

    # -- checkpoints --------------------------------------------------------------------------

    def _save_checkpoint(self) -> Path:
        self.ckpt_dir.mkdir(parents=True, exist_ok=True)
        path = self.ckpt_dir / f"step-{self.step:06d}.pt"
        tmp = path.with_suffix(".tmp")
        torch.save(
            {
                "step": self.step,
                "cursor": self.cursor,
                "order": self.order,
                "epoch": self.epoch,
                "run_id": self.run_id,
                "sft_done": self.sft_done,
                "model": self.model.state_dict(),
                "optimizer": self.opt.state_dict(),
                "rng": self.rng.getstate(),
                "torch_rng": torch.get_rng_state(),
                "config": self.cfg.to_dict(),
            },
            tmp,
        )
        os.replace(tmp, path)  # a checkpoint is either whole or absent
        return path

    def _load_latest_checkpoint(self) -> None:
        ckpts = sorted(self.ckpt_dir.glob("step-*.pt"))
        if not ckpts:
            raise RuntimeError(f"--resume: no checkpoint in {self.ckpt_dir}")
        state = torch.load(ckpts[-1], map_location=self.device, weights_only=False)
        self.model.load_state_dict(state["model"])
        self.opt.load_state_dict(state["optimizer"])
        self.step, self.cursor, self.order, self.epoch = state["step"], state["cursor"], state["order"], state["epoch"]
        self.run_id, self.sft_done = state["run_id"], state["sft_done"]
        self.rng.setstate(state["rng"])
        torch.set_rng_state(state["torch_rng"])
        self.resumed = True
        log(f"resumed from {ckpts[-1].name} (step {self.step}, run {self.run_id})")

    # -- teachers -----------------------------------------------------------------------------

    def _teacher_info(self, items: list[PromptItem]) -> None:
        """Verdicts (and embeddings) of the batch's teachers, computed once per teacher."""
        todo = [(it, j) for it in items for j in range(len(it.teachers)) if (it.id, j) not in self.teacher_cache]
        if not todo:
            return
        res = self.verify_fn([{"id": f"{it.id}/t{j}", "response": it.teachers[j].text, "gold": it.gold} for it, j in todo], timeout_s=self.cfg.verifier_timeout_s, workers=self.cfg.verifier_workers)
        embs, truncs = (None, None)
        if self.encoder is not None:
            embs, truncs = self.encoder.embed([it.teachers[j].text for it, j in todo], batch_size=self.cfg.encoder["batch_size"])
        for k, ((it, j), r) in enumerate(zip(todo, res)):
            self.teacher_cache[(it.id, j)] = {
                "verdict": r,
                "embedding": None if embs is None else embs[k],
                "embedding_truncated": None if truncs is None else bool(truncs[k]),
            }

    # -- one RL step --------------------------------------------------------------------------

    def rl_step(self) -> dict[str, float | None]:
        cfg = self.cfg
        t0 = time.perf_counter()
        timing: dict[str, float] = {}
        items = self._next_batch()
        prompts = [it.prompt_ids for it in items]
        tg = time.perf_counter()
        responses = self._generate(prompts, cfg.rollout_n, cfg.temperature, cfg.top_p, "rollout")
        timing["gen"] = time.perf_counter() - tg
        if self.vllm is not None:
            timing["weight_sync"] = self.vllm.last_sync_s  # included in timing/gen_s

        flat = [(gi, i) for gi in range(len(items)) for i in range(cfg.rollout_n)]
        texts = {(gi, i): self.tok.decode([t for t in responses[gi][i] if t != self.tok.eos_token_id]) for gi, i in flat}
        tv = time.perf_counter()
        vres = self.verify_fn([{"id": f"{gi}/{i}", "response": texts[(gi, i)], "gold": items[gi].gold} for gi, i in flat], timeout_s=cfg.verifier_timeout_s, workers=cfg.verifier_workers)
        verdicts = {key: r for key, r in zip(flat, vres)}
        if uses_offline(cfg.variant):
            self._teacher_info(items)
        timing["verify"] = time.perf_counter() - tv

        te = time.perf_counter()
        online_emb = {}
        if self.encoder is not None:
            embs, truncs = self.encoder.embed([texts[k] for k in flat], batch_size=cfg.encoder["batch_size"])
            online_emb = {k: (embs[n], bool(truncs[n])) for n, k in enumerate(flat)}
        timing["embed"] = time.perf_counter() - te

        # Divergences, replacement and the teachers drawn for the freed slots.
        tr = time.perf_counter()
        plans = []
        for gi, it in enumerate(items):
            m = len(it.teachers) if uses_offline(cfg.variant) else 0
            div: list[float | None] = [None] * cfg.rollout_n
            if self.encoder is not None and m > 0:
                div = divergences_np(np.stack([online_emb[(gi, i)][0] for i in range(cfg.rollout_n)]), np.stack([self.teacher_cache[(it.id, j)]["embedding"] for j in range(m)]))
            replaced = select_replaced(cfg.variant, div, cfg.replace, m)
            inserted = self.rng.sample(range(m), len(replaced)) if replaced else []
            plans.append({"div": div, "replaced": replaced, "inserted": inserted, "m": m})
        timing["reward"] = time.perf_counter() - tr

        # Every online member (replaced ones too, for their H_last in the events) and every
        # inserted teacher, through the policy at the sampling temperature, without gradients.
        rows: list[tuple[str, int, int]] = []  # (source, group index, member index)
        for gi, it in enumerate(items):
            rows += [("online", gi, i) for i in range(cfg.rollout_n)]
            rows += [("offline", gi, j) for j in plans[gi]["inserted"]]

        def row_resp(r):
            src, gi, k = r
            return responses[gi][k] if src == "online" else items[gi].teachers[k].ids

        tf = time.perf_counter()
        stats = {}
        with torch.no_grad():
            for s in range(0, len(rows), cfg.micro_batch):
                chunk = rows[s:s + cfg.micro_batch]
                st = response_stats(self.model, [prompts[r[1]] for r in chunk], [row_resp(r) for r in chunk], cfg.temperature, self.tok.pad_token_id, self.device, cfg)
                for n, r in enumerate(chunk):
                    L = len(row_resp(r))
                    stats[r] = (st.logp[n, :L].cpu(), st.entropy[n, :L].float().cpu())
        timing["old_logp"] = time.perf_counter() - tf

        tr2 = time.perf_counter()
        adv_opts = AdvantageOptions(cfg.advantage["std"], float(cfg.advantage["eps"]))
        scores = []
        for gi, it in enumerate(items):
            plan = plans[gi]
            online = []
            for i in range(cfg.rollout_n):
                ent = stats[("online", gi, i)][1]
                h_last = float(ent[-1]) if len(ent) else 0.0
                online.append({"divergence": plan["div"][i], "entropy_last": h_last, "correct": verdicts[(gi, i)].get("correct")})
            offline = [{"correct": self.teacher_cache[(it.id, j)]["verdict"].get("correct")} for j in range(plan["m"])]
            sc = score_group(cfg.variant, cfg.replace, adv_opts, online, offline, plan["inserted"] if plan["replaced"] else None)
            assert sc.replaced == plan["replaced"], "replacement plan and score_group disagree"
            scores.append((online, sc))
        timing["reward"] += time.perf_counter() - tr2

        # Policy update over the final groups.
        tu = time.perf_counter()
        train_rows, advs = [], []
        for gi, (online, sc) in enumerate(scores):
            for mem in sc.group:
                train_rows.append((mem.source, gi, mem.index))
                advs.append(mem.advantage)
        total_tokens = sum(len(row_resp(r)) for r in train_rows)
        self.opt.zero_grad(set_to_none=True)
        agg = {"pg": 0.0, "on": 0.0, "off": 0.0, "ent": 0.0, "offratio": [], "clip": []}
        nrows = len(train_rows)
        for s in range(0, nrows, cfg.micro_batch):
            chunk = train_rows[s:s + cfg.micro_batch]
            st = response_stats(self.model, [prompts[r[1]] for r in chunk], [row_resp(r) for r in chunk], cfg.temperature, self.tok.pad_token_id, self.device, cfg)
            old = torch.zeros_like(st.logp)
            for n, r in enumerate(chunk):
                L = len(row_resp(r))
                old[n, :L] = stats[r][0].to(old.device)
            is_off = torch.tensor([r[0] == "offline" for r in chunk], device=st.logp.device)
            adv_t = torch.tensor(advs[s:s + cfg.micro_batch], dtype=st.logp.dtype, device=st.logp.device)
            parts = policy_loss(st.logp, old, adv_t, st.mask, is_off, st.entropy, gamma=cfg.off_policy_gamma, clip_low=cfg.clip_ratio_low, clip_high=cfg.clip_ratio_high, agg=cfg.loss_agg, max_len=cfg.max_new_tokens, entropy_coef=cfg.entropy_coef)
            # Micro-batches are weighted by their share so the sum equals the full-batch loss:
            # by tokens for token-mean, by sequences for the per-sequence aggregations.
            chunk_tokens = float(st.mask.sum())
            weight = chunk_tokens / max(1.0, total_tokens) if cfg.loss_agg == "token-mean" else len(chunk) / nrows
            (parts.loss * weight).backward()
            agg["pg"] += float(parts.pg_loss) * weight
            agg["on"] += float(parts.on_pg_loss) * weight
            agg["off"] += float(parts.off_pg_loss) * weight
            agg["ent"] += float(parts.entropy) * weight
            if bool(is_off.any()):
                agg["offratio"].append(parts.off_ratio_mean)
            agg["clip"].append(parts.clip_frac)
        params = [p for p in self.model.parameters() if p.requires_grad]
        grad_norm = float(torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip if cfg.grad_clip > 0 else float("inf")))
        self.opt.step()
        timing["update"] = time.perf_counter() - tu
        self.step += 1

        # Events: one group per prompt, then the step.
        all_scores, all_adv, r_oger, lens = [], [], [], []
        solve_none = solve_all = failed = errors = 0
        for gi, it in enumerate(items):
            online, sc = scores[gi]
            self._write_group(it, gi, responses, texts, verdicts, online_emb, plans[gi], online, sc, stats, row_resp)
            rm = [1 if verdicts[(gi, i)].get("correct") is True else 0 for i in range(cfg.rollout_n)]
            solve_none += int(sum(rm) == 0)
            solve_all += int(sum(rm) == len(rm))
            errors += sum(1 for i in range(cfg.rollout_n) if verdicts[(gi, i)].get("correct") is None)
            failed += sum(1 for i in range(cfg.rollout_n) if verdicts[(gi, i)].get("correct") is not True)
            all_scores += [s.total_reward for s in sc.online]
            r_oger += [s.exploration_reward for s in sc.online]
            all_adv += [m.advantage for m in sc.group]
            lens += [len(responses[gi][i]) for i in range(cfg.rollout_n)]
        n_on = len(items) * cfg.rollout_n
        step_s = time.perf_counter() - t0
        metrics = {
            "batch/solve_none": solve_none / len(items),
            "batch/solve_all": solve_all / len(items),
            "batch/failed_ratio": failed / n_on,
            "batch/verifier_error_ratio": errors / n_on,
            "critic/score/mean": float(np.mean(all_scores)),
            "critic/score/max": float(np.max(all_scores)),
            "critic/score/min": float(np.min(all_scores)),
            "critic/advantages/mean": float(np.mean(all_adv)),
            "critic/advantages/max": float(np.max(all_adv)),
            "critic/advantages/min": float(np.min(all_adv)),
            "response_length/mean": float(np.mean(lens)),
            "response_length/max": float(np.max(lens)),
            "response_length/clip_ratio": float(np.mean([1.0 if (ln >= cfg.max_new_tokens and self.tok.eos_token_id not in responses[gi][i]) else 0.0 for (gi, i), ln in zip(flat, lens)])),
            "actor/entropy": agg["ent"],
            "actor/pg_loss": agg["pg"],
            "actor/on_pg_loss": agg["on"],
            "actor/off_pg_loss": agg["off"] if uses_offline(cfg.variant) else None,
            "actor/off_ratio_mean": float(np.mean(agg["offratio"])) if agg["offratio"] else None,
            "actor/pg_clipfrac": float(np.mean(agg["clip"])) if agg["clip"] else 0.0,
            "actor/grad_norm": grad_norm if math.isfinite(grad_norm) else None,
            "actor/lr": cfg.lr,
            "oger/reward_mean": float(np.mean(r_oger)),
            "oger/reward_max": float(np.max(r_oger)),
            "timing/step_s": step_s,
            **{f"timing/{k}_s": v for k, v in timing.items()},
        }
        return metrics

    def _write_group(self, it, gi, responses, texts, verdicts, online_emb, plan, online, sc, stats, row_resp) -> None:
        cfg = self.cfg
        adv_of = {(m.source, m.index): m.advantage for m in sc.group}
        trajs = []
        for i in range(cfg.rollout_n):
            resp = responses[gi][i]
            v = verdicts[(gi, i)]
            ent = stats[("online", gi, i)][1]
            s = sc.online[i]
            correct = v.get("correct")
            t = {
                "id": f"{self.run_id}/s{self.step}/{it.id}/on{i}",
                "source": "online",
                "index": i,
                "teacher": None,
                "text": texts[(gi, i)],
                "tokens": len(resp),
                "truncated": self.tok.eos_token_id not in resp,
                "r_m": 1 if correct is True else 0,
                "verdict": "correct" if correct is True else ("error" if correct is None else "wrong"),
                "verdict_reason": v.get("reason"),
                "extracted_answer": v.get("extracted"),
                "divergence": s.divergence,
                "entropy_last": online[i]["entropy_last"],
                "r_oger": s.exploration_reward,
                "r_total": s.total_reward,
                "advantage": None if i in sc.replaced else adv_of.get(("online", i)),
                "replaced": i in sc.replaced,
                "inserted": False,
            }
            if (gi, i) in online_emb:
                t["embedding_truncated"] = online_emb[(gi, i)][1]
            # Every response token, EOS included: its position carries H_last (offset = len(text)).
            t["token_entropies"] = self._token_entropies(resp, ent)
            trajs.append(t)
        inserted = set(plan["inserted"])
        for j in range(plan["m"]):
            teacher = it.teachers[j]
            info = self.teacher_cache[(it.id, j)]
            correct = info["verdict"].get("correct")
            t = {
                "id": f"{self.run_id}/s{self.step}/{it.id}/off{j}",
                "source": "offline",
                "index": j,
                "teacher": teacher.name,
                "text": teacher.text,
                "tokens": len(teacher.ids),
                "truncated": False,
                "r_m": 1 if correct is True else 0,
                "verdict": "correct" if correct is True else ("error" if correct is None else "wrong"),
                "verdict_reason": info["verdict"].get("reason"),
                "extracted_answer": info["verdict"].get("extracted"),
                "divergence": None,
                "entropy_last": None,
                "r_oger": None,
                "r_total": 1.0 if correct is True else 0.0,
                "advantage": adv_of.get(("offline", j)) if j in inserted else None,
                "replaced": False,
                "inserted": j in inserted,
            }
            if info["embedding_truncated"] is not None:
                t["embedding_truncated"] = info["embedding_truncated"]
            if ("offline", gi, j) in stats:
                ent = stats[("offline", gi, j)][1]
                t["entropy_last"] = float(ent[-1])
                t["token_entropies"] = self._token_entropies(teacher.ids, ent)
            trajs.append(t)
        self.events.write({"type": "group", "run_id": self.run_id, "step": self.step, "prompt_id": it.id, "prompt": it.prompt_text, "gold": it.gold, "trajectories": trajs})

    def _token_entropies(self, text_ids: list[int], ent: torch.Tensor) -> dict:
        pos = [p for p in sampled_positions(len(text_ids), self.cfg.token_entropy_stride)]
        return {
            "offsets": self.tok.char_offsets(text_ids, pos),
            "values": [max(0.0, round(float(ent[p]), 6)) for p in pos],
            "stride": self.cfg.token_entropy_stride,
        }

    # -- warm start and evaluation ------------------------------------------------------------

    def sft(self) -> float:
        """Supervised warm start: next-token NLL on prompt -> teacher trace, all teachers mixed."""
        cfg = self.cfg
        pairs = [(it.prompt_ids, t.ids) for it in self.items for t in it.teachers]
        if not pairs:
            raise RuntimeError("config.sft_steps > 0 but the training data has no teacher trajectories to warm up on")
        for g in self.opt.param_groups:
            g["lr"] = cfg.sft_lr
        rng = random.Random(cfg.seed + 7)
        last = float("nan")
        t0 = time.perf_counter()
        for k in range(cfg.sft_steps):
            if self.stop.flag:
                break
            batch = [pairs[rng.randrange(len(pairs))] for _ in range(cfg.sft_batch)]
            st = response_stats(self.model, [b[0] for b in batch], [b[1] for b in batch], 1.0, self.tok.pad_token_id, self.device, cfg)
            # Cosine decay to 10%: a short warm start converges better than at a flat rate.
            for g in self.opt.param_groups:
                g["lr"] = cfg.sft_lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * k / cfg.sft_steps)))
            loss = -(st.logp * st.mask).sum() / st.mask.sum()
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
            self.opt.step()
            last = float(loss.detach())
            if k % 50 == 0 or k == cfg.sft_steps - 1:
                log(f"sft {k + 1}/{cfg.sft_steps} nll {last:.4f} ({time.perf_counter() - t0:.0f}s)")
        for g in self.opt.param_groups:
            g["lr"] = cfg.lr
        self.opt.state.clear()  # RL starts with fresh Adam moments at its own learning rate
        self.sft_done = True
        return last

    def evaluate(self, greedy_only: bool = False) -> dict[str, float]:
        """Held-out accuracy: greedy, and pass@1 averaged over eval_samples at eval_temperature."""
        cfg = self.cfg
        if not self.eval_items:
            return {}
        out: dict[str, float] = {}
        prompts = [it.prompt_ids for it in self.eval_items]
        runs = [("eval/greedy_accuracy", 0.0, 1)]
        if cfg.eval_temperature > 0 and not greedy_only:
            runs.append(("eval/accuracy", cfg.eval_temperature, cfg.eval_samples))
        for name, temp, k in runs:
            if self.stop.flag:
                break
            correct = 0
            for s in range(0, len(prompts), 128):
                chunk = self.eval_items[s:s + 128]
                resp = self._generate(prompts[s:s + 128], k, temp, 1.0, name, s)
                items = [{"id": f"{gi}/{i}", "response": self.tok.decode([t for t in resp[gi][i] if t != self.tok.eos_token_id]), "gold": it.gold} for gi, it in enumerate(chunk) for i in range(k)]
                correct += sum(1 for r in self.verify_fn(items, timeout_s=cfg.verifier_timeout_s, workers=cfg.verifier_workers) if r.get("correct") is True)
            out[name] = correct / (len(prompts) * k)
        return out

    # -- the run ------------------------------------------------------------------------------

    def run_start_event(self) -> dict:
        cfg = self.cfg
        return {
            "type": "run_start",
            "run_id": self.run_id,
            "variant": cfg.variant,
            "config": cfg.to_dict(),
            "model": describe_model(cfg),
            "reward": {"variant": cfg.variant, "replace": cfg.replace, "advantage": {"std": cfg.advantage["std"], "eps": float(cfg.advantage["eps"])}},
            "encoder": self.encoder.describe() if self.encoder is not None else None,
            "verifier": self.verifier_identity,
            "device": str(self.device),
            "prompts": len(self.items),
        }

    def run(self) -> str:
        cfg = self.cfg
        if not self.resumed:
            self.events.write(self.run_start_event())
            self.events.sync()
        if not self.sft_done or (cfg.eval_every and not self.resumed and self.step == 0):
            # Before the warm start the policy is random: greedy accuracy alone says it is near 0,
            # and sampling 64 tokens of noise per prompt would cost minutes on the CPU demo.
            before = self.evaluate(greedy_only=not self.sft_done)
            t0 = time.perf_counter()
            if not self.sft_done:
                nll = self.sft()
                metrics = {"sft/nll": nll, "sft/seconds": time.perf_counter() - t0, **{f"{k}_before_sft": v for k, v in before.items()}, **self.evaluate()}
            else:  # started from given weights: step 0 records where RL starts
                metrics = before
            self.events.write({"type": "step", "run_id": self.run_id, "step": 0, "metrics": metrics, "phase": "sft"})
            self.events.sync()
            log(f"after warm start: {json.dumps(metrics)}")
            if self.stop.flag:
                self._save_checkpoint()
                return "stopped"
        while self.step < cfg.steps:
            metrics = self.rl_step()
            if cfg.eval_every and (self.step % cfg.eval_every == 0 or self.step == cfg.steps):
                metrics.update(self.evaluate())
            self.events.write({"type": "step", "run_id": self.run_id, "step": self.step, "metrics": metrics})
            self.events.sync()
            log(f"step {self.step}/{cfg.steps} score {metrics['critic/score/mean']:.3f} solve_all {metrics['batch/solve_all']:.2f} entropy {metrics['actor/entropy']:.3f} {metrics['timing/step_s']:.1f}s" + (f" eval {metrics.get('eval/greedy_accuracy'):.3f}" if "eval/greedy_accuracy" in metrics else ""))
            if self.stop.flag:
                self._save_checkpoint()
                return "stopped"
            if cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0:
                self._save_checkpoint()
        if cfg.checkpoint_every:
            self._save_checkpoint()
        return "completed"


def oom_reason(cfg: TrainConfig, step: int) -> str:
    return (
        f"CUDA out of memory at step {step}: lower rollout_n ({cfg.rollout_n}), max_new_tokens ({cfg.max_new_tokens}) "
        f"or micro_batch ({cfg.micro_batch}), or set gradient_checkpointing: true"
        + ("" if cfg.lora else ", or train LoRA adapters (lora: {\"r\": 16})")
        + (f"; vLLM holds vllm_gpu_memory_utilization ({cfg.vllm_gpu_memory_utilization}) of the GPU, lower it to give the trainer more" if cfg.vllm else "")
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m reward_lens.train", description=__doc__.split("\n")[0])
    ap.add_argument("--config", required=True)
    ap.add_argument("--run-dir", required=True)
    ap.add_argument("--resume", action="store_true", help="continue from the latest checkpoint of the run")
    ap.add_argument("--check-config", action="store_true", help="validate the config and exit")
    args = ap.parse_args(argv)
    try:
        cfg = config_mod.load(args.config)
    except (ConfigError, OSError) as e:
        print(f"reward_lens.train: {e}", file=sys.stderr)
        return 2
    if args.check_config:
        print(json.dumps(cfg.to_dict()))
        return 0
    run_dir = Path(args.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    trainer: Trainer | None = None
    stop = StopRequested()
    signal.signal(signal.SIGTERM, stop)
    try:
        trainer = Trainer(cfg, run_dir, args.resume)
        trainer.stop = stop
        status = trainer.run()
        trainer.events.write({"type": "run_end", "run_id": trainer.run_id, "status": status, "reason": "SIGTERM" if status == "stopped" else None, "step": trainer.step})
        trainer.events.close()
        return 0
    except Exception as e:  # the run must end with a reason, whatever happened
        is_oom = isinstance(e, torch.cuda.OutOfMemoryError) or "CUDA out of memory" in str(e)
        step = trainer.step if trainer else 0
        reason = oom_reason(cfg, step) if is_oom else f"{type(e).__name__}: {e}"
        traceback.print_exc()
        writer = trainer.events if trainer is not None and hasattr(trainer, "events") else EventWriter(run_dir / "events.jsonl")
        run_id = trainer.run_id if trainer is not None else f"{run_dir.name}-failed"
        writer.write({"type": "run_end", "run_id": run_id, "status": "failed", "reason": reason[:2000], "step": step})
        writer.close()
        log(f"failed: {reason}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
