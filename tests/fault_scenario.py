"""The scenario the fault tests of a running vaultd share
(vaultd_crash_test.py, vaultd_faults_test.py): a data directory with a
person, an aidant, three documents and a read mandate; the four requests
whose durability points are tried (a deposit, a deletion, a mandate grant,
a revocation); and what must hold after a restart: answered requests
intact, unanswered ones all or nothing, every other document intact,
`vaultctl fsck`, `PRAGMA integrity_check` and `vaultctl journal verify`
clean.

    S = Scenario(build, workdir)      # makes the template data directory
    v = S.fresh()                     # a started vaultd on a copy of it
    ans, died, events, tid = S.send(v, "deposit", syscalls, inject=...)
    v.stop(); v.start()
    o = S.observe(v); problems, done = S.judge("deposit", o, ans)
    problems += S.offline(v, "deposit", ans, o)
"""
import os
import re
import shutil
from urllib.parse import urlencode

from fault_inject import Traced, fsck, integrity, journal_verify, sha
from vaultd_harness import Vault

PERSON, PSECRET = "person.karim", "soleil 2026"
AIDANT, ASECRET = "aidant.amina", "aidant secret 123"
# the deposited document: more than one 64 KiB chunk
X = bytes((i * 131 + 7) % 251 for i in range(70000)) + os.urandom(5000)

ROUTES = {"deposit": "POST /v1/persons/{}/documents ",
          "deletion": "DELETE /v1/persons/{}/documents/{} ",
          "grant": "POST /v1/persons/{}/mandates ",
          "revocation": "DELETE /v1/persons/{}/mandates/{} "}
NAMES = ["deposit", "deletion", "grant", "revocation"]


def acked(ans):
    return ans is not None and 200 <= ans[0] < 300


