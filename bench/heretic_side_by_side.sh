#!/usr/bin/env bash
# Heretic 1.4 next to abliterate on this machine (issue 13): the same model
# weights (float32, the refusal LoRA merged in float32), the same chat
# template, the same config.toml (Heretic reads it; `abliterate convert-config`
# turns it into our job), the same prompts, seed, batch size and CPU.
#   1. a venv with heretic-llm 1.4 (reused when there); the model as an HF
#      folder for Heretic (transformers dequantizes the GGUF, PEFT merges the
#      adapter; bench/heretic_side_by_side.py prepare-model); our side loads the
#      GGUF file with the job's `adapter:`; `abliterate evaluate` checks that
#      the HF folder measures as the GGUF (KL 0, same refusals);
#   2. both tools run the same number of trials (row_normalization none,
#      orthogonalize_direction false) and one table prints seconds per trial,
#      the ratio, R0, and trials per hour (whole run; per trial);
#   3. Heretic's first trial's parameters run in ours (enqueue_trials): KL and
#      refusals should agree (refusals within 1, KL within 1 %); then the same
#      parameters at Heretic 1.4's defaults (orthogonalize_direction true,
#      row_normalization full) in both: Heretic's rank-3 LoRA approximation
#      next to our exact update.
# Heretic runs headless: the helper calls Heretic's own run() and answers its
# only question after the study ("Which trial do you want to use?") with exit.
#
#   bench/heretic_side_by_side.sh [smollm2-refusal|gemma3]
# Environment (defaults in brackets):
#   ABLITERATE               our program [$root/build/abliterate]
#   SBS_MODEL                smollm2-refusal (SmolLM2-135M-Instruct Q4_1 + tools/refusal-tune/smollm2-refusal)
#                            or gemma3 (Gemma 3 270M Q4_K_M) [smollm2-refusal]; the first argument overrides it
#   SBS_TRIALS [3]  SBS_N_DIRECTION [400]  SBS_N_EVALUATION [100]  SBS_BATCH_SIZE [32]
#   SBS_MAX_RESPONSE_LENGTH [100]  SBS_SEED [42]  SBS_N_STARTUP_TRIALS [60]
#   SBS_DTYPE                the dtype both tools compute in: float32 or bfloat16 (AMX/AVX512-BF16
#                            CPUs) [float32]
#   SBS_OURS_EXTRA           job lines added to our main run only, e.g. "trials_per_worker: 2" []
#   SBS_THREADS              CPU threads of both sides (OMP_NUM_THREADS, MKL_NUM_THREADS) [nproc]
#   SBS_CPUS                 a taskset CPU list for both tools, e.g. 1 (empty: no pinning) []
#   SBS_FIXED                1: also run the fixed-parameter comparisons (step 3) [1]
#   SBS_CHECK_WEIGHTS        1: check that the HF folder measures as the GGUF model (step 1) [1]
#   SBS_STRICT               1: exit 3 when the row_normalization none fixed trial disagrees [1 in float32, else 0]
#   SBS_WORK                 work folder, kept for inspection [/tmp/sbs-work/run-MODEL-DATE]
#   SBS_MODEL_DIR            where the HF model folders are written and reused [/tmp/sbs-work/models]
#   SBS_DATASETS             folder with harmless_alpaca/ and harmful_behaviors/ [/work/shared/datasets]
#   SBS_VENV                 Heretic's venv, created when missing [/work/venv-heretic]
#   SBS_BASE_VENV            a venv with torch (and transformers, peft, gguf) whose packages the new venv
#                            sees through a .pth file, so pip does not download torch again; empty: none
#                            [/work/venv-ref when it exists]
#   SBS_PYTHON               the python that creates the venv when SBS_BASE_VENV is empty [python3]
#   SBS_HERETIC_VERSION      [1.4.0]
# Exit: 0 done; 1 a step failed (its log is printed); 3 the fixed trial disagrees (SBS_STRICT=1).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
helper=$root/bench/heretic_side_by_side.py
abliterate=${ABLITERATE:-$root/build/abliterate}
model_kind=${1:-${SBS_MODEL:-smollm2-refusal}}
n_trials=${SBS_TRIALS:-3}
n_direction=${SBS_N_DIRECTION:-400}
n_evaluation=${SBS_N_EVALUATION:-100}
batch_size=${SBS_BATCH_SIZE:-32}
max_response_length=${SBS_MAX_RESPONSE_LENGTH:-100}
dtype=${SBS_DTYPE:-float32}
ours_extra=${SBS_OURS_EXTRA:-}
seed=${SBS_SEED:-42}
n_startup_trials=${SBS_N_STARTUP_TRIALS:-60}
threads=${SBS_THREADS:-$(nproc)}
cpus=${SBS_CPUS:-}
fixed=${SBS_FIXED:-1}
check_weights=${SBS_CHECK_WEIGHTS:-1}
# The 1 % agreement holds in float32; bfloat16 rounds differently in each tool (measured 1.5 %).
if [ "$dtype" = float32 ]; then strict=${SBS_STRICT:-1}; else strict=${SBS_STRICT:-0}; fi
datasets=${SBS_DATASETS:-/work/shared/datasets}
venv=${SBS_VENV:-/work/venv-heretic}
if [ -n "${SBS_BASE_VENV+set}" ]; then base_venv=$SBS_BASE_VENV; elif [ -d /work/venv-ref ]; then base_venv=/work/venv-ref; else base_venv=; fi
heretic_version=${SBS_HERETIC_VERSION:-1.4.0}
model_dir=${SBS_MODEL_DIR:-/tmp/sbs-work/models}
work=${SBS_WORK:-/tmp/sbs-work/run-$model_kind-$(date +%Y%m%d-%H%M%S)}

