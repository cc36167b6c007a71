"""Prompt sets: JSONL or Parquet rows with a prompt, a gold answer and teacher trajectories.

Accepted row layouts (unknown columns are ignored):
- ours: {"id"?, "prompt" | "question" | "problem", "gold" | "answer", "teachers": [{"teacher", "text"}]}
- LUFFY's parquet: prompt = [system, user] messages, target = [{role, content}] or target_lst = [[...]],
  reward_model = {ground_truth}. Its teacher name is unknown, so it is recorded as "target".
Rows that cannot be used are counted with the reason, never fatal.

A teacher trace is a whole assistant message, so it usually opens with "<think>\n"; when the
prompt already ends with that opening, `teacher_response` strips it (LUFFY's `_process_target`),
so the policy is taught to continue the prompt, not to open its reasoning a second time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Teacher:
    name: str
    text: str  # the trace as the data gives it
    # Set by the trainer: the part that follows the prompt (`teacher_response`) and its token ids,
    # EOS included. Verified, embedded, trained on and logged as this response.
    response: str = ""
    ids: list[int] = field(default_factory=list)


@dataclass
class PromptItem:
    id: str
    question: str
    gold: str
    teachers: list[Teacher] = field(default_factory=list)
    # A system prompt carried by the row itself (LUFFY layout); None means the config's.
    system: str | None = None
    # Set by the trainer: the formatted prompt and its (left-truncated) token ids.
    prompt_text: str = ""
    prompt_ids: list[int] = field(default_factory=list)


@dataclass
class LoadReport:
    rows: int = 0
    kept: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, why: str) -> None:
        self.skipped[why] = self.skipped.get(why, 0) + 1


def _read_rows(path: Path) -> list[Any]:
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    rows: list[Any] = []
    with path.open(encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                rows.append(None)
    return rows


def _message_text(m: Any) -> str | None:
    if isinstance(m, dict) and isinstance(m.get("content"), str):
        return m["content"]
    return m if isinstance(m, str) else None


def _teachers_from_row(row: dict) -> list[Teacher]:
    out: list[Teacher] = []
    raw = row.get("teachers")
    if isinstance(raw, list):
        for k, t in enumerate(raw):
            if isinstance(t, dict) and isinstance(t.get("text"), str):
                out.append(Teacher(str(t.get("teacher") or t.get("name") or f"teacher{k}"), t["text"]))
            elif isinstance(t, str):
                out.append(Teacher(f"teacher{k}", t))
    lst = row.get("target_lst")
    if isinstance(lst, list):
        for t in lst:
            for m in t if isinstance(t, list) else [t]:
                text = _message_text(m)
                if text:
                    out.append(Teacher("target", text))
    elif isinstance(row.get("target"), list):
        for m in row["target"]:
            text = _message_text(m)
            if text:
                out.append(Teacher("target", text))
    return out


def parse_row(row: Any, index: int, report: LoadReport) -> PromptItem | None:
    if not isinstance(row, dict):
        report.skip("not a JSON object")
        return None
    system = None
    prompt = row.get("prompt", row.get("question", row.get("problem")))
    if isinstance(prompt, list):  # LUFFY: [system, user]
        system = next((_message_text(m) for m in prompt if isinstance(m, dict) and m.get("role") == "system"), None)
        prompt = next((_message_text(m) for m in prompt if isinstance(m, dict) and m.get("role") == "user"), None)
    if not isinstance(prompt, str) or not prompt.strip():
        report.skip("no prompt/question/problem text")
        return None
    gold = row.get("gold", row.get("answer"))
    rm = row.get("reward_model")
    if gold is None and isinstance(rm, dict):
        gold = rm.get("ground_truth")
    if isinstance(gold, (int, float)) and not isinstance(gold, bool):
        gold = str(gold)
    if not isinstance(gold, str) or not gold.strip():
        report.skip("no gold/answer/reward_model.ground_truth")
        return None
    pid = row.get("id", row.get("prompt_id"))
    if pid is None and isinstance(row.get("extra_info"), dict):
        pid = row["extra_info"].get("index")
    pid = str(pid) if pid is not None and str(pid) else f"p{index}"
    return PromptItem(pid[:200], prompt, gold, _teachers_from_row(row), system)


def teacher_response(prompt_text: str, teacher_text: str, opening: str) -> str:
    """The part of a teacher trace that follows the prompt (LUFFY's `_process_target`).

    When the prompt ends with the opening (e.g. "<think>\\n") and the trace starts with it, the
    trace's copy is dropped; otherwise the trace is used as it is.
    """
    if opening and prompt_text.endswith(opening) and teacher_text.startswith(opening):
        return teacher_text[len(opening):]
    return teacher_text


def load_prompts(path: str | Path) -> tuple[list[PromptItem], LoadReport]:
    report = LoadReport()
    items: list[PromptItem] = []
    seen: dict[str, int] = {}
    for i, row in enumerate(_read_rows(Path(path))):
        report.rows += 1
        item = parse_row(row, i, report)
        if item is None:
            continue
        if item.id in seen:  # duplicate ids would merge two prompts in the store
            seen[item.id] += 1
            item.id = f"{item.id}#{seen[item.id]}"
        else:
            seen[item.id] = 0
        items.append(item)
    report.kept = len(items)
    return items, report
