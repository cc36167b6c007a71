"""vLLM generation: config validation, the pure glue, weight sync and the trainer's wiring.

Runs on CPU without vLLM. The real engine is never executed here (vLLM on PyPI needs CUDA, and
this machine has no GPU): what is tested is our side of the contract with it.
- Config: `vllm: true` refused with the field and the reason (not installed, CPU device, no CUDA,
  tiny model), all together, and the memory knob checked; the environment probes are replaced
  with monkeypatch only where a test needs a state this machine does not have.
- Glue: SamplingParams keyword arguments, token-id prompts, per-request seeds, request outputs
  -> our token-id lists (EOS, max_tokens, order), HF/PEFT names -> vLLM names, the engine path.
- Sync and wiring: VLLMSampler and the Trainer with `ContractEngine`, a contract double of
  vllm.LLM defined below, never shipped in the package.
"""

import dataclasses
import importlib.util
import json
from types import SimpleNamespace

import pytest
import torch

import reward_lens.config as config_mod
import reward_lens.vllm_sampler as vs
from reward_lens.config import ConfigError, TrainConfig, from_dict
from reward_lens.demo_task import PROMPT_TEMPLATE, row

NOT_INSTALLED = "config.vllm = true: vLLM is not installed in this environment; pip install vllm (needs a CUDA GPU) or set vllm: false"
NO_CUDA = "config.vllm = true: no CUDA device is visible (torch.cuda.is_available() is false)"
CPU_DEVICE = 'config.vllm = true: config.device is "cpu", and vLLM generates on a CUDA GPU'
TINY = "config.vllm = true: config.model is a tiny model with the built-in character tokenizer, which vLLM cannot load"


@pytest.fixture
def data_file(tmp_path):
    f = tmp_path / "prompts.jsonl"
    f.write_text(json.dumps({"prompt": "1+1", "gold": "2"}) + "\n")
    return str(f)


def probes(monkeypatch, importable: bool, cuda: bool):
    monkeypatch.setattr(config_mod, "_vllm_importable", lambda: importable)
    monkeypatch.setattr(config_mod, "_cuda_available", lambda: cuda)


def problems_of(d):
    with pytest.raises(ConfigError) as e:
        from_dict(d)
    return e.value.problems


# -- config ---------------------------------------------------------------------------------------


def test_vllm_in_this_environment_names_what_is_missing(data_file):
    """No probe replaced: the messages follow what this machine actually has."""
    has_vllm = importlib.util.find_spec("vllm") is not None
    has_cuda = torch.cuda.is_available()
    d = {"model": "some/model-folder", "data": data_file, "vllm": True}
    if has_vllm and has_cuda:
        assert from_dict(d).vllm is True
        return
    problems = problems_of(d)
    assert (NOT_INSTALLED in problems) == (not has_vllm)
    assert any(p.startswith(NO_CUDA) for p in problems) == (not has_cuda)


def test_vllm_not_installed_is_refused_with_the_exact_message(data_file, monkeypatch):
    probes(monkeypatch, importable=False, cuda=True)
    assert problems_of({"model": "m", "data": data_file, "vllm": True}) == [NOT_INSTALLED]


def test_vllm_without_cuda_is_refused(data_file, monkeypatch):
    probes(monkeypatch, importable=True, cuda=False)
    problems = problems_of({"model": "m", "data": data_file, "vllm": True})
    assert len(problems) == 1 and problems[0].startswith(NO_CUDA) and problems[0].endswith("or set vllm: false")


def test_vllm_on_a_cpu_device_is_refused_even_with_cuda(data_file, monkeypatch):
    probes(monkeypatch, importable=True, cuda=True)
    problems = problems_of({"model": "m", "data": data_file, "vllm": True, "device": "cpu"})
    assert len(problems) == 1 and problems[0].startswith(CPU_DEVICE)


def test_vllm_with_a_tiny_model_is_refused(data_file, monkeypatch):
    probes(monkeypatch, importable=True, cuda=True)
    problems = problems_of({"model": {"tiny": {"max_positions": 2048}}, "data": data_file, "vllm": True})
    assert len(problems) == 1 and problems[0].startswith(TINY)


