"""Fault injection into a running vaultd, one request at a time.

vaultd serves each connection on its own thread (libmicrohttpd, thread per
connection). Traced(v, ...) opens a keep-alive connection, makes one
harmless request on it so that its thread exists, and attaches strace to
that thread alone (with -f: and to the threads it starts, such as the
worker that writes a deposit's rows and commits them, documents.c). The
request under test is then sent on that connection: only what serving
it does is traced, never the sweeper, the scrub or another client.
strace counts `when=N` per syscall and per thread ("per tracee"), which
`reachable()` takes into account.

Also the offline checks that every fault test ends with: `vaultctl fsck`,
`sqlite3 vault.db "PRAGMA integrity_check"`, `vaultctl journal verify`.
"""
import hashlib
import http.client
import os
import re
import subprocess
import time

DURABLE = ["fsync", "fdatasync", "fchmod", "write", "pwrite64"]
# where the crash tests kill the writer, one call after another:
# fchmod, the mode 0600 that makes a written file a blob
# (storage/blobstore_fs.c); ftruncate, which changes a file's size (none
# in today's requests since blobs are no longer padded and cut: kept so
# that a new one would be tried)
CRASH_SYSCALLS = ["fsync", "fdatasync", "fchmod", "ftruncate", "write",
                  "pwrite64", "unlink"]


def tasks(pid):
    try:
        return set(int(t) for t in os.listdir("/proc/%d/task" % pid))
    except OSError:
        return set()


def tracer_of(tid):
    try:
        with open("/proc/%d/status" % tid) as f:
            m = re.search(r"^TracerPid:\s+(\d+)", f.read(), re.M)
            return int(m.group(1)) if m else 0
    except OSError:
        return -1


class Traced:
    """A connection whose serving thread runs under strace (see above)."""

    def __init__(self, v, syscalls, inject=None, follow=True, log=None,
                 extra=()):
        self.v = v
        self.log = log or os.path.join(v.work, "strace.log")
        pid = v.proc.pid
        for attempt in range(20):
            # quiet first: threads of connections that just closed must be
            # gone, so that the one new thread is this connection's
            prev = tasks(pid)
            for _ in range(50):
                time.sleep(0.02)
                now = tasks(pid)
                if now == prev:
                    break
                prev = now
            self.conn = http.client.HTTPConnection(v.host, v.port, timeout=120)
            s, _, _ = v.call("GET", "/v1/health", conn=self.conn)
            new = [t for t in tasks(pid) - prev if tracer_of(t) == 0]
            if len(new) == 1:
                self.tid = new[0]
                break
            self.conn.close()
        else:
            raise RuntimeError("could not tell this connection's thread")
        args = ["strace", "-qq", "-o", self.log, "-e", "trace=" + ",".join(syscalls)]
        if follow:
            args.append("-f")
        if inject:
            args += ["-e", "inject=" + inject]
        args += list(extra) + ["-p", str(self.tid)]
        self.strace = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 10
        while tracer_of(self.tid) != self.strace.pid:
            if time.time() > deadline or self.strace.poll() is not None:
                raise RuntimeError("strace did not attach: %s" %
                                   (self.strace.stderr.read() if self.strace.poll() is not None else "timeout"))
            time.sleep(0.01)

    def call(self, method, path, **kw):
        """The request under test. Returns (status, body, headers), or None
        when the daemon died before answering."""
        try:
            return self.v.call(method, path, conn=self.conn, **kw)
        except (http.client.HTTPException, OSError):
            return None

    def settle(self, route_line=None, timeout=3):
        """Waits until the thread has written its access-log line (the
        last thing a request does, after its answer) or the daemon died."""
        end = time.time() + timeout
        while time.time() < end:
            if self.v.proc.poll() is not None:
                return
            if route_line is None:
                break
            if route_line():
                return
            time.sleep(0.01)

    def detach(self):
        """Ends strace (it detaches) and closes the connection."""
        if self.strace.poll() is None:
            self.strace.terminate()
        try:
            self.strace.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.strace.kill()
            self.strace.wait()
        self.conn.close()

    def events(self):
        """[(tid, syscall, line)] in the order strace saw them."""
        out = []
        with open(self.log) as f:
            for line in f:
                # with -f each line starts with the thread id; without, not
                m = re.match(r"(?:(\d+)\s+)?([a-z0-9_]+)\(", line)
                if m:
                    tid = int(m.group(1)) if m.group(1) else self.tid
                    out.append((tid, m.group(2), line.rstrip()))
        return out

    def injected(self):
        """Did strace tamper with a call (an error injected)?"""
        with open(self.log) as f:
            return "(INJECTED)" in f.read()


def reachable(events, syscall, main_tid):
    """The injection points of one syscall in a traced request, as
    (mode, N): with `-f` and `when=N`, strace fires at the first call that
    is some thread's Nth (counts are per thread); a call that is never
    first is reached by tracing the serving thread alone (no -f), where N
    counts that thread's calls only. Returns (points, unreachable)."""
    per, seen, points, unreachable = {}, set(), [], 0
    for tid, sc, _ in events:
        if sc != syscall:
            continue
        per[tid] = per.get(tid, 0) + 1
        k = per[tid]
        if k not in seen:
            seen.add(k)
            points.append(("follow", k))
        elif tid == main_tid:
            points.append(("alone", k))
        else:
            unreachable += 1
    return points, unreachable


# ---- the offline checks ------------------------------------------------------


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def fsck(build, data):
    """(ok_apart_from_unreferenced, unreferenced names, output)."""
    p = run([os.path.join(build, "vaultctl"), "fsck", "--data-dir", data], timeout=120)
    unref = re.findall(r"fsck: unreferenced: (\S+)", p.stdout)
    m = re.search(r"(\d+) missing, (\d+) corrupt, (\d+) unreferenced", p.stdout)
    ok = m is not None and m.group(1) == "0" and m.group(2) == "0" and \
        "not checked" not in p.stdout
    return ok, unref, (p.stdout + p.stderr).strip(), p.returncode


def integrity(data):
    p = run(["sqlite3", os.path.join(data, "vault.db"), "PRAGMA integrity_check"],
            timeout=120)
    return p.returncode == 0 and p.stdout.strip() == "ok", (p.stdout + p.stderr).strip()


def journal_verify(build, data):
    p = run([os.path.join(build, "vaultctl"), "journal", "verify", "--data-dir", data],
            timeout=120)
    return p.returncode == 0, (p.stdout + p.stderr).strip()


def sha(b):
    return hashlib.sha256(b).hexdigest()


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


def open_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))
