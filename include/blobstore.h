/*
 * blobstore.h: where encrypted blobs live, behind a narrow interface.
 *
 * Callers see only these operations, so that an object-store backend can
 * replace the file backend without touching them. Nothing here assumes that
 * blobs and the metadata database share a disk.
 *
 * Contract of every backend:
 * - put: the backend names the blob (a fresh random name, which the caller
 *   uses as the document id). A blob is listed and counts as stored only
 *   from put_commit, whole, and put_commit returns VAULT_OK only once the
 *   blob is durable. Until then, and after put_abort or a crash, nothing
 *   refers to its partial data, and start-up removes it.
 * - A failed fsync is never retried: the put fails (VAULT_ERR_IO) and its
 *   data is discarded. Retrying could report success for pages the kernel
 *   already dropped (the PostgreSQL fsync lesson of 2018).
 * - Blobs hold ciphertext only: a backend never sees plaintext.
 * - Names are 32 lowercase hex characters (a document id).
 */
#ifndef BLOBSTORE_H
#define BLOBSTORE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "vault.h"

struct blobstore;
struct blobstore_put;
struct blobstore_get;

/* The file backend: blobs under dir/ab/abcdef… (blobstore_fs.c). Creates
 * the directories (0700) if missing. With spares > 0 (at most 64), a
 * thread keeps up to that many files made ahead, so that a put does not
 * wait for a new directory entry to become durable; 0 for tools that do
 * not write. The handle may then be shared by threads. A failed sync in
 * that thread sets *stopped (the store's fail-stop flag; NULL: none) at
 * once, not at the next put. */
vault_err blobstore_fs_open(const char *dir, unsigned spares,
    _Atomic int *stopped, struct blobstore **bsp);
/* Stops the pool's thread and removes its unused spares. */
void blobstore_close(struct blobstore *bs);

/* Starts a put under a fresh name, written to name (32 hex characters and
 * a NUL). VAULT_ERR_IO if an earlier sync of the pool failed. */
vault_err blobstore_put_new(struct blobstore *bs,
    char name[VAULT_ID_TEXT_LEN + 1], struct blobstore_put **pp);
vault_err blobstore_put_write(struct blobstore_put *p, const void *buf,
    size_t len);
/* Makes the blob durable and visible; frees p whatever the outcome. */
vault_err blobstore_put_commit(struct blobstore_put *p);
/* Discards everything written; frees p. NULL-safe. */
void blobstore_put_abort(struct blobstore_put *p);

/* VAULT_ERR_NOTFOUND if there is no such blob. *sizep may be NULL. */
vault_err blobstore_get_open(struct blobstore *bs, const char *name,
    struct blobstore_get **gp, uint64_t *sizep);
/* *n == 0 at the end. */
vault_err blobstore_get_read(struct blobstore_get *g, void *buf, size_t cap,
    size_t *n);
void blobstore_get_close(struct blobstore_get *g);

/* Removes a blob durably. VAULT_ERR_NOTFOUND if it was not there. */
vault_err blobstore_remove(struct blobstore *bs, const char *name);
/* VAULT_OK if present, VAULT_ERR_NOTFOUND if not. */
vault_err blobstore_exists(struct blobstore *bs, const char *name);

/* Calls fn for each blob (not temporary files); stops at the first non-OK
 * return of fn and returns it. Files whose names are not blob names are
 * reported with is_blob = 0 so that scrubbing can flag them. */
typedef vault_err (*blobstore_list_fn)(void *ctx, const char *name,
    uint64_t size, int is_blob);
vault_err blobstore_list(struct blobstore *bs, blobstore_list_fn fn, void *ctx);

/* Removes what puts cut short by a crash left; returns how many in
 * *removed. Called at start-up, before any put. */
vault_err blobstore_recover(struct blobstore *bs, unsigned *removed);

#endif
