#!/usr/bin/env python3
"""Golden TPE proposals from Optuna 5.0 for tests/study/tpe_sampler_test.cpp.

Run from a virtualenv outside the repository with optuna==5.0.0:
    python3 -m venv /work/venv-optuna && /work/venv-optuna/bin/pip install optuna==5.0.0
    /work/venv-optuna/bin/python tests/reference/make_tpe_fixtures.py tests/fixtures/tpe

Each case is a study driven through Optuna's ask/tell interface with a seeded
TPESampler: an op list of "add" (a finished trial inserted with add_trial),
"ask" (a new trial and the parameters Optuna suggested, in suggest order) and
"tell" (a trial finished as COMPLETE, PRUNED or FAIL). The C++ test replays the
ops with its own sampler and compares every "ask".

Ties in numpy's argsort: the Parzen estimator sorts kernel means with
np.argsort, whose order for equal means depends on the SIMD sort numpy picks
on the machine (AVX2 and AVX-512 differ). Our port breaks ties in observation
order. Each case is replayed a second time with a stable argsort; a case whose
proposals differ is reported and written with "argsort_tie_sensitive": true.
"""
from __future__ import annotations

import json
import math
import sys
import types
from pathlib import Path

import numpy as np
import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.samplers import TPESampler
from optuna.samplers._tpe import parzen_estimator as pe_module
from optuna.trial import TrialState

optuna.logging.set_verbosity(optuna.logging.ERROR)
import warnings  # noqa: E402

warnings.filterwarnings("ignore")

assert optuna.__version__ == "5.0.0", optuna.__version__


def heretic_space(n_layers: int):
    last = float(n_layers - 1)
    space = [
        ("direction_scope", CategoricalDistribution(["global", "per layer"])),
        ("direction_index", FloatDistribution(0.4 * last, 0.9 * last)),
    ]
    for c in ["attn.o_proj", "mlp.down_proj"]:
        space += [
            (f"{c}.max_weight", FloatDistribution(0.8, 1.5)),
            (f"{c}.max_weight_position", FloatDistribution(0.6 * last, 1.0 * last)),
            (f"{c}.min_weight", FloatDistribution(0.0, 1.0)),
            (f"{c}.min_weight_distance", FloatDistribution(1.0, max(0.6 * last, 1.0))),
        ]
    return space


MIXED = [
    ("x", FloatDistribution(-5.0, 5.0)),
    ("lr", FloatDistribution(1e-4, 1.0, log=True)),
    ("frac", FloatDistribution(0.0, 1.0, step=0.05)),
    ("n", IntDistribution(1, 40)),
    ("k", IntDistribution(0, 30, step=3)),
    ("units", IntDistribution(1, 512, log=True)),
    ("opt", CategoricalDistribution(["adam", "sgd", "rmsprop", "lbfgs"])),
]


def suggest(trial, name, dist):
    if isinstance(dist, FloatDistribution):
        return trial.suggest_float(name, dist.low, dist.high, step=dist.step, log=dist.log)
    if isinstance(dist, IntDistribution):
        return trial.suggest_int(name, dist.low, dist.high, step=dist.step, log=dist.log)
    return trial.suggest_categorical(name, dist.choices)


def normalized(dist, internal):
    """Internal value mapped to [0, 1] for the test objectives."""
    if isinstance(dist, CategoricalDistribution):
        return internal / max(1, len(dist.choices) - 1)
    low, high = dist.low, dist.high
    if dist.log:
        return (math.log(internal) - math.log(low)) / (math.log(high) - math.log(low))
    return (internal - low) / (high - low) if high > low else 0.0


def objective_values(space, internal, n_objectives, rounding):
    u = [normalized(d, internal[name]) for name, d in space if name in internal]
    f1 = sum((x - 0.3) ** 2 for x in u) / len(u)
    vals = [f1]
    if n_objectives >= 2:
        vals.append(sum((x - 0.8) ** 2 for x in u) / len(u))
    if n_objectives >= 3:
        vals.append(sum(abs(x - 0.5) for x in u) / len(u))
    if rounding is not None:
        vals = [round(v, rounding) for v in vals]
    return vals


def dist_json(d):
    return json.loads(optuna.distributions.distribution_to_json(d))


def run_case(case, stable_argsort=False):
    if stable_argsort:
        proxy = types.SimpleNamespace(**{k: getattr(np, k) for k in dir(np) if not k.startswith("__")})
        proxy.argsort = lambda a, *args, **kw: np.argsort(a, kind="stable")
        pe_module.np = proxy
    else:
        pe_module.np = np
    try:
        return _run_case(case)
    finally:
        pe_module.np = np


