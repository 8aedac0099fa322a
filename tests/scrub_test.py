#!/usr/bin/python3
"""The scheduled control, from outside: vaultd with a pass every 1.8 s
(--scrub-hours 0.0005) and no throttle (--scrub-share 100). A flipped byte
and a deleted blob show in their owner's journal as fsck.finding
(corrupt, missing) and in the documents' metadata as `integrity`; two
unknown files in the blob store are journaled once each, with no person,
and by name only when the name is shaped like an identifier; a clean
document gets nothing; a restart journals nothing twice. No check here
depends on how long anything took: passes are counted in vaultd's log.

usage: scrub_test.py BUILD_DIR WORKDIR
"""
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import check, finish  # noqa: E402
from vaultd_harness import Vault  # noqa: E402

BUILD, WORK = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
DEADLINE = 120  # seconds to wait for what a 1.8 s schedule does at once

# the settings through a configuration file, to read it too
CONFIG = os.path.join(WORK + ".conf")
with open(CONFIG, "w") as f:
    f.write("# a pass every 1.8 s, unthrottled\nscrub-hours = 0.0005\nscrub-share = 100\n")
v = Vault(BUILD, WORK, extra_args=["--config", CONFIG])


def blob(i):
    return os.path.join(v.data, "blobs", i[:2], i)


def passes():
    return v.read_log().count("vaultd: scrub: pass done")


def wait_for(what, cond):
    end = time.time() + DEADLINE
    while time.time() < end:
        got = cond()
        if got:
            return got
        time.sleep(0.2)
    check(what + " (within %d s)" % DEADLINE, False, v.read_log()[-2000:])
    return None


def wait_passes(n):
    start = passes()
    return wait_for("%d more passes" % n, lambda: passes() >= start + n)


def findings(token, pid=None):
    path = "/v1/persons/%s/journal" % pid if pid else "/v1/journal?action=fsck.finding"
    s, b, _ = v.call("GET", path, token=token)
    assert s == 200, (s, b)
    return [e for e in b["events"] if e["action"] == "fsck.finding"]


def meta(token, pid, did):
    s, b, _ = v.call("GET", "/v1/persons/%s/documents/%s" % (pid, did), token=token)
    assert s == 200, (s, b)
    return b


with v:
    admin = v.admin()
    sid = v.structure(admin)
    aid, aidant = v.aidant(admin, sid, "aidant.scrub")
    pid, person, _ = v.person(aidant, "person.scrub")
    pid2, person2, _ = v.person(aidant, "person.clean")
    ids = [v.deposit(person, pid, os.urandom(300000 + i))[1]["document_id"] for i in range(3)]
    clean = v.deposit(person2, pid2, os.urandom(1000))[1]["document_id"]
    check("the daemon scrubs on its schedule", wait_passes(1))
    check("an intact store gets no finding", findings(admin) == [], findings(admin))

    with open(blob(ids[0]), "r+b") as f:
        f.seek(100000)
        b = f.read(1)
        f.seek(100000)
        f.write(bytes([b[0] ^ 1]))
    os.unlink(blob(ids[1]))
    # an identifier-shaped name in the wrong folder, and a name
    stray_id = "f" * 32 if not ids[2].startswith("ff") else "e" * 32
    with open(os.path.join(v.data, "blobs", ids[2][:2], stray_id), "wb") as f:
        f.write(b"stray")
    with open(os.path.join(v.data, "blobs", "Dupont Marie.pdf"), "wb") as f:
        f.write(b"stray")

    def both():
        ev = {e["object_id"]: e for e in findings(person, pid)}
        return ev if ids[0] in ev and ids[1] in ev else None

    ev = wait_for("the person's journal shows both findings", both)
    if ev:
        check("a flipped byte is journaled to the owner as corrupt",
              ev[ids[0]]["outcome"] == "corrupt" and ev[ids[0]]["person_id"] == pid, ev[ids[0]])
        check("a deleted blob is journaled to the owner as missing",
              ev[ids[1]]["outcome"] == "missing" and ev[ids[1]]["person_id"] == pid, ev[ids[1]])
        check("findings have no actor: the system made them",
              all(e["actor"] is None for e in ev.values()), ev)
    check("the damaged document's metadata says corrupt",
          meta(person, pid, ids[0]).get("integrity") == "corrupt", meta(person, pid, ids[0]))
    check("the lost document's metadata says missing",
          meta(person, pid, ids[1]).get("integrity") == "missing", meta(person, pid, ids[1]))
    check("an intact document's metadata has no integrity field",
          "integrity" not in meta(person, pid, ids[2]), meta(person, pid, ids[2]))
    s, lst, _ = v.call("GET", "/v1/persons/%s/documents" % pid, token=person)
    check("the list shows integrity too",
          s == 200 and sorted(d.get("integrity", "") for d in lst["documents"]) == ["", "corrupt", "missing"], lst)
    s, _, _ = v.call("GET", "/v1/persons/%s/documents/%s/content" % (pid, ids[0]), token=person)
    check("the damaged document is not served", s == 500, s)

    def unref():
        u = [e for e in findings(admin) if e["outcome"] == "unreferenced"]
        return u if len(u) >= 2 else None

    u = wait_for("both unknown files are journaled", unref)
    if u:
        check("unknown files are journaled with no person and no actor",
              all(e["person_id"] is None and e["actor"] is None for e in u), u)
        check("by name only when the name is shaped like an identifier",
              sorted(str(e["object_id"]) for e in u) == sorted([stray_id, "None"]), u)
    wait_passes(2)
    all1 = findings(admin)
    check("two more passes journal nothing again",
          len([e for e in all1 if e["outcome"] == "unreferenced"]) == 2 and
          len(all1) == 4, all1)
    check("a clean document gets no finding",
          not any(e["object_id"] in (clean, ids[2]) for e in all1) and
          findings(person2, pid2) == [], all1)
    check("the person sees only her own findings",
          sorted(e["object_id"] for e in findings(person, pid)) == sorted(ids[:2]),
          findings(person, pid))

    v.restart()
    wait_passes(2)
    admin, person = v.admin(), v.login("person.scrub", "1234")  # sessions end at a restart
    all2 = findings(admin)
    check("a restart journals no finding twice", all2 == all1, all2)
    check("after a restart the metadata still says corrupt",
          meta(person, pid, ids[0]).get("integrity") == "corrupt")

    rc = v.stop()
    check("SIGTERM stops vaultd and its scrub, exit 0", rc == 0, rc)
log = v.read_log()
check("the log says nothing failed", "scrub: pass failed" not in log, log[-2000:])

for bad in (["--scrub-hours", "-1"], ["--scrub-hours", "nan"], ["--scrub-hours", "9000"],
            ["--scrub-hours", "0.0001"], ["--scrub-share", "0"], ["--scrub-share", "101"]):
    p = subprocess.run([os.path.join(BUILD, "vaultd"), "--data-dir", v.data,
                        "--listen", "127.0.0.1:0"] + bad, capture_output=True, text=True)
    check("vaultd refuses %s" % " ".join(bad), p.returncode == 2 and "--scrub" in p.stderr, p.stderr)
p = subprocess.run([os.path.join(BUILD, "vaultd"), "--help"], capture_output=True, text=True)
check("--help names both options", "--scrub-hours" in p.stdout and "--scrub-share" in p.stdout)

shutil.rmtree(WORK, ignore_errors=True)
os.unlink(CONFIG)
finish()