def test_every_vllm_problem_is_reported_together(data_file, monkeypatch):
    probes(monkeypatch, importable=False, cuda=False)
    problems = problems_of({"model": {"tiny": {"max_positions": 2048}}, "data": data_file, "vllm": True, "replace": -1})
    assert NOT_INSTALLED in problems
    assert any(p.startswith(NO_CUDA) for p in problems)
    assert any(p.startswith(TINY) for p in problems)
    assert "config.replace = -1: must be an integer >= 0" in problems
    assert len(problems) == 4


def test_vllm_accepted_when_installed_with_cuda(data_file, monkeypatch):
    probes(monkeypatch, importable=True, cuda=True)
    cfg = from_dict({"model": "m", "data": data_file, "vllm": True, "vllm_gpu_memory_utilization": 0.45})
    assert cfg.vllm is True and cfg.vllm_gpu_memory_utilization == 0.45


def test_vllm_false_never_probes_the_environment(data_file, monkeypatch):
    def boom():
        raise AssertionError("probed although vllm is false")

    monkeypatch.setattr(config_mod, "_vllm_importable", boom)
    monkeypatch.setattr(config_mod, "_cuda_available", boom)
    cfg = from_dict({"model": {"tiny": {"max_positions": 2048}}, "data": data_file})
    assert cfg.vllm is False and cfg.vllm_gpu_memory_utilization == 0.3


@pytest.mark.parametrize("value", [0, 1, 1.5, -0.2, "0.3", True, None, float("nan")])
def test_gpu_memory_utilization_must_be_strictly_between_0_and_1(data_file, value):
    problems = problems_of({"model": {"tiny": {"max_positions": 2048}}, "data": data_file, "vllm_gpu_memory_utilization": value})
    assert len(problems) == 1
    assert problems[0].startswith(f"config.vllm_gpu_memory_utilization = {json.dumps(value)}: must be a number strictly between 0 and 1")


# -- pure glue ------------------------------------------------------------------------------------


def test_sampling_params_sampled_are_the_exact_tempered_distribution():
    kw = vs.sampling_params_kwargs(0.8, 0.95, 512, eos_token_id=7, seed=123)
    assert kw == {
        "n": 1,
        "max_tokens": 512,
        "stop_token_ids": [7],
        "ignore_eos": False,
        "detokenize": False,
        "top_k": -1,
        "min_p": 0.0,
        "repetition_penalty": 1.0,
        "presence_penalty": 0.0,
        "frequency_penalty": 0.0,
        "temperature": 0.8,
        "top_p": 0.95,
        "seed": 123,
    }


def test_sampling_params_greedy_for_temperature_zero():
    kw = vs.sampling_params_kwargs(0.0, 0.9, 16, eos_token_id=2, seed=99)
    assert kw["temperature"] == 0.0 and kw["top_p"] == 1.0 and kw["seed"] is None
    assert kw["max_tokens"] == 16 and kw["stop_token_ids"] == [2] and kw["top_k"] == -1


def test_sampling_params_reject_zero_max_tokens():
    with pytest.raises(ValueError, match="max_new_tokens must be >= 1"):
        vs.sampling_params_kwargs(1.0, 1.0, 0, eos_token_id=1, seed=0)


def test_token_prompts_repeat_each_prompt_n_times_prompt_major():
    reqs = vs.token_prompts([[5, 6], [7]], 3)
    assert reqs == [{"prompt_token_ids": [5, 6]}] * 3 + [{"prompt_token_ids": [7]}] * 3
    with pytest.raises(ValueError):
        vs.token_prompts([[1]], 0)


def test_seeds_are_reproducible_distinct_and_in_range():
    a = vs.generation_seed(0, 5, "rollout")
    assert a == vs.generation_seed(0, 5, "rollout")
    assert len({a, vs.generation_seed(0, 6, "rollout"), vs.generation_seed(1, 5, "rollout"), vs.generation_seed(0, 5, "eval/accuracy"), vs.generation_seed(0, 5, "rollout", 128)}) == 5
    seeds = vs.request_seeds(vs.SEED_MODULUS - 2, 4)
    assert seeds == [vs.SEED_MODULUS - 2, vs.SEED_MODULUS - 1, 0, 1]
    assert all(0 <= s < vs.SEED_MODULUS for s in seeds)


# Hand-built objects with the fields vLLM documents for RequestOutput / CompletionOutput.
def completion(ids, finish="length", stop_reason=None):
    return SimpleNamespace(index=0, text="", token_ids=list(ids), cumulative_logprob=None, logprobs=None, finish_reason=finish, stop_reason=stop_reason)


