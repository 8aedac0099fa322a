#!/usr/bin/python3
"""API tests of vaultd against the contract of DESIGN.md.

usage: api_test.py BUILD_DIR WORKDIR

Starts real vaultd daemons (tests/vaultd_harness.py) on loopback ports, each
with a fresh data directory under WORKDIR, and checks the HTTP JSON API: the
routes and their shapes, the aidant charter, limits and bad input,
concurrency, log-in locks, no plaintext on disk or in logs, response
headers, HTTPS and SIGTERM. Prints one line per check ("ok   NAME" or
"FAIL NAME: DETAIL") and ends with "N passed, M failed"; exits 0 only when
nothing failed. Standard library only (Debian's /usr/bin/python3).
"""
import hashlib
import http.client
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from urllib.parse import quote, urlencode, urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vaultd_harness import FAST, Vault  # noqa: E402

CATEGORIES = ["identity", "residence", "health", "housing", "employment",
              "income", "tax", "family", "schooling", "bank", "justice",
              "other"]
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
SHA_HEX = re.compile(r"^[0-9a-f]{64}$")
ACCESS_LINE = re.compile(r"^(GET|POST|DELETE|PUT|PATCH|HEAD|OPTIONS|-) \S+ "
                         r"\d{3} \d+ms in=\d+ out=\d+ account=\S+$")

# ---- reporting ----------------------------------------------------------------

PASSED = 0
FAILED = 0
FAILS = []


def check(name, cond, detail=""):
    global PASSED, FAILED
    if cond:
        PASSED += 1
        print("ok   " + name, flush=True)
    else:
        FAILED += 1
        line = "FAIL %s: %s" % (name, detail)
        FAILS.append(line)
        print(line, flush=True)
    return bool(cond)


def short(b, n=160):
    if isinstance(b, (bytes, bytearray)):
        t = repr(bytes(b[:n]))
    else:
        t = json.dumps(b, ensure_ascii=True) if not isinstance(b, str) else b
    return t if len(t) <= n else t[:n] + "..."


def is_error(b):
    return (isinstance(b, dict) and isinstance(b.get("error"), str) and
            isinstance(b.get("message"), str) and b["error"] != "" and
            b["message"] != "")


def expect(name, r, status, error=None):
    """r = (status, body, headers). status: an int or a tuple of ints.
    For 4xx/5xx the body must be {"error", "message"} JSON (and error code
    `error` if given)."""
    s, b, h = r
    want = status if isinstance(status, tuple) else (status,)
    ok = s in want
    detail = "got %s %s, want %s" % (s, short(b), "/".join(map(str, want)))
    if ok and s >= 400:
        ok = (h.get("content-type", "").startswith("application/json") and
              is_error(b))
        if ok and error is not None and b.get("error") != error:
            ok = False
            detail = "got error %r, want %r" % (b.get("error"), error)
    return check(name, ok, detail)


