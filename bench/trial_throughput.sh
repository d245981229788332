#!/usr/bin/env bash
# Prints seconds per trial and trials per minute of a study on the tiny model,
# with one in-process worker and under mpirun with 2 workers.
#   bench/trial_throughput.sh [N_TRIALS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
n_trials=${1:-12}
abliterate=$root/build/abliterate
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$abliterate" make-tiny-model "$work/tiny" > /dev/null
# The tests' tiny job (tests/support/tiny_job.sh), with 32 evaluation prompts
# per set and 16-token responses.
source "$root/tests/support/tiny_job.sh"
TINY_MODEL=$work/tiny REPO=$root TINY_DEVICE=cpu TINY_EVAL=32 TINY_RESPONSE=16 write_tiny_job "$work/job.yaml" "$n_trials"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
for ranks in 1 3; do
  cd "$work" && rm -f study.db* cache.h5
  start=$(python3 -c "import time; print(time.time())")
  if [ "$ranks" -eq 1 ]; then "$abliterate" run job.yaml > log.txt; else mpirun --oversubscribe -n $ranks "$abliterate" run job.yaml > log.txt; fi
  end=$(python3 -c "import time; print(time.time())")
  python3 -c "import sys; t=float(sys.argv[1]); n=int(sys.argv[2]); print(f'ranks={sys.argv[3]}: {t:.1f} s for {n} trials (incl. preparation) = {t/n:.2f} s/trial, {60*n/t:.1f} trials/min')" \
    "$(python3 -c "print($end - $start)")" "$n_trials" "$ranks"
done
