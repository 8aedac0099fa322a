#!/usr/bin/python3
"""Soak: a vaultd on loopback worked for a bounded time by 50 persons and
10 aidants, each a thread with one keep-alive connection (http.client,
reused), at the default Argon2id cost.

  persons  log in (and again now and then), deposit (1 KiB - 256 KiB, and
           now and then 1 MiB), list, download and check the SHA-256, grant
           a mandate to a random aidant (read and/or deposit, 1-3
           categories), revoke one, delete their oldest paper beyond 30
  aidants  log in, list their mandates, list and download a person's papers
           under a read mandate (checked against what she deposited), and
           deposit for her under a deposit mandate

A revocation racing an aidant's read makes his request 403/404, and more
than --max-uploads (16) deposits at once get 429 too_many_uploads: both
expected, and shown in the statuses.
Every 5xx is counted; 503 busy on a log-in (the Argon2id queue full) is the
gate doing its work and counted apart; any other 5xx is unexpected.

Every 10 seconds it prints vaultd's RSS and open descriptors; at the end:
the requests per second by kind, latency percentiles, RSS and descriptors
after warm-up (the first fifth of the run) and whether they stayed flat,
then every paper of every person downloaded and checked against its
SHA-256, then vaultctl fsck, journal verify and PRAGMA integrity_check.

Then a flood of failed log-ins against one person from one address
(tests/login_flood_test.py's flood()): the answers, vaultd's peak RSS, the
lock in her journal, and her own log-in once the clock (--test-clock-file)
is 16 minutes later.

It prints; it checks nothing (exit 0 unless it could not run).

    cmake --build build && /usr/bin/python3 bench/soak.py build [--seconds 600]
        [--dir ./var/soak] [--persons 50] [--aidants 10] [--fast]
"""
import argparse
import hashlib
import http.client
import json
import os
import random
import shutil
import subprocess
import sys
import threading
import time
from urllib.parse import urlencode

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
from vaultd_harness import Vault  # noqa: E402
from fault_inject import fsck, integrity, journal_verify, open_fds, rss_kib  # noqa: E402
from login_flood_test import flood, quiet_fds  # noqa: E402

CATS = ["identity", "residence", "health", "housing", "employment", "income", "tax",
        "family", "schooling", "bank", "justice", "other"]
PSECRET, ASECRET = "secret %d", "aidant secret %d"


class Stats:
    def __init__(self):
        self.mu = threading.Lock()
        self.count, self.lat, self.status = {}, {}, {}
        self.unexpected = []

    def add(self, kind, status, ms):
        with self.mu:
            self.count[kind] = self.count.get(kind, 0) + 1
            self.lat.setdefault(kind, []).append(ms)
            self.status.setdefault(kind, {})
            self.status[kind][status] = self.status[kind].get(status, 0) + 1

    def bad(self, what):
        with self.mu:
            if len(self.unexpected) < 50:
                self.unexpected.append(what)
            self.count["UNEXPECTED"] = self.count.get("UNEXPECTED", 0) + 1


class Client:
    """One keep-alive connection; reconnects if the server closed it."""

    def __init__(self, v, stats):
        self.v, self.stats = v, stats
        self.c = http.client.HTTPConnection(v.host, v.port, timeout=300)
        self.token = None

    def call(self, kind, method, path, body=None, raw=None, ctype=None, ok=(200, 201, 204),
             expected=()):
        h = {}
        if self.token:
            h["Authorization"] = "Bearer " + self.token
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        elif ctype:
            h["Content-Type"] = ctype
        t0 = time.time()
        for attempt in range(2):
            try:
                self.c.request(method, path, body=data, headers=h)
                r = self.c.getresponse()
                payload = r.read()
                break
            except (OSError, http.client.HTTPException) as e:
                self.c.close()
                self.c = http.client.HTTPConnection(self.v.host, self.v.port, timeout=300)
                if attempt == 1:
                    if raw is not None and isinstance(e, (BrokenPipeError, ConnectionResetError)):
                        # answered (429) before the body was read, and the
                        # connection closed while this client still sent
                        # it: http.client cannot read that answer
                        self.stats.add(kind, "closed early", (time.time() - t0) * 1000)
                    else:
                        self.stats.bad("%s %s: %r" % (kind, path[:40], e))
                    return None, None
        ms = (time.time() - t0) * 1000
        self.stats.add(kind, r.status, ms)
        if r.status >= 500 and not (r.status == 503 and kind == "login"):
            self.stats.bad("%s -> %d %s" % (kind, r.status, payload[:120]))
        elif r.status not in ok and r.status not in expected:
            self.stats.bad("%s -> %d %s" % (kind, r.status, payload[:120]))
        if r.getheader("Content-Type", "").startswith("application/json"):
            try:
                payload = json.loads(payload)
            except ValueError:
                pass
        return r.status, payload

    def login(self, login, secret):
        for _ in range(50):
            self.token = None
            s, b = self.call("login", "POST", "/v1/sessions", {"login": login, "secret": secret},
                             expected=(503,))
            if s == 201:
                self.token = b["token"]
                return True
            time.sleep(0.2)
        return False


