"""Writes test/vectors/reward_cases.json: the shared reward/advantage vectors.

The expected values come from this file's own deliberately naive implementation (pairwise
cosines summed with math.fsum, explicit sorts, no shortcuts). It shares no code with
src/core/reward.ts or python/reward_lens/reward.py, which both have to reproduce it.

Run: python3 test/vectors/generate.py   (standard library only)
"""
import json
import math
import random
from pathlib import Path

OUT = Path(__file__).with_name("reward_cases.json")


def cos(a, b):
    na = math.sqrt(math.fsum(x * x for x in a))
    nb = math.sqrt(math.fsum(x * x for x in b))
    if na == 0 or nb == 0:
        return 0.0  # pinned: a zero vector has cosine 0 with everything
    return math.fsum(x * y for x, y in zip(a, b)) / (na * nb)


def expected(case):
    variant = case.get("variant", "oger")
    k = case.get("replace", 1)
    adv = case.get("advantage", {})
    std_mode = adv.get("std", "sample")
    eps = adv.get("eps", 1e-6)
    online = case["online"]
    offline = case.get("offline", []) if variant != "grpo" else []
    n, m = len(online), len(offline)

    divs = []
    for o in online:
        if m == 0 or o.get("embedding") is None:
            divs.append(None)
        else:
            divs.append(1.0 - math.fsum(cos(o["embedding"], f["embedding"]) for f in offline) / m)

    out_online = []
    for o, d in zip(online, divs):
        rm = 1.0 if o["correct"] is True else 0.0
        conf = math.exp(-o["last_token_entropy"]) if variant == "oger" else 1.0
        if variant in ("oger", "oger-no-refine") and d is not None and rm == 1.0:
            r_oger = d * conf * rm
        else:
            r_oger = 0.0
        out_online.append({"divergence": d, "confidence": conf, "exploration_reward": r_oger,
                           "total_reward": rm + r_oger})

    kk = max(0, min(k, n, m))
    if variant == "grpo" or kk == 0:
        replaced = []
    elif variant == "luffy":
        replaced = list(range(n - kk, n))
    else:
        replaced = [i for _, i in sorted((divs[i], i) for i in range(n))][:kk]
    inserted = case.get("inserted_offline")
    if inserted is None:
        inserted = list(range(len(replaced)))

    slot = dict(zip(replaced, inserted))
    members = []
    for i in range(n):
        if i in slot:
            j = slot[i]
            members.append({"source": "offline", "index": j,
                            "total_reward": 1.0 if offline[j].get("correct", True) is True else 0.0})
        else:
            members.append({"source": "online", "index": i, "total_reward": out_online[i]["total_reward"]})

    rewards = [mm["total_reward"] for mm in members]
    if len(rewards) == 1:
        mean, std = 0.0, 1.0
    else:
        mean = math.fsum(rewards) / len(rewards)
        ddof = 0 if std_mode == "population" else 1
        std = math.sqrt(math.fsum((r - mean) ** 2 for r in rewards) / (len(rewards) - ddof))
    for mm in members:
        if std_mode == "none":
            mm["advantage"] = mm["total_reward"] - mean
        else:
            mm["advantage"] = (mm["total_reward"] - mean) / (std + eps)
    return {"online": out_online, "replaced": replaced, "group": members}


def vec(rng, d):
    return [round(rng.uniform(-1, 1), 4) for _ in range(d)]


def make_group(rng, n=8, m=3, d=6, correct=None, entropies=None):
    online = []
    for i in range(n):
        c = correct[i] if correct is not None else rng.random() < 0.5
        h = entropies[i] if entropies is not None else round(rng.uniform(0, 3), 4)
        online.append({"embedding": vec(rng, d), "last_token_entropy": h, "correct": c})
    offline = [{"embedding": vec(rng, d), "correct": True} for _ in range(m)]
    return online, offline


