"""Config validation: every bad field is named with its value, before anything starts."""

import json

import pytest

from reward_lens.config import ConfigError, from_dict, load

# A tiny model has 512 positions unless its spec says otherwise: prompt + response must fit.
FITS_512 = {"max_prompt_tokens": 256, "max_new_tokens": 256}


@pytest.fixture
def data_file(tmp_path):
    f = tmp_path / "prompts.jsonl"
    f.write_text(json.dumps({"prompt": "1+1", "gold": "2"}) + "\n")
    return str(f)


def test_valid_config_passes(data_file):
    cfg = from_dict({"model": {"tiny": {"arch": "qwen2", "hidden_size": 32, "layers": 1, "heads": 2}}, "data": data_file, "replace": 2, **FITS_512})
    assert cfg.replace == 2 and cfg.advantage == {"std": "sample", "eps": 1e-6}


@pytest.mark.parametrize(
    "patch, message",
    [
        ({"replace": -1}, "config.replace = -1: must be an integer >= 0"),
        ({"variant": "ppo"}, 'config.variant = "ppo": must be one of grpo, luffy, oger, oger-no-refine, oger-no-reward'),
        ({"advantage": {"std": "mad"}}, 'config.advantage.std = "mad": must be one of sample, population, none'),
        ({"temperature": 0}, "config.temperature = 0: must be > 0"),
        ({"rollout_n": 2.5}, "config.rollout_n = 2.5: must be an integer >= 1"),
        ({"encoder": {"strategy": "summarize"}}, 'config.encoder.strategy = "summarize": must be one of truncate, chunk-mean'),
        ({"clip_ratio_low": 0.2}, "config.clip_ratio_high = null: must be set together with clip_ratio_low"),
        ({"data": "/nonexistent/prompts.jsonl"}, 'config.data = "/nonexistent/prompts.jsonl": no such file'),
        ({"learning_rate": 1e-6}, "config.learning_rate = 1e-06: unknown field"),
        ({"model": {"tiny": {"hidden_size": 30, "heads": 4}}}, "config.model.tiny.heads = 4: must divide hidden_size 30"),
        ({"replace": 9, "rollout_n": 8}, "config.replace = 9: cannot exceed rollout_n (8)"),
        ({"verifier_overrides": "/nonexistent/labels.jsonl"}, 'config.verifier_overrides = "/nonexistent/labels.jsonl": no such file'),
    ],
)
def test_errors_name_field_and_value(data_file, patch, message):
    base = {"model": {"tiny": {}}, "data": data_file, **FITS_512}
    with pytest.raises(ConfigError) as e:
        from_dict({**base, **patch})
    assert message in str(e.value)


def test_all_problems_reported_together(data_file):
    with pytest.raises(ConfigError) as e:
        from_dict({"model": {"tiny": {}}, "data": data_file, "replace": -1, "steps": -3, **FITS_512})
    assert len(e.value.problems) == 2


def test_load_reports_invalid_json(tmp_path):
    f = tmp_path / "c.json"
    f.write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load(f)


def test_hashed_ngram_encoder_config_is_validated_by_name(data_file):
    base = {"model": {"tiny": {"arch": "qwen2", "hidden_size": 32, "layers": 1, "heads": 2}}, "data": data_file, **FITS_512}
    ok = from_dict({**base, "encoder": {"kind": "hashed-ngrams", "dim": 64}})
    assert ok.encoder == {"kind": "hashed-ngrams", "dim": 64, "ngram_min": 2, "ngram_max": 4, "max_length": 4096, "batch_size": 64}
    with pytest.raises(ConfigError, match=r"encoder.pooling .*unknown field for kind hashed-ngrams"):
        from_dict({**base, "encoder": {"kind": "hashed-ngrams", "pooling": "cls"}})
    with pytest.raises(ConfigError, match=r"encoder.kind .*must be transformer"):
        from_dict({**base, "encoder": {"kind": "bag-of-words"}})