class World:
    def __init__(self):
        self.mu = threading.Lock()
        self.docs = {}      # person id -> {doc id: sha256}


def person_loop(v, i, pid, aidants, world, stats, stop):
    rnd = random.Random(i)
    cl = Client(v, stats)
    login = "person.p%02d" % i
    cl.login(login, PSECRET % i)
    active = []
    n = 0
    while not stop.is_set():
        n += 1
        op = rnd.random()
        mine = world.docs[pid]
        if n % 200 == 0:
            cl.call("logout", "DELETE", "/v1/sessions/current")
            cl.login(login, PSECRET % i)
        elif op < 0.30:
            size = 1 << 20 if rnd.random() < 0.02 else rnd.randint(1024, 256 << 10)
            data = rnd.randbytes(size)
            q = urlencode({"title": "papier %d" % n, "category": rnd.choice(CATS)})
            s, b = cl.call("deposit", "POST", "/v1/persons/%s/documents?%s" % (pid, q),
                           raw=data, ctype="application/pdf", expected=(429,))
            if s == 201:
                with world.mu:
                    mine[b["document_id"]] = hashlib.sha256(data).hexdigest()
            if len(mine) > 30:
                with world.mu:
                    old = next(iter(mine))
                s, _ = cl.call("delete", "DELETE", "/v1/persons/%s/documents/%s" % (pid, old))
                if s == 204:
                    with world.mu:
                        mine.pop(old, None)
        elif op < 0.50:
            with world.mu:  # what was deposited before the list was asked for
                before = dict(mine)
            s, b = cl.call("list", "GET", "/v1/persons/%s/documents" % pid)
            if s == 200:
                listed = {d["document_id"]: d["sha256"] for d in b["documents"]}
                wrong = [d for d, h in before.items() if listed.get(d) != h]
                if wrong:
                    stats.bad("person %d: %d of her papers not listed as deposited" % (i, len(wrong)))
        elif op < 0.80:
            with world.mu:
                pick = rnd.choice(list(mine.items())) if mine else None
            if pick:
                s, b = cl.call("download", "GET", "/v1/persons/%s/documents/%s/content"
                               % (pid, pick[0]), expected=(404,))
                if s == 200 and hashlib.sha256(b).hexdigest() != pick[1]:
                    stats.bad("person %d: a download differs from its deposit" % i)
        elif op < 0.90:
            if len(active) < 3:
                scopes = rnd.choice([["read"], ["deposit"], ["read", "deposit"]])
                s, b = cl.call("grant", "POST", "/v1/persons/%s/mandates" % pid,
                               {"aidant_id": rnd.choice(aidants), "scopes": scopes,
                                "categories": rnd.sample(CATS, rnd.randint(1, 3)),
                                "duration_days": 30})
                if s == 201:
                    active.append(b["mandate_id"])
        else:
            if active:
                m = active.pop(rnd.randrange(len(active)))
                cl.call("revoke", "DELETE", "/v1/persons/%s/mandates/%s" % (pid, m))


