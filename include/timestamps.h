/*
 * timestamps.h: the tokens that could not be had at once.
 *
 * A deposit asks the TSA for its token before its rows are written; when
 * an external TSA does not answer, the document is written with
 * tsa_pending = 1 and a timestamp.wait event. Checkpoints are signed
 * first and time-stamped right after their commit (a network call never
 * runs inside a write transaction), so a checkpoint can be without its
 * token for a while too. The retry worker calls timestamps_catch_up until
 * nothing is missing: each token it gets is stored, for a document with a
 * timestamp.issue event, in a transaction of its own.
 */
#ifndef TIMESTAMPS_H
#define TIMESTAMPS_H

#include <stdint.h>

#include "store.h"

/* Asks for the token of one checkpoint (its note text) and stores it.
 * background as for tsa_stamp. */
vault_err timestamps_stamp_checkpoint(struct store *s, uint64_t tree_size,
    const char *note, int background);

/* Up to max missing tokens, oldest first; *issued (may be NULL) counts the
 * tokens stored and *left (may be NULL) what still waits. Stops at the
 * first VAULT_ERR_UNAVAILABLE, which it returns: the TSA is down, ask
 * later. */
vault_err timestamps_catch_up(struct store *s, unsigned max, unsigned *issued,
    unsigned *left);

/* A checkpoint's note and token (DER, malloc'd; NULL and 0 while it waits
 * for it). VAULT_ERR_NOTFOUND if there is no checkpoint of that size. */
vault_err timestamps_checkpoint_get(struct store *s, uint64_t tree_size,
    char **note, uint8_t **der, size_t *len);

#endif
