#!/usr/bin/python3
"""A wrong secret and an unknown login must look the same from outside.

    usage: login_timing_test.py BUILD_DIR WORKDIR

Starts vaultd (tests/vaultd_harness.py) with --login-min-ms 40 and one
person account, then sends, in a random interleaved order, a few hundred
POST /v1/sessions of two kinds: the existing login with a wrong secret, and
logins that do not exist (a different one each time). Both kinds must get
the same status, the same body and the same headers, and their response
times must not be told apart by Welch's t-test at the two-sided 99.9%
level. A control shows that the method has power: GET /v1/health, timed in
the same run, is told apart from the log-ins.

The account must never lock (--lock-after at its maximum, above the number
of attempts) and the per-address throttle must not interfere: all requests
come from loopback, so vaultd is started with --address-failures above the
number of attempts when the build has that option; otherwise (or with
LOGIN_TIMING_SPREAD=1 in the environment) the attempts are spread over
source addresses 127.0.0.2, 127.0.0.3, … with fewer failures each than the
default free allowance. LOGIN_TIMING_SEED=N replays an order.

Standard library only; ends with "N passed, M failed".
"""
import gc
import http.client
import json
import math
import os
import random
import string
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vaultd_harness import Vault  # noqa: E402

LOGIN_MIN_MS = 40
PER_KIND = 250          # timed attempts of each kind
HEALTH = 150            # timed health requests (the control)
WARMUP = 10             # untimed attempts of each kind first
LOCK_AFTER_MAX = 1000   # vaultd's upper bound for --lock-after
DEFAULT_FREE = 10       # vaultd's default failed log-ins per address
ALPHA = 0.001           # two-sided

passed = 0
failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print("ok     %s" % name)
    else:
        failed += 1
        print("FAILED %s%s" % (name, (": " + detail) if detail else ""))
    return ok


# ---- statistics, by hand ----------------------------------------------------

def mean_sd(xs):
    n = len(xs)
    m = sum(xs) / n
    var = sum((x - m) ** 2 for x in xs) / (n - 1)
    return m, math.sqrt(var)


def welch(a, b):
    """Welch's t and the Welch–Satterthwaite degrees of freedom."""
    ma, sa = mean_sd(a)
    mb, sb = mean_sd(b)
    va, vb = sa * sa / len(a), sb * sb / len(b)
    se = math.sqrt(va + vb)
    if se == 0:
        return (0.0 if ma == mb else math.inf), float(len(a) + len(b) - 2)
    t = (ma - mb) / se
    df = (va + vb) ** 2 / (va * va / (len(a) - 1) + vb * vb / (len(b) - 1))
    return t, df


def _betacf(a, b, x):
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 500):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h


def betai(a, b, x):
    """Regularized incomplete beta I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    lbt = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) +
           a * math.log(x) + b * math.log(1.0 - x))
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(lbt) * _betacf(a, b, x) / a
    return 1.0 - math.exp(lbt) * _betacf(b, a, 1.0 - x) / b


def t_two_sided_p(t, df):
    """P(|T| >= |t|) for Student's t with df degrees of freedom."""
    if math.isinf(t):
        return 0.0
    return betai(df / 2.0, 0.5, df / (df + t * t))


