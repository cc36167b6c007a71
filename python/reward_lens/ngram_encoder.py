"""A cheap deterministic text encoder: signed hashed character n-grams, L2-normalised.

For studies that need many OGER runs on a CPU, where a transformer encoder would cost more than
the policy (all-MiniLM-L6-v2 took ~2.3 s of a ~6.5 s step on the study's task). It measures
surface form, not meaning: two traces that reason the same way in the same words are close, a
different strategy is far. Selected with `encoder: {"kind": "hashed-ngrams", ...}`.

Definition (pinned; a change here is a change of every vector):
- the text is cut to its first `max_length` characters (`truncated` is True when it was longer);
- every character n-gram for n in [ngram_min, ngram_max] (Python str slices, so code points);
- h = zlib.crc32 of the n-gram's UTF-8 bytes; bucket = h mod dim; sign = +1 if bit 31 of h is 0
  else -1 (signed feature hashing: collisions cancel on average instead of adding up);
- the vector is the signed count per bucket, L2-normalised; a text with no n-grams (empty) is
  the zero vector, which has cosine 0 with everything (docs/conventions.md).
The fingerprint is the sha256 of the canonical JSON of these settings, so a run's logged encoder
says exactly which vectors it used.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np

KIND = "hashed-ngrams"


class NgramEncoder:
    def __init__(self, dim: int = 256, ngram_min: int = 2, ngram_max: int = 4, max_length: int = 4096):
        for name, v, lo in (("dim", dim, 1), ("ngram_min", ngram_min, 1), ("ngram_max", ngram_max, 1), ("max_length", max_length, 1)):
            if not isinstance(v, int) or isinstance(v, bool) or v < lo:
                raise ValueError(f"encoder.{name} = {v!r}: must be an integer >= {lo}")
        if ngram_max < ngram_min:
            raise ValueError(f"encoder.ngram_max = {ngram_max}: must be >= ngram_min ({ngram_min})")
        self.dim, self.ngram_min, self.ngram_max, self.max_length = dim, ngram_min, ngram_max, max_length
        self.settings = {"kind": KIND, "dim": dim, "ngram_min": ngram_min, "ngram_max": ngram_max, "max_length": max_length}
        canon = json.dumps(self.settings, sort_keys=True, separators=(",", ":"))
        self.fingerprint = hashlib.sha256(canon.encode("utf-8")).hexdigest()
        self._cache: dict[str, tuple[int, float]] = {}

    def _feature(self, gram: str) -> tuple[int, float]:
        f = self._cache.get(gram)
        if f is None:
            h = zlib.crc32(gram.encode("utf-8", "surrogatepass"))
            f = (h % self.dim, -1.0 if h & 0x80000000 else 1.0)
            if len(self._cache) < 1_000_000:
                self._cache[gram] = f
        return f

    def vector(self, text: str) -> tuple[np.ndarray, bool]:
        truncated = len(text) > self.max_length
        t = text[: self.max_length]
        v = np.zeros(self.dim, dtype=np.float64)
        for n in range(self.ngram_min, self.ngram_max + 1):
            for i in range(len(t) - n + 1):
                b, s = self._feature(t[i : i + n])
                v[b] += s
        norm = float(np.linalg.norm(v))
        if norm > 0:
            v /= norm
        return v.astype(np.float32), truncated

    def embed(self, texts: Sequence[str], batch_size: int = 32) -> tuple[np.ndarray, list[bool]]:
        """Same contract as encoder.TextEncoder.embed; batch_size is accepted and unused."""
        del batch_size
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        truncs: list[bool] = []
        for i, text in enumerate(texts):
            out[i], tr = self.vector(text)
            truncs.append(tr)
        return out, truncs

    def describe(self) -> dict[str, Any]:
        # run_start.encoder: `id` names the kind and settings; `strategy` is protocol v1's truncate
        # (the first max_length characters); no pooling, since there is no model.
        return {
            "id": f"{KIND}:dim={self.dim},n={self.ngram_min}-{self.ngram_max}",
            "strategy": "truncate",
            "max_length": self.max_length,
            "normalize": True,
            "fingerprint": self.fingerprint,
        }