def request_output(prompt, *completions):
    return SimpleNamespace(request_id="0", prompt=None, prompt_token_ids=list(prompt), outputs=list(completions), finished=True)


EOS = 1


def test_completion_keeps_eos_and_drops_anything_after_it():
    assert vs.completion_ids(completion([9, 8, EOS], "stop"), EOS, 10) == [9, 8, EOS]
    assert vs.completion_ids(completion([9, EOS, 8, 7], "stop"), EOS, 10) == [9, EOS]


def test_completion_truncated_at_max_tokens_has_no_eos():
    assert vs.completion_ids(completion([4, 5, 6], "length"), EOS, 3) == [4, 5, 6]
    assert vs.completion_ids(completion([4, 5, 6, 7, 8], "length"), EOS, 3) == [4, 5, 6]


def test_completion_eos_put_back_when_the_engine_hid_it():
    assert vs.completion_ids(completion([4, 5], "stop", None), EOS, 10) == [4, 5, EOS]
    assert vs.completion_ids(completion([4, 5], "stop", EOS), EOS, 10) == [4, 5, EOS]
    assert vs.completion_ids(completion([], "stop", None), EOS, 10) == [EOS]
    # Stopped by something that is not our EOS: left as generated (counted as truncated downstream).
    assert vs.completion_ids(completion([4, 5], "stop", 42), EOS, 10) == [4, 5]


def test_group_responses_orders_n_per_prompt():
    prompts = [[10, 11], [12]]
    outs = [
        request_output([10, 11], completion([3, EOS], "stop")),
        request_output([10, 11], completion([4, 4], "length")),
        request_output([12], completion([5, EOS], "stop")),
        request_output([12], completion([6], "stop", None)),
    ]
    assert vs.group_responses(outs, prompts, 2, EOS, 2) == [[[3, EOS], [4, 4]], [[5, EOS], [6, EOS]]]


def test_group_responses_refuses_misaligned_outputs():
    prompts = [[10], [12]]
    with pytest.raises(RuntimeError, match="returned 3 request outputs for 2 prompts x 2 samples = 4"):
        vs.group_responses([request_output([10], completion([3]))] * 3, prompts, 2, EOS, 4)
    swapped = [request_output([12], completion([3])), request_output([10], completion([4]))]
    with pytest.raises(RuntimeError, match="belongs to another prompt"):
        vs.group_responses(swapped, prompts, 1, EOS, 4)
    with pytest.raises(RuntimeError, match="has 2 completions"):
        vs.group_responses([request_output([10], completion([3]), completion([4])), request_output([12], completion([5]))], prompts, 1, EOS, 4)


def test_param_names_plain_model_pass_through():
    assert vs.vllm_param_name("model.layers.0.self_attn.q_proj.weight", None) == "model.layers.0.self_attn.q_proj.weight"


def test_param_names_peft_merged_base_layers_under_hf_names():
    pre = "lora_"
    assert vs.vllm_param_name("base_model.model.model.layers.0.self_attn.q_proj.base_layer.weight", pre) == "model.layers.0.self_attn.q_proj.weight"
    assert vs.vllm_param_name("base_model.model.model.layers.0.self_attn.q_proj.base_layer.bias", pre) == "model.layers.0.self_attn.q_proj.bias"
    assert vs.vllm_param_name("base_model.model.model.layers.0.self_attn.q_proj.lora_A.default.weight", pre) is None
    assert vs.vllm_param_name("base_model.model.model.layers.0.self_attn.q_proj.lora_B.default.weight", pre) is None
    assert vs.vllm_param_name("base_model.model.model.embed_tokens.weight", pre) == "model.embed_tokens.weight"
    assert vs.vllm_param_name("base_model.model.lm_head.modules_to_save.default.weight", pre) == "lm_head.weight"
    assert vs.vllm_param_name("base_model.model.lm_head.original_module.weight", pre) is None


