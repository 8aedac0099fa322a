#!/usr/bin/python3
"""One client address cannot hold every connection.

With --max-connections-per-address 4, four idle connections from
127.0.0.1 are kept; a fifth is closed at once without an answer; once one
of the four goes away, a new request is served.

usage: connection_limit_test.py BUILD_DIR WORKDIR
"""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import check, finish  # noqa: E402
from vaultd_harness import Vault  # noqa: E402

BUILD, WORK = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])


def health(v):
    c = socket.create_connection((v.host, v.port), timeout=10)
    try:
        c.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        return c.recv(64)
    except OSError:
        return b""
    finally:
        c.close()


v = Vault(BUILD, WORK, extra_args=["--max-connections-per-address", "4"])
with v:
    idle = [socket.create_connection((v.host, v.port)) for _ in range(4)]
    time.sleep(0.3)
    check("a fifth connection from the same address gets no answer",
          not health(v).startswith(b"HTTP/1.1 200"))
    idle.pop().close()
    time.sleep(0.3)
    check("once one of the four goes, the address is served again",
          health(v).startswith(b"HTTP/1.1 200"))
    for c in idle:
        c.close()
p_bad = os.popen("'%s' --max-connections-per-address 0 --routes 2>&1; echo rc=$?"
                 % os.path.join(BUILD, "vaultd")).read()
check("--max-connections-per-address 0 is refused", "rc=2" in p_bad or "whole number" in p_bad, p_bad)

finish()
