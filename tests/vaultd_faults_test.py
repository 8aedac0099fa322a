#!/usr/bin/python3
"""Storage failures under a running vaultd, black-box (strace fault
injection into the serving thread, tests/fault_inject.py, and a lowered
RLIMIT_NOFILE), with the scenario of tests/fault_scenario.py. What
SECURITY.md section 6 states, checked:

 1. A failed fsync or fdatasync (EIO), at each one a deposit, a deletion,
    a grant and a revocation make: the file is never synced again by the
    request; a request whose own commit was not durable is answered with a
    failure (500 storage_error), never 2xx; from then on /v1/health says
    503 read-only, writes are refused (503 read_only), new log-ins too
    (a session must be journaled), an aidant's reads too (they must be
    journaled where the person sees them), while the person's open session
    reads her papers; after a restart vaultd is writable again and the
    request is all or nothing.
 2. The same for the automatic WAL checkpoint that a commit runs after
    1000 frames (it used to be ignored): the grant that ran it is answered
    (it was committed) and the store stops.
 3. ENOSPC at each write and pwrite64 of a deposit and a grant: 507
    insufficient_storage, nothing stored (no document, no grant, no blob,
    no temp file, after a restart too), reads go on and the next write is
    accepted at once (space is back). ENOSPC from fsync itself is a failed
    sync: it stops the store.
 4. EMFILE at each openat of a deposit and of a download: 2xx or 503 busy,
    never 500, and the store never stops. Then the real thing: the running
    vaultd's RLIMIT_NOFILE lowered to the descriptors it holds (prlimit):
    requests on an open connection answer 503 busy, health stays ok; once
    the limit is back, requests succeed and a new connection is accepted as
    soon as one closes (libmicrohttpd suspends accept() after EMFILE until a
    connection closes). At start-up vaultd raises its soft limit to what
    --max-connections may need, and warns when the hard limit is too low.

usage: vaultd_faults_test.py BUILD_DIR WORKDIR
"""
import http.client
import os
import re
import resource
import shutil
import sys
import threading
import time
from urllib.parse import urlencode

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import check, finish  # noqa: E402
from fault_inject import Traced, reachable, fsck, open_fds  # noqa: E402
from fault_scenario import (AIDANT, ASECRET, NAMES, PERSON, PSECRET,  # noqa: E402
                            Scenario, acked)

BUILD, WORK = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
SANITIZED = os.environ.get("VAULT_SANITIZE") == "1"
# under ASan, every third write of the ENOSPC sweep (the other parts in full)
STRIDE = int(os.environ.get("VAULT_FAULTS_STRIDE", "3" if SANITIZED else "1"))


def fd_paths(lines):
    """fd -> path at each line of a trace (openat results)."""
    fds, at = {}, []
    for line in lines:
        m = re.search(r'openat\(AT_FDCWD, "([^"]*)".*\) = (\d+)', line)
        if m:
            fds[m.group(2)] = m.group(1)
        at.append(dict(fds))
    return at


def synced_after_failure(lines):
    """Paths synced again after the injected failure (a retry), and the
    path of the failed sync."""
    at = fd_paths(lines)
    for i, line in enumerate(lines):
        if "(INJECTED)" in line:
            m = re.search(r"(fsync|fdatasync)\((\d+)", line)
            failed = at[i].get(m.group(2), "?") if m else "?"
            again = []
            for j in range(i + 1, len(lines)):
                m2 = re.search(r"(fsync|fdatasync)\((\d+)\)", lines[j])
                if m2 and at[j].get(m2.group(2)) == failed:
                    again.append(lines[j])
            return failed, again
    return None, []


def wal_synced_before_failure(lines):
    for line in lines:
        if "(INJECTED)" in line:
            return False
        if re.search(r"fdatasync\(\d+\)\s+= 0", line):
            return True
    return False


def deposit_now(v, token, data=b"later"):
    q = urlencode({"title": "later", "category": "other"})
    return v.call("POST", "/v1/persons/%s/documents?%s" % (S.pid, q), raw=data, token=token,
                  headers={"Content-Type": "text/plain"})


