/*
 * journal.h: the access journal, an append-only table of events.
 *
 * Invariant: an event is written in the same transaction as the change it
 * records, so that no change exists without its event and no event without
 * its change. Events carry opaque identifiers only (account, person,
 * object), never a name, a title or a file name: erasing a person's account
 * removes what maps those identifiers to her without touching the journal.
 * Its rows are the leaves of the Merkle tree the integrity work builds.
 */
#ifndef JOURNAL_H
#define JOURNAL_H

#include <stdint.h>

#include "store.h"

#define JOURNAL_ACTION_MAX 32
#define JOURNAL_ORIGIN_MAX 64

struct journal_event {
	const vault_id *actor;   /* NULL: anonymous */
	const vault_id *person;  /* whom it concerns; NULL: nobody in particular */
	const char *action;      /* dotted, e.g. "document.deposit" */
	const char *object;      /* text id of the object, or NULL */
	const char *outcome;     /* "ok", "denied", "failed" */
	const char *origin;      /* client address, or NULL */
};

/* Appends inside the caller's open transaction. */
vault_err journal_append(struct store *s, const struct journal_event *e);

/* Appends in a transaction of its own (for events that change nothing
 * else: a failed log-in, a read). Durable when it returns VAULT_OK. */
vault_err journal_record(struct store *s, const struct journal_event *e);

/* One row as read back. */
struct journal_row {
	int64_t index;           /* leaf index, from 0 */
	int64_t at;              /* ms since the epoch */
	char actor[VAULT_ID_TEXT_LEN + 1];   /* "" if anonymous */
	char person[VAULT_ID_TEXT_LEN + 1];  /* "" if none */
	char action[JOURNAL_ACTION_MAX + 1];
	char object[VAULT_ID_TEXT_LEN + 1];
	char outcome[16];
	char origin[JOURNAL_ORIGIN_MAX + 1];
};

struct journal_filter {
	const char *person;      /* text ids, or NULL for any */
	const char *actor;
	const char *action;
	int64_t since_ms;        /* 0: from the start */
	int64_t after_index;     /* -1: from the first */
	unsigned limit;          /* at most this many rows (≤ 1000) */
};

/* Calls fn for each matching row in index order. */
typedef vault_err (*journal_fn)(void *ctx, const struct journal_row *row);
vault_err journal_query(struct store *s, const struct journal_filter *f,
    journal_fn fn, void *ctx);

/* ---- the Merkle tree over the journal (merkle.h, docs/JOURNAL.md) ---- */

#define JOURNAL_ENTRY_MAX 512

/* The canonical bytes of a row: the leaf of the tree. Returns the length. */
size_t journal_entry_encode(const struct journal_row *row,
    char out[JOURNAL_ENTRY_MAX]);

/* Number of entries (the tree's size). */
vault_err journal_size(struct store *s, uint64_t *size);
/* The row at one index. VAULT_ERR_NOTFOUND if there is none. */
vault_err journal_row_at(struct store *s, uint64_t index, struct journal_row *row);
/* The leaf bytes of one entry. VAULT_ERR_NOTFOUND past the end. */
vault_err journal_entry(struct store *s, uint64_t index,
    char out[JOURNAL_ENTRY_MAX], size_t *len);
/* Root, inclusion and consistency proofs from the stored subtree hashes.
 * VAULT_ERR_FORMAT for sizes or indexes outside the tree. */
vault_err journal_root(struct store *s, uint64_t size, uint8_t root[32]);
vault_err journal_inclusion(struct store *s, uint64_t index, uint64_t size,
    uint8_t path[64][32], unsigned *count);
vault_err journal_consistency(struct store *s, uint64_t first, uint64_t second,
    uint8_t path[64][32], unsigned *count);

/* Builds the tree's hashes for journal rows that have none: the rows of a
 * database made before the journal became a tree (schema 3 and older).
 * Called at start-up; *added may be NULL. */
vault_err journal_backfill(struct store *s, uint64_t *added);

/* Signs a checkpoint of the whole journal now (if it grew since the last
 * one; otherwise returns the last) and keeps it. *note: malloc'd text. */
vault_err journal_checkpoint(struct store *s, char **note);
/* The latest checkpoint, VAULT_ERR_NOTFOUND if none yet. */
vault_err journal_checkpoint_latest(struct store *s, char **note,
    uint64_t *size, int64_t *at);

/* What `vaultctl journal verify` found. */
struct journal_verify_report {
	uint64_t entries;          /* rows read */
	uint64_t checkpoints;      /* checkpoints verified */
	int ok;
	int64_t first_bad_index;   /* -1 if none, or when only a range is known */
	char reason[256];          /* a sentence, when !ok */
};

/*
 * Recomputes the tree from the journal's rows, in one pass: every row must
 * sit at its index (a deletion or insertion shows as a gap), every leaf must
 * equal the stored leaf hash (an edit or a swap shows there), every stored
 * perfect subtree must match, and at each checkpoint's size the recomputed
 * root must equal the checkpoint's, whose signature must verify with pk
 * under origin. Consistency between successive checkpoints follows from
 * their roots being recomputed from the same leaves. Works on the database
 * alone: no pepper, no key but the instance's public key.
 */
vault_err journal_verify(struct vault_db *db, const char *origin,
    const uint8_t pk[32], struct journal_verify_report *rep);

#endif
