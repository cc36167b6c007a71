"""The Python half of the encoder contract (docs/encoder.md) on a tiny random BERT."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from reward_lens.encoder import (  # noqa: E402
    EncoderError,
    TextEncoder,
    divergences,
    find_minilm,
    tiny_random_bert,
)

TEXTS = [
    "What is 17 + 25? The answer is 42.",
    "let x be 5 then x^2 = 25",
    "wait, check: 17*3 = 51, so the product is 51",
    "zebra quantum lattice",
    "Therefore the final answer is \\boxed{204}. " * 20,
]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> str:
    return tiny_random_bert(tmp_path_factory.mktemp("tiny"))


def test_shapes_dtype_and_unit_norm(tiny: str) -> None:
    enc = TextEncoder(tiny, pooling="cls", max_length=32)
    vecs, truncated = enc.embed(TEXTS)
    assert vecs.shape == (len(TEXTS), 32) and vecs.dtype == np.float32
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert truncated == [False, False, False, False, True]


def test_random_model_tells_texts_apart(tiny: str) -> None:
    # A parity test on a model that maps every text to one vector would prove nothing.
    vecs, _ = TextEncoder(tiny, pooling="cls", max_length=32).embed(TEXTS)
    sims = vecs @ vecs.T
    assert sims[np.triu_indices(len(TEXTS), 1)].min() < 0.98


def test_empty_and_whitespace_are_the_empty_input_vector(tiny: str) -> None:
    for strategy in ("truncate", "chunk-mean"):
        enc = TextEncoder(tiny, pooling="mean", max_length=32, strategy=strategy)
        vecs, truncated = enc.embed(["", "   \n\t ", "a"])
        assert np.all(np.isfinite(vecs))
        np.testing.assert_allclose(vecs[0], vecs[1], atol=1e-6)
        assert np.abs(vecs[0] - vecs[2]).max() > 1e-3
        assert truncated[:2] == [False, False]
        direct = enc._forward([[]])[0]
        np.testing.assert_allclose(vecs[0], direct / np.linalg.norm(direct), atol=1e-5)


def test_batching_by_length_does_not_change_vectors(tiny: str) -> None:
    enc = TextEncoder(tiny, pooling="mean", max_length=32, strategy="chunk-mean")
    one, _ = enc.embed(TEXTS, batch_size=1)
    many, _ = enc.embed(TEXTS, batch_size=64)
    np.testing.assert_allclose(one, many, atol=1e-5)


def test_chunk_mean_is_the_token_weighted_mean_of_unit_windows(tiny: str) -> None:
    enc = TextEncoder(tiny, pooling="cls", max_length=16, strategy="chunk-mean")
    text = TEXTS[4]
    ids = enc.token_ids([text])[0]
    windows = [ids[i : i + 14] for i in range(0, len(ids), 14)]
    assert len(windows) > 2
    pooled = enc._forward(windows).astype(np.float64)
    unit = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
    expected = (unit * np.array([len(w) for w in windows])[:, None]).sum(axis=0)
    expected /= np.linalg.norm(expected)
    got, truncated = enc.embed([text])
    np.testing.assert_allclose(got[0], expected, atol=1e-5)
    assert truncated == [False]


def test_truncate_keeps_the_first_window(tiny: str) -> None:
    trunc = TextEncoder(tiny, pooling="cls", max_length=16, strategy="truncate")
    ids = trunc.token_ids([TEXTS[4]])[0]
    first = trunc._forward([ids[:14]])[0]
    got, truncated = trunc.embed([TEXTS[4]])
    np.testing.assert_allclose(got[0], first / np.linalg.norm(first), atol=1e-5)
    assert truncated == [True]


def test_short_text_same_under_both_strategies(tiny: str) -> None:
    a, _ = TextEncoder(tiny, max_length=64, strategy="truncate").embed(TEXTS[:4])
    b, _ = TextEncoder(tiny, max_length=64, strategy="chunk-mean").embed(TEXTS[:4])
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_normalize_false_keeps_raw_pooled_vector(tiny: str) -> None:
    raw, _ = TextEncoder(tiny, pooling="mean", max_length=32, normalize=False).embed(TEXTS[:2])
    assert np.abs(np.linalg.norm(raw, axis=1) - 1.0).max() > 1e-3


def test_fingerprint_and_describe(tiny: str) -> None:
    a = TextEncoder(tiny, pooling="cls", max_length=32, strategy="truncate")
    b = TextEncoder(tiny, pooling="cls", max_length=32, strategy="chunk-mean")
    c = TextEncoder(tiny, pooling="cls", max_length=32, strategy="truncate")
    assert a.fingerprint == c.fingerprint and a.fingerprint != b.fingerprint
    assert len(a.fingerprint) == 64
    d = a.describe()
    assert set(d) >= {"id", "strategy", "pooling", "max_length", "fingerprint"}
    assert d["strategy"] == "truncate" and d["max_length"] == 32 and d["fingerprint"] == a.fingerprint


def test_max_length_is_capped_by_position_embeddings(tiny: str) -> None:
    assert TextEncoder(tiny, max_length=100000).max_length == 512


def test_bad_settings_are_refused(tiny: str) -> None:
    with pytest.raises(EncoderError, match="pooling"):
        TextEncoder(tiny, pooling="max")
    with pytest.raises(EncoderError, match="strategy"):
        TextEncoder(tiny, strategy="sliding")


def test_divergences_match_the_definition() -> None:
    rng = np.random.default_rng(0)
    on, off = rng.normal(size=(3, 8)), rng.normal(size=(4, 8))
    on_u = on / np.linalg.norm(on, axis=1, keepdims=True)
    off_u = off / np.linalg.norm(off, axis=1, keepdims=True)
    expected = 1 - (on_u @ off_u.T).mean(axis=1)
    np.testing.assert_allclose(divergences(on, off), expected, atol=1e-12)


def test_find_minilm_is_the_packaged_model() -> None:
    path = Path(find_minilm())
    assert (path / "tokenizer.json").is_file()
    assert json.loads((path / "config.json").read_text())["hidden_size"] == 384
    enc = TextEncoder(path, pooling=None, max_length=128)
    assert enc.pooling == "mean"
    vecs, _ = enc.embed(["The answer is 42.", "The result equals forty-two.", "Bananas are yellow."])
    sims = vecs @ vecs.T
    assert sims[0, 1] > sims[0, 2]
