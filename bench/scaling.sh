#!/usr/bin/env bash
# Scaling of the trial loop across workers (issue 12): real MPI ranks, a real
# SQLite store and TPE, and workers whose evaluation sleeps a fixed time, so
# that only the coordinator and the transport can cost scaling.
#
#   bench/scaling.sh [ROUNDS] [SLEEP]     default: 8 rounds of 2 s per worker count
#
# Prints trials/s with 1, 2, 4 and 8 workers (oversubscribed: the workers
# sleep), the scaling efficiency against 1 worker, and the coordinator's CPU
# time per trial over a 1000-trial study with instant workers.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rounds=${1:-8}
sleep_s=${2:-2}
build=${BUILD_DIR:-$root/build}
cmake --build "$build" --target scaling_bench -j2 > /dev/null
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1

field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p"; }

printf '%-8s %8s %10s %10s %12s %11s\n' workers trials wall_s ideal_s trials_per_s efficiency
base=""
for workers in 1 2 4 8; do
  trials=$((rounds * workers))
  line=$(mpiexec -n $((workers + 1)) "$build/scaling_bench" --trials "$trials" --sleep "$sleep_s" 2>&1 >/dev/null \
         | grep '^workers=')
  rate=$(field trials_per_s <<< "$line")
  [ -n "$base" ] || base=$rate
  efficiency=$(python3 -c "print(f'{$rate / ($workers * $base) * 100:.1f}%')")
  printf '%-8s %8s %10s %10s %12s %11s\n' "$workers" "$trials" "$(field wall <<< "$line")" \
    "$(field ideal <<< "$line")" "$rate" "$efficiency"
done

line=$(mpiexec -n 2 "$build/scaling_bench" --trials 1000 --sleep 0 2>&1 >/dev/null | grep '^workers=')
echo
echo "1000 trials, instant worker: $(field trials_per_s <<< "$line") trials/s, coordinator CPU $(field coordinator_cpu_per_trial_ms <<< "$line") ms per trial"