def test_engine_model_found_in_v1_then_v0_layout():
    m = SimpleNamespace(load_weights=lambda w: None)
    v1 = SimpleNamespace(llm_engine=SimpleNamespace(model_executor=SimpleNamespace(driver_worker=SimpleNamespace(worker=SimpleNamespace(model_runner=SimpleNamespace(model=m))))))
    v0 = SimpleNamespace(llm_engine=SimpleNamespace(model_executor=SimpleNamespace(driver_worker=SimpleNamespace(model_runner=SimpleNamespace(model=m)))))
    assert vs.engine_model(v1) is m and vs.engine_model(v0) is m
    with pytest.raises(RuntimeError, match="cannot reach the model inside the vLLM engine"):
        vs.engine_model(SimpleNamespace(llm_engine=SimpleNamespace()))


def test_build_engine_without_vllm_fails_naming_the_setting(monkeypatch):
    for key in ("VLLM_ENABLE_V1_MULTIPROCESSING", "RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(key, raising=False)  # restored after the test
    if importlib.util.find_spec("vllm") is not None:
        assert vs.vllm_dtype(True) == "bfloat16"  # with vLLM installed, building needs a GPU model: not a unit test
        return
    with pytest.raises(RuntimeError, match=r"config\.vllm = true: importing vllm failed \(ModuleNotFoundError"):
        vs.build_engine(TrainConfig(model="m", vllm=True))


# -- weight sync and wiring, against a contract double of vllm.LLM --------------------------------


class ContractEngine:
    """CONTRACT DOUBLE of vllm.LLM for tests only (never shipped, never a stand-in at run time).

    It offers exactly what VLLMSampler relies on, in vLLM's documented shapes:
    `generate(list of {"prompt_token_ids": [...]}, sampling_params=list, use_tqdm=False)` returning
    one RequestOutput-shaped object per request in request order; the in-process model reachable at
    `llm_engine.model_executor.driver_worker.worker.model_runner.model` with
    `load_weights(iterable of (name, tensor))`; `reset_prefix_cache()`. It records what it got.
    Its "generation" is a deterministic function of the seed, not a language model.
    """

    def __init__(self, eos_token_id: int, vocab_size: int):
        self.eos = eos_token_id
        self.vocab = vocab_size
        self.pushes: list[dict[str, torch.Tensor]] = []
        self.resets = 0
        self.calls: list[tuple[list, list]] = []
        self.policy = None  # set by a test: each generate checks the last push equals the policy now
        self.on_policy: list[bool] = []
        self.returned: list[list] = []
        model = SimpleNamespace(load_weights=self._load_weights)
        self.llm_engine = SimpleNamespace(model_executor=SimpleNamespace(driver_worker=SimpleNamespace(worker=SimpleNamespace(model_runner=SimpleNamespace(model=model)))))

    def _load_weights(self, weights):
        self.pushes.append({name: t.detach().clone() for name, t in weights})
        return set(self.pushes[-1])

    def reset_prefix_cache(self):
        self.resets += 1
        return True

    def generate(self, prompts, sampling_params=None, use_tqdm=True):
        assert isinstance(prompts, list) and isinstance(sampling_params, list) and len(prompts) == len(sampling_params)
        self.calls.append((prompts, sampling_params))
        if self.policy is not None:
            now = {n: p.detach() for n, p in self.policy.named_parameters()}
            self.on_policy.append(bool(self.pushes) and set(now) == set(self.pushes[-1]) and all(torch.equal(now[n], self.pushes[-1][n]) for n in now))
        outs = []
        for p, sp in zip(prompts, sampling_params):
            seed = sp["seed"] or 0
            length = 1 + seed % sp["max_tokens"]
            ids = [3 + (seed // (k + 1)) % (self.vocab - 3) for k in range(length)]
            finish = "length"
            if seed % 2 == 0 and length < sp["max_tokens"]:
                ids.append(self.eos)
                finish = "stop"
            outs.append(request_output(p["prompt_token_ids"], completion(ids, finish)))
        self.returned.append(outs)
        return outs


def tiny_policy():
    from reward_lens.policy import _tiny_model

    torch.manual_seed(0)
    return _tiny_model({"hidden_size": 16, "layers": 1, "heads": 2, "max_positions": 64}, vocab_size=40, pad_id=0, eos_id=1)


def test_sampler_pushes_weights_lazily_after_each_optimizer_step():
    model = tiny_policy()
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    engine = ContractEngine(eos_token_id=1, vocab_size=40)
    engine.policy = model
    sampler = vs.VLLMSampler(TrainConfig(model="m", vllm=True), model, 1, engine=engine, params_factory=dict)
    sampler.watch(opt)

    out = sampler.sample([[5, 6, 7], [8]], 3, 1.0, 1.0, 6, seed=1000)
    assert len(engine.pushes) == 1 and engine.resets == 1  # first generation: the folder's weights are replaced
    assert set(engine.pushes[0]) == {n for n, _ in model.named_parameters()}
    sampler.sample([[5]], 2, 1.0, 1.0, 6, seed=2000)
    assert len(engine.pushes) == 1  # no step in between: nothing to push

    loss = model(input_ids=torch.tensor([[5, 6, 7]])).logits.float().pow(2).mean()
    loss.backward()
    opt.step()
    sampler.sample([[5]], 2, 1.0, 1.0, 6, seed=3000)
    assert len(engine.pushes) == 2 and engine.resets == 2
    changed = [n for n in engine.pushes[0] if not torch.equal(engine.pushes[0][n], engine.pushes[1][n])]
    assert changed  # the second push carries the stepped weights
    assert engine.on_policy == [True, True, True]

    # The first call's requests: token-id prompts, prompt-major, one seed per request.
    prompts, params = engine.calls[0]
    assert prompts == [{"prompt_token_ids": [5, 6, 7]}] * 3 + [{"prompt_token_ids": [8]}] * 3
    assert [p["seed"] for p in params] == list(range(1000, 1006))
    assert all(p["max_tokens"] == 6 and p["stop_token_ids"] == [1] and p["top_k"] == -1 for p in params)
    assert len(out) == 2 and all(len(g) == 3 for g in out)
    assert all(len(r) <= 6 for g in out for r in g)


def test_sampler_greedy_requests_carry_no_seed():
    model = tiny_policy()
    engine = ContractEngine(eos_token_id=1, vocab_size=40)
    sampler = vs.VLLMSampler(TrainConfig(model="m", vllm=True), model, 1, engine=engine, params_factory=dict)
    sampler.sample([[5, 6]], 1, 0.0, 0.9, 4, seed=77)
    (_, params), = engine.calls
    assert params[0]["temperature"] == 0.0 and params[0]["seed"] is None and params[0]["top_p"] == 1.0


def test_trainer_with_vllm_generates_on_policy_every_step(tmp_path, monkeypatch):
    """The trainer's wiring: rollouts come from the engine, weights reach it after each step."""
    from reward_lens.chartok import CharTokenizer
    from reward_lens.train import Trainer

    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps(row(a, b, True)) + "\n" for a, b in [(12, 34), (47, 38)]))
    tok = CharTokenizer()
    engine = ContractEngine(eos_token_id=tok.eos_token_id, vocab_size=tok.vocab_size)
    monkeypatch.setattr(vs, "build_engine", lambda cfg: (engine, dict))
    # Built directly rather than through from_dict: validation refuses vllm with a tiny model
    # (rightly, for a real engine); the contract double stands in for the engine here.
    cfg = TrainConfig(
        model={"tiny": {"arch": "qwen2", "hidden_size": 32, "layers": 1, "heads": 2, "max_positions": 128}},
        data=str(data), variant="grpo", replace=0, prompt_template=PROMPT_TEMPLATE, system_prompt="",
        rollout_n=2, batch_prompts=2, max_new_tokens=64, max_prompt_tokens=32, lr=1e-2, steps=2,
        sft_steps=1, sft_batch=2, device="cpu", checkpoint_every=0, verifier_workers=1, threads=1, vllm=True,
    )
    config_mod.validate(dataclasses.replace(cfg, vllm=False))  # every other field is valid
    run = tmp_path / "run"
    run.mkdir()
    trainer = Trainer(cfg, run, resume=False)
    engine.policy = trainer.model
    assert trainer.run() == "completed"
    trainer.events.close()

    assert len(engine.calls) == 2  # one generation per RL step, none from transformers
    assert len(engine.pushes) == 2 and engine.on_policy == [True, True]
    assert any(not torch.equal(engine.pushes[0][n], engine.pushes[1][n]) for n in engine.pushes[0])
    prompts, params = engine.calls[0]
    assert len(prompts) == 4 and len({p["seed"] for p in params}) == 4
    events = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]
    steps = [e for e in events if e["type"] == "step" and e["step"] > 0]
    assert len(steps) == 2 and all(s["metrics"]["timing/weight_sync_s"] > 0 for s in steps)
    # The online members of step 1 are the engine's responses, in request order.
    first = [e for e in events if e["type"] == "group" and e["step"] == 1]
    expected = [vs.completion_ids(o.outputs[0], tok.eos_token_id, cfg.max_new_tokens) for o in engine.returned[0]]
    got = [t for g in first for t in g["trajectories"] if t["source"] == "online"]
    assert [t["tokens"] for t in got] == [len(r) for r in expected]
    assert [t["truncated"] for t in got] == [tok.eos_token_id not in r for r in expected]
    assert [t["text"] for t in got] == [tok.decode([i for i in r if i != tok.eos_token_id]) for r in expected]


