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

# write_tiny_job FILE N_TRIALS [extra yaml lines...]: see tests/support/tiny_job.sh.
source "$(dirname "${BASH_SOURCE[0]}")/../support/tiny_job.sh"
