/*
 * blob.c: the blob writer and reader (format in blob.h and docs/FORMAT.md).
 *
 * Writer data flow, one pass:
 *
 *   write() ─► in[cur] (BLOB_BATCH bytes) ──► hashq: SHA-256(original)
 *                        │
 *                        └─(deflate?)─► chunker ─► secretstream ─► out[cur]
 *                                                         │
 *                      hashq: SHA-256(blob) ◄─────────────┤
 *                                                   sink.write()
 *
 * in[] and out[] are rings of BLOB_RING buffers: while the hash thread reads
 * some, the writer fills the next. A buffer is reused only after its last
 * hash job has finished (hashq_wait on the ticket kept beside it). Two
 * were not enough: handing a buffer over wakes the other thread, which on
 * a virtual machine costs a good part of a batch's time, and the two
 * threads took turns waiting for each other (a third of a large deposit's
 * time idle, measured). Four let each run ahead.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <sodium.h>
#include <zlib.h>

#include "blob.h"
#include "hashq.h"
#include "secmem.h"
#include "keys.h"

#define SS_ABYTES crypto_secretstream_xchacha20poly1305_ABYTES
#define SS_HEADERBYTES crypto_secretstream_xchacha20poly1305_HEADERBYTES
#define BLOB_BATCH_CHUNKS 4
#define BLOB_BATCH (BLOB_BATCH_CHUNKS * BLOB_CHUNK)
#define BLOB_RING 4                /* input batches, and output batches */
#define BLOB_OUT_CAP (BLOB_HEADER_LEN + BLOB_BATCH_CHUNKS * (BLOB_CHUNK + SS_ABYTES))
#define BLOB_SAMPLE 16384          /* bytes looked at to decide on deflate */
#define BLOB_DEFLATE_LEVEL 6
/* deflate only if the sample shrinks below 90 % (JPEG, PNG and most PDFs
 * stay at 95–100 % and would cost ten times the pipeline's time for nothing) */
#define BLOB_DEFLATE_WORTH(in, out) ((out) * 10 < (in) * 9)

_Static_assert(SS_ABYTES == BLOB_CHUNK_OVERHEAD, "chunk overhead");
_Static_assert(BLOB_HEADER_LEN == 8 + SS_HEADERBYTES, "header layout");
_Static_assert(BLOB_OUT_CAP >= BLOB_HEADER_LEN + BLOB_CHUNK + SS_ABYTES, "out");

/* Plaintext-carrying buffers share one guarded allocation per stream. */
/* The second input batch and output buffer are allocated only when a
 * document needs them: most papers fit in one batch, and every guarded
 * page costs an mmap, an mlock and a wipe. */
struct blob_wplain {
	crypto_secretstream_xchacha20poly1305_state st;
	uint8_t in0[BLOB_BATCH];
	uint8_t pend[BLOB_CHUNK];
	uint8_t zbuf[BLOB_CHUNK];
	uint8_t sample[BLOB_SAMPLE]; /* deflated sample: plaintext-derived */
};

/* zlib's windows and hash tables hold plaintext: allocate them in guarded
 * memory, which secmem_free wipes, instead of zlib's default malloc. */
static voidpf
z_guarded_alloc(voidpf opaque, uInt items, uInt size)
{
	(void)opaque;
	if (size != 0 && items > SIZE_MAX / size)
		return NULL;
	return secmem_alloc((size_t)items * size);
}

static void
z_guarded_free(voidpf opaque, voidpf p)
{
	(void)opaque;
	secmem_free(p);
}

static void
z_guarded(z_stream *z)
{
	memset(z, 0, sizeof *z);
	z->zalloc = z_guarded_alloc;
	z->zfree = z_guarded_free;
}

