"""TypeScript (onnxruntime-node, `reward-lens embed`) against Python (PyTorch) on the same encoder.

Acceptance of issue 4: 200 texts of mixed length, both strategies, cosine >= 0.9999 per text and
D within 1e-4. Runs on the tiny random BERT the test builds itself and on the packaged
all-MiniLM-L6-v2. Needs dist/cli.js (npm run build; CI's setup builds it) and node on PATH.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from reward_lens.encoder import TextEncoder, divergences, find_minilm, tiny_random_bert  # noqa: E402
from reward_lens.export_encoder import export  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
TRACES = REPO.parent / "shared" / "data" / "traces" / "skythought_aime24_outputs.jsonl"
CLI = REPO / "dist" / "cli.js"
GROUP = 8  # texts per group: the first 4 play online members, the last 4 teachers


def mixed_texts(n: int = 200, max_chars: int = 5200) -> list[str]:
    """Trace cuts of many lengths (from a few characters to several windows), arithmetic lines, edge cases."""
    rows = [json.loads(line) for line in TRACES.read_text(encoding="utf-8").splitlines() if line.strip()]
    sources: list[str] = []
    for r in rows:
        sources.extend([r["code"][0], r["solution"], r["question"]])
    edge = ["", "   \n\t ", "42", "\\boxed{204}", "ünïcödé ∑ ∫ 你好 🙂", "x" * 300]
    arithmetic = [f"What is {a} + {b}? {a} + {b} = {a + b}. The answer is \\boxed{{{a + b}}}." for a, b in zip(range(7, 400, 13), range(3, 900, 29))]
    lengths = [x for x in (12, 60, 240, 700, 1500, 3000, 5200) if x <= max_chars]
    cuts: list[str] = []
    k = 0
    while len(edge) + len(arithmetic[:40]) + len(cuts) < n:
        src = sources[k % len(sources)]
        length = lengths[k % len(lengths)]
        start = (k * 997) % max(1, len(src) - length) if len(src) > length else 0
        cuts.append(src[start : start + length])
        k += 1
    texts = edge + arithmetic[:40] + cuts
    assert len(texts) == n
    return texts


def run_ts(folder: str, texts: list[str], strategy: str, tmp: Path) -> tuple[np.ndarray, list[bool]]:
    node = shutil.which("node")
    assert node, "node is not on PATH"
    assert CLI.is_file(), f"{CLI} is missing: run npm run build"
    inp, out = tmp / f"in-{strategy}.jsonl", tmp / f"out-{strategy}.jsonl"
    inp.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate(texts)), encoding="utf-8")
    proc = subprocess.run(
        [node, str(CLI), "embed", "--encoder", folder, "--in", str(inp), "--out", str(out), "--strategy", strategy],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    recs = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in recs] == list(range(len(texts)))
    return np.array([r["vector"] for r in recs], dtype=np.float64), [r["truncated"] for r in recs]


def group_divergences(vecs: np.ndarray) -> np.ndarray:
    ds = [divergences(vecs[g : g + GROUP // 2], vecs[g + GROUP // 2 : g + GROUP]) for g in range(0, len(vecs), GROUP)]
    return np.concatenate(ds)


def check_parity(src: str, folder: str, pooling: str, max_length: int, tmp: Path, max_chars: int) -> dict[str, float]:
    texts = mixed_texts(max_chars=max_chars)
    figures: dict[str, float] = {}
    for strategy in ("truncate", "chunk-mean"):
        py, py_trunc = TextEncoder(src, pooling=pooling, max_length=max_length, strategy=strategy).embed(texts)
        ts, ts_trunc = run_ts(folder, texts, strategy, tmp)
        assert ts.shape == py.shape
        assert np.all(np.isfinite(ts))
        assert ts_trunc == py_trunc
        if strategy == "truncate":
            assert sum(py_trunc) >= 20, "the texts must exercise truncation"
        cos = np.sum(ts * py, axis=1) / (np.linalg.norm(ts, axis=1) * np.linalg.norm(py, axis=1))
        worst = int(np.argmin(cos))
        assert cos.min() >= 0.9999, f"{strategy}: text {worst} ({len(texts[worst])} chars) has cosine {cos.min():.6f}"
        d_gap = np.abs(group_divergences(ts) - group_divergences(py.astype(np.float64))).max()
        assert d_gap <= 1e-4, f"{strategy}: D differs by {d_gap:.2e}"
        figures[f"{strategy}_min_cos"] = float(cos.min())
        figures[f"{strategy}_max_d_gap"] = float(d_gap)
    # The embeddings must tell texts apart, or agreement would prove nothing.
    spread = py @ py.T
    assert spread[np.triu_indices(len(texts), 1)].min() < 0.9
    return figures


def test_parity_tiny_random_bert(tmp_path: Path) -> None:
    src = tiny_random_bert(tmp_path / "src", seed=11)
    folder = str(tmp_path / "enc")
    export(src, folder, pooling="cls", max_length=64)
    figures = check_parity(src, folder, "cls", 64, tmp_path, max_chars=5200)
    print("tiny parity", figures)


def test_parity_minilm(tmp_path: Path) -> None:
    src = find_minilm()
    folder = str(tmp_path / "minilm")
    # 128-token windows and texts up to 1,500 characters keep a real model's run to CI's budget
    # (2 cores) while still truncating and chunking dozens of texts.
    export(src, folder, pooling="mean", max_length=128)
    figures = check_parity(src, folder, "mean", 128, tmp_path, max_chars=1500)
    print("minilm parity", figures)
