#!/usr/bin/python3
"""bench_api: vaultd over HTTP on loopback, beside what bounds it.

usage: bench_api.py BUILD_DIR [--gib N] [--small N] [--rounds N] [--skip-big8]

Starts a vaultd (default Argon2id cost) on a throw-away data directory under
./var/bench-api-PID and measures, in one run:

  1. deposit and download of one N-GiB document (streamed from a file),
     beside the core store pipeline (bench_store) and raw secretstream
     decryption (bench_floor) measured in the same run;
  2. deposits per second of 200 KiB documents with 1 and 8 keep-alive
     clients, beside the durable floor (temp file + fsync + rename +
     directory fsync + one SQLite commit with synchronous=FULL, in-process),
     floor and deposits alternating over the rounds (medians; 5 rounds
     by default: with 3, one slow phase of this VM's disk or CPU moved a
     median by a tenth);
  3. log-ins per second at the configured Argon2id cost, and vaultd's peak
     RSS under a flood of 100 concurrent log-ins;
  4. vaultd's peak RSS while idle, during the big deposit, and during 8
     concurrent big deposits.

The clients are BUILD_DIR/http_load (bench/http_load.c): threads, each on
one keep-alive connection, that send files with sendfile(2) and drop what
they receive. curl -T copies every byte twice on its way to the socket,
and on two cores that is CPU taken from vaultd: a third of what vaultd
spends on a large deposit, and a tenth of the machine with eight clients.

The data directory is new for each run and removed at its end, not its
start: ext4 without a journal (this machine's) skips, for a minute or
more, inodes freed shortly before, so that creating files right after a
large deletion costs many times more, for vaultd and the floor alike.

Prints figures; checks nothing (speed goals are not tests).
"""
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from vaultd_harness import Vault  # noqa: E402

MB = 1e6


