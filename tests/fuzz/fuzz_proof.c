/*
 * fuzz_proof: proof and checkpoint requests, from the query or path text
 * to the answer, against a real journal of JOURNAL_N entries (a store made
 * at start-up in $TMPDIR, with checkpoints at a few sizes), and the Merkle
 * code itself over any 64-bit sizes.
 *
 * Input: a kind byte, then two texts separated by a NUL byte.
 *   0 inclusion (index, tree_size)   1 consistency (first, second)
 *   2 journal entry (index)          3 checkpoint at (tree_size)
 *   4 merkle_inclusion and 5 merkle_consistency on two decimal numbers of
 *     the full 64-bit range, over an in-memory tree of MEM_N leaves
 * The texts are read as vaultd reads them (api_parse_u64). An answer must
 * come exactly for the requests inside the tree, and every proof must
 * verify with the RFC 9162 algorithms written below from the RFC (not
 * from crypto/merkle.c) against the roots of the tree; a checkpoint's note
 * must carry the instance's signature over that size and root.
 */
#include <sodium.h>
#include <openssl/sha.h>

#include "fuzz.h"

#include "journal.h"
#include "merkle.h"
#include "note.h"
#include "parse.h"
#include "testutil.h"
#include "timestamps.h"

#define JOURNAL_N 37
#define MEM_N 64

static struct store *st;
static char *dir;
static uint8_t roots[JOURNAL_N + 1][32];
static uint8_t mem[7][MEM_N][32];   /* mem[l][i]: perfect subtree (l, i) */
static uint8_t mem_roots[MEM_N + 1][32];
static const uint64_t checkpoints[] = { 5, 16, 30 };

static vault_err
mem_get(void *ctx, unsigned level, uint64_t index, uint8_t out[32])
{
	(void)ctx;
	if (level >= 7 || index >= MEM_N || ((index + 1) << level) > MEM_N)
		return VAULT_ERR_NOTFOUND;
	memcpy(out, mem[level][index], 32);
	return VAULT_OK;
}

static const struct merkle_nodes mem_nodes = { mem_get, NULL };

static void
node(const uint8_t *l, const uint8_t *r, uint8_t out[32])
{
	uint8_t b[65];

	b[0] = 1;
	memcpy(b + 1, l, 32);
	memcpy(b + 33, r, 32);
	SHA256(b, sizeof b, out);
}

/* RFC 9162 2.1.3.2 */
static int
verify_inclusion(uint64_t index, uint64_t size, const uint8_t leaf[32],
    uint8_t path[64][32], unsigned count, const uint8_t root[32])
{
	uint64_t fn = index, sn = size - 1;
	uint8_t r[32];
	unsigned i;

	if (index >= size)
		return 0;
	memcpy(r, leaf, 32);
	for (i = 0; i < count; i++) {
		if (sn == 0)
			return 0;
		if ((fn & 1) || fn == sn) {
			node(path[i], r, r);
			while (!(fn & 1) && fn != 0) {
				fn >>= 1;
				sn >>= 1;
			}
		} else
			node(r, path[i], r);
		fn >>= 1;
		sn >>= 1;
	}
	return sn == 0 && memcmp(r, root, 32) == 0;
}

/* RFC 9162 2.1.4.2 */
static int
verify_consistency(uint64_t first, uint64_t second, const uint8_t r1[32],
    const uint8_t r2[32], uint8_t path[64][32], unsigned count)
{
	uint8_t p[65][32], fr[32], sr[32];
	uint64_t fn, sn;
	unsigned n = 0, i;

	if (first == second)
		return count == 0 && memcmp(r1, r2, 32) == 0;
	if (count == 0)
		return 0;
	if ((first & (first - 1)) == 0)
		memcpy(p[n++], r1, 32);
	for (i = 0; i < count; i++)
		memcpy(p[n++], path[i], 32);
	fn = first - 1;
	sn = second - 1;
	while (fn & 1) {
		fn >>= 1;
		sn >>= 1;
	}
	memcpy(fr, p[0], 32);
	memcpy(sr, p[0], 32);
	for (i = 1; i < n; i++) {
		if (sn == 0)
			return 0;
		if ((fn & 1) || fn == sn) {
			node(p[i], fr, fr);
			node(p[i], sr, sr);
			while (!(fn & 1) && fn != 0) {
				fn >>= 1;
				sn >>= 1;
			}
		} else
			node(sr, p[i], sr);
		fn >>= 1;
		sn >>= 1;
	}
	return memcmp(fr, r1, 32) == 0 && memcmp(sr, r2, 32) == 0 && sn == 0;
}

