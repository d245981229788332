#!/usr/bin/env bash
# Preemption under mpirun (issue 12): USR1 to mpirun, which forwards it to
# every rank, as srun does on a Slurm warning. The workers ignore it; rank 0
# starts no new trial, gives the trials in flight grace_period seconds, then
# records the ones still running FAIL (interrupted) and exits 75. One worker
# is made to hang on store trial 3 (ABLITERATE_TEST_HANG_TRIAL), so one
# trial outlives the grace period while the other worker's finish in it.
# The same command then resumes: the interrupted trial runs again first, the
# budget completes, and no parameters ran twice to COMPLETE.
source "$(dirname "$0")/lib.sh"
dir=$(new_workdir preemption)
cd "$dir"
n_trials=20
write_tiny_job job.yaml "$n_trials" "grace_period: 2" "worker_timeout: 600"

"$MPIEXEC" --oversubscribe -n 3 -x ABLITERATE_TEST_HANG_TRIAL=3 stdbuf -oL "$ABLITERATE" run job.yaml > run1.log 2>&1 &
mpirun_pid=$!
# Signal once trial 3 hangs and the other worker has moved past it: placed by
# progress, not by the clock.
for _ in $(seq 1 600); do
  grep -q "^Running trial 6 " run1.log && break
  kill -0 "$mpirun_pid" 2>/dev/null || break
  sleep 0.1
done
grep -q "^Running trial 6 " run1.log || { cat run1.log; fail "the run never reached trial 6"; }
kill -USR1 "$mpirun_pid"
rc=0
wait "$mpirun_pid" || rc=$?
cat run1.log
[ "$rc" -eq 75 ] || fail "a preempted run exited $rc, expected 75"
grep -q "^Stop signal 10: no new trials" run1.log || fail "rank 0 did not say it stopped dispatching"
grep -q "did not finish within the grace period: recorded FAIL (interrupted)" run1.log \
  || fail "the hung trial was not recorded interrupted"

python3 - study.db <<'PY'
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
states = dict(db.execute("SELECT number, state FROM trials"))
assert "RUNNING" not in states.values(), f"RUNNING trials left: {states}"
failed = [n for n, s in states.items() if s == "FAIL"]
assert failed == [3], f"FAIL trials {failed}, expected [3] (the hung one): {states}"
(reason,) = db.execute("SELECT value_json FROM trial_user_attributes ua JOIN trials t USING (trial_id) "
                       "WHERE t.number = 3 AND ua.key = 'fail_reason'").fetchone()
assert json.loads(reason) == "interrupted", reason
print(f"after the signal: {sum(s == 'COMPLETE' for s in states.values())} COMPLETE, trial 3 FAIL (interrupted)")
PY

"$ABLITERATE" run job.yaml > run2.log 2>&1 || { cat run2.log; fail "the resume failed"; }
grep -q "1 interrupted trial(s) will run again first" run2.log || { cat run2.log; fail "the resume did not re-run trial 3"; }
python3 - study.db "$n_trials" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
n_trials = int(sys.argv[2])
states = dict(db.execute("SELECT number, state FROM trials"))
complete = [n for n, s in states.items() if s == "COMPLETE"]
assert len(complete) == n_trials, f"{len(complete)} COMPLETE, expected {n_trials}: {states}"
assert [n for n, s in states.items() if s != "COMPLETE"] == [3], states
params = {}
for number, name, value in db.execute("SELECT t.number, p.param_name, p.param_value FROM trial_params p "
                                      "JOIN trials t USING (trial_id)"):
    params.setdefault(number, []).append((name, value))
complete_sets = [tuple(sorted(params[n])) for n in complete]
assert len(set(complete_sets)) == len(complete_sets), "a parameter set ran twice to COMPLETE"
assert tuple(sorted(params[3])) in complete_sets, "the interrupted trial's parameters never completed"
print(f"after the resume: {n_trials} COMPLETE, the interrupted trial re-run once, no set run twice")
PY
echo "PASS: a preempted study stopped within its grace period, exited 75 and resumed without loss or repeat"