def t_critical(df, alpha=ALPHA):
    """The |t| beyond which a two-sided test at level alpha rejects."""
    lo, hi = 0.0, 1000.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if t_two_sided_p(mid, df) > alpha:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def describe(name, xs):
    m, s = mean_sd(xs)
    ys = sorted(xs)
    print("  %-22s n=%d mean=%.3f ms sd=%.3f ms median=%.3f ms min=%.3f ms "
          "max=%.3f ms" % (name, len(xs), m, s, ys[len(ys) // 2], ys[0], ys[-1]))


# ---- requests --------------------------------------------------------------------

def timed(v, method, path, body=None, source=None):
    """(seconds, status, body bytes, headers without Date)."""
    c = http.client.HTTPConnection(v.host, v.port, timeout=30,
                                   source_address=(source, 0) if source else None)
    try:
        c.connect()
        data = json.dumps(body).encode() if body is not None else None
        h = {"Content-Type": "application/json"} if data is not None else {}
        t0 = time.perf_counter()
        c.request(method, path, body=data, headers=h)
        r = c.getresponse()
        payload = r.read()
        t1 = time.perf_counter()
        hdrs = tuple(sorted((k.lower(), v_) for k, v_ in r.getheaders()
                            if k.lower() != "date"))
        return t1 - t0, r.status, payload, hdrs
    finally:
        c.close()


def secret(rng):
    return "".join(rng.choice(string.ascii_letters + string.digits)
                   for _ in range(16))


def main():
    if len(sys.argv) != 3:
        sys.stderr.write("usage: login_timing_test.py BUILD_DIR WORKDIR\n")
        return 2
    build, work = sys.argv[1], sys.argv[2]
    seed = int(os.environ.get("LOGIN_TIMING_SEED") or
               int.from_bytes(os.urandom(4), "big"))
    rng = random.Random(seed)
    print("seed %d (LOGIN_TIMING_SEED=%d replays this order)" % (seed, seed))

    attempts = 2 * (PER_KIND + WARMUP)
    help_text = subprocess.run([os.path.join(build, "vaultd"), "--help"],
                               capture_output=True, text=True).stdout
    has_addr_option = "--address-failures" in help_text
    spread = not has_addr_option or os.environ.get("LOGIN_TIMING_SPREAD") == "1"
    extra = ["--lock-after", str(LOCK_AFTER_MAX), "--quiet"]
    if has_addr_option and not spread:
        extra += ["--address-failures", str(10 * attempts)]
    print("vaultd has --address-failures: %s; attempts %s" % (
        "yes" if has_addr_option else "no",
        "spread over loopback source addresses" if spread else
        "from 127.0.0.1 with --address-failures %d" % (10 * attempts)))
    check("the account cannot lock during the run (%d failed attempts on it, "
          "--lock-after %d)" % (PER_KIND + WARMUP, LOCK_AFTER_MAX),
          PER_KIND + WARMUP + 1 < LOCK_AFTER_MAX)

    started = time.time()
    with Vault(build, work, extra_args=extra, login_min_ms=LOGIN_MIN_MS) as v:
        admin = v.admin()
        right = "the right secret 42"
        pid, token, _ = v.person(admin, "amina.k", secret=right)
        check("vaultd serves with --login-min-ms %d and the account exists" %
              LOGIN_MIN_MS, bool(pid and token))

        # Source addresses: each gets fewer failures than the free allowance
        # (a success would clear it too, but there is none to send).
        per_source = DEFAULT_FREE - 1
        counter = {"n": 0}

        def source():
            if not spread:
                return None
            k = counter["n"] // per_source
            counter["n"] += 1
            return "127.0.%d.%d" % (1 + k // 250, 2 + k % 250)

        unknown_seen = set()

        def attempt(kind):
            if kind == "wrong":
                body = {"login": "amina.k", "secret": secret(rng)}
            else:
                while True:
                    login = "%s.%s" % (rng.choice(["amina", "jean", "fatou",
                                                   "karim", "lea", "ion"]),
                                       "".join(rng.choice(string.ascii_lowercase)
                                               for _ in range(rng.randint(1, 6))))
                    if login not in unknown_seen and login != "amina.k":
                        break
                unknown_seen.add(login)
                body = {"login": login, "secret": secret(rng)}
            return timed(v, "POST", "/v1/sessions", body, source())

        for _ in range(WARMUP):
            attempt("wrong")
            attempt("unknown")
            timed(v, "GET", "/v1/health")

        order = ["wrong"] * PER_KIND + ["unknown"] * PER_KIND + ["health"] * HEALTH
        rng.shuffle(order)
        res = {"wrong": [], "unknown": [], "health": []}
        gc.disable()
        try:
            for kind in order:
                if kind == "health":
                    res[kind].append(timed(v, "GET", "/v1/health"))
                else:
                    res[kind].append(attempt(kind))
        finally:
            gc.enable()
        elapsed = time.time() - started

        # The answers themselves.
        statuses = {k: sorted({r[1] for r in res[k]}) for k in ("wrong", "unknown")}
        check("every attempt of both kinds got 401", statuses["wrong"] == [401] and
              statuses["unknown"] == [401], repr(statuses))
        n429 = sum(1 for k in ("wrong", "unknown") for r in res[k] if r[1] == 429)
        check("the address throttle never answered (no 429)", n429 == 0,
              "%d answers were 429" % n429)
        bodies = {r[2] for k in ("wrong", "unknown") for r in res[k]}
        check("the same body for a wrong secret and an unknown login",
              len(bodies) == 1, "%d different bodies: %r" % (len(bodies),
                                                              sorted(bodies)[:3]))
        if len(bodies) == 1:
            print("  body: %s" % next(iter(bodies)).decode(errors="replace"))
        headers = {r[3] for k in ("wrong", "unknown") for r in res[k]}
        check("the same headers (Date aside) for both kinds", len(headers) == 1,
              "%d different header sets" % len(headers))
        # The floor is counted in whole milliseconds by vaultd: allow 1 ms,
        # and say how many answers came in under it all the same.
        floor_s = LOGIN_MIN_MS / 1000.0
        times = [r[0] for k in ("wrong", "unknown") for r in res[k]]
        under = [x for x in times if x < floor_s]
        if under:
            print("  note: %d of %d answers came before the %d ms floor "
                  "(the fastest %.3f ms)" % (len(under), len(times),
                                             LOGIN_MIN_MS, 1000 * min(under)))
        fast = [x for x in times if x < floor_s - 0.001]
        check("no log-in answer came more than 1 ms before the %d ms floor" %
              LOGIN_MIN_MS, not fast, "%d answers did, the fastest %.3f ms" %
              (len(fast), 1000 * min(fast) if fast else 0))

        # The times.
        wrong = [1000 * r[0] for r in res["wrong"]]
        unknown = [1000 * r[0] for r in res["unknown"]]
        health = [1000 * r[0] for r in res["health"]]
        print("response times:")
        describe("wrong secret", wrong)
        describe("unknown login", unknown)
        describe("GET /v1/health", health)
        t, df = welch(wrong, unknown)
        crit = t_critical(df)
        p = t_two_sided_p(t, df)
        print("  wrong secret vs unknown login: t=%.3f df=%.1f p=%.4f "
              "critical |t|=%.3f (two-sided %.1f%%)" % (t, df, p, crit,
                                                       100 * (1 - ALPHA)))
        check("a wrong secret and an unknown login cannot be told apart by "
              "time (Welch |t| %.2f < %.2f)" % (abs(t), crit), abs(t) < crit,
              "means differ by %.3f ms" % (mean_sd(wrong)[0] - mean_sd(unknown)[0]))
        # The same test without the slowest 5% (fsync, scheduling): a few
        # long stalls land on either kind by chance and swamp a small,
        # steady difference, which this comparison still sees.
        pooled = sorted(wrong + unknown)
        cut = pooled[int(0.95 * len(pooled))]
        wrong_t = [x for x in wrong if x <= cut]
        unknown_t = [x for x in unknown if x <= cut]
        tt, dft = welch(wrong_t, unknown_t)
        critt = t_critical(dft)
        print("  without answers above the pooled 95th percentile (%.3f ms): "
              "n=%d/%d means %.3f/%.3f ms t=%.3f df=%.1f critical |t|=%.3f" %
              (cut, len(wrong_t), len(unknown_t), mean_sd(wrong_t)[0],
               mean_sd(unknown_t)[0], tt, dft, critt))
        check("nor without the slowest 5%% of answers (Welch |t| %.2f < %.2f)" %
              (abs(tt), critt), abs(tt) < critt,
              "means differ by %.3f ms" % (mean_sd(wrong_t)[0] - mean_sd(unknown_t)[0]))
        # The smallest difference of means this run would have detected
        # with 90% power: the test is only worth what its resolution is.
        va = mean_sd(wrong)[1] ** 2 / len(wrong)
        vb = mean_sd(unknown)[1] ** 2 / len(unknown)
        mde = (crit + 1.2816) * math.sqrt(va + vb)
        print("  smallest difference this run detects (90%% power): %.3f ms" % mde)
        check("the comparison is sharp enough to see a leak of a quarter of "
              "the floor, %.0f ms (detects %.3f ms)" % (LOGIN_MIN_MS / 4.0, mde),
              mde < LOGIN_MIN_MS / 4.0)

        # Control: something known to differ is told apart by the same test.
        tc, dfc = welch(wrong + unknown, health)
        critc = t_critical(dfc)
        print("  control, log-ins vs GET /v1/health: t=%.3f df=%.1f critical "
              "|t|=%.3f" % (tc, dfc, critc))
        check("control: the same test tells GET /v1/health from a log-in "
              "(|t| %.1f > %.2f)" % (abs(tc), critc), abs(tc) > critc)

        # The account is still usable, and every attempt was journaled.
        s, b, _ = v.call("POST", "/v1/sessions", {"login": "amina.k",
                                                  "secret": right})
        check("the account did not lock: the right secret still opens it",
              s == 201, "%s %r" % (s, b))
        s, b, _ = v.call("GET", "/v1/journal?action=session.login_failed&limit=1000",
                         token=v.admin())
        events = b.get("events", []) if isinstance(b, dict) else []
        mine = sum(1 for e in events if e.get("person_id") == pid)
        anon = sum(1 for e in events if e.get("person_id") is None)
        check("every failed attempt was journaled (%d on the account, %d "
              "unknown)" % (mine, anon), s == 200 and
              mine == PER_KIND + WARMUP and anon == PER_KIND + WARMUP,
              "expected %d and %d" % (PER_KIND + WARMUP, PER_KIND + WARMUP))
        print("timed run: %.1f s" % elapsed)

    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
