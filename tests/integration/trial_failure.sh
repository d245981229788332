#!/usr/bin/env bash
# Bad numbers fail the trial, not the study (issue 12): under `mpirun -n 4` a
# worker's trial gets NaN logits (ABLITERATE_TEST_NAN_TRIAL poisons its
# directions), and the study records exactly that trial FAIL with its error's
# kind and reason, runs a replacement and completes its budget. A resume does
# not run the failed trial again.
source "$(dirname "$0")/lib.sh"
dir=$(new_workdir trial_failure)
cd "$dir"
write_tiny_job job.yaml 6

"$MPIEXEC" --oversubscribe -n 4 -x ABLITERATE_TEST_NAN_TRIAL=2 "$ABLITERATE" run job.yaml > run1.log 2>&1 \
  || { cat run1.log; fail "the study stopped on a trial's NaN logits"; }
cat run1.log
grep -q "failed on rank [123]: numeric error: .*not finite" run1.log || fail "no numeric failure printed for trial 3"

# check_store WANT_COMPLETE: exactly one FAIL (store number 2) with a numeric reason, the rest COMPLETE.
check_store() {
  python3 - study.db "$1" <<'PY'
import json, sqlite3, sys
path, want = sys.argv[1], int(sys.argv[2])
db = sqlite3.connect(path)
states = dict(db.execute("SELECT number, state FROM trials"))
failed = [n for n, s in states.items() if s == "FAIL"]
assert failed == [2], f"FAIL trials {failed}, expected [2]: {states}"
complete = [n for n, s in states.items() if s == "COMPLETE"]
assert len(complete) == want and len(states) == want + 1, states
(reason,) = db.execute("SELECT value_json FROM trial_user_attributes ua JOIN trials t USING (trial_id) "
                       "WHERE t.number = 2 AND ua.key = 'fail_reason'").fetchone()
reason = json.loads(reason)
assert reason.startswith("numeric error: ") and "not finite" in reason, reason
print(f"{path}: trial 2 FAIL ({reason}), {want} COMPLETE")
PY
}
check_store 6

# A resume raises the budget by one: one new trial runs; the failed one stays FAIL.
"$ABLITERATE" run job.yaml --n-trials 7 > run2.log 2>&1 || { cat run2.log; fail "resume failed"; }
check_store 7
echo "PASS: a trial with NaN logits failed alone; the study completed and resumed"
