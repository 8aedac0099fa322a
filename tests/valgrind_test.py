#!/usr/bin/python3
"""A short full scenario with vaultd under Valgrind's memcheck: no invalid
read or write, no use of uninitialised memory, and no leak at shutdown
(definite, indirect or possible), or the daemon's exit status is 99.
Normal build only (Valgrind and AddressSanitizer do not mix); slow, so a
handful of requests: log-ins, enrolment and activation, a deposit, the
list, a download, a mandate grant, the aidant's download, a share link and
its download, a revocation, a deletion, the journal, an export, a log-out,
then SIGTERM. `vaultctl fsck` and `journal verify` run under memcheck too.

usage: valgrind_test.py BUILD_DIR WORKDIR
"""
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import check, finish  # noqa: E402
from vaultd_harness import Vault  # noqa: E402

BUILD, WORK = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])


def memcheck(log):
    return ["valgrind", "--tool=memcheck", "--error-exitcode=99", "--leak-check=full",
            "--show-leak-kinds=definite,indirect,possible",
            "--errors-for-leak-kinds=definite,indirect,possible",
            "--track-origins=yes", "--log-file=" + log]


def summary(log):
    text = open(log).read()
    errs = re.findall(r"ERROR SUMMARY: (\d+) errors", text)
    lost = dict(re.findall(r"(definitely|indirectly|possibly) lost: ([\d,]+) bytes", text))
    if "All heap blocks were freed" in text:
        lost["all freed"] = "0"
    return text, errs, lost


def main():
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is required (apt-get install valgrind)")
    t0 = time.time()
    v = Vault(BUILD, os.path.join(WORK, "v"))
    log = os.path.join(WORK, "memcheck-vaultd.log")
    v.wrapper = memcheck(log)
    v.start()
    print("# vaultd up under memcheck in %.0fs" % (time.time() - t0), flush=True)
    admin = v.admin()
    sid = v.structure(admin)
    aid, atok = v.aidant(admin, sid, "aidant.amina")
    pid, ptok, _ = v.person(atok, "person.karim")
    data = os.urandom(70000) + b"text " * 4000
    s1, doc, _ = v.deposit(ptok, pid, data, category="residence")
    did = doc["document_id"]
    s2, lst, _ = v.call("GET", "/v1/persons/%s/documents" % pid, token=ptok)
    s3, body, _ = v.call("GET", "/v1/persons/%s/documents/%s/content" % (pid, did), token=ptok)
    s4, m, _ = v.mandate(ptok, pid, aid, ["read", "deposit"], ["residence"])
    s5, abody, _ = v.call("GET", "/v1/persons/%s/documents/%s/content" % (pid, did), token=atok)
    s6, sh, _ = v.call("POST", "/v1/persons/%s/documents/%s/shares" % (pid, did),
                       {"expires_in_hours": 1, "max_downloads": 2}, token=ptok)
    s7, sbody, _ = v.call("GET", "/v1/shares/" + sh["url"].rsplit("/", 1)[1])
    s8, _, _ = v.call("DELETE", "/v1/persons/%s/mandates/%s" % (pid, m["mandate_id"]), token=ptok)
    s9, _, _ = v.call("GET", "/v1/persons/%s/export" % pid, token=ptok)
    s10, _, _ = v.call("GET", "/v1/persons/%s/journal" % pid, token=ptok)
    s11, _, _ = v.call("DELETE", "/v1/persons/%s/documents/%s" % (pid, did), token=ptok)
    s12, _, _ = v.call("DELETE", "/v1/sessions/current", token=ptok)
    statuses = [s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11, s12]
    check("the scenario's requests succeed under memcheck (%s)" % statuses,
          statuses == [201, 200, 200, 201, 200, 201, 200, 204, 200, 200, 204, 204] and
          body == data and abody == data and sbody == data, statuses)
    rc = v.stop()
    text, errs, lost = summary(log)
    print("# vaultd stopped at %.0fs: exit %s, %s, lost %s"
          % (time.time() - t0, rc, errs and "%s errors" % errs[-1], lost), flush=True)
    check("vaultd under memcheck: exit 0 after SIGTERM, 0 errors (invalid accesses, "
          "uninitialised values), no definite, indirect or possible leak",
          rc == 0 and errs and errs[-1] == "0" and
          all(x == "0" for x in lost.values()), text[-3000:])
    for cmd in (["fsck", "--data-dir", v.data], ["journal", "verify", "--data-dir", v.data]):
        clog = os.path.join(WORK, "memcheck-%s.log" % cmd[0])
        p = subprocess.run(memcheck(clog) + [os.path.join(BUILD, "vaultctl")] + cmd,
                           capture_output=True, text=True, timeout=600)
        text, errs, lost = summary(clog)
        check("vaultctl %s under memcheck: exit 0, 0 errors, no leak" % " ".join(cmd[:-2]),
              p.returncode == 0 and errs and errs[-1] == "0" and
              all(x == "0" for x in lost.values()), p.stdout + text[-2000:])
    print("# took %.0fs" % (time.time() - t0))
    shutil.rmtree(WORK, ignore_errors=True)
    finish()


if __name__ == "__main__":
    main()