def aidant_loop(v, i, world, stats, stop):
    rnd = random.Random(1000 + i)
    cl = Client(v, stats)
    cl.login("aidant.a%02d" % i, ASECRET % i)
    n = 0
    while not stop.is_set():
        n += 1
        s, b = cl.call("aidant_mandates", "GET", "/v1/aidants/me/mandates")
        ms = [m for m in (b.get("mandates", []) if s == 200 else [])
              if m.get("status", "active") == "active"]
        if not ms:
            time.sleep(0.05)
            continue
        m = rnd.choice(ms)
        pid = (m.get("person") or {}).get("account_id") or m.get("person_id")
        if "read" in m.get("scopes", []):
            s, b = cl.call("aidant_list", "GET", "/v1/persons/%s/documents" % pid,
                           expected=(403, 404))
            docs = b.get("documents", []) if s == 200 else []
            if docs:
                d = rnd.choice(docs)
                s, body = cl.call("aidant_download", "GET", "/v1/persons/%s/documents/%s/content"
                                  % (pid, d["document_id"]), expected=(403, 404))
                if s == 200:
                    with world.mu:
                        want = world.docs.get(pid, {}).get(d["document_id"])
                    if hashlib.sha256(body).hexdigest() != d["sha256"] or \
                            (want is not None and want != d["sha256"]):
                        stats.bad("aidant %d: a download differs from its deposit" % i)
        if "deposit" in m.get("scopes", []) and rnd.random() < 0.5:
            data = rnd.randbytes(rnd.randint(1024, 64 << 10))
            q = urlencode({"title": "dépôt %d" % n, "category": rnd.choice(m["categories"])})
            s, b = cl.call("aidant_deposit", "POST", "/v1/persons/%s/documents?%s" % (pid, q),
                           raw=data, ctype="application/pdf", expected=(403, 404, 429))
            if s == 201:
                with world.mu:
                    world.docs.setdefault(pid, {})[b["document_id"]] = \
                        hashlib.sha256(data).hexdigest()


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))] if xs else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("build")
    ap.add_argument("--seconds", type=float, default=600)
    ap.add_argument("--dir", default="./var/soak")
    ap.add_argument("--persons", type=int, default=50)
    ap.add_argument("--aidants", type=int, default=10)
    ap.add_argument("--fast", action="store_true", help="the tests' Argon2id cost, not the default")
    a = ap.parse_args()
    cost = [] if a.fast else ["--argon2-ops", "3", "--argon2-mem-kib", "65536"]
    v = Vault(a.build, os.path.abspath(a.dir), login_min_ms=400,
              extra_args=cost + ["--max-connections", "128", "--quiet"])
    v.start()
    pidn = v.proc.pid
    print("vaultd %d on %s, %d persons, %d aidants, %.0f s, Argon2id %s"
          % (pidn, v.addr, a.persons, a.aidants, a.seconds,
             "ops 1, 8 KiB (--fast)" if a.fast else "ops 3, 64 MiB (default)"), flush=True)
    admin = v.admin()
    sid = v.structure(admin, "Soak")
    aidants, world = [], World()
    for i in range(a.aidants):
        aid, atok = v.aidant(admin, sid, "aidant.a%02d" % i, secret=ASECRET % i)
        aidants.append(aid)
    persons = []
    for i in range(a.persons):
        pid, _, _ = v.person(atok, "person.p%02d" % i, secret=PSECRET % i)
        persons.append(pid)
        world.docs[pid] = {}
    stats, stop = Stats(), threading.Event()
    threads = [threading.Thread(target=person_loop, args=(v, i, pid, aidants, world, stats, stop))
               for i, pid in enumerate(persons)]
    threads += [threading.Thread(target=aidant_loop, args=(v, i, world, stats, stop))
                for i in range(a.aidants)]
    t0 = time.time()
    for t in threads:
        t.start()
    # RSS and descriptors sampled twice a second, printed per 10 s window:
    # the window's lowest RSS is the daemon's own memory, its highest adds
    # what Argon2id evaluations in flight hold (up to 2 x 64 MiB)
    samples = []  # (t, rss min, rss max, fds min, fds max) per window
    print("%7s %10s %10s %9s %9s %7s" % ("t (s)", "RSS min", "RSS max", "fds", "requests",
                                          "req/s"))
    last_n, last_t = 0, t0
    while time.time() - t0 < a.seconds:
        end = min(t0 + a.seconds, time.time() + 10)
        rs, fs = [], []
        while time.time() < end:
            rs.append(rss_kib(pidn))
            fs.append(open_fds(pidn))
            time.sleep(min(0.5, max(0.0, end - time.time())))
        now = time.time()
        n = sum(len(x) for x in stats.lat.values())
        samples.append((now - t0, min(rs), max(rs), min(fs), max(fs)))
        print("%7.0f %10d %10d %4d-%-4d %9d %7.0f" % (now - t0, min(rs), max(rs), min(fs),
              max(fs), n, (n - last_n) / (now - last_t)), flush=True)
        last_n, last_t = n, now
    stop.set()
    for t in threads:
        t.join(120)
    elapsed = time.time() - t0

    print("\n%-16s %8s %8s %8s %8s %8s  statuses" % ("kind", "count", "per s", "p50 ms",
                                                       "p99 ms", "max ms"))
    for k in sorted(stats.lat):
        xs = stats.lat[k]
        print("%-16s %8d %8.1f %8.1f %8.1f %8.1f  %s" % (k, len(xs), len(xs) / elapsed,
              pct(xs, .5), pct(xs, .99), max(xs), dict(sorted(stats.status[k].items(), key=str))))
    total = sum(len(x) for x in stats.lat.values())
    five = sum(n for k in stats.status for s, n in stats.status[k].items()
               if isinstance(s, int) and s >= 500)
    busy = sum(stats.status.get("login", {}).get(s, 0) for s in (503,))
    print("total %d requests in %.0f s (%.0f/s); 5xx: %d, of which 503 busy on log-in: %d; "
          "unexpected answers: %d" % (total, elapsed, total / elapsed, five, busy,
                                      stats.count.get("UNEXPECTED", 0)))
    for u in stats.unexpected[:10]:
        print("  unexpected: " + u)
    warm = [x for x in samples if x[0] >= elapsed / 5]
    if len(warm) >= 3:
        third = max(1, len(warm) // 3)
        first, lastt = warm[:third], warm[-third:]
        lo_a, lo_b = max(x[1] for x in first), max(x[1] for x in lastt)
        hi_a, hi_b = max(x[2] for x in first), max(x[2] for x in lastt)
        fd_a, fd_b = max(x[4] for x in first), max(x[4] for x in lastt)
        flat = lo_b <= lo_a * 1.10 and hi_b <= hi_a * 1.10 and fd_b <= fd_a + 4
        print("after warm-up (t >= %.0f s), first third vs last third of the windows: RSS "
              "floor %d -> %d KiB (%+.1f %%), RSS peak %d -> %d KiB (%+.1f %%), descriptors "
              "max %d -> %d: %s" % (elapsed / 5, lo_a, lo_b, 100.0 * (lo_b - lo_a) / lo_a,
                                    hi_a, hi_b, 100.0 * (hi_b - hi_a) / hi_a, fd_a, fd_b,
                                    "flat" if flat else "GROWING"))

    # every paper intact
    cl = Client(v, stats)
    bad = checked = 0
    for i, pid in enumerate(persons):
        cl.login("person.p%02d" % i, PSECRET % i)
        s, b = cl.call("final_list", "GET", "/v1/persons/%s/documents" % pid)
        listed = {d["document_id"]: d["sha256"] for d in b["documents"]}
        for did, h in world.docs[pid].items():
            s, body = cl.call("final_download", "GET", "/v1/persons/%s/documents/%s/content"
                              % (pid, did))
            checked += 1
            if s != 200 or hashlib.sha256(body).hexdigest() != h or listed.get(did) != h:
                bad += 1
        bad += len(set(listed) - set(world.docs[pid]))
    print("papers checked at the end: %d, intact: %d, wrong or unexpected: %d"
          % (checked, checked - bad, bad))

    # the flood of failed log-ins
    cl.login("person.p00", PSECRET % 0)
    cl.call("logout", "DELETE", "/v1/sessions/current")
    time.sleep(1)
    base = rss_kib(pidn)
    fds0 = quiet_fds(pidn)
    st, peak, took = flood(v, "person.p00", threads=40, per_thread=10)
    print("flood: %d wrong secrets for one person from one address in %.1f s: %s; RSS %d -> "
          "peak %d KiB (+%d); descriptors %d -> %d"
          % (sum(st.values()), took, dict(sorted(st.items(), key=str)), base, peak, peak - base,
             fds0, quiet_fds(pidn)))
    s, b, _ = v.call("POST", "/v1/sessions", {"login": "person.p00", "secret": PSECRET % 0})
    print("flood: right after, her right secret -> %d" % s)
    v.advance_clock(16 * 60)
    s, b, _ = v.call("POST", "/v1/sessions", {"login": "person.p00", "secret": PSECRET % 0})
    locked = None
    if s == 201:
        ev = v.call("GET", "/v1/persons/%s/journal" % persons[0], token=b["token"])[1]["events"]
        locked = any(e["action"] == "session.locked" for e in ev)
    print("flood: 16 minutes later her log-in -> %d; session.locked in her journal: %s"
          % (s, locked))

    v.stop()
    ok, unref, out, _ = fsck(os.path.abspath(a.build), v.data)
    print("fsck: %s" % out.splitlines()[-1])
    print("journal verify: %s" % journal_verify(os.path.abspath(a.build), v.data)[1].splitlines()[-1])
    print("integrity_check: %s" % integrity(v.data)[1])


if __name__ == "__main__":
    main()
