#!/usr/bin/python3
"""Crash consistency of a real vaultd, black-box, at every durability point
of four requests: a deposit, a deletion, a mandate grant and a revocation.

For each request, one traced run without faults counts the fsync,
fdatasync, fchmod, ftruncate, write, pwrite64 and unlink calls its serving
thread and the threads it starts make (tests/fault_inject.py). Then, for
each such call in turn, a fresh copy of the same data directory is served,
the request is sent, and strace kills vaultd with SIGKILL at that call
(`-e inject=SYSCALL:signal=KILL:when=N`). vaultd is started again on what
is left, and (tests/fault_scenario.py):

  - every request answered with success is intact: a deposit is listed and
    downloads to the same bytes and SHA-256, by the person and by the aidant
    whose read mandate covers it; a deletion, grant or revocation answered
    is in effect;
  - a request not answered is entirely there or entirely absent: a listed
    document downloads whole, a document is listed exactly when its
    `document.deposit` is journaled, a deleted document is gone exactly when
    its `document.delete` is; a grant is either listed, journaled and opens
    the documents it covers for the aidant, or none of these; a revocation
    likewise;
  - every other document is intact;
  - `vaultctl fsck` finds nothing missing or corrupt, and no unreferenced
    blob but the interrupted request's own (a deposit killed between its
    durable blob and its commit, a deletion killed between its commit and
    the blob's removal: start-up reports such a blob and keeps it, see
    SECURITY.md section 6); `PRAGMA integrity_check` says ok; `vaultctl
    journal verify` passes; no temp file is left.

A control first shows the checks catch a listed document whose blob is
gone. Prints how many crash points were tried. With VAULT_SANITIZE=1 (the
ASan build, set by tests/CMakeLists.txt) every third point only, for time
(VAULT_CRASH_STRIDE overrides; VAULT_CRASH_ONLY=deposit,grant narrows).

usage: vaultd_crash_test.py BUILD_DIR WORKDIR
"""
import os
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import check, finish  # noqa: E402
from fault_inject import CRASH_SYSCALLS as SYSCALLS, reachable  # noqa: E402
from fault_scenario import NAMES, Scenario, acked  # noqa: E402

BUILD, WORK = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
SANITIZED = os.environ.get("VAULT_SANITIZE") == "1"
STRIDE = int(os.environ.get("VAULT_CRASH_STRIDE", "3" if SANITIZED else "1"))


def one(S, name, sc, mode, n):
    v = S.fresh()
    ans, died, _, _ = S.send(v, name, [sc], inject="%s:signal=KILL:when=%d" % (sc, n),
                             follow=(mode == "follow"))
    p, done = S.after_restart(v, name, ans)
    if ans is not None and not acked(ans):
        p.append("answered %s: a kill cannot cause a failure answer" % ans[0])
    return died, acked(ans), done, p


def main():
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    if shutil.which("strace") is None or shutil.which("sqlite3") is None:
        sys.exit("strace and sqlite3 are required (apt-get install strace sqlite3)")
    t0 = time.time()
    S = Scenario(BUILD, WORK)
    # the checks themselves: a listed document whose blob is gone is seen
    v = S.fresh()
    d2 = S.doc("D2")
    os.remove(os.path.join(v.data, "blobs", d2[:2], d2))
    p, _ = S.after_restart(v, "grant", None)
    check("control: a listed document without its blob is caught (download and fsck)",
          any("does not download whole" in x for x in p) and any("fsck" in x for x in p), p)
    total = tried = killed = 0
    only = os.environ.get("VAULT_CRASH_ONLY")
    for name in NAMES:
        if only and name not in only.split(","):
            continue
        # the count: one traced run, no fault
        v = S.fresh()
        ans, died, ev, tid = S.send(v, name, SYSCALLS)
        S.stop(v)
        check("%s: succeeds when traced without faults" % name,
              acked(ans) and not died, ans and ans[:2])
        counts = {}
        for _, s_, _ in ev:
            counts[s_] = counts.get(s_, 0) + 1
        print("# %s: %s" % (name, ", ".join("%s %d" % kv for kv in sorted(counts.items()))),
              flush=True)
        # Every request commits (the WAL's fdatasync), and a deposit also
        # fsyncs its blob: both seen means the threads doing them are
        # traced. A pool thread started before the request would not be,
        # and its calls would silently never be tried (a deposit's COMMIT
        # runs on a pool worker, documents.c).
        check("%s: its commit%s among the traced calls" % (
              name, " and its blob's fsync are" if name == "deposit" else " is"),
              counts.get("fdatasync", 0) >= 1 and
              (name != "deposit" or counts.get("fsync", 0) >= 1), counts)
        failures, outcomes = [], {}
        for sc in SYSCALLS:
            points, unreachable = reachable(ev, sc, tid)
            if points or unreachable:
                check("%s: each of its %d %s calls can be reached by strace"
                      % (name, counts[sc], sc), unreachable == 0,
                      "%d unreachable" % unreachable)
            total += len(points)
            for i, (mode, n) in enumerate(points):
                if i % STRIDE:
                    continue
                tried += 1
                died, ok, done, p = one(S, name, sc, mode, n)
                killed += died
                key = ("answered" if ok else "unanswered") + (
                    " and done" if done else " and not done")
                outcomes[key] = outcomes.get(key, 0) + 1
                if p:
                    failures.append("%s #%d (%s, %s): %s" % (
                        sc, n, "killed" if died else "not reached",
                        "answered" if ok else "unanswered", "; ".join(p)))
        check("%s: after a kill at each of its durability points, every answered request "
              "intact, nothing half visible, fsck, integrity_check and journal verify clean"
              % name, not failures, "\n  " + "\n  ".join(failures[:10]))
        print("# %s: %s; %.0fs so far" % (name, ", ".join(
            "%d %s" % (n, k) for k, n in sorted(outcomes.items())), time.time() - t0), flush=True)
    print("crash points: %d in the four requests, %d tried%s, %d of them killed vaultd"
          % (total, tried, " (every %d)" % STRIDE if STRIDE > 1 else "", killed))
    check("the crash points tried killed vaultd (at least 90 %)", killed >= tried * 0.9,
          "%d of %d" % (killed, tried))
    print("# took %.0fs" % (time.time() - t0))
    check("every vaultd stopped with SIGTERM exited 0%s" % (
        " (LeakSanitizer: no leak on these paths)" if os.environ.get("VAULT_SANITIZE") == "1"
        else ""), not S.bad_exits, "\n".join(S.bad_exits[:2]))
    shutil.rmtree(WORK, ignore_errors=True)
    finish()


if __name__ == "__main__":
    main()
