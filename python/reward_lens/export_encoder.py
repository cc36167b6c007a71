"""Exports a transformers BERT-like encoder to the folder the extension's encoder loads.

    python -m reward_lens.export_encoder --model PATH_OR_ID --out DIR [--pooling cls|mean]
        [--max-length N] [--strategy truncate|chunk-mean]

The folder holds model.onnx (input_ids, attention_mask[, token_type_ids] -> last_hidden_state,
dynamic batch and sequence axes), tokenizer.json (the model's own, with its truncation and
padding switched off) and reward_lens_encoder.json (pooling, max_length, normalize, default
strategy, dim, source model id, opset, exporter version, fingerprints). Pooling stays outside the
graph so both strategies and both poolings run from one export.

The export uses torch's TorchScript-based exporter (dynamo=False): the dynamo exporter that torch
>= 2.9 defaults to needs onnxscript, which is not part of this backend's dependencies. After
writing, the graph is run in onnxruntime on a few texts and compared with PyTorch; the export
fails when any cosine is below 0.9999.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__ as _pkg_version
from .encoder import (
    CONFIG_FILE,
    POOLINGS,
    STRATEGIES,
    EncoderError,
    TextEncoder,
    _sentence_transformers_pooling,
    fingerprint_of,
    settings_of,
    sha256_files,
    weight_files,
)

OPSET = 17
FORMAT_VERSION = 1
_CHECK_TEXTS = [
    "",
    "What is 17 + 25? The answer is 42.",
    "Let x be the number of apples. Then 3x + 4 = 19, so x = 5. " * 12,
]


def resolve_model_dir(model: str) -> Path:
    path = Path(model)
    if path.is_dir():
        return path
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(model))
    except Exception as e:
        raise EncoderError(
            f"model {model!r} is neither a folder nor in the local Hugging Face cache ({e}). "
            "Download it once (e.g. huggingface-cli download " + model + ") or pass a folder."
        ) from e


def _torch_version() -> str:
    import torch

    return torch.__version__


def export(model: str, out: str, pooling: str | None = None, max_length: int | None = None, strategy: str = "truncate", normalize: bool = True) -> dict[str, Any]:
    import torch
    from transformers import AutoModel

    src = resolve_model_dir(model)
    tok_file = src / "tokenizer.json"
    if not tok_file.is_file():
        raise EncoderError(f"{src} has no tokenizer.json; only models with a fast tokenizer can be exported")
    weights = weight_files(src)
    if not weights:
        raise EncoderError(f"{src} has no *.safetensors or pytorch_model*.bin weights")
    if strategy not in STRATEGIES:
        raise EncoderError(f"--strategy must be one of {STRATEGIES}")
    pooling = pooling or _sentence_transformers_pooling(src) or "cls"
    if pooling not in POOLINGS:
        raise EncoderError(f"--pooling must be one of {POOLINGS}")

    # The eager attention exports as plain MatMul/Softmax, which onnxruntime runs 13-15% faster on
    # CPU than the graph traced from PyTorch's fused SDPA (MiniLM, 2 threads; the same vectors).
    # A model without an eager implementation keeps its default.
    try:
        net = AutoModel.from_pretrained(str(src), local_files_only=True, attn_implementation="eager").eval()
    except (ValueError, TypeError):
        net = AutoModel.from_pretrained(str(src), local_files_only=True).eval()
    positions = int(getattr(net.config, "max_position_embeddings", 512))
    max_length = min(int(max_length or 512), positions)
    takes_types = "token_type_ids" in net.forward.__code__.co_varnames

    class LastHidden(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids=None):  # type: ignore[no-untyped-def]
            kw = {"token_type_ids": token_type_ids} if token_type_ids is not None else {}
            return self.inner(input_ids=input_ids, attention_mask=attention_mask, **kw).last_hidden_state

    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    # Write into a temporary folder first so a failed export never leaves a half-valid folder.
    with tempfile.TemporaryDirectory(dir=out_dir.parent, prefix=".export-") as tmp_name:
        tmp = Path(tmp_name)
        ids = torch.tensor([[101, 2000, 2001, 102], [101, 2002, 102, 0]], dtype=torch.long) % net.config.vocab_size
        mask = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]], dtype=torch.long)
        names = ["input_ids", "attention_mask"] + (["token_type_ids"] if takes_types else [])
        args = (ids, mask) + ((torch.zeros_like(ids),) if takes_types else ())
        axes = {n: {0: "batch", 1: "sequence"} for n in names}
        axes["last_hidden_state"] = {0: "batch", 1: "sequence"}
        with torch.no_grad():
            torch.onnx.export(
                LastHidden(net),
                args,
                str(tmp / "model.onnx"),
                input_names=names,
                output_names=["last_hidden_state"],
                dynamic_axes=axes,
                opset_version=OPSET,
                do_constant_folding=True,
                dynamo=False,
            )
        tokenizer = json.loads(tok_file.read_text(encoding="utf-8"))
        tokenizer["truncation"] = None
        tokenizer["padding"] = None
        (tmp / "tokenizer.json").write_text(json.dumps(tokenizer, ensure_ascii=False), encoding="utf-8")
        settings = settings_of(pooling, max_length, strategy, normalize)
        source_digest = sha256_files(weights)
        onnx_digest = sha256_files([tmp / "model.onnx"])
        config = {
            "format_version": FORMAT_VERSION,
            **settings,
            "dim": int(net.config.hidden_size),
            "max_position_embeddings": positions,
            "source_model_id": model,
            "source_model_type": getattr(net.config, "model_type", None),
            "source_weights_sha256": source_digest,
            "source_fingerprint": fingerprint_of(source_digest, settings),
            "model_sha256": onnx_digest,
            "fingerprint": fingerprint_of(onnx_digest, settings),
            "opset": OPSET,
            "exporter_version": f"reward_lens {_pkg_version}; torch {_torch_version()} (torchscript exporter)",
        }
        (tmp / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        check = verify_export(str(src), str(tmp), pooling, max_length)
        config["export_check_min_cosine"] = check
        (tmp / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        for name in ("model.onnx", "tokenizer.json", CONFIG_FILE):
            os.replace(tmp / name, out_dir / name)
        for extra in tmp.iterdir():  # e.g. external-data files a large model may need
            shutil.move(str(extra), str(out_dir / extra.name))
    return config


def verify_export(src: str, folder: str, pooling: str, max_length: int) -> float:
    """Runs the exported graph in onnxruntime beside PyTorch; returns the minimum cosine.

    One strategy suffices: the strategies differ only in code shared by both sides, and the
    check texts already include padding, an empty text and a text longer than one window.
    """
    ref, _ = TextEncoder(src, pooling=pooling, max_length=max_length, strategy="truncate", normalize=True).embed(_CHECK_TEXTS)
    got, _ = TextEncoder(folder, pooling=pooling, max_length=max_length, strategy="truncate", normalize=True).embed(_CHECK_TEXTS)
    cos = np.sum(ref.astype(np.float64) * got.astype(np.float64), axis=1)
    worst = float(cos.min())
    if not np.all(np.isfinite(got)) or worst < 0.9999:
        raise EncoderError(f"the exported graph disagrees with PyTorch (min cosine {worst:.6f})")
    return round(worst, 7)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m reward_lens.export_encoder", description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="transformers model folder or hub id (from the local cache)")
    ap.add_argument("--out", required=True, help="encoder folder to write")
    ap.add_argument("--pooling", choices=POOLINGS, default=None, help="default: the model's sentence-transformers pooling, else cls")
    ap.add_argument("--max-length", type=int, default=None, help="tokens per forward pass, [CLS]/[SEP] included (default 512, capped by the model)")
    ap.add_argument("--strategy", choices=STRATEGIES, default="truncate", help="default long-text strategy recorded in the folder")
    ap.add_argument("--no-normalize", action="store_true", help="record normalize=false (truncate strategy only)")
    ns = ap.parse_args(argv)
    try:
        config = export(ns.model, ns.out, ns.pooling, ns.max_length, ns.strategy, not ns.no_normalize)
    except EncoderError as e:
        print(f"export_encoder: {e}", file=sys.stderr)
        return 1
    print(json.dumps({"out": ns.out, **config}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
