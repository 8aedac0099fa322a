#!/usr/bin/python3
"""authz_test.py: the authorisation matrix of vaultd's API.

    usage: authz_test.py BUILD_DIR WORKDIR

Starts a real vaultd (tests/vaultd_harness.py) with a fresh data directory
in WORKDIR, builds one population, then sends every route of the route
table (as `vaultd --routes` prints it) as every principal, with the
identifiers that matter, and compares each answer with what DESIGN.md
says (the "route | who | what" table, the aidant charter, the contract
details):

  principals  anon (no Authorization), forged (a bearer token of the right
              shape that was never issued), person A, person B, aidants of
              structure S1 (no mandate; deposit-only mandate from A for
              identity; read mandate from A for identity only; read+deposit
              from A for every category), an aidant with a read+deposit
              mandate from B, the structure administrator of S1, an aidant
              of S2 with no mandate, the instance administrator, an auditor
  identifiers A's ids, B's ids, ids of the right shape that exist nowhere,
              A's objects under B's path and B's under A's

Every cell is a check: an unexpected 2xx is a security failure, an expected
2xx that is refused is a failure too, and refusals must have the status
DESIGN.md gives (401 without a session, 403 {"error":"forbidden"} for an
aidant without the needed mandate, 404 for what does not exist, ...).
Routes this build answers 501 for (time-stamps, receipts, export,
checkpoints, proofs, TSA, instance keys) accept any non-2xx for now, or a
2xx for the principals DESIGN.md allows, but must refuse anonymous callers
with 401 where a session is required.

Destructive routes run last, by refused principals first, on throw-away
objects (re-created if a refusal unexpectedly succeeds), so that one pass
covers everything. At the end A's and B's journals are read: every
refused cell on a person's documents must have left no trace of success
(no document.list/read/download/deposit/delete and no mandate.use by that
actor beyond what the successful cells account for), and every journal
count of the watched actions must match the cells that succeeded.

Ends with "N passed, M failed"; exit status 0 only if M == 0 and N > 0.
Standard library only (Debian's /usr/bin/python3).
"""
import collections
import hashlib
import io
import json
import os
import secrets
import subprocess
import sys
import tarfile
import time
from urllib.parse import urlencode

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vaultd_harness import Vault  # noqa: E402

CATEGORIES = ["identity", "residence", "health", "housing", "employment",
              "income", "tax", "family", "schooling", "bank", "justice",
              "other"]
AIDANT_SECRET = "aidant secret 123"
AUDITOR_SECRET = "auditor secret for the tests"
PERSON_SECRET = "1234"

WATCHED = {"document.list", "document.read", "document.download",
           "document.deposit", "document.delete", "mandate.use",
           "mandate.grant", "mandate.revoke", "share.create", "share.revoke"}

# The route table (the keys `vaultd --routes` prints).
R_HEALTH = "GET /v1/health"
R_LOGIN = "POST /v1/sessions"
R_LOGOUT = "DELETE /v1/sessions/current"
R_ME = "GET /v1/me"
R_PERSONS = "POST /v1/persons"
R_ACTIVATE = "POST /v1/activate"
R_RECOVER = "POST /v1/recover"
R_STRUCTURES = "POST /v1/structures"
R_AIDANTS = "POST /v1/structures/{}/aidants"
R_STRUCT_LIST = "GET /v1/structures"
R_AIDANT_LIST = "GET /v1/structures/{}/aidants"
R_AIDANT_REMOVE = "DELETE /v1/structures/{}/aidants/{}"
R_AUDITORS = "POST /v1/auditors"
R_DEPOSIT = "POST /v1/persons/{}/documents"
R_LIST = "GET /v1/persons/{}/documents"
R_META = "GET /v1/persons/{}/documents/{}"
R_CONTENT = "GET /v1/persons/{}/documents/{}/content"
R_DOC_DELETE = "DELETE /v1/persons/{}/documents/{}"
R_TIMESTAMP = "GET /v1/persons/{}/documents/{}/timestamp"
R_RECEIPT = "GET /v1/persons/{}/documents/{}/receipt"
R_EXPORT = "GET /v1/persons/{}/export"
R_GRANT = "POST /v1/persons/{}/mandates"
R_MANDATES = "GET /v1/persons/{}/mandates"
R_REVOKE = "DELETE /v1/persons/{}/mandates/{}"
R_MY_MANDATES = "GET /v1/aidants/me/mandates"
R_SHARE_CREATE = "POST /v1/persons/{}/documents/{}/shares"
R_SHARE_GET = "GET /v1/shares/{}"
R_SHARE_REVOKE = "DELETE /v1/persons/{}/shares/{}"
R_PJOURNAL = "GET /v1/persons/{}/journal"
R_JOURNAL = "GET /v1/journal"
R_CP_GET = "GET /v1/journal/checkpoint"
R_CP_POST = "POST /v1/journal/checkpoint"
R_ENTRY = "GET /v1/journal/entries/{}"
R_CP_AT = "GET /v1/journal/checkpoints/{}"
R_CP_TS = "GET /v1/journal/checkpoints/{}/timestamp"
R_INCLUSION = "GET /v1/journal/proof/inclusion"
R_CONSISTENCY = "GET /v1/journal/proof/consistency"
R_TSA = "GET /v1/tsa/certificates"
R_KEYS = "GET /v1/instance/keys"

TWO_XX = frozenset(range(200, 300))


# ---- expectations -----------------------------------------------------------

class Expect:
    """statuses: the statuses that pass (None: any non-2xx); allowed: a 2xx
    is what DESIGN.md grants; error: the error code a refusal must carry;
    check(body, headers): None, or what is wrong with a 2xx body."""

    def __init__(self, statuses, allowed, error=None, check=None):
        self.statuses = None if statuses is None else frozenset(statuses)
        self.allowed = allowed
        self.error = error
        self.check = check

    def accepts(self, status):
        if self.statuses is None:
            return status not in TWO_XX
        return status in self.statuses

    def plus(self, *extra):
        if self.statuses is None:
            return self
        return Expect(self.statuses | set(extra), self.allowed, self.error,
                      self.check)

    def describe(self):
        if self.statuses is None:
            return "a refusal (non-2xx)"
        s = sorted(self.statuses)
        if self.statuses >= TWO_XX:
            s = ["2xx"] + [x for x in s if x not in TWO_XX]
        return "/".join(str(x) for x in s) + (
            ' {"error":"%s"}' % self.error if self.error else "")


def ok(status, check=None):
    return Expect({status}, True, check=check)


def deny(*statuses, error=None):
    return Expect(statuses, False, error=error)


def deny_any():
    return Expect(None, False)


def nyi_ok():
    """Allowed by DESIGN.md, but this build may still answer 501."""
    return Expect(TWO_XX | {501}, True)


def nyi_deny():
    return Expect(None, False)


# ---- principals and the model ---------------------------------------------------

class P:
    def __init__(self, name, kind, token=None, id=None, login=None,
                 secret=None, owner=None, structure=None):
        self.name, self.kind, self.token, self.id = name, kind, token, id
        self.login, self.secret, self.owner = login, secret, owner
        self.structure = structure

    @property
    def has_session(self):
        return self.kind not in ("anon", "forged")

    @property
    def is_aidant(self):
        return self.kind in ("aidant", "structure_admin")


