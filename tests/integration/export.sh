#!/usr/bin/env bash
# `abliterate export`: a trial of a tiny study written as an HF model folder.
# - In each row normalization (none, pre, full) the exported model, loaded by
#   our own runtime through `evaluate`, measures the trial's stored KL
#   divergence and refusals: the ablation is in its weights.
# - The card's first line, its parameter table and its performance table equal
#   the store's values for the trial (read with Python's sqlite3).
# - `export --adapter` writes a LoRA that, merged into the original model,
#   measures as the trial (none, pre); --from redoes it byte for byte.
# - `export --from abliterate.json` redoes the export byte for byte; --dtype
#   converts every tensor and is recorded for --from.
# - Bad input leaves nothing behind: an existing folder (without --force), a
#   trial the study lacks, a FAIL trial, a write past RLIMIT_FSIZE (a full disk).
source "$(dirname "$0")/lib.sh"
dir=$(new_workdir export)
cd "$dir"

# (The tiny model has 4 layers: positions in [1.8, 3], distances in [1, 1.8].)
trial=(
  "enqueue_trials:"
  "  - {direction_index: 2.0, attn.o_proj.max_weight: 1.2, attn.o_proj.max_weight_position: 2.5,"
  "     attn.o_proj.min_weight: 0.6, attn.o_proj.min_weight_distance: 1.7, mlp.down_proj.max_weight: 1.4,"
  "     mlp.down_proj.max_weight_position: 2.0, mlp.down_proj.min_weight: 0.4, mlp.down_proj.min_weight_distance: 1.5}"
)

# store_value STORE TRIAL KEY: a trial user attr, as JSON.
store_value() {
  python3 - "$@" <<'PY'
import sqlite3, sys
store, number, key = sys.argv[1], int(sys.argv[2]), sys.argv[3]
db = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
row = db.execute("select a.value_json from trial_user_attributes a join trials t on a.trial_id = t.trial_id "
                 "where t.number = ? and a.key = ?", (number, key)).fetchone()
print(row[0] if row else "")
PY
}

for mode in none pre full; do
  mkdir "$mode"
  (
    cd "$mode"
    write_tiny_job job.yaml 1 "row_normalization: $mode" "${trial[@]}"
    "$ABLITERATE" run job.yaml >run.log 2>&1 || { cat run.log; fail "$mode: the study failed"; }
    "$ABLITERATE" export study.db --job job.yaml --trial 0 --out model >export.log 2>&1 ||
      { cat export.log; fail "$mode: export failed"; }
    grep -qF "Exporting trial 0 of study \"tiny\": trial 0, as asked." export.log || fail "$mode: $(cat export.log)"
    grep -qF "ablated matrices" export.log || fail "$mode: no summary: $(cat export.log)"
    for f in config.json tokenizer.json chat_template.jinja model.safetensors README.md abliterate.json; do
      [ -s "model/$f" ] || fail "$mode: the export has no $f"
    done
    "$ABLITERATE" evaluate job.yaml --model model >evaluate.log 2>&1 || { cat evaluate.log; fail "$mode: evaluate"; }
    kl=$(python3 -c "print(f'{float($(store_value study.db 0 kl_divergence)):.4f}')")
    refusals=$(store_value study.db 0 refusals)
    grep -qF "* KL divergence: $kl" evaluate.log ||
      fail "$mode: the exported model's KL differs from the trial's ($kl): $(cat evaluate.log)"
    grep -qF "* Refusals: $refusals/6" evaluate.log ||
      fail "$mode: the exported model's refusals differ from the trial's ($refusals/6): $(cat evaluate.log)"
    # --adapter: a LoRA for the original model, merged at load by `evaluate --adapter`; rank 1 and exact
    # for none and pre, a rank-3 SVD for full (its error printed).
    "$ABLITERATE" export study.db --job job.yaml --trial 0 --adapter --out adapter >adapter.log 2>&1 ||
      { cat adapter.log; fail "$mode: export --adapter failed"; }
    [ -s adapter/adapter_config.json ] && [ -s adapter/adapter_model.safetensors ] && [ -s adapter/README.md ] ||
      fail "$mode: the adapter export lacks a file: $(ls adapter)"
    if [ "$mode" = full ]; then
      grep -qF "rank-3 SVD of the full-normalization update, largest relative error" adapter.log ||
        fail "full: no approximation error: $(cat adapter.log)"
    else
      grep -qE "LoRA rank 1 on [0-9]+ ablated matrices; exact" adapter.log || fail "$mode: $(cat adapter.log)"
      "$ABLITERATE" evaluate job.yaml --adapter adapter >adapter_evaluate.log 2>&1 ||
        { cat adapter_evaluate.log; fail "$mode: evaluate --adapter"; }
      grep -qF "* KL divergence: $kl" adapter_evaluate.log && grep -qF "* Refusals: $refusals/6" adapter_evaluate.log ||
        fail "$mode: the original model with the adapter measures otherwise: $(cat adapter_evaluate.log)"
    fi
    "$ABLITERATE" export --from adapter/abliterate.json --out adapter_again >/dev/null 2>&1 &&
      diff -r adapter adapter_again >/dev/null || fail "$mode: export --from of the adapter wrote other bytes"
  ) || exit 1
done
echo "export: the exported models (and adapters: none, pre) measure as their trials in none, pre and full"

# The card (method spec §8): first line, parameters, performance.
cd full
card=model/README.md
[ "$(head -n 1 $card)" = "# This is a decensored version of $(basename "$TINY_MODEL"), made using abliterate 0.1.0" ] ||
  fail "the card's first line: $(head -n 1 $card)"
