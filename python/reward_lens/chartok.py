"""A character-level tokenizer built in code, for tiny models created from a config.

No vocabulary file and no download: printable ASCII, newline and tab, plus the reasoning tags as
single tokens so a tiny model can emit the real `<think>...</think> ... \\boxed{}` format cheaply.
"""

from __future__ import annotations

import string

SPECIALS = ("<pad>", "<eos>", "<unk>", "<think>", "</think>")
# Tags matched greedily before single characters (longest first).
_TAGS = ("</think>", "<think>")


class CharTokenizer:
    def __init__(self, alphabet: str | None = None):
        chars = alphabet if alphabet is not None else string.printable.replace("\r", "").replace("\x0b", "").replace("\x0c", "")
        self.itos: list[str] = list(SPECIALS) + [c for c in dict.fromkeys(chars) if c not in SPECIALS]
        self.stoi = {s: i for i, s in enumerate(self.itos)}
        self.pad_token_id = 0
        self.eos_token_id = 1
        self.unk_token_id = 2
        self.unknown_chars = 0

    @property
    def vocab_size(self) -> int:
        return len(self.itos)

    def encode(self, text: str) -> list[int]:
        ids: list[int] = []
        i = 0
        while i < len(text):
            for tag in _TAGS:
                if text.startswith(tag, i):
                    ids.append(self.stoi[tag])
                    i += len(tag)
                    break
            else:
                tid = self.stoi.get(text[i])
                if tid is None:
                    self.unknown_chars += 1
                    tid = self.unk_token_id
                ids.append(tid)
                i += 1
        return ids

    def token_text(self, tid: int) -> str:
        if tid in (self.pad_token_id, self.eos_token_id):
            return ""
        if tid == self.unk_token_id:
            return "?"
        return self.itos[tid]

    def decode(self, ids) -> str:
        return "".join(self.token_text(int(t)) for t in ids)

    def describe(self) -> dict:
        return {"kind": "char", "alphabet": "".join(self.itos[len(SPECIALS):])}
