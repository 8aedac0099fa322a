/*
 * test_blob.c: the blob format. Round trips at the sizes where chunking and
 * batching change behaviour, compressible and not; and every kind of
 * tampering, each failing with its own clear error.
 */
#include <openssl/sha.h>
#include <sodium.h>

#include "blob.h"
#include "keys.h"
#include "testlib.h"
#include "testutil.h"

static int test_setup(void) { return sodium_init() < 0 ? -1 : 0; }

/* A growable in-memory sink and a source over a byte array. */
struct mem { uint8_t *p; size_t len, cap, off; };

static vault_err
mem_write(void *ctx, const void *p, size_t n)
{
	struct mem *m = ctx;
	if (m->len + n > m->cap) {
		size_t cap = (m->len + n) * 2;
		uint8_t *q = realloc(m->p, cap);
		if (q == NULL) return VAULT_ERR_NOMEM;
		m->p = q;
		m->cap = cap;
	}
	memcpy(m->p + m->len, p, n);
	m->len += n;
	return VAULT_OK;
}

static vault_err
mem_read(void *ctx, void *p, size_t cap, size_t *n)
{
	struct mem *m = ctx;
	size_t k = m->len - m->off;
	/* Short reads on purpose: the reader must not depend on full ones. */
	if (k > cap) k = cap;
	if (k > 7001) k = 7001;
	memcpy(p, m->p + m->off, k);
	m->off += k;
	*n = k;
	return VAULT_OK;
}

struct fixture {
	uint8_t dk[KEYS_DOCKEY_LEN];
	vault_id doc, owner;
};

static void
fixture_init(struct fixture *f)
{
	crypto_secretstream_xchacha20poly1305_keygen(f->dk);
	vault_id_random(&f->doc);
	vault_id_random(&f->owner);
}

/* Encrypts data, feeding the writer in pieces of `piece` bytes. */
static vault_err
seal(const struct fixture *f, const uint8_t *data, size_t n, size_t piece,
    enum blob_compress mode, struct mem *out, struct blob_result *res)
{
	struct blob_sink sink = { mem_write, out };
	struct blob_writer *w;
	vault_err r;
	size_t off = 0;

	memset(out, 0, sizeof *out);
	if ((r = blob_writer_new(f->dk, &f->doc, &f->owner, mode, &sink, &w)) != VAULT_OK)
		return r;
	while (off < n) {
		size_t k = n - off < piece ? n - off : piece;
		if ((r = blob_writer_write(w, data + off, k)) != VAULT_OK)
			break;
		off += k;
	}
	if (r == VAULT_OK)
		r = blob_writer_finish(w, res);
	blob_writer_free(w);
	return r;
}

/* Decrypts everything; returns the error and how many bytes came out. */
static vault_err
open_all(const struct fixture *f, const vault_id *doc, const vault_id *owner,
    struct mem *in, uint64_t expected, const uint8_t *sha, uint8_t *out,
    size_t cap, size_t *outn)
{
	struct blob_source src = { mem_read, in };
	struct blob_reader *rd;
	vault_err r;
	size_t n;

	*outn = 0;
	in->off = 0;
	if ((r = blob_reader_new(f->dk, doc, owner, expected, sha, &src, &rd)) != VAULT_OK)
		return r;
	for (;;) {
		r = blob_reader_read(rd, out + *outn, cap - *outn > 10000 ? 10000 : cap - *outn, &n);
		if (r != VAULT_OK || n == 0)
			break;
		*outn += n;
	}
	blob_reader_free(rd);
	return r;
}

static void
round_trip(size_t n, int text, enum blob_compress mode, size_t piece,
    int expect_compressed)
{
	struct fixture f;
	struct mem m;
	struct blob_result res;
	uint8_t *data = malloc(n + 1), *back = malloc(n + 1);
	uint8_t md[32];
	size_t got;

	fixture_init(&f);
	if (text) tu_fill_text(data, n, (uint32_t)n); else tu_fill_random(data, n, (uint32_t)n);
	CHECK_EQ(seal(&f, data, n, piece, mode, &m, &res), VAULT_OK);
	CHECK_EQ(res.size, n);
	CHECK_EQ(res.cipher_size, m.len);
	SHA256(data, n, md);
	CHECK(memcmp(md, res.sha256, 32) == 0);
	SHA256(m.p, m.len, md);
	CHECK(memcmp(md, res.cipher_sha256, 32) == 0);
	if (expect_compressed >= 0)
		CHECK_EQ(res.compressed, expect_compressed);
	CHECK_EQ(open_all(&f, &f.doc, &f.owner, &m, n, res.sha256, back, n + 1, &got), VAULT_OK);
	CHECK_EQ(got, n);
	CHECK(n == 0 || memcmp(data, back, n) == 0);
	free(m.p);
	free(data);
	free(back);
}