class PeftShapedPolicy(torch.nn.Module):
    """CONTRACT DOUBLE of a peft PeftModel for tests only: its parameter names and the
    merge_adapter/unmerge_adapter/peft_config/prefix surface VLLMSampler relies on. The real
    peft path (merged q_proj == W + s*B@A, names == the plain model's) was checked once by hand
    with peft installed in a scratch folder; peft is not in the test environment."""

    prefix = "lora_"
    peft_config = {"default": None}

    def __init__(self, log):
        super().__init__()
        self.log = log
        self.base_model = torch.nn.Module()
        self.base_model.model = torch.nn.Module()
        proj = torch.nn.Module()
        proj.base_layer = torch.nn.Linear(2, 2, bias=False)
        proj.lora_A = torch.nn.ModuleDict({"default": torch.nn.Linear(2, 1, bias=False)})
        self.base_model.model.proj = proj

    def merge_adapter(self):
        self.log.append("merge")

    def unmerge_adapter(self):
        self.log.append("unmerge")


def test_sync_merges_adapters_for_the_push_and_unmerges_after_even_on_failure():
    log = []
    policy = PeftShapedPolicy(log)
    engine = ContractEngine(eos_token_id=1, vocab_size=40)
    real_load = engine._load_weights

    def load(weights):
        log.append("load")
        return real_load(weights)

    engine.llm_engine.model_executor.driver_worker.worker.model_runner.model.load_weights = load
    sampler = vs.VLLMSampler(TrainConfig(model="m", vllm=True), policy, 1, engine=engine, params_factory=dict)
    sampler.sync_weights()
    assert log == ["merge", "load", "unmerge"]
    assert set(engine.pushes[0]) == {"proj.weight"}  # base layer under its plain name, adapter left out

    def broken(weights):
        raise KeyError("model.unknown.weight")

    engine.llm_engine.model_executor.driver_worker.worker.model_runner.model.load_weights = broken
    log.clear()
    sampler.mark_stale()
    with pytest.raises(KeyError):
        sampler.sample([[5]], 1, 1.0, 1.0, 4, seed=0)
    assert log == ["merge", "unmerge"] and sampler.stale  # still stale: the next call tries again


