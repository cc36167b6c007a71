"""Protocol-v1 event writing: one JSON object per line of <runDir>/events.jsonl.

Each line goes out in a single os.write on an O_APPEND descriptor, so a crash can leave at most
the last line incomplete, never a half line in the middle; the trainer fsyncs at each step end.
Non-finite floats become null (JSON has no NaN, and the schema's numbers must be finite).
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def finite_or_none(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: finite_or_none(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [finite_or_none(v) for v in x]
    return x


class EventWriter:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.count = 0

    def write(self, event: dict) -> None:
        event = {"v": 1, **finite_or_none(event)}
        event.setdefault("time", now_iso())
        data = (json.dumps(event, ensure_ascii=False, allow_nan=False, separators=(",", ":")) + "\n").encode("utf-8")
        written = os.write(self._fd, data)
        if written != len(data):  # a short write on a regular file means the disk is full
            raise OSError(f"short write to {self.path}: {written} of {len(data)} bytes")
        self.count += 1

    def sync(self) -> None:
        os.fsync(self._fd)

    def close(self) -> None:
        if self._fd >= 0:
            try:
                os.fsync(self._fd)
            finally:
                os.close(self._fd)
                self._fd = -1


@lru_cache(maxsize=1)
def schema() -> dict:
    return json.loads(resources.files("reward_lens").joinpath("schema/events.v1.schema.json").read_text(encoding="utf-8"))


def validate_event(event: dict) -> list[str]:
    """Schema errors of one event (empty when valid). Used by the tests and `--check`."""
    import jsonschema

    validator = jsonschema.Draft7Validator(schema())
    return [f"{'/'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}" for e in validator.iter_errors(event)]