struct blob_writer {
	struct blob_wplain *g;      /* guarded */
	uint8_t *in[BLOB_RING];     /* in[0] = g->in0; the others guarded, lazily */
	uint8_t *out[BLOB_RING];
	size_t out_len;
	size_t out_hashed;          /* bytes of out[out_cur] handed to hashq */
	int out_cur;
	uint64_t out_ticket[BLOB_RING];
	size_t in_len;
	int in_cur;
	uint64_t in_ticket[BLOB_RING];
	size_t pend_len;
	uint8_t header[BLOB_HEADER_LEN];
	uint8_t ad[BLOB_AD_LEN];
	int header_done;
	enum blob_compress mode;
	int compressed;
	z_stream z;
	int z_live;
	struct hashq *hq;
	EVP_MD_CTX *sha_plain, *sha_cipher;
	struct blob_sink sink;
	uint64_t size, cipher_size;
	vault_err err;              /* sticky */
	int finishing;              /* the last batch is being encrypted */
	int finished;               /* every byte is with the sink */
	int fingerprinted;          /* the digests are final */
	/* blob_writer_on_fingerprint: called on the hash thread with
	 * plain_sha, made final there (plain_final: 1 done, -1 failed) */
	void (*fp_fn)(void *, const uint8_t *);
	void *fp_arg;
	uint8_t plain_sha[32];
	int plain_final;
};

static void
make_ad(const uint8_t header[BLOB_HEADER_LEN], const vault_id *doc,
    const vault_id *owner, uint8_t ad[BLOB_AD_LEN])
{
	memcpy(ad, header, 8);
	memcpy(ad + 8, doc->b, VAULT_ID_LEN);
	memcpy(ad + 8 + VAULT_ID_LEN, owner->b, VAULT_ID_LEN);
}

/* ---- writer ---------------------------------------------------------- */

