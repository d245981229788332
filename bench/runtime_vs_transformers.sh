#!/usr/bin/env bash
# Greedy-generation and prefill tokens/s of our runtime next to HF transformers,
# on the same machine, the same GGUF files (both dequantize to float32), the
# same token ids and the same CPU thread count; prints one table with the ratio
# ours / transformers per row. See bench/runtime_bench.cpp for what is counted.
# Our side also prints, per batch size, one decode step's matrix products
# alone (--floor) beside the whole step: the part no other change can remove.
#   bench/runtime_vs_transformers.sh [MODEL.gguf ...]
# Environment (defaults in brackets):
#   ABL_BENCH_PYTHON   python with torch, transformers, gguf (e.g. a venv outside the repo) [python3]
#   ABL_BENCH_BUILD    build folder holding runtime_bench [build]; built there if missing
#   ABL_BENCH_THREADS  CPU threads of both sides [2]
#   ABL_BENCH_BATCHES [1,16,32]  ABL_BENCH_PROMPT_TOKENS [32]  ABL_BENCH_NEW_TOKENS [32]
#   ABL_BENCH_PREFILL_BATCH [16]  ABL_BENCH_PREFILL_TOKENS [128]  ABL_BENCH_REPEATS [1]
#   ABL_BENCH_ATTN     transformers attn_implementation, sdpa or eager [sdpa]
#   ABL_BENCH_DTYPE    float32 or bfloat16, both sides (the weights dequantize to float32, then cast) [float32]
#   ABL_BENCH_OUT      folder for the JSON lines and token ids [a temporary one]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
python=${ABL_BENCH_PYTHON:-python3}
build=${ABL_BENCH_BUILD:-$root/build}
threads=${ABL_BENCH_THREADS:-2}
if [ $# -eq 0 ]; then
  set -- "$root/models/gemma-3-270m-q4_k_m.gguf" "$root/models/SmolLM2-135M-Instruct.Q4_1.gguf"
fi
if [ -n "${ABL_BENCH_OUT:-}" ]; then
  out=$ABL_BENCH_OUT
  mkdir -p "$out"
else
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
fi
[ -x "$build/runtime_bench" ] || cmake --build "$build" -j2 --target runtime_bench
rm -f "$out/ours.jsonl" "$out/transformers.jsonl"

echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load:$(uptime | sed 's/.*load average//')"
start=$(date +%s)
for model in "$@"; do
  name=$(basename "$model" .gguf)
  "$build/runtime_bench" "$model" --threads "$threads" --prompts "$root/jobs/data/harmless/train.jsonl" \
    --batches "${ABL_BENCH_BATCHES:-1,16,32}" --prompt-tokens "${ABL_BENCH_PROMPT_TOKENS:-32}" \
    --new-tokens "${ABL_BENCH_NEW_TOKENS:-32}" --prefill-batch "${ABL_BENCH_PREFILL_BATCH:-16}" \
    --prefill-tokens "${ABL_BENCH_PREFILL_TOKENS:-128}" --repeats "${ABL_BENCH_REPEATS:-1}" \
    --dtype "${ABL_BENCH_DTYPE:-float32}" --floor --json "$out/ours.jsonl" --ids-out "$out/$name.ids.json"
  # The GGUF loader's progress bars and deprecation notes go to stderr.
  "$python" "$root/bench/transformers_bench.py" run --gguf "$model" --ids "$out/$name.ids.json" \
    --threads "$threads" --attn "${ABL_BENCH_ATTN:-sdpa}" --dtype "${ABL_BENCH_DTYPE:-float32}" --json "$out/transformers.jsonl" 2> "$out/$name.stderr" ||
    { cat "$out/$name.stderr" >&2; exit 1; }
done
echo
"$python" "$root/bench/transformers_bench.py" report "$out/ours.jsonl" "$out/transformers.jsonl"
echo "total $(($(date +%s) - start)) s; load at the end:$(uptime | sed 's/.*load average//')"
