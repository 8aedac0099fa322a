/*
 * blob.h: encrypted document blobs (specified in docs/FORMAT.md, "Blobs").
 *
 *   OFFSET SIZE DESCRIPTION
 *   0      4    magic "VLTB"
 *   4      1    format version, 1
 *   5      1    flags: bit 0 = content deflated (zlib, RFC 1950) before
 *               encryption; other bits zero
 *   6      2    reserved, zero
 *   8      24   crypto_secretstream_xchacha20poly1305 header
 *   32     ...  chunks: each is secretstream_push() of BLOB_CHUNK bytes of the
 *               (possibly deflated) stream, 17 bytes longer; the last one,
 *               tagged FINAL, holds 0..BLOB_CHUNK bytes. Nothing follows it.
 *
 * Invariant: the associated data of every chunk is header[0..8) ‖ document
 * id ‖ owner id (40 bytes), so a blob moved to another document or person,
 * or with a changed version or flag, fails authentication. Chunk order and
 * the final tag are enforced by secretstream itself: reordered, dropped or
 * truncated chunks fail.
 *
 * The writer hashes, in the same pass, the original bytes (SHA-256: the legal
 * fingerprint) and the whole blob as stored (SHA-256: keyless integrity
 * checks). Memory is fixed per stream whatever the document's size.
 */
#ifndef BLOB_H
#define BLOB_H

#include <stddef.h>
#include <stdint.h>

#include "vault.h"

#define BLOB_MAGIC "VLTB"
#define BLOB_VERSION 1
#define BLOB_FLAG_DEFLATE 0x01
#define BLOB_HEADER_LEN 32
#define BLOB_CHUNK 65536
#define BLOB_CHUNK_OVERHEAD 17 /* crypto_secretstream_xchacha20poly1305_ABYTES */
#define BLOB_AD_LEN (8 + 2 * VAULT_ID_LEN)

enum blob_compress {
	BLOB_COMPRESS_AUTO,   /* deflate if a sample of the first bytes shrinks */
	BLOB_COMPRESS_NEVER,
	BLOB_COMPRESS_ALWAYS,
};

/* Where the writer puts ciphertext. write returns VAULT_OK or an error,
 * which the writer passes on and keeps (every later call fails with it). */
struct blob_sink {
	vault_err (*write)(void *ctx, const void *p, size_t len);
	void *ctx;
};

/* Where the reader gets ciphertext. read sets *n (0 at end of data). */
struct blob_source {
	vault_err (*read)(void *ctx, void *p, size_t cap, size_t *n);
	void *ctx;
};

struct blob_result {
	uint8_t sha256[32];        /* of the original bytes */
	uint8_t cipher_sha256[32]; /* of the blob as stored, header included */
	uint64_t size;             /* original bytes */
	uint64_t cipher_size;      /* blob bytes */
	int compressed;
};

struct blob_writer;
struct blob_reader;

/* dk is the document key (KEYS_DOCKEY_LEN bytes); it is copied into the
 * stream state, which lives in guarded memory. *wp is NULL on failure. */
vault_err blob_writer_new(const uint8_t *dk, const vault_id *document_id,
    const vault_id *owner_id, enum blob_compress compress,
    const struct blob_sink *sink, struct blob_writer **wp);
/* Appends original bytes. */
vault_err blob_writer_write(struct blob_writer *w, const void *p, size_t len);
/* Calls fn(arg, sha256) with the original's fingerprint as soon as it is
 * known, on the hash thread, while the last batch is still being
 * encrypted and the blob hashed (inline when the document is too small
 * for a hash thread). Set before blob_writer_end; fn must not touch the
 * writer. blob_writer_finish returns after fn has returned. */
void blob_writer_on_fingerprint(struct blob_writer *w,
    void (*fn)(void *arg, const uint8_t sha256[32]), void *arg);
/* Encrypts what is left and hands every byte of the blob to the sink;
 * the fingerprints may still be computing. From here the sink may be made
 * durable (the blob store's commit) while they end. */
vault_err blob_writer_end(struct blob_writer *w);
/* Returns the fingerprints, ending the blob first if blob_writer_end was
 * not called. Does not make the sink durable. */
vault_err blob_writer_finish(struct blob_writer *w, struct blob_result *res);
/* Frees and wipes; NULL-safe. */
void blob_writer_free(struct blob_writer *w);

/*
 * Opens a blob for decryption: reads and checks the header. expected_size
 * and expected_sha256 are the recorded size and fingerprint of the
 * original; a stream that decrypts to anything else is VAULT_ERR_CORRUPT
 * (reported at the end, before the final n == 0). Errors: VAULT_ERR_FORMAT
 * (not a blob), VAULT_ERR_UNSUPPORTED (a newer version or unknown flag),
 * VAULT_ERR_TRUNCATED.
 */
vault_err blob_reader_new(const uint8_t *dk, const vault_id *document_id,
    const vault_id *owner_id, uint64_t expected_size,
    const uint8_t expected_sha256[32], const struct blob_source *src,
    struct blob_reader **rp);
/*
 * Reads up to cap original bytes into buf. Every byte it returns belongs to
 * a chunk whose tag verified. The call that would return the document's
 * last bytes first checks the whole end of the blob (final chunk, nothing
 * after it, the deflate stream, the SHA-256 of the original against
 * expected_sha256) and fails instead if any is wrong: the complete
 * original is never handed out unless it is the deposited one; a damaged
 * blob yields at most an authenticated prefix and an error. *n == 0 with
 * VAULT_OK: the end. Errors (sticky): VAULT_ERR_CORRUPT,
 * VAULT_ERR_TRUNCATED, or the source's error. cap is clamped to
 * BLOB_CHUNK per call.
 */
vault_err blob_reader_read(struct blob_reader *r, void *buf, size_t cap, size_t *n);
/* Returns whether the blob's header says deflated. */
int blob_reader_compressed(const struct blob_reader *r);
void blob_reader_free(struct blob_reader *r);

#endif
