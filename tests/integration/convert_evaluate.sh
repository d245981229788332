#!/usr/bin/env bash
# `abliterate convert-config` turns a Heretic config.toml into a job the
# loader accepts, and `abliterate evaluate JOB --model OTHER` (Heretic's
# evaluate_model) measures another model against the job's: KL = 0 for the
# model itself, KL > 0 for a tiny model of another seed; with a study's cache
# present, the cached prefix and baselines are used and give the same numbers.
source "$(dirname "$0")/lib.sh"
dir=$(new_workdir convert_evaluate)
cd "$dir"

"$ABLITERATE" make-tiny-model other --seed 99 > /dev/null

cat > config.toml <<TOML
dtypes = ["auto", "float32"]
device_map = "cpu"
batch_size = 0
max_batch_size = 8
max_response_length = 6
n_trials = 1
n_startup_trials = 1
kl_divergence_target = 0.02
study_checkpoint_dir = "checkpoints"
trust_remote_code = false

[good_prompts]
dataset = "$REPO/jobs/data/harmless"
split = "train[:12]"
column = "text"
residual_plot_label = '"Harmless" prompts'

[bad_prompts]
dataset = "$REPO/jobs/data/harmful"
split = "train[:12]"

[good_evaluation_prompts]
dataset = "$REPO/jobs/data/harmless"
split = "test[:6]"

[bad_evaluation_prompts]
dataset = "$REPO/jobs/data/harmful"
split = "test[:6]"
TOML

# Heretic takes the model from its command line; without --model there is none.
set +e; "$ABLITERATE" convert-config config.toml > /dev/null 2> nomodel.err; rc=$?; set -e
[ $rc -ne 0 ] && grep -qF "config.toml: model: not set; pass --model" nomodel.err || { cat nomodel.err; fail "missing model"; }

"$ABLITERATE" convert-config config.toml --model "$TINY_MODEL" > job.yaml
grep -qF 'batch_size: 0' job.yaml || { cat job.yaml; fail "batch_size 0 (auto) not converted"; }
grep -qF 'kl_divergence_target: 0.02' job.yaml || { cat job.yaml; fail "kl_divergence_target not converted"; }
"$ABLITERATE" validate job.yaml > validate.out || { cat validate.out; fail "converted job does not validate"; }

# A bad key is reported against the TOML file, with the nearest valid key.
printf 'model = "m"\nn_trails = 3\n' > typo.toml
set +e; "$ABLITERATE" convert-config typo.toml 2> typo.err; rc=$?; set -e
[ $rc -ne 0 ] && grep -qF "typo.toml" typo.err && grep -qF "n_trials" typo.err || { cat typo.err; fail "typo"; }

# kl VALUE-FILE: the number of "* KL divergence: X".
kl() { sed -n 's/^\* KL divergence: //p' "$1"; }
refusals() { sed -n 's/^\* Refusals: //p' "$1"; }
# near A B: |A - B| <= 2e-4. Each model load picks its own batch size
# (batch_size 0), and another batch pads the prompts otherwise, so two runs of
# the same numbers differ by fp32 roundoff (a KL of the model against itself
# printed as -0.0000 failed CI once); the printed values have 4 decimals.
near() { awk -v a="$1" -v b="$2" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a != "" && b != "" && d <= 2e-4) }'; }

"$ABLITERATE" evaluate job.yaml --model "$TINY_MODEL" > self.out
"$ABLITERATE" evaluate job.yaml --model other > other.out
cat self.out other.out
near "$(kl self.out)" 0 || fail "KL of the model against itself is $(kl self.out), expected 0"
awk -v k="$(kl other.out)" 'BEGIN { exit !(k > 0) }' || fail "KL of another seed is $(kl other.out), expected > 0"
# The model against itself refuses exactly as often as its baseline.
[ "$(refusals self.out)" = "$(sed -n 's/^\* Initial refusals: //p' self.out)" ] || fail "self refusals differ from R0"
grep -q "Checking for common response prefix" self.out || fail "no prefix detection"
# batch_size 0: each model's worker times batch sizes 1, 2, 4 and 8 (max_batch_size) and picks one.
[ "$(grep -c 'Trying batch size .*Ok' self.out)" -eq 8 ] || { cat self.out; fail "expected 4 timed batch sizes per model"; }
grep -q "Chosen batch size: " self.out || fail "no chosen batch size"

# Without --model the job's evaluate_model is used, relative to the job file.
# print_responses prints every bad evaluation prompt's response, for both models.
printf 'evaluate_model: other\nprint_responses: true\n' >> job.yaml
"$ABLITERATE" evaluate job.yaml > implicit.out
near "$(kl implicit.out)" "$(kl other.out)" || fail "evaluate_model gave another KL: $(kl implicit.out) != $(kl other.out)"
[ "$(refusals implicit.out)" = "$(refusals other.out)" ] || fail "whole responses gave another refusal count"
[ "$(grep -c '^\[Prompt\] ' implicit.out)" -eq 12 ] || { cat implicit.out; fail "expected 12 printed responses"; }

# After a study the cache holds prefix and baselines: the same numbers, no new detection.
"$ABLITERATE" run job.yaml > run.out 2>&1 || { cat run.out; fail "run"; }
# print_responses prints each trial's responses too, as Heretic does: 6 per trial.
n_finished=$(grep -c '^Trial [0-9]* finished' run.out)
[ "$n_finished" -gt 0 ] && [ "$(grep -c '^\[Prompt\] ' run.out)" -eq $((6 * n_finished)) ] ||
  { cat run.out; fail "expected 6 printed responses for each of $n_finished trials"; }
grep -q '^Responses of trial 1:' run.out || fail "the trial's responses are not headed"
"$ABLITERATE" evaluate job.yaml --model other > cached.out
grep -q "Using the cached prefix and baselines" cached.out || { cat cached.out; fail "cache not used"; }
near "$(kl cached.out)" "$(kl other.out)" || fail "cached KL $(kl cached.out) != $(kl other.out)"
[ "$(refusals cached.out)" = "$(refusals other.out)" ] || fail "cached refusals differ"

echo "convert_evaluate: ok"
