"""Independent reference implementation of RFC 6962 / RFC 9162 Merkle tree
proofs and of C2SP signed notes / tlog checkpoints.

Written from the specification texts only:

  * RFC 6962 section 2.1      -- MTH, PATH (audit paths), PROOF/SUBPROOF
                                 (consistency proofs).  Used here only to
                                 *generate* expected proofs.
  * RFC 9162 section 2.1.3.2  -- "Verifying an Inclusion Proof" (iterative).
  * RFC 9162 section 2.1.4.2  -- "Verifying Consistency between Two Tree
                                 Heads" (iterative).
  * c2sp.org/signed-note      -- note text, signature lines, key IDs,
                                 Ed25519 signature type 0x01.
  * c2sp.org/tlog-checkpoint  -- origin / tree size / root hash / extension
                                 lines.
  * The "<name>+<hash>+<keydata>" verifier-key text form is the one of Go's
    golang.org/x/mod/sumdb/note package (C2SP signed-note does not itself
    define a text encoding for verifier keys).

The verifiers deliberately do not call the generators: they follow the
RFC 9162 bit-walking algorithms, the generators follow the RFC 6962 recursive
definitions, so each cross-checks the other.

Python 3 standard library only; Ed25519 via PyNaCl (Debian python3-nacl) is
imported lazily, so the Merkle part works without it.
"""

import base64
import binascii
import hashlib

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()  # MTH({}) = SHA-256() (RFC 6962 2.1)

# --------------------------------------------------------------------------
# RFC 6962 section 2.1: hashing
# --------------------------------------------------------------------------


def leaf_hash(data: bytes) -> bytes:
    """MTH({d(0)}) = SHA-256(0x00 || d(0))."""
    return hashlib.sha256(b"\x00" + bytes(data)).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + bytes(left) + bytes(right)).digest()


def _split_point(n: int) -> int:
    """k = the largest power of two smaller than n (requires n > 1)."""
    if n < 2:
        raise ValueError("split point needs n > 1")
    return 1 << ((n - 1).bit_length() - 1)


def _mth_of_hashes(hashes):
    """MTH over a list of already-computed leaf hashes."""
    n = len(hashes)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return hashes[0]
    k = _split_point(n)
    return node_hash(_mth_of_hashes(hashes[:k]), _mth_of_hashes(hashes[k:]))


def root(leaves_data) -> bytes:
    """Merkle Tree Hash MTH(D[n]) of a list of leaf *data* (not hashes)."""
    return _mth_of_hashes([leaf_hash(d) for d in leaves_data])


# --------------------------------------------------------------------------
# RFC 6962 section 2.1.1 / 2.1.2: proof *generation* (recursive definitions)
# --------------------------------------------------------------------------


def _path_with_sides(m, hashes):
    """PATH(m, D[n]) as a list of (sibling_hash, side) leaf-to-root, where
    side is 'R' if the sibling is the right-hand subtree MTH(D[k:n]) (m < k)
    and 'L' if it is the left-hand subtree MTH(D[0:k]) (m >= k)."""
    n = len(hashes)
    if n == 1:
        return []  # PATH(0, {d(0)}) = {}
    k = _split_point(n)
    if m < k:
        return _path_with_sides(m, hashes[:k]) + [(_mth_of_hashes(hashes[k:]), "R")]
    return _path_with_sides(m - k, hashes[k:]) + [(_mth_of_hashes(hashes[:k]), "L")]


def inclusion_path(leaves_data, index):
    """RFC 6962 2.1.1 audit path PATH(index, D[n]) (list of 32-byte hashes,
    leaf-to-root order).  Defined for 0 <= index < n."""
    n = len(leaves_data)
    if not 0 <= index < n:
        raise ValueError("inclusion_path: need 0 <= index < n (index=%r, n=%d)" % (index, n))
    hashes = [leaf_hash(d) for d in leaves_data]
    return [h for h, _ in _path_with_sides(index, hashes)]


def inclusion_path_sides(leaves_data, index):
    """The left/right side of each element of PATH(index, D[n]), as a string
    of 'L'/'R' (leaf-to-root).  The RFC 9162 verifier's result depends on
    (index, tree_size) only through this sequence."""
    n = len(leaves_data)
    if not 0 <= index < n:
        raise ValueError("inclusion_path_sides: need 0 <= index < n")
    hashes = [leaf_hash(d) for d in leaves_data]
    return "".join(s for _, s in _path_with_sides(index, hashes))


