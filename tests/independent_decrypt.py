#!/usr/bin/python3
"""Independent reader of the vault's storage format, version 1.

Written from docs/FORMAT.md alone (never from the C sources), so that the
specification and the implementation cannot drift apart unnoticed.

Usage: /usr/bin/python3 tests/independent_decrypt.py FIXTURE_TOOL WORKDIR KAT_DIR
"""
import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import zlib

from nacl import bindings as nb
from nacl.exceptions import CryptoError

CHUNK = 65536                                       # section 5
ABYTES = nb.crypto_secretstream_xchacha20poly1305_ABYTES       # 17
TAG_MESSAGE = nb.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
TAG_FINAL = nb.crypto_secretstream_xchacha20poly1305_TAG_FINAL
RECOVERY_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # section 3.3


class FormatError(Exception):
    """Anything FORMAT.md says a reader must refuse (or a value mismatch)."""


def expect(cond, why):
    if not cond:
        raise FormatError(why)


def blake2b_256(key, msg):
    # Notation: BLAKE2b-256(key=K, M) is crypto_generichash, 32-byte output.
    return hashlib.blake2b(msg, key=key, digest_size=32).digest()


def aead_open(ciphertext, ad, nonce, key, what):
    try:
        return nb.crypto_aead_xchacha20poly1305_ietf_decrypt(ciphertext, ad, nonce, key)
    except CryptoError:
        raise FormatError(what + " does not decrypt")


# ---- Section 3: keys -------------------------------------------------------

def kek_from_secret(secret, salt, opslimit, memlimit, pepper):
    # 3.2: Argon2id v1.3 of the UTF-8 secret, then BLAKE2b keyed with the pepper.
    pw = secret.encode("utf-8")
    expect(len(pw) <= 1024, "secret longer than 1024 bytes")
    s = nb.crypto_pwhash_alg(32, pw, salt, opslimit, memlimit,
                             nb.crypto_pwhash_ALG_ARGON2ID13)
    return blake2b_256(pepper, b"vault/kek/secret/v1" + s)


def normalise_recovery(code):
    # 3.3: drop '-', space, tab; upper-case ASCII letters; 28 alphabet symbols.
    code = "".join(c for c in code if c not in "- \t")
    code = "".join(c.upper() if "a" <= c <= "z" else c for c in code)
    expect(len(code) == 28 and all(c in RECOVERY_ALPHABET for c in code),
           "recovery code is not 28 symbols of the alphabet")
    return code.encode("ascii")


def kek_from_recovery(code, rec_salt, pepper):
    # 3.3: no Argon2id, the code itself carries the entropy.
    return blake2b_256(pepper, b"vault/kek/recovery/v1" + rec_salt
                       + normalise_recovery(code))


def unwrap_sk(kek, nonce, wrapped, account_id, pk):
    # 3.4: AD_sk = "VSK1" || account_id (16 raw) || pk; then check pk.
    ad = b"VSK1" + account_id + pk
    expect(len(ad) == 52 and len(wrapped) == 48, "bad AD_sk or wrapping length")
    sk = aead_open(wrapped, ad, nonce, kek, "secret-key wrapping")
    expect(len(sk) == 32 and nb.crypto_scalarmult_base(sk) == pk,
           "unwrapped sk does not match the stored pk")
    return sk


def open_document_key(wrapped, pk, sk, document_id):
    # 3.5: sealed box of "VDK1" || document_id (16 raw) || DK (32).
    expect(len(wrapped) == 100, "key wrapping is not 100 bytes")
    try:
        payload = nb.crypto_box_seal_open(wrapped, pk, sk)
    except CryptoError:
        raise FormatError("document key wrapping does not open")
    expect(len(payload) == 52 and payload[:20] == b"VDK1" + document_id,
           "document key payload has the wrong prefix or document id")
    return payload[20:]


def decrypt_title(title_enc, dk, document_id, owner_id):
    # 3.6: TK = BLAKE2b-256(key=DK, "vault/title/v1"); nonce(24) || AEAD.
    tk = blake2b_256(dk, b"vault/title/v1")
    ad = b"VTI1" + document_id + owner_id
    title = aead_open(title_enc[24:], ad, title_enc[:24], tk, "title")
    expect(1 <= len(title) <= 200, "title is not 1-200 bytes")
    return title.decode("utf-8")


