#!/usr/bin/env bash
# Optuna compatibility (issue 5, DESIGN.md §5): a store our binary wrote opens
# in Optuna 5 (`optuna.load_study`) with the right trials, values, params and
# Pareto front, and optuna-dashboard serves it over its HTTP API on loopback.
# Needs PyPI the first time (a venv under the build folder, reused after).
source "$(dirname "$0")/lib.sh"
venv="$WORK_ROOT/venv-optuna"
if ! "$venv/bin/python" -c "import optuna, optuna_dashboard" 2> /dev/null; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check optuna optuna-dashboard ||
    fail "pip install optuna optuna-dashboard failed (this test needs PyPI once to fill $venv)"
fi
"$venv/bin/python" -c "import optuna, optuna_dashboard; print('optuna', optuna.__version__, 'optuna-dashboard', optuna_dashboard.__version__)"

dir=$(new_workdir optuna_compat)
cd "$dir"
# Raw objectives: the values are (KL divergence, refusals) themselves, so
# Optuna's Pareto front of the values is the front of raw (refusals, KL).
write_tiny_job job.yaml 8 "objectives: raw"
"$MPIEXEC" --oversubscribe -n 3 "$ABLITERATE" run job.yaml > run.log 2>&1 || { cat run.log; fail "study failed"; }
"$ABLITERATE" status study.db > status.log || fail "status failed"
cat status.log

"$venv/bin/python" - study.db tiny status.log <<'PY'
import json, math, sqlite3, sys
import optuna

path, name, status_path = sys.argv[1:4]
study = optuna.load_study(study_name=name, storage=f"sqlite:///{path}")
trials = study.get_trials(deepcopy=False)
db = sqlite3.connect(path)

assert [d.name for d in study.directions] == ["MINIMIZE", "MINIMIZE"], study.directions
assert study.metric_names == ["kl_divergence", "refusals"], study.metric_names
settings = study.user_attrs["settings"]
assert settings["n_trials"] == 8 and settings["objectives"] == "raw", settings
complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
assert len(complete) == 8, [t.state for t in trials]

rows = db.execute("SELECT trial_id, number, state FROM trials ORDER BY number").fetchall()
assert [t.number for t in trials] == [r[1] for r in rows]
for t, (trial_id, number, state) in zip(trials, rows):
    assert t._trial_id == trial_id and t.state.name == state, (t, trial_id, state)
    values = [v for (v,) in db.execute("SELECT value FROM trial_values WHERE trial_id=? ORDER BY objective",
                                       (trial_id,))]
    assert (t.values or []) == values, (t.values, values)
    stored = {n: (v, json.loads(d)) for n, v, d in db.execute(
        "SELECT param_name, param_value, distribution_json FROM trial_params WHERE trial_id=?", (trial_id,))}
    assert set(t.params) == set(stored), (t.params.keys(), stored.keys())
    for param, (internal, dist_json) in stored.items():
        distribution = t.distributions[param]
        assert distribution == optuna.distributions.json_to_distribution(json.dumps(dist_json)), param
        assert distribution.to_internal_repr(t.params[param]) == internal, (param, t.params[param], internal)
        if isinstance(distribution, optuna.distributions.CategoricalDistribution):
            assert t.params[param] == distribution.choices[int(internal)]
        else:
            assert t.params[param] == internal and distribution.low <= internal <= distribution.high
    attrs = {k: json.loads(v) for k, v in db.execute(
        "SELECT key, value_json FROM trial_user_attributes WHERE trial_id=?", (trial_id,))}
    assert t.user_attrs == attrs, (t.user_attrs, attrs)
    if t.state == optuna.trial.TrialState.COMPLETE:
        assert t.values == [attrs["kl_divergence"], attrs["refusals"]], (t.values, attrs)
        assert t.datetime_start <= t.datetime_complete

# best_trials == the front `abliterate status` printed (method spec §7.5: one
# trial per distinct (refusals, KL) point; Optuna keeps every tied trial).
status = open(status_path).read()
front_lines = status.split("Pareto front (refusals, KL divergence):\n", 1)[1].strip().splitlines()
ours = [int(line.split("]")[0].split()[-1]) for line in front_lines if line.startswith("[Trial")]
assert ours, status
best = study.best_trials
best_points = {(t.values[1], t.values[0]) for t in best}
by_number = {t.number: t for t in trials}
our_points = {(by_number[n].values[1], by_number[n].values[0]) for n in ours}
assert our_points == best_points, (ours, [t.number for t in best])
assert set(ours) <= {t.number for t in best}, (ours, [t.number for t in best])
for n in ours:
    line = next(l for l in front_lines if l.startswith(f"[Trial {n:3d}]"))
    assert f"KL divergence: {by_number[n].user_attrs['kl_divergence']:.4f}" in line, line
assert f"Progress: 8 of 8 trials COMPLETE" in status, status
print(f"optuna {optuna.__version__}: {len(trials)} trials, values/params/attrs equal the store; "
      f"best_trials {sorted(t.number for t in best)} = front {ours}")
PY

# optuna-dashboard on a free loopback port, queried over HTTP, then stopped.
port=$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
"$venv/bin/optuna-dashboard" "sqlite:///$dir/study.db" --host 127.0.0.1 --port "$port" > dashboard.log 2>&1 &
dashboard=$!
trap 'kill $dashboard 2> /dev/null || true' EXIT
"$venv/bin/python" - "$port" "$dir/study.db" <<'PY' || { cat dashboard.log; fail "optuna-dashboard check failed"; }
import json, sqlite3, sys, time, urllib.request

port, path = sys.argv[1], sys.argv[2]
base = f"http://127.0.0.1:{port}"
deadline = time.monotonic() + 60
while True:
    try:
        with urllib.request.urlopen(f"{base}/api/studies", timeout=5) as r:
            studies = json.load(r)["study_summaries"]
        break
    except OSError:
        if time.monotonic() > deadline:
            raise
        time.sleep(0.2)
assert [s["study_name"] for s in studies] == ["tiny"], studies
summary = studies[0]
assert summary["directions"] == ["minimize", "minimize"], summary
with urllib.request.urlopen(f"{base}/api/studies/{summary['study_id']}?after=0", timeout=30) as r:
    detail = json.load(r)
db = sqlite3.connect(path)
n = db.execute("SELECT COUNT(*) FROM trials").fetchone()[0]
assert detail["name"] == "tiny", detail["name"]
assert len(detail["trials"]) == n == 8, (len(detail["trials"]), n)
assert [t["number"] for t in detail["trials"]] == list(range(n))
assert all(t["state"] == "Complete" for t in detail["trials"]), [t["state"] for t in detail["trials"]]
assert all(len(t["params"]) == 10 for t in detail["trials"])
assert detail["objective_names"] == ["kl_divergence", "refusals"], detail.get("objective_names")
assert detail["best_trials"], detail["best_trials"]
print(f"optuna-dashboard on 127.0.0.1:{port}: study 'tiny', {n} trials, "
      f"{len(detail['best_trials'])} best trial(s)")
PY
kill "$dashboard"
wait "$dashboard" 2> /dev/null || true
trap - EXIT
echo "optuna_compat: ok"