#define C BLOB_CHUNK
#define BATCH (8 * BLOB_CHUNK)

/* blob_writer_on_fingerprint: what a deposit's time-stamp is made from. */
struct fp_seen {
	int calls;
	uint8_t sha[32];
};

static void
fp_cb(void *arg, const uint8_t sha256[32])
{
	struct fp_seen *fs = arg;

	fs->calls++;
	memcpy(fs->sha, sha256, 32);
}

TEST(fingerprint_callback_gets_the_original_digest_once_before_finish)
{
	/* inline (no hash thread) up to two chunks, threaded beyond, one
	 * batch or several; deflated or not */
	static const size_t sizes[] = { 0, 1, 2 * BLOB_CHUNK, 2 * BLOB_CHUNK + 1,
	    4 * BLOB_CHUNK, 4 * BLOB_CHUNK + 1, (3u << 20) + 5 };
	enum blob_compress modes[] = { BLOB_COMPRESS_NEVER, BLOB_COMPRESS_ALWAYS };
	size_t i, k, off;
	int text;

	for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
		for (k = 0; k < 2; k++) {
			size_t n = sizes[i];
			uint8_t *data = malloc(n + 1), md[32];
			struct mem m = { 0 };
			struct blob_sink sink = { mem_write, &m };
			struct blob_writer *w;
			struct blob_result res;
			struct fp_seen fs = { 0 };
			struct fixture f;

			text = (int)k;
			fixture_init(&f);
			if (text) tu_fill_text(data, n, 7); else tu_fill_random(data, n, 7);
			REQUIRE(blob_writer_new(f.dk, &f.doc, &f.owner, modes[k], &sink,
			    &w) == VAULT_OK);
			blob_writer_on_fingerprint(w, fp_cb, &fs);
			for (off = 0; off < n; off += 100000)
				REQUIRE(blob_writer_write(w, data + off,
				    n - off < 100000 ? n - off : 100000) == VAULT_OK);
			CHECK_EQ(blob_writer_finish(w, &res), VAULT_OK);
			/* called once, and done by the time finish returns */
			CHECK_EQ(fs.calls, 1);
			SHA256(data, n, md);
			CHECK(memcmp(fs.sha, md, 32) == 0);
			CHECK(memcmp(res.sha256, md, 32) == 0);
			SHA256(m.p, m.len, md);
			CHECK(memcmp(res.cipher_sha256, md, 32) == 0);
			blob_writer_free(w);
			free(m.p);
			free(data);
		}
}

TEST(round_trip_at_chunk_and_batch_boundaries_incompressible)
{
	size_t sizes[] = { 0, 1, C - 1, C, C + 1, 2 * C, BATCH - 1, BATCH,
	    BATCH + 1, 2 * BATCH, 5u << 20 };
	size_t i;
	for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		round_trip(sizes[i], 0, BLOB_COMPRESS_AUTO, 1u << 20, sizes[i] ? 0 : -1);
		round_trip(sizes[i], 0, BLOB_COMPRESS_AUTO, 4093, sizes[i] ? 0 : -1);
	}
}

TEST(round_trip_at_chunk_and_batch_boundaries_compressible)
{
	size_t sizes[] = { 1, C - 1, C, C + 1, BATCH, BATCH + 1, 6u << 20 };
	size_t i;
	for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		round_trip(sizes[i], 1, BLOB_COMPRESS_AUTO, 1u << 20, sizes[i] > 64 ? 1 : -1);
		round_trip(sizes[i], 1, BLOB_COMPRESS_ALWAYS, 777, 1);
		round_trip(sizes[i], 1, BLOB_COMPRESS_NEVER, 65536, 0);
	}
}