# ---- Section 5: blob, version 1 -------------------------------------------

def decrypt_blob(blob, dk, document_id, owner_id):
    """Return (flags, original bytes); raise FormatError on anything refused."""
    expect(len(blob) >= 32, "blob shorter than its 32-byte header")
    expect(blob[0:4] == b"VLTB", "bad magic")
    expect(blob[4] == 1, "unknown blob version %d" % blob[4])
    flags = blob[5]
    expect(flags & ~0x01 == 0, "unknown flag bits 0x%02x" % flags)
    expect(blob[6:8] == b"\0\0", "reserved bytes are not zero")
    ad = blob[0:8] + document_id + owner_id          # AD_blob, 40 bytes
    state = nb.crypto_secretstream_xchacha20poly1305_state()
    nb.crypto_secretstream_xchacha20poly1305_init_pull(state, blob[8:32], dk)

    pieces, pos = [], 32
    while True:
        # Read up to 65536 + 17 bytes and pull them with AD_blob.
        expect(pos < len(blob), "end of file before a FINAL piece")
        c = blob[pos:pos + CHUNK + ABYTES]
        pos += len(c)
        expect(len(c) >= ABYTES, "truncated piece")
        try:
            m, tag = nb.crypto_secretstream_xchacha20poly1305_pull(state, c, ad)
        except CryptoError:
            raise FormatError("piece at offset %d does not decrypt" % (pos - len(c)))
        pieces.append(m)
        if tag == TAG_FINAL:
            break
        expect(tag == TAG_MESSAGE, "piece tag %d is neither MESSAGE nor FINAL" % tag)
        expect(len(m) == CHUNK, "non-final piece shorter than 65536 bytes")
    expect(pos == len(blob), "bytes after the FINAL piece")
    # Chunks: the last piece is empty only when the whole stream is empty.
    expect(len(pieces) == 1 or len(pieces[-1]) > 0, "empty FINAL piece after data")
    stream = b"".join(pieces)

    if flags & 0x01:
        # zlib (RFC 1950) stream that must end exactly at the end of the data.
        d = zlib.decompressobj(wbits=15)
        try:
            data = d.decompress(stream) + d.flush()
        except zlib.error as e:
            raise FormatError("inflate failed: %s" % e)
        expect(d.eof and not d.unused_data, "zlib stream does not end exactly at the end")
        return flags, data
    return flags, stream


def last_chunk_offset(blob_len):
    # Start of the last piece: every piece but the last is 65536 + 17 bytes.
    return 32 + (blob_len - 32 - 1) // (CHUNK + ABYTES) * (CHUNK + ABYTES)


# ---- Checks ----------------------------------------------------------------

passed = failed = 0


def report(name, error=None):
    global passed, failed
    if error is None:
        passed += 1
        print("ok   " + name)
    else:
        failed += 1
        print("FAIL %s: %s" % (name, error))


def check(name, fn):
    try:
        fn()
        report(name)
    except Exception as e:                 # any error fails a positive check
        report(name, "%s: %s" % (type(e).__name__, e))


def must_refuse(name, fn, because):
    # Passes only when the reader refuses, for the expected format reason.
    try:
        fn()
        report(name, "decrypted although it must not")
    except FormatError as e:
        report(name, None if because in str(e) else "refused, but: %s" % e)
    except Exception as e:
        report(name, "unexpected %s: %s" % (type(e).__name__, e))


def run_fixture(tool, workdir):
    vault, plain = os.path.join(workdir, "vault"), os.path.join(workdir, "plain")
    for d in (vault, plain):
        shutil.rmtree(d, ignore_errors=True)
    os.makedirs(plain)
    out = subprocess.run([tool, "vault", vault, plain], check=True,
                         stdout=subprocess.PIPE).stdout.decode("utf-8")
    fx = {"docs": []}
    for line in out.split("\n"):           # not splitlines(): titles are UTF-8
        kind, _, rest = line.partition(" ")
        if kind in ("secret", "recovery"):
            fx[kind] = rest                # everything after the first space
        elif kind == "doc":
            doc_id, size, comp, title = rest.split(" ", 3)
            fx["docs"].append((doc_id, int(size), int(comp), title))
    expect("secret" in fx and "recovery" in fx and fx["docs"], "incomplete fixture output")
    return vault, plain, fx["secret"], fx["recovery"], fx["docs"]