def read_only_state(v, ptok, atok, revoked=False):
    """What a stopped store answers; returns problems. (revoked: the
    aidant's mandate was revoked before the store stopped: he is refused
    with 403 rather than 503.)"""
    p = []
    h = v.call("GET", "/v1/health")
    if h[0] != 503 or h[1] != {"status": "read-only"}:
        p.append("health %s %s" % (h[0], h[1]))
    d = deposit_now(v, ptok)
    if d[0] != 503 or d[1].get("error") != "read_only":
        p.append("a later deposit: %s %s" % (d[0], d[1]))
    g = v.call("POST", "/v1/persons/%s/mandates" % S.pid, {"aidant_id": S.aid,
               "scopes": ["deposit"], "categories": ["other"], "duration_days": 1}, token=ptok)
    if g[0] != 503:
        p.append("a later grant: %s" % g[0])
    l = v.call("GET", "/v1/persons/%s/documents" % S.pid, token=ptok)
    r = v.call("GET", "/v1/persons/%s/documents/%s/content" % (S.pid, S.doc("D2")), token=ptok)
    if l[0] != 200 or r[0] != 200 or r[1] != S.docs["D2"][1]:
        p.append("the person's reads: list %s, download %s" % (l[0], r[0]))
    a = v.call("GET", "/v1/persons/%s/documents/%s/content" % (S.pid, S.doc("D2")), token=atok)
    if a[0] != (403 if revoked else 503):
        p.append("an aidant's read, which cannot be journaled: %s" % a[0])
    s = v.call("POST", "/v1/sessions", {"login": PERSON, "secret": PSECRET})
    if s[0] != 503:
        p.append("a new log-in, which cannot be journaled: %s" % s[0])
    return p


def writable_again(v):
    """After a restart: health ok, a deposit accepted. Returns problems."""
    v.start()
    p = []
    h = v.call("GET", "/v1/health")
    d = deposit_now(v, v.login(PERSON, PSECRET))
    if h[0] != 200 or d[0] != 201:
        p.append("after a restart: health %s, deposit %s" % (h[0], d[0]))
    S.stop(v)
    return p


# ---- 1. EIO at each sync of the four requests --------------------------------------------

def part_eio():
    tried = 0
    for name in NAMES:
        v = S.fresh()
        ans, _, ev, tid = S.send(v, name, ["fsync", "fdatasync"])
        S.stop(v)
        failures, answered = [], 0
        for sc in ["fsync", "fdatasync"]:
            points, _ = reachable(ev, sc, tid)
            for mode, n in points:
                v = S.fresh()
                ptok, atok = v.login(PERSON, PSECRET), v.login(AIDANT, ASECRET)
                ans, died, _, _ = S.send(v, name, ["fsync", "fdatasync", "openat"],
                                         inject="%s:error=EIO:when=%d" % (sc, n),
                                         follow=(mode == "follow"), token=ptok)
                lines = [l for _, _, l in S.last_trace.events()]
                tag = "%s #%d" % (sc, n)
                if not S.last_trace.injected():
                    S.stop(v)
                    continue  # fewer calls this time (random ids): nothing failed
                tried += 1
                p = []
                if died:
                    p.append("vaultd died")
                failed, again = synced_after_failure(lines)
                if again:
                    p.append("%s synced again after its sync failed: %s" % (failed, again[:2]))
                if acked(ans):
                    answered += 1
                    if name in ("deposit", "grant") or not wal_synced_before_failure(lines):
                        p.append("answered %s although its commit was not durable" % ans[0])
                elif ans is None or ans[0] != 500 or ans[1].get("error") != "storage_error":
                    p.append("answered %s, not 500 storage_error" % (ans and ans[:2],))
                p += read_only_state(v, ptok, atok, revoked=name == "revocation" and acked(ans))
                q, _ = S.after_restart(v, name, ans)
                p += q + writable_again(v)
                if p:
                    failures.append("%s on %s: %s" % (tag, failed, "; ".join(p)))
        check("EIO at each sync of a %s: never retried, failure answered unless committed "
              "(%d answered after their commit), then read-only until a restart, all or "
              "nothing after it" % (name, answered), not failures,
              "\n  " + "\n  ".join(failures[:6]))
    return tried


# ---- 2. EIO in the automatic checkpoint -------------------------------------------------

