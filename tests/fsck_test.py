#!/usr/bin/python3
"""vaultctl fsck: every blob against its recorded size and SHA-256, without
any key. A flipped byte, a deleted blob and an unknown file are each
reported and make it exit non-zero; a clean store passes.

usage: fsck_test.py BUILD_DIR WORKDIR
"""
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import check, finish  # noqa: E402
from vaultd_harness import Vault  # noqa: E402

BUILD, WORK = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])


def fsck(d):
    p = subprocess.run([os.path.join(BUILD, "vaultctl"), "fsck", "--data-dir", d],
                       capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


v = Vault(BUILD, WORK)
with v:
    admin = v.admin()
    sid = v.structure(admin)
    aid, aidant = v.aidant(admin, sid, "aidant.fsck")
    pid, person, _ = v.person(aidant, "person.fsck")
    ids = [v.deposit(person, pid, os.urandom(70000 + i))[1]["document_id"] for i in range(3)]

rc, out = fsck(v.data)
check("a clean store passes", rc == 0 and "3 blobs" in out and "0 missing, 0 corrupt, 0 unreferenced" in out, out)


def blob(d, i):
    return os.path.join(d, "blobs", i[:2], i)


def copy(name):
    d = os.path.join(WORK, name)
    shutil.rmtree(d, ignore_errors=True)
    shutil.copytree(v.data, d)
    return d


d = copy("flip")
with open(blob(d, ids[0]), "r+b") as f:
    f.seek(50000)
    b = f.read(1)
    f.seek(50000)
    f.write(bytes([b[0] ^ 1]))
rc, out = fsck(d)
check("a flipped byte is reported as corrupt", rc == 1 and "corrupt: " + ids[0] in out, out)
d = copy("delete")
os.unlink(blob(d, ids[1]))
rc, out = fsck(d)
check("a deleted blob is reported as missing", rc == 1 and "missing: " + ids[1] in out, out)
d = copy("unknown")
with open(os.path.join(d, "blobs", ids[2][:2], "f" * 32), "wb") as f:
    f.write(b"stray")
rc, out = fsck(d)
check("an unknown file is reported as unreferenced", rc == 1 and "unreferenced: " in out and "f" * 32 in out, out)
d = copy("truncate")
with open(blob(d, ids[2]), "r+b") as f:
    f.truncate(1000)
rc, out = fsck(d)
check("a truncated blob is reported as corrupt", rc == 1 and "corrupt: " + ids[2] in out, out)

# The same damage met by a download: the transfer is cut before its end,
# never a whole wrong copy; and the daemon goes on serving.
import http.client  # noqa: E402
data = os.urandom(300000)
with v:
    person = v.login("person.fsck", "1234")
    s, doc, _ = v.deposit(person, pid, data)
    did = doc["document_id"]
    with open(blob(v.data, did), "r+b") as f:
        f.seek(-100, 2)
        b = f.read(1)
        f.seek(-100, 2)
        f.write(bytes([b[0] ^ 1]))
    c = http.client.HTTPConnection(v.host, v.port, timeout=60)
    c.request("GET", "/v1/persons/%s/documents/%s/content" % (pid, did),
              headers={"Authorization": "Bearer " + person})
    r = c.getresponse()
    try:
        got = r.read()
        cut = False
    except http.client.IncompleteRead as e:
        got, cut = e.partial, True
    c.close()
    check("a download of a damaged blob is cut short (200, then an incomplete body)",
          r.status == 200 and cut and len(got) < len(data), (r.status, cut, len(got)))
    check("... what came before the damage is the original's prefix, authenticated",
          data.startswith(got), len(got))
    s, _, _ = v.call("GET", "/v1/health")
    check("... and vaultd goes on serving", s == 200, s)
    check("... and says so in its log, without the paper's title",
          "failed its integrity check" in v.read_log())

shutil.rmtree(WORK, ignore_errors=True)
finish()