case $model_kind in
  smollm2-refusal)
    gguf=$root/models/SmolLM2-135M-Instruct.Q4_1.gguf
    adapter=$root/tools/refusal-tune/smollm2-refusal ;;
  gemma3)
    gguf=$root/models/gemma-3-270m-q4_k_m.gguf
    adapter= ;;
  *) echo "unknown model '$model_kind' (smollm2-refusal or gemma3)" >&2; exit 2 ;;
esac

say() { echo "[sbs $(date +%H:%M:%S)] $*"; }
die() {
  echo "[sbs] FAILED: $*" >&2
  if [ -d "$work" ]; then echo "[sbs] work folder: $work" >&2; fi
  exit 1
}
# run_logged LOG CMD...: runs CMD with its output in LOG; on failure prints LOG's end and stops.
run_logged() {
  local log=$1; shift
  if ! "$@" > "$log" 2>&1 < /dev/null; then
    tail -n 40 "$log" >&2
    die "$* (log: $log)"
  fi
}
now() { date +%s.%N; }
seconds_since() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.3f}')" "$1" "$(now)"; }

[ -x "$abliterate" ] || die "$abliterate: not an executable (set ABLITERATE)"
[ -f "$gguf" ] || die "$gguf: missing (scripts/setup installs it)"
for set in harmless_alpaca harmful_behaviors; do
  if [ ! -f "$datasets/$set/train.jsonl" ] || [ ! -f "$datasets/$set/test.jsonl" ]; then
    die "$datasets/$set: no train.jsonl and test.jsonl"
  fi
done
mkdir -p "$work" "$model_dir"
work=$(cd "$work" && pwd)
say "work folder: $work"

pin=()
[ -n "$cpus" ] && pin=(taskset -c "$cpus")
export OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads TOKENIZERS_PARALLELISM=false
# Heretic and transformers read only local files here; HF_HOME keeps the datasets cache in the work folder.
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 HF_HOME=$work/hf-home PYTHONUNBUFFERED=1

# --- 1. Heretic's venv ---------------------------------------------------------
python=$venv/bin/python
if [ -x "$python" ] && "$python" -c "import importlib.metadata as m, sys; sys.exit(m.version('heretic-llm') != '$heretic_version')" 2> /dev/null; then
  say "Heretic venv: $venv (heretic-llm $heretic_version, reused)"
