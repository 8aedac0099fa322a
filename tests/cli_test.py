#!/usr/bin/python3
"""The command-line contract of DESIGN.md, driven as an operator would.

usage: cli_test.py BUILD_DIR WORKDIR
"""
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import check, finish  # noqa: E402
from vaultd_harness import unfinished_files  # noqa: E402
import time
import urllib.error
import urllib.request

BUILD, WORK = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
VAULTD = os.path.join(BUILD, "vaultd")
VAULTCTL = os.path.join(BUILD, "vaultctl")
FAST = ["--argon2-ops", "1", "--argon2-mem-kib", "8"]


def run(args, stdin="", cwd=None):
    return subprocess.run(args, input=stdin, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, cwd=cwd, timeout=60)


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def start(args, cwd=None):
    """Starts vaultd; returns (process, address) once it prints its line."""
    p = subprocess.Popen([VAULTD] + args, stderr=subprocess.PIPE,
                         stdout=subprocess.DEVNULL, text=True, cwd=cwd)
    lines = []
    deadline = time.time() + 20
    while time.time() < deadline:
        line = p.stderr.readline()
        if not line:
            break
        lines.append(line)
        m = re.match(r"listening on (\S+)$", line.strip())
        if m:
            return p, m.group(1), lines
    p.kill()
    p.wait()
    return None, None, lines + [p.stderr.read()]


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
d = os.path.join(WORK, "data")

# ---- vaultctl init ---------------------------------------------------------
p = run([VAULTCTL, "--help"])
check("vaultctl --help exits 0 and describes init", p.returncode == 0 and "init" in p.stdout)
p = run([VAULTCTL, "init", "--data-dir", d, "--admin-login", "admin"] + FAST,
        stdin="short\n")
check("vaultctl init refuses a short administrator secret",
      p.returncode != 0 and "at least" in p.stderr and not os.path.exists(os.path.join(d, "vault.db")),
      p.stderr)
shutil.rmtree(d, ignore_errors=True)
p = run([VAULTCTL, "init", "--data-dir", d, "--admin-login", "a b"] + FAST,
        stdin="a long enough secret\n")
check("vaultctl init refuses a malformed login", p.returncode != 0 and "login" in p.stderr, p.stderr)
shutil.rmtree(d, ignore_errors=True)
p = run([VAULTCTL, "init", "--data-dir", d, "--admin-login", "admin"] + FAST,
        stdin="a long enough secret\n")
check("vaultctl init creates the data directory", p.returncode == 0, p.stderr)
code = re.search(r"recovery code.*: (\S+)", p.stdout)
check("vaultctl init prints the administrator's recovery code once",
      code is not None and len(code.group(1)) == 34, p.stdout)
check("data directory is 0700", mode(d) == 0o700, oct(mode(d)))
for f in ["pepper.key", "instance.key", "vault.db"]:
    path = os.path.join(d, f)
    check(f + " exists with mode 0600", os.path.exists(path) and mode(path) == 0o600,
          oct(mode(path)) if os.path.exists(path) else "missing")
check("pepper and instance key are 32 bytes",
      os.path.getsize(os.path.join(d, "pepper.key")) == 32 and
      os.path.getsize(os.path.join(d, "instance.key")) == 32)
check("the secret is nowhere in the data directory",
      not any(b"a long enough secret" in open(os.path.join(r, f), "rb").read()
              for r, _, fs in os.walk(d) for f in fs))
pepper = open(os.path.join(d, "pepper.key"), "rb").read()
p = run([VAULTCTL, "init", "--data-dir", d, "--admin-login", "admin"] + FAST,
        stdin="a long enough secret\n")
check("vaultctl init refuses an existing data directory",
      p.returncode != 0 and "--force" in p.stderr and
      open(os.path.join(d, "pepper.key"), "rb").read() == pepper, p.stderr)
p = run([VAULTCTL, "init", "--data-dir", d, "--admin-login", "admin", "--force"] + FAST,
        stdin="another long secret\n")
check("vaultctl init --force replaces it",
      p.returncode == 0 and open(os.path.join(d, "pepper.key"), "rb").read() != pepper, p.stderr)

# ---- vaultd on a data directory ------------------------------------------
p = run([VAULTD, "--help"])
check("vaultd --help exits 0 and names --listen", p.returncode == 0 and "--listen" in p.stdout)
p = run([VAULTD, "--data-dir", os.path.join(WORK, "absent"), "--listen", "127.0.0.1:0"])
check("vaultd on a missing data directory says how to create one",
      p.returncode == 1 and "vaultctl init" in p.stderr, p.stderr)
