#!/usr/bin/python3
"""Exports cannot take the server's stores.

An export streams from a producer thread that holds a database connection
of its own for as long as the client reads. Four clients that start an
export of a large vault and then read nothing hold four producers; a
fifth export is refused at once with 429 busy, while every other route
still answers; once the slow clients go, exports work again.

usage: export_limit_test.py BUILD_DIR WORKDIR
"""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import check, finish  # noqa: E402
from vaultd_harness import Vault  # noqa: E402

BUILD, WORK = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])

v = Vault(BUILD, WORK)
with v:
    admin = v.admin()
    sid = v.structure(admin)
    _, aidant = v.aidant(admin, sid, "aidant.export")
    pid, person, _ = v.person(aidant, "person.export")
    # random bytes do not deflate: the archive outgrows every socket and
    # pipe buffer between the producer and a client that reads nothing
    for i in range(4):
        s, _, _ = v.deposit(person, pid, os.urandom(16 << 20), title="big %d" % i)
        assert s == 201, s
    stalled = []
    for i in range(4):
        c = socket.create_connection((v.host, v.port))
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        c.sendall(("GET /v1/persons/%s/export HTTP/1.1\r\nHost: x\r\n"
                   "Authorization: Bearer %s\r\n\r\n" % (pid, person)).encode())
        head = c.recv(64)
        check("stalled export %d started (200), then its client reads nothing" % (i + 1),
              head.startswith(b"HTTP/1.1 200"), head)
        stalled.append(c)
    time.sleep(1)
    s, body, _ = v.call("GET", "/v1/persons/%s/export" % pid, token=person)
    check("a fifth export while four are stalled: 429 busy, at once",
          s == 429 and body.get("error") == "busy", (s, body if s != 200 else "archive"))
    s, _, _ = v.call("GET", "/v1/health")
    check("... and the server still answers other routes", s == 200, s)
    s, lst, _ = v.call("GET", "/v1/persons/%s/documents" % pid, token=person)
    check("... including the person's list", s == 200 and len(lst["documents"]) == 4, s)
    for c in stalled:
        c.close()

    def free_again():
        s, _, _ = v.call("GET", "/v1/persons/%s/export" % pid, token=person)
        return s == 200

    deadline = time.time() + 60
    ok = False
    while time.time() < deadline and not ok:
        ok = free_again()
        if not ok:
            time.sleep(0.5)
    check("once the stalled clients are gone, an export works again", ok)

finish()
