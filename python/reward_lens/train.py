"""`python -m reward_lens.train --config FILE --run-dir DIR [--resume]`: GRPO, LUFFY and OGER.

One RL step is a chain of phases, each a method that takes and returns typed data, and each
timed into the step's `timing/<phase>_s` metric:

  generate   N online responses per prompt at temperature T (transformers or vLLM)
  verify     the responses, and the batch's teachers not yet verified (worker processes)
  embed      the responses, and the teachers not yet embedded (OGER variants)
  plan       per prompt: the teachers that count (verifier-correct ones only), D of each online
             member against them, the member(s) to replace and the teachers drawn for their slots
  old_logp   per-token log-probs and entropies at T, in eval mode and without gradients, of every
             online member (replaced ones too: their H_last is logged) and every inserted teacher
  score      R_OGER, R_total and the group advantages (reward.score_group)
  update     PPO mini-batches x epochs over the final groups; rows micro-batched by a token
             budget; teacher tokens use LUFFY's shaping; one optimizer step per mini-batch
  emit       one `group` event per prompt (group_events.py) and the step's metrics

Events (protocol v1) go to DIR/events.jsonl: run_start, one `step` per step, one `group` per
prompt per step with every trajectory (replaced online ones and all teachers included), run_end.

SIGTERM finishes the current step, checkpoints and ends with status `stopped`; `--resume` picks
up the latest checkpoint, continues the step numbering and appends to the same events.jsonl.
A crash ends with status `failed` and the reason (CUDA OOM names the setting to change).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import random
import signal
import sys
import time
import traceback
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import config as config_mod
from .config import ConfigError, TrainConfig
from .data import PromptItem, load_prompts, teacher_response
from .events import EventWriter
from .group_events import OnlineMember, TeacherMember, TokenEntropies, group_event
from .logprobs import ResponseLogprobs, micro_batches, response_logprobs, token_statistics
from .loss import LossNorm, policy_loss
from .model_info import read_model_info
from .policy import autocast, build_policy, describe_model, pick_device, sample
from .reward import AdvantageOptions, GroupScore, divergences_np, score_group, select_replaced, uses_offline
from .vllm_sampler import generation_seed
from .warm_start import WarmStart

EMBEDDING_VARIANTS = ("oger", "oger-no-refine", "oger-no-reward")
# Verdict reasons of the default verifier's format gate (verifier/default.py).
FORMAT_GATE_REASONS = ("format:", "truncated:")
# The first steps are watched for a prompt format the policy does not follow.
FORMAT_WATCH_STEPS = 3
FORMAT_WARN_RATIO = 0.9


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


def capture_rng_states(trainer_rng: random.Random) -> dict[str, Any]:
    """Every RNG a resumed run must continue: Python's, numpy's, torch's CPU and CUDA generators."""
    return {
        "rng": trainer_rng.getstate(),
        "python_rng": random.getstate(),
        "numpy_rng": np.random.get_state(),
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
    }


def restore_rng_states(state: dict[str, Any], trainer_rng: random.Random) -> None:
    trainer_rng.setstate(state["rng"])
    if "python_rng" in state:
        random.setstate(state["python_rng"])
    if "numpy_rng" in state:
        np.random.set_state(state["numpy_rng"])
    torch.set_rng_state(state["torch_rng"])
    cuda = state.get("cuda_rng")
    if cuda is not None and torch.cuda.is_available():
        if len(cuda) != torch.cuda.device_count():
            log(f"checkpoint has CUDA RNG states for {len(cuda)} devices, {torch.cuda.device_count()} visible: restoring the first ones")
        torch.cuda.set_rng_state_all(cuda[: torch.cuda.device_count()])