p = run([VAULTD, "--data-dir", d, "--listen", "0.0.0.0:0"])
check("vaultd refuses plain HTTP on a non-loopback address",
      p.returncode == 2 and "loopback" in p.stderr, p.stderr)
p = run([VAULTD, "--data-dir", d, "--listen", "nonsense"])
check("vaultd explains a malformed --listen", p.returncode == 2 and "HOST:PORT" in p.stderr, p.stderr)
os.chmod(os.path.join(d, "pepper.key"), 0o644)
p = run([VAULTD, "--data-dir", d, "--listen", "127.0.0.1:0"])
check("vaultd refuses a pepper readable by others", p.returncode == 1 and "pepper" in p.stderr, p.stderr)
os.chmod(os.path.join(d, "pepper.key"), 0o600)

proc, addr, lines = start(["--data-dir", d, "--listen", "127.0.0.1:0"] + FAST)
check("vaultd prints 'listening on ADDR:PORT' with the port it picked",
      addr is not None and re.match(r"127\.0\.0\.1:\d+$", addr) and not addr.endswith(":0"),
      "".join(lines))
if proc:
    status, headers, body = get("http://%s/v1/health" % addr)
    check("GET /v1/health answers 200 {\"status\": \"ok\"}",
          status == 200 and json.loads(body) == {"status": "ok"}, "%s %r" % (status, body))
    check("responses are marked not to be cached", headers.get("Cache-Control") == "no-store", str(headers))
    status, headers, body = get("http://%s/v1/nothing-here" % addr)
    err = json.loads(body) if body.startswith(b"{") else {}
    check("an unknown route answers 404 with the JSON error shape",
          status == 404 and err.get("error") == "not_found" and "message" in err, body)
    proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = None
    check("SIGTERM stops vaultd with exit status 0", rc == 0, str(rc))

# ---- the embedded default: no flags at all -----------------------------------
cwd = os.path.join(WORK, "tree")
os.makedirs(cwd)
busy = socket.socket()
try:
    busy.bind(("127.0.0.1", 8080))
    busy.close()
    free_8080 = True
except OSError:
    free_8080 = False
proc, addr, lines = start(FAST, cwd=cwd)
text = "".join(lines)
check("vaultd with no flags creates ./var/vault", os.path.exists(os.path.join(cwd, "var/vault/vault.db")), text)
check("vaultd with no flags prints a generated administrator secret once",
      re.search(r"administrator secret \(shown once\): [2-9A-Z]{24}", text) is not None, text)
check("./var/vault is 0700", mode(os.path.join(cwd, "var/vault")) == 0o700)
if free_8080:
    check("vaultd with no flags listens on 127.0.0.1:8080", addr == "127.0.0.1:8080", text)
else:
    print("note: 127.0.0.1:8080 is taken on this machine; its check is not run")
if proc:
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=20)
    proc2, addr2, lines2 = start(FAST, cwd=cwd)
    check("a second start reuses the data directory and prints no secret",
          proc2 is not None and "secret" not in "".join(lines2), "".join(lines2))
    if proc2:
        # a second vaultd on a directory in use: refused before it touches
        # anything (its start-up would remove the first one's files in
        # flight, mode 0200: the spare files are those)
        def unfinished():
            return unfinished_files(os.path.join(cwd, "var/vault"))
        deadline = time.time() + 10
        while len(unfinished()) == 0 and time.time() < deadline:
            time.sleep(0.05)
        before = unfinished()
        p3 = subprocess.run([VAULTD, "--data-dir", "var/vault", "--listen", "127.0.0.1:0"] + FAST,
                            cwd=cwd, capture_output=True, text=True, timeout=30)
        check("a second vaultd on a data directory in use exits 1 and says why",
              p3.returncode == 1 and "another vaultd is using it" in p3.stderr,
              "exit %s: %s" % (p3.returncode, p3.stderr))
        check("... and removed none of the first one's files in progress (%d)" % len(before),
              len(before) > 0 and before <= unfinished(), "%d before, %d after"
              % (len(before), len(before & unfinished())))
        st, _, _ = get("http://%s/v1/health" % addr2)
        check("... and the first one still serves", st == 200, str(st))
        proc2.send_signal(signal.SIGTERM)
        proc2.wait(timeout=20)

shutil.rmtree(WORK, ignore_errors=True)
finish()