def part_autocheckpoint():
    v = S.fresh("autockpt")
    ptok, atok = v.login(PERSON, PSECRET), v.login(AIDANT, ASECRET)
    wal = os.path.join(v.data, "vault.db-wal")

    def frames():
        return max(0, (os.path.getsize(wal) - 32) // (4096 + 24))
    # deposits (about 12 frames each) up to 975 frames, then grants (about 9)
    # until one crosses 1000: its commit is its first fdatasync, the
    # checkpoint's sync of the WAL its second
    n = 0
    while frames() < 975 and n < 400:
        s, _, _ = deposit_now(v, ptok, os.urandom(300))
        n += 1
    ran, ans = False, None
    for _ in range(6):
        ans, died, ev, _ = S.send(v, "grant", ["fdatasync"],
                                  inject="fdatasync:error=EIO:when=2", token=ptok)
        if S.last_trace.injected():
            ran = True
            break
    check("the automatic checkpoint after 1000 WAL frames ran under a grant "
          "(after %d deposits)" % n, ran, "frames %d" % frames())
    if not ran:
        S.stop(v)
        return
    p = read_only_state(v, ptok, atok)
    check("EIO in the automatic WAL checkpoint: the grant that ran it is answered 201 "
          "(committed), and the store stops (it used to go on)",
          acked(ans) and not p, "%s; %s" % (ans and ans[:2], "; ".join(p)))
    S.stop(v)
    v.start()
    o = S.observe(v)
    S.stop(v)
    granted = [m for m in o["mandates"] if "identity" in m["categories"] and
               m["status"] == "active" and m["mandate_id"] == ans[1].get("mandate_id")]
    check("after a restart the grant is there and vaultd is writable again",
          granted and o["aidant_reads"].get(S.doc("D3")) and not writable_again(v), o["mandates"])


# ---- 3. ENOSPC -----------------------------------------------------------------------

def part_enospc():
    tried = 0
    for name in ["deposit", "grant"]:
        v = S.fresh()
        _, _, ev, tid = S.send(v, name, ["write", "pwrite64"])
        S.stop(v)
        failures = []
        for sc in ["write", "pwrite64"]:
            points, _ = reachable(ev, sc, tid)
            for i, (mode, n) in enumerate(points):
                if i % STRIDE and i != len(points) - 1:
                    continue
                v = S.fresh()
                ptok = v.login(PERSON, PSECRET)
                ans, died, _, _ = S.send(v, name, [sc], inject="%s:error=ENOSPC:when=%d"
                                         % (sc, n), follow=(mode == "follow"), token=ptok)
                lines = [l for _, _, l in S.last_trace.events()]
                inj = [l for l in lines if "(INJECTED)" in l]
                if not inj:
                    S.stop(v)
                    continue
                tried += 1
                p = []
                # the access log's line, after the answer (traced alone,
                # without -f, strace writes no pid before the call)
                log_line = re.match(r"(\d+\s+)?write\(2,", inj[0]) is not None
                if log_line:
                    if not acked(ans):
                        p.append("the access log could not be written: answered %s"
                                 % (ans and ans[0]))
                elif ans is None or ans[0] != 507 or ans[1].get("error") != "insufficient_storage":
                    p.append("answered %s, not 507 insufficient_storage" % (ans and ans[:2],))
                h = v.call("GET", "/v1/health")
                r = v.call("GET", "/v1/persons/%s/documents/%s/content"
                           % (S.pid, S.doc("D2")), token=ptok)
                d = deposit_now(v, ptok)
                if h[0] != 200 or r[0] != 200 or d[0] != 201:
                    p.append("afterwards: health %s, a read %s, the next deposit %s"
                             % (h[0], r[0], d[0]))
                q, done = S.after_restart(v, name, ans, orphan_ok=False)
                p += q
                if done and not log_line:
                    p.append("refused for a full disk, yet stored")
                if p:
                    failures.append("%s #%d: %s" % (sc, n, "; ".join(p)))
        check("ENOSPC at each write and pwrite64 of a %s: 507, nothing stored (no row, blob "
              "or temp file, after a restart too), reads go on, the next write is accepted"
              % name, not failures, "\n  " + "\n  ".join(failures[:6]))
    # ENOSPC from fsync: a failed sync like any other
    v = S.fresh()
    ptok, atok = v.login(PERSON, PSECRET), v.login(AIDANT, ASECRET)
    ans, _, _, _ = S.send(v, "deposit", ["fsync"], inject="fsync:error=ENOSPC:when=1", token=ptok)
    p = read_only_state(v, ptok, atok)
    q, _ = S.after_restart(v, "deposit", ans)
    check("ENOSPC returned by fsync is a failed sync: 500, read-only until a restart",
          ans is not None and ans[0] == 500 and not p and not q, "%s %s %s" % (
              ans and ans[:2], p, q))
    return tried + 1


# ---- 4. EMFILE -----------------------------------------------------------------------

def download(name):
    return ("GET", "/v1/persons/%s/documents/%s/content" % (S.pid, S.doc(name)))


def emfile_run(name, inject=None, follow=False, extra=()):
    """One deposit or download on a traced connection; returns (answer,
    events, tid, injected)."""
    v = S.fresh()
    ptok = v.login(PERSON, PSECRET)
    if name == "download":
        t = Traced(v, ["openat"], inject=inject, follow=follow, extra=extra)
        ans = t.call(*download("D2"), token=ptok)
        t.settle(lambda: False, timeout=0.3)
        t.detach()
    else:
        ans, _, _, _ = S.send(v, name, ["openat"], inject=inject, follow=follow,
                              token=ptok, extra=extra)
        t = S.last_trace
    return v, ans, t.events(), t.tid, t.injected()


def part_emfile():
    """Every openat of the serving thread (traced alone, so that its own
    count is what `when` counts), and for a deposit every directory its
    threads open to fsync (strace -P on the blob directory and
    its 256 fan-out directories: only those calls are counted)."""
    tried = 0
    for name in ["deposit", "download"]:
        blobs = os.path.join(WORK, "run", "data", "blobs")  # in S.fresh()'s copy
        dirs = ["-P", blobs]
        for i in range(256):
            dirs += ["-P", os.path.join(blobs, "%02x" % i)]
        plans = [("alone", False, ())]
        if name == "deposit":
            plans.append(("directories", True, dirs))
        failures, statuses, npoints = [], {}, 0
        for label, follow, extra in plans:
            v, _, ev, _, _ = emfile_run(name, follow=follow, extra=extra)
            S.stop(v)
            count = sum(1 for _, sc, _ in ev if sc == "openat")
            npoints += count
            for n in range(1, count + 1):
                v, ans, _, _, injected = emfile_run(name, "openat:error=EMFILE:when=%d" % n,
                                                    follow, extra)
                if not injected:
                    S.stop(v)
                    continue
                tried += 1
                p = []
                st = ans[0] if ans else None
                statuses[st] = statuses.get(st, 0) + 1
                if not (acked(ans) or (st == 503 and ans[1].get("error") == "busy")):
                    p.append("answered %s" % (ans and ans[:2],))
                if name == "download" and acked(ans) and ans[1] != S.docs["D2"][1]:
                    p.append("a download answered 200 but not whole")
                h = v.call("GET", "/v1/health")
                if h[0] != 200:
                    p.append("health %s %s: the store stopped" % (h[0], h[1]))
                if name == "deposit":
                    q, _ = S.after_restart(v, name, ans, orphan_ok=False)
                    p += q
                else:
                    S.stop(v)
                if p:
                    failures.append("%s openat #%d: %s" % (label, n, "; ".join(p)))
        check("EMFILE at each of the %d openat of a %s: 2xx or 503 busy (%s), never 500, "
              "the store never stops, nothing left behind"
              % (npoints, name, ", ".join("%s x%d" % kv for kv in sorted(statuses.items(),
                                                                            key=str))),
              not failures and 503 in statuses, "\n  " + "\n  ".join(failures[:6]))
    return tried


def quiet_fds(pid):
    """The descriptors vaultd holds once stable (a connection the client
    closed is closed on the server's side a moment later), and the lowest
    free one: the next open gets it."""
    held, stable = None, 0
    while stable < 15:
        now = set(int(x) for x in os.listdir("/proc/%d/fd" % pid))
        stable = stable + 1 if now == held else 0
        held = now
        time.sleep(0.02)
    return held, min(set(range(len(held) + 1)) - held)


def part_rlimit():
    """The running vaultd's soft RLIMIT_NOFILE lowered (prlimit) to the
    descriptor the next open would get, then one and two above it, with a
    connection already open; raised back afterwards."""
    v = S.fresh("rlimit")
    ptok = v.login(PERSON, PSECRET)
    pid = v.proc.pid
    soft, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    q = urlencode({"title": "t", "category": "income"})
    dep = ("POST", "/v1/persons/%s/documents?%s" % (S.pid, q))
    get = ("GET", "/v1/persons/%s/documents/%s/content" % (S.pid, S.doc("D1")))
    rows, bad = [], []
    for margin in range(0, 3):
        c = http.client.HTTPConnection(v.host, v.port, timeout=30)
        v.call("GET", "/v1/health", conn=c)
        held, free = quiet_fds(pid)
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (free + margin, hard))
        r = v.call(*get, token=ptok, conn=c)
        h = v.call("GET", "/v1/health", conn=c)
        # last: a refused upload is answered before its body is read, and
        # libmicrohttpd then closes the connection
        d = v.call(*dep, raw=os.urandom(2000), token=ptok,
                   headers={"Content-Type": "application/pdf"}, conn=c)
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))
        c.close()
        rows.append("limit %d (%d held, +%d): download %d, health %d, deposit %d"
                    % (free + margin, len(held), margin, r[0], h[0], d[0]))
        for a in (d, r):
            if not (200 <= a[0] < 300 or (a[0] == 503 and a[1].get("error") == "busy")):
                bad.append("+%d: %s" % (margin, a[:2]))
        if h[0] != 200:
            bad.append("+%d: health %s" % (margin, h[:2]))
        if margin == 0 and (r[0] != 503 or d[0] != 503):
            bad.append("no descriptor free, yet not 503: download %s, deposit %s" % (r[0], d[0]))
    check("RLIMIT_NOFILE lowered under a running vaultd: a download and a deposit answer "
          "503 busy or succeed, health stays ok (%s)" % "; ".join(rows), not bad, bad)
    # a new connection while at the limit waits; once the limit is back and
    # a connection closes, it is served
    c = http.client.HTTPConnection(v.host, v.port, timeout=30)
    v.call("GET", "/v1/health", conn=c)
    _, free = quiet_fds(pid)
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (free, hard))
    res = []

    def newconn():
        try:
            res.append(v.call("GET", "/v1/health")[0])
        except Exception as e:  # noqa: BLE001
            res.append(repr(e))
    th = threading.Thread(target=newconn)
    th.start()
    time.sleep(1)
    waited = list(res)
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))
    d = v.call(*dep, raw=b"back", token=ptok, headers={"Content-Type": "text/plain"}, conn=c)
    c.close()
    th.join(20)
    check("limit restored: a deposit on the open connection is accepted, and a new "
          "connection that waited while no descriptor was free is served once one closes",
          d[0] == 201 and waited == [] and res == [200],
          "deposit %s, new connection %s (before: %s)" % (d[0], res, waited))
    q, _ = S.after_restart(v, "grant", None, orphan_ok=False)  # nothing half-stored
    check("after the descriptor shortage: fsck, integrity_check, journal verify clean, "
          "every listed document whole", not q, q)


