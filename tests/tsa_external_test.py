#!/usr/bin/python3
"""An external RFC 3161 time-stamping authority over HTTP.

vaultd --tsa-url points at a TSA that this test runs itself: a small HTTP
server answering with the stock `openssl ts -reply` command, signing with
the TSA certificate of another data directory. While it is unreachable a
deposit still succeeds, the document says timestamp_pending, the wait is
journaled (timestamp.wait); answers that do not verify (a token for
another request, garbage) are refused; once it answers, the background
worker gets the token (timestamp.issue), which `openssl ts -verify`
accepts. Pending tokens survive a restart. Checkpoints get their tokens
the same way.

usage: tsa_external_test.py BUILD_DIR WORKDIR
"""
import http.server
import os
import shutil
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import check, finish  # noqa: E402
from vaultd_harness import Vault, ts_verify  # noqa: E402

BUILD, WORK = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)


def path(name):
    return os.path.join(WORK, name)


def write(name, data):
    with open(path(name), "wb") as f:
        f.write(data)
    return path(name)




# The external TSA's certificate and key: those a second data directory's
# built-in authority made (vaultctl init), used here by openssl alone.
ext = Vault(BUILD, path("ext"))
with open(os.path.join(ext.data, "tsa.crt"), "rb") as f:
    chain = f.read()
with open(os.path.join(ext.data, "tsa-root.crt"), "rb") as f:
    chain += f.read()
chain_path = write("ext-chain.pem", chain)
write("serial", b"01\n")
write("openssl-tsa.cnf", ("""
[ tsa ]
default_tsa = tsa1
[ tsa1 ]
serial = {w}/serial
crypto_device = builtin
signer_cert = {d}/tsa.crt
signer_key = {d}/tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256
accuracy = secs:1
ordering = no
tsa_name = no
ess_cert_id_chain = no
ess_cert_id_alg = sha256
""".format(w=WORK, d=ext.data)).encode())


class FakeTSA(http.server.BaseHTTPRequestHandler):
    mode = "ok"          # "ok", "wrong" (a token for another request), "garbage"
    requests = 0
    lock = threading.Lock()

    def log_message(self, *a):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with FakeTSA.lock:
            FakeTSA.requests += 1
            n = FakeTSA.requests
            q = write("q%d.tsq" % n, body)
            if FakeTSA.mode == "wrong":
                other = write("other%d.bin" % n, os.urandom(32))
                q = path("q%d-other.tsq" % n)
                subprocess.run(["openssl", "ts", "-query", "-data", other, "-sha256",
                                "-cert", "-out", q], check=True, capture_output=True)
            r = path("r%d.tsr" % n)
            p = subprocess.run(["openssl", "ts", "-reply", "-config", path("openssl-tsa.cnf"),
                                "-queryfile", q, "-out", r], capture_output=True)
            with open(r, "rb") as f:
                reply = f.read() if p.returncode == 0 else b""
            if FakeTSA.mode == "garbage":
                reply = os.urandom(300)
        self.send_response(200 if reply else 500)
        self.send_header("Content-Type", "application/timestamp-reply")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


PORT = free_port()
server = None


def tsa_start(mode):
    global server
    FakeTSA.mode = mode
    if server is None:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", PORT), FakeTSA)
        threading.Thread(target=server.serve_forever, daemon=True).start()


def tsa_stop():
    global server
    if server is not None:
        server.shutdown()
        server.server_close()
        server = None


