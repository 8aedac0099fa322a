/*
 * fsck.h: the integrity control of the blob store, without any key.
 * Every document's blob is read and hashed against the size and SHA-256
 * recorded when it was written (cipher_size, cipher_sha256); every file of
 * the store must belong to a document.
 *
 * fsck_check_blob is the one check of one blob: `vaultctl fsck` runs it
 * over the whole store at once (fsck_run), and vaultd's scheduled scrub
 * (scrub.h) runs it slowly, with a pace between chunks.
 */
#ifndef FSCK_H
#define FSCK_H

#include <stddef.h>
#include <stdint.h>

#include "vault.h"

struct vault_db;
struct blobstore;

/* What one blob's check found. */
enum fsck_verdict {
	FSCK_BLOB_OK = 0,       /* size and SHA-256 match the record */
	FSCK_BLOB_MISSING,      /* no blob of that name */
	FSCK_BLOB_CORRUPT,      /* another size or hash, or unreadable */
	FSCK_BLOB_UNCHECKED,    /* no verdict: out of memory */
	FSCK_BLOB_INTERRUPTED,  /* the pace asked to stop before the end */
};

/* How a check reads: into buf (cap bytes, the caller's, reused from blob
 * to blob), and after each read calls after_read (if not NULL) with the
 * nanoseconds the read took; a non-zero answer interrupts the check. */
struct fsck_pace {
	unsigned char *buf;
	size_t cap;
	int (*after_read)(void *ctx, uint64_t read_ns);
	void *ctx;
};

/* Checks blob name against want_size and want (32 bytes of SHA-256);
 * *bytes grows by the bytes read (bytes may be NULL). */
enum fsck_verdict fsck_check_blob(struct blobstore *bs, const char *name,
    uint64_t want_size, const uint8_t want[32], const struct fsck_pace *pace,
    uint64_t *bytes);

struct fsck_report {
	uint64_t checked, bytes;
	unsigned missing, corrupt, unreferenced, unchecked;
};

/* Calls report(kind, name) for each finding ("missing", "corrupt",
 * "unreferenced", "unchecked"); fills rep. VAULT_OK even with findings:
 * rep says. */
vault_err fsck_run(struct vault_db *db, struct blobstore *bs,
    void (*report)(void *ctx, const char *kind, const char *name), void *ctx,
    struct fsck_report *rep);

#endif
