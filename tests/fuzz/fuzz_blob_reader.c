/*
 * fuzz_blob_reader: the blob reader (crypto/blob.c) on any bytes, with the
 * key and identifiers of tests/kat/ (a blob on disk is outside input to
 * the reader: a damaged disk, a swapped or edited file).
 *
 * Input: one byte choosing which original the blob is expected to hold
 * (its recorded size and SHA-256: the seven of tests/kat/kat.txt, then
 * the few made at start-up below), one byte choosing how much each read
 * asks for, then the blob's bytes. Whatever the bytes:
 *   - the reader never hands out more than the recorded size;
 *   - it reaches the end (n == 0, VAULT_OK) only if what it handed out is
 *     the recorded original: same size, same SHA-256;
 *   - errors are the documented ones and stay (sticky, nothing handed out);
 *   - the blobs written here with the same key are read back whole.
 * FUZZ_WRITE_SEEDS=DIR writes the seed corpus (the KAT blobs and the
 * blobs made here, each behind its choosing bytes) into DIR and exits.
 */
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <sodium.h>

#include "fuzz.h"

#include "blob.h"
#include "keys.h"

#define MAX_ORIG 16

struct orig {
	uint64_t size;
	uint8_t sha256[32];
	uint8_t *blob;           /* one blob of it, made here (NULL for KAT) */
	size_t blob_len;
};

static struct orig origs[MAX_ORIG];
static unsigned n_origs;
static uint8_t key[32];
static vault_id doc, owner;

static void
hex_in(const char *hex, uint8_t *out, size_t n)
{
	if (sodium_hex2bin(out, n, hex, strlen(hex), NULL, NULL, NULL) != 0)
		abort();
}

struct membuf { uint8_t *p; size_t len, cap, off; };

static vault_err
mem_write(void *ctx, const void *p, size_t len)
{
	struct membuf *m = ctx;

	if (m->len + len > m->cap) {
		m->cap = (m->len + len) * 2;
		if ((m->p = realloc(m->p, m->cap)) == NULL)
			abort();
	}
	memcpy(m->p + m->len, p, len);
	m->len += len;
	return VAULT_OK;
}

static vault_err
mem_read(void *ctx, void *p, size_t cap, size_t *n)
{
	struct membuf *m = ctx;

	*n = m->len - m->off < cap ? m->len - m->off : cap;
	memcpy(p, m->p + m->off, *n);
	m->off += *n;
	return VAULT_OK;
}

/* An original made here: deterministic bytes, text-like or not. */
static void
make(size_t size, int text, enum blob_compress c)
{
	struct membuf m = { NULL, 0, 0, 0 };
	struct blob_sink sink = { mem_write, &m };
	struct blob_writer *w;
	struct blob_result res;
	uint8_t *p = malloc(size + 1);
	uint32_t x = 2463534242u;
	size_t i;

	for (i = 0; i < size; i++) {
		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		p[i] = text ? (uint8_t)"aaaa bbb cc d\n"[x % 14] : (uint8_t)x;
	}
	if (blob_writer_new(key, &doc, &owner, c, &sink, &w) != VAULT_OK ||
	    blob_writer_write(w, p, size) != VAULT_OK ||
	    blob_writer_finish(w, &res) != VAULT_OK)
		abort();
	blob_writer_free(w);
	origs[n_origs].size = size;
	SHA256(p, size, origs[n_origs].sha256);
	FUZZ_CHECK(memcmp(res.sha256, origs[n_origs].sha256, 32) == 0);
	origs[n_origs].blob = m.p;
	origs[n_origs].blob_len = m.len;
	n_origs++;
	free(p);
}

