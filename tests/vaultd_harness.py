"""A real vaultd for the API tests: a fresh data directory, a loopback
port picked by the kernel, fast Argon2id, and a small HTTP client
(standard library only: these tests run with Debian's /usr/bin/python3).

    with Vault(build_dir, workdir, extra_args=[...]) as v:
        admin = v.login("admin", v.admin_secret)
        status, body, headers = v.call("GET", "/v1/me", token=admin)

Every Vault keeps its daemon's stderr in v.log_path and can be restarted
(v.restart()) on the same data directory.
"""
import http.client
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import time

FAST = ["--argon2-ops", "1", "--argon2-mem-kib", "8"]


def _blob_store_files(data):
    """(path, stat) of every regular file under DATA/blobs/ab/."""
    top = os.path.join(data, "blobs")
    for sub in sorted(os.listdir(top)):
        if len(sub) != 2 or not os.path.isdir(os.path.join(top, sub)):
            continue
        for name in sorted(os.listdir(os.path.join(top, sub))):
            path = os.path.join(top, sub, name)
            st = os.lstat(path)
            if stat.S_ISREG(st.st_mode):
                yield path, st


def blob_files(data):
    """The blobs of a data directory: files whose owner may read them.
    Files in mode 0200 are spares made ahead, or puts not yet committed
    (storage/blobstore_fs.c), never blobs."""
    return [p for p, st in _blob_store_files(data) if st.st_mode & stat.S_IRUSR]


def unfinished_files(data):
    """The paths of the files that are not blobs yet (mode 0200)."""
    return {p for p, st in _blob_store_files(data) if not st.st_mode & stat.S_IRUSR}


def unfinished_bytes(data):
    """Bytes written so far into files that are not blobs yet."""
    return sum(st.st_size for p, st in _blob_store_files(data)
               if not st.st_mode & stat.S_IRUSR)
ADMIN_SECRET = "administrator secret for tests"


