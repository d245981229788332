#!/usr/bin/env bash
# Crash test (issue 5): SIGKILL the coordinator of a tiny-model study at 20
# random (seeded) moments, re-running the command after each kill, then let it
# finish. Rounds alternate between `mpirun -n 3` (killing rank 0 alone, or
# the whole mpirun) and no mpirun; some kill during the preparation (the cache
# removed first, sometimes with a stale half-written `.tmp` left in its place),
# some right after start-up, most during trials. After every kill the store
# is read with Python's sqlite3: integrity ok, trial numbers unique and dense,
# and every trial that was COMPLETE after an earlier kill is still COMPLETE
# with the same values and parameters. At the end: exactly n_trials COMPLETE
# trials, no RUNNING trial, every FAIL interrupted and re-run.
#
# Every kill is placed by the run's progress, never by the clock alone, so a
# fast or slow machine cannot make a round end before its kill: a trials-phase
# kill comes within 20 ms of the k-th "Running trial" line (k <= 3), a start-up
# kill at the latest when the first trial starts, and the budget is raised
# (--n-trials, as a user resumes with more) whenever fewer than 12 trials are
# left, so no round can run out of trials. (Before, a kill up to 0.4 s after
# the k-th trial started let a fast round finish the whole study: issue 12.)
source "$(dirname "$0")/lib.sh"
dir=$(new_workdir crash_resume)
cd "$dir"
n_trials=60
write_tiny_job job.yaml "$n_trials"

python3 - "$ABLITERATE" "$MPIEXEC" "$n_trials" <<'PY'
import json, os, random, signal, sqlite3, subprocess, sys, time

abliterate, mpiexec, n_trials = sys.argv[1], sys.argv[2], int(sys.argv[3])
rng = random.Random(20261128)
N_KILLS = 20
# stdbuf: line-buffered stdout, so the log shows each phase as it starts.
LOCAL = ["stdbuf", "-oL", abliterate, "run", "job.yaml"]
MPI = [mpiexec, "--oversubscribe", "-n", "3", "stdbuf", "-oL", abliterate, "run", "job.yaml"]
MIN_TRIALS_LEFT = 12  # more than one round can finish: k <= 3 started, plus the ones in flight


