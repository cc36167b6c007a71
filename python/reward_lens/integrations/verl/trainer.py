"""OGER inside a verl job: a subclass of verl 0.9's synchronous v1 trainer.

Selected with `trainer.v1.trainer_mode=reward_lens` (registered by the verl.plugins entry point).
It behaves as verl's `sync` trainer (the mode name only picks the class) and overrides four
steps of `PPOTrainer`:

- `_compute_advantage`: the group step. After the actor's old log-probs and entropies are in
  verl's TransferQueue, every prompt's group (rows sharing a `uid`) is scored by group.py:
  H_last is the actor's entropy at each response's last token, D and the verdict come from the
  Reward Lens reward manager, R_total = R_m + R_OGER, the lowest-D online members are replaced
  in place by teacher trajectories drawn from the prompt's `extra_info["teachers"]`, and the
  GRPO advantages over the hybrid group are written back as verl's `advantages`/`returns`.
  A replaced row is rewritten to hold the teacher: its token fields, and old_log_probs set to
  the off-policy marker so that the `reward_lens_luffy` policy loss (loss.py) applies LUFFY's
  p/(p+γ) shaping to those tokens.
- `_compute_metrics`: adds `oger/*` metrics and writes the step's protocol-v1 `step` event.
- `_log_rollout_data`: the `trainer.rollout_data_dir` dump keeps our verdicts, D, R_OGER,
  R_total, advantages and which rows hold teachers (verl's default v1 dump has only input,
  output, gts, score, step and uid). It is still written by verl's own `_dump_generations`.
- `fit`: `run_start` before training and `run_end` (completed / stopped / failed) after.

Everything that runs here runs in verl's TaskRunner actor (the driver): TransferQueue reads and
writes, the tokenizer, the verifier pool for teachers, the event file. Nothing here runs on a GPU
worker; the policy loss does (loss.py).
"""
from __future__ import annotations

import hashlib
import random
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import numpy as np
import torch
import transfer_queue as tq
from omegaconf import OmegaConf
from tensordict import TensorDict
from transfer_queue import KVBatchMeta
from verl.trainer.ppo.v1.trainer_base import register_trainer
from verl.trainer.ppo.v1.trainer_sync import PPOTrainerSync
from verl.workers.utils.padding import response_to_nested

from ...events import EventWriter
from ...verifier.loader import verifier_identity
from ...verify import submit_one
from .events import group_event, run_end_event, run_start_event, step_event
from .group import OnlineRow, PromptGroup, TeacherTrajectory, distinct_prompt_ids, outcome_rows, prompt_id_of, rows_by_uid, score_prompt_group
from .loss import LOSS_MODE, OFF_POLICY_OLD_LOG_PROB
from .reward_manager import teacher_texts
from .score import ground_truth_text, score_result
from .settings import VerlSettingsError, settings_from_config, trainer_problems

TRAINER_MODE = "reward_lens"
# Per-token fields of a response (length = response tokens) and of the whole sequence.
RESPONSE_FIELDS = ("responses", "response_mask", "loss_mask", "rm_scores", "old_log_probs", "entropy", "rollout_log_probs", "ref_log_prob", "values")
SEQUENCE_FIELDS = ("input_ids", "position_ids", "attention_mask")
# Fields that tie a row to its sampled tokens in ways an inserted teacher cannot honour (MoE
# router replay, distillation targets). multi_modal_inputs is always there, empty for text.
UNREPLACEABLE_FIELDS = ("routed_experts", "teacher_ids", "teacher_logprobs")


def _plain(x: Any) -> Any:
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, np.generic):
        return x.item()
    return x


def reward_extra_info(extra_fields: Any, top_level: dict[str, Any]) -> dict[str, Any]:
    """What the reward manager returned for a row: inside `extra_fields.reward_extra_info` when
    the reward ran in the agent loop (verl's default), as top-level fields when it was colocated."""
    info = {}
    if isinstance(extra_fields, dict) and isinstance(extra_fields.get("reward_extra_info"), dict):
        info.update(extra_fields["reward_extra_info"])
    for k, v in top_level.items():
        info.setdefault(k, _plain(v))
    return info