class Vault:
    def __init__(self, build_dir, workdir, extra_args=(), login_min_ms=5,
                 init=True, test_clock=True):
        self.build = os.path.abspath(build_dir)
        self.work = os.path.abspath(workdir)
        self.data = os.path.join(self.work, "data")
        self.log_path = os.path.join(self.work, "vaultd.log")
        self.clock_path = os.path.join(self.work, "clock")
        self.extra = list(extra_args)
        self.login_min_ms = login_min_ms
        self.test_clock = test_clock  # benchmarks: the real clock, unread
        self.admin_secret = ADMIN_SECRET
        self.proc = None
        self.addr = None
        self.wrapper = []  # e.g. setpriv to run vaultd as another user
        self.cwd = None    # vaultd's working directory (None: ours)
        if init:
            shutil.rmtree(self.work, ignore_errors=True)
            os.makedirs(self.work)
            with open(self.clock_path, "w") as f:
                f.write("0\n")
            p = subprocess.run(
                [os.path.join(self.build, "vaultctl"), "init", "--data-dir",
                 self.data, "--admin-login", "admin"] + FAST,
                input=ADMIN_SECRET + "\n", text=True, capture_output=True)
            if p.returncode != 0:
                raise RuntimeError("vaultctl init failed: " + p.stderr)

    # -- process -----------------------------------------------------------
    def start(self):
        args = [os.path.join(self.build, "vaultd"), "--data-dir", self.data,
                "--listen", "127.0.0.1:0", "--login-min-ms",
                str(self.login_min_ms)] + (
                    ["--test-clock-file", self.clock_path] if self.test_clock else []
                ) + FAST + self.extra
        self.log = open(self.log_path, "a")
        self.proc = subprocess.Popen(self.wrapper + args, stderr=subprocess.PIPE,
                                     stdout=subprocess.DEVNULL, text=True,
                                     cwd=self.cwd)
        deadline = time.time() + 30
        while time.time() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                break
            self.log.write(line)
            m = re.match(r"listening on (\S+):(\d+)$", line.strip())
            if m:
                self.host, self.port = m.group(1), int(m.group(2))
                self.addr = "%s:%d" % (self.host, self.port)
                # keep draining stderr into the log file
                import threading
                threading.Thread(target=self._drain, daemon=True).start()
                return self
        self.proc.kill()
        raise RuntimeError("vaultd did not start: see " + self.log_path)

    def _drain(self):
        for line in self.proc.stderr:
            self.log.write(line)
            self.log.flush()

    def stop(self, sig=signal.SIGTERM):
        if self.proc is None:
            return None
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.proc = None
        time.sleep(0.05)
        self.log.flush()
        return rc

    def restart(self):
        self.stop()
        return self.start()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def advance_clock(self, seconds):
        """Moves vaultd's clock forward (the file it reads on each use)."""
        with open(self.clock_path) as f:
            ms = int(f.read().strip() or 0)
        with open(self.clock_path, "w") as f:
            f.write("%d\n" % (ms + int(seconds * 1000)))

    def read_log(self):
        self.log.flush()
        with open(self.log_path) as f:
            return f.read()

    # -- HTTP --------------------------------------------------------------
    def call(self, method, path, body=None, token=None, headers=None,
             raw=None, conn=None):
        """Returns (status, parsed JSON or raw bytes, headers dict)."""
        h = dict(headers or {})
        if token:
            h["Authorization"] = "Bearer " + token
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        own = conn is None
        c = conn or http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            c.request(method, path, body=data, headers=h)
            r = c.getresponse()
            payload = r.read()
            hdrs = {k.lower(): v for k, v in r.getheaders()}
        finally:
            if own:
                c.close()
        if hdrs.get("content-type", "").startswith("application/json"):
            try:
                payload = json.loads(payload)
            except ValueError:
                pass
        return r.status, payload, hdrs

    def login(self, login, secret):
        s, b, _ = self.call("POST", "/v1/sessions",
                            {"login": login, "secret": secret})
        if s != 201:
            raise RuntimeError("login %s failed: %s %r" % (login, s, b))
        return b["token"]

    # -- building a population ------------------------------------------------
    def admin(self):
        return self.login("admin", self.admin_secret)

    def structure(self, admin_token, name="Association"):
        s, b, _ = self.call("POST", "/v1/structures", {"name": name},
                            token=admin_token)
        assert s == 201, (s, b)
        return b["structure_id"]

    def aidant(self, admin_token, sid, login, role="aidant",
               secret="aidant secret 123"):
        s, b, _ = self.call("POST", "/v1/structures/%s/aidants" % sid,
                            {"login": login, "secret": secret,
                             "display_name": login.title(), "role": role},
                            token=admin_token)
        assert s == 201, (s, b)
        return b["aidant_id"], self.login(login, secret)

    def person(self, enroller_token, login, secret="1234"):
        """Enrols (by an aidant or admin) and activates a person; returns
        (person_id, token, recovery_code)."""
        s, b, _ = self.call("POST", "/v1/persons",
                            {"login": login, "display_name": login.title()},
                            token=enroller_token)
        assert s == 201, (s, b)
        s, a, _ = self.call("POST", "/v1/activate",
                            {"login": login, "activation_code":
                             b["activation_code"], "secret": secret})
        assert s == 201, (s, a)
        return b["person_id"], self.login(login, secret), a["recovery_code"]

    def deposit(self, token, pid, data, title="Titre de séjour",
                category="residence", media="application/pdf", **params):
        from urllib.parse import urlencode
        q = {"title": title, "category": category}
        q.update(params)
        return self.call("POST", "/v1/persons/%s/documents?%s" % (pid, urlencode(q)),
                         raw=data, token=token, headers={"Content-Type": media})

    def mandate(self, person_token, pid, aidant_id, scopes, categories, days=30):
        return self.call("POST", "/v1/persons/%s/mandates" % pid,
                         {"aidant_id": aidant_id, "scopes": scopes,
                          "categories": categories, "duration_days": days},
                         token=person_token)

    # -- helpers added for api_test.py ------------------------------------
    def wait_exit(self, timeout=40):
        """Waits for a daemon that was sent a signal to exit by itself;
        returns its exit status (None if it had to be killed)."""
        if self.proc is None:
            return None
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            rc = None
        self.proc = None
        time.sleep(0.05)
        self.log.flush()
        return rc


def ts_verify(data_path, tsr_path, chain_path):
    """The stock command a person or a lawyer runs on a time-stamp token:
    (True if it says OK, its output)."""
    p = subprocess.run(["openssl", "ts", "-verify", "-data", data_path, "-in", tsr_path,
                        "-CAfile", chain_path], capture_output=True, text=True)
    return p.returncode == 0 and "Verification: OK" in p.stdout, p.stdout + p.stderr