else
  if [ ! -x "$python" ]; then
    if [ -n "$base_venv" ]; then
      base_python=$("$base_venv/bin/python" -c 'import sys; print(sys._base_executable)')
      say "creating $venv from $base_python, seeing $base_venv's packages (torch) through a .pth file"
      "$base_python" -m venv "$venv"
      base_site=$("$base_venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
      site=$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
      echo "$base_site" > "$site/zz-sbs-base-venv.pth"  # after the venv's own packages on sys.path
    else
      say "creating $venv with ${SBS_PYTHON:-python3}"
      "${SBS_PYTHON:-python3}" -m venv "$venv"
    fi
  fi
  say "pip install heretic-llm==$heretic_version gguf into $venv"
  run_logged "$work/pip-install.log" "$venv/bin/pip" install "heretic-llm==$heretic_version" gguf
fi
say "$("$python" -c "import importlib.metadata as m; print(', '.join(f'{p} {m.version(p)}' for p in ['heretic-llm', 'torch', 'transformers', 'peft', 'optuna', 'datasets']))")"

# --- 1b. The model as an HF folder for Heretic -----------------------------------
hf_model=$model_dir/$model_kind
say "model for Heretic: $hf_model (from $(basename "$gguf")${adapter:+ + $(basename "$adapter")})"
run_logged "$work/prepare-model.log" "${pin[@]}" "$python" "$helper" prepare-model --kind "$model_kind" --root "$root" --out "$hf_model"
grep '^\[sbs-py\]' "$work/prepare-model.log" | sed 's/^/  /'

# --- 2. One config.toml, converted for ours --------------------------------------
write_config() {  # OUT N_TRIALS [extra write-config options]
  local out=$1 trials=$2; shift 2
  run_logged "$work/write-config.log" "$python" "$helper" write-config --out "$out" \
    --good "$datasets/harmless_alpaca" --bad "$datasets/harmful_behaviors" --n-direction "$n_direction" \
    --n-evaluation "$n_evaluation" --n-trials "$trials" --n-startup-trials "$n_startup_trials" \
    --batch-size "$batch_size" --max-response-length "$max_response_length" --seed "$seed" --dtype "$dtype" "$@"
}
# to_job CONFIG JOB STUDY [enqueue file]: convert-config plus what Heretic takes from elsewhere (adapter).
to_job() {
  local config=$1 job=$2 study=$3 enqueue=${4:-}
  "$abliterate" convert-config "$config" --model "$gguf" > "$job.tmp" 2> "$job.log" || { cat "$job.log" >&2; die "convert-config $config"; }
  {
    cat "$job.tmp"
    if [ -n "$adapter" ]; then echo "adapter: \"$adapter\""; fi
    echo "study_name: \"$study\""
    if [ -n "$enqueue" ]; then cat "$enqueue"; fi
  } > "$job"
  rm -f "$job.tmp"
  "$abliterate" validate "$job" > "$job.log" 2>&1 || { cat "$job.log" >&2; die "validate $job"; }
}

mkdir -p "$work/heretic-main" "$work/ours-main"
write_config "$work/heretic-main/config.toml" "$n_trials"
to_job "$work/heretic-main/config.toml" "$work/ours-main/job.yaml" sbs-main
if [ -n "$ours_extra" ]; then printf '%s\n' "$ours_extra" >> "$work/ours-main/job.yaml"; fi
say "config: $work/heretic-main/config.toml -> $work/ours-main/job.yaml ($n_trials trials, $n_direction+$n_direction direction and $n_evaluation+$n_evaluation evaluation prompts, $dtype, batch $batch_size, max_response_length $max_response_length, seed $seed, $threads thread(s)${cpus:+, CPUs $cpus}${ours_extra:+; ours also: $ours_extra})"

weights_check=
if [ "$check_weights" = 1 ]; then
  say "checking that Heretic's HF folder measures as our GGUF model (abliterate evaluate)"
  run_logged "$work/weights-check.log" "${pin[@]}" "$abliterate" evaluate "$work/ours-main/job.yaml" --model "$hf_model"
  kl=$(grep -oP '^\* KL divergence: \K\S+' "$work/weights-check.log" | tail -1)
  r0=$(grep -oP 'Initial refusals: \K\S+' "$work/weights-check.log" | tail -1)
  r=$(grep -oP '^\* Refusals: \K\S+' "$work/weights-check.log" | tail -1)
  weights_check="abliterate evaluate of the HF folder against the GGUF${adapter:+ + adapter}: KL $kl, refusals $r (GGUF: $r0)"
  say "  $weights_check"
  if [ "$kl" != 0.0000 ] || [ "$r" != "$r0" ]; then
    weights_check="$weights_check -- WARNING: the two models differ"
    say "  WARNING: the HF folder does not measure as the GGUF model; the comparison is not like for like"
  fi
fi

# --- 2b. Both tools, the same trials ----------------------------------------------
say "Heretic $heretic_version: $n_trials trials (log: $work/heretic-main/heretic.log)"
start=$(now)
(cd "$work/heretic-main" && rm -rf checkpoints &&
  run_logged heretic.log "${pin[@]}" "$python" "$helper" heretic --model "$hf_model")
heretic_wall=$(seconds_since "$start")
journal=$(find "$work/heretic-main/checkpoints" -name '*.jsonl' 2> /dev/null | head -1)
[ -n "$journal" ] || die "Heretic wrote no journal (log: $work/heretic-main/heretic.log)"
say "  done in $heretic_wall s"

say "abliterate: $n_trials trials (log: $work/ours-main/run.log)"
rm -f "$work/ours-main/study.db"
start=$(now)
(cd "$work/ours-main" && run_logged run.log "${pin[@]}" "$abliterate" run job.yaml --store study.db --cache cache.h5)
ours_wall=$(seconds_since "$start")
ours_threads=$(grep -oP 'cpu \(\K[0-9]+(?= threads)' "$work/ours-main/run.log" | head -1 || true)
say "  done in $ours_wall s"
[ -z "$ours_threads" ] || [ "$ours_threads" = "$threads" ] ||
  say "  note: abliterate ran $ours_threads threads (it sizes them from the cores, not OMP_NUM_THREADS), Heretic $threads"

# --- 3. Fixed parameters: Heretic's first trial in ours ------------------------------
fixed_json="[]"
if [ "$fixed" = 1 ]; then
  "$python" "$helper" enqueue-yaml "$journal" > "$work/enqueue.yaml" || die "enqueue-yaml $journal"
  say "fixed trial, row_normalization none: Heretic's first trial (its main run) enqueued in ours"
  mkdir -p "$work/ours-fixed-none"
  to_job "$work/heretic-main/config.toml" "$work/ours-fixed-none/job.yaml" sbs-fixed-none "$work/enqueue.yaml"
  # The main run's cache has this job's directions and baselines: no preparation again.
  (cd "$work/ours-fixed-none" && rm -f study.db &&
    run_logged run.log "${pin[@]}" "$abliterate" run job.yaml --store study.db --cache ../ours-main/cache.h5 --n-trials 1)

  say "fixed trial at Heretic 1.4's defaults (orthogonalize_direction true, row_normalization full), both tools"
  mkdir -p "$work/heretic-fixed-full" "$work/ours-fixed-full"
  write_config "$work/heretic-fixed-full/config.toml" 1 --row-normalization full --orthogonalize-direction
  (cd "$work/heretic-fixed-full" && rm -rf checkpoints &&
    run_logged heretic.log "${pin[@]}" "$python" "$helper" heretic --model "$hf_model" --enqueue-from "$journal")
  journal_full=$(find "$work/heretic-fixed-full/checkpoints" -name '*.jsonl' 2> /dev/null | head -1)
  [ -n "$journal_full" ] || die "Heretic wrote no journal (log: $work/heretic-fixed-full/heretic.log)"
  to_job "$work/heretic-fixed-full/config.toml" "$work/ours-fixed-full/job.yaml" sbs-fixed-full "$work/enqueue.yaml"
  (cd "$work/ours-fixed-full" && rm -f study.db &&
    run_logged run.log "${pin[@]}" "$abliterate" run job.yaml --store study.db --cache cache.h5 --n-trials 1)
  fixed_json=$(python3 -c 'import json, sys; print(json.dumps([
    {"label": "row_normalization none, orthogonalize_direction false", "heretic_journal": sys.argv[1],
     "ours_store": sys.argv[3] + "/ours-fixed-none/study.db", "expect_agreement": True},
    {"label": "Heretic 1.4 defaults: row_normalization full, orthogonalize_direction true",
     "heretic_journal": sys.argv[2], "ours_store": sys.argv[3] + "/ours-fixed-full/study.db"}]))' \
    "$journal" "$journal_full" "$work")
fi

# --- Report ----------------------------------------------------------------------------
python3 - "$work/summary.json" <<PY
import json, sys
json.dump({"model": "$model_kind", "heretic_journal": "$journal", "ours_store": "$work/ours-main/study.db",
           "heretic_wall": $heretic_wall, "ours_wall": $ours_wall, "threads": $threads,
           "ours_threads": "${ours_threads:-}", "batch_size": $batch_size, "n_direction": $n_direction,
           "n_evaluation": $n_evaluation, "max_response_length": $max_response_length, "seed": $seed, "dtype": "$dtype", "ours_extra": "$ours_extra",
           "weights_check": """$weights_check""", "strict": $strict == 1, "fixed": json.loads('''$fixed_json''')},
          open(sys.argv[1], "w"), indent=1)
PY
set +e
"$python" "$helper" report "$work/summary.json" | tee "$work/report.txt"
status=${PIPESTATUS[0]}
set -e
echo
say "work folder (logs, config.toml, job files, stores, Heretic's journals, report.txt): $work"
exit "$status"
