"""export_encoder writes the folder layout of docs/encoder.md, and the ONNX graph matches PyTorch."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from reward_lens.encoder import EncoderError, TextEncoder, canonical_json, tiny_random_bert  # noqa: E402
from reward_lens.export_encoder import export  # noqa: E402

TEXTS = ["", "What is 2 + 2? It is 4.", "step one: compute 3*7 = 21. " * 30]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    base = tmp_path_factory.mktemp("export")
    src = tiny_random_bert(base / "src")
    out = base / "enc"
    export(src, str(out), pooling="mean", max_length=48, strategy="chunk-mean")
    return src, str(out)


def test_folder_layout_and_config(exported: tuple[str, str]) -> None:
    src, out = exported
    names = sorted(p.name for p in Path(out).iterdir())
    assert names == ["model.onnx", "reward_lens_encoder.json", "tokenizer.json"]
    cfg = json.loads((Path(out) / "reward_lens_encoder.json").read_text())
    assert cfg["pooling"] == "mean" and cfg["max_length"] == 48 and cfg["strategy"] == "chunk-mean"
    assert cfg["normalize"] is True and cfg["dim"] == 32 and cfg["source_model_id"] == src
    assert cfg["opset"] >= 14 and "torch" in cfg["exporter_version"]
    tok = json.loads((Path(out) / "tokenizer.json").read_text())
    assert tok["truncation"] is None and tok["padding"] is None


def test_fingerprint_is_two_level_sha256(exported: tuple[str, str]) -> None:
    _, out = exported
    cfg = json.loads((Path(out) / "reward_lens_encoder.json").read_text())
    digest = hashlib.sha256((Path(out) / "model.onnx").read_bytes()).hexdigest()
    settings = {"max_length": 48, "normalize": True, "pooling": "mean", "strategy": "chunk-mean"}
    expected = hashlib.sha256((digest + "\n" + canonical_json(settings)).encode()).hexdigest()
    assert cfg["model_sha256"] == digest and cfg["fingerprint"] == expected
    assert TextEncoder(out, pooling=None, max_length=None, strategy=None, normalize=None).fingerprint == expected
    # The PyTorch original under the same settings has the fingerprint the folder records as its source.
    src, _ = exported
    torch_side = TextEncoder(src, pooling="mean", max_length=48, strategy="chunk-mean")
    assert torch_side.fingerprint == cfg["source_fingerprint"]


def test_onnx_folder_matches_pytorch(exported: tuple[str, str]) -> None:
    src, out = exported
    for strategy in ("truncate", "chunk-mean"):
        a, ta = TextEncoder(src, pooling="mean", max_length=48, strategy=strategy).embed(TEXTS)
        b, tb = TextEncoder(out, pooling="mean", max_length=48, strategy=strategy).embed(TEXTS)
        assert ta == tb
        assert np.sum(a * b, axis=1).min() > 0.9999


def test_folder_defaults_come_from_its_config(exported: tuple[str, str]) -> None:
    _, out = exported
    enc = TextEncoder(out, pooling=None, max_length=None, strategy=None, normalize=None)
    assert (enc.pooling, enc.max_length, enc.strategy, enc.normalize) == ("mean", 48, "chunk-mean", True)


def test_missing_and_corrupt_files_name_the_file_and_the_command(exported: tuple[str, str], tmp_path: Path) -> None:
    _, out = exported
    for missing in ("model.onnx", "tokenizer.json", "reward_lens_encoder.json"):
        folder = tmp_path / f"no-{missing}"
        folder.mkdir()
        for p in Path(out).iterdir():
            if p.name != missing:
                (folder / p.name).write_bytes(p.read_bytes())
        with pytest.raises(EncoderError) as e:
            TextEncoder(folder, pooling=None, max_length=None, strategy=None, normalize=None)
        assert missing in str(e.value) and "python -m reward_lens.export_encoder" in str(e.value)
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    for p in Path(out).iterdir():
        (corrupt / p.name).write_bytes(p.read_bytes())
    (corrupt / "model.onnx").write_bytes(b"not a model")
    with pytest.raises(EncoderError) as e:
        TextEncoder(corrupt)
    assert "model.onnx" in str(e.value) and "python -m reward_lens.export_encoder" in str(e.value)


def test_cli_writes_the_folder(tmp_path: Path) -> None:
    src = tiny_random_bert(tmp_path / "src", seed=3)
    out = tmp_path / "enc"
    proc = subprocess.run(
        [sys.executable, "-m", "reward_lens.export_encoder", "--model", src, "--out", str(out), "--max-length", "40"],
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["max_length"] == 40 and summary["pooling"] == "cls"
    assert (out / "model.onnx").is_file()


def test_cli_reports_a_missing_model(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "reward_lens.export_encoder", "--model", str(tmp_path / "nothing"), "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert proc.returncode == 1 and "nothing" in proc.stderr