def check_vault(vault, plain, secret, recovery, docs):
    with open(os.path.join(vault, "pepper.key"), "rb") as f:       # 6.1
        pepper = f.read()
    expect(len(pepper) == 32, "pepper.key is not 32 bytes")
    db = sqlite3.connect(os.path.join(vault, "vault.db"))            # section 4
    # 6.2: the account and its key row, by (lower-case) login.
    acct_hex, pk, ops, mem, pw_salt, pw_nonce, pw_wrapped, rec_salt, rec_nonce, \
        rec_wrapped = db.execute(
            "SELECT account_id, public_key, pw_opslimit, pw_memlimit, pw_salt,"
            " pw_nonce, pw_wrapped_sk, rec_salt, rec_nonce, rec_wrapped_sk"
            " FROM accounts JOIN account_keys USING (account_id)"
            " WHERE login = 'amina'").fetchone()
    acct_id = bytes.fromhex(acct_hex)      # section 2: the 16 raw bytes

    def unlock(secret_=secret, pepper_=pepper):      # 6.3 via 3.2 and 3.4
        kek = kek_from_secret(secret_, pw_salt, ops, mem, pepper_)
        return unwrap_sk(kek, pw_nonce, pw_wrapped, acct_id, pk)

    def unlock_recovery(code):                       # 6.3 via 3.3 and 3.4
        kek = kek_from_recovery(code, rec_salt, pepper)
        return unwrap_sk(kek, rec_nonce, rec_wrapped, acct_id, pk)

    sk = unlock()
    report("unlock sk with the secret (Argon2id ops=%d mem=%d)" % (ops, mem))
    check("recovery code gives the same sk",
          lambda: expect(unlock_recovery(recovery) == sk, "different sk"))
    check("recovery code normalised (lower case, spaces)", lambda: expect(
        unlock_recovery(recovery.lower().replace("-", " ")) == sk, "different sk"))
    check("fixture documents = database documents", lambda: expect(
        sorted(r[0] for r in db.execute("SELECT document_id FROM documents"))
        == sorted(d[0] for d in docs), "document sets differ"))
    opened = {}                            # document id -> (dk, blob, owner id)

    def check_document(doc_id, size, comp, title):
        owner_hex, title_enc, row_size, row_sha, blob_version, row_comp, \
            cipher_size, cipher_sha = db.execute(
                "SELECT owner_id, title_enc, size, sha256, blob_version, compressed,"
                " cipher_size, cipher_sha256 FROM documents WHERE document_id = ?",
                (doc_id,)).fetchone()
        expect(owner_hex == acct_hex, "owner is not amina")
        did, oid = bytes.fromhex(doc_id), bytes.fromhex(owner_hex)
        (wrapped,) = db.execute(                     # 6.4: the owner's wrapping
            "SELECT wrapped FROM key_wrappings WHERE document_id = ? AND"
            " holder_kind = 'owner' AND holder_id = ?", (doc_id, owner_hex)).fetchone()
        dk = open_document_key(wrapped, pk, sk, did)
        got = decrypt_title(title_enc, dk, did, oid)                 # 6.5
        expect(got == title, "title %r != %r" % (got, title))
        # 6.6: blobs/ab/<id>; integrity without keys; decrypt; check size, sha256.
        with open(os.path.join(vault, "blobs", doc_id[:2], doc_id), "rb") as f:
            blob = f.read()
        expect(len(blob) == cipher_size, "blob length != cipher_size")
        expect(hashlib.sha256(blob).digest() == cipher_sha, "blob SHA-256 != cipher_sha256")
        flags, data = decrypt_blob(blob, dk, did, oid)
        expect(blob_version == blob[4], "blob_version column != version byte")
        expect(flags & 1 == row_comp == comp, "flag, compressed column, manifest disagree")
        expect(len(data) == row_size == size, "size mismatch")
        expect(hashlib.sha256(data).digest() == row_sha, "SHA-256 != sha256 column")
        with open(os.path.join(plain, doc_id), "rb") as f:
            expect(data == f.read(), "bytes differ from PLAINDIR/" + doc_id)
        opened[doc_id] = (dk, blob, oid)

    for doc in docs:
        check("document %s (%d bytes, compressed %d)" % doc[:3],
              lambda doc=doc: check_document(*doc))

    # Negative checks: each must be refused, for the right reason.
    must_refuse("wrong secret is refused", lambda: unlock(secret + "x"), "does not decrypt")
    flipped = bytes([pepper[0] ^ 0x01]) + pepper[1:]
    must_refuse("pepper with one bit flipped is refused",
                lambda: unlock(pepper_=flipped), "does not decrypt")
    bad_code = ("3" if recovery[0] != "3" else "4") + recovery[1:]
    must_refuse("wrong recovery code is refused",
                lambda: unlock_recovery(bad_code), "does not decrypt")
    for doc_id, (dk, blob, oid) in sorted(opened.items()):
        if len(blob) > 32 + CHUNK + ABYTES:          # blobs of several pieces
            start = last_chunk_offset(len(blob))
            i = start + (len(blob) - start) // 2     # middle of the last piece
            bad = blob[:i] + bytes([blob[i] ^ 0x40]) + blob[i + 1:]
            must_refuse("byte flipped in the last piece of %s" % doc_id,
                        lambda: decrypt_blob(bad, dk, bytes.fromhex(doc_id), oid),
                        "piece at offset %d does not decrypt" % start)
    # On the largest blob (several pieces): wrong document id, end-of-stream, flag.
    big = max(opened, key=lambda d: len(opened[d][1]))
    dk, blob, oid = opened[big]
    did, other = bytes.fromhex(big), bytes.fromhex(min(set(opened) - {big}))
    must_refuse("blob read with another document's id in AD",
                lambda: decrypt_blob(blob, dk, other, oid), "offset 32 does not decrypt")
    cut = blob[:last_chunk_offset(len(blob))]
    must_refuse("blob without its FINAL piece",
                lambda: decrypt_blob(cut, dk, did, oid), "end of file before")
    must_refuse("blob with a byte after the FINAL piece",
                lambda: decrypt_blob(blob + b"\0", dk, did, oid), "bytes after")
    toggled = blob[:5] + bytes([blob[5] ^ 0x01]) + blob[6:]
    must_refuse("blob with its compression flag toggled",
                lambda: decrypt_blob(toggled, dk, did, oid), "offset 32 does not decrypt")
    db.close()


