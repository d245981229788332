#!/usr/bin/env bash
# trials_per_worker: a worker evaluates k trials together, their rows sharing
# forward batches (each row ablated as its own trial says), and the results
# equal one trial at a time: the same random-sampler study run with k = 1, with
# k = 3 in process, and with k = 2 on each of 2 workers under mpirun gives every
# trial number the same parameters, the same refusals and KL within 1e-5.
# Two tiny models: a Llama, whose responses come from the refilled batch
# (continuous_generation.hpp), and the Gemma 3 one, whose 8-token sliding
# window sends them through fixed batches, one trial after another.
source "$(dirname "$0")/lib.sh"
dir=$(new_workdir trials_per_worker)
cd "$dir"
"$ABLITERATE" make-tiny-model tiny-llama --family llama --seed 99 > /dev/null

# check_equal NAME: NAME/k1, k3 and k2 hold the same trials.
check_equal() {
  python3 - "$1"/k1/study.db "$1"/k3/study.db "$1"/k2/study.db <<'PY' || fail "$1: trials differ between trials_per_worker values"
import json, sqlite3, sys

def trials(path):
    db = sqlite3.connect(path)
    out = {}
    for trial_id, number, state in db.execute("SELECT trial_id, number, state FROM trials"):
        assert state == "COMPLETE", (path, number, state)
        attrs = {k: json.loads(v) for k, v in db.execute(
            "SELECT key, value_json FROM trial_user_attributes WHERE trial_id=?", (trial_id,))}
        params = sorted(db.execute("SELECT param_name, param_value FROM trial_params WHERE trial_id=?", (trial_id,)))
        out[number] = (params, attrs["kl_divergence"], attrs["refusals"])
    return out

one = trials(sys.argv[1])
assert len(one) == 7, len(one)
assert len({kl for _, kl, _ in one.values()}) > 1, "every trial has the same KL: the check would prove nothing"
assert len({r for _, _, r in one.values()}) > 1, "every trial has the same refusals: the check would prove nothing"
for path in sys.argv[2:]:
    together = trials(path)
    assert sorted(together) == sorted(one), (path, sorted(together))
    for number, (params, kl, refusals) in one.items():
        other_params, other_kl, other_refusals = together[number]
        assert other_params == params, (path, number, "parameters differ")
        assert other_refusals == refusals, (path, number, refusals, other_refusals)
        assert abs(other_kl - kl) <= 1e-5 * max(1.0, abs(kl)), (path, number, kl, other_kl)
print(f"{sys.argv[1].split('/')[0]}: 7 trials equal for k = 1, 3 and 2 x 2 workers;",
      "refusals", [one[n][2] for n in sorted(one)])
PY
  if grep -q "trials together failed" "$1"/k3/run.log "$1"/k2/run.log; then
    fail "$1: a joint evaluation fell back to one at a time"
  fi
}

# Longer responses and more prompts than the default tiny job, so that rows
# stop at different steps and batches of mixed trials are refilled; markers
# that the tiny models' random texts hold now and then, so that rows stop at
# them and the refusal counts differ between trials.
export TINY_EVAL=10 TINY_RESPONSE=16
for model in "$dir/tiny-llama" "$TINY_MODEL"; do
  name=$(basename "$model")
  for k in 1 3 2; do
    mkdir -p "$name/k$k"
    TINY_MODEL=$model write_tiny_job "$name/k$k/job.yaml" 7 "sampler: random" "trials_per_worker: $k" \
      "refusal_markers: [salt, den, her, ri]"
  done
  (cd "$name/k1" && "$ABLITERATE" run job.yaml > run.log 2>&1) || { cat "$name/k1/run.log"; fail "$name: k=1 run failed"; }
  (cd "$name/k3" && "$ABLITERATE" run job.yaml > run.log 2>&1) || { cat "$name/k3/run.log"; fail "$name: k=3 run failed"; }
  (cd "$name/k2" && "$MPIEXEC" -n 3 "$ABLITERATE" run job.yaml > run.log 2>&1) ||
    { cat "$name/k2/run.log"; fail "$name: k=2 mpirun failed"; }
  check_equal "$name"
done
echo "PASS"
