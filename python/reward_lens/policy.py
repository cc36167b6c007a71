"""The policy: a causal LM with its tokenizer, prompt formatting and sampling.

`model` in the config is either a local path (loaded with transformers, nothing downloaded:
HF_HUB_OFFLINE is honoured by transformers itself) or {"tiny": {...}}: a random Qwen2 or GPT-2
created from a config with the character tokenizer of chartok.py (tests and the CPU demo).
Log-probs and entropies of responses come from logprobs.py.
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch

from .chartok import CharTokenizer
from .config import PAPER_PLAIN_TEMPLATE, TrainConfig


class TokenizerAdapter:
    """One interface over the char tokenizer and HF tokenizers (encode without special tokens)."""

    def __init__(self, tok: Any, kind: str):
        self.tok = tok
        self.kind = kind
        if kind == "hf":
            if tok.pad_token_id is None:
                tok.pad_token = tok.eos_token
            self.eos_token_id = tok.eos_token_id
            self.pad_token_id = tok.pad_token_id
            self.vocab_size = len(tok)
        else:
            self.eos_token_id = tok.eos_token_id
            self.pad_token_id = tok.pad_token_id
            self.vocab_size = tok.vocab_size

    def encode(self, text: str) -> list[int]:
        if self.kind == "hf":
            return self.tok.encode(text, add_special_tokens=False)
        return self.tok.encode(text)

    def decode(self, ids: list[int]) -> str:
        if self.kind == "hf":
            return self.tok.decode(ids, skip_special_tokens=True)
        return self.tok.decode(ids)

    def char_offsets(self, ids: list[int], positions: list[int]) -> list[int]:
        """Character offset in decode(ids) where each token at `positions` starts."""
        if self.kind != "hf":
            out, acc, want = [], 0, set(positions)
            for i, t in enumerate(ids):
                if i in want:
                    out.append(acc)
                acc += len(self.tok.token_text(int(t)))
            return out
        # Subword decoding is not additive (merges, byte fallback): decode each prefix instead.
        return [len(self.tok.decode(ids[:p], skip_special_tokens=True)) for p in positions]

    def entropy_offsets(self, ids: list[int], positions: list[int], text_len: int) -> tuple[list[int], list[int]]:
        """(positions kept, their character offsets) for per-token entropies inside the text.

        The viewer reads token i as covering [offsets[i], offsets[i+1]) and drops an offset outside
        the text or not above the previous one. A token that decodes to nothing (EOS, a special
        token) would sit at len(text), and byte-level tokens of one character share an offset: such
        a token is placed on the text's last character, and where two kept tokens would share an
        offset the later one stays (the last one is H_last's, the one OGER uses).
        """
        if text_len <= 0 or not positions:
            return [], []
        raw = [min(o, text_len - 1) for o in self.char_offsets(ids, positions)]
        kept_pos: list[int] = []
        kept_off: list[int] = []
        for p, o in zip(reversed(positions), reversed(raw)):
            if kept_off and o >= kept_off[-1]:
                continue
            kept_pos.append(p)
            kept_off.append(o)
        return kept_pos[::-1], kept_off[::-1]

    def format_prompt(self, question: str, system: str, template: str | None, ends_with: str = "") -> str:
        """The prompt text, ending with `ends_with` exactly once (LUFFY: the opening "<think>\\n").

        Without a template and with a chat template, the chat template's generation prompt (its
        assistant header) comes first; LUFFY's Qwen2.5-Math "-think" template already ends with the
        opening tag, in which case nothing is added.
        """
        if template is None and self.kind == "hf" and getattr(self.tok, "chat_template", None):
            msgs = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": question}]
            text = self.tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
        else:
            text = (template or PAPER_PLAIN_TEMPLATE).replace("{system}", system).replace("{question}", question)
        if ends_with and not text.endswith(ends_with):
            text += ends_with
        return text


def _tiny_model(spec: dict, vocab_size: int, pad_id: int, eos_id: int):
    from transformers import GPT2Config, GPT2LMHeadModel, Qwen2Config, Qwen2ForCausalLM

    arch = spec.get("arch", "qwen2")
    hidden = int(spec.get("hidden_size", 128))
    layers = int(spec.get("layers", 2))
    heads = int(spec.get("heads", 4))
    max_pos = int(spec.get("max_positions", 512))
    if arch == "gpt2":
        conf = GPT2Config(vocab_size=vocab_size, n_positions=max_pos, n_embd=hidden, n_layer=layers, n_head=heads, bos_token_id=eos_id, eos_token_id=eos_id, pad_token_id=pad_id)
        return GPT2LMHeadModel(conf)
    conf = Qwen2Config(
        vocab_size=vocab_size,
        hidden_size=hidden,
        intermediate_size=int(spec.get("intermediate_size", hidden * 4)),
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=int(spec.get("kv_heads", heads)),
        max_position_embeddings=max_pos,
        tie_word_embeddings=bool(spec.get("tie_embeddings", True)),
        bos_token_id=eos_id,
        eos_token_id=eos_id,
        pad_token_id=pad_id,
        rope_theta=float(spec.get("rope_theta", 10000.0)),
    )
    return Qwen2ForCausalLM(conf)


def pick_device(cfg: TrainConfig) -> torch.device:
    if cfg.device == "cuda" or (cfg.device == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise RuntimeError("config.device = \"cuda\" but no CUDA device is visible")
        return torch.device("cuda")
    return torch.device("cpu")


def describe_model(cfg: TrainConfig) -> str:
    if isinstance(cfg.model, dict):
        t = cfg.model["tiny"]
        return f"tiny-{t.get('arch', 'qwen2')}-h{t.get('hidden_size', 128)}-l{t.get('layers', 2)}-char"
    return str(cfg.model)


def build_policy(cfg: TrainConfig, device: torch.device):
    """(model, TokenizerAdapter) on the device, with LoRA and gradient checkpointing as configured."""
    if isinstance(cfg.model, dict):
        spec = cfg.model["tiny"]
        tok = TokenizerAdapter(CharTokenizer(spec.get("alphabet")), "char")
        model = _tiny_model(spec, tok.vocab_size, tok.pad_token_id, tok.eos_token_id)
    else:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tok = TokenizerAdapter(AutoTokenizer.from_pretrained(cfg.model), "hf")
        # float32 master weights; bf16 comes from autocast on CUDA (`dtype=`: transformers >= 4.56).
        model = AutoModelForCausalLM.from_pretrained(cfg.model, dtype=torch.float32)
    if cfg.gradient_checkpointing:
        # Non-reentrant checkpointing lets gradients reach parameters whose layer inputs do not
        # require grad (LoRA adapters on a frozen base); the input-grad hook covers the reentrant
        # variant and older transformers alike.
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        if hasattr(model, "config"):
            model.config.use_cache = False
        if cfg.lora and hasattr(model, "enable_input_require_grads"):
            model.enable_input_require_grads()
    if cfg.lora:
        try:
            from peft import LoraConfig, get_peft_model
        except ImportError as e:
            raise RuntimeError("config.lora is set but peft is not installed (pip install 'reward-lens[gpu]')") from e
        lcfg = LoraConfig(
            r=int(cfg.lora.get("r", 16)),
            lora_alpha=int(cfg.lora.get("alpha", 32)),
            lora_dropout=float(cfg.lora.get("dropout", 0.0)),
            target_modules=cfg.lora.get("target_modules", ["q_proj", "k_proj", "v_proj", "o_proj"]),
            task_type="CAUSAL_LM",
        )
        model = get_peft_model(model, lcfg)
    model.to(device)
    return model, tok


def autocast(cfg: TrainConfig, device: torch.device):
    if device.type == "cuda" and cfg.bf16:
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


def _generation_owner(model):
    get_base = getattr(model, "get_base_model", None)
    return get_base() if callable(get_base) else model


@contextlib.contextmanager
def neutral_generation_config(model, tok: TokenizerAdapter):
    """The model folder's generation_config set aside for one generate call.

    transformers fills every setting a call leaves unset from `model.generation_config`: a
    checkpoint's repetition_penalty, top_k, min_p, suppress_tokens or extra EOS ids would bend the
    distribution we sample from, and H_last would no longer be its entropy. vLLM is started with
    generation_config="vllm" for the same reason.
    """
    from transformers import GenerationConfig

    owner = _generation_owner(model)
    saved = getattr(owner, "generation_config", None)
    owner.generation_config = GenerationConfig(bos_token_id=getattr(saved, "bos_token_id", None), eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    try:
        yield
    finally:
        owner.generation_config = saved


@torch.no_grad()
def sample(model, tok: TokenizerAdapter, prompts: list[list[int]], n: int, temperature: float, top_p: float, max_new_tokens: int, cfg: TrainConfig, device) -> list[list[list[int]]]:
    """N responses per prompt (token ids, EOS kept when generated). Greedy when temperature is 0."""
    was_training = model.training
    model.eval()
    width = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), width), tok.pad_token_id, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for i, p in enumerate(prompts):  # left padding, as decoder-only generation needs
        ids[i, width - len(p):] = torch.tensor(p, dtype=torch.long)
        mask[i, width - len(p):] = 1
    kwargs: dict[str, Any] = dict(
        input_ids=ids.to(device),
        attention_mask=mask.to(device),
        max_new_tokens=max_new_tokens,
        pad_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id,
        num_return_sequences=n,
        use_cache=True,
    )
    if temperature > 0:
        # top_k=0: the exact tempered distribution, so H_last is the entropy we sampled from.
        kwargs.update(do_sample=True, temperature=temperature, top_p=top_p, top_k=0)
    else:
        kwargs.update(do_sample=False)
    with autocast(cfg, device), neutral_generation_config(model, tok):
        out = model.generate(**kwargs)
    if was_training:
        model.train()
    gen = out[:, width:].tolist()
    result: list[list[list[int]]] = []
    for i in range(len(prompts)):
        group = []
        for seq in gen[i * n:(i + 1) * n]:
            resp: list[int] = []
            for t in seq:
                resp.append(t)
                if t == tok.eos_token_id:
                    break
            while resp and resp[-1] == tok.pad_token_id and tok.pad_token_id != tok.eos_token_id:
                resp.pop()
            group.append(resp)
        result.append(group)
    return result