def test_eval_generates_with_the_vllm_sampler_when_given():
    from reward_lens.chartok import CharTokenizer
    from reward_lens.eval import evaluate
    from reward_lens.policy import TokenizerAdapter

    tok = TokenizerAdapter(CharTokenizer(), "char")
    engine = ContractEngine(eos_token_id=tok.eos_token_id, vocab_size=tok.vocab_size)
    model = tiny_policy()
    sampler = vs.VLLMSampler(TrainConfig(model="m", vllm=True), model, tok.eos_token_id, engine=engine, params_factory=dict)
    cfg = TrainConfig(model="m", vllm=True, max_new_tokens=12, seed=3)
    items = [SimpleNamespace(prompt_ids=tok.encode("1+1="), gold="2"), SimpleNamespace(prompt_ids=tok.encode("2+2="), gold="4")]
    rows = evaluate(model, tok, cfg, torch.device("cpu"), items, 3, 0.6, lambda flat: [{"correct": False} for _ in flat], vllm_sampler=sampler)
    assert len(engine.calls) == 1 and len(engine.pushes) == 1  # the loaded weights reach the engine first
    expected = [vs.completion_ids(o.outputs[0], tok.eos_token_id, 12) for o in engine.returned[0]]
    assert [r for _, _, _, resp in rows for r in resp] == expected
    _, params = engine.calls[0]
    assert all(p["temperature"] == 0.6 and p["top_p"] == 1.0 and p["max_tokens"] == 12 for p in params)
