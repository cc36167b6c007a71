"""A verl 0.9 reward manager: Reward Lens' verifier and OGER's divergence for every response.

verl 0.9's reward loop (`verl.experimental.reward_loop`) starts `reward.num_workers` Ray actors;
each builds one manager and awaits `run_single` for every response of its share of the batch at
once (asyncio tasks). Here each call
- verifies through the shared verifier pool without blocking the event loop (`submit` +
  `asyncio.wrap_future`): concurrent calls share the pool's worker processes, none is lost;
- embeds the response and the prompt's teacher trajectories (`extra_info["teachers"]`) with the
  Reward Lens encoder on this worker (teacher embeddings cached by text) and returns
  D = 1 - mean cosine (docs/conventions.md);
- returns R_OGER when it can: D·R_m for `oger-no-refine`, 0 for variants without the bonus, and
  D·exp(-H_last)·R_m for `oger` only when the rollout handed in `entropy_last`. verl's rollout
  servers return log-probs, not entropies, so for `oger` the Reward Lens trainer completes R_OGER
  after it has the actor's entropies (trainer.py); here it is then null.

`reward_score` is R_m alone: the exploration bonus belongs to the group step, which also decides
which members stay. A verifier error is verdict "error" with its reason and R_m 0, never "wrong".

Select it with `reward.reward_manager.name=reward_lens` (registered by the `verl.plugins` entry
point) or without installing the plugin with `reward.reward_manager.source=importlib
reward.reward_manager.module.path=pkg://reward_lens.integrations.verl.reward_manager
reward.reward_manager.name=RewardLensRewardManager`.
"""
from __future__ import annotations

import asyncio
import hashlib
import threading
from collections import OrderedDict
from typing import Any

import numpy as np
from verl import DataProto
from verl.experimental.reward_loop.reward_manager import register
from verl.experimental.reward_loop.reward_manager.base import RewardManagerBase

from ...reward import exploration_terms, gives_exploration_reward
from ...verify import submit_one
from .score import ground_truth_text, score_result
from .settings import VerlSettings, settings_from_config

REWARD_MANAGER_NAME = "reward_lens"
# verl builds one column per key of the first result; every result carries all of them.
EXTRA_KEYS = ("acc", "verdict", "verdict_reason", "extracted_answer", "divergence", "embedding_truncated",
              "entropy_last", "r_oger", "divergence_error")
_TEACHER_CACHE_SIZE = 4096


def teacher_texts(extra_info: Any) -> list[tuple[str, str | None]]:
    """The prompt's teacher trajectories from a dataset row's extra_info: `teachers` is a list of
    texts or of {"text": ..., "teacher": name} objects. Anything else is no teachers."""
    if not isinstance(extra_info, dict):
        return []
    raw = extra_info.get("teachers")
    if isinstance(raw, np.ndarray):
        raw = raw.tolist()
    if not isinstance(raw, (list, tuple)):
        return []
    out: list[tuple[str, str | None]] = []
    for t in raw:
        if isinstance(t, str):
            out.append((t, None))
        elif isinstance(t, dict) and isinstance(t.get("text"), str):
            name = t.get("teacher")
            out.append((t["text"], name if isinstance(name, str) else None))
    return out


def _finite_or_none(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if np.isfinite(v) else None


class _Embedder:
    """The Reward Lens encoder on this worker, loaded on first use, one forward at a time (the
    reward loop runs many coroutines; the model is not re-entrant), teachers cached by text."""

    def __init__(self, settings: VerlSettings):
        self.settings = settings
        self._encoder = None
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, tuple[np.ndarray, bool]] = OrderedDict()

    def _load(self):
        if self._encoder is None:
            from ...encoder import TextEncoder, find_minilm

            enc = self.settings.encoder
            self._encoder = TextEncoder(enc.get("path") or find_minilm(), pooling=enc.get("pooling"),
                                        max_length=enc.get("max_length"), strategy=enc.get("strategy"))
        return self._encoder

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return self._load().describe()

    def divergence(self, response: str, teachers: list[str]) -> tuple[float, bool]:
        """(D, the response's embedding was truncated)."""
        from ...reward import divergences_np

        with self._lock:
            encoder = self._load()
            keys = [hashlib.sha256(t.encode("utf-8", "surrogatepass")).hexdigest() for t in teachers]
            todo = [(k, t) for k, t in zip(keys, teachers) if k not in self._cache]
            texts = [response] + [t for _, t in todo]
            vectors, truncated = encoder.embed(texts)
            for (k, _), v, cut in zip(todo, vectors[1:], truncated[1:]):
                self._cache[k] = (v, cut)
            for k in keys:
                self._cache.move_to_end(k)
            while len(self._cache) > _TEACHER_CACHE_SIZE:
                self._cache.popitem(last=False)
            offline = np.stack([self._cache[k][0] for k in keys])
        d = divergences_np(vectors[:1], offline)[0]
        return float(d), bool(truncated[0])