class Doc:
    def __init__(self, name, id, owner, cat, data, depositor):
        self.name, self.id, self.owner, self.cat = name, id, owner, cat
        self.data, self.depositor = data, depositor
        self.sha = hashlib.sha256(data).hexdigest()


class Mandate:
    def __init__(self, id, owner, aidant, scopes, cats):
        self.id, self.owner, self.aidant = id, owner, aidant
        self.scopes, self.cats = set(scopes), set(cats)
        self.active = True


class Cell:
    __slots__ = ("route", "variant", "who", "status", "passed", "msg")

    def __init__(self, route, variant, who, status, passed, msg):
        self.route, self.variant, self.who = route, variant, who
        self.status, self.passed, self.msg = status, passed, msg


def pdf(label):
    return b"%PDF-1.4\n% " + label.encode() + b"\n" + secrets.token_bytes(64)


# ---- the matrix ---------------------------------------------------------------------

class Matrix:
    def __init__(self, v, build):
        self.v = v
        self.build = build
        self.cells = []          # HTTP cells
        self.extra = []          # other checks: (name, passed, msg)
        self.variants = collections.defaultdict(list)   # route -> labels
        self.docs = {}           # name -> Doc (live documents)
        self.mandates = {}       # name -> Mandate (all, active or not)
        self.expected = collections.Counter()   # (pid, actor, action, obj)
        self.traces = []         # (cell, [keys])
        self.seq = 0

    # -- plumbing ---------------------------------------------------------
    def uniq(self, prefix):
        self.seq += 1
        return "%s.%d.%s" % (prefix, self.seq, secrets.token_hex(3))

    def expect_event(self, pid, actor, action, obj):
        for o in {obj, "*"}:
            self.expected[(pid, actor, action, o)] += 1

    def cell(self, route, variant, p, method, path, exp, body=None, raw=None,
             headers=None, would=(), use=None, trace=False):
        """One request of the matrix. would: the journal events
        (pid, action, obj[, actor]) a success writes; use: the pid whose
        journal gets a mandate.use on success (aidant reads)."""
        if variant not in self.variants[route]:
            self.variants[route].append(variant)
        try:
            st, b, h = self.v.call(method, path, body=body, token=p.token,
                                   raw=raw, headers=headers)
        except Exception as e:  # a dropped connection is an answer too
            st, b, h = 0, ("%s: %s" % (type(e).__name__, e)), {}
        is2 = st in TWO_XX
        passed = exp.accepts(st)
        msg = ""
        if not passed:
            if is2 and not exp.allowed:
                msg = "SECURITY: unexpected %d, DESIGN.md requires %s" % (
                    st, exp.describe())
            elif exp.allowed and not is2:
                msg = "refused with %d %s, DESIGN.md grants it (%s)" % (
                    st, errcode(b), exp.describe())
            else:
                msg = "got %d %s, expected %s" % (st, errcode(b),
                                                  exp.describe())
        elif not is2 and exp.error and (b.get("error") if isinstance(
                b, dict) else None) != exp.error:
            passed = False
            msg = "refused with %d %s, expected error %r" % (
                st, errcode(b), exp.error)
        elif is2 and exp.check is not None:
            try:
                problem = exp.check(b, h)
            except Exception as e:
                problem = "check raised %s: %s" % (type(e).__name__, e)
            if problem:
                passed = False
                msg = "%d but %s" % (st, problem)
        c = Cell(route, variant, p.name, st, passed, msg)
        self.cells.append(c)
        events = [(w[0], w[3] if len(w) > 3 else p.id, w[1], w[2])
                  for w in would]
        if is2 and exp.allowed:
            for (pid, actor, action, obj) in events:
                self.expect_event(pid, actor, action, obj)
            if use is not None:
                self.expect_event(use, p.id, "mandate.use", "*")
        elif not is2 and trace and p.id is not None:
            keys = [(pid, actor, action, obj)
                    for (pid, actor, action, obj) in events
                    if pid in self.journal_pids]
            if p.is_aidant:
                keys += [(pid, p.id, "mandate.use", "*")
                         for pid in {k[0] for k in keys}]
            if keys:
                self.traces.append((c, keys))
        return st, b, h

    # -- expectations shared by the routes ------------------------------------
    def sess(self, p, e):
        """A route that needs a session: 401 without one."""
        if not p.has_session:
            return deny(401)
        return e

    def anyone(self, p, e):
        """A route open to anyone: a forged token may be refused (401)."""
        return e.plus(401) if p.kind == "forged" else e

    def read_cats(self, p, owner):
        return set().union(*[m.cats for m in self.mandates.values()
                             if m.active and m.aidant == p.name and
                             m.owner == owner and "read" in m.scopes])

    def dep_cats(self, p, owner):
        return set().union(*[m.cats for m in self.mandates.values()
                             if m.active and m.aidant == p.name and
                             m.owner == owner and "deposit" in m.scopes])

    def docs_of(self, owner):
        return [d for d in self.docs.values() if d.owner == owner]

    def pid(self, owner):
        return self.pids[owner]

    def read_expect(self, p, owner, doc, check):
        """List/metadata/content of owner's paper doc (None: no such paper
        under this person): the person; an aidant with a read mandate, in
        scope only; nobody else (DESIGN.md: charter 2-4, contract)."""
        if p.kind == "person":
            if p.owner == owner:
                return ok(200, check) if doc is not None and \
                    doc.owner == owner else deny(404)
            return deny(403)
        if p.is_aidant:
            rc = self.read_cats(p, owner)
            if not rc:
                return deny(403, error="forbidden")
            if doc is not None and doc.owner == owner:
                return ok(200, check) if doc.cat in rc else deny(403, 404)
            return deny(403, 404)
        return deny(403)   # administrators and auditors never read

    # -- checks of 2xx bodies ------------------------------------------------
    def list_check(self, owner, cats, filt):
        pid = self.pid(owner)
        want = {d.id for d in self.docs_of(owner)
                if d.cat in cats and (filt is None or d.cat == filt)}

        def check(b, h):
            if not isinstance(b, dict) or not isinstance(b.get("documents"), list):
                return "no {documents: [...]}"
            got = {d.get("document_id") for d in b["documents"]}
            leak = [d.get("document_id") for d in b["documents"]
                    if d.get("person_id") != pid or
                    d.get("category") not in cats or
                    (filt is not None and d.get("category") != filt)]
            if leak:
                return "SECURITY: lists papers out of scope: %s" % leak
            if got - want:
                return "SECURITY: lists unknown papers %s" % sorted(got - want)
            if want - got:
                return "misses papers %s" % sorted(want - got)
            if "no-store" not in h.get("cache-control", ""):
                return "no Cache-Control: no-store"
            return None
        return check

    def meta_check(self, owner, doc):
        pid = self.pid(owner)

        def check(b, h):
            if not isinstance(b, dict):
                return "not JSON"
            for k, want in (("document_id", doc.id), ("person_id", pid),
                            ("category", doc.cat), ("sha256", doc.sha),
                            ("size", len(doc.data))):
                if b.get(k) != want:
                    return "%s is %r, not %r" % (k, b.get(k), want)
            if (b.get("deposited_by") or {}).get("account_id") != \
                    self.by_name[doc.depositor].id:
                return "deposited_by is wrong"
            return None
        return check

    def content_check(self, doc):
        def check(b, h):
            if b != doc.data:
                return "SECURITY: the bytes are not those of %s" % doc.name
            if "no-store" not in h.get("cache-control", ""):
                return "no Cache-Control: no-store"
            return None
        return check

    def export_check(self, owner):
        """The archive holds the person's papers, all of them, byte for byte,
        and nobody else's."""
        pid = self.pid(owner)
        want = {d.id: d for d in self.docs_of(owner)}

        def check(b, h):
            if not isinstance(b, bytes):
                return "not an archive"
            try:
                tf = tarfile.open(fileobj=io.BytesIO(b), mode="r:gz")
                files = {m.name: tf.extractfile(m).read()
                         for m in tf.getmembers() if m.isfile()}
            except (tarfile.TarError, OSError, EOFError) as e:
                return "not a whole .tar.gz (%s)" % e
            try:
                man = json.loads(files.pop("manifest.json"))
            except (KeyError, ValueError):
                return "no manifest.json"
            if man.get("person_id") != pid:
                return "SECURITY: manifest of %r" % man.get("person_id")
            got = {}
            for name, data in files.items():
                # beside each paper: its time-stamp (.tsr) and receipt
                # (receipts/<id>.json), which must be hers too
                if name.endswith(".tsr") or name.startswith("receipts/"):
                    if os.path.basename(name).split(".")[0] not in want:
                        return "SECURITY: proof of a paper not hers: %s" % name
                    continue
                got[os.path.basename(name).split(".")[0]] = data
            if set(got) - set(want):
                return "SECURITY: exports papers that are not hers: %s" % \
                    sorted(set(got) - set(want))
            if set(want) - set(got):
                return "misses papers %s" % sorted(set(want) - set(got))
            bad = [i for i in got if got[i] != want[i].data]
            if bad:
                return "bytes differ for %s" % bad
            return None
        return check

    # -- the population ------------------------------------------------------
    def setup(self):
        v = self.v
        admin_t = v.admin()
        s, me, _ = v.call("GET", "/v1/me", token=admin_t)
        assert s == 200, (s, me)
        self.admin = P("inst-admin", "instance_admin", admin_t,
                       me["account_id"], "admin", v.admin_secret)
        self.S1 = v.structure(admin_t, "Structure Un")
        self.S2 = v.structure(admin_t, "Structure Deux")

        def aidant(name, login, sid, role="aidant"):
            aid, tok = v.aidant(admin_t, sid, login, role=role,
                                secret=AIDANT_SECRET)
            return P(name, role, tok, aid, login, AIDANT_SECRET, structure=sid)

        self.sadmin1 = aidant("sadmin-S1", "sadmin.s1", self.S1,
                              "structure_admin")
        self.none = aidant("aid-none", "aid.none", self.S1)
        self.dep = aidant("aid-dep", "aid.dep", self.S1)
        self.readid = aidant("aid-readId", "aid.readid", self.S1)
        self.all = aidant("aid-all", "aid.all", self.S1)
        self.agB = aidant("aid-B", "aid.b", self.S1)
        self.s2 = aidant("aid-S2", "aid.s2", self.S2)
        self.throw = aidant("aid-throw", "aid.throw", self.S1)
        s, b, _ = v.call("POST", "/v1/auditors", {
            "login": "auditor.one", "secret": AUDITOR_SECRET,
            "display_name": "Auditor"}, token=admin_t)
        assert s == 201, (s, b)
        self.auditor = P("auditor", "auditor",
                         v.login("auditor.one", AUDITOR_SECRET),
                         b["auditor_id"], "auditor.one", AUDITOR_SECRET)
        # A is enrolled by the aidant without mandate, B by the structure
        # administrator: enrolling gives them nothing.
        pa, ta, _ = v.person(self.none.token, "person.a", PERSON_SECRET)
        pb, tb, _ = v.person(self.sadmin1.token, "person.b", PERSON_SECRET)
        self.A = P("personA", "person", ta, pa, "person.a", PERSON_SECRET, "A")
        self.B = P("personB", "person", tb, pb, "person.b", PERSON_SECRET, "B")
        v.person(admin_t, "probe.person", PERSON_SECRET)
        self.probe = ("probe.person", PERSON_SECRET)
        self.anon = P("anon", "anon")
        self.forged = P("forged", "forged", secrets.token_urlsafe(32))
        self.principals = [self.anon, self.forged, self.A, self.B, self.none,
                           self.dep, self.readid, self.all, self.agB,
                           self.sadmin1, self.s2, self.admin, self.auditor]
        self.by_name = {p.name: p for p in self.principals + [self.throw]}
        self.ghost_pid = secrets.token_hex(16)
        self.ghost_did = secrets.token_hex(16)
        self.ghost_mid = secrets.token_hex(16)
        self.ghost_sid = secrets.token_hex(16)
        self.pids = {"A": pa, "B": pb, "ghost": self.ghost_pid}
        self.journal_pids = {pa, pb}

        # Papers deposited before any mandate: wrapped at grant time.
        self.put_doc("A_id", self.A, "A", "identity")
        self.put_doc("A_health", self.A, "A", "health")
        self.put_doc("B_doc", self.B, "B", "identity")
        # Mandates.
        self.put_mandate("m_dep", "A", self.dep, ["deposit"], ["identity"])
        self.put_mandate("m_readid", "A", self.readid, ["read"], ["identity"])
        self.put_mandate("m_all", "A", self.all, ["deposit", "read"], CATEGORIES)
        self.put_mandate("m_b", "B", self.agB, ["deposit", "read"], CATEGORIES)
        # Papers deposited by aidants after the mandates: wrapped at deposit.
        self.put_doc("A_dep", self.dep, "A", "identity")
        self.put_doc("A_allh", self.all, "A", "health")
        # Throw-away papers for the delete cells.
        self.put_doc("TA", self.A, "A", "identity")
        self.put_doc("TB", self.B, "B", "other")
        # Share links: A's (read by every principal), a throw-away one of A,
        # and B's.
        self.shares = {}
        self.put_share("sA", self.A, "A", "A_id", 100)
        self.put_share("sA_throw", self.A, "A", "A_health", 5)
        self.put_share("sB", self.B, "B", "B_doc", 5)
        # Journal positions: the matrix is checked against what follows.
        self.snap = {}
        self.first_index = {}
        for who in (self.A, self.B):
            ev = self.journal(who, -1)
            self.snap[who.id] = max(e["index"] for e in ev)
            self.first_index[who.id] = min(e["index"] for e in ev)

    def put_doc(self, name, depositor, owner, cat):
        data = pdf(name)
        s, b, _ = self.v.deposit(depositor.token, self.pid(owner), data,
                                 title="Papier " + name, category=cat)
        assert s == 201, (name, s, b)
        self.docs[name] = Doc(name, b["document_id"], owner, cat, data,
                              depositor.name)
        return self.docs[name]

    def put_mandate(self, name, owner, aidant, scopes, cats, days=30):
        person = self.A if owner == "A" else self.B
        s, b, _ = self.v.mandate(person.token, person.id, aidant.id, scopes,
                                 cats, days)
        assert s == 201, (name, s, b)
        self.mandates[name] = Mandate(b["mandate_id"], owner, aidant.name,
                                      scopes, cats)
        return self.mandates[name]

    def put_share(self, name, person, owner, docname, maxd):
        s, b, _ = self.v.call(
            "POST", "/v1/persons/%s/documents/%s/shares" % (
                person.id, self.docs[docname].id),
            {"expires_in_hours": 24, "max_downloads": maxd}, token=person.token)
        assert s == 201, (name, s, b)
        self.shares[name] = (b["share_id"], b["url"].rsplit("/", 1)[1],
                             owner, docname)

    def journal(self, who, after):
        out = []
        while True:
            s, b, _ = self.v.call("GET", "/v1/persons/%s/journal?%s" % (
                who.id, urlencode({"after": after, "limit": 1000})),
                token=who.token)
            assert s == 200, (s, b)
            ev = b["events"]
            out += ev
            if len(ev) < 1000:
                return out
            after = ev[-1]["index"]

    # -- the routes, one section each -------------------------------------------
    def sections(self):
        for f in (self.s_health, self.s_login, self.s_me, self.s_persons,
                  self.s_activate_recover, self.s_structures, self.s_aidants,
                  self.s_auditors, self.s_members, self.s_deposit, self.s_list, self.s_read,
                  self.s_nyi_documents, self.s_grant, self.s_mandates_list,
                  self.s_my_mandates, self.s_share_create, self.s_share_get,
                  self.s_person_journal, self.s_journal, self.s_nyi_journal,
                  self.s_anyone_nyi,
                  # destructive, last
                  self.s_doc_delete, self.s_revoke, self.s_share_revoke,
                  self.s_logout):
            f()

    def s_health(self):
        for p in self.principals:
            self.cell(R_HEALTH, "-", p, "GET", "/v1/health",
                      self.anyone(p, ok(200, lambda b, h: None if
                                        b.get("status") == "ok" else
                                        "status %r" % b)))

    def s_login(self):
        login, secret = self.probe
        for p in self.principals:
            self.cell(R_LOGIN, "probe person", p, "POST", "/v1/sessions",
                      self.anyone(p, ok(201, lambda b, h: None if
                                        b.get("role") == "person" and
                                        b.get("token") else "no token")),
                      body={"login": login, "secret": secret})
        self.cell(R_LOGIN, "wrong secret", self.anon, "POST", "/v1/sessions",
                  deny(401), body={"login": login, "secret": "wrong"})

    def s_me(self):
        for p in self.principals:
            def check(b, h, p=p):
                if b.get("account_id") != p.id or b.get("role") != p.kind:
                    return "another account: %r" % b
                return None
            self.cell(R_ME, "own", p, "GET", "/v1/me", self.sess(p, ok(200, check)))

    def s_persons(self):
        def no_secret(b, h):
            if "recovery_code" in b or "secret" in b:
                return "SECURITY: the enroller receives the person's secret " \
                       "or recovery code"
            if not b.get("activation_code") or not b.get("person_id"):
                return "no activation_code/person_id"
            return None
        for p in self.principals:
            enroller = p.is_aidant or p.kind == "instance_admin"
            e = ok(201, no_secret) if enroller else deny(403)
            # self-enrolment is off: anonymous callers are refused
            self.cell(R_PERSONS, "enrol", p, "POST", "/v1/persons",
                      self.sess(p, e), body={"login": self.uniq("enrolled"),
                                             "display_name": "Enrolled"})
            e = deny(400) if enroller else deny(400, 403)
            self.cell(R_PERSONS, "enrol with secret", p, "POST", "/v1/persons",
                      self.sess(p, e), body={"login": self.uniq("enrolled"),
                                             "display_name": "Enrolled",
                                             "secret": "chosen by someone"})

    def s_activate_recover(self):
        pending = {}
        for p in self.principals:
            login = self.uniq("activated")
            s, b, _ = self.v.call("POST", "/v1/persons", {
                "login": login, "display_name": "Activated"},
                token=self.admin.token)
            assert s == 201, (s, b)
            st, a, _ = self.cell(
                R_ACTIVATE, "with the code", p, "POST", "/v1/activate",
                self.anyone(p, ok(201, lambda b, h: None if
                                  b.get("recovery_code") else "no recovery code")),
                body={"login": login, "activation_code": b["activation_code"],
                      "secret": PERSON_SECRET})
            if st == 201:
                pending[p.name] = (login, a["recovery_code"])
        login = self.uniq("activated")
        s, b, _ = self.v.call("POST", "/v1/persons", {
            "login": login, "display_name": "Activated"}, token=self.admin.token)
        self.cell(R_ACTIVATE, "wrong code", self.anon, "POST", "/v1/activate",
                  deny(401), body={"login": login,
                                   "activation_code": "0000-0000-0000",
                                   "secret": PERSON_SECRET})
        for p in self.principals:
            if p.name not in pending:
                continue
            login, rc = pending[p.name]
            self.cell(R_RECOVER, "with the code", p, "POST", "/v1/recover",
                      self.anyone(p, ok(200, lambda b, h, rc=rc: None if
                                        b.get("recovery_code") not in (None, rc)
                                        else "no new recovery code")),
                      body={"login": login, "recovery_code": rc,
                            "new_secret": "new secret"})
        self.cell(R_RECOVER, "wrong code", self.anon, "POST", "/v1/recover",
                  deny(401), body={"login": self.A.login,
                                   "recovery_code": "AAAA-BBBB-CCCC-DDDD",
                                   "new_secret": "taken over"})

    def s_structures(self):
        for p in self.principals:
            e = ok(201) if p.kind == "instance_admin" else deny(403)
            self.cell(R_STRUCTURES, "new", p, "POST", "/v1/structures",
                      self.sess(p, e), body={"name": self.uniq("Structure")})

    def s_aidants(self):
        def lands_in(sid, login):
            def check(b, h):
                tok = self.v.login(login, AIDANT_SECRET)
                s, me, _ = self.v.call("GET", "/v1/me", token=tok)
                self.v.call("DELETE", "/v1/sessions/current", token=tok)
                if s != 200 or me.get("structure_id") != sid or \
                        me.get("role") != "aidant":
                    return "the new account is %r" % me
                return None
            return check
        targets = [("S1", self.S1), ("S2", self.S2), ("ghost", self.ghost_sid)]
        for p in self.principals:
            for label, sid in targets:
                login = self.uniq("new.aidant")
                if p.kind == "instance_admin":
                    e = ok(201, lands_in(sid, login)) if label != "ghost" \
                        else deny(404)
                elif p.kind == "structure_admin":
                    e = ok(201, lands_in(sid, login)) if sid == p.structure \
                        else deny(403, 404) if label == "ghost" else deny(403)
                else:
                    e = deny(403)
                self.cell(R_AIDANTS, label, p, "POST",
                          "/v1/structures/%s/aidants" % sid, self.sess(p, e),
                          body={"login": login, "secret": AIDANT_SECRET,
                                "display_name": "New", "role": "aidant"})
            # nobody becomes instance administrator through this route
            e = deny(400) if p.kind in ("instance_admin", "structure_admin") \
                else deny(403)
            self.cell(R_AIDANTS, "S1 role=instance_admin", p, "POST",
                      "/v1/structures/%s/aidants" % self.S1, self.sess(p, e),
                      body={"login": self.uniq("escalate"),
                            "secret": "a long secret for an admin",
                            "display_name": "Escalate",
                            "role": "instance_admin"})

    def s_members(self):
        for p in self.principals:
            self.cell(R_STRUCT_LIST, "-", p, "GET", "/v1/structures",
                      self.sess(p, ok(200, lambda b, h: None if any(
                          x["structure_id"] == self.S1 for x in b.get("structures", []))
                          else "S1 not listed") if p.kind == "instance_admin"
                          else deny(403)))
            for label, sid in (("S1", self.S1), ("S2", self.S2), ("ghost", self.ghost_sid)):
                if p.kind == "instance_admin" or (p.kind == "structure_admin" and
                                                  sid == p.structure):
                    e = ok(200) if label != "ghost" else deny(404)
                elif p.kind == "structure_admin" and label == "ghost":
                    e = deny(403, 404)
                else:
                    e = deny(403)
                self.cell(R_AIDANT_LIST, label, p, "GET",
                          "/v1/structures/%s/aidants" % sid, self.sess(p, e))
            # removal: a fresh aidant of each structure as the target
            for label, sid in (("S1", self.S1), ("S2", self.S2)):
                aid, tok = self.v.aidant(self.admin.token, sid, self.uniq("target"))

                def gone(b, h, tok=tok):
                    s, _, _ = self.v.call("GET", "/v1/me", token=tok)
                    return None if s == 401 else "his session survived (%s)" % s
                allowed = p.kind == "instance_admin" or (
                    p.kind == "structure_admin" and sid == p.structure)
                self.cell(R_AIDANT_REMOVE, label + "'s aidant", p, "DELETE",
                          "/v1/structures/%s/aidants/%s" % (sid, aid),
                          self.sess(p, ok(204, gone) if allowed else deny(403)))
                if not allowed:
                    self.v.call("DELETE", "/v1/sessions/current", token=tok)

    def s_auditors(self):
        for p in self.principals:
            e = ok(201, lambda b, h: None if b.get("auditor_id") else
                   "no auditor_id") if p.kind == "instance_admin" else deny(403)
            self.cell(R_AUDITORS, "new", p, "POST", "/v1/auditors",
                      self.sess(p, e), body={"login": self.uniq("auditor"),
                                             "secret": AUDITOR_SECRET,
                                             "display_name": "Auditor"})

    def s_deposit(self):
        for p in self.principals:
            for owner, cat in (("A", "identity"), ("A", "health"),
                               ("B", "identity"), ("ghost", "identity")):
                pid = self.pid(owner)
                data = pdf("deposit by " + p.name)
                if p.kind == "person":
                    e = ok(201) if p.owner == owner else deny(403)
                elif p.is_aidant:
                    e = ok(201) if cat in self.dep_cats(p, owner) else \
                        deny(403, error="forbidden")
                else:
                    e = deny(403)
                if e.allowed:
                    def check(b, h, pid=pid, cat=cat, data=data, p=p):
                        if b.get("person_id") != pid or b.get("category") != cat \
                                or b.get("sha256") != hashlib.sha256(data).hexdigest() \
                                or (b.get("deposited_by") or {}).get(
                                    "account_id") != p.id:
                            return "metadata %r" % b
                        return None
                    e.check = check
                st, b, _ = self.cell(
                    R_DEPOSIT, "%s/%s" % (owner, cat), p, "POST",
                    "/v1/persons/%s/documents?%s" % (pid, urlencode(
                        {"title": "Papier de " + p.name, "category": cat})),
                    self.sess(p, e), raw=data,
                    headers={"Content-Type": "application/pdf"},
                    would=[(pid, "document.deposit", "*")], trace=True,
                    use=pid if p.is_aidant else None)
                if st == 201 and isinstance(b, dict) and b.get("document_id"):
                    name = "dep%d" % len(self.docs)
                    self.docs[name] = Doc(name, b["document_id"], owner, cat,
                                          data, p.name)

    def s_list(self):
        for p in self.principals:
            for owner, filt in (("A", None), ("A", "health"),
                                ("A", "identity"), ("B", None),
                                ("ghost", None)):
                pid = self.pid(owner)
                cats = set(CATEGORIES) if p.kind == "person" else \
                    self.read_cats(p, owner)
                e = self.read_expect(p, owner, None, None)
                if p.kind == "person" and p.owner == owner or \
                        p.is_aidant and cats:
                    e = ok(200, self.list_check(owner, cats, filt))
                use = pid if p.is_aidant and cats and \
                    (filt is None or filt in cats) else None
                q = "?category=" + filt if filt else ""
                self.cell(R_LIST, owner + q, p, "GET",
                          "/v1/persons/%s/documents%s" % (pid, q),
                          self.sess(p, e),
                          would=[(pid, "document.list", None)], use=use,
                          trace=True)

    READ_TARGETS = (("A", "A_id"), ("A", "A_health"), ("A", "A_dep"),
                    ("A", "A_allh"), ("A", None), ("A", "B_doc"),
                    ("B", "B_doc"), ("B", "A_id"), ("ghost", "A_id"))

    def s_read(self, targets=READ_TARGETS, who=None, tag=""):
        for p in (who or self.principals):
            for owner, dname in targets:
                self.read_cell(p, owner, dname, tag)

    def read_cell(self, p, owner, dname, tag=""):
        pid = self.pid(owner)
        doc = self.docs.get(dname)
        did = doc.id if doc else self.ghost_did
        label = "%s/%s%s" % (owner, dname or "ghost", tag)
        for route, suffix, action, chk in (
                (R_META, "", "document.read", self.meta_check),
                (R_CONTENT, "/content", "document.download",
                 lambda o, d: self.content_check(d))):
            e = self.read_expect(p, owner, doc, chk(owner, doc) if doc else None)
            self.cell(route, label, p, "GET", "/v1/persons/%s/documents/%s%s" % (
                pid, did, suffix), self.sess(p, e),
                would=[(pid, action, did)],
                use=pid if p.is_aidant and e.allowed else None, trace=True)

    def s_nyi_documents(self):
        for p in self.principals:
            for owner, dname in (("A", "A_id"), ("A", "A_dep"),
                                 ("A", "A_health"), ("B", "A_id")):
                pid, doc = self.pid(owner), self.docs[dname]
                mine = doc.owner == owner
                own = p.kind == "person" and p.owner == owner and mine
                # timestamp: the person, an aidant with a read mandate
                e = nyi_ok() if own or (p.is_aidant and mine and doc.cat in
                                        self.read_cats(p, owner)) else nyi_deny()
                self.cell(R_TIMESTAMP, "%s/%s" % (owner, dname), p, "GET",
                          "/v1/persons/%s/documents/%s/timestamp" % (pid, doc.id),
                          self.sess(p, e))
                # receipt: the person, the depositing aidant
                e = nyi_ok() if own or (p.is_aidant and mine and
                                        doc.depositor == p.name) else nyi_deny()
                self.cell(R_RECEIPT, "%s/%s" % (owner, dname), p, "GET",
                          "/v1/persons/%s/documents/%s/receipt" % (pid, doc.id),
                          self.sess(p, e))
            for owner in ("A", "B", "ghost"):
                e = nyi_ok() if p.kind == "person" and p.owner == owner \
                    else nyi_deny()
                if e.allowed:
                    e.check = self.export_check(owner)
                self.cell(R_EXPORT, owner, p, "GET", "/v1/persons/%s/export" %
                          self.pid(owner), self.sess(p, e))

    def s_grant(self):
        throw = self.throw
        ghost_aidant = secrets.token_hex(16)
        for p in self.principals:
            variants = [
                ("A: read identity to aid-throw", "A", throw.id, ["read"],
                 ["identity"]),
                ("A: read+deposit all to self", "A", p.id or throw.id,
                 ["read", "deposit"], CATEGORIES),
                ("B: deposit other to aid-throw", "B", throw.id, ["deposit"],
                 ["other"]),
                ("ghost: to aid-throw", "ghost", throw.id, ["read"], ["identity"]),
                ("A: to person B", "A", self.B.id, ["read"], ["identity"]),
                ("A: to inst-admin", "A", self.admin.id, ["read"], CATEGORIES),
                ("A: to auditor", "A", self.auditor.id, ["read"], CATEGORIES),
                ("A: to unknown id", "A", ghost_aidant, ["read"], ["identity"]),
            ]
            for label, owner, aid, scopes, cats in variants:
                pid = self.pid(owner)
                is_owner = p.kind == "person" and p.owner == owner
                if not is_owner:
                    e = deny(403, error="forbidden") if p.is_aidant else deny(403)
                elif aid == throw.id:
                    e = ok(201)
                else:   # not an aidant: DESIGN.md gives no status; 400/404
                    e = deny(400, 404)
                st, b, _ = self.cell(
                    R_GRANT, label, p, "POST", "/v1/persons/%s/mandates" % pid,
                    self.sess(p, e), body={"aidant_id": aid, "scopes": scopes,
                                           "categories": cats,
                                           "duration_days": 1},
                    would=[(pid, "mandate.grant", "*", pid)])
                if st == 201 and isinstance(b, dict):
                    if e.allowed:
                        self.mandates["throw-" + owner] = Mandate(
                            b["mandate_id"], owner, "aid-throw", scopes, cats)
                    else:   # undo the unexpected grant, with the person
                        person = self.A if owner == "A" else self.B
                        self.v.call("DELETE", "/v1/persons/%s/mandates/%s" % (
                            pid, b.get("mandate_id")), token=person.token)
        # the new read mandate opens A's identity papers to aid-throw
        self.read_cell(throw, "A", "A_id", " (granted)")
        self.read_cell(throw, "A", "A_health", " (granted)")

    def s_mandates_list(self):
        for p in self.principals:
            for owner in ("A", "B", "ghost"):
                pid = self.pid(owner)
                if p.kind == "person" and p.owner == owner:
                    want = {m.id: m for m in self.mandates.values()
                            if m.owner == owner}

                    def check(b, h, want=want, pid=pid):
                        ms = b.get("mandates")
                        if not isinstance(ms, list):
                            return "no {mandates: [...]}"
                        if any((m.get("person") or {}).get("account_id") != pid
                               for m in ms):
                            return "SECURITY: lists another person's mandates"
                        got = {m.get("mandate_id") for m in ms}
                        if got != set(want):
                            return "mandates %s, expected %s" % (
                                sorted(got), sorted(want))
                        return None
                    e = ok(200, check)
                else:
                    # DESIGN.md: "mandates of another person are 404"; the
                    # handler says 403 before looking: either refuses.
                    e = deny(403, 404)
                self.cell(R_MANDATES, owner, p, "GET",
                          "/v1/persons/%s/mandates" % pid, self.sess(p, e))

    def s_my_mandates(self):
        for p in self.principals + [self.throw]:
            if p.is_aidant:
                want = {m.id for m in self.mandates.values()
                        if m.active and m.aidant == p.name}

                def check(b, h, want=want, p=p):
                    ms = b.get("mandates")
                    if not isinstance(ms, list):
                        return "no {mandates: [...]}"
                    if any((m.get("aidant") or {}).get("account_id") != p.id
                           for m in ms):
                        return "SECURITY: lists another aidant's mandates"
                    got = {m.get("mandate_id") for m in ms}
                    if got != want:
                        return "mandates %s, expected %s" % (sorted(got),
                                                             sorted(want))
                    return None
                e = ok(200, check)
            else:
                e = deny(403)
            self.cell(R_MY_MANDATES, "own", p, "GET", "/v1/aidants/me/mandates",
                      self.sess(p, e))

    def s_share_create(self):
        for p in self.principals:
            for owner, dname in (("A", "A_id"), ("A", "B_doc"), ("A", None),
                                 ("B", "B_doc"), ("B", "A_id"),
                                 ("ghost", "A_id")):
                pid = self.pid(owner)
                doc = self.docs.get(dname)
                did = doc.id if doc else self.ghost_did
                if p.kind == "person" and p.owner == owner:
                    e = ok(201, lambda b, h: None if b.get("share_id") and
                           "/v1/shares/" in b.get("url", "") else
                           "no share_id/url") if doc and doc.owner == owner \
                        else deny(404)
                else:   # charter 5: only the person shares
                    e = deny(403, error="forbidden") if p.is_aidant else deny(403)
                self.cell(R_SHARE_CREATE, "%s/%s" % (owner, dname or "ghost"), p,
                          "POST", "/v1/persons/%s/documents/%s/shares" % (pid, did),
                          self.sess(p, e),
                          body={"expires_in_hours": 1, "max_downloads": 1},
                          would=[(pid, "share.create", "*", pid)])

    def s_share_get(self):
        _, tok, _, dname = self.shares["sA"]
        for p in self.principals:
            self.cell(R_SHARE_GET, "A's link", p, "GET", "/v1/shares/" + tok,
                      self.anyone(p, ok(200, self.content_check(self.docs[dname]))))
            self.cell(R_SHARE_GET, "unknown link", p, "GET",
                      "/v1/shares/" + secrets.token_urlsafe(32),
                      self.anyone(p, deny(404)))

    def s_person_journal(self):
        for p in self.principals:
            for owner in ("A", "B", "ghost"):
                pid = self.pid(owner)
                if p.kind == "person" and p.owner == owner:
                    e = ok(200, lambda b, h, pid=pid: None if isinstance(
                        b.get("events"), list) and all(
                        ev.get("person_id") == pid for ev in b["events"]) else
                        "SECURITY: events about someone else")
                else:
                    e = deny(403)
                self.cell(R_PJOURNAL, owner, p, "GET",
                          "/v1/persons/%s/journal" % pid, self.sess(p, e))

    def s_journal(self):
        for p in self.principals:
            for label, q in (("all", ""), ("person=A", "?person=" + self.A.id),
                             ("action=document.download",
                              "?action=document.download")):
                e = ok(200, lambda b, h: None if isinstance(b.get("events"), list)
                       else "no events") if p.kind in ("instance_admin",
                                                       "auditor") else deny(403)
                self.cell(R_JOURNAL, label, p, "GET", "/v1/journal" + q,
                          self.sess(p, e))

    def s_nyi_journal(self):
        a_index = self.first_index[self.A.id]
        st, note, _ = self.v.call("POST", "/v1/journal/checkpoint", token=self.admin.token)
        cp_size = int(note.decode().split("\n")[1]) if st == 201 else 0
        for p in self.principals:
            audit = p.kind in ("instance_admin", "auditor")
            # checkpoints kept by size, and their time-stamps: auditors only
            self.cell(R_CP_AT, "existing size", p, "GET",
                      "/v1/journal/checkpoints/%d" % cp_size,
                      self.sess(p, ok(200) if audit else deny(403)))
            self.cell(R_CP_AT, "no such size", p, "GET",
                      "/v1/journal/checkpoints/999999999",
                      self.sess(p, deny(404) if audit else deny(403)))
            self.cell(R_CP_TS, "existing size", p, "GET",
                      "/v1/journal/checkpoints/%d/timestamp" % cp_size,
                      self.sess(p, ok(200) if audit else deny(403)))
            self.cell(R_CP_GET, "-", p, "GET", "/v1/journal/checkpoint",
                      self.sess(p, nyi_ok() if audit else nyi_deny()))
            self.cell(R_CP_POST, "-", p, "POST", "/v1/journal/checkpoint",
                      self.sess(p, nyi_ok() if p.kind == "instance_admin"
                                else nyi_deny()))
            self.cell(R_ENTRY, "0", p, "GET", "/v1/journal/entries/0",
                      self.sess(p, nyi_ok() if audit else nyi_deny()))
            self.cell(R_CP_AT, "kept", p, "GET", "/v1/journal/checkpoints/%d" % cp_size,
                      self.sess(p, ok(200) if audit else deny(403)))
            self.cell(R_CP_TS, "kept", p, "GET",
                      "/v1/journal/checkpoints/%d/timestamp" % cp_size,
                      self.sess(p, ok(200) if audit else deny(403)))
            # inclusion: administrators, auditors, the person for her own
            self.cell(R_INCLUSION, "A's entry", p, "GET",
                      "/v1/journal/proof/inclusion?index=%d&tree_size=%d" % (
                          a_index, self.snap[self.A.id] + 1),
                      self.sess(p, nyi_ok() if audit or p is self.A
                                else nyi_deny()))
            self.cell(R_INCLUSION, "entry 0 (not A's)", p, "GET",
                      "/v1/journal/proof/inclusion?index=0&tree_size=%d" % (
                          self.snap[self.A.id] + 1),
                      self.sess(p, nyi_ok() if audit else nyi_deny()))
            self.cell(R_CONSISTENCY, "1..2", p, "GET",
                      "/v1/journal/proof/consistency?first=1&second=2",
                      self.sess(p, nyi_ok() if audit else nyi_deny()))

    def s_anyone_nyi(self):
        for p in self.principals:
            self.cell(R_TSA, "-", p, "GET", "/v1/tsa/certificates",
                      self.anyone(p, nyi_ok()))
            self.cell(R_KEYS, "-", p, "GET", "/v1/instance/keys",
                      self.anyone(p, nyi_ok()))

    # -- destructive routes ----------------------------------------------------------
    def refused_first(self, owner):
        """The principals, the one who may act (the owner) last."""
        return sorted(self.principals, key=lambda p: p.kind == "person" and
                      p.owner == owner)

    def s_doc_delete(self):
        def restore(name, owner):
            person = self.A if owner == "A" else self.B
            old = self.docs.pop(name)
            d = self.put_doc(name, person, owner, old.cat)
            self.expect_event(person.id, person.id, "document.deposit", d.id)

        for owner, dname in (("A", "TA"), ("B", "TA"), ("A", "B_doc"),
                             ("A", None), ("ghost", "TA"), ("B", "TB")):
            for p in self.refused_first(owner):
                doc = self.docs.get(dname)
                did = doc.id if doc else self.ghost_did
                pid = self.pid(owner)
                if p.kind == "person" and p.owner == owner:
                    if not doc or doc.owner != owner:
                        e = deny(404)
                    elif dname == "TA":
                        continue    # A deletes TA at the very end
                    else:
                        e = ok(204)
                else:
                    e = deny(403, error="forbidden") if p.is_aidant else deny(403)
                st, _, _ = self.cell(
                    R_DOC_DELETE, "%s/%s" % (owner, dname or "ghost"), p,
                    "DELETE", "/v1/persons/%s/documents/%s" % (pid, did),
                    self.sess(p, e), would=[(pid, "document.delete", did)],
                    trace=True)
                if st in TWO_XX and doc:
                    if e.allowed:
                        del self.docs[dname]
                    else:
                        restore(dname, doc.owner)
        # the person deletes her own paper; nobody reads it afterwards
        ta = self.docs.pop("TA")
        self.cell(R_DOC_DELETE, "A/TA", self.A, "DELETE",
                  "/v1/persons/%s/documents/%s" % (self.A.id, ta.id), ok(204),
                  would=[(self.A.id, "document.delete", ta.id)])
        for p in (self.A, self.readid, self.all):
            self.cell(R_META, "A/TA (deleted)", p, "GET",
                      "/v1/persons/%s/documents/%s" % (self.A.id, ta.id),
                      deny(404), would=[(self.A.id, "document.read", ta.id)],
                      trace=True)
        # the papers the refused deletes aimed at are all still there
        for owner, dname in (("A", "A_id"), ("B", "B_doc")):
            self.read_cell(self.A if owner == "A" else self.B, owner, dname,
                           " (after deletes)")

    def s_revoke(self):
        def restore(name):
            m = self.mandates[name]
            m.active = False
            person = self.A if m.owner == "A" else self.B
            n = self.put_mandate(name, m.owner, self.by_name[m.aidant],
                                 sorted(m.scopes), sorted(m.cats))
            self.mandates[name + "-was-" + m.id] = m
            self.expect_event(person.id, person.id, "mandate.grant", "*")
            return n

        own = {"aid-dep": "m_dep", "aid-readId": "m_readid",
               "aid-all": "m_all", "aid-B": "m_b"}
        variants = [("A/m_readid", "A", "m_readid"),
                    ("own mandate", None, None),
                    ("B/m_readid", "B", "m_readid"),
                    ("A/m_b", "A", "m_b"),
                    ("A/ghost", "A", None),
                    ("A/throw-A", "A", "throw-A"),
                    ("B/throw-B", "B", "throw-B")]
        for label, owner, mname in variants:
            order = self.refused_first(owner) if owner else self.principals
            for p in order:
                o, n = owner, mname
                if label == "own mandate":
                    if p.name not in own:
                        continue
                    n = own[p.name]
                    o = self.mandates[n].owner
                m = self.mandates.get(n)
                mid = m.id if m else self.ghost_mid
                pid = self.pid(o)
                is_owner = p.kind == "person" and p.owner == o
                if is_owner and label == "A/m_readid":
                    continue    # A keeps this mandate: the matrix needs it
                if is_owner:
                    e = ok(204) if m and m.owner == o else deny(404)
                else:
                    e = deny(403, error="forbidden") if p.is_aidant else deny(403)
                st, _, _ = self.cell(
                    R_REVOKE, label, p, "DELETE",
                    "/v1/persons/%s/mandates/%s" % (pid, mid), self.sess(p, e),
                    would=[(pid, "mandate.revoke", "*", pid)])
                if st in TWO_XX and m:
                    if e.allowed:
                        m.active = False
                    elif m.active:
                        restore(n)
        # the refused revocations left the mandates working; the revoked
        # one no longer opens anything
        self.read_cell(self.readid, "A", "A_id", " (after revokes)")
        self.read_cell(self.all, "A", "A_health", " (after revokes)")
        self.read_cell(self.agB, "B", "B_doc", " (after revokes)")
        self.read_cell(self.throw, "A", "A_id", " (revoked)")

    def s_share_revoke(self):
        def restore(name):
            sid, tok, owner, dname = self.shares[name]
            person = self.A if owner == "A" else self.B
            self.put_share(name, person, owner, dname, 100)
            self.expect_event(person.id, person.id, "share.create", "*")

        variants = [("A/sA", "A", "sA"), ("B/sA", "B", "sA"),
                    ("A/sB", "A", "sB"), ("A/ghost", "A", None),
                    ("ghost/sA", "ghost", "sA"),
                    ("A/sA_throw", "A", "sA_throw"), ("B/sB", "B", "sB")]
        revoked = []
        for label, owner, sname in variants:
            for p in self.refused_first(owner):
                sh = self.shares.get(sname)
                shid = sh[0] if sh else secrets.token_hex(16)
                pid = self.pid(owner)
                is_owner = p.kind == "person" and p.owner == owner
                if is_owner and label == "A/sA":
                    continue    # A keeps her link: it is read again below
                if is_owner:
                    e = ok(204) if sh and sh[2] == owner else deny(404)
                else:
                    e = deny(403, error="forbidden") if p.is_aidant else deny(403)
                st, _, _ = self.cell(
                    R_SHARE_REVOKE, label, p, "DELETE",
                    "/v1/persons/%s/shares/%s" % (pid, shid), self.sess(p, e),
                    would=[(pid, "share.revoke", "*", pid)])
                if st in TWO_XX and sh:
                    if e.allowed:
                        revoked.append((sname, sh[1]))
                    else:
                        restore(sname)
        # the link the refused revocations aimed at still works; the revoked
        # ones are dead
        self.cell(R_SHARE_GET, "A's link (after revokes)", self.anon, "GET",
                  "/v1/shares/" + self.shares["sA"][1],
                  ok(200, self.content_check(self.docs["A_id"])))
        for sname, tok in revoked:
            self.cell(R_SHARE_GET, "revoked link " + sname, self.anon, "GET",
                      "/v1/shares/" + tok, deny(404))

    def s_logout(self):
        for p in self.principals:
            if not p.has_session:
                self.cell(R_LOGOUT, "own session", p, "DELETE",
                          "/v1/sessions/current", deny(401))
                continue
            second = P(p.name, p.kind, self.v.login(p.login, p.secret), p.id)
            self.cell(R_LOGOUT, "own session", second, "DELETE",
                      "/v1/sessions/current", ok(204))
            self.cell(R_ME, "after logout", second, "GET", "/v1/me", deny(401))

    # -- the journals: refusals left no trace --------------------------------------
    def trace_checks(self):
        actual = collections.Counter()
        for who in (self.A, self.B):
            for ev in self.journal(who, self.snap[who.id]):
                if ev.get("action") not in WATCHED or ev.get("outcome") != "ok":
                    continue
                actor = (ev.get("actor") or {}).get("account_id")
                pid = ev.get("person_id")
                for o in {ev.get("object_id"), "*"}:
                    actual[(pid, actor, ev["action"], o)] += 1
        self.actual = actual
        names = {p.id: p.name for p in self.by_name.values()}
        names[self.A.id], names[self.B.id] = "personA", "personB"

        def show(k):
            return "%s journal: %s by %s on %s" % (
                names.get(k[0], k[0]), k[2], names.get(k[1], k[1]),
                "any object" if k[3] == "*" else k[3] or "-")
        for c, keys in self.traces:
            bad = [(k, actual[k], self.expected[k]) for k in keys
                   if actual[k] != self.expected[k]]
            self.extra.append((
                "trace %s [%s] as %s" % (c.route, c.variant, c.who), not bad,
                "; ".join("%s: %d events, %d from cells that succeeded" % (
                    show(k), a, x) for k, a, x in bad)))
        # every count of the watched actions, whole
        for k in sorted(set(actual) | set(self.expected),
                        key=lambda k: tuple(str(x) for x in k)):
            if k[3] != "*":
                continue
            a, x = actual[k], self.expected[k]
            self.extra.append(("journal count " + show(k), a == x,
                               "%d events, %d expected from the cells" % (a, x)))

    def coverage(self):
        out = subprocess.run([os.path.join(self.build, "vaultd"), "--routes"],
                             capture_output=True, text=True).stdout
        routes = [l.strip() for l in out.splitlines() if l.strip()]
        self.routes = routes
        tried = {c.route for c in self.cells}
        for r in routes:
            self.extra.append(("coverage " + r, r in tried,
                               "route of the table not in the matrix"))
        for r in sorted(tried - set(routes)):
            self.extra.append(("coverage " + r, False,
                               "route of the matrix not served by this build"))

    # -- report ------------------------------------------------------------------------
    def report(self):
        order = [p.name for p in self.principals] + ["aid-throw"]
        print("matrix: %d cells (%d routes x %d principals x identifiers)" % (
            len(self.cells), len({c.route for c in self.cells}),
            len(self.principals)))
        by = collections.defaultdict(list)
        for c in self.cells:
            by[(c.route, c.variant, c.who)].append(c)
        for r in self.routes + sorted({c.route for c in self.cells} -
                                      set(self.routes)):
            vs = self.variants.get(r, [])
            n = sum(1 for c in self.cells if c.route == r)
            print("\n%s  [%d cells]" % (r, n))
            print("  " + "  ".join("%d=%s" % (i + 1, v) for i, v in enumerate(vs)))
            for who in order:
                row = []
                for v in vs:
                    cs = by.get((r, v, who), [])
                    row.append(",".join("%d%s" % (c.status, "" if c.passed
                                                  else "!") for c in cs) or "-")
                if any(x != "-" for x in row):
                    print("  %-11s %s" % (who, " ".join("%-4s" % x for x in row)))
        fails = [("FAIL %s [%s] as %s: %s" % (c.route, c.variant, c.who, c.msg))
                 for c in self.cells if not c.passed]
        fails += ["FAIL %s: %s" % (name, msg) for name, ok_, msg in self.extra
                  if not ok_]
        print()
        ntrace = sum(1 for n, _, _ in self.extra if n.startswith("trace "))
        print("journal traces checked: %d refused cells, %d counts" % (
            ntrace, sum(1 for n, _, _ in self.extra
                        if n.startswith("journal count "))))
        for f in fails:
            print(f)
        passed = sum(1 for c in self.cells if c.passed) + \
            sum(1 for _, ok_, _ in self.extra if ok_)
        return passed, len(fails)


def errcode(b):
    if isinstance(b, dict) and "error" in b:
        return '{"error":"%s"}' % b["error"]
    return ""


def main():
    if len(sys.argv) != 3:
        print("usage: authz_test.py BUILD_DIR WORKDIR", file=sys.stderr)
        return 2
    t0 = time.time()
    v = Vault(sys.argv[1], sys.argv[2])
    v.start()
    m = Matrix(v, os.path.abspath(sys.argv[1]))
    try:
        m.setup()
        m.sections()
        m.trace_checks()
        m.coverage()
    finally:
        rc = v.stop()
    if rc != 0:
        m.extra.append(("vaultd exit", False, "SIGTERM gave exit status %r" % rc))
    passed, failed = m.report()
    print("run time %.1f s" % (time.time() - t0))
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
