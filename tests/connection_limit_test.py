#!/usr/bin/python3
"""One client address cannot hold every connection, nor dodge the throttle.

With --max-connections-per-address 4, four idle connections from
127.0.0.1 are kept; a fifth is closed at once without an answer; once one
of the four goes away, a new request is served. Over IPv6 (::1), failed
log-ins are counted by the address's /64 and the throttle engages as it
does over IPv4.

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
import http.client  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import subprocess  # noqa: E402

v6 = subprocess.Popen([os.path.join(BUILD, "vaultd"), "--data-dir", v.data, "--listen", "[::1]:0",
                       "--address-failures", "2", "--login-min-ms", "0", "--argon2-ops", "1",
                       "--argon2-mem-kib", "8", "--quiet"],
                      stderr=subprocess.PIPE, text=True)
m = None
for line in v6.stderr:
    m = re.match(r"listening on \[::1\]:(\d+)", line.strip())
    if m:
        break
statuses = []
if m:
    for _ in range(4):
        c = http.client.HTTPConnection("::1", int(m.group(1)), timeout=30)
        c.request("POST", "/v1/sessions", body=json.dumps({"login": "nobody", "secret": "wrong"}),
                  headers={"Content-Type": "application/json"})
        r = c.getresponse()
        r.read()
        statuses.append(r.status)
        c.close()
v6.terminate()
v6.wait(timeout=30)
check("over IPv6, failed log-ins beyond the allowance are throttled (401, 401, 401, 429)",
      statuses == [401, 401, 401, 429], statuses)
p_bad = os.popen("'%s' --max-connections-per-address 0 --routes 2>&1; echo rc=$?"
                 % os.path.join(BUILD, "vaultd")).read()
check("--max-connections-per-address 0 is refused", "rc=2" in p_bad or "whole number" in p_bad, p_bad)

finish()
