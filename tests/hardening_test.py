#!/usr/bin/python3
"""vaultd's process hardening, from outside (SECURITY.md section 3):

  - it is not dumpable (prctl PR_SET_DUMPABLE 0): run as an unprivileged
    user (nobody, through setpriv, when the test runs as root), its /proc
    files belong to root, not to that user; another process of the same
    user can neither ptrace-attach to it nor read its /proc/PID/mem or
    environ; killed with SIGABRT and RLIMIT_CORE unlimited, it leaves no
    core file. A control process (sleep, same user, same limits) shows each
    of these checks can fail: its files are its user's, it can be attached
    to and read, and it dumps core.
  - its secrets sit in guarded memory that a dump would skip: the pepper
    and the unlocked secret key of a logged-in person are found in its
    memory (root reads /proc/PID/mem: the limit SECURITY.md states for a
    running server) only in mappings marked `dd` (MADV_DONTDUMP) in
    /proc/PID/smaps;
  - a paper's plaintext is not left in its memory once the download ended
    (libmicrohttpd's response buffer is wiped).

That no canary secret or document reaches a log, a file of the data
directory or a temp file after a full scenario is tests/api_test.py's
check ("no plaintext: ..."), not repeated here.

usage: hardening_test.py BUILD_DIR WORKDIR THEFT_TOOL
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import check, finish  # noqa: E402
from vaultd_harness import Vault  # noqa: E402

BUILD, WORK = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
TOOL = os.path.abspath(sys.argv[3])
ROOT = os.geteuid() == 0
NOBODY = 65534
AS_USER = (["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups", "--"]
           if ROOT else [])
UID = NOBODY if ROOT else os.geteuid()
MARK = b"MEMORY-CANARY-" + os.urandom(8).hex().encode()

PROBE = r'''
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
pid = int(sys.argv[1])
out = []
r = libc.ptrace(16, pid, None, None)  # PTRACE_ATTACH
out.append("attach=%s" % ("ok" if r == 0 else os.strerror(ctypes.get_errno()).replace(" ", "_")))
if r == 0:
    os.waitpid(pid, 0x40000000)  # __WALL
    libc.ptrace(17, pid, None, None)  # PTRACE_DETACH
for f in ("mem", "environ"):
    try:  # opening is the access check (reading address 0 of mem is EIO)
        open("/proc/%d/%s" % (pid, f), "rb").close()
        out.append("%s=ok" % f)
    except OSError as e:
        out.append("%s=%s" % (f, e.strerror.replace(" ", "_")))
print(" ".join(out))
'''


def core_limit(pid):
    with open("/proc/%d/limits" % pid) as f:
        return re.search(r"^Max core file size\s+(\S+)", f.read(), re.M).group(1)


def owner(pid, f):
    return os.stat("/proc/%d/%s" % (pid, f)).st_uid


def euid(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"^Uid:\s+\d+\s+(\d+)", f.read(), re.M).group(1))


def probe(pid):
    p = subprocess.run(AS_USER + [sys.executable, "-c", PROBE, str(pid)],
                       capture_output=True, text=True, timeout=30)
    return dict(kv.split("=", 1) for kv in p.stdout.split()) if p.returncode == 0 else \
        {"error": p.stderr}


def regions(pid):
    out, cur = [], None
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            m = re.match(r"([0-9a-f]+)-([0-9a-f]+) (\S+) ", line)
            if m:
                cur = [int(m.group(1), 16), int(m.group(2), 16), m.group(3), ""]
                out.append(cur)
            elif line.startswith("VmFlags:"):
                cur[3] = line.split(":", 1)[1].split()
    return out


def find(pid, needles):
    """Where each needle is in the process's readable memory (as root):
    {name: [(address, flags)]}."""
    hits = {k: [] for k in needles}
    with open("/proc/%d/mem" % pid, "rb", buffering=0) as mem:
        for a, b, perm, flags in regions(pid):
            # (AddressSanitizer's shadow is terabytes of reserved space)
            if "r" not in perm or b - a > 1 << 30:
                continue
            tail, at = b"", a
            while at < b:
                try:
                    mem.seek(at)
                    chunk = mem.read(min(8 << 20, b - at))
                except (OSError, OverflowError, ValueError):
                    break
                if not chunk:
                    break
                buf = tail + chunk
                base = at - len(tail)
                for k, n in needles.items():
                    i = buf.find(n)
                    while i >= 0:
                        if (hex(base + i), flags) not in hits[k]:
                            hits[k].append((hex(base + i), flags))
                        i = buf.find(n, i + 1)
                tail = buf[-64:]
                at += len(chunk)
    return hits


def main():
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    if ROOT and shutil.which("setpriv") is None:
        sys.exit("setpriv is required (util-linux)")
    v = Vault(BUILD, os.path.join(WORK, "vault"))
    cores = os.path.join(WORK, "cwd-vaultd")
    ccores = os.path.join(WORK, "cwd-control")
    for d in (cores, ccores):
        os.makedirs(d)
    if ROOT:
        for d, _, fs in os.walk(WORK):
            os.chown(d, NOBODY, NOBODY)
            for f in fs:
                os.chown(os.path.join(d, f), NOBODY, NOBODY)
    # RLIMIT_CORE unlimited from the start (prlimit on a process of another
    # user needs CAP_SYS_RESOURCE, which a container's root may lack), and
    # AddressSanitizer told not to lower it itself
    os.environ["ASAN_OPTIONS"] = (os.environ.get("ASAN_OPTIONS", "") +
                                  ":disable_coredump=0").lstrip(":")
    unlimited = ["prlimit", "--core=unlimited:unlimited", "--"]
    v.wrapper, v.cwd = unlimited + AS_USER, cores
    v.start()
    pid = v.proc.pid
    control = subprocess.Popen(unlimited + AS_USER + ["sleep", "120"], cwd=ccores)
    time.sleep(0.2)

    # ---- not dumpable
    check("vaultd runs as uid %d for this test (the control too)" % UID,
          euid(pid) == UID and euid(control.pid) == UID, (euid(pid), euid(control.pid)))
    check("non-dumpable: vaultd's /proc files belong to root, not to its user "
          "(the control's belong to its user)",
          owner(pid, "status") == 0 and owner(pid, "mem") == 0 and
          (UID == 0 or owner(control.pid, "status") == UID),
          (owner(pid, "status"), owner(control.pid, "status")))
    pv, pc = probe(pid), probe(control.pid)
    check("another process of the same user cannot ptrace-attach to vaultd nor read its "
          "memory or environment (%s); it can the control's (%s)"
          % (" ".join("%s=%s" % kv for kv in pv.items()),
             " ".join("%s=%s" % kv for kv in pc.items())),
          pv.get("attach") not in (None, "ok") and pv.get("mem") not in (None, "ok") and
          pv.get("environ") not in (None, "ok") and
          (not ROOT or (pc.get("attach") == "ok" and pc.get("mem") == "ok")), (pv, pc))

    # ---- secrets in guarded memory, skipped by a dump
    admin = v.admin()
    sid = v.structure(admin)
    _, atok = v.aidant(admin, sid, "aidant.amina")
    ppid, ptok, _ = v.person(atok, "person.karim", secret="soleil")
    data = os.urandom(40000) + MARK + os.urandom(40000)
    s, b, _ = v.deposit(ptok, ppid, data)
    s2, body, _ = v.call("GET", "/v1/persons/%s/documents/%s/content" % (ppid, b["document_id"]),
                         token=ptok)
    assert s == 201 and s2 == 200 and body == data, (s, s2)
    pepper = open(os.path.join(v.data, "pepper.key"), "rb").read()
    out = os.path.join(WORK, "out")
    os.makedirs(out)
    t = subprocess.run([TOOL, "open", os.path.join(v.data, "vault.db"),
                        os.path.join(v.data, "blobs"), os.path.join(v.data, "pepper.key"),
                        "person.karim", "soleil", out], capture_output=True, text=True)
    sk = re.findall(r"^secretkey (\S+)$", t.stdout, re.M)
    time.sleep(0.3)  # the download's connection closes on the server's side
    if ROOT:
        dd = [r for r in regions(pid) if "dd" in r[3]]
        hits = find(pid, {"pepper": pepper, "secret key": bytes.fromhex(sk[0]) if sk else b"-",
                          "paper": MARK})
        print("# %d mappings marked dd; pepper at %s; the logged-in person's secret key at %s"
              % (len(dd), [(a, "dd" in f) for a, f in hits["pepper"]],
                 [(a, "dd" in f) for a, f in hits["secret key"]]))
        check("root reads a running vaultd's memory (SECURITY.md: the limit of server-side "
              "encryption): the pepper and a logged-in person's secret key are there",
              hits["pepper"] and hits["secret key"], hits)
        check("...but only in guarded mappings marked dd (MADV_DONTDUMP) in smaps: the "
              "pepper (%d places) and the person's unlocked key (%d places)"
              % (len(hits["pepper"]), len(hits["secret key"])),
              hits["pepper"] and hits["secret key"] and
              all("dd" in f for _, f in hits["pepper"] + hits["secret key"]), hits)
        check("a downloaded paper's plaintext is nowhere in vaultd's memory once the "
              "download ended", not hits["paper"], hits["paper"])

    # ---- no core dump
    with open("/proc/sys/kernel/core_pattern") as f:
        pattern = f.read().strip()
    with open("/proc/sys/fs/suid_dumpable") as f:
        suid_dumpable = f.read().strip()
    if pattern.startswith("|") or pattern.startswith("/"):
        print("# core_pattern is %r: the core-file check is skipped" % pattern)
    else:
        limits = [core_limit(p_) for p_ in (pid, control.pid)]
        os.kill(control.pid, signal.SIGABRT)
        control.wait(timeout=30)
        os.kill(pid, signal.SIGABRT)
        v.proc.wait(timeout=30)
        v.proc = None
        time.sleep(0.2)
        check("killed by SIGABRT with RLIMIT_CORE unlimited, vaultd leaves no core file "
              "(the control does: %s; core_pattern %r, suid_dumpable %s)"
              % (os.listdir(ccores), pattern, suid_dumpable),
              limits == ["unlimited"] * 2 and os.listdir(ccores) and
              not os.listdir(cores), (limits, os.listdir(ccores), os.listdir(cores)))
    if control.poll() is None:
        control.kill()
        control.wait()
    v.stop()
    shutil.rmtree(WORK, ignore_errors=True)
    finish()


if __name__ == "__main__":
    main()
