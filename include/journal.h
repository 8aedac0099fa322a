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

#endif
