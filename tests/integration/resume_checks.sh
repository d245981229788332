#!/usr/bin/env bash
# What a re-run may and may not do to an existing store (issue 5): a job with
# other prompts is refused naming the difference (--force overrides); a
# locked, corrupt or foreign store, or a foreign study with other directions,
# is refused with a clear error and left byte-for-byte unchanged; --n-trials
# raises a finished study's budget, and a plain re-run keeps it.
source "$(dirname "$0")/lib.sh"
dir=$(new_workdir resume_checks)
cd "$dir"

# expect_refused LOG_NAME MESSAGE_PART CMD...: the command exits 1, prints
# MESSAGE_PART, and leaves study.db exactly as it was.
expect_refused() {
  local log=$1 part=$2
  shift 2
  local before after
  before=$(sha256sum study.db | cut -d' ' -f1)
  if "$@" > "$log" 2>&1; then cat "$log"; fail "$* succeeded; expected a refusal"; fi
  grep -qF -- "$part" "$log" || { cat "$log"; fail "$log lacks: $part"; }
  after=$(sha256sum study.db | cut -d' ' -f1)
  [[ $before == "$after" ]] || fail "$*: the refused run changed study.db"
  echo "refused as expected: $(grep -m1 -F -- "$part" "$log")"
}

count_complete() {
  python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(
    \"SELECT COUNT(*) FROM trials WHERE state='COMPLETE'\").fetchone()[0])" "${1:-study.db}"
}

write_tiny_job job.yaml 3
"$ABLITERATE" run job.yaml > run1.log 2>&1 || { cat run1.log; fail "first run failed"; }
[[ $(count_complete) == 3 ]] || fail "expected 3 COMPLETE trials"

# Another prompt slice and another model: refused, naming both differences.
write_tiny_job other.yaml 3
sed -i '/^good_prompts:/s/train\[:12\]/train[:10]/' other.yaml
sed -i "s|^model: .*|model: $dir/tiny-copy|" other.yaml
cp -r "$TINY_MODEL" tiny-copy
expect_refused refused_settings.log 'good_prompts.split: stored "train[:12]", new "train[:10]"' \
  "$ABLITERATE" run other.yaml
grep -qF "model: stored \"$TINY_MODEL\", new \"$dir/tiny-copy\"" refused_settings.log ||
  { cat refused_settings.log; fail "the model difference is not named"; }
grep -qF -- "--force" refused_settings.log || fail "the refusal does not mention --force"
grep -qF "2 differences" refused_settings.log || { cat refused_settings.log; fail "expected exactly 2 differences"; }

# A locked store: another process holds the run lock (flock(2), as a run does;
# one process, so that killing it releases the lock).
python3 -c "import fcntl, sys, time; f = open(sys.argv[1]); fcntl.flock(f, fcntl.LOCK_EX); time.sleep(60)" study.db &
holder=$!
sleep 0.3
expect_refused refused_locked.log "the store is locked: another \`abliterate run\` is using it" \
  "$ABLITERATE" run job.yaml --n-trials 5
"$ABLITERATE" status study.db > status_locked.log || fail "status failed while the store was locked"
grep -q "holds this store now" status_locked.log || { cat status_locked.log; fail "status does not see the active run"; }
kill "$holder"
wait "$holder" 2> /dev/null || true

# --force continues with the new settings and stores them.
"$ABLITERATE" run other.yaml --force --n-trials 4 > forced.log 2>&1 || { cat forced.log; fail "--force run failed"; }
grep -q "Warning (--force)" forced.log || { cat forced.log; fail "--force printed no warning"; }
[[ $(count_complete) == 4 ]] || fail "expected 4 COMPLETE trials after --force"
"$ABLITERATE" run other.yaml > after_force.log 2>&1 || { cat after_force.log; fail "re-run after --force failed"; }

# --n-trials raises the finished study's budget; a plain re-run keeps it.
"$ABLITERATE" run other.yaml --n-trials 6 > more.log 2>&1 || { cat more.log; fail "--n-trials 6 failed"; }
[[ $(count_complete) == 6 ]] || fail "expected 6 COMPLETE trials after --n-trials 6"
"$ABLITERATE" run other.yaml > plain.log 2>&1 || { cat plain.log; fail "plain re-run failed"; }
grep -q "6 of 6 trials complete" plain.log || { cat plain.log; fail "plain re-run lost the raised budget"; }
[[ $(count_complete) == 6 ]] || fail "a plain re-run changed the number of COMPLETE trials"
python3 - study.db <<'PY'
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
attrs = {k: json.loads(v) for k, v in db.execute("SELECT key, value_json FROM study_user_attributes")}
assert attrs["settings"]["n_trials"] == 6, attrs["settings"]["n_trials"]
assert attrs["settings"]["good_prompts"]["split"] == "train[:10]", attrs["settings"]["good_prompts"]
assert attrs["finished"] is True, attrs["finished"]
PY
"$ABLITERATE" status study.db > status.log || fail "status failed"
grep -q "Progress: 6 of 6 trials COMPLETE (0 running, 0 failed); finished" status.log ||
  { cat status.log; fail "status shows no progress line"; }

# A foreign Optuna study of the same name with other directions.
cp study.db good.db
python3 -c "import sqlite3,sys; db=sqlite3.connect(sys.argv[1]); db.execute(
  \"UPDATE study_directions SET direction='MAXIMIZE' WHERE objective=0\"); db.commit()" study.db
expect_refused refused_directions.log 'has the directions [MAXIMIZE, MINIMIZE]' "$ABLITERATE" run other.yaml --force

# A study without our settings (created by Optuna itself): refused without --force.
cp good.db study.db
python3 -c "import sqlite3,sys; db=sqlite3.connect(sys.argv[1]); db.execute(
  \"DELETE FROM study_user_attributes WHERE key='settings'\"); db.commit()" study.db
expect_refused refused_foreign_study.log 'has no stored `settings`' "$ABLITERATE" run other.yaml

# A foreign SQLite database and a corrupt store.
rm -f study.db study.db-wal study.db-shm
python3 -c "import sqlite3,sys; db=sqlite3.connect(sys.argv[1]); db.execute('CREATE TABLE notes (t TEXT)');
db.execute(\"INSERT INTO notes VALUES ('mine')\"); db.commit()" study.db
expect_refused refused_foreign.log 'not an abliterate/Optuna store (missing tables' "$ABLITERATE" run other.yaml
cp good.db study.db
python3 - study.db <<'PY'
import sys
path = sys.argv[1]
data = bytearray(open(path, "rb").read())
page = 4096
assert len(data) >= 4 * page, len(data)
data[100:page] = b"\xa5" * (page - 100)  # the schema page, after the file header
open(path, "wb").write(bytes(data))
PY
expect_refused refused_corrupt.log 'corrupt' "$ABLITERATE" run other.yaml

# SIGTERM during the preparation ends the run at once (there are no trials to
# finish; waiting for the phase could take an hour), and the next run resumes.
mkdir -p sigterm && cd sigterm
write_tiny_job job.yaml 2
sed -i 's/^max_response_length: .*/max_response_length: 64/' job.yaml
"$ABLITERATE" run job.yaml > run.log 2> run.err &
pid=$!
for _ in $(seq 200); do grep -q "Checking for common response prefix" run.log && break; sleep 0.05; done
grep -q "Checking for common response prefix" run.log || { cat run.log run.err; fail "the run never reached the preparation"; }
kill -TERM $pid
set +e; wait $pid; rc=$?; set -e
[ $rc -eq 143 ] || { cat run.log run.err; fail "SIGTERM in preparation: exit status $rc, expected 143 (terminated)"; }
grep -qF "stopped by signal before the trials; run the same command to resume" run.err || { cat run.err; fail "no stop message"; }
"$ABLITERATE" run job.yaml > rerun.log 2>&1 || { cat rerun.log; fail "the run after SIGTERM failed"; }
[[ $(count_complete) == 2 ]] || fail "expected 2 COMPLETE trials after the resumed run"
echo "resume_checks: ok"
