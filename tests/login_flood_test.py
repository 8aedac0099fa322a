#!/usr/bin/python3
"""A flood of failed log-ins against one account, from one address (every
client here is 127.0.0.1), at a real Argon2id cost (1 pass over 16 MiB,
--argon2-concurrency 2):

  - every answer is 401 invalid_credentials, 429 rate_limited (the
    address's back-off) or 503 busy (the Argon2id queue full): never
    another 5xx, never a session;
  - the account lock engages: the person's journal shows session.locked;
  - vaultd's memory stays bounded by the Argon2id gate: its peak RSS during
    the flood stays under concurrency x cost + 64 MiB above the start;
  - no descriptor is left behind once the flood's connections close (a
    second flood adds none; the first leaves the pooled database handles,
    at most two descriptors per connection served at once);
  - after the lock window and the address's back-off (the clock moved 16
    minutes through --test-clock-file), the person's own log-in works.

bench/soak.py runs the same flood (flood() below) at the default cost and
prints its figures.

usage: login_flood_test.py BUILD_DIR WORKDIR
"""
import http.client
import json
import os
import shutil
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vaultd_harness import Vault  # noqa: E402
from fault_inject import open_fds, rss_kib  # noqa: E402


def flood(v, login, threads=40, per_thread=10):
    """Wrong secrets for login from `threads` keep-alive clients at once.
    Returns {status: count}, peak RSS (KiB) seen while it ran, and the
    seconds it took."""
    statuses, lock = {}, threading.Lock()
    peak, done = [rss_kib(v.proc.pid)], threading.Event()
    barrier = threading.Barrier(threads)

    def sample():
        while not done.is_set():
            try:
                peak[0] = max(peak[0], rss_kib(v.proc.pid))
            except OSError:
                return
            time.sleep(0.01)

    def client(i):
        c = http.client.HTTPConnection(v.host, v.port, timeout=120)
        barrier.wait(30)
        for j in range(per_thread):
            try:
                c.request("POST", "/v1/sessions", body=json.dumps(
                    {"login": login, "secret": "guess %d-%d" % (i, j)}),
                    headers={"Content-Type": "application/json"})
                r = c.getresponse()
                r.read()
                st = r.status
            except (OSError, http.client.HTTPException) as e:
                st = type(e).__name__
                c.close()
                c = http.client.HTTPConnection(v.host, v.port, timeout=120)
            with lock:
                statuses[st] = statuses.get(st, 0) + 1
        c.close()

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    t0 = time.time()
    ts = [threading.Thread(target=client, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(600)
    took = time.time() - t0
    done.set()
    sampler.join(5)
    return statuses, peak[0], took


def quiet_fds(pid, settle=0.5):
    """The descriptor count once connections closed by clients are closed
    on the server's side too."""
    prev, end = open_fds(pid), time.time() + 10
    while time.time() < end:
        time.sleep(settle)
        now = open_fds(pid)
        if now == prev:
            return now
        prev = now
    return prev


def main():
    from checks import check, finish
    build, work = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    shutil.rmtree(work, ignore_errors=True)
    mem_kib, conc = 16384, 2
    v = Vault(build, work, extra_args=["--argon2-ops", "1", "--argon2-mem-kib", str(mem_kib),
                                       "--argon2-concurrency", str(conc)])
    v.start()
    admin = v.admin()
    sid = v.structure(admin)
    _, atok = v.aidant(admin, sid, "aidant.amina")
    pid, ptok, _ = v.person(atok, "person.karim", secret="soleil")
    v.call("DELETE", "/v1/sessions/current", token=ptok)
    time.sleep(0.5)
    base_rss, base_fds = rss_kib(v.proc.pid), quiet_fds(v.proc.pid)
    statuses, peak, took = flood(v, "person.karim")
    fds = quiet_fds(v.proc.pid)
    total = sum(statuses.values())
    print("# %d failed log-ins in %.1fs: %s; RSS %d -> peak %d KiB; descriptors %d -> %d"
          % (total, took, statuses, base_rss, peak, base_fds, fds))
    check("a flood of %d wrong secrets from one address: only 401, 429 and 503 busy "
          "(%s)" % (total, statuses), total == 400 and set(statuses) <= {401, 429, 503} and
          statuses.get(429, 0) > 0, statuses)
    # (AddressSanitizer adds its shadow and quarantine: a looser margin there)
    margin = 256 if os.environ.get("VAULT_SANITIZE") == "1" else 64
    bound = conc * mem_kib + margin * 1024
    check("memory bounded by the Argon2id gate: peak RSS %d KiB above the start, under "
          "%d x %d KiB + %d MiB" % (peak - base_rss, conc, mem_kib, margin),
          peak - base_rss < bound, (base_rss, peak))
    # vaultd keeps a database handle (2 descriptors) per connection it served
    # at once, up to --max-connections + 3 (64 + 3 here): bounded, not leaked.
    # A second flood, from fresh connections, must add nothing.
    statuses2, _, _ = flood(v, "person.karim")
    fds2 = quiet_fds(v.proc.pid)
    check("descriptors bounded: %d before, %d after the flood (the pooled database "
          "handles), %d after a second flood (%s)" % (base_fds, fds, fds2, statuses2),
          fds <= base_fds + 2 * (64 + 3) + 4 and fds2 <= fds + 1, (base_fds, fds, fds2))
    still = v.call("POST", "/v1/sessions", {"login": "person.karim", "secret": "soleil"})
    check("right after the flood the right secret is refused too (locked, or the address "
          "waits): %d" % still[0], still[0] in (401, 429), still[:2])
    v.advance_clock(16 * 60)
    s, b, _ = v.call("POST", "/v1/sessions", {"login": "person.karim", "secret": "soleil"})
    check("16 minutes later (past the lock and the address's back-off) her log-in works",
          s == 201, (s, b))
    if s == 201:
        ev = v.call("GET", "/v1/persons/%s/journal" % pid, token=b["token"])[1]["events"]
        acts = [e["action"] for e in ev]
        check("her journal shows the lock (session.locked) and %d failed log-ins"
              % acts.count("session.login_failed"),
              "session.locked" in acts and acts.count("session.login_failed") >= 5, acts[-10:])
    v.stop()
    shutil.rmtree(work, ignore_errors=True)
    finish()


if __name__ == "__main__":
    main()
