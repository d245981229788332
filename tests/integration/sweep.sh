#!/usr/bin/env bash
# Sweeps (issue 12). Under `mpirun -n 5` a 2-model sweep splits its ranks into
# two groups (coordinator + 2 workers, coordinator + 1 worker) that run the
# two studies side by side, each with its own store and cache in a folder
# named after the entry; `abliterate status DIR` prints one row per study. A
# second run skips both finished entries. Without mpirun a models x settings
# sweep runs its entries one after another. An entry that fails is recorded
# as failed and the sweep exits 1.
source "$(dirname "$0")/lib.sh"
dir=$(new_workdir sweep)
cd "$dir"
"$ABLITERATE" make-tiny-model tiny-llama --seed 99 --family llama > /dev/null
write_tiny_job base.yaml 6
cat > sweep.yaml <<YAML
base: base.yaml
models:
  - {name: gemma, model: $TINY_MODEL}
  - tiny-llama
YAML

"$MPIEXEC" --oversubscribe -n 5 "$ABLITERATE" sweep sweep.yaml > run1.log 2>&1 || { cat run1.log; fail "the sweep failed"; }
cat run1.log
grep -q "2 entries on 5 ranks in 2 group(s)" run1.log || fail "the ranks were not split into two groups"
grep -qF "on 2 worker(s)" sweep/gemma/run.log || fail "entry gemma did not run on its group's 2 workers"
grep -qF "on 1 worker(s)" sweep/tiny-llama/run.log || fail "entry tiny-llama did not run on its group's 1 worker"
"$ABLITERATE" status sweep | tee status1.txt
grep -qE "^gemma +[^ ]+ +6/6 .* done$" status1.txt || fail "status: no finished row for gemma"
grep -qE "^tiny-llama +tiny-llama +6/6 .* done$" status1.txt || fail "status: no finished row for tiny-llama"

# Side by side: each entry started before the other finished (the start and
# end lines carry the time), and each store holds its 6 COMPLETE trials.
python3 - run1.log sweep/gemma/study.db sweep/tiny-llama/study.db <<'PY'
import re, sqlite3, sys
log = open(sys.argv[1]).read()
span = {}
for name in ("gemma", "tiny-llama"):
    start = re.search(rf"^sweep: (\S+) entry \d \({name}\) running", log, re.M).group(1)
    end = re.search(rf"^sweep: (\S+) entry \d \({name}\) finished", log, re.M).group(1)
    span[name] = (start, end)
(a0, a1), (b0, b1) = span.values()
assert a0 < b1 and b0 < a1, f"the entries did not run side by side: {span}"
for path in sys.argv[2:]:
    states = [s for (s,) in sqlite3.connect(path).execute("SELECT state FROM trials")]
    assert states == ["COMPLETE"] * 6, (path, states)
print(f"side by side: {span}")
PY

"$MPIEXEC" --oversubscribe -n 5 "$ABLITERATE" sweep sweep.yaml > run2.log 2>&1 || { cat run2.log; fail "the resumed sweep failed"; }
[ "$(grep -c "is finished; skipped" run2.log)" -eq 2 ] || { cat run2.log; fail "a finished entry was not skipped"; }

# One rank, models x settings: four entries, one after another.
cat > matrix.yaml <<YAML
base: base.yaml
out_dir: matrix-out
models: [{name: tiny, model: $TINY_MODEL}, tiny-llama]
settings:
  - {name: short, set: {n_trials: 2}}
  - {name: strict, set: {n_trials: 3, kl_divergence_scale: 2.0}}
YAML
"$ABLITERATE" sweep matrix.yaml > run3.log 2>&1 || { cat run3.log; fail "the matrix sweep failed"; }
"$ABLITERATE" status matrix-out | tee status3.txt
for row in "tiny-short .* 2/2" "tiny-strict .* 3/3" "tiny-llama-short .* 2/2" "tiny-llama-strict .* 3/3"; do
  grep -qE "^$row .* done$" status3.txt || fail "status: no finished row matching '$row'"
done

# A failing entry: recorded, shown as failed, exit 1.
cat > broken.yaml <<YAML
base: base.yaml
models: [{name: missing, model: no-such-model}]
YAML
rc=0
"$ABLITERATE" sweep broken.yaml > run4.log 2>&1 || rc=$?
cat run4.log
[ "$rc" -eq 1 ] || fail "a sweep whose entry failed exited $rc, expected 1"
grep -q "no-such-model" broken/missing/error.txt || fail "the entry's error was not recorded"
"$ABLITERATE" status broken | grep -qE "^missing .* failed$" || fail "status does not show the failed entry"
echo "PASS: sweeps ran side by side in one allocation, resumed by skipping, ran a matrix in sequence, and recorded a failure"
