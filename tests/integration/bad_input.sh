#!/usr/bin/env bash
# Bad input gives a one-line error naming the file and the key, a non-zero
# exit code, and nothing written to the store.
source "$(dirname "$0")/lib.sh"
dir=$(new_workdir bad_input)
cd "$dir"

# expect_error NAME SUBSTRING... : runs `abliterate run NAME.yaml`, which must fail
# with every SUBSTRING in its stderr and leave no store behind.
expect_error() {
  local name=$1
  shift
  set +e
  "$ABLITERATE" run "$name.yaml" > "$name.out" 2> "$name.err"
  local rc=$?
  set -e
  [ $rc -ne 0 ] || fail "$name: exit code 0"
  [ "$(grep -c . "$name.err")" -eq 1 ] || { cat "$name.err"; fail "$name: error is not one line"; }
  for s in "$@"; do grep -qF -- "$s" "$name.err" || { cat "$name.err"; fail "$name: message lacks '$s'"; }; done
  [ ! -e study.db ] || fail "$name: a store was written"
  echo "$name: $(cat "$name.err")"
}

set +e; "$ABLITERATE" run missing.yaml 2> missing.err; rc=$?; set -e
[ $rc -ne 0 ] && grep -q "missing.yaml" missing.err || fail "missing job file"
[ ! -e study.db ] || fail "missing job: store written"

write_tiny_job unknown_key.yaml 2 "n_trails: 3"
expect_error unknown_key "unknown_key.yaml" "n_trails" "n_trials"

write_tiny_job out_of_range.yaml 0
expect_error out_of_range "out_of_range.yaml" "n_trials"

write_tiny_job bad_quantile.yaml 2 "winsorization_quantile: 1.5"
expect_error bad_quantile "bad_quantile.yaml" "winsorization_quantile"

write_tiny_job missing_model.yaml 2
sed -i "s|^model: .*|model: $dir/no-such-model|" missing_model.yaml
expect_error missing_model "missing_model.yaml" "model" "no-such-model"

write_tiny_job empty_prompts.yaml 2
mkdir -p empty
: > empty/train.jsonl
sed -i "s|^good_prompts: .*|good_prompts: {dataset: $dir/empty, split: train}|" empty_prompts.yaml
expect_error empty_prompts "empty_prompts.yaml" "good_prompts"

echo "bad_input: ok"
