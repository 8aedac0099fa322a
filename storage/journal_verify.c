/* journal_verify.c: the auditor's check of the journal (see journal.h). */
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "journal.h"
#include "merkle.h"
#include "note.h"

/* The perfect subtrees of the leaves seen so far, largest first: the
 * "peaks". Appending a leaf merges equal-sized peaks; the root of the
 * tree so far is the peaks folded from the right (RFC 6962's split). */
struct peaks {
	uint8_t h[64][32];
	unsigned level[64];
	unsigned n;
};

static void
peaks_root(const struct peaks *p, uint8_t out[32])
{
	uint8_t acc[32];
	unsigned i;

	if (p->n == 0) {
		crypto_hash_sha256(out, (const uint8_t *)"", 0);
		return;
	}
	memcpy(acc, p->h[p->n - 1], 32);
	for (i = p->n - 1; i-- > 0;)
		merkle_node_hash(p->h[i], acc, acc);
	memcpy(out, acc, 32);
}

static void bad(struct journal_verify_report *rep, int64_t index,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
bad(struct journal_verify_report *rep, int64_t index, const char *fmt, ...)
{
	va_list ap;

	rep->ok = 0;
	rep->first_bad_index = index;
	va_start(ap, fmt);
	vsnprintf(rep->reason, sizeof rep->reason, fmt, ap);
	va_end(ap);
}

vault_err
journal_verify(struct vault_db *db, const char *origin, const uint8_t pk[32],
    struct journal_verify_report *rep)
{
	sqlite3 *h = db_handle(db);
	sqlite3_stmt *rows = NULL, *node = NULL, *cps = NULL;
	char entry[JOURNAL_ENTRY_MAX], cp_origin[NOTE_NAME_MAX + 1];
	uint8_t leaf[32], root[32], cp_root[32];
	struct journal_row row;
	struct peaks *pk_st = NULL;
	uint64_t cp_size = 0, body_size, i = 0;
	int have_cp = 0, rc;
	const unsigned char *t;
	vault_err r = VAULT_OK;
	char *note = NULL;
	size_t len;

	memset(rep, 0, sizeof *rep);
	rep->ok = 1;
	rep->first_bad_index = -1;
	if ((pk_st = calloc(1, sizeof *pk_st)) == NULL)
		return VAULT_ERR_NOMEM;
	if (sqlite3_prepare_v2(h, "SELECT seq, at, actor_id, person_id, action,"
	    " object_id, outcome FROM journal ORDER BY seq", -1, &rows, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(h, "SELECT hash FROM merkle_nodes WHERE level = ?1"
	    " AND idx = ?2", -1, &node, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(h, "SELECT tree_size, root, note FROM checkpoints"
	    " ORDER BY tree_size", -1, &cps, NULL) != SQLITE_OK) {
		r = VAULT_ERR_INTERNAL;
		goto out;
	}

#define NEXT_CHECKPOINT() do { \
	rc = sqlite3_step(cps); \
	have_cp = rc == SQLITE_ROW; \
	if (have_cp) { \
		cp_size = (uint64_t)sqlite3_column_int64(cps, 0); \
		free(note); \
		note = strdup((const char *)sqlite3_column_text(cps, 2)); \
		if (note == NULL || sqlite3_column_bytes(cps, 1) != 32) { \
			r = VAULT_ERR_NOMEM; \
			goto out; \
		} \
		memcpy(cp_root, sqlite3_column_blob(cps, 1), 32); \
	} \
} while (0)

	NEXT_CHECKPOINT();
	for (;;) {
		/* a checkpoint at the size reached so far */
		while (have_cp && cp_size == i) {
			peaks_root(pk_st, root);
			if (note_verify(note, origin, pk) != VAULT_OK) {
				bad(rep, -1, "the checkpoint at size %lld has no valid "
				    "signature by the instance key", (long long)cp_size);
				goto out;
			}
			if (note_checkpoint_parse(note, cp_origin, &body_size,
			    cp_root) != VAULT_OK || strcmp(cp_origin, origin) != 0 ||
			    body_size != cp_size) {
				bad(rep, -1, "the checkpoint at size %lld does not say what "
				    "its row says", (long long)cp_size);
				goto out;
			}
			if (sodium_memcmp(root, cp_root, 32) != 0) {
				/* every leaf matched its stored hash: the rows and the
				 * stored hashes were rewritten together */
				bad(rep, (int64_t)cp_size - 1, "the entries before index %lld "
				    "do not give the root signed in their checkpoint",
				    (long long)cp_size);
				goto out;
			}
			rep->checkpoints++;
			NEXT_CHECKPOINT();
		}
		if ((rc = sqlite3_step(rows)) != SQLITE_ROW)
			break;
		if ((uint64_t)sqlite3_column_int64(rows, 0) != i + 1) {
			bad(rep, (int64_t)i, "entry %lld is missing, or one was inserted "
			    "before it", (long long)i);
			goto out;
		}
		memset(&row, 0, sizeof row);
		row.index = (int64_t)i;
		row.at = sqlite3_column_int64(rows, 1);
#define COL(n, dst) do { t = sqlite3_column_text(rows, n); \
	snprintf(dst, sizeof dst, "%s", t != NULL ? (const char *)t : ""); } while (0)
		COL(2, row.actor);
		COL(3, row.person);
		COL(4, row.action);
		COL(5, row.object);
		COL(6, row.outcome);
#undef COL
		len = journal_entry_encode(&row, entry);
		merkle_leaf_hash(entry, len, leaf);
		sqlite3_reset(node);
		sqlite3_bind_int(node, 1, 0);
		sqlite3_bind_int64(node, 2, (sqlite3_int64)i);
		if (sqlite3_step(node) != SQLITE_ROW ||
		    sqlite3_column_bytes(node, 0) != 32 ||
		    memcmp(sqlite3_column_blob(node, 0), leaf, 32) != 0) {
			bad(rep, (int64_t)i, "entry %lld is not the entry the tree "
			    "recorded", (long long)i);
			goto out;
		}
		/* push the leaf, merge equal peaks, check each merged subtree
		 * against the stored one */
		memcpy(pk_st->h[pk_st->n], leaf, 32);
		pk_st->level[pk_st->n++] = 0;
		while (pk_st->n >= 2 &&
		    pk_st->level[pk_st->n - 1] == pk_st->level[pk_st->n - 2]) {
			unsigned lv = pk_st->level[pk_st->n - 1] + 1;
			merkle_node_hash(pk_st->h[pk_st->n - 2], pk_st->h[pk_st->n - 1],
			    pk_st->h[pk_st->n - 2]);
			pk_st->level[pk_st->n - 2] = lv;
			pk_st->n--;
			sqlite3_reset(node);
			sqlite3_bind_int(node, 1, (int)lv);
			sqlite3_bind_int64(node, 2, (sqlite3_int64)(i >> lv));
			if (sqlite3_step(node) != SQLITE_ROW ||
			    sqlite3_column_bytes(node, 0) != 32 ||
			    memcmp(sqlite3_column_blob(node, 0), pk_st->h[pk_st->n - 1], 32) != 0) {
				bad(rep, (int64_t)((i >> lv) << lv), "the tree's hashes over "
				    "the entries from index %lld were altered",
				    (long long)((i >> lv) << lv));
				goto out;
			}
		}
		i++;
	}
	if (rc != SQLITE_DONE) {
		r = db_err(rc);
		goto out;
	}
	/* leaves the tree has beyond the rows: rows removed from the end */
	sqlite3_reset(node);
	sqlite3_bind_int(node, 1, 0);
	sqlite3_bind_int64(node, 2, (sqlite3_int64)i);
	if (sqlite3_step(node) == SQLITE_ROW) {
		bad(rep, (int64_t)i, "entry %lld is missing: the tree has more leaves "
		    "than the journal has rows", (long long)i);
		goto out;
	}
	if (have_cp) {
		bad(rep, (int64_t)i, "a checkpoint covers %lld entries, more than the "
		    "journal has", (long long)cp_size);
		goto out;
	}
out:
	rep->entries = i;
	free(note);
	free(pk_st);
	sqlite3_finalize(rows);
	sqlite3_finalize(node);
	sqlite3_finalize(cps);
	return r;
}
