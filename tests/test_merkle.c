/*
 * test_merkle.c: the tree over stored perfect subtrees against a naive
 * RFC 6962 implementation written here from the RFC's recursive
 * definitions (MTH, PATH, PROOF), for every size up to 130 and every leaf
 * and pair of sizes; plus the signed-note format.
 */
#include <openssl/sha.h>
#include <sodium.h>

#include "merkle.h"
#include "note.h"
#include "testlib.h"

static int test_setup(void) { return sodium_init() < 0 ? -1 : 0; }

#define N 130
static uint8_t leaves[N][32];

/* ---- naive, straight from RFC 6962 section 2.1 ----------------------- */

static uint64_t
k_of(uint64_t n)
{
	uint64_t k = 1;
	while (k * 2 < n)
		k *= 2;
	return k;
}

static void
mth(uint64_t a, uint64_t b, uint8_t out[32])
{
	uint8_t buf[65];

	if (b - a == 1) {
		memcpy(out, leaves[a], 32);
		return;
	}
	buf[0] = 1;
	mth(a, a + k_of(b - a), buf + 1);
	mth(a + k_of(b - a), b, buf + 33);
	SHA256(buf, sizeof buf, out);
}

static void
path(uint64_t m, uint64_t a, uint64_t b, uint8_t out[][32], unsigned *n)
{
	uint64_t k;

	if (b - a <= 1)
		return;
	k = k_of(b - a);
	if (m < k) {
		path(m, a, a + k, out, n);
		mth(a + k, b, out[(*n)++]);
	} else {
		path(m - k, a + k, b, out, n);
		mth(a, a + k, out[(*n)++]);
	}
}

static void
subproof(uint64_t m, uint64_t a, uint64_t b, int whole, uint8_t out[][32], unsigned *n)
{
	uint64_t k;

	if (m == b - a) {
		if (!whole)
			mth(a, b, out[(*n)++]);
		return;
	}
	k = k_of(b - a);
	if (m <= k) {
		subproof(m, a, a + k, whole, out, n);
		mth(a + k, b, out[(*n)++]);
	} else {
		subproof(m - k, a + k, b, 0, out, n);
		mth(a, a + k, out[(*n)++]);
	}
}

/* ---- the stored-subtree node source the code under test reads ---------- */

static vault_err
get_node(void *ctx, unsigned level, uint64_t idx, uint8_t out[32])
{
	uint64_t a = idx << level, b = (idx + 1) << level;
	(void)ctx;
	if (b > N)
		return VAULT_ERR_NOTFOUND;
	mth(a, b, out);
	return VAULT_OK;
}

static void
make_leaves(void)
{
	char text[32];
	int i;

	for (i = 0; i < N; i++) {
		snprintf(text, sizeof text, "entry %d", i);
		merkle_leaf_hash(text, strlen(text), leaves[i]);
	}
}

TEST(leaf_and_node_hashes_have_the_rfc_6962_prefixes)
{
	uint8_t buf[65], want[32], got[32], l[32], r[32];

	buf[0] = 0x00;
	memcpy(buf + 1, "abc", 3);
	SHA256(buf, 4, want);
	merkle_leaf_hash("abc", 3, got);
	CHECK(memcmp(want, got, 32) == 0);
	memset(l, 1, 32);
	memset(r, 2, 32);
	buf[0] = 0x01;
	memcpy(buf + 1, l, 32);
	memcpy(buf + 33, r, 32);
	SHA256(buf, 65, want);
	merkle_node_hash(l, r, got);
	CHECK(memcmp(want, got, 32) == 0);
}

TEST(root_of_every_size_matches_the_naive_tree)
{
	struct merkle_nodes n = { get_node, NULL };
	uint8_t got[32], want[32];
	uint64_t size;

	make_leaves();
	CHECK_EQ(merkle_root(&n, 0, got), VAULT_OK);
	SHA256((const unsigned char *)"", 0, want);
	CHECK(memcmp(got, want, 32) == 0);
	for (size = 1; size <= N; size++) {
		CHECK_EQ(merkle_root(&n, size, got), VAULT_OK);
		mth(0, size, want);
		CHECK(memcmp(got, want, 32) == 0);
	}
}

