#!/usr/bin/python3
"""Checks for tests/merkle_ref.py (RFC 6962 / RFC 9162 proofs, C2SP
signed-note and tlog-checkpoint).

Run:  /usr/bin/python3 tests/merkle_ref_test.py
Prints 'ok   <name>' / 'FAIL <name>: ...' lines and ends with
'N passed, M failed'; exit status 0 only if M == 0 and N > 0.
"""

import base64
import hashlib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import merkle_ref as mr  # noqa: E402

PASSED = 0
FAILED = 0


def check(name, cond, detail=""):
    global PASSED, FAILED
    if cond:
        PASSED += 1
        print("ok   %s" % name)
    else:
        FAILED += 1
        print("FAIL %s: %s" % (name, detail or "condition false"))


def collect(name, failures, total):
    """One result line for a batch of sub-checks; failures = list of str."""
    check("%s (%d sub-checks)" % (name, total), not failures,
          "%d of %d failed, e.g. %s" % (len(failures), total, "; ".join(failures[:4])))


def dh(s):
    return bytes.fromhex(s)


def flip(b, byte_index=0, mask=0x08):
    b = bytearray(b)
    b[byte_index] ^= mask
    return bytes(b)


# ==========================================================================
# (a) Published test vectors.
#
# Numeric data copied verbatim from github.com/transparency-dev/merkle:
#   proof/verify_test.go   (variables inclusionProofs, consistencyProofs,
#                           roots, leaves, sha256SomeHash, sha256EmptyTreeHash;
#                           the probe lists of corruptInclusionProof /
#                           corruptConsistencyProof and TestVerifyConsistency,
#                           TestVerifyInclusion, TestVerifyInclusionSingleEntry)
#   proof/proof_test.go    (node-ID tables of TestInclusion / TestConsistency)
#   rfc6962/rfc6962_test.go (TestRFC6962Hasher)
# The 8 leaves are the RFC 6962 reference test data.
# ==========================================================================

TD_LEAVES = [dh(x) for x in (
    "", "00", "10", "2021", "3031", "40414243",
    "5051525354555657", "606162636465666768696a6b6c6d6e6f")]