def soft_nofile(pid):
    with open("/proc/%d/limits" % pid) as f:
        return int(re.search(r"^Max open files\s+(\d+)", f.read(), re.M).group(1))


def part_startup_limit():
    """vaultd raises its soft RLIMIT_NOFILE to what --max-connections may
    need (6 per connection + 64), up to the hard limit, and warns when the
    hard limit is too low."""
    got = []
    for hard in (4096, 300):
        v = S.fresh("nofile")
        S.stop(v)
        v.wrapper = ["prlimit", "--nofile=256:%d" % hard, "--"]
        v.extra = v.extra + ["--max-connections", "100"]
        v.start()
        got.append((soft_nofile(v.proc.pid), "warning: 300 file descriptors" in v.read_log()))
        S.stop(v)
    check("vaultd raises its soft descriptor limit for --max-connections 100 (256 -> %d), "
          "and warns when the hard limit (300) is too low" % got[0][0],
          got == [(664, False), (300, True)], got)


def main():
    global S
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    if shutil.which("strace") is None or shutil.which("sqlite3") is None:
        sys.exit("strace and sqlite3 are required (apt-get install strace sqlite3)")
    t0 = time.time()
    S = Scenario(BUILD, WORK)
    n = part_eio()
    print("# EIO: %d points, %.0fs" % (n, time.time() - t0), flush=True)
    part_autocheckpoint()
    print("# automatic checkpoint: %.0fs" % (time.time() - t0), flush=True)
    n2 = part_enospc()
    print("# ENOSPC: %d points, %.0fs" % (n2, time.time() - t0), flush=True)
    n3 = part_emfile()
    part_rlimit()
    part_startup_limit()
    print("# EMFILE: %d points, %.0fs" % (n3, time.time() - t0), flush=True)
    print("fault points tried: %d EIO, %d ENOSPC, %d EMFILE" % (n, n2, n3))
    check("every vaultd stopped with SIGTERM exited 0%s" % (
        " (LeakSanitizer: no leak on these paths)" if os.environ.get("VAULT_SANITIZE") == "1"
        else ""), not S.bad_exits, "\n".join(S.bad_exits[:2]))
    shutil.rmtree(WORK, ignore_errors=True)
    finish()


if __name__ == "__main__":
    main()
