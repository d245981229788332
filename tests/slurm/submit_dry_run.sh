# `abliterate submit --dry-run` for 2 nodes x 4 GPUs (rank count, srun flags,
# the signal, the trap, the requeue on 75), a sweep's job array, the refusals,
# and a hostile job path: spaces, a single quote and $(touch /tmp/pwned)
# reach `abliterate run` as written, through a real sbatch and srun, and
# create nothing.
source "$(dirname "$0")/lib.sh"
work=$(new_workdir submit_dry_run)
cd "$work"
grep_script() { grep -qxF -- "$2" <<<"$1" || fail "the script has no line '$2':"$'\n'"$1"; }

TINY_DEVICE=auto write_tiny_job job.yaml 4

# --- 2 nodes x 4 GPUs: 9 ranks (device auto: the job need not say cuda); the program is this
# binary unless ABLITERATE says otherwise.
script=$(env -u ABLITERATE "$ABLITERATE" submit job.yaml --nodes 2 --gpus-per-node 4 --time 01:00:00 --dry-run)
abliterate_real=$(readlink -f "$ABLITERATE")
grep_script "$script" "#SBATCH --nodes=2"
grep_script "$script" "#SBATCH --ntasks-per-node=5"
grep_script "$script" "#SBATCH --gpus-per-node=4"
grep_script "$script" "#SBATCH --time=01:00:00"
grep_script "$script" "#SBATCH --signal=B:USR1@90" # the default grace_period (60 s) + 30 s
grep_script "$script" "#SBATCH --requeue"
grep_script "$script" "#SBATCH --open-mode=append"
grep_script "$script" "abliterate='$abliterate_real'"
grep_script "$script" "cd '$work' || exit 1"
grep_script "$script" "srun --mpi=pmix --kill-on-bad-exit=0 --wait=60 --ntasks=9 \"\$abliterate\" run '$work/job.yaml' &"
grep_script "$script" "trap 'forward_stop USR1' USR1"
grep_script "$script" "trap 'forward_stop TERM' TERM"
grep_script "$script" "  kill -s USR1 \"\$step_pid\" 2>/dev/null || true"
grep_script "$script" "if [ \"\$rc\" -eq \"\$ex_tempfail\" ]; then"
grep_script "$script" "  if scontrol requeue \"\$SLURM_JOB_ID\"; then"
grep -q overcommit <<<"$script" && fail "GPU workers need no --overcommit"
bash -n <<<"$script" || fail "the script is not valid bash"
[ "$(grep -c '^#SBATCH' <<<"$script")" = 8 ] || fail "expected 8 #SBATCH lines"

# The job's grace_period sets the signal's lead.
write_tiny_job graceful.yaml 4 "grace_period: 200"
script=$("$ABLITERATE" submit graceful.yaml --workers-per-node 2 --overcommit --dry-run)
grep_script "$script" "#SBATCH --signal=B:USR1@230"
grep_script "$script" "#SBATCH --overcommit"
grep -q gpus-per-node <<<"$script" && fail "CPU workers ask for no GPUs"

# --- a sweep: a job array, one task per entry.
mkdir -p models
"$ABLITERATE" make-tiny-model models/tiny-a --seed 1 >/dev/null
"$ABLITERATE" make-tiny-model models/tiny-b --seed 2 >/dev/null
cat > sweep.yaml <<YAML
base: job.yaml
models:
  - models/tiny-a
  - models/tiny-b
YAML
script=$("$ABLITERATE" submit sweep.yaml --gpus-per-node 2 --array-parallel 1 --dry-run)
grep_script "$script" "#SBATCH --array=0-1%1"
grep_script "$script" "srun --mpi=pmix --kill-on-bad-exit=0 --wait=60 --ntasks=3 \"\$abliterate\" sweep '$work/sweep.yaml' --entry \"\$SLURM_ARRAY_TASK_ID\" &"

# --- refusals, each naming what is wrong.
expect_error() { # expected-message command...
  local expected=$1 out
  shift
  if out=$("$@" 2>&1); then fail "expected an error from: $*"; fi
  grep -qF -- "$expected" <<<"$out" || fail "expected '$expected' from: $*; got: $out"
}
expect_error '--partition: "gpu\n#SBATCH --account=other" cannot go on an #SBATCH line: a newline' \
  "$ABLITERATE" submit job.yaml --partition $'gpu\n#SBATCH --account=other' --dry-run
expect_error "--account: \"a b\" cannot go on an #SBATCH line: a space" "$ABLITERATE" submit job.yaml --account "a b" --dry-run
expect_error "--array-parallel: job.yaml is a job, not a sweep" "$ABLITERATE" submit job.yaml --array-parallel 2 --dry-run
expect_error "missing.yaml: no such file" "$ABLITERATE" submit missing.yaml --dry-run
expect_error "--nodes: expected 1 or more, got 0" "$ABLITERATE" submit job.yaml --nodes 0 --dry-run
expect_error "sbatch is not on PATH" env PATH=/nonexistent "$ABLITERATE" submit job.yaml

# --- a hostile job path, submitted for real. A stand-in for abliterate
# records the arguments it is given (sbatch exports the environment).
rm -f /tmp/pwned
hostile_dir="$work/jobs with spaces/it's \$(touch /tmp/pwned)"
mkdir -p "$hostile_dir"
cp job.yaml "$hostile_dir/job.yaml"
cat > record-args <<'SH'
#!/bin/bash
printf '%s\n' "$@" > "$RECORD_TO"
SH
chmod +x record-args
start_slurm "$work/slurm"

# sbatch failing is reported with its stderr.
expect_error "invalid partition specified: nosuch" "$ABLITERATE" submit job.yaml --workers-per-node 1 --partition nosuch

out=$(ABLITERATE="$work/record-args" RECORD_TO="$work/args.txt" \
  "$ABLITERATE" submit "$hostile_dir/job.yaml" --workers-per-node 1 --overcommit)
echo "$out"
job_id=$(sed -n 's/^Submitted batch job \([0-9]*\)$/\1/p' <<<"$out")
[ -n "$job_id" ] || fail "no job id in: $out"
wait_until 60 "job $job_id to end" job_is_finished "$job_id"
cat "slurm-$job_id.out"
[ "$(job_field "$job_id" JobState)" = COMPLETED ] || fail "job $job_id: $(job_field "$job_id" JobState)"
expected_args=$(printf '%s\n' run "$hostile_dir/job.yaml")
[ "$(cat args.txt)" = "$expected_args" ] || fail "the program got: $(cat args.txt); expected: $expected_args"
[ ! -e /tmp/pwned ] || fail "/tmp/pwned exists: the job path ran a command"
[ -z "$(find "$work" -name pwned)" ] || fail "a file named pwned was created: $(find "$work" -name pwned)"
echo "PASS: submit --dry-run, refusals and quoting"