@register(REWARD_MANAGER_NAME)
class RewardLensRewardManager(RewardManagerBase):
    """verl reward manager (reward loop API, verl >= 0.9). See the module docstring."""

    def __init__(self, config, tokenizer, compute_score=None, reward_router_address=None, reward_model_tokenizer=None, **ignored: Any):
        super().__init__(config, tokenizer, compute_score)
        self.settings = settings_from_config(config)
        self.embedder = _Embedder(self.settings)

    async def run_single(self, data: DataProto) -> dict:
        data = data[-1:]  # as verl's naive manager: for multi-output rollouts, the last one is scored
        item = data[0]
        response_ids = item.batch["responses"]
        length = int(item.batch["attention_mask"][-response_ids.shape[-1]:].sum())
        # The loop running this call, not the one captured at construction (verl's naive manager
        # uses self.loop; in a Ray async actor they are the same, elsewhere they need not be).
        loop = asyncio.get_running_loop()
        response = await loop.run_in_executor(None, lambda: self.tokenizer.decode(response_ids[:length], skip_special_tokens=True))
        reward_model = item.non_tensor_batch.get("reward_model") or {}
        gold = ground_truth_text(reward_model.get("ground_truth") if isinstance(reward_model, dict) else None)
        extra_info = item.non_tensor_batch.get("extra_info") or {}
        settings = self.settings

        if gold is None:
            verdict_future: Any = None
        else:
            verdict_future = asyncio.wrap_future(submit_one(response, gold, timeout_s=settings.verifier_timeout_s, spec=settings.verifier, workers=settings.verifier_workers))

        divergence: float | None = None
        embedding_truncated: bool | None = None
        divergence_error: str | None = None
        teachers = teacher_texts(extra_info)
        if teachers and settings.variant.startswith("oger"):
            try:
                divergence, embedding_truncated = await loop.run_in_executor(None, self.embedder.divergence, response, [t for t, _ in teachers])
            except Exception as exc:  # noqa: BLE001 - shown per response; the group step then refuses loudly
                divergence_error = f"error: {type(exc).__name__}: {exc}"[:500]

        if verdict_future is None:
            result = score_result({"correct": None, "reason": "error: the row has no reward_model.ground_truth text"})
        else:
            result = score_result(await verdict_future)
        r_m = result["score"]
        entropy_last = _finite_or_none(item.non_tensor_batch.get("entropy_last"))
        r_oger: float | None
        if not gives_exploration_reward(settings.variant):
            r_oger = 0.0
        elif divergence is None:
            r_oger = 0.0 if not teachers else None
        elif settings.variant == "oger" and entropy_last is None:
            r_oger = None  # completed by the Reward Lens trainer once the actor's entropies are known
        else:
            r_oger = exploration_terms(settings.variant, divergence, entropy_last, r_m)[1]
        info = {
            "acc": result["acc"],
            "verdict": result["verdict"],
            "verdict_reason": result["verdict_reason"],
            "extracted_answer": result["extracted_answer"],
            "divergence": divergence,
            "embedding_truncated": embedding_truncated,
            "entropy_last": entropy_last,
            "r_oger": r_oger,
            "divergence_error": divergence_error,
        }
        assert tuple(info) == EXTRA_KEYS
        return {"reward_score": r_m, "reward_extra_info": info}