TEST(inclusion_path_of_every_leaf_matches_the_naive_path)
{
	struct merkle_nodes n = { get_node, NULL };
	uint8_t got[MERKLE_PATH_MAX][32], want[MERKLE_PATH_MAX][32];
	unsigned gc, wc, bad = 0;
	uint64_t size, i;

	make_leaves();
	for (size = 1; size <= N; size++)
		for (i = 0; i < size; i++) {
			wc = 0;
			path(i, 0, size, want, &wc);
			if (merkle_inclusion(&n, i, size, got, &gc) != VAULT_OK || gc != wc ||
			    memcmp(got, want, (size_t)wc * 32) != 0)
				bad++;
		}
	CHECK_EQ(bad, 0);
	CHECK_EQ(merkle_inclusion(&n, 5, 5, got, &gc), VAULT_ERR_FORMAT);
}

TEST(consistency_proof_of_every_pair_matches_the_naive_proof)
{
	struct merkle_nodes n = { get_node, NULL };
	uint8_t got[MERKLE_PATH_MAX][32], want[MERKLE_PATH_MAX][32];
	unsigned gc, wc, bad = 0;
	uint64_t m, size;

	make_leaves();
	for (size = 1; size <= N; size++)
		for (m = 1; m <= size; m++) {
			wc = 0;
			subproof(m, 0, size, 1, want, &wc);
			if (merkle_consistency(&n, m, size, got, &gc) != VAULT_OK ||
			    gc != wc || memcmp(got, want, (size_t)wc * 32) != 0)
				bad++;
		}
	CHECK_EQ(bad, 0);
	CHECK_EQ(merkle_consistency(&n, 0, 4, got, &gc), VAULT_ERR_FORMAT);
	CHECK_EQ(merkle_consistency(&n, 5, 4, got, &gc), VAULT_ERR_FORMAT);
}

TEST(completed_subtrees_are_the_aligned_ones_the_leaf_closes)
{
	unsigned levels[64], c;
	uint64_t idx[64];

	CHECK_EQ(merkle_completed(0, levels, idx), 0);
	c = merkle_completed(1, levels, idx);
	CHECK(c == 1 && levels[0] == 1 && idx[0] == 0);
	c = merkle_completed(7, levels, idx);
	CHECK(c == 3 && levels[2] == 3 && idx[2] == 0);
	c = merkle_completed(11, levels, idx);
	CHECK(c == 2 && levels[0] == 1 && idx[0] == 5 && levels[1] == 2 && idx[1] == 2);
}

TEST(signed_checkpoint_verifies_and_any_change_breaks_it)
{
	uint8_t pk[32], sk[64], pk2[32], sk2[64], root[32], r2[32];
	char *body, *note = NULL, vkey[256], origin[NOTE_NAME_MAX + 1];
	uint64_t size;

	crypto_sign_keypair(pk, sk);
	crypto_sign_keypair(pk2, sk2);
	memset(root, 7, 32);
	body = note_checkpoint_body("example.org/vault", 42, root);
	REQUIRE(body != NULL);
	REQUIRE(note_sign(body, "example.org/vault", sk, pk, &note) == VAULT_OK);
	CHECK_EQ(note_verify(note, "example.org/vault", pk), VAULT_OK);
	CHECK_EQ(note_verify(note, "example.org/vault", pk2), VAULT_ERR_AUTH);
	CHECK_EQ(note_verify(note, "example.org/other", pk), VAULT_ERR_AUTH);
	CHECK_EQ(note_checkpoint_parse(note, origin, &size, r2), VAULT_OK);
	CHECK(strcmp(origin, "example.org/vault") == 0 && size == 42 &&
	    memcmp(root, r2, 32) == 0);
	note[20] ^= 1; /* a byte of the body */
	CHECK_EQ(note_verify(note, "example.org/vault", pk), VAULT_ERR_AUTH);
	CHECK_EQ(note_verify("no blank line", "x", pk), VAULT_ERR_FORMAT);
	CHECK_EQ(note_verifier_key("example.org/vault", pk, vkey, sizeof vkey), VAULT_OK);
	CHECK(strncmp(vkey, "example.org/vault+", 18) == 0 && strlen(vkey) == 18 + 8 + 1 + 44);
	free(body);
	free(note);
}

TEST_MAIN
