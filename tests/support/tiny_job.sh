# Sourced by tests/integration/lib.sh and tests/slurm/lib.sh.
#
# write_tiny_job FILE N_TRIALS [extra yaml lines...]: a job on the tiny model
# ($TINY_MODEL) and the project's own prompt sets ($REPO/jobs/data), small
# enough to run in seconds. TINY_DEVICE (default auto) sets `device`;
# TINY_EVAL (default 6) prompts per evaluation set and TINY_RESPONSE (default
# 6) tokens per response set how long a trial takes.
write_tiny_job() {
  local file=$1 n_trials=$2
  shift 2
  cat > "$file" <<YAML
model: $TINY_MODEL
device: ${TINY_DEVICE:-auto}
batch_size: 4
max_response_length: ${TINY_RESPONSE:-6}
n_trials: $n_trials
n_startup_trials: $n_trials
seed: 7
study_name: tiny
good_prompts: {dataset: $REPO/jobs/data/harmless, split: "train[:12]"}
bad_prompts: {dataset: $REPO/jobs/data/harmful, split: "train[:12]"}
good_evaluation_prompts: {dataset: $REPO/jobs/data/harmless, split: "test[:${TINY_EVAL:-6}]"}
bad_evaluation_prompts: {dataset: $REPO/jobs/data/harmful, split: "test[:${TINY_EVAL:-6}]"}
store: study.db
cache: cache.h5
YAML
  for line in "$@"; do echo "$line" >> "$file"; done
}