def teacher_row_fields(prompt_ids: torch.Tensor, teacher_ids: list[int], r_m: float, present: set[str]) -> dict[str, torch.Tensor]:
    """The token fields of a row that now holds a teacher trajectory (only those the row has)."""
    n = len(teacher_ids)
    resp = torch.tensor(teacher_ids, dtype=torch.int64)
    out: dict[str, torch.Tensor] = {}
    scores = torch.zeros(n, dtype=torch.float32)
    if n:
        scores[-1] = float(r_m)
    per_token = {
        "responses": resp,
        "response_mask": torch.ones(n, dtype=torch.int64),
        "loss_mask": torch.ones(n, dtype=torch.int64),
        "rm_scores": scores,
        # LUFFY: the teacher's behaviour probability is 1; the marker tells the loss these are its tokens.
        "old_log_probs": torch.full((n,), OFF_POLICY_OLD_LOG_PROB, dtype=torch.float32),
        "entropy": torch.zeros(n, dtype=torch.float32),
        "rollout_log_probs": torch.zeros(n, dtype=torch.float32),
    }
    for k, v in per_token.items():
        if k in present:
            out[k] = v
    seq = torch.cat([prompt_ids.to(torch.int64), resp])
    if "input_ids" in present:
        out["input_ids"] = seq
    if "attention_mask" in present:
        out["attention_mask"] = torch.ones_like(seq)
    if "position_ids" in present:
        out["position_ids"] = torch.arange(seq.numel(), dtype=torch.int64)
    return out


def _nested(tensors: list[torch.Tensor]) -> torch.Tensor:
    return torch.nested.as_nested_tensor(tensors, layout=torch.jagged)


def _rows(t: torch.Tensor) -> list[torch.Tensor]:
    """Per-row tensors of a TransferQueue field: jagged when rows differ in length, a plain
    stacked tensor when they happen to be equal (verl's list_of_dict_to_tensordict stacks those)."""
    if t.is_nested:
        values, offsets = t.values(), t.offsets()
        return [values[int(offsets[i]):int(offsets[i + 1])] for i in range(len(offsets) - 1)]
    return [t[i] for i in range(t.shape[0])]


