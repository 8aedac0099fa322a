/*
 * store.h: an open data directory: the metadata database, the blob store,
 * the pepper, and the limits that apply to them.
 *
 *   DIR/            0700
 *     vault.db      SQLite (+ -wal, -shm), 0600
 *     pepper.key    32 random bytes, 0600 (or --pepper-file elsewhere)
 *     instance.key  Ed25519 signing key of the instance, 0600
 *     blobs/        encrypted blobs (blobstore.h)
 *
 * A struct store is used by one thread at a time (one SQLite connection).
 */
#ifndef STORE_H
#define STORE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "keys.h"
#include "tsa.h"
#include "vault.h"

struct vault_db;
struct blobstore;

struct store_options {
	struct keys_pwparams pw;        /* Argon2id cost for new wrappings */
	uint64_t max_document_size;     /* bytes */
	uint64_t quota_bytes;           /* per person, original bytes */
	const char *pepper_path;        /* NULL: DIR/pepper.key */
	const struct tsa_config *tsa;   /* NULL: the built-in TSA of DIR */
	unsigned lock_threshold;        /* failed log-ins in a row that lock */
	int64_t lock_ms;                /* how long a lock lasts */
	unsigned blob_spares;           /* blob files made ahead (blobstore.h) */
};

#define STORE_DEFAULT_MAX_DOCUMENT_SIZE (100ull * 1000 * 1000)
#define STORE_DEFAULT_QUOTA (1000ull * 1000 * 1000)
#define STORE_DEFAULT_LOCK_THRESHOLD 5
#define STORE_DEFAULT_LOCK_MS (15 * 60 * 1000)
#define STORE_DEFAULT_BLOB_SPARES 32

/* Defaults of this build (keys_pwparams_default, 100 MB, 1 GB). */
void store_options_default(struct store_options *o);

/* What start-up found and did. */
struct store_recovery {
	unsigned tmp_removed;   /* temp files of puts cut short, removed */
	unsigned orphan_blobs;  /* blobs with no document row (kept, reported) */
	unsigned missing_blobs; /* document rows whose blob is missing */
	unsigned stray_files;   /* files in the blob store that are not blobs */
};

/* Deposits of one data directory waiting for a shared commit: the first
 * to arrive while none is being written writes the rows of all that wait,
 * in one transaction and one WAL sync (documents.c, group commit). */
struct commit_job;
struct commit_group {
	pthread_mutex_t mu;     /* each put waits on a condition of its own */
	struct commit_job *head, *tail;
	int busy;               /* a batch is being written */
};

struct store {
	char *dir;
	struct vault_db *db;
	struct blobstore *blobs;
	uint8_t *pepper;        /* guarded, read-only */
	uint8_t *instance_sk;   /* Ed25519 signing key (64), guarded, read-only */
	uint8_t instance_pk[32];
	char origin[129];       /* the journal's checkpoint origin (settings) */
	struct tsa *tsa;        /* the built-in time-stamping authority */
	struct store_options opt;
	/* Fail-stop: set at the first failed fsync, rename or commit. From
	 * then on every write is refused with VAULT_ERR_STOPPED until the
	 * process restarts; reads go on. After a failed fsync the kernel may
	 * have dropped the dirty pages and marked them clean, so nothing
	 * written since can be trusted to be on disk (PostgreSQL, 2018).
	 * Shared by a store and its siblings. */
	_Atomic int *stopped;
	_Atomic int stopped_own;
	struct commit_group *group;     /* shared with siblings */
	struct commit_group group_own;
	int is_sibling;         /* pepper and stopped belong to another store */
	int lock_fd;            /* DIR/lock, flock'ed for the store's life; -1 */
};

/* Opens another handle on the same data directory (its own SQLite
 * connection), sharing the pepper, options, blob store and the fail-stop
 * flag of first. For servers: one handle per concurrent request. Siblings must be
 * closed before first. */
vault_err store_open_sibling(struct store *first, struct store **sp);

/* Records a write-path failure: VAULT_ERR_IO stops the store (see
 * stopped). Returns r unchanged, so that it can wrap a return value. */
vault_err store_note_failure(struct store *s, vault_err r);
/* VAULT_ERR_STOPPED if the store has stopped accepting writes, else OK. */
vault_err store_writable(const struct store *s);

/*
 * Creates a data directory: DIR (0700), pepper, instance key, database.
 * VAULT_ERR_EXISTS if DIR exists and is not empty, unless force, in which
 * case the existing files are replaced (never silently: the caller asked).
 */
vault_err store_create(const char *dir, const struct store_options *o, int force);

/* Opens a data directory, removes leftover temp files and counts orphans.
 * rep may be NULL. *sp is NULL on failure. */
vault_err store_open(const char *dir, const struct store_options *o,
    struct store **sp, struct store_recovery *rep);
void store_close(struct store *s);

#endif
