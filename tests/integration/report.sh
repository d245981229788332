#!/usr/bin/env bash
# `abliterate report`: a real store from a short tiny study, rendered in
# headless Chromium (Debian's `chromium`). The dumped DOM holds one
# class="trial" point per COMPLETE trial, the screenshot is not blank and
# shows the plots' colours, the CSV and JSON hold one row per trial, a running
# study's report says so, and bad input gets a message naming the file and
# leaves nothing behind.
source "$(dirname "$0")/lib.sh"
dir=$(new_workdir report)
cd "$dir"
command -v chromium > /dev/null || fail "chromium is not installed (scripts/setup installs it)"

write_tiny_job job.yaml 5
"$ABLITERATE" run job.yaml > run.log 2>&1 || { cat run.log; fail "the study failed"; }

"$ABLITERATE" report study.db --out report.html --csv trials.csv --json trials.json > report.log 2>&1 ||
  { cat report.log; fail "report failed"; }
cat report.log
grep -qF "Wrote report.html (study \"tiny\"" report.log || fail "no summary line"
ls -a | grep -q '\.tmp-' && fail "a temporary file was left behind"

n_complete=$(python3 - study.db <<'PY'
import sqlite3, sys
print(sqlite3.connect(sys.argv[1]).execute("SELECT COUNT(*) FROM trials WHERE state='COMPLETE'").fetchone()[0])
PY
)
[ "$n_complete" -ge 3 ] || fail "expected at least 3 COMPLETE trials, got $n_complete"

# The table as data: one row per trial, typed values, the same numbers as the store.
python3 - study.db trials.csv trials.json <<'PY'
import csv, json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
trials = db.execute("SELECT trial_id, number, state FROM trials ORDER BY number").fetchall()
rows = json.load(open(sys.argv[3]))
table = list(csv.DictReader(open(sys.argv[2], newline="")))
assert len(rows) == len(table) == len(trials), (len(rows), len(table), len(trials))
for (trial_id, number, state), row, line in zip(trials, rows, table):
    attrs = {k: json.loads(v) for k, v in db.execute(
        "SELECT key, value_json FROM trial_user_attributes WHERE trial_id=?", (trial_id,))}
    assert row["number"] == number and row["state"] == state, row
    assert row["refusals"] == attrs.get("refusals") and isinstance(row["refusals"], (int, type(None))), row
    assert row["kl_divergence"] == attrs.get("kl_divergence"), row
    assert row["n_bad_prompts"] == attrs.get("n_bad_prompts"), row
    assert row["direction_index"] == attrs["direction_index"], row
    assert abs(row["attn.o_proj.max_weight"] - attrs["parameters"]["attn.o_proj"]["max_weight"]) < 1e-12, row
    assert int(line["number"]) == number and line["state"] == state, line
    assert float(line["kl_divergence"]) == attrs["kl_divergence"], line
print(f"csv and json: {len(rows)} rows match the store")
PY

# Chromium writes its profile under HOME: a throwaway one.
export HOME=$(mktemp -d)
chrome=(timeout 180 chromium --headless --no-sandbox --disable-gpu --no-first-run --hide-scrollbars)
"${chrome[@]}" --dump-dom "file://$dir/report.html" > dom.html 2> chromium-dom.log ||
  { tail -20 chromium-dom.log; fail "chromium --dump-dom failed"; }
n_points=$(grep -o 'class="trial"' dom.html | wc -l)
echo "rendered trial points: $n_points; COMPLETE trials: $n_complete"
[ "$n_points" -eq "$n_complete" ] ||
  fail "the rendered Pareto plot has $n_points points for $n_complete COMPLETE trials"
grep -q '<polyline class="front"' dom.html || fail "no Pareto front line in the rendered page"
grep -q '<polygon class="original"' dom.html || fail "no original-model marker in the rendered page"

"${chrome[@]}" --screenshot="$dir/shot.png" --window-size=1280,2400 "file://$dir/report.html" \
  > chromium-shot.log 2>&1 || { tail -20 chromium-shot.log; fail "chromium --screenshot failed"; }
[ -s shot.png ] || fail "no screenshot"
# The front's red (#d62828), the trials' blue (#2a6fdb, 75% opaque on #fcfcfc) and the original's
# green (#2a9d3a).
python3 "$REPO/tests/integration/png_check.py" shot.png 214,40,40 95,146,228 42,157,58 || fail "the screenshot"

# A running study can be reported on, and the report says so: raise the budget,
# report while the run holds the store, then stop the run (SIGTERM: it finishes
# the trials in flight).
"$ABLITERATE" run job.yaml --n-trials 60 > run-live.log 2>&1 &
run_pid=$!
for _ in $(seq 1 150); do
  "$ABLITERATE" report study.db --out live.html > live.log 2>&1 || { cat live.log; fail "report of a running study"; }
  grep -qF "the study is running" live.log && break
  sleep 0.2
done
kill -TERM "$run_pid" 2> /dev/null || true
wait "$run_pid" || true
cat live.log
grep -qF "the study is running: the report is a snapshot" live.log || fail "the report did not see the running study"
grep -qF '<p class="note running-note">This study is running' live.html || fail "the page does not say it is running"

# Bad input: the message names the file, and no report is written.
if "$ABLITERATE" report missing.db --out bad.html > missing.log 2>&1; then fail "a missing store was accepted"; fi
grep -qF "abliterate: missing.db: no such store" missing.log ||
  { cat missing.log; fail "the message does not name the store"; }
[ ! -e bad.html ] && [ ! -e missing.db ] || fail "a report or store was written for a missing store"
if "$ABLITERATE" report study.db --study other --out bad.html > unknown.log 2>&1; then
  fail "an unknown study was accepted"
fi
grep -qF "study.db: no study named \"other\" (the store holds: tiny)" unknown.log ||
  { cat unknown.log; fail "unknown study"; }
[ ! -e bad.html ] || fail "a report was written for an unknown study"
if "$ABLITERATE" report study.db --out no-such-folder/r.html > folder.log 2>&1; then
  fail "a missing folder was accepted"
fi
grep -qF "no-such-folder/r.html: cannot write" folder.log || { cat folder.log; fail "missing output folder"; }
echo "report: ok"
