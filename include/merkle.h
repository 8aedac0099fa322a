/*
 * merkle.h: the journal as an append-only Merkle tree (RFC 6962 section
 * 2.1; RFC 9162 section 2.1): leaf hash = SHA-256(0x00 ‖ entry bytes),
 * node hash = SHA-256(0x01 ‖ left ‖ right).
 *
 * Storage: the hash of every *perfect* subtree, (level l, index i) covering
 * leaves [i·2^l, (i+1)·2^l), is written once, when its last leaf is
 * appended, in the same transaction as the entry. The hash of any range is
 * then a combination of at most 2·log2(n) stored hashes, so roots and
 * proofs cost O(log² n) look-ups in the worst case and never a rebuild.
 */
#ifndef MERKLE_H
#define MERKLE_H

#include <stdint.h>

#include "vault.h"

#define MERKLE_HASH_LEN 32
#define MERKLE_PATH_MAX 64

/* Where perfect subtree hashes come from: returns VAULT_OK and the hash,
 * VAULT_ERR_NOTFOUND if missing. */
struct merkle_nodes {
	vault_err (*get)(void *ctx, unsigned level, uint64_t index,
	    uint8_t out[MERKLE_HASH_LEN]);
	void *ctx;
};

void merkle_leaf_hash(const void *entry, size_t len, uint8_t out[MERKLE_HASH_LEN]);
void merkle_node_hash(const uint8_t left[MERKLE_HASH_LEN],
    const uint8_t right[MERKLE_HASH_LEN], uint8_t out[MERKLE_HASH_LEN]);

/* MTH of leaves [0, size); size 0 gives SHA-256(""). */
vault_err merkle_root(const struct merkle_nodes *n, uint64_t size,
    uint8_t out[MERKLE_HASH_LEN]);
/* The audit path of leaf index in the tree of size leaves (RFC 6962 PATH).
 * *count receives the number of hashes written to path. VAULT_ERR_FORMAT
 * if index >= size. */
vault_err merkle_inclusion(const struct merkle_nodes *n, uint64_t index,
    uint64_t size, uint8_t path[MERKLE_PATH_MAX][MERKLE_HASH_LEN],
    unsigned *count);
/* The consistency proof between sizes first and second (RFC 6962 PROOF).
 * VAULT_ERR_FORMAT unless 0 < first <= second. */
vault_err merkle_consistency(const struct merkle_nodes *n, uint64_t first,
    uint64_t second, uint8_t path[MERKLE_PATH_MAX][MERKLE_HASH_LEN],
    unsigned *count);

/* After leaf index was stored at level 0: the perfect subtrees it
 * completes, in order, as (level, index) pairs. Returns how many. */
unsigned merkle_completed(uint64_t index, unsigned levels[64], uint64_t idx[64]);

#endif