TEST(random_data_is_not_compressed_even_when_asked_for_auto)
{
	round_trip(3u << 20, 0, BLOB_COMPRESS_AUTO, 1u << 16, 0);
	round_trip(3u << 20, 0, BLOB_COMPRESS_ALWAYS, 1u << 16, 1);
}

TEST(text_shrinks_when_compressed)
{
	struct fixture f;
	struct mem m;
	struct blob_result res;
	size_t n = 2u << 20;
	uint8_t *data = malloc(n);

	fixture_init(&f);
	tu_fill_text(data, n, 7);
	CHECK_EQ(seal(&f, data, n, n, BLOB_COMPRESS_AUTO, &m, &res), VAULT_OK);
	CHECK(res.compressed);
	CHECK(m.len < n / 2);
	free(m.p);
	free(data);
}

/* ---- tampering ------------------------------------------------------- */

struct sealed { struct fixture f; struct mem m; uint8_t *data; size_t n; uint8_t sha[32]; };

static void
make_sealed(struct sealed *s, size_t n, int text)
{
	struct blob_result res;
	fixture_init(&s->f);
	s->n = n;
	s->data = malloc(n);
	if (text) tu_fill_text(s->data, n, 3); else tu_fill_random(s->data, n, 3);
	if (seal(&s->f, s->data, n, n, text ? BLOB_COMPRESS_ALWAYS :
	    BLOB_COMPRESS_NEVER, &s->m, &res) != VAULT_OK)
		abort();
	memcpy(s->sha, res.sha256, 32);
}

static void
free_sealed(struct sealed *s)
{
	free(s->m.p);
	free(s->data);
}

/* Opens a tampered copy; returns the error and checks that whatever came
 * out before it is an unaltered prefix of the original (chunks release only
 * after their tag verifies). */
static vault_err
open_tampered(struct sealed *s, struct mem *t, const vault_id *doc,
    const vault_id *owner, size_t *got)
{
	uint8_t *out = malloc(s->n + BLOB_CHUNK);
	vault_err r = open_all(&s->f, doc, owner, t, s->n, s->sha, out, s->n + BLOB_CHUNK, got);
	CHECK(*got <= s->n);
	CHECK(*got == 0 || memcmp(out, s->data, *got) == 0);
	free(out);
	return r;
}

static struct mem
copy_of(const struct mem *m)
{
	struct mem c = { malloc(m->len + 1), m->len, m->len + 1, 0 };
	memcpy(c.p, m->p, m->len);
	return c;
}

TEST(flipped_header_byte_fails_before_any_plaintext)
{
	struct sealed s;
	struct mem t;
	size_t got, off;
	make_sealed(&s, 3 * C + 5, 0);
	/* magic, version, flags, reserved, and the stream header */
	size_t offs[] = { 0, 4, 5, 6, 7, 8, 20, 31 };
	vault_err want[] = { VAULT_ERR_FORMAT, VAULT_ERR_UNSUPPORTED,
	    VAULT_ERR_UNSUPPORTED, VAULT_ERR_UNSUPPORTED, VAULT_ERR_UNSUPPORTED,
	    VAULT_ERR_CORRUPT, VAULT_ERR_CORRUPT, VAULT_ERR_CORRUPT };
	for (off = 0; off < sizeof offs / sizeof offs[0]; off++) {
		t = copy_of(&s.m);
		t.p[offs[off]] ^= 0x02;
		CHECK_EQ(open_tampered(&s, &t, &s.f.doc, &s.f.owner, &got), want[off]);
		CHECK_EQ(got, 0);
		free(t.p);
	}
	/* the deflate flag set on an uncompressed blob: bound as AD */
	t = copy_of(&s.m);
	t.p[5] |= BLOB_FLAG_DEFLATE;
	CHECK_EQ(open_tampered(&s, &t, &s.f.doc, &s.f.owner, &got), VAULT_ERR_CORRUPT);
	CHECK_EQ(got, 0);
	free(t.p);
	free_sealed(&s);
}