def _run_case(case):
    space = case["space"]
    dists = dict(space)
    directions = case["directions"]
    kw = dict(seed=case["seed"], n_startup_trials=case["n_startup_trials"],
              n_ei_candidates=case["n_ei_candidates"], constant_liar=case["constant_liar"])
    if case["multivariate"] is not None:
        kw["multivariate"] = case["multivariate"]
    sampler = TPESampler(**kw)
    study = optuna.create_study(directions=directions, sampler=sampler)
    rng = np.random.RandomState((case["seed"] + 1000) % 2**32)
    ops = []
    n_obj = len(directions)

    # Pre-history inserted with add_trial (random points, COMPLETE).
    for _ in range(case.get("n_added", 0)):
        internal = {}
        params = {}
        for name, d in space:
            if isinstance(d, CategoricalDistribution):
                idx = int(rng.randint(len(d.choices)))
                internal[name], params[name] = float(idx), d.choices[idx]
            elif isinstance(d, IntDistribution):
                v = d.low + d.step * int(rng.randint((d.high - d.low) // d.step + 1))
                internal[name], params[name] = float(v), v
            else:
                v = float(rng.uniform(d.low, d.high))
                if d.step is not None:
                    v = float(d.low + round((v - d.low) / d.step) * d.step)
                    v = min(max(v, d.low), d.high)
                internal[name], params[name] = v, v
        values = objective_values(space, internal, n_obj, case.get("rounding"))
        study.add_trial(optuna.trial.create_trial(params=params, distributions=dists, values=values))
        number = study.trials[-1].number
        ops.append({"op": "add", "number": number, "state": "COMPLETE",
                    "params": internal, "values": values})

    schedule = case["schedule"]  # list of (n_parallel, action) batches
    for batch_size, action in schedule:
        asked = []
        for _ in range(batch_size):
            trial = study.ask()
            names = [n for n, _ in space]
            if action == "partial" and len(asked) == 0:
                names = names[:1]
            for name in names:
                suggest(trial, name, dists[name])
            frozen = study._storage.get_trial(trial._trial_id)
            internal = {name: frozen.distributions[name].to_internal_repr(frozen.params[name]) for name in names}
            chunks = []
            i = 0
            while (k := f"tpe:relative_params:{i}") in frozen.system_attrs:
                chunks.append(frozen.system_attrs[k])
                i += 1
            op = {"op": "ask", "number": trial.number, "suggest": names,
                  "expected": {n: float(internal[n]) for n in names}}
            if chunks:
                op["relative_params"] = "".join(chunks)
            ops.append(op)
            asked.append((trial, internal))
        if action in ("keep_running", "partial"):
            continue
        for idx, (trial, internal) in enumerate(asked):
            state = "COMPLETE"
            if action == "mixed_states":
                state = ["COMPLETE", "PRUNED", "COMPLETE", "FAIL"][trial.number % 4]
            if state == "COMPLETE":
                values = objective_values(space, internal, n_obj, case.get("rounding"))
                study.tell(trial, values)
                ops.append({"op": "tell", "number": trial.number, "state": "COMPLETE", "values": values})
            elif state == "PRUNED":
                op = {"op": "tell", "number": trial.number, "state": "PRUNED"}
                if n_obj == 1:
                    step = trial.number % 3
                    value = objective_values(space, internal, 1, None)[0] * 1.5
                    trial.report(value, step)
                    op["intermediate"] = [step, value]
                study.tell(trial, state=TrialState.PRUNED)
                ops.append(op)
            else:
                study.tell(trial, state=TrialState.FAIL)
                ops.append({"op": "tell", "number": trial.number, "state": "FAIL"})
    return ops


def case(name, space, directions=("minimize",), seed=0, n_startup_trials=5, n_ei_candidates=24,
         multivariate=None, constant_liar=True, schedule=((1, "complete"),) * 20, **extra):
    c = {"name": name, "space": list(space), "directions": list(directions), "seed": seed,
         "n_startup_trials": n_startup_trials, "n_ei_candidates": n_ei_candidates,
         "multivariate": multivariate, "constant_liar": constant_liar, "schedule": list(schedule)}
    c.update(extra)
    return c


def seq(n, batch=1, action="complete"):
    return [(batch, action)] * n


HERETIC = heretic_space(30)
CASES = [
    case("float_uniform", [("x", FloatDistribution(-5.0, 5.0))], seed=1),
    case("float_log", [("lr", FloatDistribution(1e-5, 1.0, log=True))], seed=2),
    case("float_step", [("frac", FloatDistribution(0.0, 1.0, step=0.1))], seed=3),
    case("int_plain", [("n", IntDistribution(0, 20))], seed=4),
    case("int_step", [("k", IntDistribution(-10, 50, step=5))], seed=5),
    case("int_log", [("units", IntDistribution(1, 1000, log=True))], seed=6),
    case("categorical", [("opt", CategoricalDistribution(["a", "b", "c"]))], seed=7),
    case("mixed_multivariate", MIXED, seed=8, multivariate=True, schedule=seq(25)),
    case("mixed_univariate", MIXED, seed=9, multivariate=False, schedule=seq(25)),
    case("mixed_maximize", MIXED, directions=("maximize",), seed=10, schedule=seq(20)),
    case("startup_only", MIXED, seed=11, n_startup_trials=100, schedule=seq(12)),
    case("mixed_states_pruned_fail", MIXED[:4], seed=12, schedule=seq(24, action="mixed_states")),
    case("mo_default_independent", MIXED[:5], directions=("minimize", "minimize"), seed=13, schedule=seq(25)),
    case("mo_multivariate", MIXED[:5], directions=("minimize", "maximize"), seed=14, multivariate=True,
         schedule=seq(25)),
    case("mo_rounded_duplicates", [("x", FloatDistribution(0.0, 1.0)), ("n", IntDistribution(0, 6))],
         directions=("minimize", "minimize"), seed=15, multivariate=True, rounding=1, schedule=seq(30)),
    case("mo_three_objectives", MIXED[:3], directions=("minimize",) * 3, seed=16, multivariate=True,
         schedule=seq(25)),
    case("heretic_sequential", HERETIC, directions=("minimize", "minimize"), seed=17, n_startup_trials=10,
         n_ei_candidates=128, multivariate=True, schedule=seq(30)),
    case("heretic_running_constant_liar", HERETIC, directions=("minimize", "minimize"), seed=18,
         n_startup_trials=8, n_ei_candidates=128, multivariate=True, schedule=seq(8, batch=3)),
    case("heretic_running_no_liar", HERETIC, directions=("minimize", "minimize"), seed=19,
         n_startup_trials=8, n_ei_candidates=128, multivariate=True, constant_liar=False,
         schedule=seq(8, batch=3)),
    case("heretic_zombies", HERETIC, directions=("minimize", "minimize"), seed=20, n_startup_trials=6,
         n_ei_candidates=128, multivariate=True,
         schedule=seq(6) + [(2, "keep_running")] + seq(6) + [(1, "keep_running")] + seq(4)),
    case("partial_running_relative_params", MIXED[:4], seed=21, multivariate=True, n_startup_trials=4,
         schedule=seq(8) + [(2, "partial")] + seq(6, batch=2)),
    case("so_ramp_weights", MIXED, seed=22, multivariate=True, n_added=60, schedule=seq(6)),
    case("heretic_history_120", HERETIC, directions=("minimize", "minimize"), seed=23, n_startup_trials=60,
         n_ei_candidates=128, multivariate=True, n_added=120, schedule=seq(4, batch=2)),
    # 300 trials: 2000+ kernel-dimension pairs, so Optuna switches to its
    # polynomial erf in the densities; 256 candidates do the same in sampling.
    case("heretic_history_300", HERETIC, directions=("minimize", "minimize"), seed=25, n_startup_trials=60,
         n_ei_candidates=256, multivariate=True, n_added=300, schedule=seq(3)),
    case("so_history_300_polynomial_erf", MIXED[:3], seed=26, multivariate=True, n_added=300, n_ei_candidates=700,
         schedule=seq(3)),
    case("mo_univariate_history", MIXED, directions=("minimize", "minimize"), seed=24, multivariate=False,
         n_added=40, schedule=seq(5, batch=2)),
    case("seed_large", [("x", FloatDistribution(0.0, 10.0)), ("c", CategoricalDistribution(["p", "q"]))],
         seed=4294967295, schedule=seq(16)),
]


def main(out_dir: str) -> None:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    n_ops = 0
    for c in CASES:
        ops = run_case(c)
        ops_stable = run_case(c, stable_argsort=True)
        sensitive = ops != ops_stable
        if sensitive:
            print(f"{c['name']}: proposals depend on argsort tie order (stable variant written)")
        doc = {
            "name": c["name"],
            "optuna_version": optuna.__version__,
            "numpy_version": np.__version__,
            "seed": c["seed"],
            "directions": c["directions"],
            "options": {"n_startup_trials": c["n_startup_trials"], "n_ei_candidates": c["n_ei_candidates"],
                        "multivariate": c["multivariate"], "constant_liar": c["constant_liar"]},
            "space": [{"name": n, "distribution": dist_json(d)} for n, d in c["space"]],
            "argsort_tie_sensitive": sensitive,
            "ops": ops_stable if sensitive else ops,
        }
        n_asks = sum(op["op"] == "ask" for op in doc["ops"])
        n_ops += n_asks
        (out / f"{c['name']}.json").write_text(json.dumps(doc, indent=1) + "\n")
        print(f"{c['name']}: {n_asks} asks")
    print(f"{len(CASES)} cases, {n_ops} proposals")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/tpe")
