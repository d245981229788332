#!/usr/bin/env bash
# Runs on the GPU machine (the lead's `run`; never in CI): builds the runtime
# alone against the machine's PyTorch (LibTorch 2.x with CUDA) with
# -DABL_RUNTIME_ONLY=ON, runs test_model on the CPU, then bench/device_check
# on CUDA (fp32 vs CPU fp32 logits, bf16 vs fp32, greedy continuations, and
# generation throughput at batch 1/16/32) for the tiny models of every family
# and a random model of SmolLM2-135M's shape (or the models given).
#
# Here, first:   scripts/device_deps.sh        (fills .deps/ with Debian .debs)
# There:         scripts/device_check.sh [MODEL...]   with carry [".deps"]
#
# fmt, PCRE2, GoogleTest and pkgconf come from .deps/ (unpacked into a
# private prefix, never into /); nlohmann-json is header-only and comes from
# there too. Results: $OUT/device_check/*.json and *.log when $OUT is set.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=${OUT:-$root/build-device}/device_check
mkdir -p "$out"
build=${ABL_DEVICE_BUILD_DIR:-build-device}
python=${ABL_PYTHON:-python3}

# ---- dependencies from .deps/ into a prefix ----------------------------------
prefix=/tmp/abl-deps
if [ -d .deps ] && ls .deps/*.deb >/dev/null 2>&1; then
  rm -rf "$prefix"
  mkdir -p "$prefix"
  for deb in .deps/*.deb; do dpkg -x "$deb" "$prefix"; done
  # .pc files name prefix=/usr; point them at the unpacked copy.
  for pc in "$prefix"/usr/lib/x86_64-linux-gnu/pkgconfig/*.pc "$prefix"/usr/share/pkgconfig/*.pc; do
    [ -f "$pc" ] && sed -i "s#^prefix=/usr#prefix=$prefix/usr#" "$pc"
  done
  export PKG_CONFIG_PATH="$prefix/usr/lib/x86_64-linux-gnu/pkgconfig:$prefix/usr/share/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
  export LD_LIBRARY_PATH="$prefix/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  deps_args=(-DPKG_CONFIG_EXECUTABLE="$prefix/usr/bin/pkgconf")
  deps_prefix="$prefix/usr;"
else
  echo "device_check: no .deps/ (run scripts/device_deps.sh here and carry .deps); using the system's packages"
  deps_args=()
  deps_prefix=""
fi

# ---- configure and build against the machine's PyTorch ------------------------
# The torch package folder first, so that find_library picks its lib/ over any
# system LibTorch (a machine with Debian's 1.13 would otherwise mix versions).
torch_prefix=$("$python" -c 'import os, torch; print(os.path.dirname(torch.__file__) + ";" + torch.utils.cmake_prefix_path)')
"$python" -c 'import torch; print("device_check: torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())'
# TORCH_CUDA_ARCH_LIST: no GPU code of ours is compiled; naming Hopper's arch
# skips the Caffe2 config's try_run that probes the installed GPU.
arch_list=${TORCH_CUDA_ARCH_LIST:-9.0}  # a cache variable, so that re-runs of cmake keep it
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
cmake -S . -B "$build" "${generator[@]}" -DABL_RUNTIME_ONLY=ON -DABL_ONEDNN=OFF -DCMAKE_BUILD_TYPE=Release \
  -DTORCH_CUDA_ARCH_LIST="$arch_list" -DCMAKE_PREFIX_PATH="${deps_prefix}${torch_prefix}" "${deps_args[@]}" 2>&1 | tail -n 5
cmake --build "$build" -j"$(nproc)" --target test_model device_check 2>&1 | tail -n 3

# ---- CPU unit tests of the runtime ------------------------------------------------
# The real GGUFs (98 and 253 MB) do not fit a carry; their tests run only when models/ has them.
filter=()
if [ ! -f models/SmolLM2-135M-Instruct.Q4_1.gguf ] || [ ! -f models/gemma-3-270m-q4_k_m.gguf ]; then
  filter=(--gtest_filter='-GgufRealModelTest.*:*Gemma3_270m*:*SmolLM2_135m*:*SmolLm2_135m*')
  echo "device_check: models/*.gguf absent: test_model runs without the real-model tests"
fi
if "$build/tests/test_model" --gtest_brief=1 "${filter[@]}" >"$out/test_model.log" 2>&1; then
  echo "device_check: test_model passed"
else
  echo "device_check: test_model FAILED"; tail -n 40 "$out/test_model.log"
fi
tail -n 3 "$out/test_model.log"

# ---- CUDA checks ---------------------------------------------------------------------
models=("$@")
[ ${#models[@]} -gt 0 ] || models=(tiny:gemma3 tiny:llama tiny:qwen2 tiny:qwen3 tiny:mistral random-135m:llama)
status=0
for model in "${models[@]}"; do
  name=$(echo "$model" | tr ':/' '__')
  echo "== device_check $model"
  if ! "$build/device_check" "$model" --json "$out/$name.json" 2>&1 | tee "$out/$name.log"; then status=1; fi
done
exit $status