TEST(flipped_chunk_byte_and_tag_byte_fail_as_corrupt)
{
	struct sealed s;
	struct mem t;
	size_t got;
	size_t chunk1 = BLOB_HEADER_LEN + (C + 17);
	make_sealed(&s, 3 * C + 5, 0);
	/* first byte of chunk 0 (its tag byte), a data byte of chunk 1, the
	 * last MAC byte of chunk 1, a byte of the final chunk */
	size_t offs[] = { BLOB_HEADER_LEN, chunk1 + 100, chunk1 + C + 16,
	    s.m.len - 3 };
	size_t i;
	for (i = 0; i < sizeof offs / sizeof offs[0]; i++) {
		t = copy_of(&s.m);
		t.p[offs[i]] ^= 0x80;
		CHECK_EQ(open_tampered(&s, &t, &s.f.doc, &s.f.owner, &got), VAULT_ERR_CORRUPT);
		free(t.p);
	}
	free_sealed(&s);
}

TEST(truncation_anywhere_fails)
{
	struct sealed s;
	struct mem t;
	size_t got, cut;
	make_sealed(&s, 3 * C + 5, 0);
	for (cut = 0; cut < s.m.len; cut += 9973) {
		t = copy_of(&s.m);
		t.len = cut;
		vault_err r = open_tampered(&s, &t, &s.f.doc, &s.f.owner, &got);
		CHECK(r == VAULT_ERR_TRUNCATED || r == VAULT_ERR_CORRUPT || r == VAULT_ERR_FORMAT);
		free(t.p);
	}
	/* exactly at a chunk boundary: a clean cut is TRUNCATED */
	t = copy_of(&s.m);
	t.len = BLOB_HEADER_LEN + 2 * (C + 17);
	CHECK_EQ(open_tampered(&s, &t, &s.f.doc, &s.f.owner, &got), VAULT_ERR_TRUNCATED);
	free(t.p);
	free_sealed(&s);
}

TEST(dropped_final_chunk_fails_as_truncated)
{
	struct sealed s;
	struct mem t;
	size_t got;
	make_sealed(&s, 3 * C + 5, 0);
	t = copy_of(&s.m);
	t.len -= 5 + 17;
	CHECK_EQ(open_tampered(&s, &t, &s.f.doc, &s.f.owner, &got), VAULT_ERR_TRUNCATED);
	CHECK_EQ(got, 3 * C);
	free(t.p);
	free_sealed(&s);
}

TEST(reordered_chunks_fail_and_yield_nothing_past_the_swap)
{
	struct sealed s;
	struct mem t;
	size_t got, cl = C + 17;
	make_sealed(&s, 4 * C + 5, 0);
	t = copy_of(&s.m);
	/* swap chunks 1 and 2 */
	memcpy(t.p + BLOB_HEADER_LEN + cl, s.m.p + BLOB_HEADER_LEN + 2 * cl, cl);
	memcpy(t.p + BLOB_HEADER_LEN + 2 * cl, s.m.p + BLOB_HEADER_LEN + cl, cl);
	CHECK_EQ(open_tampered(&s, &t, &s.f.doc, &s.f.owner, &got), VAULT_ERR_CORRUPT);
	CHECK(got <= C);
	free(t.p);
	free_sealed(&s);
}

TEST(trailing_bytes_after_final_chunk_fail)
{
	struct sealed s;
	struct mem t;
	size_t got;
	make_sealed(&s, C + 5, 0);
	t.p = malloc(s.m.len + 1);
	memcpy(t.p, s.m.p, s.m.len);
	t.p[s.m.len] = 0;
	t.len = s.m.len + 1;
	CHECK_EQ(open_tampered(&s, &t, &s.f.doc, &s.f.owner, &got), VAULT_ERR_CORRUPT);
	free(t.p);
	free_sealed(&s);
}

TEST(blob_of_another_document_or_person_fails_before_any_plaintext)
{
	struct sealed s;
	vault_id other;
	size_t got;
	make_sealed(&s, 2 * C, 1);
	vault_id_random(&other);
	CHECK_EQ(open_tampered(&s, &s.m, &other, &s.f.owner, &got), VAULT_ERR_CORRUPT);
	CHECK_EQ(got, 0);
	CHECK_EQ(open_tampered(&s, &s.m, &s.f.doc, &other, &got), VAULT_ERR_CORRUPT);
	CHECK_EQ(got, 0);
	free_sealed(&s);
}

