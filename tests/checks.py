"""The named checks of the Python tests: each prints `ok   NAME` or
`FAIL NAME: DETAIL`; finish() prints `N passed, M failed` and exits 0 only
if nothing failed and something passed."""
import sys

results = []


def check(name, cond, detail=""):
    results.append(bool(cond))
    print(("ok   " if cond else "FAIL ") + name + ("" if cond else ": " + str(detail)))


def finish():
    passed = sum(results)
    print("%d passed, %d failed" % (passed, len(results) - passed))
    sys.exit(0 if passed == len(results) and passed > 0 else 1)