def _subproof(m, hashes, b):
    """SUBPROOF(m, D[n], b) of RFC 6962 2.1.2."""
    n = len(hashes)
    if m == n:
        # SUBPROOF(m, D[m], true) = {};  SUBPROOF(m, D[m], false) = {MTH(D[m])}
        return [] if b else [_mth_of_hashes(hashes)]
    k = _split_point(n)
    if m <= k:
        # SUBPROOF(m, D[n], b) = SUBPROOF(m, D[0:k], b) : MTH(D[k:n])
        return _subproof(m, hashes[:k], b) + [_mth_of_hashes(hashes[k:])]
    # SUBPROOF(m, D[n], b) = SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])
    return _subproof(m - k, hashes[k:], False) + [_mth_of_hashes(hashes[:k])]


def consistency_path(leaves_data, m):
    """RFC 6962 2.1.2 PROOF(m, D[n]) = SUBPROOF(m, D[n], true).

    RFC 6962 defines it for 0 < m < n; for m == n the same definition gives
    the empty list (SUBPROOF(m, D[m], true) = {}), which is returned here.
    m == 0 (or m > n) raises ValueError: there is nothing the RFC defines."""
    n = len(leaves_data)
    if not 0 < m <= n:
        raise ValueError("consistency_path: need 0 < m <= n (m=%r, n=%d)" % (m, n))
    hashes = [leaf_hash(d) for d in leaves_data]
    return _subproof(m, hashes, True)


# --------------------------------------------------------------------------
# RFC 9162 2.1.3.2 / 2.1.4.2: proof *verification* (iterative algorithms)
# --------------------------------------------------------------------------


def _is_hash(h) -> bool:
    return isinstance(h, (bytes, bytearray)) and len(h) == HASH_SIZE


def _is_size(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x >= 0


def verify_inclusion(leaf_hash, index, tree_size, path, root) -> bool:  # noqa: A002
    """RFC 9162 section 2.1.3.2.  Returns True iff the proof is valid.

    Extra (spec-silent) strictness: every hash (leaf, root, path elements)
    must be exactly 32 bytes, sizes must be non-negative ints."""
    if not (_is_size(index) and _is_size(tree_size)):
        return False
    path = list(path)
    if not (_is_hash(leaf_hash) and _is_hash(root) and all(_is_hash(p) for p in path)):
        return False
    # 1. leaf_index >= tree_size -> fail.
    if index >= tree_size:
        return False
    # 2. fn = leaf_index, sn = tree_size - 1.   3. r = hash.
    fn, sn = index, tree_size - 1
    r = bytes(leaf_hash)
    # 4. for each p in inclusion_path:
    for p in path:
        # a. sn == 0 -> fail.
        if sn == 0:
            return False
        # b. LSB(fn) set, or fn == sn:
        if fn & 1 or fn == sn:
            r = node_hash(p, r)  # i. r = HASH(0x01 || p || r)
            # ii. if LSB(fn) not set, shift fn and sn until LSB(fn) set or fn == 0
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)  # otherwise: r = HASH(0x01 || r || p)
        # c. shift both once.
        fn >>= 1
        sn >>= 1
    # 5. sn must be 0 and r must equal root_hash.
    return sn == 0 and r == bytes(root)


def verify_consistency(size1, size2, path, root1, root2) -> bool:
    """RFC 9162 section 2.1.4.2 for 0 < size1 < size2.

    The RFC algorithm only covers 0 < first < second.  Edge cases, decided
    here (see the report / test file):
      * size2 < size1                       -> False
      * size1 == size2 (> 0)                -> True iff path is empty and root1 == root2
      * size1 == size2 == 0                 -> True iff path empty and both roots == MTH({})
      * size1 == 0 < size2                  -> True iff path empty and root1 == MTH({})
    All hashes must be 32 bytes."""
    if not (_is_size(size1) and _is_size(size2)):
        return False
    path = [bytes(c) for c in path] if all(_is_hash(c) for c in path) else None
    if path is None or not (_is_hash(root1) and _is_hash(root2)):
        return False
    root1, root2 = bytes(root1), bytes(root2)
    if size2 < size1:
        return False
    if size1 == 0:
        ok = not path and root1 == EMPTY_ROOT
        return ok and (size2 > 0 or root2 == EMPTY_ROOT)
    if size1 == size2:
        return not path and root1 == root2

    first, second = size1, size2
    # 1. empty consistency_path -> fail.
    if not path:
        return False
    # 2. first an exact power of 2 -> prepend first_hash.
    if first & (first - 1) == 0:
        path.insert(0, root1)
    # 3. fn = first - 1, sn = second - 1.
    fn, sn = first - 1, second - 1
    # 4. while LSB(fn) set, shift fn and sn.
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # 5. fr = sr = first value of consistency_path.
    fr = sr = path[0]
    # 6. for each subsequent value c:
    for c in path[1:]:
        # a. sn == 0 -> fail.
        if sn == 0:
            return False
        # b. LSB(fn) set, or fn == sn:
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)  # i.
            sr = node_hash(c, sr)  # ii.
            # iii. if LSB(fn) not set, shift until LSB(fn) set or fn == 0.
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)  # otherwise: sr = HASH(0x01 || sr || c)
        # c. shift both once.
        fn >>= 1
        sn >>= 1
    # 7. fr == first_hash, sr == second_hash, sn == 0.
    return fr == root1 and sr == root2 and sn == 0


