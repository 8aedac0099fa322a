/* merkle.c: RFC 6962 trees over stored perfect subtrees (see merkle.h). */
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

#include "merkle.h"

void
merkle_leaf_hash(const void *entry, size_t len, uint8_t out[MERKLE_HASH_LEN])
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	uint8_t z = 0x00;

	/* An allocation failure here is ours to abort on: a wrong hash would
	 * be silently recorded. */
	if (c == NULL || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(c, &z, 1) != 1 ||
	    EVP_DigestUpdate(c, entry, len) != 1 ||
	    EVP_DigestFinal_ex(c, out, NULL) != 1)
		abort();
	EVP_MD_CTX_free(c);
}

void
merkle_node_hash(const uint8_t l[MERKLE_HASH_LEN], const uint8_t r[MERKLE_HASH_LEN],
    uint8_t out[MERKLE_HASH_LEN])
{
	uint8_t buf[1 + 2 * MERKLE_HASH_LEN];

	buf[0] = 0x01;
	memcpy(buf + 1, l, MERKLE_HASH_LEN);
	memcpy(buf + 1 + MERKLE_HASH_LEN, r, MERKLE_HASH_LEN);
	SHA256(buf, sizeof buf, out);
}

/* The largest power of two strictly smaller than n (n >= 2). Written so
 * that k never doubles past 2^63: "while (k << 1 < n)" wrapped k to 0 for
 * n > 2^63 and looped for ever (fuzz_proof; the journal's own sizes never
 * come near, but merkle.h promises an answer for any size). */
static uint64_t
split(uint64_t n)
{
	uint64_t k = 1;

	while (k <= (n - 1) >> 1)
		k <<= 1;
	return k;
}

static int
is_pow2(uint64_t n)
{
	return n != 0 && (n & (n - 1)) == 0;
}

static unsigned
log2u(uint64_t n)
{
	unsigned l = 0;

	while (n > 1) {
		n >>= 1;
		l++;
	}
	return l;
}

/* MTH(D[a:b]), b > a: a stored perfect subtree when [a, b) is one, else
 * split as RFC 6962 does. Every split point is aligned for the next level,
 * so the left parts are always stored subtrees. */
static vault_err
range_hash(const struct merkle_nodes *n, uint64_t a, uint64_t b,
    uint8_t out[MERKLE_HASH_LEN])
{
	uint8_t l[MERKLE_HASH_LEN], r[MERKLE_HASH_LEN];
	uint64_t k, size = b - a;
	vault_err e;

	if (is_pow2(size) && a % size == 0)
		return n->get(n->ctx, log2u(size), a / size, out);
	k = split(size);
	if ((e = range_hash(n, a, a + k, l)) != VAULT_OK ||
	    (e = range_hash(n, a + k, b, r)) != VAULT_OK)
		return e;
	merkle_node_hash(l, r, out);
	return VAULT_OK;
}

vault_err
merkle_root(const struct merkle_nodes *n, uint64_t size, uint8_t out[MERKLE_HASH_LEN])
{
	if (size == 0) {
		SHA256((const unsigned char *)"", 0, out);
		return VAULT_OK;
	}
	return range_hash(n, 0, size, out);
}

/* PATH(m, D[a:b]) of RFC 6962 2.1.1, appended to path from the deepest
 * level up (the order verifiers expect). */
static vault_err
path_rec(const struct merkle_nodes *n, uint64_t m, uint64_t a, uint64_t b,
    uint8_t path[MERKLE_PATH_MAX][MERKLE_HASH_LEN], unsigned *count)
{
	uint64_t k;
	vault_err e;

	if (b - a <= 1)
		return VAULT_OK;
	k = split(b - a);
	if (m < k) {
		if ((e = path_rec(n, m, a, a + k, path, count)) != VAULT_OK)
			return e;
		if (*count == MERKLE_PATH_MAX)
			return VAULT_ERR_LIMIT;
		return range_hash(n, a + k, b, path[(*count)++]);
	}
	if ((e = path_rec(n, m - k, a + k, b, path, count)) != VAULT_OK)
		return e;
	if (*count == MERKLE_PATH_MAX)
		return VAULT_ERR_LIMIT;
	return range_hash(n, a, a + k, path[(*count)++]);
}

vault_err
merkle_inclusion(const struct merkle_nodes *n, uint64_t index, uint64_t size,
    uint8_t path[MERKLE_PATH_MAX][MERKLE_HASH_LEN], unsigned *count)
{
	*count = 0;
	if (index >= size)
		return VAULT_ERR_FORMAT;
	return path_rec(n, index, 0, size, path, count);
}

/* SUBPROOF(m, D[a:b], whole) of RFC 6962 2.1.2. */
static vault_err
subproof(const struct merkle_nodes *n, uint64_t m, uint64_t a, uint64_t b,
    int whole, uint8_t path[MERKLE_PATH_MAX][MERKLE_HASH_LEN], unsigned *count)
{
	uint64_t k, size = b - a;
	vault_err e;

	if (m == size) {
		if (whole)
			return VAULT_OK;
		if (*count == MERKLE_PATH_MAX)
			return VAULT_ERR_LIMIT;
		return range_hash(n, a, b, path[(*count)++]);
	}
	k = split(size);
	if (m <= k) {
		if ((e = subproof(n, m, a, a + k, whole, path, count)) != VAULT_OK)
			return e;
		if (*count == MERKLE_PATH_MAX)
			return VAULT_ERR_LIMIT;
		return range_hash(n, a + k, b, path[(*count)++]);
	}
	if ((e = subproof(n, m - k, a + k, b, 0, path, count)) != VAULT_OK)
		return e;
	if (*count == MERKLE_PATH_MAX)
		return VAULT_ERR_LIMIT;
	return range_hash(n, a, a + k, path[(*count)++]);
}

vault_err
merkle_consistency(const struct merkle_nodes *n, uint64_t first, uint64_t second,
    uint8_t path[MERKLE_PATH_MAX][MERKLE_HASH_LEN], unsigned *count)
{
	*count = 0;
	if (first == 0 || first > second)
		return VAULT_ERR_FORMAT;
	return subproof(n, first, 0, second, 1, path, count);
}

unsigned
merkle_completed(uint64_t index, unsigned levels[64], uint64_t idx[64])
{
	unsigned c = 0, l;

	/* leaf index completes level l when index+1 is a multiple of 2^l */
	for (l = 1; l < 64 && ((index + 1) & ((UINT64_C(1) << l) - 1)) == 0; l++) {
		levels[c] = l;
		idx[c] = index >> l;
		c++;
	}
	return c;
}
