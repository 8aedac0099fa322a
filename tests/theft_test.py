#!/usr/bin/python3
"""SECURITY.md section 2, "What each theft yields", line by line: each
theft is done on copies of a real instance's files, and what it yields is
shown. The thief's tool is tests/theft_tool.c: the project's own crypto
(keys.h, blob.h) on the stolen files, no vaultd, no lock-out, no journal.

  the blobs alone         count and sizes, no content; no document key in
                          them
  the database alone      the metadata (logins, categories, sizes); no
                          title, document key or secret key in it; without
                          the pepper even the right secret does not unlock
                          (so no guess can be tested)
  the pepper alone        32 random bytes, nothing else
  database + blobs        vaultd started on the copy with another pepper:
                          the right secret's log-in fails, no document opens;
                          the tool with the right secret: refused
  database + pepper       a wrong secret opens nothing; the right one opens
  (+ blobs)               everything (a short secret falls to guessing);
                          each guess costs one Argon2id evaluation at the
                          account's recorded cost (timed against the
                          evaluation alone), per account (salts differ for
                          the same secret)
  the administrator       no route serves a document or title to the
                          instance administrator (tests/authz_test.py holds
                          the full route x role matrix); no vaultctl
                          command prints or writes one; with the pepper too,
                          the administrator's key opens none of the key
                          wrappings (owner, aidant, share)

(A running server's memory, the last line, is tests/hardening_test.py's.)

usage: theft_test.py BUILD_DIR WORKDIR [THEFT_TOOL]
"""
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import check, finish  # noqa: E402
from vaultd_harness import Vault  # noqa: E402

BUILD, WORK = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
TOOL = os.path.abspath(sys.argv[3]) if len(sys.argv) > 3 else os.path.join(BUILD, "tests", "theft_tool")
# a realistic Argon2id cost, so that a guess's cost can be timed
COST = ["--argon2-ops", "2", "--argon2-mem-kib", "32768"]
PSECRET = "1234"  # short, as people's secrets often are
DOC_MARK = b"DOCUMENT-CANARY-" + os.urandom(8).hex().encode()
TITLE_MARK = "TITLE-CANARY-" + os.urandom(6).hex()


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kw)


def files_under(*roots):
    for root in roots:
        if os.path.isfile(root):
            yield root
        for d, _, fs in os.walk(root):
            for f in fs:
                yield os.path.join(d, f)


def contains(roots, needle):
    """Files (under roots) holding needle (bytes)."""
    hits = []
    for p in files_under(*roots):
        try:
            with open(p, "rb") as f:
                if needle in f.read():
                    hits.append(p)
        except OSError:
            pass
    return hits


def tool_open(db, blobs, pepper, login, secret, out):
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    p = run([TOOL, "open", db, blobs, pepper, login, secret, out])
    opened = dict(re.findall(r"^opened (\S+) (\S+)$", p.stdout, re.M))
    keys = dict(re.findall(r"^dockey (\S+) (\S+)$", p.stdout, re.M))
    sk = re.findall(r"^secretkey (\S+)$", p.stdout, re.M)
    return p, opened, keys, sk