def cases():
    rng = random.Random(20261123)
    out = []
    variants = ["grpo", "luffy", "oger", "oger-no-refine", "oger-no-reward"]
    for variant in variants:
        for k in (1, 2, 3):
            online, offline = make_group(rng)
            inserted = rng.sample(range(len(offline)), k)
            case = {"variant": variant, "replace": k, "online": online, "offline": offline}
            if variant != "grpo":
                case["inserted_offline"] = inserted
            out.append((f"{variant} replace={k} mixed verdicts", case))

    # Ties: identical online embeddings give identical D; the lower index must be replaced first.
    online, offline = make_group(rng, correct=[True] * 8)
    same = vec(rng, 6)
    for i in (2, 5, 6):
        online[i]["embedding"] = list(same)
    off_near = [round(x * 0.9, 4) for x in same]
    offline[0]["embedding"] = off_near
    for k in (1, 2, 3):
        out.append((f"oger ties replace={k}", {"variant": "oger", "replace": k, "online": online,
                                               "offline": offline, "inserted_offline": list(range(k))}))

    # D > 1: online embeddings opposed to every teacher.
    base = vec(rng, 6)
    offline = [{"embedding": [round(x + rng.uniform(-0.05, 0.05), 4) for x in base], "correct": True} for _ in range(3)]
    online = [{"embedding": [round(-x + rng.uniform(-0.1, 0.1), 4) for x in base],
               "last_token_entropy": round(rng.uniform(0, 1), 4), "correct": True} for _ in range(8)]
    for variant in ("oger", "oger-no-refine"):
        out.append((f"{variant} divergence above 1", {"variant": variant, "online": online, "offline": offline,
                                                      "inserted_offline": [2]}))

    # All correct: the teacher (R=1) ends with a negative advantage under OGER.
    online, offline = make_group(rng, correct=[True] * 8)
    for variant in variants:
        out.append((f"{variant} all correct", {"variant": variant, "online": online, "offline": offline,
                                               **({} if variant == "grpo" else {"inserted_offline": [1]})}))
    # All wrong.
    online, offline = make_group(rng, correct=[False] * 8)
    for variant in variants:
        out.append((f"{variant} all wrong", {"variant": variant, "online": online, "offline": offline,
                                             **({} if variant == "grpo" else {"inserted_offline": [0]})}))
    # Zero std: every member has the same total reward.
    online, offline = make_group(rng, correct=[False] * 8)
    offline = [{"embedding": o["embedding"], "correct": False} for o in offline]
    out.append(("luffy zero std (teacher marked wrong)", {"variant": "luffy", "online": online, "offline": offline}))
    online, _ = make_group(rng, correct=[True] * 8)
    out.append(("grpo zero std all correct", {"variant": "grpo", "online": online}))

    # Estimators and epsilon.
    online, offline = make_group(rng)
    for std in ("sample", "population", "none"):
        for eps in (1e-6, 1e-4):
            out.append((f"oger std={std} eps={eps}", {"variant": "oger", "online": online, "offline": offline,
                                                      "advantage": {"std": std, "eps": eps},
                                                      "inserted_offline": [0]}))
    # Singleton groups, as verl treats them (mean 0, std 1).
    for std in ("sample", "population", "none"):
        out.append((f"grpo singleton std={std}", {"variant": "grpo", "online": [
            {"embedding": vec(rng, 4), "last_token_entropy": 0.3, "correct": True}], "advantage": {"std": std}}))
    out.append(("oger singleton replaced by its teacher", {"variant": "oger", "online": [
        {"embedding": vec(rng, 4), "last_token_entropy": 0.3, "correct": True}],
        "offline": [{"embedding": vec(rng, 4), "correct": True}]}))
    # Verifier errors (correct = null) score 0, like wrong.
    online, offline = make_group(rng)
    online[1]["correct"] = None
    online[4]["correct"] = None
    out.append(("oger with verifier errors", {"variant": "oger", "online": online, "offline": offline,
                                              "inserted_offline": [2]}))
    # Zero-norm embedding: cosine 0, D = 1.
    online, offline = make_group(rng, correct=[True] * 8)
    online[3]["embedding"] = [0.0] * 6
    out.append(("oger zero-norm online embedding", {"variant": "oger", "online": online, "offline": offline}))
    # Fewer teachers than k: k is clipped to M.
    online, offline = make_group(rng, m=2)
    out.append(("oger replace=3 with only 2 teachers", {"variant": "oger", "replace": 3, "online": online,
                                                        "offline": offline, "inserted_offline": [1, 0]}))
    # No teachers at all: D undefined, no replacement, no bonus.
    online, _ = make_group(rng)
    out.append(("oger without teachers", {"variant": "oger", "online": online, "offline": []}))
    # Defaults: no variant, replace, advantage or inserted_offline given.
    online, offline = make_group(rng)
    out.append(("defaults", {"online": online, "offline": offline}))
    # High entropy damps the bonus to almost nothing.
    online, offline = make_group(rng, correct=[True] * 8, entropies=[12.0, 0.0, 5.0, 0.01, 9.0, 2.0, 0.5, 7.5])
    out.append(("oger entropy damping extremes", {"variant": "oger", "online": online, "offline": offline,
                                                  "inserted_offline": [2]}))
    # A teacher whose verdict errored (correct = null) scores 0 like any verifier error; a teacher
    # with no `correct` key is a kept (hence correct) one.
    online, offline = make_group(rng, correct=[False, True, False, False, True, False, False, False])
    offline[0]["correct"] = None
    out.append(("luffy inserted teacher with a verifier error", {"variant": "luffy", "online": online, "offline": offline,
                                                                 "inserted_offline": [0]}))
    online, offline = make_group(rng)
    for o in offline:
        del o["correct"]
    out.append(("oger teachers without a verdict are kept ones", {"variant": "oger", "online": online, "offline": offline,
                                                                  "inserted_offline": [1]}))
    return out


def main():
    rows = []
    for name, case in cases():
        rows.append({"name": name, "input": case, "expected": expected(case)})
    doc = {
        "description": "Shared reward/advantage vectors for Reward Lens. Generated by generate.py; "
                       "both the TypeScript core and the Python backend must match 'expected' within 'tolerance'.",
        "tolerance": 1e-9,
        "cases": rows,
    }
    OUT.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {len(rows)} cases to {OUT}")


if __name__ == "__main__":
    main()
