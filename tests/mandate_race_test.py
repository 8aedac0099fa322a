#!/usr/bin/python3
"""A revocation wins over an upload in flight.

An aidant starts uploading a paper under a deposit mandate; before the
last byte arrives, the person revokes the mandate. The deposit is refused
(403) when it would commit, nothing is stored, the person's usage is
unchanged, and the aidant's next deposit is refused at once. The same
upload completed without a revocation lands.

usage: mandate_race_test.py BUILD_DIR WORKDIR
"""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import check, finish  # noqa: E402
from vaultd_harness import Vault, blob_files, unfinished_bytes  # noqa: E402

BUILD, WORK = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
SIZE = 3 << 20


def start_upload(v, token, pid):
    c = socket.create_connection((v.host, v.port))
    c.sendall(("POST /v1/persons/%s/documents?title=course&category=residence HTTP/1.1\r\n"
               "Host: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/pdf\r\n"
               "Content-Length: %d\r\n\r\n" % (pid, token, SIZE)).encode())
    return c


def finish_upload(c, rest):
    c.sendall(rest)
    data = b""
    while b"\r\n\r\n" not in data or len(data) < 20:
        chunk = c.recv(65536)
        if not chunk:
            break
        data += chunk
    c.close()
    return int(data.split(b" ")[1]) if data.startswith(b"HTTP/1.1") else None


v = Vault(BUILD, WORK)
with v:
    admin = v.admin()
    sid = v.structure(admin)
    aid, aidant = v.aidant(admin, sid, "aidant.race")
    pid, person, _ = v.person(aidant, "person.race")
    s, m, _ = v.mandate(person, pid, aid, ["deposit"], ["residence"])
    mid = m["mandate_id"]
    body = os.urandom(SIZE)

    def usage():
        return v.call("GET", "/v1/me", token=person)[1]["usage_bytes"]

    c = start_upload(v, aidant, pid)
    c.sendall(body[:SIZE // 2])
    status = finish_upload(c, body[SIZE // 2:])
    check("without a revocation, the aidant's upload lands (201)", status == 201, status)
    used = usage()

    c = start_upload(v, aidant, pid)
    c.sendall(body[:SIZE // 2])
    # sendall returns once the bytes are in the kernel's buffers, maybe
    # before vaultd has read the headers: revoking then would refuse the
    # upload at its start (also right, but not the race under test).
    # The put's file (mode 0200, not a blob yet) growing shows that the
    # mandate was checked and bytes are being stored.
    deadline = time.time() + 30
    while not unfinished_bytes(v.data) and time.time() < deadline:
        time.sleep(0.01)
    check("the upload has begun before the revocation", unfinished_bytes(v.data) > 0)
    s, _, _ = v.call("DELETE", "/v1/persons/%s/mandates/%s" % (pid, mid), token=person)
    check("the person revokes the mandate mid-upload (204)", s == 204, s)
    status = finish_upload(c, body[SIZE // 2:])
    check("the upload that was in flight is refused when it would commit (403)",
          status == 403, status)
    s, lst, _ = v.call("GET", "/v1/persons/%s/documents" % pid, token=person)
    check("nothing of it is stored: one paper, not two", s == 200 and len(lst["documents"]) == 1, lst)
    check("the person's usage is unchanged", usage() == used, (usage(), used))
    s, _, _ = v.deposit(aidant, pid, b"after the revocation")
    check("the aidant's next deposit is refused at once (403)", s == 403, s)
    check("and the blob store holds one blob", len(blob_files(v.data)) == 1,
          blob_files(v.data))

finish()