def median(v):
    return sorted(v)[len(v) // 2]


class RssSampler:
    """Samples a process's VmRSS every 20 ms; keeps the peak."""

    def __init__(self, pid):
        self.pid, self.peak, self.stop_flag = pid, 0, False
        self.t = threading.Thread(target=self.run, daemon=True)

    def rss(self):
        with open("/proc/%d/status" % self.pid) as f:
            m = re.search(r"VmRSS:\s+(\d+) kB", f.read())
            return int(m.group(1)) if m else 0

    def run(self):
        while not self.stop_flag:
            try:
                self.peak = max(self.peak, self.rss())
            except OSError:
                return
            time.sleep(0.02)

    def __enter__(self):
        self.peak = self.rss()
        self.t.start()
        return self

    def __exit__(self, *a):
        self.stop_flag = True
        self.t.join()


def load(build, v, token, clients, requests, method, path_or_paths, body="-"):
    """Runs http_load; returns (answered 2xx, seconds)."""
    paths = path_or_paths if isinstance(path_or_paths, str) else ",".join(path_or_paths)
    p = subprocess.run([os.path.join(build, "http_load"), str(v.port), token,
                        str(clients), str(requests), method, body, paths],
                       capture_output=True, text=True)
    m = re.match(r"ok (\d+) of \d+, ([\d.]+) s", p.stdout)
    if m is None:
        sys.exit("http_load %s %s failed (exit %d): %s%s"
                 % (method, paths, p.returncode, p.stdout, p.stderr))
    if p.stderr:
        print("  (http_load: %s)" % p.stderr.strip().splitlines()[0])
    return int(m.group(1)), float(m.group(2))


def deposit_path(pid, title, category):
    return "/v1/persons/%s/documents?title=%s&category=%s" % (pid, title, category)


def main():
    build = os.path.abspath(sys.argv[1])
    gib = 1
    small = 300
    big8 = True
    rounds = 5
    args = sys.argv[2:]
    while args:
        a = args.pop(0)
        if a == "--gib":
            gib = int(args.pop(0))
        elif a == "--small":
            small = int(args.pop(0))
        elif a == "--skip-big8":
            big8 = False
        elif a == "--rounds":
            rounds = int(args.pop(0))
    work = os.path.abspath("var/bench-api-%d" % os.getpid())
    os.makedirs(work)
    size = gib << 30
    big = os.path.join(work, "big.bin")
    with open(big, "wb") as f:
        chunk = os.urandom(1 << 20)
        for _ in range(size >> 20):
            f.write(chunk)

    print("bench_api: %d GiB document, %d small deposits" % (gib, small))
    def core_once():
        """MB/s of the core pipeline, and the CPU seconds it took."""
        out = subprocess.run([os.path.join(build, "bench_store"), "--dir",
                              os.path.join(work, "core"), "--mib", str(gib << 10),
                              "--rounds", "1"], capture_output=True, text=True).stdout
        return (float(re.search(r"store, no compression\s+(\d+)", out).group(1)),
                float(re.search(r"round 1: .* CPU ([\d.]+) s", out).group(1)))

    def busy_cpu():
        """CPU seconds the whole machine has spent busy (/proc/stat): the
        HTTP deposit's cost is vaultd's, the client's and the kernel's."""
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return (sum(v) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")

    dec = float(subprocess.run([os.path.join(build, "bench_floor"), "decrypt",
                                str(min(gib << 10, 2048))],
                               capture_output=True, text=True).stdout)
    def floor_once(rnd):
        # a directory per round: bench_floor leaves its files, which go
        # with the rest at the end of the run (see above)
        d = os.path.join(work, "floor-%d" % rnd)
        os.makedirs(d)
        return float(subprocess.run([os.path.join(build, "bench_floor"), "floor",
                                     d, str(small), str(200 << 10)],
                                    capture_output=True, text=True).stdout)

    # vaultd at the default Argon2id cost, generous limits for the bench
    sock = float(subprocess.run([os.path.join(build, "bench_floor"), "sockcopy",
                                 str(min(gib << 10, 2048))],
                                capture_output=True, text=True).stdout)
    # what a download cannot beat: decrypting and copying through a socket
    dl_bound = 1.0 / (1.0 / dec + 1.0 / sock)
    v = Vault(build, os.path.join(work, "vault"), login_min_ms=0, test_clock=False,
              extra_args=["--quiet", "--quota", str(64 << 30),
                          "--max-document-size", str(16 << 30),
                          "--argon2-ops", "3", "--argon2-mem-kib", str(64 << 10),
                          "--max-connections", "256", "--max-connections-per-address", "256",
                          "--address-failures", "1000000"])
    v.start()
    try:
        idle = RssSampler(v.proc.pid).rss()
        admin = v.admin()
        sid = v.structure(admin)
        aid, ta = v.aidant(admin, sid, "bench.aidant")
        pid, tp, _ = v.person(ta, "bench.person", secret="bench secret")

        # This machine's disk rate varies from run to run: the core
        # pipeline and the HTTP deposit alternate, and medians compare.
        cores, deps, dls, core_cpu, dep_cpu = [], [], [], [], []
        with RssSampler(v.proc.pid) as s1:
            for rnd in range(rounds):
                mbs, cpu = core_once()
                cores.append(mbs)
                core_cpu.append(cpu)
                c0 = busy_cpu()
                ok, dt = load(build, v, tp, 1, 1, "PUT", deposit_path(pid, "big%d" % rnd, "other"), big)
                dep_cpu.append(busy_cpu() - c0)
                deps.append(size / dt / MB if ok else 0)
        s, b, _ = v.call("GET", "/v1/persons/%s/documents?category=other" % pid, token=tp)
        for d in b["documents"][:rounds]:
            ok, dt = load(build, v, tp, 1, 1, "GET", "/v1/persons/%s/documents/%s/content"
                          % (pid, d["document_id"]))
            dls.append(size / dt / MB if ok else 0)
        core, dep, dl = median(cores), median(deps), median(dls)

        # 200 KiB deposits, keep-alive: each client one connection
        small_file = os.path.join(work, "small.bin")
        with open(small_file, "wb") as f:
            f.write(os.urandom(200 << 10))

        def count_docs():
            s, b, _ = v.call("GET", "/v1/persons/%s/documents?category=income" % pid, token=tp)
            return len(b["documents"])

        # The floor moves with the disk's and the CPU's phases too: it
        # alternates with the deposits, and medians compare.
        before = count_docs()
        floors, ones, eights = [], [], []
        for rnd in range(rounds):
            floors.append(floor_once(rnd))
            ok, dt = load(build, v, tp, 1, small, "PUT", deposit_path(pid, "p", "income"), small_file)
            ones.append(ok / dt)
            ok, dt = load(build, v, tp, 8, small, "PUT", deposit_path(pid, "p", "income"), small_file)
            eights.append(ok / dt)
        landed = count_docs() - before
        floor, one, eight = median(floors), median(ones), median(eights)

        # log-ins at the configured cost
        def logins(n, results):
            ok = 0
            for _ in range(n):
                c = http.client.HTTPConnection(v.host, v.port, timeout=300)
                c.request("POST", "/v1/sessions", body=json.dumps(
                    {"login": "bench.person", "secret": "bench secret"}),
                    headers={"Content-Type": "application/json"})
                r = c.getresponse()
                r.read()
                ok += r.status == 201
                c.close()
            results.append(ok)

        res = []
        threads = [threading.Thread(target=logins, args=(5, res)) for _ in range(8)]
        t = time.time()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        lps = sum(res) / (time.time() - t)
        res = []
        with RssSampler(v.proc.pid) as s2:
            threads = [threading.Thread(target=logins, args=(1, res)) for _ in range(100)]
            for th in threads:
                th.start()
            for th in threads:
                th.join()
        flood_ok = sum(res)

        peak8 = None
        if big8:
            # the log-ins above ended tp (16 sessions an account at most)
            tp = v.login("bench.person", "bench secret")
            res8 = []
            with RssSampler(v.proc.pid) as s3:
                res8.append(load(build, v, tp, 8, 8, "PUT", deposit_path(pid, "big8", "other"), big)[0])
            peak8 = s3.peak
    finally:
        v.stop()

    cfg = "Argon2id 3 passes, 64 MiB; --argon2-concurrency 2 (default)"
    print("  rounds (core, HTTP deposit, HTTP download MB/s): %s" % "; ".join(
        "%.0f, %.0f, %.0f" % t for t in zip(cores, deps, dls)))
    print("  core store pipeline (bench_store)      %7.0f MB/s" % core)
    print("  deposit of %d GiB over HTTP             %7.0f MB/s  (%.0f %% of the core pipeline)"
          % (gib, dep, 100 * dep / core))
    print("  CPU seconds a GiB: core pipeline %.2f (bench_store's own), HTTP deposit %.2f"
          " (the machine: vaultd, client, kernel)" % (median(core_cpu) / gib, median(dep_cpu) / gib))
    print("  raw secretstream decryption            %7.0f MB/s" % dec)
    print("  loopback socket copy                   %7.0f MB/s" % sock)
    print("  decryption + socket copy, serial       %7.0f MB/s" % dl_bound)
    print("  download of %d GiB over HTTP            %7.0f MB/s  (%.0f %% of raw decryption,"
          " %.0f %% of decryption + socket copy)"
          % (gib, dl, 100 * dl / dec, 100 * dl / dl_bound))
    print("  rounds (floor, 1 client, 8 clients /s): %s" % "; ".join(
        "%.0f, %.0f, %.0f" % t for t in zip(floors, ones, eights)))
    print("  durable floor, in-process              %7.1f /s" % floor)
    print("  200 KiB deposits, 1 client             %7.1f /s  (%.0f %% of the floor)" % (one, 100 * one / floor))
    print("  200 KiB deposits, 8 clients            %7.1f /s  (%.0f %% of the floor)" % (eight, 100 * eight / floor))
    print("  small deposits listed afterwards: %d of %d sent" % (landed, 2 * small * rounds))
    print("  log-ins, 8 clients (%s)  %.1f /s" % (cfg, lps))
    print("  100 concurrent log-ins: %d succeeded, vaultd peak RSS %.1f MiB" % (flood_ok, s2.peak / 1024))
    print("  vaultd RSS idle %.1f MiB; peak during the %d GiB deposit %.1f MiB (+%.1f)"
          % (idle / 1024, gib, s1.peak / 1024, (s1.peak - idle) / 1024))
    if peak8 is not None:
        print("  peak during 8 concurrent %d GiB deposits (%d of 8 stored) %.1f MiB (+%.1f MiB per upload)"
              % (gib, res8[0], peak8 / 1024, (peak8 - idle) / 1024 / 8))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