vault_err
blob_writer_new(const uint8_t *dk, const vault_id *document_id,
    const vault_id *owner_id, enum blob_compress compress,
    const struct blob_sink *sink, struct blob_writer **wp)
{
	struct blob_writer *w;

	*wp = NULL;
	if ((w = calloc(1, sizeof *w)) == NULL)
		return VAULT_ERR_NOMEM;
	if ((w->g = secmem_alloc(sizeof *w->g)) == NULL ||
	    (w->out[0] = malloc(BLOB_OUT_CAP)) == NULL ||
	    (w->sha_plain = EVP_MD_CTX_new()) == NULL ||
	    (w->sha_cipher = EVP_MD_CTX_new()) == NULL) {
		blob_writer_free(w);
		return VAULT_ERR_NOMEM;
	}
	if (EVP_DigestInit_ex(w->sha_plain, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestInit_ex(w->sha_cipher, EVP_sha256(), NULL) != 1) {
		blob_writer_free(w);
		return VAULT_ERR_INTERNAL;
	}
	w->in[0] = w->g->in0;
	memcpy(w->header, BLOB_MAGIC, 4);
	w->header[4] = BLOB_VERSION;
	w->header[5] = 0;       /* flags: set once the deflate decision is made */
	w->header[6] = w->header[7] = 0;
	crypto_secretstream_xchacha20poly1305_init_push(&w->g->st,
	    w->header + 8, dk);
	w->mode = compress;
	w->sink = *sink;
	/* The AD needs the flags byte, so it is made with the header. */
	memcpy(w->ad + 8, document_id->b, VAULT_ID_LEN);
	memcpy(w->ad + 8 + VAULT_ID_LEN, owner_id->b, VAULT_ID_LEN);
	*wp = w;
	return VAULT_OK;
}

/* Hands the bytes of out[cur] not yet hashed to the hash thread. Called
 * after each chunk: the blob's hash follows the encryption chunk by chunk
 * instead of waiting for the whole batch (for a 200 KiB paper, the two
 * hashes then end with the encryption, not 0.2 ms after it). */
static void
hash_out(struct blob_writer *w)
{
	int cur = w->out_cur;

	if (w->out_len == w->out_hashed)
		return;
	w->out_ticket[cur] = hashq_submit(w->hq, w->sha_cipher,
	    w->out[cur] + w->out_hashed, w->out_len - w->out_hashed);
	w->out_hashed = w->out_len;
}

/* Hands out[cur] to the sink, then switches buffers. */
static vault_err
flush_out(struct blob_writer *w)
{
	vault_err r;
	int cur = w->out_cur;

	if (w->out_len == 0)
		return VAULT_OK;
	hash_out(w);
	if ((r = w->sink.write(w->sink.ctx, w->out[cur], w->out_len)) != VAULT_OK)
		return r;
	w->cipher_size += w->out_len;
	w->out_len = 0;
	w->out_hashed = 0;
	w->out_cur = (cur + 1) % BLOB_RING;
	if (w->out[w->out_cur] == NULL &&
	    (w->out[w->out_cur] = malloc(BLOB_OUT_CAP)) == NULL)
		return VAULT_ERR_NOMEM;
	hashq_wait(w->hq, w->out_ticket[w->out_cur]);
	return VAULT_OK;
}

static vault_err
emit_chunk(struct blob_writer *w, const uint8_t *p, size_t len, uint8_t tag)
{
	vault_err r;

	if (w->out_len + len + SS_ABYTES > BLOB_OUT_CAP &&
	    (r = flush_out(w)) != VAULT_OK)
		return r;
	if (crypto_secretstream_xchacha20poly1305_push(&w->g->st,
	    w->out[w->out_cur] + w->out_len, NULL, p, len, w->ad, BLOB_AD_LEN,
	    tag) != 0)
		return VAULT_ERR_INTERNAL;
	w->out_len += len + SS_ABYTES;
	/* the last batch's chunks hashed one by one as they come (a small
	 * paper is one batch: its hash then ends with its encryption); the
	 * others as one job per batch, fewer hand-overs */
	if (w->finishing)
		hash_out(w);
	return VAULT_OK;
}

/* The chunker: cuts the (possibly deflated) stream into BLOB_CHUNK pieces.
 * A full chunk is emitted as a MESSAGE only once more bytes are known to
 * follow; the last one is held back for the FINAL tag. */
static vault_err
stream_bytes(struct blob_writer *w, const uint8_t *p, size_t len)
{
	vault_err r;
	size_t k;

	while (len > 0) {
		if (w->pend_len == BLOB_CHUNK) {
			if ((r = emit_chunk(w, w->g->pend, BLOB_CHUNK,
			    crypto_secretstream_xchacha20poly1305_TAG_MESSAGE)) != VAULT_OK)
				return r;
			w->pend_len = 0;
		}
		if (w->pend_len == 0 && len > BLOB_CHUNK) {
			if ((r = emit_chunk(w, p, BLOB_CHUNK,
			    crypto_secretstream_xchacha20poly1305_TAG_MESSAGE)) != VAULT_OK)
				return r;
			p += BLOB_CHUNK;
			len -= BLOB_CHUNK;
			continue;
		}
		k = BLOB_CHUNK - w->pend_len;
		if (k > len)
			k = len;
		memcpy(w->g->pend + w->pend_len, p, k);
		w->pend_len += k;
		p += k;
		len -= k;
	}
	return VAULT_OK;
}

/* Deflates p (or, with flush == Z_FINISH, the rest) into the chunker. */
static vault_err
deflate_bytes(struct blob_writer *w, const uint8_t *p, size_t len, int flush)
{
	vault_err r;
	int zr;

	w->z.next_in = (Bytef *)(uintptr_t)p;
	w->z.avail_in = (uInt)len;
	do {
		w->z.next_out = w->g->zbuf;
		w->z.avail_out = sizeof w->g->zbuf;
		zr = deflate(&w->z, flush);
		if (zr == Z_STREAM_ERROR)
			return VAULT_ERR_INTERNAL;
		if ((r = stream_bytes(w, w->g->zbuf,
		    sizeof w->g->zbuf - w->z.avail_out)) != VAULT_OK)
			return r;
	} while (w->z.avail_out == 0 || (flush == Z_FINISH && zr != Z_STREAM_END));
	return VAULT_OK;
}

/* Shannon entropy of the bytes of p, in bits per byte (0 to 8). */
static double
sample_entropy_bits(const uint8_t *p, size_t len)
{
	uint32_t count[256] = { 0 };
	double h = 0, f;
	size_t i;

	for (i = 0; i < len; i++)
		count[p[i]]++;
	for (i = 0; i < 256; i++)
		if (count[i] != 0) {
			f = (double)count[i] / (double)len;
			h -= f * log2(f);
		}
	return h;
}

/* Would deflate pay on this sample? Level 1 is enough to tell. */
static int
sample_compresses(const uint8_t *p, size_t len, uint8_t *scratch, size_t cap)
{
	z_stream z;
	size_t out;
	int zr;

	if (len == 0)
		return 0;
	/* Bytes that are near-uniform one by one (order-0 entropy above 7.5
	 * bits a byte: JPEG, PNG, a PDF of deflated streams) leave deflate
	 * nothing worth 10 %: decided from a histogram in a few microseconds
	 * instead of a quarter of a millisecond of trial deflate, a tenth of
	 * what a small deposit cost. */
	if (sample_entropy_bits(p, len) > 7.5)
		return 0;
	z_guarded(&z);
	/* Level 1 over 16 KiB, with a window no larger than the sample: it
	 * tells text (about 15 %) from JPEG, PNG or a deflated PDF (100 %) in
	 * a quarter of a millisecond. (A tiny hash, memLevel 1, makes level 1
	 * five times slower on random bytes: measured, not guessed.) */
	if (deflateInit2(&z, 1, Z_DEFLATED, 14, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return 0;
	z.next_in = (Bytef *)(uintptr_t)p;
	z.avail_in = (uInt)len;
	z.next_out = scratch;
	z.avail_out = (uInt)cap;
	zr = deflate(&z, Z_FINISH);
	out = cap - z.avail_out;
	deflateEnd(&z);
	/* Out of room before the end means it did not shrink enough. */
	return zr == Z_STREAM_END && BLOB_DEFLATE_WORTH(len, out);
}

static vault_err
start_stream(struct blob_writer *w, const uint8_t *first, size_t first_len,
    int last)
{
	vault_err r;
	size_t s = first_len < BLOB_SAMPLE ? first_len : BLOB_SAMPLE;

	/* The hashes on a thread of their own, beside the encryption, from
	 * two chunks on (a 200 KiB scan: 0.25 instead of 0.44 ms; starting
	 * the thread costs a twentieth of a millisecond). */
	if ((r = hashq_new(!last || first_len > 2 * BLOB_CHUNK, HASHQ_WAKE,
	    &w->hq)) != VAULT_OK)
		return r;
	switch (w->mode) {
	case BLOB_COMPRESS_NEVER: w->compressed = 0; break;
	case BLOB_COMPRESS_ALWAYS: w->compressed = 1; break;
	case BLOB_COMPRESS_AUTO:
		/* Out of room in sample[] means it did not shrink. */
		w->compressed = sample_compresses(first, s, w->g->sample,
		    sizeof w->g->sample);
		break;
	}
	if (w->compressed) {
		z_guarded(&w->z);
		if (deflateInit(&w->z, BLOB_DEFLATE_LEVEL) != Z_OK)
			return VAULT_ERR_NOMEM;
		w->z_live = 1;
		w->header[5] |= BLOB_FLAG_DEFLATE;
	}
	memcpy(w->ad, w->header, 8);
	memcpy(w->out[0], w->header, BLOB_HEADER_LEN);
	w->out_len = BLOB_HEADER_LEN;
	w->out_cur = 0;
	w->header_done = 1;
	return VAULT_OK;
}

void
blob_writer_on_fingerprint(struct blob_writer *w,
    void (*fn)(void *arg, const uint8_t sha256[32]), void *arg)
{
	w->fp_fn = fn;
	w->fp_arg = arg;
}

/* A hash-thread job queued after the original's last bytes: its digest,
 * then the caller's fn. */
static void
fingerprint_job(void *arg)
{
	struct blob_writer *w = arg;
	unsigned int n;

	if (EVP_DigestFinal_ex(w->sha_plain, w->plain_sha, &n) != 1) {
		w->plain_final = -1;
		return;
	}
	w->plain_final = 1;
	w->fp_fn(w->fp_arg, w->plain_sha);
}

/* Processes in[cur] (full, or the last partial batch). */
static vault_err
process_in(struct blob_writer *w, int last)
{
	int cur = w->in_cur;
	const uint8_t *p = w->in[cur];
	size_t len = w->in_len;
	vault_err r;

	if (!w->header_done && (r = start_stream(w, p, len, last)) != VAULT_OK)
		return r;
	if (len > 0)
		w->in_ticket[cur] = hashq_submit(w->hq, w->sha_plain, p, len);
	if (last && w->fp_fn != NULL)
		(void)hashq_submit_fn(w->hq, fingerprint_job, w);
	w->finishing = last;
	if (w->compressed)
		r = deflate_bytes(w, p, len, last ? Z_FINISH : Z_NO_FLUSH);
	else
		r = stream_bytes(w, p, len);
	if (r != VAULT_OK)
		return r;
	w->in_len = 0;
	if (last)
		return VAULT_OK;
	w->in_cur = (cur + 1) % BLOB_RING;
	if (w->in[w->in_cur] == NULL &&
	    (w->in[w->in_cur] = secmem_alloc(BLOB_BATCH)) == NULL)
		return VAULT_ERR_NOMEM;
	hashq_wait(w->hq, w->in_ticket[w->in_cur]);
	return VAULT_OK;
}

vault_err
blob_writer_write(struct blob_writer *w, const void *p, size_t len)
{
	const uint8_t *s = p;
	size_t k;

	if (w->err != VAULT_OK)
		return w->err;
	if (w->finished)
		abort(); /* our bug: a write after finish */
	while (len > 0) {
		k = BLOB_BATCH - w->in_len;
		if (k > len)
			k = len;
		memcpy(w->in[w->in_cur] + w->in_len, s, k);
		w->in_len += k;
		w->size += k;
		s += k;
		len -= k;
		/* Process a full batch only when more follows, so that a
		 * document of exactly one batch still hashes inline. */
		if (w->in_len == BLOB_BATCH && len > 0 &&
		    (w->err = process_in(w, 0)) != VAULT_OK)
			return w->err;
	}
	return VAULT_OK;
}

vault_err
blob_writer_end(struct blob_writer *w)
{
	vault_err r;

	if (w->err != VAULT_OK)
		return w->err;
	if (w->finished)
		abort(); /* our bug: ended twice */
	w->finished = 1;
	if ((r = process_in(w, 1)) != VAULT_OK ||
	    (r = emit_chunk(w, w->g->pend, w->pend_len,
	    crypto_secretstream_xchacha20poly1305_TAG_FINAL)) != VAULT_OK ||
	    (r = flush_out(w)) != VAULT_OK)
		w->err = r;
	return r;
}

vault_err
blob_writer_finish(struct blob_writer *w, struct blob_result *res)
{
	unsigned int n;
	vault_err r;

	memset(res, 0, sizeof *res);
	if (!w->finished && (r = blob_writer_end(w)) != VAULT_OK)
		return r;
	if (w->err != VAULT_OK)
		return w->err;
	if (w->fingerprinted)
		abort(); /* our bug: the digests are final once */
	w->fingerprinted = 1;
	if ((r = hashq_wait_all(w->hq)) != VAULT_OK)
		goto out;
	/* the original's digest is final already if fingerprint_job ran */
	if (w->plain_final == 0)
		w->plain_final = EVP_DigestFinal_ex(w->sha_plain, w->plain_sha,
		    &n) == 1 ? 1 : -1;
	memcpy(res->sha256, w->plain_sha, 32);
	if (w->plain_final != 1 ||
	    EVP_DigestFinal_ex(w->sha_cipher, res->cipher_sha256, &n) != 1) {
		r = VAULT_ERR_INTERNAL;
		goto out;
	}
	res->size = w->size;
	res->cipher_size = w->cipher_size;
	res->compressed = w->compressed;
	r = VAULT_OK;
out:
	w->err = r;
	return r;
}

void
blob_writer_free(struct blob_writer *w)
{
	int i;

	if (w == NULL)
		return;
	/* The hash thread may still read our buffers: stop it first. */
	hashq_free(w->hq);
	if (w->z_live)
		deflateEnd(&w->z);
	secmem_free(w->g);
	for (i = 1; i < BLOB_RING; i++)
		secmem_free(w->in[i]);
	/* out[] holds only ciphertext: no need to wipe. */
	for (i = 0; i < BLOB_RING; i++)
		free(w->out[i]);
	EVP_MD_CTX_free(w->sha_plain);
	EVP_MD_CTX_free(w->sha_cipher);
	free(w);
}

/* ---- reader ---------------------------------------------------------- */

/* Two plaintext chunks: while the reader hands out one, the hash thread may
 * still be hashing the other (uncompressed blobs: the chunk is the
 * original; deflated ones are hashed as they are inflated, inline). */
struct blob_rplain {
	crypto_secretstream_xchacha20poly1305_state st;
	uint8_t pbuf[2][BLOB_CHUNK];
};

struct blob_reader {
	struct blob_rplain *g;       /* guarded */
	uint8_t c[BLOB_CHUNK + SS_ABYTES];
	uint8_t *p;                  /* the last verified chunk: g->pbuf[p_cur] */
	int p_cur;
	uint64_t p_ticket[2];
	struct hashq *hq;
	size_t p_len, p_off;
	uint8_t ad[BLOB_AD_LEN];
	int compressed;
	z_stream z;
	int z_live, z_end;
	int final_seen;
	uint64_t chunks;             /* pulled so far */
	struct blob_source src;
	uint64_t expected, produced;
	uint8_t expected_sha256[32];
	EVP_MD_CTX *sha;             /* of the bytes released */
	int verified;                /* the whole blob checked (verify_end) */
	vault_err err;               /* sticky */
};

/* Reads until cap bytes or the end of the source. */
static vault_err
read_full(struct blob_reader *r, uint8_t *p, size_t cap, size_t *got)
{
	size_t n;
	vault_err e;

	*got = 0;
	while (*got < cap) {
		if ((e = r->src.read(r->src.ctx, p + *got, cap - *got, &n)) != VAULT_OK)
			return e;
		if (n == 0)
			break;
		*got += n;
	}
	return VAULT_OK;
}

vault_err
blob_reader_new(const uint8_t *dk, const vault_id *document_id,
    const vault_id *owner_id, uint64_t expected_size,
    const uint8_t expected_sha256[32], const struct blob_source *src,
    struct blob_reader **rp)
{
	struct blob_reader *r;
	uint8_t h[BLOB_HEADER_LEN];
	size_t got;
	vault_err e;

	*rp = NULL;
	if ((r = calloc(1, sizeof *r)) == NULL)
		return VAULT_ERR_NOMEM;
	if ((r->g = secmem_alloc(sizeof *r->g)) == NULL) {
		free(r);
		return VAULT_ERR_NOMEM;
	}
	r->src = *src;
	r->expected = expected_size;
	r->p = r->g->pbuf[0];
	memcpy(r->expected_sha256, expected_sha256, 32);
	if ((r->sha = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(r->sha, EVP_sha256(), NULL) != 1) {
		e = VAULT_ERR_NOMEM;
		goto fail;
	}
	if ((e = read_full(r, h, sizeof h, &got)) != VAULT_OK)
		goto fail;
	if (got < 4 || memcmp(h, BLOB_MAGIC, 4) != 0) {
		e = got < 4 && memcmp(h, BLOB_MAGIC, got) == 0 ?
		    VAULT_ERR_TRUNCATED : VAULT_ERR_FORMAT;
		goto fail;
	}
	if (got < BLOB_HEADER_LEN) {
		e = VAULT_ERR_TRUNCATED;
		goto fail;
	}
	if (h[4] != BLOB_VERSION) {
		e = VAULT_ERR_UNSUPPORTED;
		goto fail;
	}
	if ((h[5] & ~BLOB_FLAG_DEFLATE) != 0 || h[6] != 0 || h[7] != 0) {
		e = VAULT_ERR_UNSUPPORTED;
		goto fail;
	}
	r->compressed = (h[5] & BLOB_FLAG_DEFLATE) != 0;
	/* A large uncompressed document is hashed on a second thread, beside
	 * decryption; others inline. */
	if ((e = hashq_new(!r->compressed && expected_size > 4 * BLOB_CHUNK,
	    1, &r->hq)) != VAULT_OK)
		goto fail;
	make_ad(h, document_id, owner_id, r->ad);
	if (crypto_secretstream_xchacha20poly1305_init_pull(&r->g->st, h + 8,
	    dk) != 0) {
		e = VAULT_ERR_CORRUPT;
		goto fail;
	}
	if (r->compressed) {
		z_guarded(&r->z);
		if (inflateInit(&r->z) != Z_OK) {
			e = VAULT_ERR_NOMEM;
			goto fail;
		}
		r->z_live = 1;
	}
	*rp = r;
	return VAULT_OK;
fail:
	blob_reader_free(r);
	return e;
}

/* Decrypts the next chunk into the other plaintext buffer, once the hash
 * thread is done with it. */
static vault_err
next_chunk(struct blob_reader *r)
{
	unsigned long long plen;
	uint8_t tag, extra;
	size_t got;
	vault_err e;

	if ((e = read_full(r, r->c, sizeof r->c, &got)) != VAULT_OK)
		return e;
	if (got < SS_ABYTES)
		return got == 0 ? VAULT_ERR_TRUNCATED : VAULT_ERR_CORRUPT;
	r->p_cur ^= 1;
	r->p = r->g->pbuf[r->p_cur];
	hashq_wait(r->hq, r->p_ticket[r->p_cur]);
	if (crypto_secretstream_xchacha20poly1305_pull(&r->g->st, r->p, &plen,
	    &tag, r->c, got, r->ad, BLOB_AD_LEN) != 0)
		return VAULT_ERR_CORRUPT;
	if (tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL) {
		/* Canonical form: an empty final chunk only for an empty
		 * stream; and nothing may follow the final chunk. */
		if (plen == 0 && r->chunks > 0)
			return VAULT_ERR_CORRUPT;
		if ((e = read_full(r, &extra, 1, &got)) != VAULT_OK)
			return e;
		if (got != 0)
			return VAULT_ERR_CORRUPT;
		r->final_seen = 1;
	} else if (tag != crypto_secretstream_xchacha20poly1305_TAG_MESSAGE ||
	    plen != BLOB_CHUNK) {
		/* Only full MESSAGE chunks precede the final one. */
		return VAULT_ERR_CORRUPT;
	}
	r->chunks++;
	r->p_len = (size_t)plen;
	r->p_off = 0;
	if (!r->compressed && plen > 0)
		r->p_ticket[r->p_cur] = hashq_submit(r->hq, r->sha, r->p, r->p_len);
	return VAULT_OK;
}

/* Everything the end of a blob must satisfy: the final chunk seen and
 * nothing after it, the whole deflate stream consumed and nothing more
 * coming out of it, and the SHA-256 of the original equal to the recorded
 * fingerprint. Called before the bytes that complete the document are
 * handed out, so that a whole copy is never released unless it is the
 * deposited one (a damaged blob yields at most a verified prefix, and an
 * error). */
static vault_err
verify_end(struct blob_reader *r)
{
	unsigned char md[32], scratch[64];
	unsigned int mdlen;
	vault_err e;
	int zr;

	for (;;) {
		if (!r->compressed && r->p_off < r->p_len)
			return VAULT_ERR_CORRUPT; /* more than the recorded size */
		if (r->compressed && !r->z_end &&
		    (r->p_off < r->p_len || r->final_seen)) {
			r->z.next_in = r->p + r->p_off;
			r->z.avail_in = (uInt)(r->p_len - r->p_off);
			r->z.next_out = scratch;
			r->z.avail_out = sizeof scratch;
			zr = inflate(&r->z, Z_NO_FLUSH);
			r->p_off = r->p_len - r->z.avail_in;
			if (r->z.avail_out != sizeof scratch ||
			    (zr != Z_OK && zr != Z_BUF_ERROR && zr != Z_STREAM_END))
				return VAULT_ERR_CORRUPT;
			if (zr == Z_STREAM_END)
				r->z_end = 1;
			else if (r->final_seen && r->p_off == r->p_len)
				return VAULT_ERR_CORRUPT; /* deflate stream cut short */
			continue;
		}
		if (r->final_seen)
			break;
		if ((e = next_chunk(r)) != VAULT_OK)
			return e;
	}
	if (r->compressed && (!r->z_end || r->p_off < r->p_len))
		return VAULT_ERR_CORRUPT;
	/* The legal fingerprint recorded at deposit must be the fingerprint
	 * of what comes out. */
	if (hashq_wait_all(r->hq) != VAULT_OK ||
	    EVP_DigestFinal_ex(r->sha, md, &mdlen) != 1 ||
	    sodium_memcmp(md, r->expected_sha256, 32) != 0)
		return VAULT_ERR_CORRUPT;
	r->verified = 1;
	return VAULT_OK;
}

static vault_err
read_some(struct blob_reader *r, uint8_t *buf, size_t cap, size_t *n)
{
	vault_err e;
	size_t k;
	int zr;

	*n = 0;
	if (r->verified)
		return VAULT_OK; /* the end, already checked */
	/* zlib counts in uInt */
	if (cap > BLOB_CHUNK)
		cap = BLOB_CHUNK;
	for (;;) {
		if (!r->compressed && r->p_off < r->p_len) {
			k = r->p_len - r->p_off;
			if (k > cap)
				k = cap;
			memcpy(buf, r->p + r->p_off, k);
			r->p_off += k;
			*n = k;
			break;
		}
		if (r->compressed && !r->z_end &&
		    (r->p_off < r->p_len || r->final_seen)) {
			r->z.next_in = r->p + r->p_off;
			r->z.avail_in = (uInt)(r->p_len - r->p_off);
			r->z.next_out = buf;
			r->z.avail_out = (uInt)cap;
			zr = inflate(&r->z, Z_NO_FLUSH);
			r->p_off = r->p_len - r->z.avail_in;
			*n = cap - r->z.avail_out;
			if (zr == Z_STREAM_END)
				r->z_end = 1;
			else if (zr == Z_BUF_ERROR && r->final_seen &&
			    r->p_off == r->p_len && *n == 0)
				return VAULT_ERR_CORRUPT; /* deflate stream cut short */
			else if (zr != Z_OK && zr != Z_BUF_ERROR)
				return VAULT_ERR_CORRUPT;
			if (*n > 0)
				break;
			if (r->p_off < r->p_len && !r->z_end)
				continue;
		}
		if (r->final_seen) {
			/* the end, and the document is shorter than recorded
			 * (an empty document ends here too) */
			if (r->produced != r->expected)
				return VAULT_ERR_CORRUPT;
			return verify_end(r);
		}
		if ((e = next_chunk(r)) != VAULT_OK)
			return e;
	}
	if (r->produced + *n > r->expected || r->produced + *n < r->produced)
		return VAULT_ERR_CORRUPT;
	/* deflated: the original is what inflate wrote (uncompressed chunks
	 * were handed to the hash thread whole) */
	if (r->compressed && EVP_DigestUpdate(r->sha, buf, *n) != 1)
		return VAULT_ERR_INTERNAL;
	/* these bytes complete the document: nothing of them leaves before
	 * the whole is known to be the deposited original */
	if (r->produced + *n == r->expected && (e = verify_end(r)) != VAULT_OK)
		return e;
	r->produced += *n;
	return VAULT_OK;
}

vault_err
blob_reader_read(struct blob_reader *r, void *buf, size_t cap, size_t *n)
{
	*n = 0;
	if (r->err != VAULT_OK)
		return r->err;
	if (cap == 0)
		return VAULT_OK;
	if ((r->err = read_some(r, buf, cap, n)) != VAULT_OK) {
		sodium_memzero(buf, *n);
		*n = 0;
	}
	return r->err;
}

int
blob_reader_compressed(const struct blob_reader *r)
{
	return r->compressed;
}

void
blob_reader_free(struct blob_reader *r)
{
	if (r == NULL)
		return;
	if (r->z_live)
		inflateEnd(&r->z);
	hashq_free(r->hq); /* before the buffers it may be reading */
	EVP_MD_CTX_free(r->sha);
	secmem_free(r->g);
	free(r);
}
