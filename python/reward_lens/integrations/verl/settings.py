"""The `reward_lens:` section of a verl config, validated in full before anything runs.

verl composes its `ppo_trainer` config with hydra; our keys are added with `+reward_lens.KEY=VALUE`
overrides (docs/scale-out.md). Every error names the field and the value, and all errors come
together, as `reward_lens.config` does for our own trainer. Pure: reads a mapping, no verl import.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ...reward import STD_MODES, VARIANTS, AdvantageOptions

ENCODER_POOLINGS = ("cls", "mean")
ENCODER_STRATEGIES = ("truncate", "chunk-mean")
# verl's compute_grpo_outcome_advantage adds this to the std; it is not a verl config key.
VERL_GRPO_EPS = 1e-6


class VerlSettingsError(ValueError):
    def __init__(self, problems: list[str]):
        super().__init__("invalid reward_lens settings for verl:\n  " + "\n  ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class VerlSettings:
    variant: str = "oger"
    replace: int = 1
    # Where events.jsonl goes (one folder per run); None writes no events.
    run_dir: str | None = None
    run_id: str | None = None
    verifier: str | None = None
    verifier_timeout_s: float = 5.0
    verifier_workers: int | None = None
    encoder: dict = field(default_factory=lambda: {"path": None, "pooling": "cls", "strategy": "truncate", "max_length": 512})
    seed: int = 1
    # From verl's own config: algorithm.norm_adv_by_std_in_grpo (sample std, or none), eps 1e-6.
    advantage: AdvantageOptions = AdvantageOptions()


def _get(mapping: Any, key: str, default: Any = None) -> Any:
    if mapping is None:
        return default
    try:
        return mapping.get(key, default)
    except AttributeError:
        return getattr(mapping, key, default)


def _plain(value: Any) -> Any:
    """An OmegaConf node as plain Python (so errors print values, not DictConfig reprs)."""
    try:
        from omegaconf import DictConfig, ListConfig, OmegaConf

        if isinstance(value, (DictConfig, ListConfig)):
            return OmegaConf.to_container(value, resolve=True)
    except ImportError:  # pragma: no cover - omegaconf comes with verl
        pass
    return value


def _bad(problems: list[str], name: str, value: Any, why: str) -> None:
    problems.append(f"reward_lens.{name} = {json.dumps(value, default=str)}: {why}")


def settings_from_config(config: Any) -> VerlSettings:
    """Our settings from a composed verl config (DictConfig or plain dict). Raises VerlSettingsError."""
    section = _plain(_get(config, "reward_lens")) or {}
    problems: list[str] = []
    if not isinstance(section, Mapping):
        raise VerlSettingsError([f"reward_lens = {json.dumps(section, default=str)}: must be a mapping of settings"])
    known = {f for f in VerlSettings.__dataclass_fields__ if f != "advantage"}
    for key in section:
        if key not in known:
            _bad(problems, str(key), section[key], f"unknown setting (known: {', '.join(sorted(known))})")
    variant = section.get("variant", "oger")
    if variant not in VARIANTS:
        _bad(problems, "variant", variant, f"must be one of {', '.join(VARIANTS)}")
    replace = section.get("replace", 0 if variant == "grpo" else 1)
    if not isinstance(replace, int) or isinstance(replace, bool) or replace < 0:
        _bad(problems, "replace", replace, "must be an integer >= 0")
    run_dir = section.get("run_dir")
    if run_dir is not None and (not isinstance(run_dir, str) or not run_dir):
        _bad(problems, "run_dir", run_dir, "must be a folder path or null")
    trainer = _get(config, "trainer")
    run_id = section.get("run_id") or _get(trainer, "experiment_name") or "verl-run"
    if not isinstance(run_id, str) or not (1 <= len(run_id) <= 256):
        _bad(problems, "run_id", run_id, "must be a string of 1 to 256 characters")
    verifier = section.get("verifier")
    if verifier is not None and not isinstance(verifier, str):
        _bad(problems, "verifier", verifier, 'must be null (the default verifier), "module:function" or a .py path')
    timeout = section.get("verifier_timeout_s", 5.0)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        _bad(problems, "verifier_timeout_s", timeout, "must be a number > 0")
    workers = section.get("verifier_workers")
    if workers is not None and (not isinstance(workers, int) or isinstance(workers, bool) or workers < 1):
        _bad(problems, "verifier_workers", workers, "must be null (CPU count, at most 8) or an integer >= 1")
    raw_encoder = section.get("encoder") or {}
    if not isinstance(raw_encoder, Mapping):
        _bad(problems, "encoder", raw_encoder, "must be a mapping (path, pooling, strategy, max_length)")
        raw_encoder = {}
    encoder = {"path": None, "pooling": "cls", "strategy": "truncate", "max_length": 512, **raw_encoder}
    for key in encoder:
        if key not in ("path", "pooling", "strategy", "max_length"):
            _bad(problems, f"encoder.{key}", encoder[key], "unknown encoder setting (known: max_length, path, pooling, strategy)")
    if encoder["path"] is not None and not isinstance(encoder["path"], str):
        _bad(problems, "encoder.path", encoder["path"], "must be a folder or model id, or null for all-MiniLM-L6-v2")
    if encoder["pooling"] not in ENCODER_POOLINGS:
        _bad(problems, "encoder.pooling", encoder["pooling"], f"must be one of {', '.join(ENCODER_POOLINGS)}")
    if encoder["strategy"] not in ENCODER_STRATEGIES:
        _bad(problems, "encoder.strategy", encoder["strategy"], f"must be one of {', '.join(ENCODER_STRATEGIES)}")
    if not isinstance(encoder["max_length"], int) or isinstance(encoder["max_length"], bool) or encoder["max_length"] < 3:
        _bad(problems, "encoder.max_length", encoder["max_length"], "must be an integer >= 3")
    seed = section.get("seed", 1)
    if not isinstance(seed, int) or isinstance(seed, bool):
        _bad(problems, "seed", seed, "must be an integer")
    norm = _get(_get(config, "algorithm"), "norm_adv_by_std_in_grpo", True)
    std = "sample" if norm else "none"
    assert std in STD_MODES
    if problems:
        raise VerlSettingsError(problems)
    return VerlSettings(
        variant=variant, replace=replace, run_dir=run_dir, run_id=run_id, verifier=verifier,
        verifier_timeout_s=float(timeout), verifier_workers=workers, encoder=encoder, seed=seed,
        advantage=AdvantageOptions(std=std, eps=VERL_GRPO_EPS),
    )


def trainer_problems(config: Any, settings: VerlSettings) -> list[str]:
    """verl settings the Reward Lens trainer cannot honour, each naming the verl key and its value.

    Its `_compute_advantage` replaces verl's: rewards-with-KL and rollout-correction weights, which
    verl computes there, are not computed. And replacement swaps an online response for a
    teacher's after the old log-probs were computed, so a reference KL loss would see the replaced
    response's reference log-probs.
    """
    problems: list[str] = []
    algorithm = _get(config, "algorithm")
    estimator = str(_get(algorithm, "adv_estimator", "gae"))
    if estimator != "grpo":
        problems.append(f'algorithm.adv_estimator = "{estimator}": the Reward Lens trainer computes GRPO advantages; set algorithm.adv_estimator=grpo')
    if _get(algorithm, "use_kl_in_reward", False):
        problems.append("algorithm.use_kl_in_reward = true: the Reward Lens group step does not add a KL penalty to rewards; set it to false (the paper uses no KL)")
    correction = _get(algorithm, "rollout_correction")
    for key in ("rollout_is", "rollout_rs"):
        value = _get(correction, key)
        if value not in (None, False):
            problems.append(f"algorithm.rollout_correction.{key} = {json.dumps(_plain(value), default=str)}: the Reward Lens group step computes no rollout-correction weights; set it to null")
    if settings.variant != "grpo" and settings.replace > 0:
        actor = _get(_get(config, "actor_rollout_ref"), "actor")
        if _get(actor, "use_kl_loss", False):
            problems.append("actor_rollout_ref.actor.use_kl_loss = true: the reference log-probs of an inserted teacher would be the replaced response's; set it to false (the paper uses no KL)")
        loss_mode = _get(_get(actor, "policy_loss"), "loss_mode", "vanilla")
        if loss_mode != "reward_lens_luffy":
            problems.append(f'actor_rollout_ref.actor.policy_loss.loss_mode = "{loss_mode}": teacher tokens need LUFFY\'s shaping; set it to reward_lens_luffy')
    return problems