def is_instant(s):
    if not isinstance(s, str) or not RFC3339.match(s):
        return False
    try:
        time.strptime(s[:19], "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return False
    return True


def instant_s(s):
    import calendar
    return calendar.timegm(time.strptime(s[:19], "%Y-%m-%dT%H:%M:%S"))


def is_id(s):
    return (isinstance(s, str) and 16 <= len(s) <= 64 and
            re.match(r"^[A-Za-z0-9_-]+$", s) is not None and not s.isdigit())


def actor_ok(a):
    return (isinstance(a, dict) and
            set(["account_id", "role", "display_name", "structure_id",
                 "structure_name"]) <= set(a)
            and is_id(a["account_id"]) and isinstance(a["role"], str) and
            isinstance(a["display_name"], str) and
            (a["structure_id"] is None or is_id(a["structure_id"])) and
            (a["structure_name"] is None) == (a["structure_id"] is None))


def document_problems(d):
    """What is wrong with a document's metadata, as a list of strings."""
    p = []
    if not isinstance(d, dict):
        return ["not an object"]
    for k in ("document_id", "person_id", "title", "category", "media_type",
              "size", "sha256", "issued", "expires", "deposited_by",
              "deposited_at"):
        if k not in d:
            p.append("missing " + k)
    if p:
        return p
    if not is_id(d["document_id"]):
        p.append("document_id")
    if not isinstance(d["size"], int):
        p.append("size not an integer")
    if not isinstance(d["sha256"], str) or not SHA_HEX.match(d["sha256"]):
        p.append("sha256 not lowercase hex")
    if d["category"] not in CATEGORIES:
        p.append("category")
    if not actor_ok(d["deposited_by"]):
        p.append("deposited_by shape")
    if not is_instant(d["deposited_at"]):
        p.append("deposited_at not RFC 3339 UTC")
    for k in ("issued", "expires"):
        if d[k] is not None and not re.match(r"^\d{4}-\d{2}-\d{2}$", d[k]):
            p.append(k)
    return p


def event_problems(e):
    p = []
    for k in ("index", "at", "actor", "person_id", "action", "object_id",
              "outcome"):
        if k not in e:
            p.append("missing " + k)
    if p:
        return p
    if not isinstance(e["index"], int) or e["index"] < 0:
        p.append("index")
    if not is_instant(e["at"]):
        p.append("at")
    if e["actor"] is not None and not actor_ok(e["actor"]):
        p.append("actor shape")
    if not isinstance(e["action"], str) or not re.match(r"^[a-z_]+(\.[a-z_]+)+$|^[a-z_]+$", e["action"]):
        p.append("action")
    return p


# ---- a vault that records what it answers -----------------------------------


class TVault(Vault):
    """The harness's Vault, counting requests and checking the headers of
    every answer (Cache-Control: no-store, X-Content-Type-Options: nosniff),
    and keeping every answer given to a token, to search them later."""

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.nreq = 0
        self.header_faults = []
        self.answers = []  # (token, method, path, text)
        self.offset = 0    # seconds the clock was moved

    def call(self, method, path, body=None, token=None, headers=None,
             raw=None, conn=None):
        self.nreq += 1
        s, b, h = Vault.call(self, method, path, body, token, headers, raw, conn)
        note_headers(self, method, path, s, h)
        text = b.decode("latin-1") if isinstance(b, (bytes, bytearray)) else \
            json.dumps(b, ensure_ascii=False)
        self.answers.append((token, method, path, text))
        return s, b, h

    def advance_clock(self, seconds):
        self.offset += seconds
        Vault.advance_clock(self, seconds)

    def now(self):
        return time.time() + self.offset


def note_headers(v, method, path, status, h):
    if h.get("cache-control") != "no-store" or \
            h.get("x-content-type-options") != "nosniff":
        v.header_faults.append("%s %s -> %s (cache-control=%r, nosniff=%r)" % (
            method, re.sub(r"/v1/shares/[^/?]+", "/v1/shares/TOKEN", path),
            status, h.get("cache-control"), h.get("x-content-type-options")))


# ---- raw HTTP, for what http.client will not do -----------------------------


def head_bytes(v, method, path, headers):
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: %s" % v.addr]
    lines += ["%s: %s" % (k, val) for k, val in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def read_response(sock):
    r = http.client.HTTPResponse(sock)
    r.begin()
    body = r.read()
    hdrs = {k.lower(): val for k, val in r.getheaders()}
    if hdrs.get("content-type", "").startswith("application/json"):
        try:
            body = json.loads(body)
        except ValueError:
            pass
    return r.status, body, hdrs


def raw_call(v, method, path, headers, parts=(), timeout=30):
    """Sends a request by hand (headers as given, then each part), reads the
    answer; returns (status, body, headers) or (None, exception, {})."""
    s = socket.create_connection((v.host, v.port), timeout=timeout)
    try:
        s.sendall(head_bytes(v, method, path, headers))
        for p in parts:
            s.sendall(p)
        r = read_response(s)
        note_headers(v, method, path, r[0], r[2])
        return r
    except (OSError, http.client.HTTPException) as e:
        return None, e, {}
    finally:
        s.close()


def safe_call(v, *a, **k):
    """v.call, but a dropped connection is an answer too: (None, exc, {})."""
    try:
        return v.call(*a, **k)
    except (OSError, http.client.HTTPException) as e:
        return None, repr(e), {}


def chunked(data, size=4096):
    out = b""
    for i in range(0, len(data), size):
        c = data[i:i + size]
        out += b"%x\r\n" % len(c) + c + b"\r\n"
    return out + b"0\r\n\r\n"


def deposit_path(pid, title="Papier", category="income", **extra):
    q = {"title": title, "category": category}
    q.update(extra)
    return "/v1/persons/%s/documents?%s" % (pid, urlencode(q))


# ---- small helpers on a vault --------------------------------------------------


def docs_of(v, token, pid, category=None):
    path = "/v1/persons/%s/documents" % pid
    if category:
        path += "?category=" + category
    return v.call("GET", path, token=token)


def doc_ids(v, token, pid):
    s, b, _ = docs_of(v, token, pid)
    if s != 200:
        raise RuntimeError("list failed: %s %s" % (s, short(b)))
    return sorted(d["document_id"] for d in b["documents"])


def usage(v, token):
    s, b, _ = v.call("GET", "/v1/me", token=token)
    if s != 200:
        raise RuntimeError("me failed: %s %s" % (s, short(b)))
    return b["usage_bytes"]


def serving(v):
    try:
        s, b, _ = v.call("GET", "/v1/health")
        return s == 200 and b == {"status": "ok"}
    except OSError:
        return False


def journal(v, token, pid):
    s, b, _ = v.call("GET", "/v1/persons/%s/journal" % pid, token=token)
    if s != 200:
        raise RuntimeError("journal failed: %s %s" % (s, short(b)))
    return b["events"]


def has_event(events, action, actor=None, object_id=None, outcome=None,
              anonymous=False):
    for e in events:
        if e.get("action") != action:
            continue
        if anonymous and e.get("actor") is not None:
            continue
        if actor is not None and (e.get("actor") or {}).get("account_id") != actor:
            continue
        if object_id is not None and e.get("object_id") != object_id:
            continue
        if outcome is not None and e.get("outcome") != outcome:
            continue
        return True
    return False


def enrol(v, enroller, login):
    s, b, _ = v.call("POST", "/v1/persons", {"login": login,
                     "display_name": login.title()}, token=enroller)
    assert s == 201, (s, b)
    return b


def activate(v, login, code, secret):
    return v.call("POST", "/v1/activate", {"login": login,
                  "activation_code": code, "secret": secret})


def new_person(v, enroller, login, secret):
    b = enrol(v, enroller, login)
    s, a, _ = activate(v, login, b["activation_code"], secret)
    assert s == 201, (s, a)
    return b["person_id"], v.login(login, secret), a["recovery_code"]


def wait_log(v, needle, timeout=5):
    deadline = time.time() + timeout
    text = v.read_log()
    while needle not in text and time.time() < deadline:
        time.sleep(0.05)
        text = v.read_log()
    return text


def rand_marker(tag):
    return "%s%s" % (tag, os.urandom(12).hex())


# ---- 1, 2, 6, 7: the main instance: routes, charter, secrets -----------------


def scenario_main(build, work, ctx):
    v = TVault(build, os.path.join(work, "main"))
    ctx["main"] = v
    v.start()
    try:
        main_body(v, ctx)
    finally:
        v.stop()
    main_after(v, ctx)


def main_body(v, ctx):
    A = "routes: "
    # health, 404, 405
    expect(A + "GET /v1/health -> 200 {status: ok}", v.call("GET", "/v1/health"), 200)
    s, b, _ = v.call("GET", "/v1/health")
    check(A + "health body is exactly {\"status\": \"ok\"}", b == {"status": "ok"}, short(b))
    expect(A + "unknown path -> 404 JSON error", v.call("GET", "/v1/nothing-here"), 404)
    expect(A + "known path, wrong method -> 405 JSON error",
           v.call("PUT", "/v1/health"), 405)

    # sessions
    s, b, _ = v.call("POST", "/v1/sessions", {"login": "admin", "secret": v.admin_secret})
    expect(A + "POST /v1/sessions -> 201", (s, b, _), 201)
    check(A + "log-in answer has token, role, account_id, expires_at (RFC 3339)",
          isinstance(b, dict) and isinstance(b.get("token"), str) and
          b.get("role") == "instance_admin" and is_id(b.get("account_id")) and
          is_instant(b.get("expires_at")), short(b))
    admin = b["token"]
    s, me, _ = v.call("GET", "/v1/me", token=admin)
    expect(A + "GET /v1/me -> 200", (s, me, _), 200)
    check(A + "GET /v1/me shape (account_id = log-in's, login, role)",
          me.get("account_id") == b["account_id"] and me.get("login") == "admin"
          and me.get("role") == "instance_admin" and "display_name" in me, short(me))
    expect(A + "GET /v1/me without session -> 401", v.call("GET", "/v1/me"), 401)
    expect(A + "GET /v1/me with a made-up token -> 401",
           v.call("GET", "/v1/me", token="A" * 43), 401)
    expect(A + "GET /v1/me with a non-Bearer Authorization -> 401",
           v.call("GET", "/v1/me", headers={"Authorization": "Basic YWRtaW46eA=="}), 401)
    expect(A + "log-in without secret -> 400",
           v.call("POST", "/v1/sessions", {"login": "admin"}), 400)
    expect(A + "log-in with secret not a string -> 400",
           v.call("POST", "/v1/sessions", {"login": "admin", "secret": 12}), 400)
    expect(A + "log-in with a NUL inside the secret -> 400",
           v.call("POST", "/v1/sessions", {"login": "admin", "secret": "a\u0000b"}), 400)

    # structures
    s, b, _ = v.call("POST", "/v1/structures", {"name": "Association Solidarité"}, token=admin)
    expect(A + "POST /v1/structures -> 201", (s, b, _), 201)
    check(A + "POST /v1/structures answers {structure_id}", is_id(b.get("structure_id")), short(b))
    sid = b["structure_id"]
    sid2 = v.structure(admin, "CCAS du 18e")
    expect(A + "POST /v1/structures without name -> 400",
           v.call("POST", "/v1/structures", {}, token=admin), 400)
    expect(A + "POST /v1/structures without session -> 401",
           v.call("POST", "/v1/structures", {"name": "X"}), 401)

    # aidants
    aid_secret = "aidant secret " + os.urandom(4).hex()
    s, b, _ = v.call("POST", "/v1/structures/%s/aidants" % sid,
                     {"login": "aidant.alice", "secret": aid_secret,
                      "display_name": "Alice Aidante", "role": "aidant"}, token=admin)
    expect(A + "POST /v1/structures/{sid}/aidants -> 201", (s, b, _), 201)
    check(A + "aidant creation answers {aidant_id}", is_id(b.get("aidant_id")), short(b))
    aid = b["aidant_id"]
    alice = v.login("aidant.alice", aid_secret)
    s, me, _ = v.call("GET", "/v1/me", token=alice)
    check(A + "aidant_id is the aidant's account_id; role and structure_id in /v1/me",
          s == 200 and me.get("account_id") == aid and me.get("role") == "aidant"
          and me.get("structure_id") == sid and "usage_bytes" not in me, short(me))
    check(A + "/v1/me names the aidant's structure (structure_name)",
          isinstance(me.get("structure_name"), str) and me["structure_name"], short(me))
    sam_id, sam = v.aidant(admin, sid, "sadmin.sam", role="structure_admin",
                           secret="structure admin secret")
    s, b, _ = v.call("POST", "/v1/structures/%s/aidants" % sid,
                     {"login": "aidant.bea", "secret": "aidant secret 456",
                      "display_name": "Bea", "role": "aidant"}, token=sam)
    expect(A + "structure admin creates an aidant of her structure -> 201", (s, b, _), 201)
    expect(A + "structure admin creates an aidant elsewhere -> 403",
           v.call("POST", "/v1/structures/%s/aidants" % sid2,
                  {"login": "aidant.zed", "secret": "aidant secret 456",
                   "display_name": "Zed"}, token=sam), 403)
    expect(A + "an aidant creates an aidant -> 403",
           v.call("POST", "/v1/structures/%s/aidants" % sid,
                  {"login": "aidant.zed", "secret": "aidant secret 456",
                   "display_name": "Zed"}, token=alice), 403)
    expect(A + "aidant with role 'person' -> 400",
           v.call("POST", "/v1/structures/%s/aidants" % sid,
                  {"login": "aidant.zed", "secret": "aidant secret 456",
                   "display_name": "Zed", "role": "person"}, token=admin), 400)
    expect(A + "aidant with a short secret -> 400",
           v.call("POST", "/v1/structures/%s/aidants" % sid,
                  {"login": "aidant.zed", "secret": "short",
                   "display_name": "Zed"}, token=admin), 400)
    expect(A + "aidant with a taken login (other case) -> 409",
           v.call("POST", "/v1/structures/%s/aidants" % sid,
                  {"login": "Aidant.Alice", "secret": "aidant secret 456",
                   "display_name": "Zed"}, token=admin), 409)
    expect(A + "aidant with a bad login ('a b') -> 400",
           v.call("POST", "/v1/structures/%s/aidants" % sid,
                  {"login": "a b", "secret": "aidant secret 456",
                   "display_name": "Zed"}, token=admin), 400)
    expect(A + "aidants of an unknown structure -> 404",
           v.call("POST", "/v1/structures/%s/aidants" % os.urandom(16).hex(),
                  {"login": "aidant.zed", "secret": "aidant secret 456",
                   "display_name": "Zed"}, token=admin), 404)
    expect(A + "aidants of a malformed structure id -> 400",
           v.call("POST", "/v1/structures/not-an-id/aidants",
                  {"login": "aidant.zed", "secret": "aidant secret 456",
                   "display_name": "Zed"}, token=admin), 400)
    oscar_id, oscar = v.aidant(admin, sid2, "aidant.oscar")
    s, me, _ = v.call("GET", "/v1/me", token=v.login("AIDANT.OSCAR", "aidant secret 123"))
    check(A + "logins compare case-insensitively", s == 200 and me.get("account_id") == oscar_id,
          "%s %s" % (s, short(me)))

    # auditors
    s, b, _ = v.call("POST", "/v1/auditors", {"login": "auditor.audrey",
                     "secret": "auditor secret 1234", "display_name": "Audrey"}, token=admin)
    expect(A + "POST /v1/auditors -> 201", (s, b, _), 201)
    check(A + "POST /v1/auditors answers {auditor_id}", is_id(b.get("auditor_id")), short(b))
    expect(A + "POST /v1/auditors by an aidant -> 403",
           v.call("POST", "/v1/auditors", {"login": "auditor.x", "secret":
                  "auditor secret 1234", "display_name": "X"}, token=alice), 403)
    audrey = v.login("auditor.audrey", "auditor secret 1234")
    s, me, _ = v.call("GET", "/v1/me", token=audrey)
    check(A + "auditor_id is the auditor's account_id", me.get("account_id") == b.get("auditor_id")
          and me.get("role") == "auditor", short(me))

    # enrolment and activation
    p_secret = rand_marker("PSECRET")
    ctx["secret_marker"] = p_secret
    s, e, _ = v.call("POST", "/v1/persons", {"login": "person.paula",
                     "display_name": "Paula"}, token=alice)
    expect(A + "POST /v1/persons by an aidant -> 201", (s, e, _), 201)
    check(A + "enrolment answers {person_id, activation_code, activation_expires_at}",
          is_id(e.get("person_id")) and isinstance(e.get("activation_code"), str) and
          is_instant(e.get("activation_expires_at")) and "secret" not in e and
          "recovery_code" not in e, short(e))
    if is_instant(e.get("activation_expires_at")):
        dt = instant_s(e["activation_expires_at"]) - v.now()
        check(A + "activation code valid one hour", 3500 <= dt <= 3700, "expires in %ds" % dt)
    pid = e["person_id"]
    s, a, _ = activate(v, "person.paula", e["activation_code"], p_secret)
    expect(A + "POST /v1/activate -> 201", (s, a, _), 201)
    check(A + "activation answers {person_id, recovery_code}",
          a.get("person_id") == pid and isinstance(a.get("recovery_code"), str) and
          len(a["recovery_code"]) >= 16, short(a))
    p_rc = a["recovery_code"]
    ctx["recovery_codes"] = [p_rc]
    ctx["secrets"] = [p_secret]
    expect(A + "the activation code is one-time (second use -> 401)",
           activate(v, "person.paula", e["activation_code"], "another"), 401)
    paula = v.login("person.paula", p_secret)
    s, me, _ = v.call("GET", "/v1/me", token=paula)
    check(A + "person's /v1/me: account_id = person_id, usage_bytes 0, quota_bytes",
          s == 200 and me.get("account_id") == pid and me.get("role") == "person" and
          me.get("usage_bytes") == 0 and isinstance(me.get("quota_bytes"), int) and
          me["quota_bytes"] > 0, short(me))
    e2 = enrol(v, alice, "person.wrongcode")
    e3 = enrol(v, alice, "person.othercode")
    expect(A + "activation with another person's code -> 401",
           activate(v, "person.wrongcode", e3["activation_code"], "x"), 401)
    expect(A + "... and that code still works for its own person -> 201",
           activate(v, "person.othercode", e3["activation_code"], "x"), 201)
    expect(A + "activation with a wrong code -> 401",
           activate(v, "person.wrongcode", "AAAA-AAAA-AAAA-AAAA", "x"), 401)
    expect(A + "activation with an empty secret -> 400",
           activate(v, "person.wrongcode", e2["activation_code"], ""), 400)
    expect(A + "activation without code -> 400",
           v.call("POST", "/v1/activate", {"login": "person.wrongcode", "secret": "x"}), 400)

    expect(A + "aidant sends a secret to POST /v1/persons -> 400",
           v.call("POST", "/v1/persons", {"login": "person.forced", "display_name":
                  "Forced", "secret": "chosen by the aidant"}, token=alice), 400)
    s, b, _ = v.call("POST", "/v1/persons", {"login": "person.forced",
                     "display_name": "Forced"}, token=alice)
    check(A + "... and nothing was created (the login is still free)", s == 201, "%s %s" % (s, short(b)))
    expect(A + "admin sends a secret to POST /v1/persons -> 400",
           v.call("POST", "/v1/persons", {"login": "person.forced2", "display_name":
                  "F", "secret": "x"}, token=admin), 400)
    expect(A + "POST /v1/persons by the instance admin -> 201",
           v.call("POST", "/v1/persons", {"login": "person.byadmin",
                  "display_name": "By Admin"}, token=admin), 201)
    expect(A + "POST /v1/persons by a structure admin -> 201",
           v.call("POST", "/v1/persons", {"login": "person.bysam",
                  "display_name": "By Sam"}, token=sam), 201)
    expect(A + "POST /v1/persons by a person -> 403",
           v.call("POST", "/v1/persons", {"login": "person.byp",
                  "display_name": "X"}, token=paula), 403)
    expect(A + "POST /v1/persons by an auditor -> 403",
           v.call("POST", "/v1/persons", {"login": "person.bya",
                  "display_name": "X"}, token=audrey), 403)
    expect(A + "anonymous POST /v1/persons without self-enrolment -> 401",
           v.call("POST", "/v1/persons", {"login": "person.anon", "display_name": "X",
                  "secret": "x"}), 401)
    expect(A + "POST /v1/persons with a taken login (other case) -> 409",
           v.call("POST", "/v1/persons", {"login": "Person.Paula",
                  "display_name": "X"}, token=alice), 409)
    expect(A + "POST /v1/persons with a 2-character login -> 400",
           v.call("POST", "/v1/persons", {"login": "ab", "display_name": "X"}, token=alice), 400)

    # documents, by the person herself
    doc_marker = rand_marker("DOCMARK")
    title_marker = rand_marker("TITLEMARK")
    ctx["doc_marker"], ctx["title_marker"] = doc_marker, title_marker
    d1_bytes = os.urandom(30000) + doc_marker.encode() + os.urandom(30000)
    s, d1, h = v.deposit(paula, pid, d1_bytes, title="Carte d'identité " + title_marker,
                         category="identity", media="image/jpeg",
                         issued="2024-02-29", expires="2034-02-28")
    expect(A + "POST /v1/persons/{pid}/documents -> 201", (s, d1, h), 201)
    probs = document_problems(d1)
    check(A + "deposit answers document metadata (contract shape)", not probs, ", ".join(probs))
    check(A + "sha256 = hashlib.sha256 of the uploaded bytes",
          d1.get("sha256") == hashlib.sha256(d1_bytes).hexdigest(), short(d1.get("sha256")))
    check(A + "size, category, media_type, issued, expires, person_id as sent",
          d1.get("size") == len(d1_bytes) and d1.get("category") == "identity" and
          d1.get("media_type") == "image/jpeg" and d1.get("issued") == "2024-02-29" and
          d1.get("expires") == "2034-02-28" and d1.get("person_id") == pid, short(d1))
    check(A + "deposited_by is the person {account_id, role, display_name, structure_id, structure_name}",
          d1.get("deposited_by") == {"account_id": pid, "role": "person",
                                     "display_name": "Paula", "structure_id": None,
                                     "structure_name": None},
          short(d1.get("deposited_by")))
    D1 = d1["document_id"]
    check(A + "usage_bytes counts the deposit", usage(v, paula) == len(d1_bytes), "")
    s, b, h = docs_of(v, paula, pid)
    expect(A + "GET /v1/persons/{pid}/documents -> 200", (s, b, h), 200)
    check(A + "list is {\"documents\": [...]} with the document",
          isinstance(b, dict) and isinstance(b.get("documents"), list) and
          [d["document_id"] for d in b["documents"]] == [D1] and b["documents"][0] == d1,
          short(b))
    s, b, _ = docs_of(v, paula, pid, "identity")
    check(A + "list ?category=identity has it", s == 200 and len(b["documents"]) == 1, short(b))
    s, b, _ = docs_of(v, paula, pid, "income")
    check(A + "list ?category=income is empty", s == 200 and b["documents"] == [], short(b))
    expect(A + "list ?category=unknown -> 400", docs_of(v, paula, pid, "food"), 400)
    s, b, _ = v.call("GET", "/v1/persons/%s/documents/%s" % (pid, D1), token=paula)
    expect(A + "GET document metadata -> 200", (s, b, _), 200)
    check(A + "metadata equals the deposit's answer", b == d1, short(b))
    s, b, h = v.call("GET", "/v1/persons/%s/documents/%s/content" % (pid, D1), token=paula)
    expect(A + "GET document content -> 200", (s, b, h), 200)
    check(A + "content is the original bytes", b == d1_bytes, "len %d" % len(b))
    check(A + "content has its media type", h.get("content-type") == "image/jpeg",
          h.get("content-type"))
    text_doc = (b"Attestation de droits CPAM, ligne %06d.\n" * 60000) % tuple(range(60000))
    for label, data, media in (("2.4 MB compressible text", text_doc, "text/plain; charset=utf-8"),
                               ("65536 bytes", os.urandom(65536), "application/pdf"),
                               ("65537 bytes", os.urandom(65537), "application/pdf"),
                               ("0 bytes", b"", "application/pdf"),
                               ("no Content-Type", os.urandom(100), None)):
        hdrs = {"Content-Type": media} if media else {}
        s, d, _ = v.call("POST", deposit_path(pid, title=label, category="other"), raw=data,
                         token=paula, headers=hdrs)
        if not expect(A + "deposit of %s -> 201" % label, (s, d, _), 201):
            continue
        want_media = (media or "application/octet-stream").split(";")[0]
        check(A + "%s: size, sha256 and media type %s" % (label, want_media),
              d.get("size") == len(data) and d.get("sha256") == hashlib.sha256(data).hexdigest()
              and d.get("media_type") == want_media, short(d))
        s, got, h = v.call("GET", "/v1/persons/%s/documents/%s/content" % (pid, d["document_id"]),
                           token=paula)
        check(A + "%s: downloaded back byte for byte" % label,
              s == 200 and got == data and h.get("content-type") == want_media,
              "%s, %d bytes, %s" % (s, len(got), h.get("content-type")))
        v.call("DELETE", "/v1/persons/%s/documents/%s" % (pid, d["document_id"]), token=paula)

    # the charter: deposit-only mandate
    C = "charter: "
    inc1 = b"CAF attestation " + os.urandom(5000)
    expect(C + "aidant without mandate cannot deposit -> 403",
           v.deposit(alice, pid, inc1, category="income"), 403, "forbidden")
    s, m1, _ = v.mandate(paula, pid, aid, ["deposit"], ["income"], 30)
    expect(C + "POST mandates (deposit, income, 30 days) -> 201", (s, m1, _), 201)
    check(C + "mandate answer {mandate_id, expires_at}",
          is_id(m1.get("mandate_id")) and is_instant(m1.get("expires_at")), short(m1))
    if is_instant(m1.get("expires_at")):
        dt = instant_s(m1["expires_at"]) - v.now()
        check(C + "mandate expires in 30 days", abs(dt - 30 * 86400) < 300, "%ds" % dt)
    M1 = m1["mandate_id"]
    s, d2, _ = v.deposit(alice, pid, inc1, title="Attestation CAF", category="income",
                         media="application/pdf")
    expect(C + "aidant with deposit mandate deposits -> 201", (s, d2, _), 201)
    check(C + "deposited_by is the aidant {account_id, role, display_name, structure_id, structure_name}",
          d2.get("deposited_by") == {"account_id": aid, "role": "aidant",
                                     "display_name": "Alice Aidante", "structure_id": sid,
                                     "structure_name": "Association Solidarité"},
          short(d2.get("deposited_by")))
    check(C + "aidant's deposit: sha256 matches", d2.get("sha256") ==
          hashlib.sha256(inc1).hexdigest(), short(d2))
    D2 = d2["document_id"]
    before = doc_ids(v, paula, pid)
    expect(C + "aidant deposits outside the mandate's categories -> 403",
           v.deposit(alice, pid, b"x" * 100, category="health"), 403)
    check(C + "... nothing stored", doc_ids(v, paula, pid) == before, "")
    expect(C + "deposit-only aidant cannot list -> 403 forbidden",
           docs_of(v, alice, pid), 403, "forbidden")
    expect(C + "deposit-only aidant cannot read what he deposited -> 403",
           v.call("GET", "/v1/persons/%s/documents/%s" % (pid, D2), token=alice), 403, "forbidden")
    expect(C + "deposit-only aidant cannot download what he deposited -> 403",
           v.call("GET", "/v1/persons/%s/documents/%s/content" % (pid, D2), token=alice),
           403, "forbidden")
    expect(C + "another aidant (no mandate) cannot list -> 403",
           docs_of(v, oscar, pid), 403, "forbidden")
    expect(C + "another aidant cannot deposit -> 403",
           v.deposit(oscar, pid, b"x", category="income"), 403)
    expect(C + "an auditor cannot list a person's papers -> 403",
           docs_of(v, audrey, pid), 403)
    expect(C + "the instance admin cannot list a person's papers -> 403",
           docs_of(v, admin, pid), 403)
    expect(C + "the instance admin cannot download a person's paper -> 403",
           v.call("GET", "/v1/persons/%s/documents/%s/content" % (pid, D1), token=admin), 403)
    s, b, _ = v.call("GET", "/v1/aidants/me/mandates", token=alice)
    expect(C + "GET /v1/aidants/me/mandates -> 200", (s, b, _), 200)
    ms = b.get("mandates") if isinstance(b, dict) else None
    check(C + "aidant's mandates: {\"mandates\": [...]} with the person and scope",
          isinstance(ms, list) and len(ms) == 1 and ms[0].get("mandate_id") == M1 and
          ms[0].get("scopes") == ["deposit"] and ms[0].get("categories") == ["income"] and
          (ms[0].get("person") or {}).get("account_id") == pid, short(b))
    expect(C + "GET /v1/aidants/me/mandates by a person -> 403",
           v.call("GET", "/v1/aidants/me/mandates", token=paula), 403)

    # read mandate for one category
    tax = b"avis d'imposition " + os.urandom(3000)
    s, d4, _ = v.deposit(paula, pid, tax, title="Avis d'impôt", category="tax")
    D4 = d4["document_id"]
    s, m2, _ = v.mandate(paula, pid, aid, ["read"], ["income"], 30)
    expect(C + "POST mandates (read, income) -> 201", (s, m2, _), 201)
    M2 = m2["mandate_id"]
    inc2 = b"bulletin de paie " + os.urandom(7000)
    s, d3, _ = v.deposit(paula, pid, inc2, title="Bulletin de paie", category="income")
    expect(C + "person deposits an income paper after the grant -> 201", (s, d3, _), 201)
    D3 = d3["document_id"]
    s, b, _ = docs_of(v, alice, pid)
    expect(C + "read-mandated aidant lists -> 200", (s, b, _), 200)
    got = sorted(d["document_id"] for d in b.get("documents", [])) if s == 200 else None
    check(C + "aidant sees exactly the income papers (incl. one deposited after the grant)",
          got == sorted([D2, D3]), "got %s, want %s" % (got, sorted([D2, D3])))
    if s == 200:
        titles = {d["document_id"]: d["title"] for d in b["documents"]}
        check(C + "aidant sees the titles of papers in scope",
              titles.get(D3) == "Bulletin de paie" and titles.get(D2) == "Attestation CAF",
              short(titles))
    s, b, _ = docs_of(v, alice, pid, "identity")
    check(C + "aidant's list ?category=identity holds nothing",
          s in (200, 403) and (s == 403 or b.get("documents") == []), "%s %s" % (s, short(b)))
    expect(C + "aidant reads the metadata of an income paper -> 200",
           v.call("GET", "/v1/persons/%s/documents/%s" % (pid, D3), token=alice), 200)
    s, b, h = v.call("GET", "/v1/persons/%s/documents/%s/content" % (pid, D3), token=alice)
    check(C + "aidant downloads an income paper deposited after the grant",
          s == 200 and b == inc2, "%s %s" % (s, short(b)))
    s, b, h = v.call("GET", "/v1/persons/%s/documents/%s/content" % (pid, D2), token=alice)
    check(C + "aidant downloads the paper he deposited, now that he reads income",
          s == 200 and b == inc1, "%s" % s)
    for did, cat in ((D1, "identity"), (D4, "tax")):
        s, b, _ = v.call("GET", "/v1/persons/%s/documents/%s" % (pid, did), token=alice)
        check(C + "aidant cannot read metadata of a %s paper (out of scope)" % cat,
              s in (403, 404) and is_error(b), "%s %s" % (s, short(b)))
        s, b, _ = v.call("GET", "/v1/persons/%s/documents/%s/content" % (pid, did), token=alice)
        check(C + "aidant cannot download a %s paper (out of scope)" % cat,
              s in (403, 404) and is_error(b), "%s %s" % (s, short(b)))
    expect(C + "aidant cannot delete a paper -> 403",
           v.call("DELETE", "/v1/persons/%s/documents/%s" % (pid, D3), token=alice), 403)
    expect(C + "aidant cannot create a share link -> 403",
           v.call("POST", "/v1/persons/%s/documents/%s/shares" % (pid, D3),
                  {"expires_in_hours": 1, "max_downloads": 1}, token=alice), 403)
    expect(C + "aidant cannot grant himself a mandate -> 403",
           v.mandate(alice, pid, aid, ["read"], CATEGORIES), 403)
    expect(C + "aidant cannot read the person's journal -> 403",
           v.call("GET", "/v1/persons/%s/journal" % pid, token=alice), 403)
    expect(C + "aidant cannot list the person's mandates -> 403",
           v.call("GET", "/v1/persons/%s/mandates" % pid, token=alice), 403)
    expect(C + "aidant cannot revoke the person's mandate -> 403",
           v.call("DELETE", "/v1/persons/%s/mandates/%s" % (pid, M2), token=alice), 403)
    s, b, _ = v.call("GET", "/v1/persons/%s/mandates" % pid, token=paula)
    expect(C + "GET /v1/persons/{pid}/mandates -> 200", (s, b, _), 200)
    ms = b.get("mandates") if isinstance(b, dict) else None
    check(C + "person's mandates: {\"mandates\": [...]}, both active",
          isinstance(ms, list) and sorted(m.get("mandate_id") for m in ms) == sorted([M1, M2])
          and all(m.get("status") == "active" and is_instant(m.get("expires_at")) for m in ms),
          short(b))
    # revocation
    expect(C + "person revokes the read mandate -> 204",
           v.call("DELETE", "/v1/persons/%s/mandates/%s" % (pid, M2), token=paula), 204)
    expect(C + "after revocation the aidant's list -> 403",
           docs_of(v, alice, pid), 403, "forbidden")
    expect(C + "after revocation the aidant's download -> 403",
           v.call("GET", "/v1/persons/%s/documents/%s/content" % (pid, D3), token=alice), 403)
    expect(C + "after revocation the aidant's metadata -> 403",
           v.call("GET", "/v1/persons/%s/documents/%s" % (pid, D3), token=alice), 403)
    s, b, _ = v.call("GET", "/v1/persons/%s/mandates" % pid, token=paula)
    st = {m["mandate_id"]: m.get("status") for m in b.get("mandates", [])}
    check(C + "revoked mandate listed as revoked, the other active",
          st.get(M2) == "revoked" and st.get(M1) == "active", short(st))
    s, d5, _ = v.deposit(alice, pid, b"still depositing", category="income")
    expect(C + "the deposit mandate still works after the read one is revoked", (s, d5, _), 201)
    expect(C + "person revokes the deposit mandate -> 204",
           v.call("DELETE", "/v1/persons/%s/mandates/%s" % (pid, M1), token=paula), 204)
    expect(C + "after revocation the aidant cannot deposit -> 403",
           v.deposit(alice, pid, b"x", category="income"), 403)
    s, b, _ = v.call("GET", "/v1/aidants/me/mandates", token=alice)
    check(C + "aidant's mandate list is empty after revocations",
          s == 200 and b.get("mandates") == [], short(b))

    # mandate bad input
    B = "mandates: "
    for label, body in (
            ("scopes empty", {"aidant_id": aid, "scopes": [], "categories": ["tax"], "duration_days": 1}),
            ("unknown scope", {"aidant_id": aid, "scopes": ["write"], "categories": ["tax"], "duration_days": 1}),
            ("categories empty", {"aidant_id": aid, "scopes": ["read"], "categories": [], "duration_days": 1}),
            ("unknown category", {"aidant_id": aid, "scopes": ["read"], "categories": ["food"], "duration_days": 1}),
            ("duration 0", {"aidant_id": aid, "scopes": ["read"], "categories": ["tax"], "duration_days": 0}),
            ("duration 366", {"aidant_id": aid, "scopes": ["read"], "categories": ["tax"], "duration_days": 366}),
            ("duration a string", {"aidant_id": aid, "scopes": ["read"], "categories": ["tax"], "duration_days": "5"}),
            ("duration 1.5", {"aidant_id": aid, "scopes": ["read"], "categories": ["tax"], "duration_days": 1.5}),
            ("aidant_id malformed", {"aidant_id": "xyz", "scopes": ["read"], "categories": ["tax"], "duration_days": 1}),
            ("aidant_id missing", {"scopes": ["read"], "categories": ["tax"], "duration_days": 1})):
        expect(B + "%s -> 400" % label,
               v.call("POST", "/v1/persons/%s/mandates" % pid, body, token=paula), 400)
    expect(B + "unknown aidant -> 404",
           v.mandate(paula, pid, os.urandom(16).hex(), ["read"], ["tax"]), 404)
    expect(B + "to a person rather than an aidant -> 404",
           v.mandate(paula, pid, pid, ["read"], ["tax"]), 404)
    s, b, _ = v.mandate(paula, pid, sam_id, ["read", "deposit"], ["tax"], 365)
    expect(B + "to a structure admin, 365 days -> 201", (s, b, _), 201)
    M_SAM = b.get("mandate_id")
    expect(B + "revoke an unknown mandate -> 404",
           v.call("DELETE", "/v1/persons/%s/mandates/%s" % (pid, os.urandom(16).hex()),
                  token=paula), 404)
    expect(B + "revoke a malformed mandate id -> 400",
           v.call("DELETE", "/v1/persons/%s/mandates/NOT-AN-ID" % pid, token=paula), 400)
    s, b, _ = docs_of(v, sam, pid)
    check(B + "structure admin with read mandate (tax) sees the tax paper",
          s == 200 and [d["document_id"] for d in b.get("documents", [])] == [D4], short(b))

    # shares
    S = "shares: "
    s, sh, _ = v.call("POST", "/v1/persons/%s/documents/%s/shares" % (pid, D1),
                      {"expires_in_hours": 2, "max_downloads": 2}, token=paula)
    expect(S + "POST shares -> 201", (s, sh, _), 201)
    check(S + "share answer {share_id, url, expires_at}",
          is_id(sh.get("share_id")) and isinstance(sh.get("url"), str) and
          is_instant(sh.get("expires_at")), short(sh.get("share_id")))
    url = sh.get("url", "")
    u = urlsplit(url)
    check(S + "url is absolute, on the listening address, /v1/shares/{token}",
          u.scheme == "http" and u.netloc == v.addr and u.path.startswith("/v1/shares/")
          and len(u.path) > len("/v1/shares/") + 20, "scheme %r host %r" % (u.scheme, u.netloc))
    if is_instant(sh.get("expires_at")):
        dt = instant_s(sh["expires_at"]) - v.now()
        check(S + "share expires in 2 hours", abs(dt - 7200) < 120, "%ds" % dt)
    share_token = u.path.rsplit("/", 1)[-1]
    ctx.setdefault("share_tokens", []).append(share_token)
    S1 = sh["share_id"]
    s, b, h = v.call("GET", u.path)
    check(S + "anonymous download 1 of 2 -> the original bytes",
          s == 200 and b == d1_bytes, "status %s" % s)
    check(S + "shared download has its media type", h.get("content-type") == "image/jpeg",
          h.get("content-type"))
    s, b, h = v.call("GET", u.path)
    check(S + "anonymous download 2 of 2 -> 200", s == 200 and b == d1_bytes, "status %s" % s)
    expect(S + "download 3 of 2 -> 404 (used up)", v.call("GET", u.path), 404)
    s, shc, _ = v.call("POST", "/v1/persons/%s/documents/%s/shares" % (pid, D3),
                       {"expires_in_hours": 1, "max_downloads": 3}, token=paula)
    pc = urlsplit(shc.get("url", "")).path
    ctx.setdefault("share_tokens", []).append(pc.rsplit("/", 1)[-1])
    got = []

    def grab():
        try:
            r = v.call("GET", pc)
            got.append(r[0] if r[0] != 200 or r[1] == inc2 else "bad bytes")
        except OSError as e:
            got.append(repr(e))
    ts = [threading.Thread(target=grab) for _ in range(12)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(30)
    check(S + "12 downloads at once of a 3-download link: exactly 3 succeed",
          sorted(map(str, got)) == ["200"] * 3 + ["404"] * 9, short(sorted(map(str, got))))
    s, sh2, _ = v.call("POST", "/v1/persons/%s/documents/%s/shares" % (pid, D3),
                       {"expires_in_hours": 1, "max_downloads": 5}, token=paula)
    p2 = urlsplit(sh2.get("url", "")).path
    ctx["share_tokens"].append(p2.rsplit("/", 1)[-1])
    s, b, _ = v.call("GET", p2)
    check(S + "second link works", s == 200 and b == inc2, "status %s" % s)
    expect(S + "person revokes the link -> 204",
           v.call("DELETE", "/v1/persons/%s/shares/%s" % (pid, sh2["share_id"]), token=paula), 204)
    expect(S + "revoked link -> 404", v.call("GET", p2), 404)
    expect(S + "revoke an unknown link -> 404",
           v.call("DELETE", "/v1/persons/%s/shares/%s" % (pid, os.urandom(16).hex()), token=paula), 404)
    expect(S + "revoke a malformed link id -> 400",
           v.call("DELETE", "/v1/persons/%s/shares/zz" % pid, token=paula), 400)
    expect(S + "aidant revokes a link -> 403",
           v.call("DELETE", "/v1/persons/%s/shares/%s" % (pid, S1), token=alice), 403)
    expect(S + "made-up token -> 404", v.call("GET", "/v1/shares/" + "A" * 43), 404)
    expect(S + "short token -> 404", v.call("GET", "/v1/shares/abc"), 404)
    for label, body in (("max_downloads 0", {"expires_in_hours": 1, "max_downloads": 0}),
                        ("expires_in_hours 0", {"expires_in_hours": 0, "max_downloads": 1}),
                        ("expires_in_hours 745", {"expires_in_hours": 745, "max_downloads": 1}),
                        ("max_downloads missing", {"expires_in_hours": 1}),
                        ("max_downloads a string", {"expires_in_hours": 1, "max_downloads": "2"})):
        expect(S + "%s -> 400" % label,
               v.call("POST", "/v1/persons/%s/documents/%s/shares" % (pid, D1), body, token=paula), 400)
    expect(S + "share of an unknown paper -> 404",
           v.call("POST", "/v1/persons/%s/documents/%s/shares" % (pid, os.urandom(16).hex()),
                  {"expires_in_hours": 1, "max_downloads": 1}, token=paula), 404)
    # a link to a paper that is then deleted
    s, sh3, _ = v.call("POST", "/v1/persons/%s/documents/%s/shares" % (pid, D4),
                       {"expires_in_hours": 1, "max_downloads": 5}, token=paula)
    p3 = urlsplit(sh3.get("url", "")).path
    ctx["share_tokens"].append(p3.rsplit("/", 1)[-1])

    # deletion
    Dl = "delete: "
    u0 = usage(v, paula)
    expect(Dl + "DELETE document -> 204",
           v.call("DELETE", "/v1/persons/%s/documents/%s" % (pid, D4), token=paula), 204)
    expect(Dl + "deleted document metadata -> 404",
           v.call("GET", "/v1/persons/%s/documents/%s" % (pid, D4), token=paula), 404)
    expect(Dl + "deleted document content -> 404",
           v.call("GET", "/v1/persons/%s/documents/%s/content" % (pid, D4), token=paula), 404)
    check(Dl + "deleted document leaves the list", D4 not in doc_ids(v, paula, pid), "")
    check(Dl + "usage_bytes drops by its size", usage(v, paula) == u0 - len(tax),
          "%d vs %d" % (usage(v, paula), u0 - len(tax)))
    expect(Dl + "a link to a deleted paper -> 404", v.call("GET", p3), 404)
    expect(Dl + "DELETE again -> 404",
           v.call("DELETE", "/v1/persons/%s/documents/%s" % (pid, D4), token=paula), 404)
    s, b, _ = docs_of(v, sam, pid)
    check(Dl + "the structure admin's read mandate no longer shows it",
          s == 200 and b.get("documents") == [], short(b))

    # the export, when this build serves it
    contents = {D1: d1_bytes, D2: inc1, D3: inc2, d5["document_id"]: b"still depositing"}
    export_checks(v, paula, pid, contents, {"aidant with a read mandate (tax)": sam,
                                            "aidant without mandate": alice,
                                            "instance admin": admin})

    # a second person: nothing crosses over
    X = "isolation: "
    qid, quentin, q_rc = new_person(v, alice, "person.quentin", "quentin secret")
    ctx["recovery_codes"].append(q_rc)
    ctx["secrets"].append("quentin secret")
    expect(X + "another person lists my papers -> 403", docs_of(v, quentin, pid), 403)
    expect(X + "another person reads my paper via my path -> 403",
           v.call("GET", "/v1/persons/%s/documents/%s" % (pid, D1), token=quentin), 403)
    expect(X + "my paper under another person's path -> 404",
           v.call("GET", "/v1/persons/%s/documents/%s" % (qid, D1), token=quentin), 404)
    expect(X + "my paper's content under another person's path -> 404",
           v.call("GET", "/v1/persons/%s/documents/%s/content" % (qid, D1), token=quentin), 404)
    expect(X + "another person deletes my paper via her path -> 404",
           v.call("DELETE", "/v1/persons/%s/documents/%s" % (qid, D1), token=quentin), 404)
    expect(X + "another person deletes my paper via my path -> 403",
           v.call("DELETE", "/v1/persons/%s/documents/%s" % (pid, D1), token=quentin), 403)
    check(X + "... my paper is still there", D1 in doc_ids(v, paula, pid), "")
    expect(X + "another person shares my paper via her path -> 404",
           v.call("POST", "/v1/persons/%s/documents/%s/shares" % (qid, D1),
                  {"expires_in_hours": 1, "max_downloads": 1}, token=quentin), 404)
    expect(X + "another person revokes my mandate via her path -> 404",
           v.call("DELETE", "/v1/persons/%s/mandates/%s" % (qid, M_SAM), token=quentin), 404)
    s, b, _ = docs_of(v, sam, pid)
    check(X + "... my mandate still works", s == 200, "%s" % s)
    expect(X + "another person revokes my link via her path -> 404",
           v.call("DELETE", "/v1/persons/%s/shares/%s" % (qid, S1), token=quentin), 404)
    expect(X + "another person reads my journal -> 403",
           v.call("GET", "/v1/persons/%s/journal" % pid, token=quentin), 403)
    expect(X + "another person grants a mandate on me -> 403",
           v.mandate(quentin, pid, aid, ["read"], ["tax"]), 403)
    expect(X + "another person deposits for me -> 403",
           v.deposit(quentin, pid, b"planted", category="tax"), 403)

    # the person's journal
    J = "journal: "
    ev = journal(v, paula, pid)
    probs = [p for e in ev for p in event_problems(e)]
    check(J + "events have index, at, actor, person_id, action, object_id, outcome",
          ev and not probs, ", ".join(sorted(set(probs))))
    check(J + "every event is about the person", all(e.get("person_id") == pid for e in ev), "")
    idx = [e.get("index") for e in ev]
    check(J + "indexes are distinct and increasing", idx == sorted(set(idx)), short(idx))
    steps = [
        ("account.enrol by the aidant", "account.enrol", aid, None, "ok"),
        ("account.activate", "account.activate", pid, None, "ok"),
        ("session.login", "session.login", pid, None, "ok"),
        ("own deposit", "document.deposit", pid, D1, "ok"),
        ("aidant's deposit", "document.deposit", aid, D2, "ok"),
        ("mandate.grant (deposit)", "mandate.grant", pid, M1, "ok"),
        ("mandate.grant (read)", "mandate.grant", pid, M2, "ok"),
        ("mandate.use by the aidant", "mandate.use", aid, M2, "ok"),
        ("mandate.use of the deposit mandate by the aidant's deposit", "mandate.use", aid, M1, "ok"),
        ("document.download by the aidant", "document.download", aid, D3, "ok"),
        ("document.read by the aidant", "document.read", aid, D3, "ok"),
        ("mandate.revoke (read)", "mandate.revoke", pid, M2, "ok"),
        ("mandate.revoke (deposit)", "mandate.revoke", pid, M1, "ok"),
        ("share.create", "share.create", pid, S1, "ok"),
        ("share.revoke", "share.revoke", pid, sh2["share_id"], "ok"),
        ("document.delete", "document.delete", pid, D4, "ok"),
        ("own download", "document.download", pid, D1, "ok"),
    ]
    for label, action, actor, obj, outcome in steps:
        check(J + "lists " + label, has_event(ev, action, actor, obj, outcome),
              "no %s by %s on %s" % (action, actor, obj))
    check(J + "lists share.download (anonymous actor) of the link",
          sum(1 for e in ev if e.get("action") == "share.download" and
              e.get("object_id") == S1 and e.get("actor") is None) == 2,
          "want 2 anonymous share.download of %s" % S1)
    check(J + "lists the deposit-only aidant's refused list (outcome denied)",
          has_event(ev, "document.list", aid, None, "denied"), "")
    check(J + "lists the refused deposit outside the mandate (outcome denied)",
          has_event(ev, "document.deposit", aid, None, "denied"), "")
    # failed log-in appears
    s, b, _ = v.call("POST", "/v1/sessions", {"login": "person.paula", "secret": "wrong"})
    expect(J + "wrong secret -> 401", (s, b, _), 401)
    ev = journal(v, paula, pid)
    check(J + "lists session.login_failed", has_event(ev, "session.login_failed"), "")
    s, b, _ = v.call("GET", "/v1/persons/%s/journal?limit=2" % pid, token=paula)
    check(J + "?limit=2 gives 2 events", s == 200 and len(b.get("events", [])) == 2, short(b))
    if s == 200 and b.get("events"):
        last = b["events"][-1]["index"]
        s2, b2, _ = v.call("GET", "/v1/persons/%s/journal?after=%d&limit=2" % (pid, last), token=paula)
        check(J + "?after= pages on", s2 == 200 and b2.get("events") and
              all(e["index"] > last for e in b2["events"]), short(b2))
    expect(J + "?limit=0 -> 400",
           v.call("GET", "/v1/persons/%s/journal?limit=0" % pid, token=paula), 400)

    # audit search
    Au = "audit: "
    for who, tok in (("admin", admin), ("auditor", audrey)):
        s, b, _ = v.call("GET", "/v1/journal", token=tok)
        expect(Au + "GET /v1/journal by %s -> 200" % who, (s, b, _), 200)
        check(Au + "GET /v1/journal by %s is {\"events\": [...]}" % who,
              isinstance(b, dict) and isinstance(b.get("events"), list) and
              len(b["events"]) > 10, short(b))
    s, b, _ = v.call("GET", "/v1/journal?person=%s" % pid, token=audrey)
    check(Au + "?person= gives only that person's events",
          s == 200 and b["events"] and all(e.get("person_id") == pid for e in b["events"]),
          short(b))
    s, b, _ = v.call("GET", "/v1/journal?actor=%s" % aid, token=audrey)
    check(Au + "?actor= gives only that actor's events",
          s == 200 and b["events"] and all((e.get("actor") or {}).get("account_id") == aid
                                           for e in b["events"]), short(b))
    s, b, _ = v.call("GET", "/v1/journal?action=mandate.revoke", token=audrey)
    check(Au + "?action= gives only that action",
          s == 200 and len(b["events"]) == 2 and
          all(e.get("action") == "mandate.revoke" for e in b["events"]), short(b))
    s, b, _ = v.call("GET", "/v1/journal?since=2099-01-01T00:00:00Z", token=audrey)
    check(Au + "?since= in the future gives nothing", s == 200 and b.get("events") == [], short(b))
    s, b, _ = v.call("GET", "/v1/journal?since=2000-01-01T00:00:00Z&action=document.deposit",
                     token=admin)
    check(Au + "?since= in the past with ?action= gives the deposits",
          s == 200 and len(b["events"]) >= 3, short(b))
    expect(Au + "?since=yesterday -> 400",
           v.call("GET", "/v1/journal?since=yesterday", token=admin), 400)
    expect(Au + "?since=2026-02-30T00:00:00Z (no such day) -> 400",
           v.call("GET", "/v1/journal?since=2026-02-30T00:00:00Z", token=admin), 400)
    expect(Au + "?person=malformed -> 400",
           v.call("GET", "/v1/journal?person=XYZ", token=admin), 400)
    expect(Au + "GET /v1/journal by a person -> 403", v.call("GET", "/v1/journal", token=paula), 403)
    expect(Au + "GET /v1/journal by an aidant -> 403", v.call("GET", "/v1/journal", token=alice), 403)
    expect(Au + "GET /v1/journal anonymous -> 401", v.call("GET", "/v1/journal"), 401)

    # routes not yet served (another engineer's): a JSON error, never a 2xx
    N = "not-yet routes: "
    later = [
        ("GET", "/v1/persons/%s/documents/%s/timestamp" % (pid, D1), paula),
        ("GET", "/v1/persons/%s/documents/%s/receipt" % (pid, D1), paula),
        ("GET", "/v1/persons/%s/export" % pid, paula),
        ("GET", "/v1/journal/checkpoint", admin),
        ("POST", "/v1/journal/checkpoint", admin),
        ("GET", "/v1/journal/entries/0", admin),
        ("GET", "/v1/journal/proof/inclusion?index=0&tree_size=1", admin),
        ("GET", "/v1/journal/proof/consistency?first=1&second=2", admin),
        ("GET", "/v1/tsa/certificates", None),
        ("GET", "/v1/instance/keys", None),
    ]
    for method, path, tok in later:
        s, b, h = v.call(method, path, token=tok)
        label = N + "%s %s" % (method, re.sub(r"[0-9a-f]{32}", "{id}", path.split("?")[0]))
        if 200 <= s < 300:
            check(label + " (served now: another engineer's, not covered here)",
                  h.get("cache-control") == "no-store", "no Cache-Control: no-store")
        else:
            check(label + " -> JSON error, not 2xx", is_error(b) and s >= 400,
                  "%s %s" % (s, short(b)))

    # malformed identifiers in paths
    I = "identifiers: "
    bad_ids = ("NOT-HEX", pid.upper(), pid[:-1], pid + "0", "%20" + pid[1:])
    for bad in bad_ids:
        expect(I + "list with person id %r -> 400" % bad[:12],
               v.call("GET", "/v1/persons/%s/documents" % bad, token=paula), 400, "bad_identifier")
    expect(I + "document id malformed -> 400",
           v.call("GET", "/v1/persons/%s/documents/%s" % (pid, D1.upper()), token=paula), 400)
    expect(I + "content with a malformed document id -> 400",
           v.call("GET", "/v1/persons/%s/documents/xyz/content" % pid, token=paula), 400)
    expect(I + "delete with a malformed document id -> 400",
           v.call("DELETE", "/v1/persons/%s/documents/xyz" % pid, token=paula), 400)
    expect(I + "deposit with a malformed person id -> 400",
           v.call("POST", deposit_path("xyz"), raw=b"abc", token=paula), 400)
    expect(I + "journal with a malformed person id -> 400",
           v.call("GET", "/v1/persons/xyz/journal", token=paula), 400)
    expect(I + "mandates with a malformed person id -> 400",
           v.call("GET", "/v1/persons/xyz/mandates", token=paula), 400)
    s, b, _ = v.call("GET", "/v1/persons/%s/documents" % ("a" * 100), token=paula)
    check(I + "a 100-character id -> a 4xx JSON error", 400 <= s < 500 and is_error(b),
          "%s %s" % (s, short(b)))
    unknown = os.urandom(16).hex()
    expect(I + "unknown person (well formed), list -> 403",
           docs_of(v, paula, unknown), 403)
    expect(I + "unknown document (well formed) -> 404",
           v.call("GET", "/v1/persons/%s/documents/%s" % (pid, unknown), token=paula), 404)
    expect(I + "unknown document content (well formed) -> 404",
           v.call("GET", "/v1/persons/%s/documents/%s/content" % (pid, unknown), token=paula), 404)
    expect(I + "delete unknown document (well formed) -> 404",
           v.call("DELETE", "/v1/persons/%s/documents/%s" % (pid, unknown), token=paula), 404)
    expect(I + "aidant deposits for an unknown person -> 403",
           v.deposit(alice, unknown, b"x"), 403)

    # recovery
    R = "recovery: "
    r_secret = rand_marker("RSECRET")
    ctx["secrets"].append(r_secret)
    rid, rosa1, r_rc = new_person(v, alice, "person.rosa", r_secret)
    ctx["recovery_codes"].append(r_rc)
    rosa2 = v.login("person.rosa", r_secret)
    rdoc = os.urandom(2000)
    s, rd, _ = v.deposit(rosa1, rid, rdoc, category="family")
    new_secret = rand_marker("NSECRET")
    ctx["secrets"].append(new_secret)
    s, b, _ = v.call("POST", "/v1/recover", {"login": "person.rosa", "recovery_code": r_rc,
                                             "new_secret": new_secret})
    expect(R + "POST /v1/recover -> 200", (s, b, _), 200)
    rc2 = b.get("recovery_code") if isinstance(b, dict) else None
    check(R + "recovery answers a new recovery code",
          isinstance(rc2, str) and len(rc2) >= 16 and rc2 != r_rc, short(b))
    ctx["recovery_codes"].append(rc2 or "")
    expect(R + "a session opened before is ended (1)", v.call("GET", "/v1/me", token=rosa1), 401)
    expect(R + "a session opened before is ended (2)",
           docs_of(v, rosa2, rid), 401)
    expect(R + "the old secret fails -> 401",
           v.call("POST", "/v1/sessions", {"login": "person.rosa", "secret": r_secret}), 401)
    s, b, _ = v.call("POST", "/v1/sessions", {"login": "person.rosa", "secret": new_secret})
    expect(R + "the new secret works -> 201", (s, b, _), 201)
    rosa3 = b.get("token")
    s, b, _ = v.call("GET", "/v1/persons/%s/documents/%s/content" % (rid, rd["document_id"]),
                     token=rosa3)
    check(R + "papers deposited before recovery still open", s == 200 and b == rdoc, "%s" % s)
    expect(R + "the old recovery code fails -> 401",
           v.call("POST", "/v1/recover", {"login": "person.rosa", "recovery_code": r_rc,
                                          "new_secret": "again"}), 401)
    expect(R + "recovery of an unknown login -> 401",
           v.call("POST", "/v1/recover", {"login": "person.nobody", "recovery_code": r_rc,
                                          "new_secret": "again"}), 401)
    expect(R + "recovery with an empty new secret -> 400",
           v.call("POST", "/v1/recover", {"login": "person.rosa", "recovery_code": rc2,
                                          "new_secret": ""}), 400)
    check(R + "journal lists account.recover",
          has_event(journal(v, rosa3, rid), "account.recover", rid), "")

    # log-out
    L = "log-out: "
    tmp = v.login("person.quentin", "quentin secret")
    expect(L + "DELETE /v1/sessions/current -> 204",
           v.call("DELETE", "/v1/sessions/current", token=tmp), 204)
    expect(L + "the token is dead afterwards -> 401", v.call("GET", "/v1/me", token=tmp), 401)
    expect(L + "DELETE /v1/sessions/current without session -> 401",
           v.call("DELETE", "/v1/sessions/current"), 401)
    check(L + "journal lists session.logout",
          has_event(journal(v, quentin, qid), "session.logout", qid), "")

    # one account cannot fill the session table: its 17th log-in ends its
    # oldest session, and nobody else's
    L = "sessions per account: "
    many = [v.login("person.quentin", "quentin secret") for _ in range(17)]
    expect(L + "the oldest of 17 sessions of one account has ended -> 401",
           v.call("GET", "/v1/me", token=many[0]), 401)
    expect(L + "the second oldest still works -> 200",
           v.call("GET", "/v1/me", token=many[1]), 200)
    expect(L + "the newest works -> 200", v.call("GET", "/v1/me", token=many[-1]), 200)
    expect(L + "another account's session is untouched -> 200",
           v.call("GET", "/v1/me", token=alice), 200)
    for t in many[1:]:
        v.call("DELETE", "/v1/sessions/current", token=t)

    # tokens for the later log search
    ctx["session_tokens"] = [admin, alice, paula, quentin, rosa3, audrey, sam, oscar]
    ctx["aidant_tokens"] = {alice, sam, oscar}
    ctx["activation_codes"] = [e["activation_code"]]


def export_checks(v, token, pid, contents, others):
    X = "export: "
    path = "/v1/persons/%s/export" % pid
    s, b, h = v.call("GET", path, token=token)
    if s == 501 or (s >= 400 and s != 200):
        check(X + "GET export -> JSON error while not served", s == 501 and is_error(b),
              "%s %s" % (s, short(b)))
        return
    check(X + "GET export -> 200 application/gzip", s == 200 and
          h.get("content-type") == "application/gzip", "%s %s" % (s, h.get("content-type")))
    import io
    import tarfile
    try:
        tf = tarfile.open(fileobj=io.BytesIO(b), mode="r:gz")
        names = tf.getnames()
        manifest = json.loads(tf.extractfile("manifest.json").read())
        files = {m.name: tf.extractfile(m).read() for m in tf.getmembers() if m.isfile()}
    except Exception as e:  # noqa: BLE001
        check(X + "the export is a readable .tar.gz with manifest.json", False, repr(e))
        return
    check(X + "the export is a readable .tar.gz with manifest.json", "manifest.json" in names, "")
    entries = {d.get("document_id"): d for d in manifest.get("documents", [])}
    check(X + "manifest names the person and lists every paper",
          manifest.get("person_id") == pid and sorted(entries) == sorted(contents),
          "%d entries, want %d" % (len(entries), len(contents)))
    bad = []
    for did, data in contents.items():
        d = entries.get(did, {})
        got = files.get(d.get("file"))
        if got != data or d.get("sha256") != hashlib.sha256(data).hexdigest() or \
                d.get("size") != len(data):
            bad.append(did[:8])
    check(X + "every paper in the archive byte for byte, with its sha256", not bad, ", ".join(bad))
    for label, tok in others.items():
        expect(X + "by the %s -> 403" % label, v.call("GET", path, token=tok), 403)
    check(X + "the journal lists the export",
          has_event(journal(v, token, pid), "export", pid, None, "ok"), "")


def main_after(v, ctx):
    """After the main instance stopped: its log, and no secret anywhere."""
    L = "log: "
    text = wait_log(v, "vaultd: stopped")
    lines = [l for l in text.splitlines() if ACCESS_LINE.match(l)]
    check(L + "one line per request", len(lines) == v.nreq,
          "%d access lines for %d requests" % (len(lines), v.nreq))
    leaked = [t for t in ctx.get("session_tokens", []) if t and t in text]
    check(L + "no session token in the log", not leaked, "%d tokens found" % len(leaked))
    leaked = [t for t in ctx.get("share_tokens", []) if t and t in text]
    check(L + "no share token in the log", not leaked, "%d share tokens found" % len(leaked))
    H = "headers: "
    check(H + "Cache-Control: no-store and X-Content-Type-Options: nosniff on every answer "
          "(%d answers)" % v.nreq, not v.header_faults, "; ".join(v.header_faults[:5]))
    # no response to an aidant carries a person's secret or recovery code
    C = "charter: "
    secrets = [s for s in ctx.get("secrets", []) if s]
    codes = [c for c in ctx.get("recovery_codes", []) if c]
    variants = set()
    for c in codes:
        variants.add(c)
        variants.add(c.replace("-", ""))
    bad = [(m, p) for (tok, m, p, text) in v.answers if tok in ctx.get("aidant_tokens", ())
           and (any(s in text for s in secrets) or any(c in text for c in variants))]
    n_aidant = sum(1 for a in v.answers if a[0] in ctx.get("aidant_tokens", ()))
    check(C + "no answer to an aidant (%d) carries a person's secret or recovery code"
          % n_aidant, n_aidant > 20 and not bad, short(bad))
    # markers: nowhere on disk, nowhere in the log
    P = "no plaintext: "
    markers = {"document marker": ctx.get("doc_marker"), "secret marker": ctx.get("secret_marker"),
               "title marker": ctx.get("title_marker")}
    for name, m in markers.items():
        check(P + "%s not in the daemon's log" % name, m and m not in text, "found")
    roots = [v.data, ctx["workdir"], ctx["tmpdir"]]
    needles = {name: m.encode() for name, m in markers.items() if m}
    for i, s in enumerate(secrets):
        needles["person secret %d" % i] = s.encode()
    for i, c in enumerate(sorted(variants)):
        needles["recovery code %d" % i] = c.encode()
    for i, t in enumerate(ctx.get("share_tokens", [])):
        needles["share token %d" % i] = t.encode()
    for i, t in enumerate(ctx.get("session_tokens", [])):
        needles["session token %d" % i] = t.encode()
    found, nfiles = scan_files(roots, needles)
    check(P + "markers, secrets, recovery codes and tokens in no file under the data "
          "directory, WORKDIR and $TMPDIR (%d files searched)" % nfiles,
          nfiles > 5 and not found, "; ".join(found[:6]))


def scan_files(roots, needles):
    seen, found, n = set(), [], 0
    longest = max(len(x) for x in needles.values())
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root, onerror=lambda e: None):
            for f in filenames:
                p = os.path.join(dirpath, f)
                try:
                    rp = os.path.realpath(p)
                    if rp in seen or not os.path.isfile(rp) or os.path.islink(p):
                        continue
                    seen.add(rp)
                    if os.path.getsize(rp) > 512 << 20:
                        continue
                    with open(rp, "rb") as fh:
                        n += 1
                        tail = b""
                        while True:
                            chunk = fh.read(1 << 20)
                            if not chunk:
                                break
                            buf = tail + chunk
                            for name, nd in needles.items():
                                if nd in buf:
                                    found.append("%s in %s" % (name, rp))
                            tail = buf[-longest:]
                except OSError:
                    continue
    return sorted(set(found)), n


# ---- 2: expiry: activation codes, sessions, mandates, links -----------------


def scenario_expiry(build, work, ctx):
    E = "expiry: "
    v = TVault(build, os.path.join(work, "expiry"))
    v.start()
    ctx["expiry_vault"] = v
    ctx["expiry_started"] = time.time()
    admin = v.admin()
    sid = v.structure(admin)
    aid, alice = v.aidant(admin, sid, "aidant.alice")
    pid, paula, _ = new_person(v, alice, "person.paula", "paula secret")
    late = enrol(v, alice, "person.late")
    early = enrol(v, alice, "person.early")
    v.advance_clock(3500)
    expect(E + "activation code at 58 minutes still works -> 201",
           activate(v, "person.early", early["activation_code"], "early secret"), 201)
    v.advance_clock(101)
    expect(E + "activation code after one hour -> 401",
           activate(v, "person.late", late["activation_code"], "late secret"), 401)
    expect(E + "sessions end after an idle hour -> 401", v.call("GET", "/v1/me", token=paula), 401)
    paula = v.login("person.paula", "paula secret")
    alice = v.login("aidant.alice", "aidant secret 123")
    s, b, _ = v.call("POST", "/v1/persons", {"login": "person.late", "display_name": "Late"},
                     token=alice)
    expect(E + "after the code expired, the aidant can give a new one (enrol again) -> 201",
           (s, b, _), 201)
    if s == 201:
        expect(E + "... and the new code activates -> 201",
               activate(v, "person.late", b.get("activation_code"), "late secret"), 201)
    doc = os.urandom(4000)
    s, d, _ = v.deposit(paula, pid, doc, category="income")
    D = d["document_id"]
    s, m, _ = v.mandate(paula, pid, aid, ["read", "deposit"], ["income"], 1)
    expect(E + "one-day mandate granted -> 201", (s, m, _), 201)
    M = m.get("mandate_id")
    s, b, _ = docs_of(v, alice, pid)
    check(E + "aidant reads within the day", s == 200 and len(b.get("documents", [])) == 1,
          "%s %s" % (s, short(b)))
    s, sh, _ = v.call("POST", "/v1/persons/%s/documents/%s/shares" % (pid, D),
                      {"expires_in_hours": 1, "max_downloads": 10}, token=paula)
    path = urlsplit(sh.get("url", "")).path
    s, b, _ = v.call("GET", path)
    check(E + "link works before its hour", s == 200 and b == doc, "%s" % s)
    v.advance_clock(3601)
    expect(E + "link after its hour -> 404", v.call("GET", path), 404)
    paula = v.login("person.paula", "paula secret")
    alice = v.login("aidant.alice", "aidant secret 123")
    s, b, _ = docs_of(v, alice, pid)
    check(E + "mandate still valid after 2 hours", s == 200, "%s %s" % (s, short(b)))
    v.advance_clock(86400)
    expect(E + "aidant's old session ended -> 401", docs_of(v, alice, pid), 401)
    alice = v.login("aidant.alice", "aidant secret 123")
    paula = v.login("person.paula", "paula secret")
    expect(E + "after expiry the aidant's list -> 403", docs_of(v, alice, pid), 403, "forbidden")
    expect(E + "after expiry the aidant's metadata -> 403",
           v.call("GET", "/v1/persons/%s/documents/%s" % (pid, D), token=alice), 403)
    expect(E + "after expiry the aidant's download -> 403",
           v.call("GET", "/v1/persons/%s/documents/%s/content" % (pid, D), token=alice), 403)
    expect(E + "after expiry the aidant's deposit -> 403",
           v.deposit(alice, pid, b"late", category="income"), 403)
    s, b, _ = v.call("GET", "/v1/aidants/me/mandates", token=alice)
    check(E + "the expired mandate leaves the aidant's list", s == 200 and b.get("mandates") == [],
          short(b))
    s, b, _ = v.call("GET", "/v1/persons/%s/mandates" % pid, token=paula)
    st = [x.get("status") for x in b.get("mandates", []) if x.get("mandate_id") == M]
    check(E + "the person sees it as expired", st == ["expired"], short(b))
    # sessions: idle time-out (15 min) and lifetime (2 h)
    tok = v.login("person.paula", "paula secret")
    ok = True
    for _ in range(2):
        v.advance_clock(840)
        ok = ok and v.call("GET", "/v1/me", token=tok)[0] == 200
    check(E + "a session used every 14 minutes stays open", ok, "")
    v.advance_clock(960)
    expect(E + "a session idle 16 minutes has ended -> 401", v.call("GET", "/v1/me", token=tok), 401)
    tok = v.login("person.paula", "paula secret")
    total, ok = 0, True
    while total + 840 < 7200:
        v.advance_clock(840)
        total += 840
        ok = ok and v.call("GET", "/v1/me", token=tok)[0] == 200
    check(E + "an active session lasts until its 2 hours", ok, "")
    v.advance_clock(840)
    expect(E + "an active session ends after 2 hours -> 401", v.call("GET", "/v1/me", token=tok), 401)
    check(E + "daemon serving", serving(v), "")
    ctx["expiry_check"] = (pid, M)
    # mandate.expire is journaled by the sweeper (every 30 s of real time):
    # finish_expiry() looks at the end of the run, while the other
    # scenarios have used the time.


def finish_expiry(ctx):
    E = "expiry: "
    v = ctx.pop("expiry_vault", None)
    if v is None:
        return
    try:
        if "expiry_check" in ctx:
            pid, M = ctx["expiry_check"]
            deadline = ctx["expiry_started"] + 40
            found = False
            while True:
                paula = v.login("person.paula", "paula secret")
                ev = journal(v, paula, pid)
                found = has_event(ev, "mandate.expire", None, M, anonymous=False)
                if found or time.time() > deadline:
                    break
                time.sleep(1)
            check(E + "the person's journal lists mandate.expire (sweeper, within 40 s)", found,
                  "no mandate.expire for %s" % M)
            s, b, _ = docs_of(v, v.login("aidant.alice", "aidant secret 123"), pid)
            expect(E + "after the sweep the aidant's list is still refused", (s, b, _), 403)
        check(E + "headers on every answer", not v.header_faults, "; ".join(v.header_faults[:3]))
    finally:
        v.stop()


# ---- 3: limits and bad input ------------------------------------------------------


def unchanged(v, token, pid, ids0, use0):
    ids, use = doc_ids(v, token, pid), usage(v, token)
    return ids == ids0 and use == use0, "documents %d->%d, usage %d->%d" % (
        len(ids0), len(ids), use0, use)


def scenario_limits(build, work, ctx):
    M = "limits: "
    v = TVault(build, os.path.join(work, "limits"),
               extra_args=["--max-document-size", "20000", "--quota", "60000"])
    with v:
        admin = v.admin()
        sid = v.structure(admin)
        aid, alice = v.aidant(admin, sid, "aidant.alice")
        pid, paula, _ = new_person(v, alice, "person.paula", "paula secret")
        s, b, _ = v.deposit(paula, pid, os.urandom(15000), category="tax")
        expect(M + "a paper under the size limit -> 201", (s, b, _), 201)
        ids0, use0 = doc_ids(v, paula, pid), usage(v, paula)

        def still(label):
            ok, d = unchanged(v, paula, pid, ids0, use0)
            check(M + label + ": nothing stored", ok, d)
            check(M + label + ": daemon still serving", serving(v), "")

        # over-size
        big = os.urandom(20001)
        expect(M + "over-size (Content-Length) -> 413", v.deposit(paula, pid, big), 413)
        still("over-size")
        r = raw_call(v, "POST", deposit_path(pid), {"Authorization": "Bearer " + paula,
                     "Transfer-Encoding": "chunked", "Connection": "close"},
                     [chunked(os.urandom(25000))])
        expect(M + "over-size (chunked, no length) -> 413", r, 413)
        still("over-size chunked")
        s, b, _ = v.deposit(paula, pid, os.urandom(20000), category="tax")
        expect(M + "exactly the size limit -> 201", (s, b, _), 201)
        s, b, _ = v.deposit(paula, pid, os.urandom(20000), category="tax")
        expect(M + "up to 55000 of 60000 bytes -> 201", (s, b, _), 201)
        ids0, use0 = doc_ids(v, paula, pid), usage(v, paula)
        check(M + "usage_bytes is 55000", use0 == 55000, "%d" % use0)
        expect(M + "over quota (Content-Length) -> 507", v.deposit(paula, pid, os.urandom(6000)), 507)
        still("over-quota")
        r = raw_call(v, "POST", deposit_path(pid), {"Authorization": "Bearer " + paula,
                     "Transfer-Encoding": "chunked", "Connection": "close"},
                     [chunked(os.urandom(6000))])
        expect(M + "over quota (chunked) -> 507", r, 507)
        still("over-quota chunked")
        s, b, _ = v.deposit(paula, pid, os.urandom(5000), category="tax")
        expect(M + "exactly up to the quota -> 201", (s, b, _), 201)
        s, me, _ = v.call("GET", "/v1/me", token=paula)
        check(M + "/v1/me shows usage_bytes = quota_bytes = 60000",
              me.get("usage_bytes") == 60000 and me.get("quota_bytes") == 60000, short(me))
        expect(M + "aidant deposit into a full vault -> 507 (with mandate)",
               (lambda: (v.mandate(paula, pid, aid, ["deposit"], ["tax"]),
                         v.deposit(alice, pid, b"x" * 10, category="tax"))[1])(), 507)

        # two uploads that each fit alone but not together
        qid, quentin, _ = new_person(v, alice, "person.quentin", "quentin secret")
        for _ in range(2):
            v.deposit(quentin, qid, os.urandom(20000), category="tax")
        q_ids0, q_use0 = doc_ids(v, quentin, qid), usage(v, quentin)
        socks, results = [], [None, None]
        datas = [os.urandom(15000), os.urandom(15000)]
        for i in range(2):
            sk = socket.create_connection((v.host, v.port), timeout=30)
            sk.sendall(head_bytes(v, "POST", deposit_path(qid, title="Q%d" % i, category="tax"),
                                  {"Authorization": "Bearer " + quentin, "Content-Length": "15000",
                                   "Connection": "close"}) + datas[i][:1000])
            socks.append(sk)
        time.sleep(0.3)
        for i, sk in enumerate(socks):
            sk.sendall(datas[i][1000:])
        for i, sk in enumerate(socks):
            try:
                results[i] = read_response(sk)[0]
            except (OSError, http.client.HTTPException) as e:
                results[i] = repr(e)
            sk.close()
        check(M + "two concurrent uploads past the quota together: one 201, one 507",
              sorted(map(str, results)) == ["201", "507"], short(results))
        q_use = usage(v, quentin)
        check(M + "... and usage stays within the quota",
              q_use <= 60000 and len(doc_ids(v, quentin, qid)) == len(q_ids0) +
              results.count(201), "usage %d" % q_use)

        # bad metadata on upload
        rid, rosa, _ = new_person(v, alice, "person.rosa", "rosa secret")
        r_ids0, r_use0 = doc_ids(v, rosa, rid), usage(v, rosa)

        def rstill(label):
            ok, d = unchanged(v, rosa, rid, r_ids0, r_use0)
            check(M + label + ": nothing stored", ok, d)

        for label, params, want, code in (
                ("unknown category", {"title": "T", "category": "food"}, 400, "bad_category"),
                ("missing category", {"title": "T"}, 400, "bad_category"),
                ("missing title", {"category": "tax"}, 400, None),
                ("title over 200 bytes", {"title": "é" * 101, "category": "tax"}, 400, None),
                ("issued 2026-02-30", {"title": "T", "category": "tax", "issued": "2026-02-30"}, 400, "bad_date"),
                ("expires 2025-02-29", {"title": "T", "category": "tax", "expires": "2025-02-29"}, 400, "bad_date"),
                ("issued 2026-13-01", {"title": "T", "category": "tax", "issued": "2026-13-01"}, 400, "bad_date"),
                ("issued 2026-1-01", {"title": "T", "category": "tax", "issued": "2026-1-01"}, 400, "bad_date"),
                ("issued 01/02/2026", {"title": "T", "category": "tax", "issued": "01/02/2026"}, 400, "bad_date")):
            r = v.call("POST", "/v1/persons/%s/documents?%s" % (rid, urlencode(params)),
                       raw=b"some bytes", token=rosa)
            expect(M + "upload with %s -> %d" % (label, want), r, want, code)
        rstill("bad upload metadata")
        r = safe_call(v, "POST", "/v1/persons/%s/documents?title=%%FF%%FEbad&category=tax" % rid,
                      raw=b"not utf-8 title", token=rosa)
        expect(M + "upload with a title that is not UTF-8 -> 400", r, 400)
        rstill("title not UTF-8")
        check(M + "title not UTF-8: every paper still listed (no ghost)",
              usage(v, rosa) == sum(d["size"] for d in docs_of(v, rosa, rid)[1]["documents"]),
              "usage %d" % usage(v, rosa))
        s, b, _ = v.deposit(rosa, rid, b"leap", category="tax", issued="2024-02-29")
        check(M + "issued 2024-02-29 (leap year) accepted", s == 201 and b.get("issued") == "2024-02-29",
              "%s %s" % (s, short(b)))
        r_ids0, r_use0 = doc_ids(v, rosa, rid), usage(v, rosa)

        # a refused upload on a kept-alive connection: the body it did not
        # read must not be taken for the next request
        body = b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n" + os.urandom(25000)
        sk = socket.create_connection((v.host, v.port), timeout=10)
        answers = []
        try:
            sk.sendall(head_bytes(v, "POST", deposit_path(rid, category="tax"),
                                  {"Authorization": "Bearer " + rosa,
                                   "Content-Length": str(len(body))}) + body +
                       head_bytes(v, "GET", "/v1/me", {"Authorization": "Bearer " + rosa}))
            for _ in range(2):
                answers.append(read_response(sk))
        except (OSError, http.client.HTTPException):
            pass
        sk.close()
        check(M + "kept-alive connection: over-size refused with 413",
              answers and answers[0][0] == 413, short([a[:2] for a in answers]))
        check(M + "kept-alive connection: the refused body is not read as a request",
              len(answers) == 1 or (answers[1][0] == 200 and isinstance(answers[1][1], dict)
                                    and answers[1][1].get("account_id") == rid),
              short([a[:2] for a in answers]))
        rstill("kept-alive over-size")
        # Expect: 100-continue, as curl sends it
        data = os.urandom(12000)
        sk = socket.create_connection((v.host, v.port), timeout=10)
        try:
            sk.sendall(head_bytes(v, "POST", deposit_path(rid, category="tax"),
                                  {"Authorization": "Bearer " + rosa, "Content-Length": str(len(data)),
                                   "Expect": "100-continue", "Connection": "close"}))
            interim = sk.recv(64)
            sk.sendall(data)
            r = read_response(sk)
        except (OSError, http.client.HTTPException) as e:
            interim, r = b"", (None, repr(e), {})
        sk.close()
        check(M + "Expect: 100-continue gets 100 Continue, then 201",
              interim.startswith(b"HTTP/1.1 100") and r[0] == 201 and
              r[1].get("sha256") == hashlib.sha256(data).hexdigest(), "%r %s" % (interim[:20], r[0]))
        r_ids0, r_use0 = doc_ids(v, rosa, rid), usage(v, rosa)
        sk = socket.create_connection((v.host, v.port), timeout=10)
        try:
            sk.sendall(head_bytes(v, "POST", deposit_path(rid, category="tax"),
                                  {"Authorization": "Bearer " + rosa, "Content-Length": "50000",
                                   "Expect": "100-continue"}))
            r = read_response(sk)
        except (OSError, http.client.HTTPException) as e:
            r = (None, repr(e), {})
        sk.close()
        expect(M + "Expect: 100-continue over the size limit -> 413 before any byte is sent", r, 413)
        rstill("Expect over-size")

        # JSON bodies
        J = "bad JSON: "
        for label, body in (("malformed JSON", b"{\"login\": \"admin\", "),
                            ("JSON array", b"[\"admin\", \"secret\"]"),
                            ("JSON string", b"\"admin\""),
                            ("JSON number", b"42"),
                            ("empty body", b""),
                            ("duplicate keys", b"{\"login\":\"a\",\"login\":\"b\",\"secret\":\"c\"}")):
            r = v.call("POST", "/v1/sessions", raw=body, headers={"Content-Type": "application/json"})
            expect(J + "log-in with %s -> 400" % label, r, 400)
        r = v.call("POST", "/v1/persons/%s/mandates" % rid, raw=b"{nope", token=rosa,
                   headers={"Content-Type": "application/json"})
        expect(J + "mandate with malformed JSON -> 400", r, 400)
        r = v.call("POST", "/v1/persons/%s/mandates" % rid, raw=b"[]", token=rosa,
                   headers={"Content-Type": "application/json"})
        expect(J + "mandate with a JSON array -> 400", r, 400)
        s, b, _ = v.call("GET", "/v1/persons/%s/mandates" % rid, token=rosa)
        check(J + "... no mandate stored", s == 200 and b.get("mandates") == [], short(b))
        pad = 4096 - len(json.dumps({"login": "admin", "pad": ""}).encode())
        exact = json.dumps({"login": "admin", "pad": "p" * pad}).encode()
        r = v.call("POST", "/v1/sessions", raw=exact, headers={"Content-Type": "application/json"})
        check(J + "anonymous body of exactly 4096 bytes is read (400, not 413)",
              len(exact) == 4096 and r[0] == 400, "%s %s" % (r[0], short(r[1])))
        r = raw_call(v, "POST", "/v1/sessions", {"Content-Type": "application/json",
                     "Transfer-Encoding": "chunked", "Connection": "close"}, [chunked(exact, 1000)])
        check(J + "anonymous chunked body of exactly 4096 bytes is read (400, not 413)",
              r[0] == 400, "%s %s" % (r[0], short(r[1])))
        anon = json.dumps({"login": "admin", "secret": "x" * 5000}).encode()
        expect(J + "anonymous body > 4 KiB (Content-Length) -> 413",
               v.call("POST", "/v1/sessions", raw=anon, headers={"Content-Type": "application/json"}), 413)
        r = raw_call(v, "POST", "/v1/sessions", {"Content-Type": "application/json",
                     "Transfer-Encoding": "chunked", "Connection": "close"}, [chunked(anon, 1000)])
        expect(J + "anonymous body > 4 KiB (chunked) -> 413", r, 413)
        small = json.dumps({"name": "S" * 5000}).encode()
        r = v.call("POST", "/v1/structures", raw=small, token=admin,
                   headers={"Content-Type": "application/json"})
        check(J + "a 5 KB body with a session is read (not 413)",
              r[0] != 413 and is_error(r[1]) or r[0] == 201, "%s %s" % (r[0], short(r[1])))
        huge = json.dumps({"name": "S" * 70000}).encode()
        expect(J + "body > 64 KiB with a session (Content-Length) -> 413",
               v.call("POST", "/v1/structures", raw=huge, token=admin,
                      headers={"Content-Type": "application/json"}), 413)
        r = raw_call(v, "POST", "/v1/structures", {"Content-Type": "application/json",
                     "Authorization": "Bearer " + admin, "Transfer-Encoding": "chunked",
                     "Connection": "close"}, [chunked(huge, 8192)])
        expect(J + "body > 64 KiB with a session (chunked) -> 413", r, 413)
        huge_m = json.dumps({"aidant_id": aid, "scopes": ["read"], "categories": ["tax"],
                             "duration_days": 1, "pad": "p" * 70000}).encode()
        expect(J + "mandate body > 64 KiB -> 413",
               v.call("POST", "/v1/persons/%s/mandates" % rid, raw=huge_m, token=rosa,
                      headers={"Content-Type": "application/json"}), 413)
        s, b, _ = v.call("GET", "/v1/persons/%s/mandates" % rid, token=rosa)
        check(J + "... no mandate stored", s == 200 and b.get("mandates") == [], short(b))
        check(J + "daemon still serving", serving(v), "")
        rstill("bad JSON")

        # headers
        Hh = "headers: "
        r = v.call("GET", "/v1/me", token=rosa, headers={"X-Filler": "f" * 20000})
        expect(Hh + "a 20 KB header -> 431", r, 431)
        try:
            # MHD's own refusal: not ours to dress (no header check)
            s, b, _ = Vault.call(v, "GET", "/v1/health", headers={"X-Filler": "f" * 300000})
            check(Hh + "a 300 KB header is refused", s >= 400, "%s" % s)
        except (OSError, http.client.HTTPException):
            check(Hh + "a 300 KB header is refused (connection dropped)", True)
        check(Hh + "after over-long headers the daemon still serves", serving(v), "")
        r = v.call("POST", deposit_path(rid, category="tax"), raw=b"hdr", token=rosa,
                   headers={"X-Filler": "f" * 20000, "Content-Type": "text/plain"})
        expect(Hh + "an upload with a 20 KB header -> 431", r, 431)
        rstill("over-long headers")
        check(M + "headers on every answer", not v.header_faults, "; ".join(v.header_faults[:3]))


def scenario_uploads(build, work, ctx):
    U = "uploads: "
    v = TVault(build, os.path.join(work, "uploads"),
               extra_args=["--max-uploads", "1", "--self-enrolment"])
    with v:
        admin = v.admin()
        sid = v.structure(admin)
        aid, alice = v.aidant(admin, sid, "aidant.alice")
        pid, paula, _ = new_person(v, alice, "person.paula", "paula secret")
        v.deposit(paula, pid, os.urandom(1000), category="tax")
        ids0, use0 = doc_ids(v, paula, pid), usage(v, paula)
        blobs0 = count_files(v.data)
        # an upload cut off mid-stream
        upload_line = re.compile(r"^POST /v1/persons/\{\}/documents \d{3} ", re.M)
        time.sleep(0.3)  # the log lines of the requests before
        n_lines = len(upload_line.findall(v.read_log()))
        sk = socket.create_connection((v.host, v.port), timeout=10)
        sk.sendall(head_bytes(v, "POST", deposit_path(pid, title="Cut"),
                              {"Authorization": "Bearer " + paula, "Content-Length": "100000",
                               "Content-Type": "application/pdf"}) + os.urandom(5000))
        time.sleep(0.2)
        sk.close()
        deadline = time.time() + 5
        while len(upload_line.findall(v.read_log())) == n_lines and time.time() < deadline:
            time.sleep(0.05)
        check(U + "upload cut off mid-stream: the daemon saw it end (one log line)",
              len(upload_line.findall(v.read_log())) == n_lines + 1, "")
        ok, d = unchanged(v, paula, pid, ids0, use0)
        check(U + "upload cut off mid-stream: nothing stored", ok, d)
        check(U + "upload cut off mid-stream: no file left in the data directory",
              count_files(v.data) <= blobs0, "%d files, were %d" % (count_files(v.data), blobs0))
        check(U + "upload cut off mid-stream: daemon still serving", serving(v), "")
        s, b, _ = v.deposit(paula, pid, b"after the cut", category="tax")
        expect(U + "the next upload gets the slot back -> 201", (s, b, _), 201)
        ids0, use0 = doc_ids(v, paula, pid), usage(v, paula)
        # one upload held open: the next one is refused
        first = os.urandom(30000)
        sk = socket.create_connection((v.host, v.port), timeout=30)
        sk.sendall(head_bytes(v, "POST", deposit_path(pid, title="Held", category="tax"),
                              {"Authorization": "Bearer " + paula, "Content-Length": str(len(first)),
                               "Content-Type": "application/pdf", "Connection": "close"}) + first[:1000])
        time.sleep(0.3)
        second = v.deposit(paula, pid, os.urandom(3000), category="tax")
        expect(U + "a second upload while one is open (--max-uploads 1) -> 429", second, 429,
               "too_many_uploads")
        sk.sendall(first[1000:])
        try:
            r = read_response(sk)
        except (OSError, http.client.HTTPException) as e:
            r = (None, repr(e), {})
        sk.close()
        expect(U + "the held upload completes -> 201", r, 201)
        ids = doc_ids(v, paula, pid)
        check(U + "only the held upload was stored",
              len(ids) == len(ids0) + 1 and usage(v, paula) == use0 + len(first),
              "documents %d->%d" % (len(ids0), len(ids)))
        if r[0] == 201:
            s, b, _ = v.call("GET", "/v1/persons/%s/documents/%s/content" % (pid, r[1]["document_id"]),
                             token=paula)
            check(U + "the held upload's bytes are intact", s == 200 and b == first, "%s" % s)
        expect(U + "after it, uploads are accepted again -> 201",
               v.deposit(paula, pid, b"next", category="tax"), 201)
        # self-enrolment
        Se = "self-enrolment: "
        s, b, _ = v.call("POST", "/v1/persons", {"login": "person.self", "display_name": "Self",
                                                 "secret": "my own secret"})
        expect(Se + "anonymous POST /v1/persons with a secret -> 201", (s, b, _), 201)
        check(Se + "answers {person_id, recovery_code}", is_id(b.get("person_id")) and
              isinstance(b.get("recovery_code"), str) and "activation_code" not in b, short(b))
        tok = v.login("person.self", "my own secret")
        s, me, _ = v.call("GET", "/v1/me", token=tok)
        check(Se + "she logs in with her secret", me.get("account_id") == b.get("person_id"), short(me))
        expect(Se + "without a secret -> 400",
               v.call("POST", "/v1/persons", {"login": "person.self2", "display_name": "S"}), 400)
        expect(Se + "an aidant still may not send a secret -> 400",
               v.call("POST", "/v1/persons", {"login": "person.self3", "display_name": "S",
                                              "secret": "x"}, token=alice), 400)
        check(U + "headers on every answer", not v.header_faults, "; ".join(v.header_faults[:3]))


def count_files(root):
    n = 0
    for _, _, fs in os.walk(root):
        n += len(fs)
    return n


# ---- 4: fifty deposits at once ---------------------------------------------------------


def scenario_concurrent(build, work, ctx):
    K = "concurrency: "
    v = TVault(build, os.path.join(work, "concurrent"),
               extra_args=["--max-uploads", "64", "--max-connections", "128",
                           "--max-connections-per-address", "128"])
    with v:
        admin = v.admin()
        sid = v.structure(admin)
        aid, alice = v.aidant(admin, sid, "aidant.alice")
        pid, paula, _ = new_person(v, alice, "person.paula", "paula secret")
        n = 50
        datas = [os.urandom(1000 + 997 * i) for i in range(n)]
        results = [None] * n
        barrier = threading.Barrier(n)

        def one(i):
            try:
                barrier.wait(10)
                results[i] = Vault.call(v, "POST", deposit_path(pid, title="Doc %02d" % i,
                                        category=CATEGORIES[i % len(CATEGORIES)]),
                                        raw=datas[i], token=paula,
                                        headers={"Content-Type": "application/octet-stream"})
            except Exception as e:  # noqa: BLE001
                results[i] = (None, repr(e), {})

        ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        t0 = time.time()
        for t in ts:
            t.start()
        for t in ts:
            t.join(60)
        took = time.time() - t0
        statuses = [r[0] if r else None for r in results]
        check(K + "50 concurrent deposits all answer 201 (%.1fs)" % took,
              statuses == [201] * n, "statuses %s" % sorted(set(map(str, statuses))))
        s, b, _ = docs_of(v, paula, pid)
        docs = b.get("documents", []) if s == 200 else []
        check(K + "50 documents listed", len(docs) == n, "%d listed" % len(docs))
        by_title = {d["title"]: d for d in docs}
        bad = []
        for i in range(n):
            d = by_title.get("Doc %02d" % i)
            if d is None:
                bad.append("%d missing" % i)
                continue
            if d["sha256"] != hashlib.sha256(datas[i]).hexdigest() or d["size"] != len(datas[i]):
                bad.append("%d metadata" % i)
                continue
            s, got, _ = v.call("GET", "/v1/persons/%s/documents/%s/content" % (pid, d["document_id"]),
                               token=paula)
            if s != 200 or got != datas[i] or hashlib.sha256(got).hexdigest() != d["sha256"]:
                bad.append("%d content (%s)" % (i, s))
        check(K + "each downloaded back with its bytes and sha256", not bad, ", ".join(bad[:8]))
        check(K + "usage_bytes is the sum of the 50 sizes",
              usage(v, paula) == sum(map(len, datas)), "%d" % usage(v, paula))
        ev = journal(v, paula, pid)
        check(K + "50 document.deposit events in the journal",
              sum(1 for e in ev if e["action"] == "document.deposit") == n, "")


# ---- 5: log-in, locks ------------------------------------------------------------


def scenario_login(build, work, ctx):
    G = "log-in: "
    v = TVault(build, os.path.join(work, "login"),
               extra_args=["--lock-after", "3", "--lock-minutes", "2",
                           "--argon2-concurrency", "8",
                           # the per-address throttle is another check's:
                           # here every attempt comes from 127.0.0.1
                           "--address-failures", "1000"])
    with v:
        admin = v.admin()
        sid = v.structure(admin)
        aid, alice = v.aidant(admin, sid, "aidant.alice")
        pid, paula, _ = new_person(v, alice, "person.paula", "paula secret")
        unknown = v.call("POST", "/v1/sessions", {"login": "person.nobody", "secret": "paula secret"})
        wrong = v.call("POST", "/v1/sessions", {"login": "person.paula", "secret": "wrong secret"})
        expect(G + "unknown login -> 401", unknown, 401)
        expect(G + "wrong secret -> 401", wrong, 401)
        check(G + "wrong secret and unknown login: same status and same body",
              unknown[0] == wrong[0] and unknown[1] == wrong[1], "%s vs %s" % (short(unknown[1]),
                                                                             short(wrong[1])))
        badform = v.call("POST", "/v1/sessions", {"login": "NO SUCH LOGIN!", "secret": "x"})
        check(G + "an impossible login: same answer too", badform[:2] == wrong[:2], short(badform[1]))
        enrol(v, alice, "person.pending")
        pending = v.call("POST", "/v1/sessions", {"login": "person.pending", "secret": "x"})
        check(G + "a login enrolled but not yet activated: same answer too",
              pending[:2] == wrong[:2], short(pending[1]))
        w2 = v.call("POST", "/v1/sessions", {"login": "person.paula", "secret": "wrong 2"})
        w3 = v.call("POST", "/v1/sessions", {"login": "person.paula", "secret": "wrong 3"})
        check(G + "2nd and 3rd failures: same answer", w2[:2] == wrong[:2] and w3[:2] == wrong[:2],
              short(w3[1]))
        locked = v.call("POST", "/v1/sessions", {"login": "person.paula", "secret": "paula secret"})
        check(G + "after 3 failures (--lock-after 3) the right secret is refused, same answer",
              locked[:2] == wrong[:2], "%s %s" % (locked[0], short(locked[1])))
        ev = journal(v, paula, pid)
        check(G + "the person's journal shows session.locked", has_event(ev, "session.locked"),
              short([e["action"] for e in ev]))
        check(G + "the person's journal shows 3 session.login_failed",
              sum(1 for e in ev if e["action"] == "session.login_failed") >= 3, "")
        check(G + "the refused right secret is journaled as a failed log-in (locked)",
              sum(1 for e in ev if e["action"] == "session.login_failed") >= 4, "")
        v.advance_clock(60)
        still = v.call("POST", "/v1/sessions", {"login": "person.paula", "secret": "paula secret"})
        check(G + "one minute later, still locked", still[:2] == wrong[:2], "%s" % still[0])
        v.advance_clock(61 + 60)
        s, b, _ = v.call("POST", "/v1/sessions", {"login": "person.paula", "secret": "paula secret"})
        expect(G + "after the lock (--lock-minutes 2) the right secret works -> 201", (s, b, _), 201)
        # wrong secrets sent in parallel must lock just the same (this
        # instance lets 8 Argon2id evaluations run at once)
        unlocked, statuses = [], []
        for rnd in range(3):
            alice = v.login("aidant.alice", "aidant secret 123")
            login = "person.pablo%d" % rnd
            new_person(v, alice, login, "pablo secret")
            res = []
            barrier = threading.Barrier(8)

            def guess(i, login=login, res=res, barrier=barrier):
                try:
                    barrier.wait(10)
                    res.append(Vault.call(v, "POST", "/v1/sessions", {"login": login,
                                          "secret": "guess %d" % i})[0])
                except Exception as e:  # noqa: BLE001
                    res.append(repr(e))
            ts = [threading.Thread(target=guess, args=(i,)) for i in range(8)]
            for t in ts:
                t.start()
            for t in ts:
                t.join(30)
            statuses += res
            r = v.call("POST", "/v1/sessions", {"login": login, "secret": "pablo secret"})
            if r[:2] != wrong[:2]:
                unlocked.append("round %d: %s" % (rnd, r[0]))
            v.advance_clock(16 * 60)  # past the lock and the address's count
        check(G + "3 x 8 parallel wrong secrets -> all 401", statuses == [401] * 24,
              short(sorted(set(map(str, statuses)))))
        check(G + "after 8 parallel wrong secrets (--lock-after 3) the account is locked: "
              "the right secret is refused (3 rounds)", not unlocked,
              "right secret accepted in %s" % ", ".join(unlocked))
        check(G + "headers on every answer", not v.header_faults, "; ".join(v.header_faults[:3]))
    # throttling by address, with the default allowance: 10 failures free,
    # then 429; a success in between does not clear the count
    v2 = TVault(build, os.path.join(work, "login-throttle"))
    with v2:
        admin = v2.admin()
        s429 = None
        for i in range(14):
            if i == 5:
                v2.admin()  # a success in the middle
            r = v2.call("POST", "/v1/sessions", {"login": "person.x%d" % i, "secret": "x"})
            if r[0] == 429:
                s429 = r
                break
        check(G + "many failures from one address -> 429 JSON with Retry-After",
              s429 is not None and is_error(s429[1]) and "retry-after" in s429[2],
              "no 429 after 14 failures" if s429 is None else short(s429[1]))


# ---- 8: HTTPS, and plain HTTP only on loopback ------------------------------------


def scenario_tls(build, work, ctx):
    T = "https: "
    v = TVault(build, os.path.join(work, "tls"), extra_args=["--tls"])
    crt, key = os.path.join(v.data, "tls.crt"), os.path.join(v.data, "tls.key")
    check(T + "vaultctl init made tls.crt and tls.key", os.path.isfile(crt) and os.path.isfile(key), "")
    if os.path.isfile(key):
        check(T + "tls.key is private (0600)", (os.stat(key).st_mode & 0o077) == 0,
              oct(os.stat(key).st_mode))
    with v:
        c = ssl.create_default_context(cafile=crt)
        c.check_hostname = True
        try:
            conn = http.client.HTTPSConnection("127.0.0.1", v.port, context=c, timeout=10)
            conn.request("GET", "/v1/health")
            r = conn.getresponse()
            body = json.loads(r.read() or b"null")
            hdrs = {k.lower(): x for k, x in r.getheaders()}
            conn.close()
            check(T + "GET /v1/health over HTTPS, certificate verified for 127.0.0.1 -> 200 ok",
                  r.status == 200 and body == {"status": "ok"}, "%s %s" % (r.status, short(body)))
            check(T + "HTTPS answers carry no-store, nosniff and HSTS",
                  hdrs.get("cache-control") == "no-store" and hdrs.get("x-content-type-options")
                  == "nosniff" and "strict-transport-security" in hdrs, short(hdrs))
            conn = http.client.HTTPSConnection("127.0.0.1", v.port, context=c, timeout=10)
            conn.request("POST", "/v1/sessions", body=json.dumps(
                {"login": "admin", "secret": v.admin_secret}),
                headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            b = json.loads(r.read())
            conn.close()
            check(T + "log-in over HTTPS -> 201", r.status == 201 and "token" in b, "%s" % r.status)
        except (OSError, ssl.SSLError, ValueError) as e:
            check(T + "GET /v1/health over HTTPS", False, repr(e))
        try:
            conn = http.client.HTTPSConnection("127.0.0.1", v.port, timeout=10,
                                               context=ssl.create_default_context())
            conn.request("GET", "/v1/health")
            conn.getresponse()
            check(T + "a client that does not trust the certificate is refused", False, "accepted")
        except (ssl.SSLError, OSError):
            check(T + "a client that does not trust the certificate is refused", True)
        try:
            s, b, _ = Vault.call(v, "GET", "/v1/health")
            check(T + "plain HTTP to the HTTPS port gets no answer", s != 200, "%s" % s)
        except (OSError, http.client.HTTPException):
            check(T + "plain HTTP to the HTTPS port gets no answer", True)
    for listen in ("0.0.0.0:0", "[::]:0"):
        try:
            p = subprocess.run([os.path.join(build, "vaultd"), "--data-dir", v.data,
                                "--listen", listen, "--test-clock-file", v.clock_path] + FAST,
                               capture_output=True, text=True, timeout=15)
            rc, err = p.returncode, p.stderr
        except subprocess.TimeoutExpired:
            rc, err = "still running", ""
        check(T + "plain HTTP on %s (not loopback) refused at start: exit 2" % listen,
              rc == 2 and "listening on" not in err, "exit %s" % rc)


# ---- 9: SIGTERM -------------------------------------------------------------------


def scenario_sigterm(build, work, ctx):
    Z = "sigterm: "
    v = TVault(build, os.path.join(work, "sigterm"))
    v.start()
    try:
        admin = v.admin()
        sid = v.structure(admin)
        aid, alice = v.aidant(admin, sid, "aidant.alice")
        pid, paula, _ = new_person(v, alice, "person.paula", "paula secret")
        s, d0, _ = v.deposit(paula, pid, b"before", category="tax")
        ids0, use0 = doc_ids(v, paula, pid), usage(v, paula)
        data = os.urandom(300000)
        sk = socket.create_connection((v.host, v.port), timeout=30)
        sk.sendall(head_bytes(v, "POST", deposit_path(pid, title="In flight", category="tax"),
                              {"Authorization": "Bearer " + paula, "Content-Length": str(len(data)),
                               "Content-Type": "application/pdf", "Connection": "close"})
                   + data[:100000])
        time.sleep(0.3)
        v.proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        try:
            sk.sendall(data[100000:])
            r = read_response(sk)
        except (OSError, http.client.HTTPException) as e:
            r = (None, repr(e), {})
        sk.close()
        t0 = time.time()
        rc = v.wait_exit(40)
        check(Z + "vaultd exits 0 on SIGTERM (in %.1fs)" % (time.time() - t0), rc == 0, "exit %s" % rc)
        check(Z + "the deposit in flight is answered 201 or refused",
              r[0] in (201, None) or (r[0] >= 400 and is_error(r[1])), "%s %s" % (r[0], short(r[1])))
        v.start()
        paula = v.login("person.paula", "paula secret")
        ids, use = doc_ids(v, paula, pid), usage(v, paula)
        if r[0] == 201:
            did = r[1].get("document_id")
            s, got, _ = v.call("GET", "/v1/persons/%s/documents/%s/content" % (pid, did), token=paula)
            check(Z + "answered 201: after restart the document is there, whole",
                  did in ids and s == 200 and got == data and use == use0 + len(data),
                  "listed %s, status %s" % (did in ids, s))
        else:
            check(Z + "refused: after restart nothing of it is stored",
                  ids == ids0 and use == use0, "documents %d->%d" % (len(ids0), len(ids)))
        s, got, _ = v.call("GET", "/v1/persons/%s/documents/%s/content" % (pid, d0["document_id"]),
                           token=paula)
        check(Z + "earlier papers intact after restart", s == 200 and got == b"before", "%s" % s)
        # a deposit whose client goes away after SIGTERM
        ids0, use0 = ids, use
        sk = socket.create_connection((v.host, v.port), timeout=30)
        sk.sendall(head_bytes(v, "POST", deposit_path(pid, title="Abandoned", category="tax"),
                              {"Authorization": "Bearer " + paula, "Content-Length": "300000",
                               "Content-Type": "application/pdf"}) + data[:50000])
        time.sleep(0.3)
        v.proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        sk.close()
        t0 = time.time()
        rc = v.wait_exit(40)
        took = time.time() - t0
        check(Z + "client gone after SIGTERM: vaultd exits 0 (in %.1fs)" % took, rc == 0, "exit %s" % rc)
        check(Z + "client gone after SIGTERM: exit within 10 s", took < 10, "%.1fs" % took)
        v.start()
        paula = v.login("person.paula", "paula secret")
        ok, d = unchanged(v, paula, pid, ids0, use0)
        check(Z + "client gone after SIGTERM: nothing stored", ok, d)
        check(Z + "serving after restart", serving(v), "")
    finally:
        v.stop()


# ---- routes of this build ---------------------------------------------------------------


DESIGN_ROUTES = """POST /v1/sessions
DELETE /v1/sessions/current
GET /v1/me
POST /v1/persons
POST /v1/activate
POST /v1/recover
POST /v1/structures
POST /v1/structures/{}/aidants
POST /v1/persons/{}/documents
GET /v1/persons/{}/documents
GET /v1/persons/{}/documents/{}
GET /v1/persons/{}/documents/{}/content
DELETE /v1/persons/{}/documents/{}
GET /v1/persons/{}/documents/{}/timestamp
GET /v1/persons/{}/documents/{}/receipt
GET /v1/persons/{}/export
POST /v1/persons/{}/mandates
GET /v1/persons/{}/mandates
DELETE /v1/persons/{}/mandates/{}
GET /v1/aidants/me/mandates
POST /v1/persons/{}/documents/{}/shares
GET /v1/shares/{}
DELETE /v1/persons/{}/shares/{}
GET /v1/persons/{}/journal
GET /v1/journal
GET /v1/journal/checkpoint
POST /v1/journal/checkpoint
POST /v1/auditors
GET /v1/journal/entries/{}
GET /v1/journal/proof/inclusion
GET /v1/journal/proof/consistency
GET /v1/tsa/certificates
GET /v1/instance/keys
GET /v1/health"""


def scenario_routes(build, work, ctx):
    p = subprocess.run([os.path.join(build, "vaultd"), "--routes"], capture_output=True,
                       text=True, timeout=10)
    have = set(l.strip() for l in p.stdout.splitlines())
    missing = [r for r in DESIGN_ROUTES.splitlines() if r not in have]
    check("routes: vaultd --routes lists every route of DESIGN.md", p.returncode == 0 and not missing,
          "missing: %s" % ", ".join(missing))


# ---- main ---------------------------------------------------------------------------------


def main():
    if len(sys.argv) != 3:
        print("usage: api_test.py BUILD_DIR WORKDIR", file=sys.stderr)
        return 2
    build, work = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    for exe in ("vaultd", "vaultctl"):
        if not os.access(os.path.join(build, exe), os.X_OK):
            print("api_test.py: no %s in %s" % (exe, build), file=sys.stderr)
            return 2
    os.makedirs(work, exist_ok=True)
    ctx = {"workdir": work, "tmpdir": tempfile.gettempdir()}
    t0 = time.time()
    scenarios = [("routes", scenario_routes), ("main", scenario_main),
                 ("expiry", scenario_expiry), ("limits", scenario_limits),
                 ("uploads", scenario_uploads), ("concurrency", scenario_concurrent),
                 ("log-in", scenario_login), ("https", scenario_tls),
                 ("sigterm", scenario_sigterm)]
    only = os.environ.get("API_TEST_ONLY")
    for name, fn in scenarios:
        if only and name not in only.split(","):
            continue
        ts = time.time()
        try:
            fn(build, work, ctx)
        except Exception as e:  # noqa: BLE001
            tb = traceback.extract_tb(sys.exc_info()[2])[-1]
            check("%s: scenario ran to its end" % name, False,
                  "%s at line %d (%s)" % (repr(e)[:300], tb.lineno, tb.line))
        print("# %s took %.1fs" % (name, time.time() - ts), flush=True)
    try:
        finish_expiry(ctx)
    except Exception as e:  # noqa: BLE001
        tb = traceback.extract_tb(sys.exc_info()[2])[-1]
        check("expiry: scenario ran to its end", False,
              "%s at line %d (%s)" % (repr(e)[:300], tb.lineno, tb.line))
    print("# total %.1fs" % (time.time() - t0))
    print("%d passed, %d failed" % (PASSED, FAILED))
    return 0 if FAILED == 0 and PASSED > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