def check_kat(kat_dir):
    # Section 7: known-answer blobs of version 1 must decrypt with every build.
    with open(os.path.join(kat_dir, "kat.txt")) as f:
        rows = [l.split() for l in f if l.strip() and not l.startswith("#")]
    expect(rows, "kat.txt lists no blobs")

    def one(name, key, doc_id, owner_id, size, sha, comp):
        with open(os.path.join(kat_dir, name), "rb") as f:
            blob = f.read()
        flags, data = decrypt_blob(blob, bytes.fromhex(key), bytes.fromhex(doc_id),
                                   bytes.fromhex(owner_id))
        expect(flags & 1 == int(comp), "flag byte does not match compressed column")
        expect(len(data) == int(size), "length %d != %s" % (len(data), size))
        expect(hashlib.sha256(data).hexdigest() == sha, "SHA-256 mismatch")

    for row in rows:
        check("known answer %s" % row[0], lambda row=row: one(*row))


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    tool, workdir, kat_dir = sys.argv[1:4]
    for name, fn in (("fixture vault", lambda: check_vault(*run_fixture(tool, workdir))),
                     ("known answers", lambda: check_kat(kat_dir))):
        try:
            fn()
        except Exception as e:             # a step that could not even start
            report(name, "%s: %s" % (type(e).__name__, e))
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(0 if failed == 0 and passed > 0 else 1)


if __name__ == "__main__":
    main()
