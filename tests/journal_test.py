#!/usr/bin/python3
"""The journal's Merkle tree, checked from outside.

Proofs served by vaultd are verified with tests/merkle_ref.py, an
implementation of RFC 6962/9162 and C2SP signed notes written from the
specifications, not from our code: every leaf's inclusion proof, every
consistency proof between sizes up to 64, the signed checkpoint. Then the
SQLite file is tampered with directly (an edited field, a deleted row,
two rows swapped, a forged row appended, a replaced checkpoint, the last
row removed) and `vaultctl journal verify` must fail on each, naming the
first bad index.

usage: journal_test.py BUILD_DIR WORKDIR
"""
import base64
import os
import shutil
import sqlite3
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import check, finish  # noqa: E402
from vaultd_harness import Vault  # noqa: E402
import merkle_ref  # noqa: E402

BUILD, WORK = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])


def b64(s):
    return base64.b64decode(s)


def verify(data_dir, *extra):
    p = subprocess.run([os.path.join(BUILD, "vaultctl"), "journal", "verify",
                        "--data-dir", data_dir] + list(extra),
                       capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


v = Vault(BUILD, WORK)
with v:
    admin = v.admin()
    sid = v.structure(admin)
    aid, aidant = v.aidant(admin, sid, "aidant.journal")
    pid, person, _ = v.person(aidant, "person.journal")
    pid2, person2, _ = v.person(aidant, "person.other")
    while True:
        v.deposit(person, pid, os.urandom(64))
        s, cp, _ = v.call("POST", "/v1/journal/checkpoint", token=admin)
        size = int(cp.decode().split("\n")[1])
        if size >= 70:
            break
    note = cp.decode()
    s, keys, _ = v.call("GET", "/v1/instance/keys")
    check("GET /v1/instance/keys is public and names origin and keys",
          s == 200 and keys["checkpoint_verifier_key"].startswith(keys["origin"] + "+")
          and len(base64.b64decode(keys["receipt_public_key"])) == 32, keys)
    check("the checkpoint verifies with the published verifier key (C2SP signed note)",
          merkle_ref.verify_note(note, keys["checkpoint_verifier_key"]), note)
    tampered = note.replace("\n%d\n" % size, "\n%d\n" % (size + 1), 1)
    check("a checkpoint with another size does not verify",
          not merkle_ref.verify_note(tampered, keys["checkpoint_verifier_key"]))
    origin, csize, croot, _ = merkle_ref.parse_checkpoint(note)
    check("the checkpoint names the instance's origin and the journal's size",
          origin == keys["origin"] and csize == size, (origin, csize))

    leaves = []
    for i in range(size):
        s, entry, _ = v.call("GET", "/v1/journal/entries/%d" % i, token=admin)
        leaves.append(entry)
    check("every entry is served as its canonical bytes",
          all(e.startswith(b"vault-journal/1\nindex %d\n" % i) for i, e in enumerate(leaves)))
    check("the root of the leaves (independent code) is the signed root",
          merkle_ref.root(leaves) == croot)
    bad = []
    for i in range(size):
        s, p, _ = v.call("GET", "/v1/journal/proof/inclusion?index=%d&tree_size=%d" % (i, size),
                         token=admin)
        if s != 200 or not merkle_ref.verify_inclusion(
                merkle_ref.leaf_hash(leaves[i]), i, size, [b64(h) for h in p["hashes"]], croot):
            bad.append(i)
    check("the inclusion proof of each of the %d entries verifies (RFC 9162 2.1.3.2)" % size,
          not bad, bad[:5])
    roots = {m: merkle_ref.root(leaves[:m]) for m in range(1, 65)}
    bad = []
    pairs = 0
    for n in range(1, 65):
        for m in range(1, n + 1):
            s, p, _ = v.call("GET", "/v1/journal/proof/consistency?first=%d&second=%d" % (m, n),
                             token=admin)
            pairs += 1
            if s != 200 or not merkle_ref.verify_consistency(
                    m, n, [b64(h) for h in p["hashes"]], roots[m], roots[n]):
                bad.append((m, n))
    check("the consistency proof of each of the %d pairs of sizes up to 64 verifies "
          "(RFC 9162 2.1.4.2)" % pairs, not bad, bad[:5])
    s, p, _ = v.call("GET", "/v1/journal/proof/inclusion?index=3&tree_size=%d" % size, token=admin)
    forged = [b64(h) for h in p["hashes"]]
    forged[0] = bytes([forged[0][0] ^ 1]) + forged[0][1:]
    check("a proof with one bit changed does not verify",
          not merkle_ref.verify_inclusion(merkle_ref.leaf_hash(leaves[3]), 3, size, forged, croot))
    check("a proof past the journal's size is refused (400)",
          v.call("GET", "/v1/journal/proof/inclusion?index=1&tree_size=%d" % (size + 1000),
                 token=admin)[0] == 400)
    # the person: proofs for her own entries only
    s, ev, _ = v.call("GET", "/v1/persons/%s/journal" % pid, token=person)
    mine = ev["events"][-1]["index"]
    others = [i for i, e in enumerate(leaves) if ("person %s" % pid).encode() not in e]
    check("a person gets the inclusion proof of an entry about her",
          v.call("GET", "/v1/journal/proof/inclusion?index=%d&tree_size=%d" % (mine, size),
                 token=person)[0] == 200)
    check("but not of an entry about someone else (403)",
          v.call("GET", "/v1/journal/proof/inclusion?index=%d&tree_size=%d" % (others[0], size),
                 token=person)[0] == 403)
    check("an aidant gets no proof and no entry (403)",
          v.call("GET", "/v1/journal/entries/0", token=aidant)[0] == 403 and
          v.call("GET", "/v1/journal/proof/consistency?first=1&second=2", token=aidant)[0] == 403)

# ---- tampering, through the SQLite file ----------------------------------------
rc, out = verify(v.data)
check("vaultctl journal verify passes on the untouched journal", rc == 0, out)
rc, out = verify(v.data, "--verifier-key", keys["checkpoint_verifier_key"])
check("... and with the verifier key published by the daemon", rc == 0, out)
name, khash, _ = keys["checkpoint_verifier_key"].split("+", 2)  # base64 may hold "+"
other = name + "+" + khash + "+" + base64.b64encode(b"\x01" + os.urandom(32)).decode()
rc, out = verify(v.data, "--verifier-key", other)
check("... and fails with another key", rc == 1 and "signature" in out, out)


def tampered_copy(name, sql, params=()):
    d = os.path.join(WORK, "t-" + name)
    shutil.rmtree(d, ignore_errors=True)
    shutil.copytree(v.data, d)
    db = sqlite3.connect(os.path.join(d, "vault.db"))
    if callable(sql):
        sql(db)
    else:
        db.execute(sql, params)
    db.commit()
    db.close()
    return d


def expect_bad(name, d, index, word=None):
    rc, out = verify(d)
    want = "FAILED at index %d" % index if index is not None else "FAILED"
    check("%s: journal verify fails%s" % (name, "" if index is None else " at index %d" % index),
          rc == 1 and want in out and (word is None or word in out), out.strip())


expect_bad("one field of one row edited",
           tampered_copy("edit", "UPDATE journal SET action = 'document.read' WHERE seq = 11"), 10)
expect_bad("a row deleted", tampered_copy("delete", "DELETE FROM journal WHERE seq = 21"), 20)


def swap(db):
    a = db.execute("SELECT at, actor_id, person_id, action, object_id, outcome FROM journal"
                   " WHERE seq = 31").fetchone()
    b = db.execute("SELECT at, actor_id, person_id, action, object_id, outcome FROM journal"
                   " WHERE seq = 32").fetchone()
    q = ("UPDATE journal SET at = ?, actor_id = ?, person_id = ?, action = ?, object_id = ?,"
         " outcome = ? WHERE seq = ?")
    db.execute(q, b + (31,))
    db.execute(q, a + (32,))


expect_bad("two rows swapped", tampered_copy("swap", swap), 30)
total = sqlite3.connect(os.path.join(v.data, "vault.db")).execute(
    "SELECT max(seq) FROM journal").fetchone()[0]
expect_bad("a forged row appended", tampered_copy(
    "append", "INSERT INTO journal (at, actor_id, person_id, action, object_id, outcome)"
    " VALUES (1, NULL, ?, 'document.delete', NULL, 'ok')", (pid,)), total)
expect_bad("the last row removed", tampered_copy(
    "truncate", "DELETE FROM journal WHERE seq = ?", (total,)), total - 1)


def replace_checkpoint(db):
    sz, n = db.execute("SELECT tree_size, note FROM checkpoints ORDER BY tree_size DESC"
                       " LIMIT 1").fetchone()
    lines = n.split("\n")
    lines[2] = base64.b64encode(os.urandom(32)).decode()
    db.execute("UPDATE checkpoints SET note = ? WHERE tree_size = ?", ("\n".join(lines), sz))


expect_bad("a checkpoint replaced", tampered_copy("checkpoint", replace_checkpoint), None,
           "signature")

shutil.rmtree(WORK, ignore_errors=True)
finish()
