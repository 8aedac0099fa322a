/*
 * scrub.h: the scheduled integrity control: vaultctl fsck's check of every
 * blob (fsck_check_blob), run by vaultd in the background, slowly, with
 * what it finds written in the journal.
 *
 * Invariants:
 * - documents.integrity holds the verdict of the last control: NULL (the
 *   blob matched), 'missing' or 'corrupt'. A change of it and its
 *   fsck.finding event (actor none, person the owner, object the document,
 *   outcome "missing", "corrupt", or "ok" when a bad blob is good again)
 *   are written in one transaction: each change is journaled once.
 * - A file of the blob store that belongs to no document is journaled
 *   once (fsck.finding, no person, outcome "unreferenced", object its name
 *   only when that is a document-id-shaped name), on the second pass in a
 *   row that finds it: a deposit between its blob and its row, or a
 *   deletion between its row and its blob, shows such a file for a moment.
 *   What was seen and reported is kept in settings ("scrub.unref." and the
 *   SHA-256 of the file's name in the store), and forgotten when the file
 *   is gone or belongs to a document again.
 * - No write transaction is open while a blob is read; nothing is written
 *   once the store has stopped (fail-stop, store.h).
 * - settings "scrub.last_pass": when the last complete pass ended (ms);
 *   "scrub.since": when this database's first scrubbing vaultd started,
 *   from which the first pass is counted.
 */
#ifndef SCRUB_H
#define SCRUB_H

#include <stdint.h>

#include "store.h"

#define SCRUB_CHUNK (256 * 1024)    /* bytes per read */
#define SCRUB_BATCH 32              /* documents read between transactions */

/*
 * The pause after a read that took read_ns, so that reads take at most
 * share_percent (1 to 100) of the time: read_ns * (100 / share - 1).
 * share_percent 0 is taken as 1, above 100 as 100.
 */
uint64_t scrub_pause_ns(uint64_t read_ns, unsigned share_percent);

struct scrub_control {
	unsigned share_percent;         /* of the disk's time spent reading */
	/* Waits ns nanoseconds (returns at once for 0) unless told to stop;
	 * returns non-zero if the pass must stop. Called between reads. */
	int (*pause)(void *ctx, uint64_t ns);
	/* Called with 1 before each write transaction and 0 after it (may be
	 * NULL): the caller's chance to leave its idle I/O priority while it
	 * holds the writer lock that every deposit waits for. */
	void (*writing)(void *ctx, int on);
	void *ctx;
};

struct scrub_report {
	int complete;                   /* 0: interrupted by pause */
	uint64_t checked, bytes;        /* documents and bytes read */
	unsigned missing, corrupt;      /* documents found so in this pass */
	unsigned unchecked;             /* no verdict (out of memory) */
	unsigned unreferenced;          /* files of no document, this pass */
	unsigned journaled;             /* fsck.finding events written */
};

/*
 * One whole pass: every document's blob, then every file of the store.
 * VAULT_OK with rep->complete = 1 when it ran to the end (then
 * "scrub.last_pass" is now), or = 0 when pause asked to stop (what was
 * found until then is written). VAULT_ERR_STOPPED if the store has stopped
 * accepting writes; another error if the database failed.
 */
vault_err scrub_pass(struct store *s, const struct scrub_control *c,
    struct scrub_report *rep);

/*
 * The time from which the next pass is counted: the end of the last
 * complete pass or, before the first, "scrub.since", which is set to now
 * the first time. A stored time after now (the clock went back) is
 * replaced by now.
 */
vault_err scrub_schedule_base(struct store *s, int64_t now_ms, int64_t *base_ms);

#endif