@register_trainer(TRAINER_MODE)
class RewardLensTrainer(PPOTrainerSync):
    """verl's synchronous PPO trainer with the Reward Lens group step and live events."""

    # verl compares trainer_mode with "sync" to choose the replay buffer, refills and checkpoint
    # handling; the registered name only selects this class.
    @property
    def trainer_mode(self) -> str:
        return "sync"

    @trainer_mode.setter
    def trainer_mode(self, value: str) -> None:
        self._registered_mode = value

    def __init__(self, config):
        settings = settings_from_config(config)
        problems = trainer_problems(config, settings)
        if problems:
            raise VerlSettingsError(problems)
        super().__init__(config)
        self.rl_settings = settings
        self.rl_rng = random.Random(settings.seed)
        self.rl_events: EventWriter | None = None
        self.rl_teacher_cache: dict[str, dict[str, Any]] = {}
        self.rl_step_rows: dict[str, dict[str, Any]] = {}
        self.rl_step_metrics: dict[str, float] = {}

    # -- events -----------------------------------------------------------------------------
    def _rl_open_events(self) -> None:
        s = self.rl_settings
        if not s.run_dir:
            return
        self.rl_events = EventWriter(Path(s.run_dir) / "events.jsonl")
        encoder = {"id": s.encoder.get("path") or "sentence-transformers/all-MiniLM-L6-v2", "strategy": s.encoder["strategy"],
                   "pooling": s.encoder["pooling"], "max_length": s.encoder["max_length"]}
        config = OmegaConf.to_container(self.config, resolve=True) if OmegaConf.is_config(self.config) else dict(self.config)
        self.rl_events.write(run_start_event(s.run_id, s, config, str(self.config.actor_rollout_ref.model.path), encoder, verifier_identity(s.verifier)))
        self.rl_events.sync()

    def fit(self, agent_loop_manager):
        self._rl_open_events()
        status, reason = "failed", None
        try:
            super().fit(agent_loop_manager)
            status = "completed"
        except KeyboardInterrupt:
            status, reason = "stopped", "interrupted"
            raise
        except BaseException as exc:
            reason = f"{type(exc).__name__}: {exc}"[:2000]
            raise
        finally:
            if self.rl_events is not None:
                self.rl_events.write(run_end_event(self.rl_settings.run_id, status, getattr(self, "global_steps", None), reason))
                self.rl_events.close()
                self.rl_events = None

    # -- the group step ---------------------------------------------------------------------
    def _rl_teachers(self, extra_info: Any, gold: str | None) -> list[TeacherTrajectory]:
        """The prompt's teachers, verified once each (same verifier as the online samples) and
        tokenized as a response (EOS appended, cut at rollout.response_length)."""
        texts = teacher_texts(extra_info)
        if not texts:
            return []
        limit = int(self.config.actor_rollout_ref.rollout.response_length)
        eos = self.tokenizer.eos_token_id
        out: list[TeacherTrajectory] = []
        pending: list[tuple[dict, Future]] = []
        for text, name in texts:
            key = hashlib.sha256((text + "\x00" + (gold or "")).encode("utf-8", "surrogatepass")).hexdigest()
            entry = self.rl_teacher_cache.get(key)
            if entry is None:
                ids = list(self.tokenizer.encode(text, add_special_tokens=False)) + ([eos] if eos is not None else [])
                entry = {"ids": ids[:limit], "truncated": len(ids) > limit, "result": None}
                self.rl_teacher_cache[key] = entry
                if gold is None:
                    entry["result"] = score_result({"correct": None, "reason": "error: the row has no reward_model.ground_truth text"})
                else:
                    s = self.rl_settings
                    pending.append((entry, submit_one(text, gold, timeout_s=s.verifier_timeout_s, spec=s.verifier, workers=s.verifier_workers)))
            out.append(TeacherTrajectory(text=text, teacher=name, verdict="", ids=entry["ids"], truncated=entry["truncated"]))
            out[-1]._entry = entry  # type: ignore[attr-defined]
        for entry, future in pending:
            entry["result"] = score_result(future.result())
        for t in out:
            r = t._entry["result"]  # type: ignore[attr-defined]
            t.verdict, t.verdict_reason, t.extracted_answer = r["verdict"], r["verdict_reason"], r["extracted_answer"]
        return out

    def _compute_advantage(self, batch: KVBatchMeta, metrics: dict) -> KVBatchMeta:
        s = self.rl_settings
        keys = list(batch.keys)
        present = set(tq.kv_batch_put(keys=keys, partition_id=batch.partition_id, tags=batch.tags).fields or [])
        wanted = ["uid", "prompts", "responses", "response_mask", "rm_scores", "entropy", "extra_info", "reward_model", "extra_fields"]
        missing = [f for f in ("uid", "prompts", "responses", "response_mask", "rm_scores") if f not in present]
        if missing:
            raise RuntimeError(f"verl's TransferQueue rows lack {missing}: the Reward Lens trainer runs after the reward and the old log-probs")
        top = [k for k in ("verdict", "verdict_reason", "extracted_answer", "divergence", "embedding_truncated") if k in present]
        data = tq.kv_batch_get(keys=keys, partition_id=batch.partition_id, select_fields=[f for f in wanted if f in present] + top)

        response_rows = _rows(data["responses"])
        response_lengths = [int(r.numel()) for r in response_rows]
        prompts = _rows(data["prompts"])
        entropy = _rows(data["entropy"]) if "entropy" in present else None
        uids = [str(u) for u in list(data["uid"])]
        extra_infos = list(data["extra_info"]) if "extra_info" in present else [{}] * len(keys)
        reward_models = list(data["reward_model"]) if "reward_model" in present else [{}] * len(keys)
        extra_fields = list(data["extra_fields"]) if "extra_fields" in present else [{}] * len(keys)
        rm_last = [float(r.sum()) for r in _rows(data["rm_scores"])]
        top_lists = {k: list(data[k]) for k in top}

        groups: list[PromptGroup] = []
        for uid, rows in rows_by_uid(keys, uids).items():
            first = rows[0]
            gold = ground_truth_text(reward_models[first].get("ground_truth") if isinstance(reward_models[first], dict) else None)
            prompt_text = self.tokenizer.decode(prompts[first], skip_special_tokens=True)
            online = []
            for row in rows:
                info = reward_extra_info(extra_fields[row], {k: v[row] for k, v in top_lists.items()})
                verdict = info.get("verdict")
                if verdict not in ("correct", "wrong", "error"):
                    # Another reward manager: its score is all we know. Say so rather than guess.
                    verdict = "correct" if rm_last[row] > 0 else "wrong"
                    info.setdefault("verdict_reason", f"reward {rm_last[row]:g} from a reward manager without verdicts")
                n = int(response_lengths[row])
                ids = response_rows[row]
                h_last = float(entropy[row][n - 1]) if entropy is not None and n > 0 else None
                online.append(OnlineRow(
                    row=row, key=keys[row], session=len(online), verdict=verdict,
                    text=self.tokenizer.decode(ids, skip_special_tokens=True),
                    verdict_reason=info.get("verdict_reason"), extracted_answer=info.get("extracted_answer"),
                    divergence=None if info.get("divergence") is None else float(info["divergence"]),
                    entropy_last=h_last, tokens=n,
                    truncated=bool(n > 0 and int(ids[-1]) != self.tokenizer.eos_token_id),
                    embedding_truncated=info.get("embedding_truncated"),
                ))
            teachers = self._rl_teachers(extra_infos[first], gold) if s.variant != "grpo" else []
            groups.append(PromptGroup(uid=uid, prompt_id=prompt_id_of(prompt_text, extra_infos[first]), prompt=prompt_text,
                                      gold=gold or "", online=online, teachers=teachers))

        for g, pid in zip(groups, distinct_prompt_ids([g.prompt_id for g in groups])):
            g.prompt_id = pid
        outcomes = [score_prompt_group(g, s.variant, s.replace, s.advantage, self.rl_rng) for g in groups]
        _, row_advantage = outcome_rows(outcomes, len(keys))

        # 1. rows that now hold a teacher trajectory
        replaced_rows = sorted(row for o in outcomes for row in o.row_teacher)
        if replaced_rows:
            blocked = [f for f in UNREPLACEABLE_FIELDS if f in present]
            if "multi_modal_inputs" in present:
                mm = list(tq.kv_batch_get(keys=[keys[r] for r in replaced_rows], partition_id=batch.partition_id, select_fields=["multi_modal_inputs"])["multi_modal_inputs"])
                if any(bool(x) for x in mm):
                    blocked.append("multi_modal_inputs")
            if blocked:
                raise RuntimeError(f"rows carry {blocked}: replacing a sampled response by a teacher's is undefined for them; use reward_lens.replace=0 or variant grpo")
            by_row = {row: (o, j) for o in outcomes for row, j in o.row_teacher.items()}
            writable = present & (set(RESPONSE_FIELDS) | set(SEQUENCE_FIELDS))
            rows_fields = []
            for row in replaced_rows:
                o, j = by_row[row]
                t = o.group.teachers[j]
                rows_fields.append(teacher_row_fields(prompts[row], t.ids, 1.0 if t.verdict == "correct" else 0.0, writable))
            new_fields = TensorDict({k: _nested([f[k] for f in rows_fields]) for k in rows_fields[0]}, batch_size=len(replaced_rows))
            tags = []
            for row, f in zip(replaced_rows, rows_fields):
                tag = dict(batch.tags[row])
                n = int(f["responses"].numel()) if "responses" in f else 0
                tag.update({"response_len": n, "seq_len": int(prompts[row].numel()) + n, "reward_lens_teacher": True})
                tags.append(tag)
            tq.kv_batch_put(keys=[keys[r] for r in replaced_rows], partition_id=batch.partition_id, fields=new_fields, tags=tags)
            for row, tag in zip(replaced_rows, tags):
                batch.tags[row] = tag
            response_lengths = list(response_lengths)
            for row, f in zip(replaced_rows, rows_fields):
                response_lengths[row] = int(f["response_mask"].numel()) if "response_mask" in f else int(f["responses"].numel())

        # 2. advantages (GRPO over the hybrid group), broadcast over each row's response tokens
        mask = _nested([torch.ones(int(n), dtype=torch.int64) for n in response_lengths])
        width = max([int(n) for n in response_lengths] + [1])
        adv = torch.zeros(len(keys), width, dtype=torch.float32)
        for row, a in enumerate(row_advantage):
            adv[row, : int(response_lengths[row])] = a
        out = TensorDict({"advantages": response_to_nested(adv, mask), "returns": response_to_nested(adv.clone(), mask)}, batch_size=len(keys))
        batch = tq.kv_batch_put(keys=keys, partition_id=batch.partition_id, fields=out, tags=batch.tags)

        self._rl_after_group_step(outcomes, keys)
        return batch

    def _rl_after_group_step(self, outcomes, keys: list[str]) -> None:
        s = self.rl_settings
        step = int(getattr(self, "global_steps", 0))
        rows: dict[str, dict[str, Any]] = {}
        r_oger, replaced, solved_all, solved_none, teacher_errors = [], 0, 0, 0, 0
        for o in outcomes:
            g, score = o.group, o.score
            verdicts = [m.verdict for m in g.online]
            solved_all += all(v == "correct" for v in verdicts)
            solved_none += all(v != "correct" for v in verdicts)
            replaced += len(score.replaced)
            teacher_errors += sum(t.verdict == "error" for t in g.teachers)
            r_oger.extend(x.exploration_reward for x in score.online)
            for i, m in enumerate(g.online):
                j = o.row_teacher.get(m.row)
                t = g.teachers[j] if j is not None else None
                rows[m.key] = {
                    # score keeps verl's meaning (R_m, what rm_scores sums to); r_total is what trained
                    "input": g.prompt, "output": t.text if t else m.text, "gts": g.gold,
                    "score": float((t.verdict if t else m.verdict) == "correct"),
                    "uid": m.key, "prompt_id": g.prompt_id, "source": "offline" if t else "online",
                    "teacher": t.teacher if t else None,
                    "verdict": t.verdict if t else m.verdict,
                    "verdict_reason": t.verdict_reason if t else m.verdict_reason,
                    "extracted_answer": t.extracted_answer if t else m.extracted_answer,
                    "divergence": None if t else score.online[i].divergence,
                    "entropy_last": None if t else m.entropy_last,
                    "r_oger": None if t else score.online[i].exploration_reward,
                    "r_total": o.row_reward[m.row],
                    "advantage": o.row_advantage[m.row],
                    "replaced_online_text": m.text if t else None,
                }
            if self.rl_events is not None:
                self.rl_events.write(group_event(s.run_id, step, o))
        self.rl_step_rows = rows
        n = max(1, len(outcomes))
        self.rl_step_metrics = {
            "oger/r_oger_mean": float(np.mean(r_oger)) if r_oger else 0.0,
            "oger/replaced": float(replaced),
            "oger/teacher_verifier_errors": float(teacher_errors),
            "batch/solve_all": solved_all / n,
            "batch/solve_none": solved_none / n,
        }

    def _compute_metrics(self, batch, metrics, timing_raw, global_steps, epoch):
        super()._compute_metrics(batch, metrics, timing_raw, global_steps, epoch)
        self._rl_write_step(int(global_steps), metrics)

    def _rl_write_step(self, step: int, metrics: dict) -> None:
        """Our metrics join verl's (so its loggers get them too); then the step event, fsynced:
        the step's groups were written during its advantage pass, before it."""
        metrics.update(self.rl_step_metrics)
        if self.rl_events is not None:
            self.rl_events.write(step_event(self.rl_settings.run_id, step, metrics))
            self.rl_events.sync()

    def _log_rollout_data(self, batch: KVBatchMeta, timing_raw: dict, rollout_data_dir: str):
        """verl's dump, sorted by key as verl sorts it, with our columns beside its own."""
        keys = sorted((k for k in batch.keys if k in self.rl_step_rows), key=lambda k: (k.rsplit("_", 2)[0], k))
        if not keys:
            return super()._log_rollout_data(batch, timing_raw, rollout_data_dir)
        rows = [self.rl_step_rows[k] for k in keys]
        columns = [c for c in rows[0] if c not in ("input", "output", "gts", "score")]
        self._dump_generations(
            inputs=[r["input"] for r in rows],
            outputs=[r["output"] for r in rows],
            gts=[r["gts"] for r in rows],
            scores=[r["score"] for r in rows],
            reward_extra_infos_dict={c: [r[c] for r in rows] for c in columns},
            dump_path=rollout_data_dir,
        )


__all__ = ["RewardLensTrainer", "TRAINER_MODE", "LOSS_MODE", "teacher_row_fields", "reward_extra_info"]
