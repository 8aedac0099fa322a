/*
 * fsck.h: the integrity control of the blob store, without any key.
 * Every document's blob is read and hashed against the size and SHA-256
 * recorded when it was written (cipher_size, cipher_sha256); every file of
 * the store must belong to a document.
 */
#ifndef FSCK_H
#define FSCK_H

#include <stdint.h>

#include "vault.h"

struct vault_db;
struct blobstore;

struct fsck_report {
	uint64_t checked, bytes;
	unsigned missing, corrupt, unreferenced;
};

/* Calls report(kind, name) for each finding ("missing", "corrupt",
 * "unreferenced"); fills rep. VAULT_OK even with findings: rep says. */
vault_err fsck_run(struct vault_db *db, struct blobstore *bs,
    void (*report)(void *ctx, const char *kind, const char *name), void *ctx,
    struct fsck_report *rep);

#endif