class PhaseTimer:
    """`with timer("gen"): ...` adds the seconds to timing["gen"]."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - t0


# -- the data passed between phases ------------------------------------------------------------


@dataclass
class Rollouts:
    """Online responses: responses[g][i] token ids (EOS kept when generated), texts decoded without it."""

    responses: list[list[list[int]]]
    texts: list[list[str]]
    weight_sync_s: float | None = None


@dataclass
class TeacherInfo:
    verdict: dict | None = None  # cached only when definitive (correct True/False)
    embedding: np.ndarray | None = None
    embedding_truncated: bool | None = None


@dataclass
class Verdicts:
    online: list[list[dict]]  # [g][i] verifier results {correct, reason, extracted}
    teachers: list[list[dict]]  # [g][j] this step's verdict of each teacher (an error is retried next step)


@dataclass
class Embeddings:
    online: list[np.ndarray] | None  # [g] (N, d), None when the variant embeds nothing
    online_truncated: list[list[bool]] | None


@dataclass
class GroupPlan:
    eligible: list[int]  # teachers that count in M: verifier-correct only (the paper keeps only those)
    divergence: list[float | None]  # per online member, against the eligible teachers
    replaced: list[int]  # online members that leave the group, in the order they were chosen
    inserted: list[int]  # teacher indices (into item.teachers) taking those slots, same order


@dataclass(frozen=True)
class RowKey:
    source: str  # "online" | "offline"
    group: int
    index: int  # online member index, or teacher index into item.teachers


@dataclass
class TokenStats:
    logp: torch.Tensor  # (T,) at the sampling temperature, eval mode, no grad
    entropy: torch.Tensor  # (T,) nats


@dataclass
class ScoredGroup:
    score: GroupScore
    entropy_last: list[float]  # per online member
    members: list[RowKey]  # the final group, in order
    advantages: list[float]  # same order


@dataclass
class UpdateStats:
    """One entry per optimizer step (mini-batch) in each list; the step metrics are their means."""

    pg: list[float] = field(default_factory=list)
    on: list[float] = field(default_factory=list)
    off: list[float] = field(default_factory=list)
    entropy: list[float] = field(default_factory=list)
    entropy_on_policy: list[float] = field(default_factory=list)  # mini-batches with online tokens only
    off_ratio: list[float] = field(default_factory=list)  # mini-batches with teacher tokens only
    clip: list[float] = field(default_factory=list)
    grad_norms: list[float] = field(default_factory=list)
    micro_batches: int = 0


class Trainer:
    def __init__(self, cfg: TrainConfig, run_dir: Path, resume: bool, stop: StopRequested | None = None):
        self.cfg = cfg
        self.run_dir = run_dir
        self.ckpt_dir = Path(cfg.checkpoint_dir) if cfg.checkpoint_dir else run_dir / "checkpoints"
        self.stop = stop if stop is not None else StopRequested()
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        self.device = pick_device(cfg)
        random.seed(cfg.seed)
        np.random.seed(cfg.seed)
        torch.manual_seed(cfg.seed)
        self.rng = random.Random(cfg.seed + 1)
        self.model_info = read_model_info(cfg.model)
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
        if cfg.variant in EMBEDDING_VARIANTS and cfg.encoder.get("kind") == "hashed-ngrams":
            from .ngram_encoder import NgramEncoder

            enc = cfg.encoder
            self.encoder = NgramEncoder(dim=enc["dim"], ngram_min=enc["ngram_min"], ngram_max=enc["ngram_max"], max_length=enc["max_length"])
        elif cfg.variant in EMBEDDING_VARIANTS:
            from .encoder import TextEncoder, find_minilm

            enc = cfg.encoder
            self.encoder = TextEncoder(enc["path"] or find_minilm(), pooling=enc["pooling"], max_length=enc["max_length"], strategy=enc["strategy"], normalize=True, device=str(self.device))
        self.teacher_cache: dict[tuple[str, int], TeacherInfo] = {}
        self.step = 0
        self.cursor = 0
        self.order: list[int] = []
        self.epoch = 0
        self.run_id = f"{run_dir.name}-{uuid.uuid4().hex[:8]}"
        self.sft_done = cfg.warm_start is None
        self.warm_step = 0  # warm-start optimizer steps done (warm_start.py)
        self.resumed = False
        self.format_warned = False
        if cfg.init_from and not resume:
            state = torch.load(cfg.init_from, map_location=self.device, weights_only=False)
            self.model.load_state_dict(state["model"])
            log(f"policy initialised from {cfg.init_from}" + (f"; the warm start ({cfg.warm_start['method']}) trains from it" if cfg.warm_start else ""))
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

    def _autocast(self):
        return autocast(self.cfg, self.device)

    def _decode(self, ids: list[int]) -> str:
        return self.tok.decode([t for t in ids if t != self.tok.eos_token_id])

    # -- data ---------------------------------------------------------------------------------

    def _format(self, it: PromptItem) -> None:
        cfg = self.cfg
        it.prompt_text = self.tok.format_prompt(it.question, it.system if it.system is not None else cfg.system_prompt, cfg.prompt_template, cfg.prompt_ends_with)
        # Left truncation keeps the end of the prompt, where the question and the opening tag are.
        it.prompt_ids = self.tok.encode(it.prompt_text)[-cfg.max_prompt_tokens:]

    def _prepare_items(self) -> None:
        cfg = self.cfg
        dropped = 0
        for it in self.items:
            self._format(it)
            kept = []
            for t in it.teachers:
                t.response = teacher_response(it.prompt_text, t.text, cfg.prompt_ends_with)
                ids = self.tok.encode(t.response)
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
                "warm_step": self.warm_step,
                "model": self.model.state_dict(),
                "optimizer": self.opt.state_dict(),
                **capture_rng_states(self.rng),
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
        self.warm_step = state.get("warm_step", 0)
        restore_rng_states(state, self.rng)
        self.resumed = True
        log(f"resumed from {ckpts[-1].name} (step {self.step}, run {self.run_id})")

    # -- the phases of one RL step --------------------------------------------------------------

    def phase_generate(self, items: list[PromptItem]) -> Rollouts:
        cfg = self.cfg
        responses = self._generate([it.prompt_ids for it in items], cfg.rollout_n, cfg.temperature, cfg.top_p, "rollout")
        texts = [[self._decode(r) for r in group] for group in responses]
        return Rollouts(responses, texts, self.vllm.last_sync_s if self.vllm is not None else None)

    def phase_verify(self, items: list[PromptItem], roll: Rollouts) -> Verdicts:
        cfg = self.cfg
        flat = [(g, i) for g in range(len(items)) for i in range(cfg.rollout_n)]
        batch = [{"id": f"{g}/{i}", "response": roll.texts[g][i], "gold": items[g].gold} for g, i in flat]
        # Teachers are verified once; an errored verdict is not cached, so it is tried again later.
        todo: list[tuple[PromptItem, int]] = []
        seen: set[tuple[str, int]] = set()
        if uses_offline(cfg.variant):
            for it in items:
                for j in range(len(it.teachers)):
                    if self._teacher(it, j).verdict is None and (it.id, j) not in seen:
                        seen.add((it.id, j))
                        todo.append((it, j))
        batch += [{"id": f"{it.id}/t{j}", "response": it.teachers[j].response, "gold": it.gold} for it, j in todo]
        res = self.verify_fn(batch, timeout_s=cfg.verifier_timeout_s, workers=cfg.verifier_workers) if batch else []
        online = [[{} for _ in range(cfg.rollout_n)] for _ in items]
        for (g, i), r in zip(flat, res):
            online[g][i] = r
        fresh: dict[tuple[str, int], dict] = {}
        for (it, j), r in zip(todo, res[len(flat):]):
            fresh[(it.id, j)] = r
            if r.get("correct") in (True, False):
                self.teacher_cache[(it.id, j)].verdict = r
        teachers = []
        for it in items:
            row = []
            for j in range(len(it.teachers)):
                info = self._teacher(it, j)
                row.append(info.verdict if info.verdict is not None else fresh.get((it.id, j), {"correct": None, "reason": "error: not verified"}))
            teachers.append(row)
        return Verdicts(online, teachers)

    def _teacher(self, it: PromptItem, j: int) -> TeacherInfo:
        return self.teacher_cache.setdefault((it.id, j), TeacherInfo())

    def phase_embed(self, items: list[PromptItem], roll: Rollouts) -> Embeddings:
        if self.encoder is None:
            return Embeddings(None, None)
        cfg = self.cfg
        todo = list(dict.fromkeys((it.id, j) for it in items for j in range(len(it.teachers)) if self._teacher(it, j).embedding is None))
        by_id = {it.id: it for it in items}
        texts = [t for group in roll.texts for t in group] + [by_id[pid].teachers[j].response for pid, j in todo]
        embs, truncs = self.encoder.embed(texts, batch_size=cfg.encoder["batch_size"])
        n = cfg.rollout_n
        for k, (pid, j) in enumerate(todo):
            info = self.teacher_cache[(pid, j)]
            info.embedding, info.embedding_truncated = embs[len(items) * n + k], bool(truncs[len(items) * n + k])
        return Embeddings([np.asarray(embs[g * n:(g + 1) * n]) for g in range(len(items))], [[bool(x) for x in truncs[g * n:(g + 1) * n]] for g in range(len(items))])

    def phase_plan(self, items: list[PromptItem], ver: Verdicts, emb: Embeddings) -> list[GroupPlan]:
        cfg = self.cfg
        plans = []
        for g, it in enumerate(items):
            eligible = [j for j, v in enumerate(ver.teachers[g]) if v.get("correct") is True] if uses_offline(cfg.variant) else []
            div: list[float | None] = [None] * cfg.rollout_n
            if emb.online is not None and eligible:
                div = divergences_np(emb.online[g], np.stack([self.teacher_cache[(it.id, j)].embedding for j in eligible]))
            replaced = select_replaced(cfg.variant, div, cfg.replace, len(eligible))
            inserted = [eligible[k] for k in self.rng.sample(range(len(eligible)), len(replaced))] if replaced else []
            plans.append(GroupPlan(eligible, div, replaced, inserted))
        return plans

    def phase_statistics(self, items: list[PromptItem], roll: Rollouts, plans: list[GroupPlan]) -> dict[RowKey, TokenStats]:
        cfg = self.cfg
        rows = [RowKey("online", g, i) for g in range(len(items)) for i in range(cfg.rollout_n)]
        rows += [RowKey("offline", g, j) for g, plan in enumerate(plans) for j in plan.inserted]
        out = token_statistics(
            self.model, [items[r.group].prompt_ids for r in rows], [self._row_ids(items, roll, r) for r in rows],
            temperature=cfg.temperature, max_tokens_per_micro_batch=cfg.max_tokens_per_micro_batch, chunk_tokens=cfg.logits_chunk_tokens,
            pad_token_id=self.tok.pad_token_id, autocast=self._autocast,
        )
        return {r: TokenStats(lp, ent) for r, (lp, ent) in zip(rows, out)}

    @staticmethod
    def _row_ids(items: list[PromptItem], roll: Rollouts, r: RowKey) -> list[int]:
        return roll.responses[r.group][r.index] if r.source == "online" else items[r.group].teachers[r.index].ids

    def phase_score(self, items: list[PromptItem], ver: Verdicts, plans: list[GroupPlan], stats: dict[RowKey, TokenStats]) -> list[ScoredGroup]:
        cfg = self.cfg
        adv_opts = AdvantageOptions(cfg.advantage["std"], float(cfg.advantage["eps"]))
        out = []
        for g, plan in enumerate(plans):
            h_last = []
            online = []
            for i in range(cfg.rollout_n):
                ent = stats[RowKey("online", g, i)].entropy
                h_last.append(float(ent[-1]) if len(ent) else 0.0)
                online.append({"divergence": plan.divergence[i], "entropy_last": h_last[-1], "correct": ver.online[g][i].get("correct")})
            offline = [{"correct": True} for _ in plan.eligible]  # eligible teachers are verifier-correct
            slots = [plan.eligible.index(j) for j in plan.inserted]
            sc = score_group(cfg.variant, cfg.replace, adv_opts, online, offline, slots if plan.replaced else None)
            if sc.replaced != plan.replaced:
                raise RuntimeError(f"replacement plan {plan.replaced} and score_group {sc.replaced} disagree")
            members = [RowKey(m.source, g, m.index if m.source == "online" else plan.eligible[m.index]) for m in sc.group]
            out.append(ScoredGroup(sc, h_last, members, [m.advantage for m in sc.group]))
        return out

    def phase_update(self, items: list[PromptItem], roll: Rollouts, scored: list[ScoredGroup], stats: dict[RowKey, TokenStats]) -> UpdateStats:
        """PPO mini-batches (prompts with all their members) x epochs; one optimizer step each."""
        cfg = self.cfg
        mini = cfg.ppo_mini_batch or len(items)
        up = UpdateStats()
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.model.train()
        for _ in range(cfg.ppo_epochs):
            for start in range(0, len(items), mini):
                groups = range(start, min(len(items), start + mini))
                rows = [(k, a) for g in groups for k, a in zip(scored[g].members, scored[g].advantages)]
                resp = [self._row_ids(items, roll, k) for k, _ in rows]
                lens = [len(r) for r in resp]
                off = [k.source == "offline" for k, _ in rows]
                norm = LossNorm(sum(lens), len(rows), cfg.max_new_tokens, sum(n for n, o in zip(lens, off) if not o), sum(n for n, o in zip(lens, off) if o))
                self.opt.zero_grad(set_to_none=True)
                acc = {"pg": 0.0, "on": 0.0, "off": 0.0, "ent": 0.0, "ent_on": 0.0, "ratio": 0.0, "clip": 0.0}
                for mb in micro_batches([len(items[k.group].prompt_ids) + n for (k, _), n in zip(rows, lens)], cfg.max_tokens_per_micro_batch):
                    with self._autocast():
                        st = response_logprobs(
                            self.model, [items[rows[i][0].group].prompt_ids for i in mb], [resp[i] for i in mb],
                            temperature=cfg.temperature, chunk_tokens=cfg.logits_chunk_tokens, pad_token_id=self.tok.pad_token_id,
                        )
                    old = ResponseLogprobs(torch.cat([stats[rows[i][0]].logp for i in mb]).to(st.logp.device), None, st.lengths)
                    parts = policy_loss(
                        st.padded("logp"), old.padded("logp"), torch.tensor([rows[i][1] for i in mb], dtype=torch.float32, device=st.logp.device),
                        st.mask(), torch.tensor([off[i] for i in mb], device=st.logp.device), st.padded("entropy"),
                        gamma=cfg.off_policy_gamma, clip_low=cfg.clip_ratio_low, clip_high=cfg.clip_ratio_high, agg=cfg.loss_agg,
                        max_len=cfg.max_new_tokens, entropy_coef=cfg.entropy_coef, norm=norm,
                    )
                    parts.loss.backward()
                    # With the mini-batch's LossNorm each part is this micro-batch's share: they add up.
                    for key, v in (
                        ("pg", parts.pg_loss), ("on", parts.on_pg_loss), ("off", parts.off_pg_loss), ("ent", parts.entropy),
                        ("ent_on", parts.entropy_on_policy), ("ratio", parts.off_ratio_mean), ("clip", parts.clip_frac),
                    ):
                        acc[key] += float(v)
                    up.micro_batches += 1
                up.grad_norms.append(float(torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip if cfg.grad_clip > 0 else float("inf"))))
                self.opt.step()
                up.pg.append(acc["pg"])
                up.on.append(acc["on"])
                up.off.append(acc["off"])
                up.entropy.append(acc["ent"])
                up.clip.append(acc["clip"])
                if norm.off_tokens:
                    up.off_ratio.append(acc["ratio"])
                if norm.on_tokens:
                    up.entropy_on_policy.append(acc["ent_on"])
        self.opt.zero_grad(set_to_none=True)
        return up

    def phase_emit(self, items: list[PromptItem], roll: Rollouts, ver: Verdicts, emb: Embeddings, plans: list[GroupPlan], stats: dict[RowKey, TokenStats], scored: list[ScoredGroup]) -> None:
        for g, it in enumerate(items):
            self.events.write(self.group_event_for(g, it, roll, ver, emb, plans[g], stats, scored[g]))

    def group_event_for(self, g: int, it: PromptItem, roll: Rollouts, ver: Verdicts, emb: Embeddings, plan: GroupPlan, stats: dict[RowKey, TokenStats], sg: ScoredGroup) -> dict:
        cfg = self.cfg
        adv = {k: a for k, a in zip(sg.members, sg.advantages)}
        online = []
        for i in range(cfg.rollout_n):
            resp = roll.responses[g][i]
            s = sg.score.online[i]
            online.append(OnlineMember(
                index=i, text=roll.texts[g][i], tokens=len(resp), truncated=self.tok.eos_token_id not in resp, verifier=ver.online[g][i],
                divergence=s.divergence, entropy_last=sg.entropy_last[i], r_oger=s.exploration_reward, r_total=s.total_reward,
                advantage=adv.get(RowKey("online", g, i)), replaced=i in sg.score.replaced,
                embedding_truncated=emb.online_truncated[g][i] if emb.online_truncated is not None else None,
                # Every response token, EOS included: its position carries H_last.
                token_entropies=self._token_entropies(resp, roll.texts[g][i], stats[RowKey("online", g, i)].entropy),
            ))
        teachers = []
        for j, t in enumerate(it.teachers):
            key = RowKey("offline", g, j)
            info = self.teacher_cache.get((it.id, j), TeacherInfo())
            st = stats.get(key)
            teachers.append(TeacherMember(
                index=j, name=t.name, text=t.response, tokens=len(t.ids), verifier=ver.teachers[g][j], in_group=key in adv, advantage=adv.get(key),
                embedding_truncated=info.embedding_truncated,
                entropy_last=float(st.entropy[-1]) if st is not None and len(st.entropy) else None,
                token_entropies=self._token_entropies(t.ids, t.response, st.entropy) if st is not None else None,
            ))
        return group_event(self.run_id, self.step, it.id, it.prompt_text, it.gold, online, teachers)

    def _token_entropies(self, ids: list[int], text: str, ent: torch.Tensor) -> TokenEntropies | None:
        pos, offsets = self.tok.entropy_offsets(ids, sampled_positions(len(ids), self.cfg.token_entropy_stride), len(text))
        if not pos:
            return None
        return TokenEntropies(offsets, [max(0.0, round(float(ent[p]), 6)) for p in pos], self.cfg.token_entropy_stride)

    # -- one RL step --------------------------------------------------------------------------

    def rl_step(self) -> dict[str, float | None]:
        timer = PhaseTimer()
        t0 = time.perf_counter()
        items = self._next_batch()
        with timer("gen"):
            roll = self.phase_generate(items)
        with timer("verify"):
            ver = self.phase_verify(items, roll)
        with timer("embed"):
            emb = self.phase_embed(items, roll)
        with timer("plan"):
            plans = self.phase_plan(items, ver, emb)
        with timer("old_logp"):
            stats = self.phase_statistics(items, roll, plans)
        with timer("score"):
            scored = self.phase_score(items, ver, plans, stats)
        with timer("update"):
            up = self.phase_update(items, roll, scored, stats)
        self.step += 1
        with timer("emit"):
            self.phase_emit(items, roll, ver, emb, plans, stats, scored)
            metrics = self.step_metrics(items, roll, ver, scored, up)
        metrics["timing/step_s"] = time.perf_counter() - t0
        metrics.update({f"timing/{k}_s": v for k, v in timer.seconds.items()})
        if roll.weight_sync_s is not None:
            metrics["timing/weight_sync_s"] = roll.weight_sync_s  # included in timing/gen_s
        return metrics

    def step_metrics(self, items: list[PromptItem], roll: Rollouts, ver: Verdicts, scored: list[ScoredGroup], up: UpdateStats) -> dict[str, float | None]:
        cfg = self.cfg
        n_on = len(items) * cfg.rollout_n
        correct = [[v.get("correct") for v in row] for row in ver.online]
        scores = [s.total_reward for sg in scored for s in sg.score.online]
        r_oger = [s.exploration_reward for sg in scored for s in sg.score.online]
        advs = [a for sg in scored for a in sg.advantages]
        lens = [len(r) for group in roll.responses for r in group]
        gate = sum(1 for row in ver.online for v in row if str(v.get("reason") or "").startswith(FORMAT_GATE_REASONS))
        metrics: dict[str, float | None] = {
            "batch/solve_none": sum(1 for row in correct if not any(c is True for c in row)) / len(items),
            "batch/solve_all": sum(1 for row in correct if all(c is True for c in row)) / len(items),
            "batch/failed_ratio": sum(1 for row in correct for c in row if c is not True) / n_on,
            "batch/verifier_error_ratio": sum(1 for row in correct for c in row if c is None) / n_on,
            "batch/format_fail_ratio": gate / n_on,
            "critic/score/mean": float(np.mean(scores)),
            "critic/score/max": float(np.max(scores)),
            "critic/score/min": float(np.min(scores)),
            "critic/advantages/mean": float(np.mean(advs)),
            "critic/advantages/max": float(np.max(advs)),
            "critic/advantages/min": float(np.min(advs)),
            "response_length/mean": float(np.mean(lens)),
            "response_length/max": float(np.max(lens)),
            "response_length/clip_ratio": float(np.mean([1.0 if (len(r) >= cfg.max_new_tokens and self.tok.eos_token_id not in r) else 0.0 for group in roll.responses for r in group])),
            "actor/entropy": float(np.mean(up.entropy)),
            "actor/entropy_on_policy": float(np.mean(up.entropy_on_policy)) if up.entropy_on_policy else None,
            "actor/pg_loss": float(np.mean(up.pg)),
            "actor/on_pg_loss": float(np.mean(up.on)),
            "actor/off_pg_loss": float(np.mean(up.off)) if uses_offline(cfg.variant) else None,
            "actor/off_ratio_mean": float(np.mean(up.off_ratio)) if up.off_ratio else None,
            "actor/pg_clipfrac": float(np.mean(up.clip)),
            "actor/grad_norm": float(np.mean(up.grad_norms)) if up.grad_norms and all(math.isfinite(x) for x in up.grad_norms) else None,
            "actor/lr": cfg.lr,
            "actor/optimizer_steps": float(len(up.grad_norms)),
            "actor/micro_batches": float(up.micro_batches),
            "oger/reward_mean": float(np.mean(r_oger)),
            "oger/reward_max": float(np.max(r_oger)),
        }
        if self.step <= FORMAT_WATCH_STEPS and gate / n_on >= FORMAT_WARN_RATIO:
            metrics["warning/format_gate"] = 1.0
            if not self.format_warned:
                self.format_warned = True
                log(
                    f"warning: {gate} of {n_on} responses at step {self.step} failed the format gate (missing <think> or </think>). "
                    f"Every reward is 0 until the policy writes the format: check that the prompt ends with the opening tag "
                    f"(prompt_ends_with = {json.dumps(cfg.prompt_ends_with)}; prompt ends {json.dumps(items[0].prompt_text[-40:])}), "
                    "that max_new_tokens leaves room to close the reasoning, or warm-start the policy (sft_steps)"
                )
        return metrics

    # -- warm start and evaluation ------------------------------------------------------------

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
                batch = [{"id": f"{gi}/{i}", "response": self._decode(resp[gi][i]), "gold": it.gold} for gi, it in enumerate(chunk) for i in range(k)]
                correct += sum(1 for r in self.verify_fn(batch, timeout_s=cfg.verifier_timeout_s, workers=cfg.verifier_workers) if r.get("correct") is True)
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
            # Context length and RoPE as the run trained with them (paper: 16k context, RoPE theta 40000).
            "model_info": self.model_info.to_dict() if self.model_info is not None else None,
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
            before = self.evaluate(greedy_only=not self.sft_done) if self.warm_step == 0 else {}
            if not self.sft_done:
                summary = WarmStart(self).run()
                if not self.sft_done:  # stopped inside the warm start: the checkpoint resumes it there
                    self._save_checkpoint()
                    return "stopped"
                metrics = {**summary, **{f"{k}_before_sft": v for k, v in before.items()}, **self.evaluate()}
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
            evaluated = f" eval {metrics['eval/greedy_accuracy']:.3f}" if "eval/greedy_accuracy" in metrics else ""
            log(
                f"step {self.step}/{cfg.steps} score {metrics['critic/score/mean']:.3f} solve_all {metrics['batch/solve_all']:.2f} "
                f"entropy {metrics['actor/entropy']:.3f} {metrics['timing/step_s']:.1f}s{evaluated}"
            )
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
        f"CUDA out of memory at step {step}: lower max_tokens_per_micro_batch ({cfg.max_tokens_per_micro_batch}), rollout_n ({cfg.rollout_n}) "
        f"or max_new_tokens ({cfg.max_new_tokens}), or set gradient_checkpointing: true"
        + ("" if cfg.lora else ", or train LoRA adapters (lora: {\"r\": 16})")
        + (f"; vLLM holds vllm_gpu_memory_utilization ({cfg.vllm_gpu_memory_utilization}) of the GPU, lower it to give the trainer more" if cfg.vllm else "")
        + "; `--check-config` prints a memory estimate"
    )


def check_config_report(cfg: TrainConfig) -> list[str]:
    """Lines `--check-config` prints after the config: the memory estimate and its warning."""
    from .memory import estimate, visible_device

    info = read_model_info(cfg.model)
    if info is None:
        return [f"memory estimate: not available (cannot read {cfg.model}/config.json)"]
    device, total = visible_device()
    est = estimate(cfg, info, device, total)
    lines = est.lines()
    warn = est.warning()
    if warn:
        lines.append(f"warning: {warn}")
    elif total is None:
        lines.append("warning: no CUDA device visible: the estimate cannot be compared with a device (training would run on the CPU)")
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m reward_lens.train", description=__doc__.split("\n")[0])
    ap.add_argument("--config", required=True)
    ap.add_argument("--run-dir", required=True)
    ap.add_argument("--resume", action="store_true", help="continue from the latest checkpoint of the run")
    ap.add_argument("--check-config", action="store_true", help="validate the config, print it and a peak-memory estimate, and exit")
    args = ap.parse_args(argv)
    try:
        cfg = config_mod.load(args.config)
    except (ConfigError, OSError) as e:
        print(f"reward_lens.train: {e}", file=sys.stderr)
        return 2
    if args.check_config:
        print(json.dumps(cfg.to_dict()))
        for line in check_config_report(cfg):
            print(line, file=sys.stderr)
        return 0
    run_dir = Path(args.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    trainer: Trainer | None = None
    stop = StopRequested()
    signal.signal(signal.SIGTERM, stop)
    try:
        trainer = Trainer(cfg, run_dir, args.resume, stop=stop)
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
