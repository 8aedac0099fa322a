#!/usr/bin/python3
"""Structures and their aidants, for administrators.

The instance administrator lists structures; a structure administrator
lists her aidants and removes one: his sessions end at once, his log-ins
fail like an unknown login's, the mandates he held end and each person
sees it in her journal, the papers those mandates wrapped no longer open
for him, and the list shows him removed. Removing oneself, or twice, is
refused.

usage: members_test.py BUILD_DIR WORKDIR
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import check, finish  # noqa: E402
from vaultd_harness import Vault  # noqa: E402

BUILD, WORK = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])

v = Vault(BUILD, WORK)
with v:
    admin = v.admin()
    sid = v.structure(admin, "Association Solidarité")
    sa_id, sadmin = v.aidant(admin, sid, "chef.asso", role="structure_admin")
    aid, aidant = v.aidant(sadmin, sid, "karim.asso")
    pid, person, _ = v.person(aidant, "amina.asso")
    s, m, _ = v.mandate(person, pid, aid, ["read", "deposit"], ["residence"])
    s, doc, _ = v.deposit(person, pid, b"titre de sejour", title="Titre")
    did = doc["document_id"]
    s, _, _ = v.call("GET", "/v1/persons/%s/documents/%s/content" % (pid, did), token=aidant)
    check("before: the aidant reads the paper his mandate covers", s == 200, s)

    s, body, _ = v.call("GET", "/v1/structures", token=admin)
    mine = [x for x in body.get("structures", []) if x["structure_id"] == sid]
    check("the instance administrator lists the structure, with its two members",
          s == 200 and len(mine) == 1 and mine[0]["name"] == "Association Solidarité" and
          mine[0]["aidants"] == 2, body)
    s, body, _ = v.call("GET", "/v1/structures/%s/aidants" % sid, token=sadmin)
    roles = {x["login"]: (x["role"], x["removed"]) for x in body.get("aidants", [])}
    check("the structure administrator lists her aidants",
          s == 200 and roles == {"chef.asso": ("structure_admin", False),
                                 "karim.asso": ("aidant", False)}, body)

    s, body, _ = v.call("DELETE", "/v1/structures/%s/aidants/%s" % (sid, sa_id), token=sadmin)
    check("she cannot remove herself (409)", s == 409, (s, body))
    s, _, _ = v.call("DELETE", "/v1/structures/%s/aidants/%s" % (sid, aid), token=sadmin)
    check("she removes the aidant (204)", s == 204, s)
    s, _, _ = v.call("GET", "/v1/me", token=aidant)
    check("his session ended at once (401)", s == 401, s)
    s, body, _ = v.call("POST", "/v1/sessions", {"login": "karim.asso",
                                                 "secret": "aidant secret 123"})
    s2, body2, _ = v.call("POST", "/v1/sessions", {"login": "nobody.here",
                                                   "secret": "aidant secret 123"})
    check("his log-in fails exactly as an unknown login's",
          s == 401 and s2 == 401 and body == body2, (s, body, s2, body2))
    s, body, _ = v.call("GET", "/v1/persons/%s/journal" % pid, token=person)
    ev = [e for e in body["events"] if e["action"] == "mandate.revoke"]
    check("the person's journal shows the mandate revoked, by the administrator",
          len(ev) == 1 and ev[0]["object_id"] == m["mandate_id"] and
          ev[0]["actor"]["account_id"] == sa_id, ev)
    s, body, _ = v.call("GET", "/v1/persons/%s/mandates" % pid, token=person)
    check("her mandate list shows it ended",
          s == 200 and all(x.get("revoked_at") for x in body["mandates"]), body)
    import sqlite3
    db = sqlite3.connect(os.path.join(v.data, "vault.db"))
    n = db.execute("SELECT count(*) FROM key_wrappings WHERE holder_kind = 'aidant'").fetchone()[0]
    db.close()
    check("no key wrapping for his mandates is left", n == 0, n)
    s, body, _ = v.call("GET", "/v1/structures/%s/aidants" % sid, token=sadmin)
    k = [x for x in body["aidants"] if x["login"] == "karim.asso"]
    check("the list shows him removed, with the time",
          len(k) == 1 and k[0]["removed"] is True and k[0]["removed_at"], k)
    s, _, _ = v.call("DELETE", "/v1/structures/%s/aidants/%s" % (sid, aid), token=sadmin)
    check("removing him again: 404", s == 404, s)
    s, body, _ = v.call("GET", "/v1/journal?action=aidant.remove", token=admin)
    check("aidant.remove is in the audit journal",
          s == 200 and [e["object_id"] for e in body["events"]] == [aid], body)
    s, body, _ = v.call("GET", "/v1/structures", token=admin)
    mine = [x for x in body.get("structures", []) if x["structure_id"] == sid]
    check("the structure now counts one member", mine and mine[0]["aidants"] == 1, mine)

finish()
