#!/usr/bin/env bash
# enqueue_trials (Optuna's enqueue_trial): the given parameter sets run first,
# as trials whose user attrs hold exactly those parameters and whose system
# attr fixed_params marks them, as Optuna's own enqueued trials are marked; a
# resumed run does not repeat them; a set outside the model's search space is
# refused before the store is created.
source "$(dirname "$0")/lib.sh"
dir=$(new_workdir enqueue)
cd "$dir"

# The tiny model has 4 layers: positions in [1.8, 3], distances in [1, 1.8].
enqueue=(
  "enqueue_trials:"
  "  - {direction_index: per layer, attn.o_proj.max_weight: 1.1, attn.o_proj.max_weight_position: 2.5,"
  "     attn.o_proj.min_weight: 0.2, attn.o_proj.min_weight_distance: 1.5, mlp.down_proj.max_weight: 0.9,"
  "     mlp.down_proj.max_weight_position: 2.0, mlp.down_proj.min_weight: 0.45, mlp.down_proj.min_weight_distance: 1.2}"
  "  - {direction_index: 2.0, attn.o_proj.max_weight: 1.4, attn.o_proj.max_weight_position: 3.0,"
  "     attn.o_proj.min_weight: 0.0, attn.o_proj.min_weight_distance: 1.0, mlp.down_proj.max_weight: 0.8,"
  "     mlp.down_proj.max_weight_position: 1.8, mlp.down_proj.min_weight: 0.8, mlp.down_proj.min_weight_distance: 1.7}"
)
write_tiny_job job.yaml 3 "${enqueue[@]}"
"$ABLITERATE" run job.yaml > run1.log 2>&1 || { cat run1.log; fail "run with enqueue_trials failed"; }
grep -qF "2 enqueued trial(s) will run before sampled ones" run1.log || { cat run1.log; fail "no enqueue line"; }

# check_enqueued: trials 0 and 1 carry the sets; no other trial has fixed_params.
check_enqueued() {
  python3 - study.db <<'PY'
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
def attrs(table, trial_id):
    return {k: json.loads(v) for k, v in db.execute(
        f"SELECT key, value_json FROM {table} WHERE trial_id=?", (trial_id,))}
trials = db.execute("SELECT trial_id, number, state FROM trials ORDER BY number").fetchall()
fixed = [(n, attrs("trial_system_attributes", t).get("fixed_params")) for t, n, _ in trials]
marked = [n for n, f in fixed if f is not None]
assert marked == [0, 1], f"trials with fixed_params: {marked}"
expected = [
    (None, {"attn.o_proj": [1.1, 2.5, 0.2, 1.5], "mlp.down_proj": [0.9, 2.0, 0.45, 1.2]}),
    (2.0, {"attn.o_proj": [1.4, 3.0, 0.0, 1.0], "mlp.down_proj": [0.8, 1.8, 0.8, 1.7]}),
]
for (trial_id, number, state), (index, components) in zip(trials[:2], expected):
    assert state == "COMPLETE", (number, state)
    user = attrs("trial_user_attributes", trial_id)
    assert user["direction_index"] == index, (number, user["direction_index"])
    for component, values in components.items():
        got = user["parameters"][component]
        for key, want in zip(["max_weight", "max_weight_position", "min_weight", "min_weight_distance"], values):
            assert abs(got[key] - want) < 1e-12, (number, component, key, got[key], want)
    scope = dict(fixed)[number]["direction_scope"]
    assert scope == ("per layer" if index is None else "global"), (number, scope)
print(f"enqueued trials ok; {len(trials)} trials")
PY
}
check_enqueued || fail "enqueued trials"

# A resumed run with a larger budget samples the new trials; the sets stay run once.
"$ABLITERATE" run job.yaml --n-trials 5 > run2.log 2>&1 || { cat run2.log; fail "resumed run failed"; }
grep -qF "enqueued trial(s)" run2.log && { cat run2.log; fail "the resumed run enqueued the sets again"; }
check_enqueued || fail "enqueued trials after resume"

# Outside the search space: refused before anything is written.
write_tiny_job bad.yaml 2 "${enqueue[@]/attn.o_proj.max_weight_position: 2.5/attn.o_proj.max_weight_position: 0.5}"
sed -i 's/^store: .*/store: bad.db/' bad.yaml
if "$ABLITERATE" run bad.yaml > bad.log 2>&1; then cat bad.log; fail "an out-of-range set was accepted"; fi
grep -qF "bad.yaml: enqueue_trials[0]: attn.o_proj.max_weight_position = 0.5 lies outside this model's search space [1.7999999999999998, 3]" bad.log ||
  { cat bad.log; fail "the out-of-range message does not name the file, set and parameter"; }
[ ! -e bad.db ] || fail "the refused run created its store"
echo "enqueue: ok"
