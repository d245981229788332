# A study submitted with `abliterate submit` gets USR1 mid-trial (as Slurm
# sends it before the time limit), is requeued, resumes, and ends with every
# trial COMPLETE: none lost, none run twice.
source "$(dirname "$0")/lib.sh"
work=$(new_workdir submit_requeue)
cd "$work"
n_trials=8

# ~2 s per trial (32 prompts per evaluation set, 200-token responses): the
# signal lands while trials are running, and they finish within the grace period.
TINY_EVAL=32 TINY_RESPONSE=200 write_tiny_job job.yaml "$n_trials" "grace_period: 60"
start_slurm "$work/slurm"

# 2 CPU workers + rank 0 on this 2-CPU node: --overcommit.
out=$("$ABLITERATE" submit job.yaml --workers-per-node 2 --overcommit --time 00:10:00)
echo "$out"
job_id=$(sed -n 's/^Submitted batch job \([0-9]*\)$/\1/p' <<<"$out")
[ -n "$job_id" ] || fail "no job id in: $out"
log="slurm-$job_id.out"

# USR1 to the batch shell, as --signal=B:USR1@... sends it, once trial 3 runs.
running_trial_3() { grep -q "^Running trial 3 of $n_trials" "$log" 2>/dev/null; }
wait_until 60 "trial 3 to start (log: $work/$log)" running_trial_3
scancel --signal=USR1 --batch "$job_id"
echo "sent USR1 to job $job_id"

wait_until 45 "job $job_id to be requeued" job_is_pending_requeued "$job_id"
n_complete_before=$(python3 - study.db <<'PY'
import sqlite3, sys
print(sqlite3.connect(sys.argv[1]).execute("SELECT COUNT(*) FROM trials WHERE state = 'COMPLETE'").fetchone()[0])
PY
)
echo "requeued with $n_complete_before of $n_trials trials COMPLETE"
[ "$n_complete_before" -lt "$n_trials" ] || fail "the study had finished before the signal: nothing to resume"
release_requeued_job "$job_id"
wait_until 75 "job $job_id to finish" job_is_finished "$job_id"
cat "$log"

[ "$(job_field "$job_id" JobState)" = COMPLETED ] || fail "job $job_id ended $(job_field "$job_id" JobState)"
[ "$(job_field "$job_id" Restarts)" = 1 ] || fail "job $job_id: Restarts=$(job_field "$job_id" Restarts), expected 1"
grep -q "^abliterate-submit: got SIGUSR1" "$log" || fail "the batch shell did not trap USR1"
grep -q "requeueing job $job_id" "$log" || fail "the first run did not requeue (exit 75)"
[ "$(grep -c '^abliterate-submit: job .* starts' "$log")" = 2 ] || fail "expected two runs in one log"

python3 - study.db "$n_trials" <<'PY'
import sqlite3, sys
db, n_trials = sqlite3.connect(sys.argv[1]), int(sys.argv[2])
states = dict(db.execute("SELECT state, COUNT(*) FROM trials GROUP BY state").fetchall())
assert states == {"COMPLETE": n_trials}, f"trial states {states}, expected {n_trials} COMPLETE and nothing else"
numbers = [n for (n,) in db.execute("SELECT number FROM trials ORDER BY number")]
assert numbers == list(range(n_trials)), f"trial numbers {numbers}"
params = {}
for trial_id, name, value in db.execute("SELECT trial_id, param_name, param_value FROM trial_params"):
    params.setdefault(trial_id, []).append((name, value))
sets = [tuple(sorted(p)) for p in params.values()]
assert len(sets) == n_trials, f"{len(sets)} trials have parameters, expected {n_trials}"
assert len(set(sets)) == n_trials, "a parameter set was run twice"
n_values = db.execute("SELECT COUNT(*) FROM trial_values").fetchone()[0]
assert n_values == 2 * n_trials, f"{n_values} objective values, expected {2 * n_trials}"
print(f"store: {n_trials} trials COMPLETE, parameters unique")
PY
echo "PASS: USR1 mid-trial, requeue, resume, every trial COMPLETE once"
