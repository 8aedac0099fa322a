#!/usr/bin/python3
"""Deposit receipts: signed by the instance, verifiable with vaultctl and
without our code (the canonical bytes are the receipt object's JSON with
sorted keys and no white space, verified here with python3-nacl).

usage: receipt_test.py BUILD_DIR WORKDIR
"""
import base64
import hashlib
import json
import os
import subprocess
import sys

from nacl.signing import VerifyKey
from nacl.exceptions import BadSignatureError

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import check, finish  # noqa: E402
from vaultd_harness import Vault  # noqa: E402

BUILD, WORK = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])


def canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def vaultctl_verify(path, *key):
    p = subprocess.run([os.path.join(BUILD, "vaultctl"), "receipt", "verify", path] + list(key),
                       capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


v = Vault(BUILD, WORK)
with v:
    admin = v.admin()
    sid = v.structure(admin, "Association Léa & Co")
    aid, aidant = v.aidant(admin, sid, "aidant.receipt")
    aid2, other = v.aidant(admin, sid, "aidant.other")
    pid, person, _ = v.person(aidant, "person.receipt")
    v.mandate(person, pid, aid, ["deposit"], ["identity"])
    data = os.urandom(4321)
    s, doc, _ = v.deposit(aidant, pid, data, title="Carte d'identité", category="identity",
                          media="image/jpeg")
    did = doc["document_id"]
    s, keys, _ = v.call("GET", "/v1/instance/keys")
    pk = keys["receipt_public_key"]
    s, env, h = v.call("GET", "/v1/persons/%s/documents/%s/receipt" % (pid, did), token=person)
    r = env.get("receipt", {}) if isinstance(env, dict) else {}
    check("the person gets the receipt", s == 200 and "signature" in env, (s, env))
    check("it says who deposited what, for whom, when, with its fingerprint and time-stamp",
          r.get("document_id") == did and r.get("person", {}).get("account_id") == pid and
          r.get("deposited_by", {}).get("account_id") == aid and
          r.get("deposited_by", {}).get("structure_name") == "Association Léa & Co" and
          r.get("sha256") == hashlib.sha256(data).hexdigest() and r.get("size") == 4321 and
          r.get("category") == "identity" and r.get("media_type") == "image/jpeg" and
          r.get("timestamp_serial") and r.get("deposited_at", "").endswith("Z"), r)
    check("it carries no title (titles are encrypted)", "Carte" not in json.dumps(env), env)
    vk = VerifyKey(base64.b64decode(pk))
    try:
        vk.verify(canonical(r), base64.b64decode(env["signature"]))
        ok = True
    except BadSignatureError:
        ok = False
    check("its signature verifies without our code (sorted-key compact JSON, Ed25519)", ok)
    s2, env2, _ = v.call("GET", "/v1/persons/%s/documents/%s/receipt" % (pid, did), token=aidant)
    check("the depositing aidant gets it too, without a read mandate", s2 == 200 and env2 == env,
          s2)
    check("another aidant does not (403)",
          v.call("GET", "/v1/persons/%s/documents/%s/receipt" % (pid, did), token=other)[0] == 403)
    check("nor the administrator (403)",
          v.call("GET", "/v1/persons/%s/documents/%s/receipt" % (pid, did), token=admin)[0] == 403)
    s, page, h = v.call("GET", "/v1/persons/%s/documents/%s/receipt?format=html" % (pid, did),
                        token=person)
    check("a printable page in French, names escaped",
          s == 200 and h.get("content-type", "").startswith("text/html") and
          b"Attestation de d\xc3\xa9p\xc3\xb4t" in page and b"L\xc3\xa9a &amp; Co" in page, page[:200])

path = os.path.join(WORK, "receipt.json")
with open(path, "w") as f:
    json.dump(env, f)
rc, out = vaultctl_verify(path, "--public-key", pk)
check("vaultctl receipt verify: OK with the published key", rc == 0, out)
rc, out = vaultctl_verify(path, "--data-dir", v.data)
check("vaultctl receipt verify: OK with the data directory's key", rc == 0, out)
changed = json.loads(json.dumps(env))
changed["receipt"]["size"] = 4322
with open(path + ".1", "w") as f:
    json.dump(changed, f)
rc, out = vaultctl_verify(path + ".1", "--public-key", pk)
check("a receipt with one field changed does not verify", rc == 1 and "NOT" in out, out)
from nacl.signing import SigningKey  # noqa: E402
sk = SigningKey.generate()
forged = json.loads(json.dumps(env))
forged["signature"] = base64.b64encode(sk.sign(canonical(forged["receipt"])).signature).decode()
forged["public_key"] = base64.b64encode(bytes(sk.verify_key)).decode()
with open(path + ".2", "w") as f:
    json.dump(forged, f)
rc, out = vaultctl_verify(path + ".2", "--public-key", pk)
check("a receipt signed by another key does not verify (the key inside is not trusted)",
      rc == 1, out)

finish()