# --------------------------------------------------------------------------
# C2SP signed-note
# --------------------------------------------------------------------------

SIG_PREFIX = "\u2014 "  # em dash, space
ED25519_TYPE = 0x01
MAX_SIGNATURES = 100  # spec: SHOULD limit, MUST accept at least 16


def _b64decode_strict(s: str) -> bytes:
    """Standard base64 (RFC 4648 section 4), padded, canonical."""
    try:
        raw = base64.b64decode(s.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise ValueError("invalid base64: %r" % (s,))
    if base64.b64encode(raw).decode("ascii") != s:
        raise ValueError("non-canonical base64: %r" % (s,))
    return raw


def _check_key_name(name: str):
    if not name or "+" in name or any(ch.isspace() for ch in name):
        raise ValueError("invalid key name %r (must be non-empty, no spaces, no '+')" % (name,))


def key_id(name: str, keydata: bytes) -> bytes:
    """key ID = SHA-256(key name || 0x0A || signature type || public key)[:4],
    with keydata = signature type byte || public key."""
    _check_key_name(name)
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes(keydata)).digest()[:4]


def make_verifier_key(name: str, ed25519_public_key: bytes) -> str:
    """'<name>+<8 hex key id>+<base64(0x01 || pubkey)>'."""
    if len(ed25519_public_key) != 32:
        raise ValueError("Ed25519 public key must be 32 bytes")
    keydata = bytes([ED25519_TYPE]) + bytes(ed25519_public_key)
    return "%s+%s+%s" % (name, key_id(name, keydata).hex(),
                         base64.b64encode(keydata).decode("ascii"))


def parse_verifier_key(vkey: str):
    """Returns (name, key_id_bytes, ed25519_public_key). Raises ValueError."""
    if not isinstance(vkey, str):
        raise ValueError("verifier key must be str")
    # Name has no '+' and the hash is hex, but base64 key data may contain
    # '+', so split only at the first two '+'.
    parts = vkey.split("+", 2)
    if len(parts) != 3:
        raise ValueError("verifier key must be <name>+<hash>+<keydata>")
    name, hash_hex, key_b64 = parts
    _check_key_name(name)
    if len(hash_hex) != 8 or any(c not in "0123456789abcdefABCDEF" for c in hash_hex):
        raise ValueError("key hash must be 8 hex digits")
    keydata = _b64decode_strict(key_b64)
    if len(keydata) != 33 or keydata[0] != ED25519_TYPE:
        raise ValueError("keydata must be 0x01 || 32-byte Ed25519 public key")
    kid = bytes.fromhex(hash_hex)
    if kid != key_id(name, keydata):
        raise ValueError("key hash does not match name and key")
    return name, kid, keydata[1:]


def _as_text(note):
    if isinstance(note, (bytes, bytearray)):
        return bytes(note).decode("utf-8")  # strict: invalid UTF-8 raises
    if isinstance(note, str):
        return note
    raise ValueError("note must be str or bytes")


def _check_note_chars(text: str):
    for ch in text:
        if ord(ch) < 0x20 and ch != "\n":
            raise ValueError("control character U+%04X in note" % ord(ch))
    try:
        text.encode("utf-8")  # lone surrogates are not valid UTF-8
    except UnicodeEncodeError:
        raise ValueError("note is not valid UTF-8")


def split_note(note):
    """Split a signed note into (text, [(name, sig_bytes), ...]).

    The text includes its final newline; it is separated from the signature
    lines by the *last* blank line.  Any malformed signature line makes the
    whole note malformed (ValueError)."""
    text = _as_text(note)
    _check_note_chars(text)
    i = text.rfind("\n\n")
    if i < 0:
        raise ValueError("no blank line separating text and signatures")
    body, sig_block = text[:i + 1], text[i + 2:]
    if not sig_block or not sig_block.endswith("\n"):
        raise ValueError("signature block empty or not newline-terminated")
    lines = sig_block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise ValueError("too many signatures")
    sigs = []
    for line in lines:
        if not line.startswith(SIG_PREFIX):
            raise ValueError("malformed signature line %r" % (line,))
        fields = line[len(SIG_PREFIX):].split(" ")
        if len(fields) != 2:
            raise ValueError("malformed signature line %r" % (line,))
        name, b64 = fields
        _check_key_name(name)
        raw = _b64decode_strict(b64)
        if len(raw) < 5:
            raise ValueError("signature too short")
        sigs.append((name, raw))
    return body, sigs


