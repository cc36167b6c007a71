"""What each reward variant does, from the data file the TypeScript core reads too (variants.json).

The shared vectors (test/vectors/reward_cases.json, from an independent naive implementation)
check every trait in both languages.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

REPLACEMENTS = ("none", "last", "lowest-divergence")


@dataclass(frozen=True)
class VariantTraits:
    offline_members: bool
    """teacher trajectories join the group"""
    replacement: str
    """which online members the teachers replace: none, last (LUFFY) or lowest-divergence (OGER)"""
    exploration_reward: bool
    """correct online members earn R_OGER = D * confidence"""
    entropy_confidence: bool
    """confidence is exp(-H_last) (else 1), so last_token_entropy is required"""
    needs_encoder: bool
    """members need embeddings, to compute D"""


def _load() -> dict[str, VariantTraits]:
    data = json.loads((Path(__file__).with_name("variants.json")).read_text(encoding="utf-8"))
    out: dict[str, VariantTraits] = {}
    for name, t in data["variants"].items():
        for key in ("offline_members", "exploration_reward", "entropy_confidence", "needs_encoder"):
            if not isinstance(t.get(key), bool):
                raise ValueError(f"variants.json: {name}.{key} must be true or false, got {t.get(key)!r}")
        if t.get("replacement") not in REPLACEMENTS:
            raise ValueError(f"variants.json: {name}.replacement must be one of {', '.join(REPLACEMENTS)}, got {t.get('replacement')!r}")
        out[name] = VariantTraits(t["offline_members"], t["replacement"], t["exploration_reward"], t["entropy_confidence"], t["needs_encoder"])
    return out


VARIANT_TRAITS: dict[str, VariantTraits] = _load()
VARIANTS: tuple[str, ...] = tuple(VARIANT_TRAITS)


def uses_offline(variant: str) -> bool:
    return VARIANT_TRAITS[variant].offline_members


def uses_divergence_replacement(variant: str) -> bool:
    return VARIANT_TRAITS[variant].replacement == "lowest-divergence"


def gives_exploration_reward(variant: str) -> bool:
    return VARIANT_TRAITS[variant].exploration_reward


def uses_entropy_confidence(variant: str) -> bool:
    return VARIANT_TRAITS[variant].entropy_confidence


def needs_encoder(variant: str) -> bool:
    return VARIANT_TRAITS[variant].needs_encoder
