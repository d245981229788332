# Shared by the tests/slurm scripts: a single-node Slurm 22.05 (Debian 12's
# slurmctld, slurmd, munge) started as the test's own processes, with state,
# logs, sockets and pid files in a folder of its own, and stopped by PID when
# the script exits, failed or not.
#
# The setup and its traps come from ../shared/reference/slurm-local/README.md:
# - every Slurm command reads $SLURM_CONF (Debian's default is /etc/slurm/slurm.conf);
# - the node is named `localhost` (`slurmd -N localhost`), not after the host;
# - a second slurmd kills the first and can leave the node DRAINED: never start two;
# - the machine has 2 CPUs: more tasks than that need --overcommit;
# - Open MPI under srun needs --mpi=pmix; as root it needs OMPI_ALLOW_RUN_AS_ROOT*;
# - `scontrol requeue` leaves the job PENDING (BeginTime) for ~2 minutes:
#   release_requeued_job starts it again at once.
# The ports are fixed (6817, 6818): ctest runs these tests one at a time
# (RESOURCE_LOCK slurm).
set -euo pipefail
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMP_NUM_THREADS=1
SLURM_TEST_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

fail() { echo "FAIL: $*" >&2; exit 1; }

# The folder of the running cluster; empty until start_slurm.
SLURM_BASE=""

# new_workdir NAME: an empty folder for one test under $WORK_ROOT (the build's
# tests/slurm folder). A cluster left running there by an earlier, killed run
# of the same test is stopped first: its pid files are about to be deleted.
new_workdir() {
  local dir="$WORK_ROOT/$1"
  [ -d "$dir/slurm" ] && stop_daemons "$dir/slurm" >&2
  rm -rf "$dir"
  mkdir -p "$dir"
  echo "$dir"
}

# stop_pid NAME PIDFILE: SIGTERM, wait up to 10 s, then SIGKILL.
stop_pid() {
  [ -f "$2" ] || return 0
  local pid
  pid=$(cat "$2")
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      echo "slurm: $1 ($pid) still alive after 10 s, SIGKILL"
      kill -KILL "$pid"
    fi
    echo "slurm: stopped $1 ($pid)"
  fi
  rm -f "$2"
}

# stop_daemons BASE: the daemons of the cluster under BASE, by their pid files.
stop_daemons() {
  stop_pid slurmd "$1/run/slurmd.pid"
  stop_pid slurmctld "$1/run/slurmctld.pid"
  stop_pid munged "$1/run/munge/munged.pid"
}