def fail(message):
    print(f"FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def read_log(path):
    with open(path, errors="replace") as f:
        return f.read()


def phase(log):
    if "Transformer model with" not in log:
        return "start-up"
    if "Running trial" not in log:
        return "preparation"
    return "trials"


def children(parent):
    pids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == parent:
            pids.append(int(name))
    return pids


def descendants(root):
    found, todo = [], [root]
    while todo:
        for pid in children(todo.pop()):
            found.append(pid)
            todo.append(pid)
    return found


def kill_tree(root):
    """SIGKILL the process we started and every process below it, by pid
    (the ranks mpirun started may sit in another process group)."""
    for pid in [root] + descendants(root):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def rank0_pid(mpirun_pid):
    """The process below mpirun whose environment says rank 0."""
    for pid in descendants(mpirun_pid):
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        if b"OMPI_COMM_WORLD_RANK=0" in env:
            return pid
    return None


def wait_for(predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.005)
    return False


def snapshot(path="study.db"):
    """{number: (state, values, params)} and checks that hold after any kill."""
    if not os.path.exists(path):
        return {}
    db = sqlite3.connect(path)
    try:
        ok = db.execute("PRAGMA integrity_check").fetchone()[0]
        if ok != "ok":
            fail(f"integrity_check: {ok}")
        numbers = [n for (n,) in db.execute("SELECT number FROM trials ORDER BY trial_id")]
        if len(numbers) != len(set(numbers)):
            fail(f"duplicate trial numbers: {numbers}")
        if numbers != list(range(len(numbers))):
            fail(f"trial numbers not dense in trial_id order: {numbers}")
        trials = {}
        for trial_id, number, state in db.execute("SELECT trial_id, number, state FROM trials"):
            values = tuple(v for (v,) in db.execute(
                "SELECT value FROM trial_values WHERE trial_id=? ORDER BY objective", (trial_id,)))
            params = tuple(db.execute(
                "SELECT param_name, param_value FROM trial_params WHERE trial_id=? ORDER BY param_name",
                (trial_id,)))
            attrs = {k: json.loads(v) for k, v in db.execute(
                "SELECT key, value_json FROM trial_user_attributes WHERE trial_id=?", (trial_id,))}
            sys_attrs = {k: json.loads(v) for k, v in db.execute(
                "SELECT key, value_json FROM trial_system_attributes WHERE trial_id=?", (trial_id,))}
            if state == "COMPLETE" and len(values) != 2:
                fail(f"trial {number} COMPLETE with {len(values)} values")
            trials[number] = (state, values, params, attrs, sys_attrs)
        return trials
    finally:
        db.close()


def check_kept(before, after, label):
    for number, (state, values, params, _, _) in before.items():
        if state != "COMPLETE":
            continue
        if number not in after:
            fail(f"{label}: COMPLETE trial {number} disappeared")
        if after[number][:3] != (state, values, params):
            fail(f"{label}: COMPLETE trial {number} changed: {before[number][:3]} -> {after[number][:3]}")


kills = {"start-up": 0, "preparation": 0, "trials": 0}
stale_tmp_runs = 0
previous = {}
t0 = time.monotonic()
for round_idx in range(N_KILLS):
    n_complete = sum(1 for t in previous.values() if t[0] == "COMPLETE")
    if n_trials - n_complete < MIN_TRIALS_LEFT:
        n_trials += 20
        print(f"round {round_idx:2d}: budget raised to {n_trials} trials ({n_complete} COMPLETE)")
    use_mpi = rng.random() < 0.4
    kind = rng.choices(["start-up", "preparation", "trials"], weights=[2, 5, 13])[0]
    if kind == "preparation":
        # Preparation only runs without a cache; now and then a half-written
        # .tmp from an earlier kill lies where the new cache will be written.
        for name in ["cache.h5"]:
            if os.path.exists(name):
                os.remove(name)
        if rng.random() < 0.5:
            with open("cache.h5.tmp", "wb") as f:
                f.write(b"\x89HDF\r\n\x1a\n" + os.urandom(3000))
            stale_tmp_runs += 1
    log_path = f"round{round_idx:02d}.log"
    log = open(log_path, "w")
    cmd = (MPI if use_mpi else LOCAL) + ["--n-trials", str(n_trials)]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    if kind == "start-up":
        # A random moment before the first trial starts.
        wait_for(lambda: "Running trial" in read_log(log_path) or proc.poll() is not None, rng.uniform(0.0, 1.0))
    elif kind == "preparation":
        markers = ["Checking for common response prefix", "Obtaining first-token"]
        wait_for(lambda: any(m in read_log(log_path) for m in markers) or proc.poll() is not None, 120)
        time.sleep(rng.uniform(0.0, 0.03))
    else:
        # Within 20 ms of the k-th trial's start: at most k trials and the
        # ones in flight can finish, fewer than MIN_TRIALS_LEFT.
        k = rng.randint(1, 3)
        wait_for(lambda: read_log(log_path).count("Running trial") >= k or proc.poll() is not None, 120)
        time.sleep(rng.uniform(0.0, 0.02))
    if proc.poll() is not None:
        log.close()
        print(read_log(log_path))
        fail(f"round {round_idx}: the run ended (exit {proc.returncode}) before the kill")
    killed_phase = phase(read_log(log_path))
    tree = descendants(proc.pid)  # before any kill: orphans lose their parent
    target = "whole"
    if use_mpi and rng.random() < 0.5:
        pid = rank0_pid(proc.pid)
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
            target = "rank 0"
            try:
                proc.wait(timeout=60)  # mpirun notices and takes the job down
            except subprocess.TimeoutExpired:
                pass
    if target == "whole" or proc.poll() is None:
        kill_tree(proc.pid)
    proc.wait()
    for pid in tree:  # any rank mpirun left behind (still ours: same command line)
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if abliterate.encode() in f.read():
                    os.kill(pid, signal.SIGKILL)
        except (OSError, ProcessLookupError):
            pass
    log.close()
    kills[killed_phase] += 1
    current = snapshot()
    check_kept(previous, current, f"round {round_idx}")
    n_complete = sum(1 for t in current.values() if t[0] == "COMPLETE")
    print(f"round {round_idx:2d}: {'mpirun -n 3' if use_mpi else 'no mpirun  '} kill {target:6s} "
          f"in {killed_phase:11s} -> {len(current)} trials, {n_complete} COMPLETE")
    previous = current

# The same command once more, to the end. Interrupted trials are re-run
# first, but only while the budget (COMPLETE trials) lasts.
retried_before = {t[4]["retry_history"][-1] for t in previous.values() if "retry_history" in t[4]}
pending = sum(1 for n, t in previous.items() if t[0] == "RUNNING" or (t[0] == "FAIL" and n not in retried_before))
remaining = n_trials - sum(1 for t in previous.values() if t[0] == "COMPLETE")
expected_unretried = max(0, pending - remaining)
final = subprocess.run(LOCAL + ["--n-trials", str(n_trials)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
with open("final.log", "w") as f:
    f.write(final.stdout)
if final.returncode != 0:
    print(final.stdout)
    fail(f"the final run failed (exit {final.returncode})")
current = snapshot()
check_kept(previous, current, "final run")
states = [t[0] for t in current.values()]
if states.count("COMPLETE") != n_trials:
    fail(f"expected {n_trials} COMPLETE trials, got {states.count('COMPLETE')}")
if set(states) - {"COMPLETE", "FAIL"}:
    fail(f"unexpected states at the end: {sorted(set(states))}")
retried = {t[4]["retry_history"][-1] for t in current.values() if "retry_history" in t[4]}
for number, (state, _, params, attrs, _) in current.items():
    if state != "FAIL":
        continue
    if attrs.get("fail_reason") != "interrupted":
        fail(f"trial {number} FAIL with reason {attrs.get('fail_reason')!r}")
    if number not in retried:
        unretried = [n for n, t in current.items() if t[0] == "FAIL" and n not in retried]
        if len(unretried) != expected_unretried:
            fail(f"interrupted trials {unretried} were never run again ({pending} pending, {remaining} to run)")
        continue
    rerun = [t for t in current.values() if t[4].get("retry_history", [None])[-1] == number]
    if len(rerun) != 1 or rerun[0][2] != params:
        fail(f"interrupted trial {number}: expected one re-run with its parameters, got {len(rerun)}")
n_fail = states.count("FAIL")
print(f"kills by phase: {kills}; stale cache .tmp before {stale_tmp_runs} runs")
print(f"final: {len(current)} trials, {n_trials} COMPLETE, {n_fail} FAIL (interrupted, each re-run once); "
      f"{time.monotonic() - t0:.0f} s")
if kills["preparation"] == 0 or kills["trials"] == 0:
    fail(f"the kills missed a phase: {kills}")
if n_fail == 0:
    fail("no kill interrupted a trial")
with open("n_trials.txt", "w") as f:
    f.write(f"{n_trials}\n")
PY
n_trials=$(cat n_trials.txt)  # the budget, as raised during the rounds

db_check=$(python3 -c "import sqlite3; print(sqlite3.connect('study.db').execute('PRAGMA integrity_check').fetchone()[0])")
[[ $db_check == ok ]] || fail "integrity_check: $db_check"
"$CHECK_CACHE" cache.h5 5 64
"$ABLITERATE" status study.db > status.log || fail "status failed"
grep -q "Progress: $n_trials of $n_trials trials COMPLETE (0 running" status.log || { cat status.log; fail "status"; }
echo "crash_resume: ok"
