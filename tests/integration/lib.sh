# Shared by the integration scripts: a fresh work folder and assertions.
set -euo pipefail
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1

fail() { echo "FAIL: $*" >&2; exit 1; }

# new_workdir NAME: an empty folder for one test.
new_workdir() {
  local dir="$WORK_ROOT/$1"
  rm -rf "$dir"
  mkdir -p "$dir"
  echo "$dir"
}

# write_tiny_job FILE N_TRIALS [extra yaml lines...]: a job on the tiny model
# and the project's own prompt sets, small enough to run in seconds.
write_tiny_job() {
  local file=$1 n_trials=$2
  shift 2
  cat > "$file" <<YAML
model: $TINY_MODEL
batch_size: 4
max_response_length: 6
n_trials: $n_trials
n_startup_trials: $n_trials
seed: 7
study_name: tiny
good_prompts: {dataset: $REPO/jobs/data/harmless, split: "train[:12]"}
bad_prompts: {dataset: $REPO/jobs/data/harmful, split: "train[:12]"}
good_evaluation_prompts: {dataset: $REPO/jobs/data/harmless, split: "test[:6]"}
bad_evaluation_prompts: {dataset: $REPO/jobs/data/harmful, split: "test[:6]"}
store: study.db
cache: cache.h5
YAML
  for line in "$@"; do echo "$line" >> "$file"; done
}