TD_ROOTS = [dh(x) for x in (  # roots[i] = MTH(leaves[:i+1])
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")]

TD_SOME_HASH = dh("abacaba000000000000000000000000000000000000000000060061e00123456")
TD_EMPTY_TREE_HASH = dh("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")

# (leaf, size, proof) -- 'leaf' is 1-based in verify_test.go (index = leaf-1).
TD_INCLUSION = [
    (1, 1, []),
    (1, 8, [dh("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            dh("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            dh("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")]),
    (6, 8, [dh("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            dh("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            dh("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")]),
    (3, 3, [dh("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")]),
    (2, 5, [dh("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
            dh("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            dh("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b")]),
]

# (size1, size2, proof)
TD_CONSISTENCY = [
    (1, 1, []),
    (1, 8, [dh("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            dh("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            dh("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")]),
    (6, 8, [dh("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            dh("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            dh("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")]),
    (2, 5, [dh("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            dh("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b")]),
    (6, 7, [dh("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            dh("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
            dh("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")]),
]

# proof/proof_test.go node-ID tables.  A node id (level, index) is the subtree
# over leaves [index*2^level, (index+1)*2^level).  ('rehash', b, e) means the
# ids in positions [b, e) are folded into one hash: acc = h[b]; for j in
# b+1..e-1: acc = HashChildren(h[j], acc)  (see TestRehash there).
TD_INCLUSION_NODES = [  # (size, index, ids, rehash-range-or-None)
    (1, 0, [], None),
    (2, 0, [(0, 1)], None),
    (2, 1, [(0, 0)], None),
    (3, 1, [(0, 0), (0, 2)], None),
    (7, 0, [(0, 1), (1, 1), (0, 6), (1, 2)], (2, 4)),
    (7, 1, [(0, 0), (1, 1), (0, 6), (1, 2)], (2, 4)),
    (7, 2, [(0, 3), (1, 0), (0, 6), (1, 2)], (2, 4)),
    (7, 3, [(0, 2), (1, 0), (0, 6), (1, 2)], (2, 4)),
    (7, 4, [(0, 5), (0, 6), (2, 0)], None),
    (7, 5, [(0, 4), (0, 6), (2, 0)], None),
    (7, 6, [(1, 2), (2, 0)], None),
    (4, 2, [(0, 3), (1, 0)], None),
    (5, 3, [(0, 2), (1, 0), (0, 4)], None),
    (6, 3, [(0, 2), (1, 0), (1, 2)], None),
    (6, 4, [(0, 5), (2, 0)], None),
    (15, 10, [(0, 11), (1, 4), (0, 14), (1, 6), (3, 0)], (2, 4)),
    (31, 24, [(0, 25), (1, 13), (0, 30), (1, 14), (3, 2), (4, 0)], (2, 4)),
    (95, 81, [(0, 80), (1, 41), (2, 21), (0, 94), (1, 46), (2, 22), (4, 4), (6, 0)], (3, 6)),
]
TD_INCLUSION_NODE_ERRORS = [(0, 0), (0, 1), (1, 2), (0, 3), (7, 8)]  # (size, index)

TD_CONSISTENCY_NODES = [  # (size1, size2, ids, rehash-range-or-None)
    (1, 2, [(0, 1)], None),
    (1, 4, [(0, 1), (1, 1)], None),
    (1, 6, [(0, 1), (1, 1), (1, 2)], None),
    (2, 3, [(0, 2)], None),
    (2, 8, [(1, 1), (2, 1)], None),
    (3, 7, [(0, 2), (0, 3), (1, 0), (0, 6), (1, 2)], (3, 5)),
    (4, 7, [(0, 6), (1, 2)], (0, 2)),
    (5, 7, [(0, 4), (0, 5), (0, 6), (2, 0)], None),
    (6, 7, [(1, 2), (0, 6), (2, 0)], None),
    (7, 8, [(0, 6), (0, 7), (1, 2), (2, 0)], None),
    (1, 1, [], None), (2, 2, [], None), (3, 3, [], None), (4, 4, [], None),
    (5, 5, [], None), (7, 7, [], None), (8, 8, [], None),
    (2, 4, [(1, 1)], None),
    (3, 5, [(0, 2), (0, 3), (1, 0), (0, 4)], None),
    (3, 6, [(0, 2), (0, 3), (1, 0), (1, 2)], None),
    (4, 6, [(1, 2)], None),
    (1, 7, [(0, 1), (1, 1), (0, 6), (1, 2)], (2, 4)),
    (10, 15, [(1, 4), (1, 5), (0, 14), (1, 6), (3, 0)], (2, 4)),
    (24, 31, [(3, 2), (0, 30), (1, 14), (2, 6), (4, 0)], (1, 4)),
    (81, 95, [(0, 80), (0, 81), (1, 41), (2, 21), (0, 94), (1, 46), (2, 22), (4, 4), (6, 0)], (4, 7)),
]
TD_CONSISTENCY_NODE_ERRORS = [(5, 0), (9, 8)]  # (size1, size2)

# rfc6962/rfc6962_test.go TestRFC6962Hasher
TD_HASHER = [
    ("empty tree MTH({})", lambda: mr.root([]),
     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    ("empty leaf", lambda: mr.leaf_hash(b""),
     "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
    ("leaf L123456", lambda: mr.leaf_hash(b"L123456"),
     "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56"),
    ("node N123,N456", lambda: mr.node_hash(b"N123", b"N456"),
     "aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb"),
]


def corrupt_inclusion_probes(idx, size, proof, root, lh):
    """Mirror of corruptInclusionProof (verify_test.go).  All must fail."""
    probes = [
        ("leafIndex - 1", idx - 1, size, root, lh, proof),
        ("leafIndex + 1", idx + 1, size, root, lh, proof),
        ("leafIndex ^ 2", idx ^ 2, size, root, lh, proof),
        ("treeSize * 2", idx, size * 2, root, lh, proof),
        ("treeSize / 2", idx, size // 2, root, lh, proof),
        ("wrong leaf", idx, size, root, b"WrongLeaf", proof),
        ("empty root", idx, size, TD_EMPTY_TREE_HASH, lh, proof),
        ("random root", idx, size, TD_SOME_HASH, lh, proof),
        ("trailing garbage", idx, size, root, lh, proof + [b""]),
        ("trailing root", idx, size, root, lh, proof + [root]),
        ("preceding garbage", idx, size, root, lh, [b""] + proof),
        ("preceding root", idx, size, root, lh, [root] + proof),
    ]
    for i in range(len(proof)):
        w = list(proof)
        w[i] = flip(w[i], 0, 8)
        probes.append(("modified proof[%d] bit 3" % i, idx, size, root, lh, w))
    if proof:
        probes.append(("removed component", idx, size, root, lh, proof[:-1]))
    if len(proof) > 1:
        probes.append(("inserted component", idx, size, root, lh,
                       [proof[0], TD_SOME_HASH] + proof[1:]))
    return probes


def corrupt_consistency_probes(s1, s2, r1, r2, proof):
    """Mirror of corruptConsistencyProof (verify_test.go).  All must fail."""
    probes = [
        ("size1 - 1", s1 - 1, s2, r1, r2, proof),
        ("size1 + 1", s1 + 1, s2, r1, r2, proof),
        ("size1 ^ 2", s1 ^ 2, s2, r1, r2, proof),
        ("size2 * 2", s1, s2 * 2, r1, r2, proof),
        ("size2 / 2", s1, s2 // 2, r1, r2, proof),
        ("wrong root1", s1, s2, b"WrongRoot", r2, proof),
        ("wrong root2", s1, s2, r1, b"WrongRoot", proof),
        ("swapped roots", s1, s2, r2, r1, proof),
        ("empty proof", s1, s2, r1, r2, []),
        ("trailing garbage", s1, s2, r1, r2, proof + [b""]),
        ("trailing root1", s1, s2, r1, r2, proof + [r1]),
        ("trailing root2", s1, s2, r1, r2, proof + [r2]),
        ("preceding garbage", s1, s2, r1, r2, [b""] + proof),
        ("preceding root1", s1, s2, r1, r2, [r1] + proof),
        ("preceding root2", s1, s2, r1, r2, [r2] + proof),
        ("preceding proof[0]", s1, s2, r1, r2, [proof[0]] + proof),
    ]
    if proof:
        probes.append(("truncated proof", s1, s2, r1, r2, proof[:-1]))
    for i in range(len(proof)):
        w = list(proof)
        w[i] = flip(w[i], 0, 16)
        probes.append(("modified proof[%d] bit 4" % i, s1, s2, r1, r2, w))
    return probes


def node_ids_to_hashes(leaves_data, ids, rehash):
    hashes = []
    for level, index in ids:
        lo, hi = index << level, (index + 1) << level
        assert hi <= len(leaves_data)
        hashes.append(mr.root(leaves_data[lo:hi]))
    if rehash:
        b, e = rehash
        acc = hashes[b]
        for h in hashes[b + 1:e]:
            acc = mr.node_hash(h, acc)
        hashes = hashes[:b] + [acc] + hashes[e:]
    return hashes


def test_published_vectors():
    for desc, fn, want in TD_HASHER:
        got = fn()
        check("vector rfc6962 hasher: %s" % desc, got == dh(want), "got %s" % got.hex())

    for n in range(1, 9):
        got = mr.root(TD_LEAVES[:n])
        check("vector root size %d" % n, got == TD_ROOTS[n - 1], "got %s" % got.hex())

    for leaf1, size, proof in TD_INCLUSION:
        idx = leaf1 - 1
        gen = mr.inclusion_path(TD_LEAVES[:size], idx)
        check("vector inclusion gen index %d size %d" % (idx, size), gen == proof,
              "got %s" % [h.hex() for h in gen])
        lh = mr.leaf_hash(TD_LEAVES[idx])
        check("vector inclusion verify index %d size %d" % (idx, size),
              mr.verify_inclusion(lh, idx, size, proof, TD_ROOTS[size - 1]))
        probes = corrupt_inclusion_probes(idx, size, proof, TD_ROOTS[size - 1], lh)
        bad = [p[0] for p in probes if mr.verify_inclusion(p[4], p[1], p[2], p[5], p[3])]
        collect("vector inclusion probes rejected index %d size %d" % (idx, size), bad, len(probes))

    # TestVerifyInclusion: bad (index, size) with garbage roots/leaves.
    bad = []
    n = 0
    for idx, size in ((0, 0), (0, 1), (1, 0), (2, 1)):
        for lh, rt in ((TD_SOME_HASH, b""), (b"", TD_EMPTY_TREE_HASH),
                       (TD_SOME_HASH, TD_EMPTY_TREE_HASH)):
            n += 1
            if mr.verify_inclusion(lh, idx, size, [], rt):
                bad.append("%d:%d" % (idx, size))
    collect("vector TestVerifyInclusion invalid probes rejected", bad, n)

    # TestVerifyInclusionSingleEntry
    h = mr.leaf_hash(b"data")
    for i, (rt, lf, want) in enumerate(((h, h, True), (h, b"", False),
                                        (b"", h, False), (b"", b"", False))):
        check("vector TestVerifyInclusionSingleEntry case %d" % i,
              mr.verify_inclusion(lf, 0, 1, [], rt) == want)

    for s1, s2, proof in TD_CONSISTENCY:
        gen = mr.consistency_path(TD_LEAVES[:s2], s1)
        check("vector consistency gen %d->%d" % (s1, s2), gen == proof,
              "got %s" % [x.hex() for x in gen])
        r1, r2 = TD_ROOTS[s1 - 1], TD_ROOTS[s2 - 1]
        check("vector consistency verify %d->%d" % (s1, s2),
              mr.verify_consistency(s1, s2, proof, r1, r2))
        if proof:  # verify_test.go only corrupts non-empty proofs
            probes = corrupt_consistency_probes(s1, s2, r1, r2, proof)
            bad = [p[0] for p in probes if mr.verify_consistency(p[1], p[2], p[5], p[3], p[4])]
            collect("vector consistency probes rejected %d->%d" % (s1, s2), bad, len(probes))

    # TestVerifyConsistency table.  root1/root2 there are the 12-byte strings
    # "don't care 1"/"don't care 2".  Rows where this verifier is stricter are
    # marked DIVERGES and asserted with *our* documented result.
    dc1, dc2 = b"don't care 1", b"don't care 2"
    E = TD_EMPTY_TREE_HASH
    table = [
        (0, 0, dc1, dc2, [], False, ""),
        (1, 1, dc1, dc2, [], False, ""),
        (0, 0, dc1, dc1, [], False, "DIVERGES (upstream accepts): size-0 root must be MTH({}), hashes must be 32 bytes"),
        (0, 1, dc1, dc2, [], False, "DIVERGES (upstream accepts): size1=0 needs root1 == MTH({}), 32-byte hashes"),
        (1, 1, dc2, dc2, [], False, "DIVERGES (upstream accepts): 12-byte 'roots' are not SHA-256 hashes"),
        (1, 0, dc1, dc2, [], False, ""),
        (2, 1, dc1, dc2, [], False, ""),
        (1, 2, dc1, dc2, [], False, ""),
        (0, 0, E, dc2, [], False, ""),
        (1, 1, E, dc2, [], False, ""),
        (0, 0, E, E, [E], False, ""),
        (0, 1, E, E, [E], False, ""),
        (1, 1, E, E, [E], False, ""),
    ]
    for i, (s1, s2, r1, r2, pr, want, note) in enumerate(table):
        got = mr.verify_consistency(s1, s2, pr, r1, r2)
        check("vector TestVerifyConsistency row %d (%d->%d)%s" % (i, s1, s2, (" " + note) if note else ""),
              got == want, "got %r want %r" % (got, want))
    # The 32-byte analogues of the three diverging rows are accepted:
    check("consistency 0->0 with MTH({}) roots and empty proof accepted",
          mr.verify_consistency(0, 0, [], E, E))
    check("consistency 0->1 with root1 = MTH({}) and empty proof accepted",
          mr.verify_consistency(0, 1, [], E, TD_ROOTS[0]))
    check("consistency 1->1 with equal 32-byte roots and empty proof accepted",
          mr.verify_consistency(1, 1, [], TD_ROOTS[0], TD_ROOTS[0]))

    # proof_test.go node-ID structure, checked with the generator and the
    # verifier on a 95-leaf tree of our own leaves.
    leaves = [b"leaf %d" % i for i in range(95)]
    for size, idx, ids, rh in TD_INCLUSION_NODES:
        want = node_ids_to_hashes(leaves, ids, rh)
        got = mr.inclusion_path(leaves[:size], idx)
        ok = got == want and mr.verify_inclusion(mr.leaf_hash(leaves[idx]), idx, size,
                                                 got, mr.root(leaves[:size]))
        check("vector proof_test.go TestInclusion size %d index %d" % (size, idx), ok,
              "generator/verifier mismatch")
    for size, idx in TD_INCLUSION_NODE_ERRORS:
        try:
            mr.inclusion_path(leaves[:size], idx)
            raised = False
        except ValueError:
            raised = True
        check("vector proof_test.go TestInclusion rejects size %d index %d" % (size, idx), raised)
    for s1, s2, ids, rh in TD_CONSISTENCY_NODES:
        want = node_ids_to_hashes(leaves, ids, rh)
        got = mr.consistency_path(leaves[:s2], s1)
        ok = got == want and mr.verify_consistency(s1, s2, got, mr.root(leaves[:s1]),
                                                   mr.root(leaves[:s2]))
        check("vector proof_test.go TestConsistency %d->%d" % (s1, s2), ok,
              "generator/verifier mismatch")
    for s1, s2 in TD_CONSISTENCY_NODE_ERRORS:
        try:
            mr.consistency_path(leaves[:s2], s1)
            raised = False
        except ValueError:
            raised = True
        check("vector proof_test.go TestConsistency rejects %d->%d" % (s1, s2), raised)


# ==========================================================================
# (b) Exhaustive checks for tree sizes 1..64, leaves b"leaf %d".
# ==========================================================================

MAXN = 64
LEAVES = [b"leaf %d" % i for i in range(2 * MAXN + 2)]  # room for size n+1 / 2n probes
ROOTS = {n: mr.root(LEAVES[:n]) for n in range(0, 2 * MAXN + 2)}


def test_root_cross_check():
    # MTH by the recursive definition vs. a simple bottom-up fold that
    # promotes a lone right-most node unchanged (equivalent for RFC 6962).
    bad = []
    for n in range(1, 2 * MAXN + 2):
        level = [mr.leaf_hash(d) for d in LEAVES[:n]]
        while len(level) > 1:
            nxt = [mr.node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
            if len(level) % 2:
                nxt.append(level[-1])
            level = nxt
        if level[0] != ROOTS[n]:
            bad.append(str(n))
    collect("root(): recursive MTH == bottom-up fold, sizes 1..%d" % (2 * MAXN + 1), bad, 2 * MAXN + 1)
    check("root([]) == SHA-256('')", mr.root([]) == hashlib.sha256(b"").digest())


def test_inclusion_exhaustive():
    for n in range(1, MAXN + 1):
        bad = []
        total = 0
        rt = ROOTS[n]
        for i in range(n):
            lh = mr.leaf_hash(LEAVES[i])
            path = mr.inclusion_path(LEAVES[:n], i)
            sides = mr.inclusion_path_sides(LEAVES[:n], i)

            total += 1
            if not mr.verify_inclusion(lh, i, n, path, rt):
                bad.append("valid proof i=%d rejected" % i)
            # Length bound: ceil(log2 n).
            total += 1
            if len(path) > (n - 1).bit_length():
                bad.append("path too long i=%d" % i)

            # One bit flipped in any element, at several bit positions.
            for j in range(len(path)):
                for byte_i, mask in ((0, 0x01), (0, 0x80), (17, 0x10), (31, 0x40)):
                    total += 1
                    w = list(path)
                    w[j] = flip(w[j], byte_i, mask)
                    if mr.verify_inclusion(lh, i, n, w, rt):
                        bad.append("flip path[%d] i=%d accepted" % (j, i))
            # Flipped leaf hash / root.
            total += 2
            if mr.verify_inclusion(flip(lh, 5, 1), i, n, path, rt):
                bad.append("flipped leaf i=%d accepted" % i)
            if mr.verify_inclusion(lh, i, n, path, flip(rt, 31, 1)):
                bad.append("flipped root i=%d accepted" % i)
            # Removed / extra / reordered elements.
            if path:
                total += 2
                if mr.verify_inclusion(lh, i, n, path[:-1], rt):
                    bad.append("truncated i=%d accepted" % i)
                if mr.verify_inclusion(lh, i, n, path[1:], rt):
                    bad.append("dropped first i=%d accepted" % i)
            total += 2
            if mr.verify_inclusion(lh, i, n, path + [rt], rt):
                bad.append("extended i=%d accepted" % i)
            if mr.verify_inclusion(lh, i, n, [lh] + path, rt):
                bad.append("prefixed i=%d accepted" % i)
            if len(path) > 1 and path[0] != path[1]:
                total += 1
                if mr.verify_inclusion(lh, i, n, [path[1], path[0]] + path[2:], rt):
                    bad.append("swapped i=%d accepted" % i)

            # Wrong index: the same leaf claimed at every other index of the
            # same tree must fail (the side sequence identifies the leaf).
            for i2 in range(-1, n + 1):
                if i2 == i:
                    continue
                total += 1
                if mr.verify_inclusion(lh, i2, n, path, rt):
                    bad.append("wrong index %d (true %d) accepted" % (i2, i))
            # Wrong index, honest leaf at that index: must fail too.
            for i2 in (i - 1, i + 1):
                if 0 <= i2 < n:
                    total += 1
                    if mr.verify_inclusion(mr.leaf_hash(LEAVES[i2]), i2, n, path, rt):
                        bad.append("other leaf %d with path of %d accepted" % (i2, i))

            # Wrong size, presented with the honest root of that size: must
            # fail unless the proof is literally the correct proof for it.
            for n2 in (n - 1, n + 1, 2 * n, n // 2):
                if n2 == n:
                    continue
                total += 1
                got = mr.verify_inclusion(lh, i, n2, path, ROOTS[n2])
                expect = i < n2 and mr.inclusion_path(LEAVES[:n2], i) == path
                if got != expect:
                    bad.append("size %d (true %d) i=%d got %r want %r" % (n2, n, i, got, expect))
            # Wrong size with the *same* root: the RFC 9162 algorithm uses
            # tree_size only through the side sequence of the path, so it
            # accepts exactly when PATH(i, D[n2]) has the same sides.
            for n2 in (n - 1, n + 1):
                if n2 == n or n2 < 1:
                    continue
                total += 1
                got = mr.verify_inclusion(lh, i, n2, path, rt)
                expect = i < n2 and mr.inclusion_path_sides(LEAVES[:n2], i) == sides
                if got != expect:
                    bad.append("same-root size %d (true %d) i=%d got %r want %r" % (n2, n, i, got, expect))
            # Claim relative to a subtree: the leaf's index within the right
            # (or left) subtree, that subtree's size, the full path and the
            # full root.  RFC 9162 step 4a (sn == 0 with path left) rejects it.
            if n >= 2:
                k = 1 << ((n - 1).bit_length() - 1)
                total += 1
                if i >= k and mr.verify_inclusion(lh, i - k, n - k, path, rt):
                    bad.append("right-subtree-relative claim i=%d accepted" % i)
                if i < k and mr.verify_inclusion(lh, i, k, path, rt):
                    bad.append("left-subtree-relative claim i=%d accepted" % i)
        collect("inclusion size %d: all %d proofs verify, tampering rejected" % (n, n), bad, total)


def test_consistency_exhaustive():
    for n in range(1, MAXN + 1):
        bad = []
        total = 0
        r2 = ROOTS[n]
        for m in range(1, n + 1):
            r1 = ROOTS[m]
            path = mr.consistency_path(LEAVES[:n], m)
            total += 1
            if not mr.verify_consistency(m, n, path, r1, r2):
                bad.append("valid %d->%d rejected" % (m, n))
            total += 1
            if len(path) > (n - 1).bit_length() + 1:
                bad.append("proof too long %d->%d" % (m, n))
            if m == n:
                total += 1
                if path != []:
                    bad.append("m == n proof not empty")
            # bit flips in every element
            for j in range(len(path)):
                for byte_i, mask in ((0, 0x01), (0, 0x80), (31, 0x02)):
                    total += 1
                    w = list(path)
                    w[j] = flip(w[j], byte_i, mask)
                    if mr.verify_consistency(m, n, w, r1, r2):
                        bad.append("flip path[%d] %d->%d accepted" % (j, m, n))
            # flipped roots
            total += 2
            if mr.verify_consistency(m, n, path, flip(r1, 3, 4), r2):
                bad.append("flipped root1 %d->%d accepted" % (m, n))
            if mr.verify_consistency(m, n, path, r1, flip(r2, 3, 4)):
                bad.append("flipped root2 %d->%d accepted" % (m, n))
            if m != n:
                total += 1
                if mr.verify_consistency(m, n, path, r2, r1):
                    bad.append("swapped roots %d->%d accepted" % (m, n))
            # truncated / extended / prefixed
            if path:
                total += 2
                if mr.verify_consistency(m, n, path[:-1], r1, r2):
                    bad.append("truncated %d->%d accepted" % (m, n))
                if mr.verify_consistency(m, n, path[1:], r1, r2):
                    bad.append("dropped first %d->%d accepted" % (m, n))
            total += 3
            if mr.verify_consistency(m, n, path + [r2], r1, r2):
                bad.append("extended %d->%d accepted" % (m, n))
            if mr.verify_consistency(m, n, [r1] + path, r1, r2):
                bad.append("prefixed root1 %d->%d accepted" % (m, n))
            if mr.verify_consistency(m, n, path + [path[-1]] if path else [r1], r1, r2):
                bad.append("duplicated last %d->%d accepted" % (m, n))
            # Claim relative to the right subtree: (m-k, n-k) with the full
            # path and the full roots.  Only RFC 9162 step 6a rejects this.
            k = 1 << ((n - 1).bit_length() - 1) if n >= 2 else 0
            if k and k < m < n:
                total += 1
                if mr.verify_consistency(m - k, n - k, path, r1, r2):
                    bad.append("right-subtree-relative claim %d->%d accepted" % (m, n))
            # reversed sizes
            if m != n:
                total += 1
                if mr.verify_consistency(n, m, path, r2, r1):
                    bad.append("reversed %d->%d accepted" % (m, n))
            # Wrong sizes with the honest roots of those sizes: must fail
            # unless the proof is literally PROOF for that pair.
            for m2, n2 in ((m - 1, n), (m + 1, n), (m, n - 1), (m, n + 1), (m ^ 2, n)):
                if (m2, n2) == (m, n) or n2 > len(LEAVES) or m2 < 0 or n2 < 0:
                    continue
                total += 1
                got = mr.verify_consistency(m2, n2, path, ROOTS.get(m2, r1), ROOTS.get(n2, r2))
                if 0 < m2 <= n2:
                    expect = mr.consistency_path(LEAVES[:n2], m2) == path
                elif m2 == 0 and n2 >= 0:
                    expect = path == []
                else:
                    expect = False
                if got != expect:
                    bad.append("sizes %d->%d (true %d->%d) got %r want %r" % (m2, n2, m, n, got, expect))
        collect("consistency n=%d: proofs for m=1..%d verify, tampering rejected" % (n, n), bad, total)

    # Edge cases.
    check("consistency size2 < size1 rejected",
          not mr.verify_consistency(5, 4, mr.consistency_path(LEAVES[:5], 4), ROOTS[5], ROOTS[4]))
    check("consistency 0->n with a non-empty-tree root1 rejected",
          not mr.verify_consistency(0, 5, [], ROOTS[1], ROOTS[5]))
    check("consistency 0->n with a non-empty proof rejected",
          not mr.verify_consistency(0, 5, [ROOTS[5]], ROOTS[0], ROOTS[5]))
    check("consistency_path(m=0) raises ValueError", _raises(lambda: mr.consistency_path(LEAVES[:4], 0)))
    check("consistency_path(m>n) raises ValueError", _raises(lambda: mr.consistency_path(LEAVES[:4], 5)))
    check("inclusion_path(index=n) raises ValueError", _raises(lambda: mr.inclusion_path(LEAVES[:4], 4)))
    check("verify_inclusion rejects bool/negative sizes",
          not mr.verify_inclusion(mr.leaf_hash(LEAVES[0]), 0, True, [], ROOTS[1])
          and not mr.verify_inclusion(mr.leaf_hash(LEAVES[0]), -1, 1, [], ROOTS[1]))


def _raises(fn, exc=ValueError):
    try:
        fn()
    except exc:
        return True
    return False


# ==========================================================================
# (c) Signed notes and checkpoints.
# ==========================================================================

# Published example from golang.org/x/mod, file sumdb/note/example_test.go
# (ExampleSign / ExampleOpen / ExampleSign_add_signatures); stored copy read
# from github.com/radeksimko/mod (a fork) at sumdb/note/example_test.go.
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = ("If you think cryptography is the answer to your problem,\n"
           "then you don't know what your problem is.\n")
GO_SIG_PN = "\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
GO_SIG_ER = "\u2014 EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n"

# C2SP tlog-checkpoint.md example (body only; its signature's key is not published).
C2SP_CHECKPOINT = ("example.com/behind-the-sofa\n20852163\n"
                   "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n"
                   "\u2014 example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n")


def test_notes():
    from nacl.signing import SigningKey

    # --- published Go example ---------------------------------------------
    go_note = GO_TEXT + "\n" + GO_SIG_PN
    check("go example: note verifies with published verifier key", mr.verify_note(go_note, GO_VKEY))
    name, kid, pub = mr.parse_verifier_key(GO_VKEY)
    check("go example: key hash c74f20a3 recomputed from name and key",
          kid.hex() == "c74f20a3" and mr.key_id(name, b"\x01" + pub).hex() == "c74f20a3")
    seed = base64.b64decode(GO_SKEY.split("+", 4)[4])[1:]
    sk = SigningKey(seed)
    check("go example: published private key derives the published public key",
          bytes(sk.verify_key) == pub)
    check("go example: re-signing reproduces the published signature line byte-for-byte",
          mr.sign_note(GO_TEXT, "PeterNeumann", sk) == go_note)
    # ExampleSign_add_signatures: EnochRoot's key is note.GenerateKey on an
    # all-zero reader, i.e. (derived here, not published) Ed25519 seed 0^32.
    er_sk = SigningKey(bytes(32))
    er_vkey = mr.make_verifier_key("EnochRoot", bytes(er_sk.verify_key))
    two = GO_TEXT + "\n" + GO_SIG_PN + GO_SIG_ER
    check("go example: two-signature note verifies with each key (EnochRoot = zero seed)",
          mr.verify_note(two, GO_VKEY) and mr.verify_note(two, er_vkey))
    check("go example: one changed byte in the text is rejected",
          not mr.verify_note(go_note.replace("cryptography", "cryptographY"), GO_VKEY))

    # --- own key, checkpoint note ----------------------------------------
    sk = SigningKey(hashlib.sha256(b"merkle_ref_test key 1").digest())
    other = SigningKey(hashlib.sha256(b"merkle_ref_test key 2").digest())
    origin = "example.com/merkle-ref-test"
    vkey = mr.make_verifier_key(origin, bytes(sk.verify_key))
    vkey_other = mr.make_verifier_key(origin, bytes(other.verify_key))
    vkey_other_name = mr.make_verifier_key("example.com/other", bytes(sk.verify_key))
    size = 10
    body = mr.format_checkpoint(origin, size, ROOTS[size])
    note = mr.sign_note(body, origin, sk)

    check("own note: verifies with its verifier key", mr.verify_note(note, vkey))
    check("own note: verifies as bytes too", mr.verify_note(note.encode("utf-8"), vkey))
    o, s, r, ext = mr.parse_checkpoint(note)
    check("own note: parse_checkpoint round-trip (origin, size, root, no extensions)",
          (o, s, r, ext) == (origin, size, ROOTS[size], []))
    check("own note: checkpoint root matches an inclusion proof",
          mr.verify_inclusion(mr.leaf_hash(LEAVES[7]), 7, s, mr.inclusion_path(LEAVES[:s], 7), r))

    # Every single-byte change of the body is rejected.
    bad = []
    for pos in range(len(body)):
        ch = body[pos]
        repl = "x" if ch != "x" else "y"
        mutated = body[:pos] + repl + body[pos + 1:] + note[len(body):]
        if mr.verify_note(mutated, vkey):
            bad.append("pos %d" % pos)
    collect("own note: every one-byte change of the body rejected", bad, len(body))
    check("own note: another key (same name) rejected", not mr.verify_note(note, vkey_other))
    check("own note: same key under another name rejected", not mr.verify_note(note, vkey_other_name))
    check("own note: signature line removed rejected", not mr.verify_note(body + "\n", vkey))
    check("own note: signature block missing rejected", not mr.verify_note(body, vkey))
    sig_line = note[len(body) + 1:]
    blob = bytearray(base64.b64decode(sig_line.split(" ")[2]))
    blob[10] ^= 1
    tampered_sig = "\u2014 %s %s\n" % (origin, base64.b64encode(bytes(blob)).decode())
    check("own note: flipped signature bit rejected", not mr.verify_note(body + "\n" + tampered_sig, vkey))
    blob = bytearray(base64.b64decode(sig_line.split(" ")[2]))
    blob[0] ^= 1
    wrong_id = "\u2014 %s %s\n" % (origin, base64.b64encode(bytes(blob)).decode())
    check("own note: signature with wrong key ID only (treated as unknown) rejected",
          not mr.verify_note(body + "\n" + wrong_id, vkey))
    blob_ok = base64.b64decode(sig_line.split(" ")[2])
    renamed = "\u2014 example.com/other %s\n" % base64.b64encode(blob_ok).decode()
    check("own note: valid signature + matching key ID but different name is ignored -> rejected",
          not mr.verify_note(body + "\n" + renamed, vkey))
    # A verifier key whose hash field is not SHA-256(name||0x0A||0x01||key)[:4]
    # is invalid even if the note's signature line carries the same bogus ID.
    bogus_id = bytes([blob_ok[0] ^ 0xFF]) + blob_ok[1:4]
    vkey_bogus = "%s+%s+%s" % (origin, bogus_id.hex(), vkey.split("+", 2)[2])
    bogus_line = "\u2014 %s %s\n" % (origin, base64.b64encode(bogus_id + blob_ok[4:]).decode())
    check("verifier key with inconsistent key hash rejected (even if the signature line uses it)",
          not mr.verify_note(body + "\n" + bogus_line, vkey_bogus))
    check("own note: hyphen-minus instead of em dash rejected",
          not mr.verify_note(note.replace("\u2014 ", "- "), vkey))
    check("own note: missing final newline rejected", not mr.verify_note(note[:-1], vkey))
    check("own note: CR LF line endings rejected", not mr.verify_note(note.replace("\n", "\r\n"), vkey))

    other_line = mr.signature_line(body, "example.com/witness", other)
    check("own note: extra signature from an unknown key is ignored",
          mr.verify_note(body + "\n" + other_line + sig_line, vkey)
          and mr.verify_note(body + "\n" + sig_line + other_line, vkey))
    check("own note: only an unknown key's signature -> rejected",
          not mr.verify_note(body + "\n" + other_line, vkey))
    check("own note: good + bad signature from the known key -> rejected (SHOULD reject)",
          not mr.verify_note(body + "\n" + sig_line + tampered_sig, vkey))
    check("own note: malformed extra signature line -> rejected",
          not mr.verify_note(body + "\n" + sig_line + "\u2014 nobase64 !!!\n", vkey))

    # Text with an empty line inside: split at the LAST blank line.
    poem = "line one\n\nline three\n"
    pn = mr.sign_note(poem, origin, sk)
    check("signed note whose text contains an empty line verifies", mr.verify_note(pn, vkey))
    check("split_note returns the text up to the last blank line",
          mr.split_note(pn)[0] == poem)
    check("checkpoint with an empty body line is rejected by parse_checkpoint",
          _raises(lambda: mr.parse_checkpoint(pn)))

    # Verifier-key syntax.
    good = vkey
    parts = good.split("+", 2)
    bad_keys = {
        "wrong hash": "+".join([parts[0], "%08x" % (int(parts[1], 16) ^ 1), parts[2]]),
        "short hash": "+".join([parts[0], parts[1][:7], parts[2]]),
        "missing part": "+".join(parts[:2]),
        "empty name": "+".join(["", parts[1], parts[2]]),
        "type byte 0x02": "+".join([parts[0], parts[1],
                                    base64.b64encode(b"\x02" + bytes(sk.verify_key)).decode()]),
        "31-byte key": "+".join([parts[0], parts[1],
                                 base64.b64encode(b"\x01" + bytes(sk.verify_key)[:31]).decode()]),
    }
    for desc, k in bad_keys.items():
        check("verifier key %s rejected" % desc, not mr.verify_note(note, k))

    # --- checkpoint parsing -------------------------------------------------
    o, s, r, ext = mr.parse_checkpoint(C2SP_CHECKPOINT)
    check("C2SP tlog-checkpoint example parses",
          o == "example.com/behind-the-sofa" and s == 20852163 and len(r) == 32 and ext == [])
    o, s, r, ext = mr.parse_checkpoint("log\n0\n%s\next one\next two\n"
                                       % base64.b64encode(mr.EMPTY_ROOT).decode())
    check("checkpoint size 0 with extension lines parses",
          s == 0 and r == mr.EMPTY_ROOT and ext == ["ext one", "ext two"])
    b64root = base64.b64encode(ROOTS[3]).decode()
    malformed = {
        "leading zero size": "log\n03\n%s\n" % b64root,
        "signed size": "log\n+3\n%s\n" % b64root,
        "negative size": "log\n-3\n%s\n" % b64root,
        "non-ASCII digit size": "log\n\u0663\n%s\n" % b64root,
        "size with space": "log\n3 \n%s\n" % b64root,
        "missing root line": "log\n3\n",
        "no trailing newline": "log\n3\n%s" % b64root,
        "empty origin": "\n3\n%s\n" % b64root,
        "root 31 bytes": "log\n3\n%s\n" % base64.b64encode(ROOTS[3][:31]).decode(),
        "root unpadded": "log\n3\n%s\n" % b64root.rstrip("="),
        "root urlsafe alphabet": "log\n3\n%s\n" % base64.urlsafe_b64encode(b"\xfb" * 32).decode(),
        "empty extension line": "log\n3\n%s\next\n\nmore\n" % b64root,
        "empty extension line, signed": "log\n3\n%s\next\n\nmore\n\n%s" % (b64root, GO_SIG_PN),
        "blank line but no signatures": "log\n3\n%s\n\n" % b64root,
        "size > 2^64-1": "log\n18446744073709551616\n%s\n" % b64root,
        "tab in origin": "lo\tg\n3\n%s\n" % b64root,
    }
    for desc, txt in malformed.items():
        check("checkpoint malformed (%s) rejected" % desc, _raises(lambda t=txt: mr.parse_checkpoint(t)))
    check("checkpoint size 2^64-1 accepted",
          mr.parse_checkpoint("log\n18446744073709551615\n%s\n" % b64root)[1] == 2 ** 64 - 1)


def main():
    import traceback
    for group in (test_published_vectors, test_root_cross_check, test_inclusion_exhaustive,
                  test_consistency_exhaustive, test_notes):
        try:
            group()
        except Exception:  # report, keep going
            check("%s completed without exception" % group.__name__, False,
                  traceback.format_exc().strip().replace("\n", " | "))
    print("%d passed, %d failed" % (PASSED, FAILED))
    return 0 if FAILED == 0 and PASSED > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