def poll(fn, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        r = fn()
        if r:
            return r
        time.sleep(0.2)
    return fn()


# Start-up refuses a configuration that could not be verified.
p = subprocess.run([os.path.join(BUILD, "vaultd"), "--data-dir", ext.data, "--listen",
                    "127.0.0.1:0", "--tsa-url", "http://127.0.0.1:%d/" % PORT],
                   capture_output=True, text=True, timeout=30)
check("--tsa-url without --tsa-chain: vaultd refuses to start and says why",
      p.returncode != 0 and "--tsa-chain" in p.stderr, p.stderr)

v = Vault(BUILD, path("main"), extra_args=[
    "--tsa-url", "http://127.0.0.1:%d/tsa" % PORT, "--tsa-chain", chain_path,
    "--tsa-retry-seconds", "1", "--tsa-timeout-ms", "3000"])
with v:
    admin = v.admin()
    sid = v.structure(admin)
    aid, aidant = v.aidant(admin, sid, "aidant.ext")
    pid, person, _ = v.person(aidant, "person.ext")
    s, served, _ = v.call("GET", "/v1/tsa/certificates")
    check("GET /v1/tsa/certificates serves the configured chain", s == 200 and served == chain, s)

    def token(doc_id):
        return v.call("GET", "/v1/persons/%s/documents/%s/timestamp" % (pid, doc_id), token=person)

    def meta(doc_id):
        return v.call("GET", "/v1/persons/%s/documents/%s" % (pid, doc_id), token=person)[1]

    def events(action):
        s, body, _ = v.call("GET", "/v1/persons/%s/journal" % pid, token=person)
        return [e for e in body["events"] if e["action"] == action] if s == 200 else []

    # 1. unreachable
    data_a = os.urandom(5000)
    s, doc_a, _ = v.deposit(person, pid, data_a, title="A")
    a = doc_a.get("document_id") if isinstance(doc_a, dict) else None
    check("TSA unreachable: the deposit still succeeds (201), marked timestamp_pending",
          s == 201 and doc_a.get("timestamp_pending") is True, (s, doc_a))
    s, body, _ = token(a)
    check("... its time-stamp answers 409 timestamp_pending",
          s == 409 and body.get("error") == "timestamp_pending", (s, body))
    waits = events("timestamp.wait")
    check("... and the wait is journaled for the person (timestamp.wait, pending)",
          len(waits) == 1 and waits[0]["object_id"] == a and waits[0]["outcome"] == "pending",
          waits)
    s, lst, _ = v.call("GET", "/v1/persons/%s/documents" % pid, token=person)
    check("... the list shows it waiting too",
          s == 200 and [d["timestamp_pending"] for d in lst["documents"]] == [True], lst)

    # 2. answers that do not verify are refused
    tsa_start("wrong")
    poll(lambda: FakeTSA.requests >= 2, 20)
    check("a token for another request (wrong imprint and nonce) is refused: still 409",
          FakeTSA.requests >= 2 and token(a)[0] == 409, FakeTSA.requests)
    FakeTSA.mode = "garbage"
    seen = FakeTSA.requests
    poll(lambda: FakeTSA.requests >= seen + 2, 20)
    check("garbage instead of a token is refused: still 409",
          FakeTSA.requests >= seen + 2 and token(a)[0] == 409 and meta(a)["timestamp_pending"],
          FakeTSA.requests)
    check("no timestamp.issue was journaled for refused answers", events("timestamp.issue") == [])

    # 3. the TSA answers: the worker gets the token
    FakeTSA.mode = "ok"
    poll(lambda: token(a)[0] == 200, 30)
    s, tok, h = token(a)
    check("once the TSA answers, the background retry gets the token (200)",
          s == 200 and h.get("content-type") == "application/timestamp-reply", s)
    ok, out = ts_verify(write("a.bin", data_a), write("a.tsr", tok), chain_path)
    check("... which openssl ts -verify accepts against the external chain", ok, out)
    bad = bytearray(data_a)
    bad[0] ^= 1
    check("... and refuses for the document with one byte changed",
          not ts_verify(write("a-bad.bin", bytes(bad)), path("a.tsr"), chain_path)[0])
    issues = events("timestamp.issue")
    check("the issuance is journaled for the person (timestamp.issue, ok), once",
          len(issues) == 1 and issues[0]["object_id"] == a and issues[0]["outcome"] == "ok",
          issues)
    check("the metadata no longer says pending", meta(a)["timestamp_pending"] is False)

    # 4. a deposit while the TSA answers gets its token at once
    data_b = b"deposited while the TSA answers"
    s, doc_b, _ = v.deposit(person, pid, data_b, title="B")
    s2, tok_b, _ = token(doc_b["document_id"])
    check("with the TSA up, a deposit has its token at once (no pending, 200)",
          s == 201 and doc_b["timestamp_pending"] is False and s2 == 200, (s, s2))
    check("... and it verifies",
          ts_verify(write("b.bin", data_b), write("b.tsr", tok_b), chain_path)[0])

    # 5. checkpoints are time-stamped by the same authority
    s, note, _ = v.call("POST", "/v1/journal/checkpoint", token=admin)
    size = int(note.decode().split("\n")[1]) if s == 201 else -1
    cp = "/v1/journal/checkpoints/%d" % size
    s2, note2, _ = v.call("GET", cp, token=admin)
    check("a checkpoint is served by its size, exactly as signed", s2 == 200 and note2 == note,
          (s, s2))
    poll(lambda: v.call("GET", cp + "/timestamp", token=admin)[0] == 200, 30)
    s, ctok, h = v.call("GET", cp + "/timestamp", token=admin)
    check("the checkpoint gets its token from the external TSA", s == 200, s)
    ok, out = ts_verify(write("cp.txt", note), write("cp.tsr", ctok), chain_path)
    check("... and openssl ts -verify accepts it over the checkpoint's text", ok, out)
    s, _, _ = v.call("GET", cp + "/timestamp", token=person)
    check("a person cannot read checkpoint tokens (403)", s == 403, s)
    s, _, _ = v.call("GET", "/v1/journal/checkpoints/99999999", token=admin)
    check("a checkpoint never made: 404", s == 404, s)
    s, _, _ = v.call("GET", "/v1/journal/checkpoints/x1", token=admin)
    check("a tree size that is not a number: 400", s == 400, s)

    # 6. pending tokens survive a restart
    tsa_stop()
    data_c = os.urandom(100)
    # the first failure after the TSA went away is one request; the
    # deposit must succeed whatever the worker is doing
    s, doc_c, _ = v.deposit(person, pid, data_c, title="C")
    c = doc_c["document_id"]
    check("the TSA gone again: the deposit succeeds, pending", s == 201 and doc_c["timestamp_pending"],
          doc_c)
    v.stop()
    tsa_start("ok")
    v.start()
    person = v.login("person.ext", "1234")
    poll(lambda: token(c)[0] == 200, 30)
    s, tok_c, _ = token(c)
    check("after a restart, the waiting token is fetched (pending state kept in the database)",
          s == 200 and ts_verify(write("c.bin", data_c), write("c.tsr", tok_c), chain_path)[0], s)
    check("the wait and the issuance of each pending paper are journaled",
          {e["object_id"] for e in events("timestamp.wait")} == {a, c} and
          {e["object_id"] for e in events("timestamp.issue")} == {a, c})
tsa_stop()
check("vaultd logged the time-stamps it issued late", "time-stamps:" in v.read_log())

# An operator's own TSA certificate and key, signing in-process.
own = Vault(BUILD, path("own"), extra_args=[
    "--tsa-cert", os.path.join(ext.data, "tsa.crt"), "--tsa-key",
    os.path.join(ext.data, "tsa.key"), "--tsa-chain", chain_path])
with own:
    admin = own.admin()
    sid = own.structure(admin)
    _, aidant = own.aidant(admin, sid, "aidant.own")
    pid, person, _ = own.person(aidant, "person.own")
    data = b"signed with the operator's own TSA key"
    s, doc, _ = own.deposit(person, pid, data)
    s2, tok, _ = own.call("GET", "/v1/persons/%s/documents/%s/timestamp" % (pid, doc["document_id"]),
                          token=person)
    check("--tsa-cert/--tsa-key: tokens are signed with the operator's key and verify "
          "against the operator's chain",
          s == 201 and s2 == 200 and
          ts_verify(write("own.bin", data), write("own.tsr", tok), chain_path)[0], (s, s2))
p = subprocess.run([os.path.join(BUILD, "vaultd"), "--data-dir", own.data, "--listen",
                    "127.0.0.1:0", "--tsa-cert", os.path.join(own.data, "tls.crt"),
                    "--tsa-key", os.path.join(own.data, "tls.key")],
                   capture_output=True, text=True, timeout=30)
check("a certificate without the critical timeStamping usage is refused at start-up, "
      "with a message that names the TSA files",
      p.returncode != 0 and "time-stamping authority" in p.stderr and "timeStamping" in p.stderr,
      p.stderr)

finish()