def main():
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    # ---- a real instance: a person with papers, an aidant with a read
    # mandate, a share link, a second person with the same secret
    v = Vault(BUILD, os.path.join(WORK, "live"), extra_args=COST)
    v.start()
    admin = v.admin()
    sid = v.structure(admin)
    aid, atok = v.aidant(admin, sid, "aidant.amina")
    pid, ptok, _ = v.person(atok, "person.karim", secret=PSECRET)
    qid, _, _ = v.person(atok, "person.lina", secret=PSECRET)
    papers = {}
    for i, (cat, size) in enumerate([("identity", 4000), ("residence", 90000)]):
        data = os.urandom(size // 2) + DOC_MARK + os.urandom(size // 2)
        s, b, _ = v.deposit(ptok, pid, data, category=cat, title="%s %d" % (TITLE_MARK, i))
        assert s == 201, (s, b)
        papers[b["document_id"]] = data
    d1 = sorted(papers)[0]
    assert v.mandate(ptok, pid, aid, ["read"], ["identity"])[0] == 201
    s, share, _ = v.call("POST", "/v1/persons/%s/documents/%s/shares" % (pid, d1),
                         {"expires_in_hours": 24, "max_downloads": 3}, token=ptok)
    assert s == 201, (s, share)
    s, receipt, _ = v.call("GET", "/v1/persons/%s/documents/%s/receipt" % (pid, d1), token=ptok)
    assert s == 200, (s, receipt)
    routes = run([os.path.join(BUILD, "vaultd"), "--routes"]).stdout.split("\n")

    # ---- the administrator, online: every route with the person's ids
    leaks, served = [], []
    ids = {"persons": pid, "documents": d1, "mandates": "0" * 32, "shares": share["share_id"],
           "structures": sid, "entries": "0", "checkpoints": "1"}
    for line in routes:
        if not line.strip():
            continue
        method, pattern = line.split()
        if method == "DELETE":
            continue  # destructive, and no DELETE answers a document
        parts = pattern.split("/")
        path = "/".join(ids.get(parts[i - 1], "x") if p == "{}" else p
                        for i, p in enumerate(parts))
        if pattern == "/v1/shares/{}":
            path = "/v1/shares/" + share["url"].rsplit("/", 1)[1]
            continue  # a share link serves its holder, whoever he is: not the admin's route
        body = {} if method == "POST" else None
        s, b, _ = v.call(method, path, body=body, token=admin)
        raw = b if isinstance(b, bytes) else json.dumps(b).encode()
        if DOC_MARK in raw or TITLE_MARK.encode() in raw:
            leaks.append("%s %s" % (method, pattern))
        if "/documents" in pattern and 200 <= s < 300:
            served.append("%s %s -> %d" % (method, pattern, s))
    check("the instance administrator: no route of %d answers with a paper's bytes or "
          "title, none of the document routes with 2xx (the full route x role matrix: "
          "tests/authz_test.py)" % len([r for r in routes if r.strip()]),
          not leaks and not served, leaks + served)
    v.stop()

    # ---- the stolen copies
    data = v.data
    stolen = os.path.join(WORK, "stolen")
    shutil.copytree(data, stolen)
    db = os.path.join(stolen, "vault.db")
    blobs = os.path.join(stolen, "blobs")
    pepper = os.path.join(stolen, "pepper.key")
    dbfiles = [p for p in (db, db + "-wal") if os.path.exists(p)]
    wrong_pepper = os.path.join(WORK, "other-pepper.key")
    with open(wrong_pepper, "wb") as f:
        f.write(os.urandom(32))
    os.chmod(wrong_pepper, 0o600)

    # what the owner legitimately opens (the keys, to look for them below)
    p, opened, dockeys, sk = tool_open(db, blobs, pepper, "person.karim", PSECRET,
                                       os.path.join(WORK, "out-owner"))
    check("control: with the pepper and her secret, the tool opens her %d papers whole"
          % len(papers), p.returncode == 0 and len(opened) == len(papers) and all(
              opened.get(d) == hashlib.sha256(x).hexdigest() for d, x in papers.items()) and
          len(dockeys) == len(papers) and len(sk) == 1, p.stdout + p.stderr)
    secrets_bin = {"document key %s" % d[:8]: bytes.fromhex(k) for d, k in dockeys.items()}
    secrets_bin["the person's secret key"] = bytes.fromhex(sk[0]) if sk else b"\0" * 32
    pep = open(pepper, "rb").read()

    # -- the blobs alone
    blob_files = [f for f in files_under(blobs)
                  if not os.path.relpath(f, blobs).startswith("tmp" + os.sep)]
    sizes = sorted(os.path.getsize(f) for f in blob_files)
    check("blobs alone: the thief sees %d files of %s bytes (count and sizes), named by "
          "random ids" % (len(blob_files), sizes),
          len(blob_files) == len(papers) and all(
              re.fullmatch(r"[0-9a-f]{32}", os.path.basename(f)) for f in blob_files), blob_files)
    check("blobs alone: no paper's bytes in them",
          not contains([blobs], DOC_MARK), contains([blobs], DOC_MARK))
    found = [n for n, k in secrets_bin.items() if contains([blobs], k)]
    check("blobs alone: no document key (nor the person's key) is in the blob store",
          not found, found)

    # -- the database alone
    q = run(["sqlite3", db, "SELECT login, role FROM accounts ORDER BY login;"
             "SELECT category, size, media_type FROM documents;"])
    check("database alone: the metadata is readable (logins, roles, categories, sizes)",
          "person.karim|person" in q.stdout and "identity|" in q.stdout, q.stdout + q.stderr)
    check("database alone: no title, no paper's bytes in it (database and WAL)",
          not contains(dbfiles, TITLE_MARK.encode()) and not contains(dbfiles, DOC_MARK),
          contains(dbfiles, TITLE_MARK.encode()))
    found = [n for n, k in secrets_bin.items() if contains(dbfiles, k)]
    check("database alone: no document key and no secret key in it, only wrappings",
          not found, found)
    check("database alone: no secret is in it (the administrator's and the aidant's, long "
          "enough to search for)", not contains(dbfiles, v.admin_secret.encode()) and
          not contains(dbfiles, b"aidant secret 123"), "")
    p1, o1, _, _ = tool_open(db, blobs, wrong_pepper, "person.karim", PSECRET,
                             os.path.join(WORK, "out-nopepper"))
    p2, _, _, _ = tool_open(db, blobs, wrong_pepper, "person.karim", "a wrong guess",
                            os.path.join(WORK, "out-nopepper2"))
    check("database alone: without the pepper the RIGHT secret is refused exactly like a "
          "wrong one: no guess can even be tested",
          p1.returncode == 3 and p2.returncode == 3 and p1.stdout == p2.stdout and not o1,
          p1.stdout + p2.stdout)

    # -- the pepper alone
    found = [n for n, k in secrets_bin.items() if k in pep]
    check("pepper alone: 32 bytes, no key, secret or paper in it",
          len(pep) == 32 and not found and DOC_MARK not in pep and PSECRET.encode() not in pep,
          (len(pep), found))

    # -- database + blobs, without the pepper: vaultd on the copy
    os.remove(pepper)
    t = Vault(BUILD, os.path.join(WORK, "thief"), init=False,
              extra_args=COST + ["--pepper-file", wrong_pepper])
    shutil.copytree(stolen, t.data)
    with open(t.clock_path, "w") as f:
        f.write("0\n")
    t.start()
    r1 = t.call("POST", "/v1/sessions", {"login": "person.karim", "secret": PSECRET})
    r2 = t.call("POST", "/v1/sessions", {"login": "admin", "secret": t.admin_secret})
    t.stop()
    check("database + blobs: vaultd started on them with another pepper refuses the "
          "person's right secret (%d) and the administrator's (%d)" % (r1[0], r2[0]),
          r1[0] == 401 and r2[0] == 401, (r1[:2], r2[:2]))
    p, o, _, _ = tool_open(db, blobs, wrong_pepper, "person.karim", PSECRET,
                           os.path.join(WORK, "out-dbblobs"))
    check("database + blobs: no document opens with the right secret and a guessed pepper",
          p.returncode == 3 and not o and not os.listdir(os.path.join(WORK, "out-dbblobs")),
          p.stdout)

    # -- database + pepper (+ blobs)
    with open(pepper, "wb") as f:
        f.write(pep)
    p, o, _, _ = tool_open(db, blobs, pepper, "person.karim", "9999",
                           os.path.join(WORK, "out-wrong"))
    check("database + pepper: a wrong secret opens nothing",
          p.returncode == 3 and not o and not os.listdir(os.path.join(WORK, "out-wrong")),
          p.stdout)
    p, o, _, _ = tool_open(db, blobs, pepper, "person.karim", PSECRET,
                           os.path.join(WORK, "out-right"))
    check("database + pepper + blobs: the right guess opens every paper (a short secret "
          "falls to this thief)", len(o) == len(papers), p.stdout)
    g = run([TOOL, "guess", db, pepper, "person.karim", "9"])
    m = dict(re.findall(r"^(\w+) (.*)$", g.stdout, re.M))
    gm, am = float(m.get("guess_ms", 0)), float(m.get("argon2id_ms", 1e9))
    print("# per guess %.1f ms; one Argon2id at the recorded cost (%s) alone %.1f ms"
          % (gm, m.get("cost"), am))
    check("database + pepper: each wrong guess costs one Argon2id evaluation at the "
          "account's recorded cost (median %.1f ms per guess, %.1f ms for the evaluation "
          "alone; all 9 refused)" % (gm, am),
          m.get("refused") == "9 of 9" and am > 2 and 0.6 < gm / am < 1.8 and
          m.get("cost", "").startswith("2 33554432"), g.stdout + g.stderr)
    q = run(["sqlite3", db, "SELECT a.login, hex(k.pw_salt) FROM accounts a JOIN account_keys k"
             " USING (account_id) WHERE a.login IN ('person.karim', 'person.lina')"])
    salts = dict(l.split("|") for l in q.stdout.split())
    check("database + pepper: two persons with the same secret have different salts: a "
          "guess is evaluated per account", len(salts) == 2 and len(set(salts.values())) == 2,
          q.stdout)

    # -- the administrator's credentials, offline, with the pepper
    p = run([TOOL, "holders", db, pepper, "admin", v.admin_secret])
    m = re.search(r"tried (\d+) opened (\d+)", p.stdout)
    nwrap = run(["sqlite3", db, "SELECT holder_kind, count(*) FROM key_wrappings GROUP BY 1"])
    check("the administrator's key (unlocked with the pepper) opens none of the %s key "
          "wrappings (%s)" % (m.group(1) if m else "?", nwrap.stdout.replace("\n", " ").strip()),
          "unlock: ok" in p.stdout and m and int(m.group(1)) >= 4 and m.group(2) == "0",
          p.stdout + p.stderr)

    # -- the administrator's credentials and every vaultctl command
    ctl = os.path.join(BUILD, "vaultctl")
    rfile = os.path.join(WORK, "receipt.json")
    with open(rfile, "w") as f:
        json.dump(receipt, f)
    copy = os.path.join(WORK, "ctl")
    shutil.copytree(stolen, copy)
    cmds = [["help"], ["--help"], ["fsck", "--data-dir", copy],
            ["journal", "verify", "--data-dir", copy],
            ["receipt", "verify", rfile, "--data-dir", copy],
            ["init", "--data-dir", copy, "--admin-login", "admin"],
            ["init", "--data-dir", copy, "--admin-login", "admin", "--force"]]
    outs, leaks = [], []
    for c in cmds:
        os.makedirs(WORK + "/ctl-cwd", exist_ok=True)
        p = subprocess.run([ctl] + c, input=(v.admin_secret + "\n").encode(), capture_output=True,
                           cwd=WORK + "/ctl-cwd", timeout=120)
        outs.append("%s -> %d" % (" ".join(a for a in c if not a.startswith("/")),
                                  p.returncode))
        text = p.stdout + p.stderr
        if DOC_MARK in text or TITLE_MARK.encode() in text:
            leaks.append(" ".join(c) + ": output")
        if contains([copy, WORK + "/ctl-cwd"], TITLE_MARK.encode()) or \
                contains([WORK + "/ctl-cwd"], DOC_MARK):
            leaks.append(" ".join(c) + ": a file")
    # `init --force` makes a new pepper: with it, the old database opens nothing
    p, o, _, _ = tool_open(db, os.path.join(copy, "blobs"), os.path.join(copy, "pepper.key"),
                           "person.karim", PSECRET, os.path.join(WORK, "out-force"))
    check("the administrator's secret with every vaultctl command (%s): no paper's bytes or "
          "title printed or written; the new pepper of init --force opens nothing"
          % "; ".join(outs), not leaks and not o and p.returncode == 3 and
          outs[5].endswith("-> 1") and outs[6].endswith("-> 0"), leaks + outs + [p.stdout])
    shutil.rmtree(WORK, ignore_errors=True)
    finish()


if __name__ == "__main__":
    main()