# on_exit: cancels the cluster's jobs (a job's slurmstepd outlives the
# daemons), stops the daemons, and on failure shows the daemons' logs.
on_exit() {
  local rc=$?
  set +e
  if [ -n "$SLURM_BASE" ] && [ -f "$SLURM_BASE/run/slurmctld.pid" ]; then
    if [ -n "$(squeue -h -o %i 2>/dev/null)" ]; then
      scancel --full --signal=KILL --user=root 2>/dev/null
      scancel --user=root 2>/dev/null
      for _ in $(seq 1 50); do [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break; sleep 0.2; done
    fi
    if [ "$rc" -ne 0 ]; then
      for log in slurmctld slurmd; do
        echo "---- last lines of $SLURM_BASE/log/$log.log" >&2
        tail -n 25 "$SLURM_BASE/log/$log.log" >&2
      done
    fi
    stop_daemons "$SLURM_BASE"
  fi
  exit "$rc"
}

# start_slurm BASE: starts munged, slurmctld and slurmd with everything under
# BASE, exports SLURM_CONF, and arranges for on_exit to stop them. Fails
# (with the reason) if the node does not come up within 20 s.
start_slurm() {
  SLURM_BASE=$1
  trap on_exit EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  local base=$1 cpus mem_mb
  [ "$(id -u)" = 0 ] || fail "tests/slurm runs slurmd, which must be root (it starts jobs as their users)"
  for tool in munged slurmctld slurmd sbatch srun scontrol; do
    command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] ||
      fail "$tool is not installed (scripts/setup installs slurmctld slurmd slurm-client munge slurm-wlm-basic-plugins)"
  done
  [ -f /etc/munge/munge.key ] || fail "no /etc/munge/munge.key (is munge installed?)"
  cpus=$(getconf _NPROCESSORS_ONLN) # not nproc: it follows OMP_NUM_THREADS
  mem_mb=$(($(awk '/MemTotal/{print $2}' /proc/meminfo) / 1024 * 85 / 100))
  mkdir -p "$base"/{etc,state,spool,log,run/munge,munge}
  chown munge:munge "$base/run/munge" "$base/munge"
  chmod 0755 "$base/run/munge"
  chmod 0700 "$base/munge"
  sed -e "s#@BASE@#$base#g" -e "s#@CPUS@#$cpus#g" -e "s#@MEM@#$mem_mb#g" \
    "$SLURM_TEST_LIB_DIR/slurm.conf.in" > "$base/etc/slurm.conf"
  export SLURM_CONF=$base/etc/slurm.conf
  local sock=$base/run/munge/munge.socket.2
  runuser -u munge -- /usr/sbin/munged --socket="$sock" --pid-file="$base/run/munge/munged.pid" \
    --log-file="$base/munge/munged.log" --seed-file="$base/munge/munged.seed"
  munge -S "$sock" -n | unmunge -S "$sock" >/dev/null || fail "munged does not answer on $sock"
  /usr/sbin/slurmctld -f "$SLURM_CONF" # daemonizes; pid in run/slurmctld.pid
  for _ in $(seq 1 50); do scontrol ping 2>/dev/null | grep -q UP && break; sleep 0.2; done
  /usr/sbin/slurmd -f "$SLURM_CONF" -N localhost
  local state=""
  for _ in $(seq 1 100); do
    state=$(sinfo -h -n localhost -o '%T' 2>/dev/null || true)
    case "$state" in
      idle | mixed | allocated) return 0 ;; # no trailing "*" (not responding)
      drain* | down* | fail*) scontrol update NodeName=localhost State=RESUME 2>/dev/null || true ;;
    esac
    sleep 0.2
  done
  fail "the Slurm node did not come up: $(sinfo -h -o '%T %E' 2>&1)"
}

# job_field ID FIELD: a field of `scontrol show job` (JobState, Restarts,
# ExitCode, Reason, ...). Finished jobs stay visible for MinJobAge (300 s).
job_field() {
  scontrol show job -o "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1
}

# wait_until TIMEOUT_S WHAT CMD...: polls CMD every 0.5 s until it succeeds;
# fails naming WHAT after TIMEOUT_S seconds.
wait_until() {
  local timeout_s=$1 what=$2
  shift 2
  local deadline=$((SECONDS + timeout_s))
  until "$@"; do
    [ "$SECONDS" -lt "$deadline" ] || fail "timed out after ${timeout_s}s waiting for $what"
    sleep 0.5
  done
}

# job_is_pending_requeued ID: PENDING for BeginTime, as `scontrol requeue` leaves it.
job_is_pending_requeued() {
  [ "$(job_field "$1" JobState)" = PENDING ] && [ "$(job_field "$1" Reason)" = BeginTime ]
}

# release_requeued_job ID: starts a requeued job now rather than in ~2
# minutes. Releasing it in the second of the requeue fails the job ("Job
# credential revoked"), hence the 2 s.
release_requeued_job() {
  sleep 2
  scontrol update JobId="$1" StartTime=now
}

# job_is_finished ID: the job (every task of an array) has left the queue.
job_is_finished() {
  [ -z "$(squeue -h -j "$1" -o %i 2>/dev/null)" ]
}

# write_tiny_job FILE N_TRIALS [extra yaml lines...] (tests/support/tiny_job.sh),
# as a CPU job unless TINY_DEVICE says otherwise: the node has no GPUs, and
# `submit` gives a cpu job CPU worker ranks. TINY_EVAL=32 TINY_RESPONSE=200
# make a trial take ~2 s on this 2-core machine.
source "$(dirname "${BASH_SOURCE[0]}")/../support/tiny_job.sh"
export TINY_DEVICE=${TINY_DEVICE:-cpu}
