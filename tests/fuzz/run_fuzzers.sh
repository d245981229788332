#!/usr/bin/env bash
# Builds the libFuzzer targets with clang in their own build dir and runs each
# for a short time from its seed corpus; fails on any crash, sanitizer report,
# leak or timeout (libFuzzer exits non-zero and leaves crash-* files in the
# work dir).
#
#   tests/fuzz/run_fuzzers.sh                     30 s per target (CI)
#   ABL_FUZZ_SECONDS=600 tests/fuzz/run_fuzzers.sh longer runs
#   ABL_FUZZ_BUILD_DIR=build-x ...                another build dir (default build-fuzz)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
build=${ABL_FUZZ_BUILD_DIR:-build-fuzz}
seconds=${ABL_FUZZ_SECONDS:-30}
cxx=${ABL_FUZZ_CXX:-clang++}

configure_log=$(mktemp)
if ! cmake -S . -B "$build" -DABL_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER="$cxx" \
    -DCMAKE_C_COMPILER="${cxx/clang++/clang}" ${ABL_CMAKE_ARGS:-} >"$configure_log" 2>&1; then
  cat "$configure_log"
  echo "fuzz: configuring $build failed"
  exit 1
fi
rm -f "$configure_log"
cmake --build "$build" -j"${ABL_JOBS:-2}" --target safetensors_fuzz gguf_fuzz tokenizer_json_fuzz

work="$build/fuzz-work"
status=0
for target in safetensors_fuzz gguf_fuzz tokenizer_json_fuzz; do
  seeds="$root/tests/fuzz/seeds/${target%_fuzz}"
  corpus="$work/corpus/${target%_fuzz}"  # grows across local runs; seeds stay read-only
  mkdir -p "$corpus" "$work/artifacts/$target"
  echo "fuzz: $target for ${seconds}s"
  if ! "$build/tests/fuzz/$target" "$corpus" "$seeds" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 \
      -max_len=65536 -print_final_stats=1 -artifact_prefix="$work/artifacts/$target/" \
      >"$work/$target.log" 2>&1; then
    echo "fuzz: $target FAILED; reproducer(s) in $work/artifacts/$target/:"
    ls "$work/artifacts/$target/"
    tail -n 60 "$work/$target.log"
    status=1
  else
    grep -E "stat::number_of_executed_units|stat::new_units_added" "$work/$target.log" | tr '\n' ' '
    echo
  fi
done
exit $status
