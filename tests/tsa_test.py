#!/usr/bin/python3
"""RFC 3161 time-stamps, checked with the stock openssl command line.

Each deposit gets a token from vaultd's built-in TSA; for documents of
several sizes, `openssl ts -verify -data FILE -in TOKEN.tsr -CAfile
CHAIN.pem` (exactly as a person or a lawyer would run it) must say OK, and
FAIL for the same document with one byte changed. Serials are unique, the
policy is ours, the certificate chain is served to anyone, and only those
who may read a paper get its token.

usage: tsa_test.py BUILD_DIR WORKDIR
"""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import check, finish  # noqa: E402
from vaultd_harness import Vault, ts_verify  # noqa: E402

BUILD, WORK = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])


def write(name, data):
    path = os.path.join(WORK, name)
    with open(path, "wb") as f:
        f.write(data)
    return path




v = Vault(BUILD, WORK)
with v:
    admin = v.admin()
    sid = v.structure(admin)
    aid, aidant = v.aidant(admin, sid, "aidant.tsa")
    pid, person, _ = v.person(aidant, "person.tsa")
    s, chain, h = v.call("GET", "/v1/tsa/certificates")
    check("GET /v1/tsa/certificates: anyone gets the TSA certificate then the root, PEM",
          s == 200 and chain.count(b"-----BEGIN CERTIFICATE-----") == 2, s)
    chain_path = write("chain.pem", chain)
    p = subprocess.run(["openssl", "x509", "-noout", "-text"], input=chain, capture_output=True)
    check("the TSA certificate has the critical extended key usage timeStamping",
          b"Extended Key Usage: critical" in p.stdout and b"Time Stamping" in p.stdout,
          p.stdout[-400:])
    serials = set()
    for size in (0, 1, 100 * 1024, 3 << 20):
        data = os.urandom(size)
        s, doc, _ = v.deposit(person, pid, data, title="doc %d" % size)
        s2, tok, h = v.call("GET", "/v1/persons/%s/documents/%s/timestamp" % (pid, doc["document_id"]),
                            token=person)
        check("%d bytes: the token is served as application/timestamp-reply" % size,
              s == 201 and s2 == 200 and h.get("content-type") == "application/timestamp-reply",
              (s, s2, h.get("content-type")))
        tsr = write("doc-%d.tsr" % size, tok)
        ok, out = ts_verify(write("doc-%d.bin" % size, data), tsr, chain_path)
        check("%d bytes: openssl ts -verify says OK" % size, ok, out)
        bad = bytearray(data or b"\0")
        bad[len(bad) // 2] ^= 1
        ok, out = ts_verify(write("doc-%d-changed.bin" % size, bytes(bad)), tsr, chain_path)
        check("%d bytes: and FAILS for the document with one byte changed" % size,
              not ok and "imprint mismatch" in out, out)
        text = subprocess.run(["openssl", "ts", "-reply", "-in", tsr, "-text"],
                              capture_output=True, text=True).stdout
        m = re.search(r"Serial number: (0x[0-9A-F]+)", text)
        serials.add(m.group(1) if m else None)
        check("%d bytes: the token carries our policy, a nonce and a one-second accuracy" % size,
              "Policy OID: 2.25.203938461097315312573634087425393947562" in text and
              "Nonce: 0x" in text and "Accuracy: 0x01 seconds" in text, text[:600])
    check("every token has its own serial number", None not in serials and len(serials) == 4, serials)
    s, _, _ = v.call("GET", "/v1/persons/%s/documents/%s/timestamp" % (pid, doc["document_id"]),
                     token=aidant)
    check("an aidant without a read mandate gets no token (403)", s == 403, s)
    s, _, _ = v.call("GET", "/v1/persons/%s/documents/%s/timestamp" % (pid, doc["document_id"]),
                     token=admin)
    check("nor does the administrator (403)", s == 403, s)
    v.mandate(person, pid, aid, ["read"], ["residence"])
    s, tok2, _ = v.call("GET", "/v1/persons/%s/documents/%s/timestamp" % (pid, doc["document_id"]),
                        token=aidant)
    check("an aidant with a read mandate for its category gets the same token", s == 200 and tok2 == tok, s)
    s, note, _ = v.call("POST", "/v1/journal/checkpoint", token=admin)
    size = int(note.decode().split("\n")[1]) if s == 201 else -1
    s, ctok, h = v.call("GET", "/v1/journal/checkpoints/%d/timestamp" % size, token=admin)
    check("a new checkpoint is time-stamped at once by the built-in TSA",
          s == 200 and h.get("content-type") == "application/timestamp-reply", s)
    ok, out = ts_verify(write("cp.txt", note), write("cp.tsr", ctok), chain_path)
    check("... openssl ts -verify accepts the token over the checkpoint's exact text", ok, out)
    ok, out = ts_verify(write("cp-bad.txt", note.replace(b"\n", b"\n ", 1)), os.path.join(WORK, "cp.tsr"), chain_path)
    check("... and refuses it for a changed checkpoint", not ok, out)
    v.restart()
    person = v.login("person.tsa", "1234")
    data = b"after a restart"
    s, doc2, _ = v.deposit(person, pid, data)
    s, tok3, _ = v.call("GET", "/v1/persons/%s/documents/%s/timestamp" % (pid, doc2["document_id"]),
                        token=person)
    text = subprocess.run(["openssl", "ts", "-reply", "-in", write("r.tsr", tok3), "-text"],
                          capture_output=True, text=True).stdout
    m = re.search(r"Serial number: (0x[0-9A-F]+)", text)
    check("after a restart, tokens still verify and serials stay unique",
          ts_verify(write("r.bin", data), os.path.join(WORK, "r.tsr"), chain_path)[0] and
          m is not None and m.group(1) not in serials, text[:300])

finish()
