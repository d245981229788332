#!/usr/bin/env bash
# A 6-trial study on the tiny model under `mpirun -n 3` (rank 0 coordinates,
# ranks 1-2 work), then a resume without mpirun that raises the budget to 8.
source "$(dirname "$0")/lib.sh"
dir=$(new_workdir mpi_study)
cd "$dir"
write_tiny_job job.yaml 6

"$MPIEXEC" --oversubscribe -n 3 "$ABLITERATE" run job.yaml > run1.log 2>&1 || { cat run1.log; fail "mpirun study failed"; }
cat run1.log
grep -q "rank 1" run1.log || fail "rank 1 did not take part"
grep -q "rank 2" run1.log || fail "rank 2 did not take part"
grep -q "Pareto front" run1.log || fail "no Pareto front printed"

python3 - study.db 6 <<'PY'
import json, math, sqlite3, sys
path, want = sys.argv[1], int(sys.argv[2])
db = sqlite3.connect(path)
(version,) = db.execute("SELECT version_num FROM alembic_version").fetchone()
assert version == "v3.2.0.a", version
tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
for t in ["studies", "study_directions", "trials", "trial_params", "trial_values", "trial_user_attributes",
          "study_user_attributes", "version_info", "alembic_version"]:
    assert t in tables, f"missing table {t}"
states = [r[0] for r in db.execute("SELECT state FROM trials ORDER BY number")]
assert states == ["COMPLETE"] * want, states
numbers = [r[0] for r in db.execute("SELECT number FROM trials ORDER BY trial_id")]
assert numbers == list(range(want)), numbers
for (trial_id,) in db.execute("SELECT trial_id FROM trials"):
    attrs = {k: json.loads(v) for k, v in db.execute(
        "SELECT key, value_json FROM trial_user_attributes WHERE trial_id=?", (trial_id,))}
    kl, refusals, n_bad = attrs["kl_divergence"], attrs["refusals"], attrs["n_bad_prompts"]
    assert math.isfinite(kl) and kl >= 0, kl
    assert 0 <= refusals <= n_bad == 6, (refusals, n_bad)
    n_params = db.execute("SELECT COUNT(*) FROM trial_params WHERE trial_id=?", (trial_id,)).fetchone()[0]
    assert n_params == 10, n_params
    n_values = db.execute("SELECT COUNT(*) FROM trial_values WHERE trial_id=?", (trial_id,)).fetchone()[0]
    assert n_values == 2, n_values
(settings,) = db.execute("SELECT value_json FROM study_user_attributes WHERE key='settings'").fetchone()
assert json.loads(settings)["n_trials"] == want
assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
print(f"{path}: {want} COMPLETE trials, schema v3.2.0.a, finite KL, refusals in range")
PY

# Tiny model: 4 layers, hidden 64 -> directions [5, 64].
"$CHECK_CACHE" cache.h5 5 64

# Resume without mpirun (one in-process worker): the budget rises to 8, the
# 6 finished trials stay, and the cached preparation is reused.
"$ABLITERATE" run job.yaml --n-trials 8 > run2.log 2>&1 || { cat run2.log; fail "resume failed"; }
cat run2.log
grep -q "Resuming existing study" run2.log || fail "the second run did not resume"
grep -q "Using cached" run2.log || fail "the second run did not use the cache"
python3 - study.db <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
states = [r[0] for r in db.execute("SELECT state FROM trials ORDER BY number")]
assert states == ["COMPLETE"] * 8, states
print("resume: 8 COMPLETE trials")
PY

"$ABLITERATE" status study.db > status.log || fail "status failed"
cat status.log
grep -q "COMPLETE" status.log || fail "status shows no COMPLETE trial"
echo "mpi_study: ok"