class Scenario:
    def __init__(self, build, work, extra_args=()):
        self.build, self.work = build, work
        self.extra = list(extra_args)
        self.template = os.path.join(work, "template")
        self.bad_exits = []  # vaultd stopped with SIGTERM but did not exit 0
        self.make_template()

    # ---- the data directory every run starts from -------------------------------

    def make_template(self):
        v = Vault(self.build, self.template, extra_args=self.extra)
        v.start()
        admin = v.admin()
        sid = v.structure(admin)
        self.aid, _ = v.aidant(admin, sid, AIDANT, secret=ASECRET)
        self.pid, ptok, _ = v.person(v.login(AIDANT, ASECRET), PERSON, secret=PSECRET)
        self.docs = {}
        for name, cat, size in [("D1", "income", 3000), ("D2", "income", 70000),
                                ("D3", "identity", 1500)]:
            data = os.urandom(size)
            s, b, _ = v.deposit(ptok, self.pid, data, category=cat, title=name)
            assert s == 201, (s, b)
            self.docs[name] = (b["document_id"], data)
        s, b, _ = v.mandate(ptok, self.pid, self.aid, ["read"], ["income"])
        assert s == 201, (s, b)
        self.m1 = b["mandate_id"]
        v.stop()
        os.remove(v.log_path)

    def fresh(self, name="run"):
        d = os.path.join(self.work, name)
        shutil.rmtree(d, ignore_errors=True)
        shutil.copytree(self.template, d)
        v = Vault(self.build, d, init=False, extra_args=self.extra)
        v.start()
        return v

    def doc(self, name):
        return self.docs[name][0]

    # ---- the four requests --------------------------------------------------------

    def request(self, name):
        pid = self.pid
        if name == "deposit":
            q = urlencode({"title": "X", "category": "income"})
            return ("POST", "/v1/persons/%s/documents?%s" % (pid, q),
                    {"raw": X, "headers": {"Content-Type": "application/pdf"}})
        if name == "deletion":
            return ("DELETE", "/v1/persons/%s/documents/%s" % (pid, self.doc("D1")), {})
        if name == "grant":
            return ("POST", "/v1/persons/%s/mandates" % pid,
                    {"body": {"aidant_id": self.aid, "scopes": ["read"],
                              "categories": ["identity"], "duration_days": 30}})
        if name == "revocation":
            return ("DELETE", "/v1/persons/%s/mandates/%s" % (pid, self.m1), {})
        raise ValueError(name)

    def send(self, v, name, syscalls, inject=None, follow=True, token=None, extra=()):
        """Logs the person in (unless given her token), sends the request on
        a traced connection. Returns (answer or None, died, events, tid)."""
        ptok = token or v.login(PERSON, PSECRET)
        method, path, kw = self.request(name)
        route = ROUTES[name]
        before = v.read_log().count(route)
        t = Traced(v, syscalls, inject=inject, follow=follow, extra=extra)
        ans = t.call(method, path, token=ptok, **kw)
        t.settle(lambda: v.read_log().count(route) > before)
        died = v.proc.poll() is not None
        t.detach()
        self.last_trace = t
        return ans, died, t.events(), t.tid

    # ---- what must hold after a restart ---------------------------------------------

    def observe(self, v):
        """What the person and the aidant see."""
        pid = self.pid
        ptok, atok = v.login(PERSON, PSECRET), v.login(AIDANT, ASECRET)
        o = {"problems": []}
        s, b, _ = v.call("GET", "/v1/persons/%s/documents" % pid, token=ptok)
        assert s == 200, (s, b)
        o["listed"] = {d["document_id"]: d for d in b["documents"]}
        o["content"] = {}
        for did, d in o["listed"].items():
            s, body, _ = v.call("GET", "/v1/persons/%s/documents/%s/content" % (pid, did),
                                token=ptok)
            if s != 200 or len(body) != d["size"] or sha(body) != d["sha256"]:
                o["problems"].append("listed document %s does not download whole (%s)"
                                     % (did, s))
            o["content"][did] = body if s == 200 else None
        # the aidant: what he may read, he reads whole
        o["aidant_reads"] = {}
        for did in set(o["listed"]) | {d for d, _ in self.docs.values()}:
            s, body, _ = v.call("GET", "/v1/persons/%s/documents/%s/content" % (pid, did),
                                token=atok)
            if s == 200:
                want = o["content"].get(did)
                if want is None or body != want:
                    o["problems"].append("the aidant downloads %s, not whole or not listed"
                                         % did)
            o["aidant_reads"][did] = s == 200
        s, b, _ = v.call("GET", "/v1/persons/%s/mandates" % pid, token=ptok)
        o["mandates"] = b["mandates"]
        s, b, _ = v.call("GET", "/v1/persons/%s/journal" % pid, token=ptok)
        o["events"] = b["events"]
        return o

    @staticmethod
    def events(o, action, object_id=None):
        return [e for e in o["events"] if e["action"] == action and
                (object_id is None or e["object_id"] == object_id)]

    def judge(self, name, o, ans):
        """Problems with the request's own effect: answered means there,
        unanswered (or answered with a failure) means all or nothing.
        Returns (problems, done)."""
        p, done, ok = list(o["problems"]), None, acked(ans)
        ev = self.events
        docs = {n: d for n, (d, _) in self.docs.items()}
        keep = {"D1", "D2", "D3"} - ({"D1"} if name == "deletion" else set())
        for n in sorted(keep):  # documents the request does not touch are intact
            did, data = self.docs[n]
            if o["content"].get(did) != data:
                p.append("%s (untouched by the request) is not intact" % n)
        if name == "deposit":
            # (documents deposited by the test after the fault are titled
            # otherwise; observe() checks that they download whole)
            new = [d for d in o["listed"] if d not in docs.values() and
                   o["listed"][d].get("title") == "X"]
            done = bool(new)
            if ok and (ans[1].get("document_id") not in new):
                p.append("answered 201 but the document is not listed")
            if len(new) > 1:
                p.append("%d new documents" % len(new))
            for d in new:
                if o["content"].get(d) != X or o["listed"][d]["sha256"] != sha(X):
                    p.append("the deposited document is listed but not its bytes")
                if not o["aidant_reads"].get(d):
                    p.append("deposited under a read mandate, yet the aidant cannot read it")
            others = len(o["listed"]) - len(new) - sum(d in o["listed"] for d in docs.values())
            if len(ev(o, "document.deposit")) != 3 + len(new) + others:
                p.append("document.deposit events (%d) do not match documents (%d)"
                         % (len(ev(o, "document.deposit")), 3 + len(new) + others))
        elif name == "deletion":
            d1 = docs["D1"]
            gone = done = d1 not in o["listed"]
            journaled = bool(ev(o, "document.delete", d1))
            if ok and not gone:
                p.append("answered 204 but the document is still listed")
            if gone != journaled:
                p.append("deleted=%s but document.delete journaled=%s" % (gone, journaled))
            if gone and o["aidant_reads"].get(d1):
                p.append("deleted, yet the aidant still downloads it")
            if not gone and (o["content"].get(d1) != self.docs["D1"][1] or
                             not o["aidant_reads"].get(d1)):
                p.append("not deleted, yet not whole for the person and the aidant")
        elif name == "grant":
            ms = [m for m in o["mandates"] if "identity" in m["categories"]]
            if ok and [m["mandate_id"] for m in ms] != [ans[1].get("mandate_id")]:
                p.append("answered 201 but the mandate is not listed")
            if len(ms) > 1:
                p.append("%d grants" % len(ms))
            there = done = len(ms) == 1 and ms[0]["status"] == "active"
            if there != bool(ev(o, "mandate.grant", ms[0]["mandate_id"] if ms else "-")):
                p.append("grant listed=%s but journaled otherwise" % there)
            if there != o["aidant_reads"].get(docs["D3"]):
                p.append("grant listed=%s but the aidant reads the identity paper=%s"
                         % (there, o["aidant_reads"].get(docs["D3"])))
        elif name == "revocation":
            m1 = [m for m in o["mandates"] if m["mandate_id"] == self.m1]
            revoked = done = bool(m1) and m1[0]["status"] == "revoked"
            if not m1:
                p.append("the mandate disappeared")
            if ok and not revoked:
                p.append("answered 204 but the mandate is still active")
            if revoked != bool(ev(o, "mandate.revoke", self.m1)):
                p.append("revoked=%s but mandate.revoke journaled otherwise" % revoked)
            reads = [o["aidant_reads"].get(docs["D1"]), o["aidant_reads"].get(docs["D2"])]
            if revoked and any(reads):
                p.append("revoked, yet the aidant still reads an income paper")
            if not revoked and not all(reads):
                p.append("not revoked, yet the aidant cannot read the income papers")
        return p, done

    def offline(self, v, name, ans, o, orphan_ok=True):
        """fsck, integrity_check, journal verify, temp files, start-up report
        (vaultd stopped). An unreferenced blob is accepted only as the
        interrupted request's own, and only if orphan_ok: a deposit not
        answered with success, or a deletion whose row is gone."""
        p = []
        ok, unref, out, _ = fsck(self.build, v.data)
        if not ok:
            p.append("fsck: " + out[-400:])
        allowed = set()
        if orphan_ok and not acked(ans) and name == "deposit":
            allowed = {d for d in unref if d not in o["listed"]}
        if orphan_ok and not acked(ans) and name == "deletion" and \
                self.doc("D1") not in o["listed"]:
            allowed = {self.doc("D1")}
        if set(unref) - allowed or len(unref) > 1:
            p.append("fsck: unreferenced %s" % unref)
        ok, out = integrity(v.data)
        if not ok:
            p.append("integrity_check: " + out[-300:])
        ok, out = journal_verify(self.build, v.data)
        if not ok:
            p.append("journal verify: " + out[-300:])
        tmp = os.listdir(os.path.join(v.data, "blobs", "tmp"))
        if tmp:
            p.append("temp files left: %s" % tmp)
        m = re.search(r"(\d+) documents without a blob", v.read_log())
        if m and m.group(1) != "0":
            p.append("start-up: " + m.group(0))
        return p

    def stop(self, v):
        """Stops vaultd; a daemon that was running must exit 0 (under
        ASan this is also LeakSanitizer's verdict on the failure paths
        taken); one killed by a fault (-9) is what the fault did."""
        rc = v.stop()
        if rc not in (None, 0, -9):
            self.bad_exits.append("exit %s: %s" % (rc, v.read_log()[-1500:]))
        return rc

    def after_restart(self, v, name, ans, orphan_ok=True):
        """Restarts vaultd on what is left, observes, stops it, checks
        offline. Returns (problems, done)."""
        self.stop(v)
        v.start()
        o = self.observe(v)
        self.stop(v)
        p, done = self.judge(name, o, ans)
        return p + self.offline(v, name, ans, o, orphan_ok), done