TEST(wrong_expected_size_or_fingerprint_is_corrupt)
{
	struct sealed s;
	uint8_t *out;
	size_t got;
	make_sealed(&s, C + 9, 1);
	out = malloc(2 * C);
	s.m.off = 0;
	CHECK_EQ(open_all(&s.f, &s.f.doc, &s.f.owner, &s.m, C + 8, s.sha, out, 2 * C, &got), VAULT_ERR_CORRUPT);
	CHECK_EQ(open_all(&s.f, &s.f.doc, &s.f.owner, &s.m, C + 10, s.sha, out, 2 * C, &got), VAULT_ERR_CORRUPT);
	/* the right size with another fingerprint: the recorded hash of the
	 * original is checked too */
	s.sha[0] ^= 1;
	CHECK_EQ(open_all(&s.f, &s.f.doc, &s.f.owner, &s.m, C + 9, s.sha, out, 2 * C, &got), VAULT_ERR_CORRUPT);
	s.sha[0] ^= 1;
	CHECK_EQ(open_all(&s.f, &s.f.doc, &s.f.owner, &s.m, C + 9, s.sha, out, 2 * C, &got), VAULT_OK);
	free(out);
	free_sealed(&s);
}

TEST(wrong_key_fails_before_any_plaintext)
{
	struct sealed s;
	size_t got;
	make_sealed(&s, 1000, 0);
	crypto_secretstream_xchacha20poly1305_keygen(s.f.dk);
	CHECK_EQ(open_tampered(&s, &s.m, &s.f.doc, &s.f.owner, &got), VAULT_ERR_CORRUPT);
	CHECK_EQ(got, 0);
	free_sealed(&s);
}

/* ---- known answers ---------------------------------------------------- */

/* The blobs of tests/kat/ were written by the first version of the format
 * with a fixed key and ids. Every later build must open them to exactly the
 * recorded bytes: the format on disk cannot drift unnoticed. */
TEST(known_answer_blobs_of_format_v1_still_decrypt)
{
	char path[1024], line[512], name[64], key[65], doc[33], owner[33], sha[65];
	size_t size, len, got;
	int compressed, seen = 0;
	FILE *man;

	snprintf(path, sizeof path, "%s/kat.txt", KAT_DIR);
	man = fopen(path, "r");
	REQUIRE(man != NULL);
	while (fgets(line, sizeof line, man) != NULL) {
		struct fixture f;
		struct mem m;
		uint8_t md[32], want[32], *out;
		if (line[0] == '#' || sscanf(line, "%63s %64s %32s %32s %zu %64s %d",
		    name, key, doc, owner, &size, sha, &compressed) != 7)
			continue;
		snprintf(path, sizeof path, "%s/%s", KAT_DIR, name);
		memset(&m, 0, sizeof m);
		m.p = tu_read_file(path, &len);
		REQUIRE(m.p != NULL);
		m.len = m.cap = len;
		REQUIRE(sodium_hex2bin(f.dk, 32, key, 64, NULL, NULL, NULL) == 0);
		REQUIRE(vault_id_from_text(doc, &f.doc) == VAULT_OK);
		REQUIRE(vault_id_from_text(owner, &f.owner) == VAULT_OK);
		REQUIRE(sodium_hex2bin(want, 32, sha, 64, NULL, NULL, NULL) == 0);
		CHECK_EQ(m.p[5] & BLOB_FLAG_DEFLATE, compressed);
		out = malloc(size + 1);
		CHECK_EQ(open_all(&f, &f.doc, &f.owner, &m, size, want, out, size + 1, &got), VAULT_OK);
		CHECK_EQ(got, size);
		SHA256(out, got, md);
		CHECK(memcmp(md, want, 32) == 0);
		/* and the same bytes with one bit changed do not */
		m.p[len - 1] ^= 1;
		CHECK_EQ(open_all(&f, &f.doc, &f.owner, &m, size, want, out, size + 1, &got), VAULT_ERR_CORRUPT);
		free(out);
		free(m.p);
		seen++;
	}
	fclose(man);
	CHECK_EQ(seen, 7);
}

TEST_MAIN