static void
write_seed(const char *dir, const char *name, unsigned sel, const uint8_t *p,
    size_t len)
{
	char path[4096];
	uint8_t head[2] = { (uint8_t)sel, 0xff };
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	if ((f = fopen(path, "wb")) == NULL || fwrite(head, 1, 2, f) != 2 ||
	    fwrite(p, 1, len, f) != len || fclose(f) != 0)
		abort();
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char line[512], name[64], khex[65], dhex[33], ohex[33], shex[65], path[4096];
	const char *seeds = getenv("FUZZ_WRITE_SEEDS");
	unsigned long long size;
	int comp;
	FILE *f;

	(void)argc;
	(void)argv;
	if (sodium_init() < 0)
		abort();
	snprintf(path, sizeof path, "%s/kat.txt", KAT_DIR);
	if ((f = fopen(path, "r")) == NULL)
		abort();
	while (fgets(line, sizeof line, f) != NULL) {
		if (line[0] == '#')
			continue;
		if (sscanf(line, "%63s %64s %32s %32s %llu %64s %d", name, khex, dhex,
		    ohex, &size, shex, &comp) != 7)
			abort();
		hex_in(khex, key, 32);
		hex_in(dhex, doc.b, 16);
		hex_in(ohex, owner.b, 16);
		origs[n_origs].size = size;
		hex_in(shex, origs[n_origs].sha256, 32);
		if (seeds != NULL && size < 100000) {
			uint8_t *b;
			size_t len;
			FILE *k;
			snprintf(path, sizeof path, "%s/%s", KAT_DIR, name);
			if ((k = fopen(path, "rb")) == NULL || (b = malloc(200000)) == NULL)
				abort();
			len = fread(b, 1, 200000, k);
			fclose(k);
			snprintf(path, sizeof path, "kat-%s", name);
			write_seed(seeds, path, n_origs, b, len);
			free(b);
		}
		n_origs++;
	}
	fclose(f);
	make(0, 1, BLOB_COMPRESS_ALWAYS);
	make(100, 1, BLOB_COMPRESS_ALWAYS);
	make(1000, 0, BLOB_COMPRESS_NEVER);
	make(3000, 1, BLOB_COMPRESS_AUTO);
	make(70000, 1, BLOB_COMPRESS_ALWAYS);
	if (seeds != NULL) {
		unsigned i;
		for (i = 0; i < n_origs; i++)
			if (origs[i].blob != NULL) {
				snprintf(name, sizeof name, "made-%u", i);
				write_seed(seeds, name, i, origs[i].blob, origs[i].blob_len);
			}
		exit(0);
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t caps[] = { 65536, 1, 7, 4096, 65535, 100000, 33, 16384 };
	static uint8_t buf[100000];
	struct membuf m;
	struct blob_source src = { mem_read, &m };
	struct blob_reader *r;
	const struct orig *o;
	EVP_MD_CTX *sha;
	uint8_t md[32];
	uint64_t total = 0;
	size_t n, cap;
	vault_err e;
	int whole_seed;

	if (size < 2)
		return 0;
	o = &origs[data[0] % n_origs];
	cap = caps[data[1] % (sizeof caps / sizeof caps[0])];
	m.p = (uint8_t *)data + 2;
	m.len = size - 2;
	m.cap = m.len;
	m.off = 0;
	whole_seed = o->blob != NULL && o->blob_len == m.len &&
	    memcmp(o->blob, m.p, m.len) == 0;
	e = blob_reader_new(key, &doc, &owner, o->size, o->sha256, &src, &r);
	if (e != VAULT_OK) {
		FUZZ_CHECK(!whole_seed);
		FUZZ_CHECK(e == VAULT_ERR_FORMAT || e == VAULT_ERR_UNSUPPORTED ||
		    e == VAULT_ERR_TRUNCATED || e == VAULT_ERR_CORRUPT);
		FUZZ_CHECK(r == NULL);
		return 0;
	}
	if ((sha = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(sha, EVP_sha256(), NULL) != 1)
		abort();
	for (;;) {
		e = blob_reader_read(r, buf, cap, &n);
		if (e != VAULT_OK) {
			FUZZ_CHECK(n == 0);
			FUZZ_CHECK(e == VAULT_ERR_CORRUPT || e == VAULT_ERR_TRUNCATED);
			FUZZ_CHECK(!whole_seed);
			/* sticky */
			FUZZ_CHECK(blob_reader_read(r, buf, cap, &n) == e && n == 0);
			break;
		}
		FUZZ_CHECK(n <= cap && n <= BLOB_CHUNK);
		total += n;
		FUZZ_CHECK(total <= o->size);
		EVP_DigestUpdate(sha, buf, n);
		if (n == 0) {
			/* the end: only ever the recorded original */
			EVP_DigestFinal_ex(sha, md, NULL);
			FUZZ_CHECK(total == o->size);
			FUZZ_CHECK(memcmp(md, o->sha256, 32) == 0);
			FUZZ_CHECK(blob_reader_read(r, buf, cap, &n) == VAULT_OK && n == 0);
			break;
		}
	}
	EVP_MD_CTX_free(sha);
	blob_reader_free(r);
	return 0;
}
