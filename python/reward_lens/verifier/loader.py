"""Resolving a verifier spec to a function, and the identity (content hash) a verdict set is stored under.

A spec is one of:
- None or "default": the backend's default verifier (LUFFY format gate + Math-Verify);
- "package.module:function": any importable function `f(response, gold)`;
- a path to a `.py` file whose `verify(response, gold)` function is used (a workspace verifier).

A verifier returns a bool or a dict with `correct` (True/False/None), and optionally `reason` and
`extracted`. `normalize_result` turns whatever it returned, or raised, into the one result shape.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

VerifyFn = Callable[[str, str], Any]

DEFAULT_NAMES = (None, "", "default")


def is_file_spec(spec: str) -> bool:
    return spec.endswith(".py") or os.sep in spec or (os.altsep is not None and os.altsep in spec)


def _load_file_module(path: Path):
    # A fresh, path-derived module name so two workspace verifiers never share a sys.modules slot,
    # and so an edited file is re-read by a new worker rather than served from an import cache.
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:12]
    name = f"_reward_lens_workspace_verifier_{digest}"
    module_spec = importlib.util.spec_from_file_location(name, path)
    if module_spec is None or module_spec.loader is None:
        raise ImportError(f"cannot load verifier file {path}")
    module = importlib.util.module_from_spec(module_spec)
    # The workspace verifier may import helpers that sit beside it.
    parent = str(path.parent)
    if parent not in sys.path:
        sys.path.insert(0, parent)
    sys.modules[name] = module
    module_spec.loader.exec_module(module)
    return module


def load_function(spec: str | None) -> VerifyFn:
    if spec in DEFAULT_NAMES:
        from . import default

        return default.verify
    assert spec is not None
    if is_file_spec(spec):
        path = Path(spec).expanduser().resolve()
        if not path.is_file():
            raise FileNotFoundError(f"verifier file not found: {spec}")
        module = _load_file_module(path)
        fn = getattr(module, "verify", None)
        if not callable(fn):
            raise AttributeError(f"{spec} defines no verify(response, gold) function")
        return fn
    module_name, sep, function_name = spec.partition(":")
    if not sep or not module_name or not function_name:
        raise ValueError(f"verifier spec {spec!r} is neither a .py path nor module:function")
    module = importlib.import_module(module_name)
    fn = getattr(module, function_name, None)
    if not callable(fn):
        raise AttributeError(f"{module_name} has no callable {function_name}")
    return fn


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def verifier_identity(spec: str | None) -> dict[str, Any]:
    """{id, name, path}: id is the sha256 of the verifier's source, so an edit is a new identity.

    For a file it is the hash of the file's bytes (the extension hashes the same bytes). For
    module:function it is the hash of the module's source followed by the function name, since one
    module may hold several verifiers.
    """
    if spec in DEFAULT_NAMES:
        from . import default

        path = Path(default.__file__).resolve()
        return {"id": _sha256(path.read_bytes()), "name": "default", "path": str(path)}
    assert spec is not None
    if is_file_spec(spec):
        path = Path(spec).expanduser().resolve()
        return {"id": _sha256(path.read_bytes()), "name": path.name, "path": str(path)}
    module_name, _, function_name = spec.partition(":")
    module = importlib.import_module(module_name)
    source_path = getattr(module, "__file__", None)
    if source_path is None:
        raise ValueError(f"module {module_name} has no source file to hash")
    data = Path(source_path).read_bytes() + b"\n#" + function_name.encode()
    return {"id": _sha256(data), "name": spec, "path": str(Path(source_path).resolve())}


def error_result(reason: str) -> dict[str, Any]:
    return {"correct": None, "reason": reason, "extracted": None}


def normalize_result(value: Any) -> dict[str, Any]:
    """A verifier's return value as {correct, reason, extracted}; anything unusable is an error."""
    if isinstance(value, bool):
        return {"correct": value, "reason": "match" if value else "mismatch", "extracted": None}
    if isinstance(value, dict):
        correct = value.get("correct", value.get("score"))
        if isinstance(correct, (int, float)) and not isinstance(correct, bool) and correct in (0, 1):
            correct = bool(correct)
        if correct is not None and not isinstance(correct, bool):
            return error_result(f"error: verifier returned correct={correct!r} (expected true, false or null)")
        reason = value.get("reason")
        if reason is None:
            reason = "match" if correct else ("mismatch" if correct is False else "error: verifier returned correct=None")
        extracted = value.get("extracted")
        return {"correct": correct, "reason": str(reason), "extracted": None if extracted is None else str(extracted)}
    return error_result(f"error: verifier returned {type(value).__name__} (expected bool or dict)")


def call_verifier(fn: VerifyFn, response: Any, gold: Any) -> dict[str, Any]:
    if not isinstance(response, str) or not isinstance(gold, str):
        return error_result("error: response and gold must be strings")
    try:
        return normalize_result(fn(response, gold))
    except Exception as exc:  # noqa: BLE001 - any verifier exception is a verdict of its own
        frame = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
        where = f" at {Path(frame[0].filename).name}:{frame[0].lineno}" if frame else ""
        message = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
        return error_result(f"error: {type(exc).__name__}{': ' + message if message else ''}{where}")
