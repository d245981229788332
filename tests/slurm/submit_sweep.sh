# A 2-entry sweep submitted with `abliterate submit` runs as a job array
# through sbatch, one task per entry (`abliterate sweep SWEEP --entry i`
# under srun), and both studies complete.
source "$(dirname "$0")/lib.sh"
work=$(new_workdir submit_sweep)
cd "$work"
n_trials=3

write_tiny_job base.yaml "$n_trials"
mkdir -p models
"$ABLITERATE" make-tiny-model models/tiny-a --seed 11 >/dev/null
"$ABLITERATE" make-tiny-model models/tiny-b --seed 12 >/dev/null
cat > sweep.yaml <<YAML
base: base.yaml
out_dir: runs
models:
  - {name: a, model: models/tiny-a}
  - {name: b, model: models/tiny-b}
YAML
start_slurm "$work/slurm"

# Each task: rank 0 + 1 CPU worker; both tasks at once on this 2-CPU node.
out=$("$ABLITERATE" submit sweep.yaml --workers-per-node 1 --overcommit --time 00:10:00)
echo "$out"
job_id=$(sed -n 's/^Submitted batch job \([0-9]*\)$/\1/p' <<<"$out")
[ -n "$job_id" ] || fail "no job id in: $out"
wait_until 120 "job array $job_id to finish" job_is_finished "$job_id"
for entry in 0 1; do
  echo "---- slurm-${job_id}_$entry.out"
  cat "slurm-${job_id}_$entry.out"
done

# One record per array task, each COMPLETED.
states=$(scontrol show job -o "$job_id" | grep -o 'JobState=[A-Z]*' | sort | uniq -c | sed 's/^ *//')
[ "$states" = "2 JobState=COMPLETED" ] || fail "array tasks: $states; expected 2 COMPLETED"
for entry in 0 1; do
  grep -q "abliterate-submit: the run ended with exit code 0" "slurm-${job_id}_$entry.out" ||
    fail "array task $entry did not end with exit code 0"
done

for name in a b; do
  python3 - "runs/$name/study.db" "$n_trials" <<'PY'
import sqlite3, sys
db, n_trials = sqlite3.connect(sys.argv[1]), int(sys.argv[2])
states = dict(db.execute("SELECT state, COUNT(*) FROM trials GROUP BY state").fetchall())
assert states == {"COMPLETE": n_trials}, f"{sys.argv[1]}: trial states {states}, expected {n_trials} COMPLETE"
print(f"{sys.argv[1]}: {n_trials} trials COMPLETE")
PY
done
"$ABLITERATE" status runs
echo "PASS: a 2-entry sweep as a job array"
