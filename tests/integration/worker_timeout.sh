#!/usr/bin/env bash
# A hung worker (issue 12): under `mpirun -n 4` the worker that gets store
# trial 2 never replies (ABLITERATE_TEST_HANG_TRIAL). After worker_timeout
# seconds rank 0 records that trial FAIL (worker timeout), lets the other
# workers' trials finish, names the rank and host, and ends the run with
# code 3. The same command then resumes and finishes the study, running the
# timed-out trial's parameters again first.
source "$(dirname "$0")/lib.sh"
dir=$(new_workdir worker_timeout)
cd "$dir"
n_trials=8
write_tiny_job job.yaml "$n_trials" "worker_timeout: 3"

rc=0
"$MPIEXEC" --oversubscribe -n 4 -x ABLITERATE_TEST_HANG_TRIAL=2 "$ABLITERATE" run job.yaml > run1.log 2>&1 || rc=$?
cat run1.log
[ "$rc" -eq 3 ] || fail "a run with a hung worker exited $rc, expected 3"
grep -qE "^Trial 3 failed: rank [123] on [^ ]+ sent nothing for 3s \(worker_timeout\)" run1.log \
  || fail "no message naming the hung rank and its host"
grep -q "run the same command to resume" run1.log || fail "the run did not say how to resume"

python3 - study.db <<'PY'
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
states = dict(db.execute("SELECT number, state FROM trials"))
assert "RUNNING" not in states.values(), f"RUNNING trials left: {states}"
assert [n for n, s in states.items() if s == "FAIL"] == [2], states
(reason,) = db.execute("SELECT value_json FROM trial_user_attributes ua JOIN trials t USING (trial_id) "
                       "WHERE t.number = 2 AND ua.key = 'fail_reason'").fetchone()
assert json.loads(reason) == "worker timeout", reason
print(f"after the timeout: trial 2 FAIL (worker timeout), {sum(s == 'COMPLETE' for s in states.values())} COMPLETE")
PY

"$MPIEXEC" --oversubscribe -n 4 "$ABLITERATE" run job.yaml > run2.log 2>&1 || { cat run2.log; fail "the resume failed"; }
grep -q "1 interrupted trial(s) will run again first" run2.log || { cat run2.log; fail "the resume did not re-run trial 2"; }
python3 - study.db "$n_trials" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
n_trials = int(sys.argv[2])
states = dict(db.execute("SELECT number, state FROM trials"))
assert sum(s == "COMPLETE" for s in states.values()) == n_trials, states
assert [n for n, s in states.items() if s != "COMPLETE"] == [2], states
print(f"after the resume: {n_trials} COMPLETE")
PY
echo "PASS: a hung worker timed out its trial, the run ended with code 3, and a resume finished the study"
