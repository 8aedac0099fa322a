#!/usr/bin/env python3
"""Crash consistency of the store, under strace fault injection.

For each system call that durability rests on (fsync, fdatasync, fchmod,
ftruncate, write, pwrite64, unlink), a writer storing and deleting documents is killed
with SIGKILL at its 1st, 2nd, ... Nth call of that kind, deterministically
(strace -e inject=SYSCALL:signal=KILL:when=N). After each crash the store is
reopened as at start-up and checked by `crash_tool check`: every acknowledged
document is whole, no deleted one comes back, nothing half-written is
visible, no temp file nor unfinished blob file (mode 0200) is left, and
SQLite's integrity_check passes.

Then the same with fsync and fdatasync failing with EIO instead: the store
must stop (fail-stop): after the failure at most the operation in flight may
be answered, no later one, and the invariants above must hold.

usage: crash_test.py CRASH_TOOL WORKDIR
"""
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fault_inject import CRASH_SYSCALLS as SYSCALLS  # noqa: E402

LOGIN, SECRET, NDOCS = "amina", "sesame-crash", 5


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, **kw)


def traced_env():
    """LeakSanitizer cannot run under ptrace: off for the traced writer
    only (the checker, untraced, still detects leaks)."""
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") + ":detect_leaks=0").lstrip(":")
    return env


def count_calls(tool, template, work, syscall):
    d = os.path.join(work, "count")
    shutil.rmtree(d, ignore_errors=True)
    shutil.copytree(template, d)
    log = os.path.join(work, "strace.log")
    p = run(["strace", "-f", "-qq", "-e", "trace=" + syscall, "-o", log,
             tool, "write", d, LOGIN, SECRET, str(NDOCS)], env=traced_env())
    if p.returncode != 0:
        sys.exit("writer failed without faults: " + p.stdout + p.stderr)
    with open(log) as f:
        return sum(1 for line in f if syscall + "(" in line)


def injected_fd_path(log):
    """The path of the file the injected call was made on (strace -y
    prints it beside the descriptor), and the lines of the trace after it."""
    lines = open(log).read().splitlines()
    for i, line in enumerate(lines):
        if "(INJECTED)" not in line:
            continue
        m = re.search(r'\(\d+<([^>]*)>', line)
        if m is None and "resumed>" in line:
            # another thread's call came between: "pid call(fd<path>
            # <unfinished ...>" is the line where the path is
            pid = line.split()[0]
            for prev in reversed(lines[:i]):
                if prev.startswith(pid + " ") and "<unfinished" in prev:
                    m = re.search(r'\(\d+<([^>]*)>', prev)
                    break
        return (m.group(1) if m else "?"), lines[i + 1:]
    return None, []


def one(tool, template, work, syscall, n, action):
    d = os.path.join(work, "run")
    shutil.rmtree(d, ignore_errors=True)
    shutil.copytree(template, d)
    inject = "inject=%s:%s:when=%d" % (syscall, action, n)
    log = os.path.join(work, "trace.log")
    # (injection needs the call traced; the trace also shows, for an error,
    # which file the call was on and what the writer said after it)
    p = run(["strace", "-f", "-qq", "-y", "-o", log, "-e",
             "trace=openat,write," + syscall, "-e", inject,
             tool, "write", d, LOGIN, SECRET, str(NDOCS)], env=traced_env())
    acks = os.path.join(work, "acks")
    with open(acks, "w") as f:
        f.write(p.stdout)
    outcome = "killed" if p.returncode in (-9, 137) else "rc=%d" % p.returncode
    if action.startswith("error"):
        path, after = injected_fd_path(log)
        said = [l for l in after if re.search(r'write\(1(<[^>]*>)?, "(OK|DEL) ', l)]
        # SQLite fsyncs the data directory once after creating the WAL and
        # ignores the result; db_open already made that entry durable with
        # a checked fsync (storage/db.c), so the writer may go on.
        sqlite_dirsync = path == d
        # Fail-stop: at most the operation in flight may still be answered
        # (a deletion whose commit was durable before a later sync of its
        # checkpoint or blob removal failed); nothing after it.
        # (path None: this run made fewer calls than the counting run did,
        # since a new fan-out directory costs one more fsync and document
        # ids are random; the run is then fault-free, and checked as such)
        if path is not None and len(said) > 1 and not sqlite_dirsync:
            print("FAIL %s #%d %s on %s: %d answers after the failure"
                  % (syscall, n, action, path, len(said)))
            return False
    c = run([tool, "check", d, LOGIN, SECRET, acks])
    ok = c.returncode == 0
    if not ok:
        print("FAIL %s #%d %s (%s): %s%s" % (syscall, n, action, outcome,
                                             c.stdout, c.stderr))
    return ok


def main():
    tool, work = sys.argv[1], sys.argv[2]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    if shutil.which("strace") is None:
        sys.exit("strace is required (apt-get install strace)")
    template = os.path.join(work, "template")
    p = run([tool, "init", template, LOGIN, SECRET])
    if p.returncode != 0:
        sys.exit("init failed: " + p.stderr)
    tried = failed = 0
    for sc in SYSCALLS:
        total = count_calls(tool, template, work, sc)
        if total == 0:
            sys.exit("no %s calls seen: is strace working here?" % sc)
        for n in range(1, total + 1):
            tried += 1
            failed += not one(tool, template, work, sc, n, "signal=KILL")
        print("%-10s SIGKILL at each of %d calls" % (sc, total))
    for sc in ["fsync", "fdatasync"]:
        total = count_calls(tool, template, work, sc)
        for n in range(1, total + 1):
            tried += 1
            failed += not one(tool, template, work, sc, n, "error=EIO")
        print("%-10s EIO at each of %d calls" % (sc, total))
    print("crash points tried: %d" % tried)
    print("%d passed, %d failed" % (tried - failed, failed))
    shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