python3 - study.db "$card" <<'PY' || fail "the card's tables differ from the store"
import json, sqlite3, sys
store, card = sys.argv[1], open(sys.argv[2]).read()
db = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
attrs = {k: json.loads(v) for k, v in db.execute(
    "select a.key, a.value_json from trial_user_attributes a join trials t on a.trial_id = t.trial_id "
    "where t.number = 0")}
rows = [f"| **direction_index** | {attrs['direction_index']:.2f} |"]
for component, p in attrs["parameters"].items():
    for key in ("max_weight", "max_weight_position", "min_weight", "min_weight_distance"):
        rows.append(f"| **{component}.{key}** | {p[key]:.2f} |")
rows.append(f"| **KL divergence** | {attrs['kl_divergence']:.4f} | 0 *(by definition)* |")
n = attrs["n_bad_prompts"]
rows.append(f"| **Refusals** | {attrs['refusals']}/{n} | {attrs['base_refusals']}/{n} |")
missing = [row for row in rows if row not in card.splitlines()]
order = ["## Configuration", "## Abliteration parameters", "## Performance"]
positions = [card.find(h) for h in order]
if missing or -1 in positions or positions != sorted(positions):
    sys.exit(f"missing rows {missing} or sections out of order {positions}")
PY

# --from redoes the export byte for byte.
"$ABLITERATE" export --from model/abliterate.json --out again >from.log 2>&1 || { cat from.log; fail "--from failed"; }
diff -r model again >/dev/null || fail "export --from wrote other bytes: $(diff -rq model again)"

# Sharded past --max-shard-size, with the index transformers reads; our loader reads it too.
"$ABLITERATE" export study.db --job job.yaml --trial 0 --out sharded --max-shard-size 300KB >shard.log 2>&1 ||
  { cat shard.log; fail "the sharded export failed"; }
[ -s sharded/model.safetensors.index.json ] && [ ! -e sharded/model.safetensors ] || fail "no sharded checkpoint"
n_shards=$(ls sharded/model-*-of-*.safetensors | wc -l)
[ "$n_shards" -ge 3 ] || fail "expected at least 3 shards of 300 KB, got $n_shards"
"$ABLITERATE" evaluate job.yaml --model sharded >sharded_evaluate.log 2>&1 || fail "evaluate of the shards"
[ "$(grep -F '* KL divergence' sharded_evaluate.log)" = "$(grep -F '* KL divergence' evaluate.log)" ] ||
  fail "the sharded export measures otherwise: $(cat sharded_evaluate.log)"

# --dtype converts every tensor (the study's model is float32); --from keeps it.
"$ABLITERATE" export study.db --job job.yaml --trial 0 --out half --dtype float16 >half.log 2>&1 ||
  { cat half.log; fail "export --dtype float16 failed"; }
python3 - half/model.safetensors <<'PY' || fail "export --dtype float16 wrote other types"
import json, struct, sys
with open(sys.argv[1], "rb") as f:
    header = json.loads(f.read(struct.unpack("<Q", f.read(8))[0]))
types = {v["dtype"] for k, v in header.items() if k != "__metadata__"}
sys.exit(0 if types == {"F16"} else f"dtypes {types}")
PY
"$ABLITERATE" evaluate job.yaml --model half >half_evaluate.log 2>&1 || { cat half_evaluate.log; fail "evaluate of float16"; }
"$ABLITERATE" export --from half/abliterate.json --out half_again >/dev/null 2>&1 && diff -r half half_again >/dev/null ||
  fail "export --from of a --dtype export wrote other bytes"

# Refused, with nothing left behind.
expect_refused() {  # expect_refused MESSAGE ARGS...: the export fails naming MESSAGE
  local message=$1
  shift
  if "$ABLITERATE" export study.db --job job.yaml "$@" >refused.log 2>&1; then fail "accepted: $*"; fi
  grep -qF -- "$message" refused.log || fail "no '$message' for $*: $(cat refused.log)"
}
expect_refused "model: already exists; choose another --out, or --force" --trial 0 --out model
expect_refused "study.db: no trial 5 (its trials are 0 to 0)" --trial 5 --out other
expect_refused "--dtype: expected float32, bfloat16 or float16, got 'fp8'" --trial 0 --out other --dtype fp8
[ ! -e other ] || fail "a refused export left its folder"
"$ABLITERATE" export study.db --job job.yaml --trial 0 --out model --force >force.log 2>&1 ||
  { cat force.log; fail "--force failed"; }
diff -r model again >/dev/null || fail "--force wrote another model"
(
  trap '' XFSZ  # the write then fails with EFBIG instead of killing the process
  ulimit -f 200  # 200 KiB: the weights (800 KB) do not fit
  if "$ABLITERATE" export study.db --job job.yaml --trial 0 --out full_disk >disk.log 2>&1; then
    fail "an export past RLIMIT_FSIZE succeeded"
  fi
) || exit 1
grep -q "model.safetensors: write failed: File too large (is the disk full?)" disk.log ||
  fail "no message naming the file and the problem: $(cat disk.log)"
ls -A | grep -q "full_disk" && fail "the failed export left $(ls -A | grep full_disk)"
cd ..

# A FAIL trial is refused (the worker's test hook gives trial 1 NaN directions).
mkdir failing && cd failing
write_tiny_job job.yaml 2
ABLITERATE_TEST_NAN_TRIAL=1 "$ABLITERATE" run job.yaml >run.log 2>&1 || { cat run.log; fail "the failing study"; }
if "$ABLITERATE" export study.db --trial 1 --out model >fail.log 2>&1; then fail "a FAIL trial was exported"; fi
grep -qF "study.db: trial 1 is FAIL, not COMPLETE" fail.log || fail "no message for the FAIL trial: $(cat fail.log)"
echo "export: ok"