def verify_note(text, verifier_key: str) -> bool:
    """C2SP signed-note verification with one trusted Ed25519 verifier key.

    True iff the note is well-formed, at least one signature line matches the
    key (same name AND same key ID) and verifies over the note text, and no
    signature line that matches the key fails to verify ("clients SHOULD
    reject the whole note").  Lines from unknown keys are ignored."""
    from nacl.signing import VerifyKey
    from nacl.exceptions import BadSignatureError

    try:
        name, kid, pub = parse_verifier_key(verifier_key)
        body, sigs = split_note(text)
    except (ValueError, UnicodeDecodeError):
        return False
    vk = VerifyKey(pub)
    msg = body.encode("utf-8")
    verified = False
    for sig_name, raw in sigs:
        if sig_name != name or raw[:4] != kid:
            continue  # unknown key: MUST ignore
        sig = raw[4:]
        if len(sig) != 64:
            return False
        try:
            vk.verify(msg, sig)
        except BadSignatureError:
            return False  # known key, bad signature: reject whole note
        verified = True
    return verified


def sign_note(body: str, name: str, signing_key) -> str:
    """Produce '<body>\\n— <name> <base64(keyid || sig)>\\n' using a
    nacl.signing.SigningKey.  body must end with a newline."""
    if not body.endswith("\n"):
        raise ValueError("note text must end with a newline")
    _check_note_chars(body)
    return body + "\n" + signature_line(body, name, signing_key)


def signature_line(body: str, name: str, signing_key) -> str:
    keydata = bytes([ED25519_TYPE]) + bytes(signing_key.verify_key)
    sig = signing_key.sign(body.encode("utf-8")).signature
    blob = key_id(name, keydata) + sig
    return SIG_PREFIX + name + " " + base64.b64encode(blob).decode("ascii") + "\n"


# --------------------------------------------------------------------------
# C2SP tlog-checkpoint
# --------------------------------------------------------------------------

MAX_TREE_SIZE = (1 << 64) - 1  # not in the spec; tree sizes are uint64 everywhere in practice


def parse_checkpoint(text):
    """Parse a checkpoint body (or a whole signed note whose text is a
    checkpoint; signatures are NOT verified here -- use verify_note; if the
    text contains a blank line, everything after the last one must be
    well-formed signature lines).

    Returns (origin, size, root_bytes, extension_lines).  Raises ValueError
    on anything malformed:
      * text must end with a newline; >= 3 lines; every line non-empty;
      * origin: any non-empty line;
      * size: ASCII decimal, no sign, no leading zeroes unless exactly "0";
      * root: canonical standard base64 of exactly 32 bytes;
      * extension lines: opaque, non-empty."""
    t = _as_text(text)
    _check_note_chars(t)
    if "\n\n" in t:
        # A whole signed note: what follows the last blank line must be a
        # well-formed signature block (split_note raises otherwise), so an
        # empty line inside the checkpoint text cannot be mistaken for the
        # separator.
        body, _ = split_note(t)
    else:
        body = t
    if not body.endswith("\n"):
        raise ValueError("checkpoint text must end with a newline")
    lines = body[:-1].split("\n")
    if len(lines) < 3:
        raise ValueError("checkpoint needs at least 3 lines")
    if any(line == "" for line in lines):
        raise ValueError("checkpoint lines must be non-empty")
    origin, size_s, root_s = lines[0], lines[1], lines[2]
    if not size_s.isascii() or not size_s.isdigit():
        raise ValueError("tree size must be ASCII decimal: %r" % (size_s,))
    if len(size_s) > 1 and size_s[0] == "0":
        raise ValueError("tree size has a leading zero: %r" % (size_s,))
    size = int(size_s)
    if size > MAX_TREE_SIZE:
        raise ValueError("tree size exceeds 2^64-1")
    root_bytes = _b64decode_strict(root_s)
    if len(root_bytes) != HASH_SIZE:
        raise ValueError("root hash must be 32 bytes, got %d" % len(root_bytes))
    return origin, size, root_bytes, lines[3:]


def format_checkpoint(origin: str, size: int, root_bytes: bytes, extension_lines=()) -> str:
    body = "%s\n%d\n%s\n" % (origin, size, base64.b64encode(root_bytes).decode("ascii"))
    for line in extension_lines:
        body += line + "\n"
    parse_checkpoint(body)  # self-check
    return body