/* MTH by the RFC's recursion, from the leaves. */
static void
mth(uint8_t leaves[][32], uint64_t a, uint64_t b, uint8_t out[32])
{
	uint8_t l[32], r[32];
	uint64_t k = 1;

	if (b - a == 1) {
		memcpy(out, leaves[a], 32);
		return;
	}
	while (k * 2 < b - a)
		k *= 2;
	mth(leaves, a, a + k, l);
	mth(leaves, a + k, b, r);
	node(l, r, out);
}

static void
cleanup(void)
{
	store_close(st);
	tu_rmrf(dir);
	free(dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	vault_id who;
	char entry[JOURNAL_ENTRY_MAX], *note, obj[32];
	uint8_t leaves[JOURNAL_N][32], want[32];
	size_t len;
	uint64_t i, l;
	unsigned c = 0;

	(void)argc;
	(void)argv;
	if (sodium_init() < 0 || (st = tu_store_new(&dir)) == NULL)
		abort();
	atexit(cleanup);
	memset(who.b, 0x42, sizeof who.b);
	/* the store journals its own creation: fill up to JOURNAL_N */
	for (;;) {
		if (journal_size(st, &i) != VAULT_OK)
			abort();
		if (i == JOURNAL_N)
			break;
		if (c < sizeof checkpoints / sizeof checkpoints[0] && i == checkpoints[c]) {
			if (journal_checkpoint(st, &note) != VAULT_OK)
				abort();
			free(note);
			c++;
		}
		snprintf(obj, sizeof obj, "object-%llu", (unsigned long long)i);
		if (journal_record(st, &(struct journal_event){ &who, &who,
		    "document.read", obj, "ok", "127.0.0.1" }) != VAULT_OK)
			abort();
	}
	for (i = 0; i < JOURNAL_N; i++) {
		if (journal_entry(st, i, entry, &len) != VAULT_OK)
			abort();
		merkle_leaf_hash(entry, len, leaves[i]);
	}
	for (i = 1; i <= JOURNAL_N; i++) {
		if (journal_root(st, i, roots[i]) != VAULT_OK)
			abort();
		mth(leaves, 0, i, want);
		FUZZ_CHECK(memcmp(want, roots[i], 32) == 0);
	}
	/* the in-memory tree */
	for (i = 0; i < MEM_N; i++)
		merkle_leaf_hash(&i, sizeof i, mem[0][i]);
	for (l = 1; l < 7; l++)
		for (i = 0; ((i + 1) << l) <= MEM_N; i++)
			node(mem[l - 1][2 * i], mem[l - 1][2 * i + 1], mem[l][i]);
	for (i = 1; i <= MEM_N; i++)
		mth(mem[0], 0, i, mem_roots[i]);
	return 0;
}

static int
u64_full(const char *s, uint64_t *v)
{
	char *end;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	*v = strtoull(s, &end, 10);
	return *end == '\0' ? 0 : -1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t path[64][32], leaf[32], root[32];
	char *buf, *f[2], entry[JOURNAL_ENTRY_MAX], origin[NOTE_NAME_MAX + 1], *note;
	uint64_t a = 0, b = 0, cp_size;
	unsigned count;
	uint8_t *der;
	size_t len;
	vault_err r;
	int kind, ha, hb;

	if (size < 1)
		return 0;
	kind = data[0] % 6;
	fuzz_fields(data + 1, size - 1, &buf, f, 2);
	if (kind >= 4) {
		ha = u64_full(f[0], &a) == 0;
		hb = u64_full(f[1], &b) == 0;
	} else {
		ha = api_parse_u64(f[0], &a) == 0;
		hb = api_parse_u64(f[1], &b) == 0;
	}
	switch (kind) {
	case 0:
		if (!ha || !hb)
			break;
		r = journal_inclusion(st, a, b, path, &count);
		FUZZ_CHECK((r == VAULT_OK) == (a < b && b <= JOURNAL_N));
		if (r != VAULT_OK) {
			FUZZ_CHECK(r == VAULT_ERR_FORMAT);
			break;
		}
		FUZZ_CHECK(journal_entry(st, a, entry, &len) == VAULT_OK);
		merkle_leaf_hash(entry, len, leaf);
		FUZZ_CHECK(verify_inclusion(a, b, leaf, path, count, roots[b]));
		break;
	case 1:
		if (!ha || !hb)
			break;
		r = journal_consistency(st, a, b, path, &count);
		FUZZ_CHECK((r == VAULT_OK) == (a > 0 && a <= b && b <= JOURNAL_N));
		if (r != VAULT_OK) {
			FUZZ_CHECK(r == VAULT_ERR_FORMAT);
			break;
		}
		FUZZ_CHECK(verify_consistency(a, b, roots[a], roots[b], path, count));
		break;
	case 2:
		if (!ha)
			break;
		r = journal_entry(st, a, entry, &len);
		FUZZ_CHECK((r == VAULT_OK) == (a < JOURNAL_N));
		FUZZ_CHECK(r == VAULT_OK || r == VAULT_ERR_NOTFOUND);
		break;
	case 3:
		if (!ha)
			break;
		r = timestamps_checkpoint_get(st, a, &note, &der, &len);
		FUZZ_CHECK((r == VAULT_OK) == (a == checkpoints[0] || a == checkpoints[1] ||
		    a == checkpoints[2]));
		if (r != VAULT_OK) {
			FUZZ_CHECK(r == VAULT_ERR_NOTFOUND);
			break;
		}
		FUZZ_CHECK(note_verify(note, st->origin, st->instance_pk) == VAULT_OK);
		FUZZ_CHECK(note_checkpoint_parse(note, origin, &cp_size, root) == VAULT_OK);
		FUZZ_CHECK(cp_size == a && strcmp(origin, st->origin) == 0);
		FUZZ_CHECK(memcmp(root, roots[a], 32) == 0);
		free(note);
		free(der);
		break;
	case 4:
		if (!ha || !hb)
			break;
		r = merkle_inclusion(&mem_nodes, a, b, path, &count);
		if (a >= b)
			FUZZ_CHECK(r == VAULT_ERR_FORMAT);
		else if (b <= MEM_N) {
			FUZZ_CHECK(r == VAULT_OK);
			FUZZ_CHECK(verify_inclusion(a, b, mem[0][a], path, count, mem_roots[b]));
		} else
			/* beyond the stored tree: a proof needs only the
			 * siblings, which may all be stored (index 64 of 65) */
			FUZZ_CHECK(r == VAULT_OK || r == VAULT_ERR_NOTFOUND ||
			    r == VAULT_ERR_LIMIT);
		break;
	case 5:
		if (!ha || !hb)
			break;
		r = merkle_consistency(&mem_nodes, a, b, path, &count);
		if (a == 0 || a > b)
			FUZZ_CHECK(r == VAULT_ERR_FORMAT);
		else if (b <= MEM_N) {
			FUZZ_CHECK(r == VAULT_OK);
			FUZZ_CHECK(verify_consistency(a, b, mem_roots[a], mem_roots[b], path,
			    count));
		} else
			FUZZ_CHECK(r == VAULT_OK || r == VAULT_ERR_NOTFOUND ||
			    r == VAULT_ERR_LIMIT);
		break;
	}
	free(buf);
	return 0;
}
