/* journal.c: the access journal (see journal.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "journal.h"
#include "timestamps.h"
#include "tsa.h"
#include "merkle.h"
#include "note.h"
#include <sodium.h>
#include "vault_os.h"

/* ---- the tree's nodes in SQLite ------------------------------------------ */

struct node_ctx {
	sqlite3_stmt *get;
};

static vault_err
node_get(void *ctx, unsigned level, uint64_t idx, uint8_t out[MERKLE_HASH_LEN])
{
	struct node_ctx *nc = ctx;
	int rc;

	sqlite3_reset(nc->get);
	sqlite3_bind_int(nc->get, 1, (int)level);
	sqlite3_bind_int64(nc->get, 2, (sqlite3_int64)idx);
	rc = sqlite3_step(nc->get);
	if (rc == SQLITE_ROW && sqlite3_column_bytes(nc->get, 0) == MERKLE_HASH_LEN) {
		memcpy(out, sqlite3_column_blob(nc->get, 0), MERKLE_HASH_LEN);
		return VAULT_OK;
	}
	return rc == SQLITE_ROW ? VAULT_ERR_CORRUPT :
	    rc == SQLITE_DONE ? VAULT_ERR_NOTFOUND : db_err(rc);
}

static vault_err
nodes_open(struct store *s, struct node_ctx *nc, struct merkle_nodes *n)
{
	if (db_prepare(s->db, "SELECT hash FROM merkle_nodes"
	    " WHERE level = ?1 AND idx = ?2", &nc->get) != VAULT_OK)
		return VAULT_ERR_INTERNAL;
	n->get = node_get;
	n->ctx = nc;
	return VAULT_OK;
}

static vault_err
node_put(struct store *s, unsigned level, uint64_t idx, const uint8_t h[32])
{
	sqlite3_stmt *st;
	int rc;

	if (db_prepare(s->db, "INSERT INTO merkle_nodes"
	    " (level, idx, hash) VALUES (?1, ?2, ?3)", &st) != VAULT_OK)
		return VAULT_ERR_INTERNAL;
	sqlite3_bind_int(st, 1, (int)level);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)idx);
	sqlite3_bind_blob(st, 3, h, 32, SQLITE_STATIC);
	rc = sqlite3_step(st);
	db_finish(s->db, st);
	return rc == SQLITE_DONE ? VAULT_OK : db_err(rc);
}

size_t
journal_entry_encode(const struct journal_row *row, char out[JOURNAL_ENTRY_MAX])
{
	int n;

	/* docs/JOURNAL.md: every field on its own line, "-" when empty */
	n = snprintf(out, JOURNAL_ENTRY_MAX,
	    "vault-journal/1\nindex %lld\nat %lld\nactor %s\nperson %s\n"
	    "action %s\nobject %s\noutcome %s\n", (long long)row->index,
	    (long long)row->at, row->actor[0] ? row->actor : "-",
	    row->person[0] ? row->person : "-", row->action,
	    row->object[0] ? row->object : "-", row->outcome);
	if (n < 0 || n >= JOURNAL_ENTRY_MAX)
		abort(); /* fields are bounded: cannot happen */
	return (size_t)n;
}

/* Stores the leaf of the row just inserted and the subtrees it completes. */
static vault_err
append_leaf(struct store *s, const struct journal_row *row)
{
	char entry[JOURNAL_ENTRY_MAX];
	uint8_t h[32], l[32], r[32];
	unsigned levels[64], c, i;
	uint64_t idx[64];
	struct node_ctx nc;
	struct merkle_nodes n;
	vault_err e;
	size_t len;

	len = journal_entry_encode(row, entry);
	merkle_leaf_hash(entry, len, h);
	if ((e = node_put(s, 0, (uint64_t)row->index, h)) != VAULT_OK)
		return e;
	c = merkle_completed((uint64_t)row->index, levels, idx);
	if (c == 0)
		return VAULT_OK;
	if ((e = nodes_open(s, &nc, &n)) != VAULT_OK)
		return e;
	for (i = 0; i < c && e == VAULT_OK; i++) {
		if ((e = node_get(&nc, levels[i] - 1, idx[i] * 2, l)) == VAULT_OK &&
		    (e = node_get(&nc, levels[i] - 1, idx[i] * 2 + 1, r)) == VAULT_OK) {
			merkle_node_hash(l, r, h);
			e = node_put(s, levels[i], idx[i], h);
		}
	}
	db_finish(s->db, nc.get);
	return e;
}

vault_err
journal_append(struct store *s, const struct journal_event *e)
{
	char actor[VAULT_ID_TEXT_LEN + 1], person[VAULT_ID_TEXT_LEN + 1];
	struct journal_row row;
	int64_t at = vault_os.now_ms();
	sqlite3_stmt *st;
	int rc;

	if (e->action == NULL || e->outcome == NULL ||
	    strlen(e->action) > JOURNAL_ACTION_MAX)
		abort(); /* our bug: every call site names its action */
	if (db_prepare(s->db,
	    "INSERT INTO journal (at, actor_id, person_id, action, object_id,"
	    " outcome, origin) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)", &st) != VAULT_OK)
		return VAULT_ERR_INTERNAL;
	sqlite3_bind_int64(st, 1, at);
	if (e->actor != NULL) {
		vault_id_to_text(e->actor, actor);
		sqlite3_bind_text(st, 2, actor, -1, SQLITE_STATIC);
	}
	if (e->person != NULL) {
		vault_id_to_text(e->person, person);
		sqlite3_bind_text(st, 3, person, -1, SQLITE_STATIC);
	}
	sqlite3_bind_text(st, 4, e->action, -1, SQLITE_STATIC);
	if (e->object != NULL)
		sqlite3_bind_text(st, 5, e->object, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, e->outcome, -1, SQLITE_STATIC);
	if (e->origin != NULL)
		sqlite3_bind_text(st, 7, e->origin, (int)strnlen(e->origin,
		    JOURNAL_ORIGIN_MAX), SQLITE_STATIC);
	rc = sqlite3_step(st);
	db_finish(s->db, st);
	if (rc != SQLITE_DONE)
		return db_err(rc);
	/* the leaf, as the tree will hold it, in the same transaction */
	memset(&row, 0, sizeof row);
	row.index = sqlite3_last_insert_rowid(db_handle(s->db)) - 1;
	row.at = at;
	if (e->actor != NULL)
		memcpy(row.actor, actor, sizeof row.actor);
	if (e->person != NULL)
		memcpy(row.person, person, sizeof row.person);
	snprintf(row.action, sizeof row.action, "%s", e->action);
	if (e->object != NULL)
		snprintf(row.object, sizeof row.object, "%s", e->object);
	snprintf(row.outcome, sizeof row.outcome, "%s", e->outcome);
	return append_leaf(s, &row);
}

vault_err
journal_record(struct store *s, const struct journal_event *e)
{
	vault_err r;

	if ((r = store_writable(s)) != VAULT_OK)
		return r;
	if ((r = db_begin(s->db)) != VAULT_OK)
		return store_note_failure(s, r);
	if ((r = journal_append(s, e)) != VAULT_OK) {
		db_rollback(s->db);
		return r;
	}
	return store_note_failure(s, db_commit(s->db));
}

static void
copy_col(sqlite3_stmt *st, int i, char *out, size_t cap)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	snprintf(out, cap, "%s", t != NULL ? (const char *)t : "");
}

vault_err
journal_query(struct store *s, const struct journal_filter *f, journal_fn fn,
    void *ctx)
{
	struct journal_row row;
	sqlite3_stmt *st;
	vault_err r = VAULT_OK;
	int rc;

	if (sqlite3_prepare_v2(db_handle(s->db),
	    "SELECT seq - 1, at, actor_id, person_id, action, object_id, outcome,"
	    " origin FROM journal"
	    " WHERE (?1 IS NULL OR person_id = ?1) AND (?2 IS NULL OR actor_id = ?2)"
	    " AND (?3 IS NULL OR action = ?3) AND at >= ?4 AND seq - 1 > ?5"
	    " ORDER BY seq LIMIT ?6", -1, &st, NULL) != SQLITE_OK)
		return VAULT_ERR_INTERNAL;
	if (f->person != NULL)
		sqlite3_bind_text(st, 1, f->person, -1, SQLITE_STATIC);
	if (f->actor != NULL)
		sqlite3_bind_text(st, 2, f->actor, -1, SQLITE_STATIC);
	if (f->action != NULL)
		sqlite3_bind_text(st, 3, f->action, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, f->since_ms);
	sqlite3_bind_int64(st, 5, f->after_index);
	sqlite3_bind_int(st, 6, f->limit == 0 || f->limit > 1000 ? 1000 : (int)f->limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&row, 0, sizeof row);
		row.index = sqlite3_column_int64(st, 0);
		row.at = sqlite3_column_int64(st, 1);
		copy_col(st, 2, row.actor, sizeof row.actor);
		copy_col(st, 3, row.person, sizeof row.person);
		copy_col(st, 4, row.action, sizeof row.action);
		copy_col(st, 5, row.object, sizeof row.object);
		copy_col(st, 6, row.outcome, sizeof row.outcome);
		copy_col(st, 7, row.origin, sizeof row.origin);
		if ((r = fn(ctx, &row)) != VAULT_OK)
			break;
	}
	if (r == VAULT_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
		r = db_err(rc);
	sqlite3_finalize(st);
	return r;
}

/* ---- sizes, entries, roots and proofs ------------------------------------ */

vault_err
journal_size(struct store *s, uint64_t *size)
{
	sqlite3_stmt *st;
	int rc;

	*size = 0;
	if (sqlite3_prepare_v2(db_handle(s->db), "SELECT COALESCE(MAX(seq), 0)"
	    " FROM journal", -1, &st, NULL) != SQLITE_OK)
		return VAULT_ERR_INTERNAL;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		*size = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? VAULT_OK : db_err(rc);
}

static vault_err
one_row(void *ctx, const struct journal_row *row)
{
	*(struct journal_row *)ctx = *row;
	return VAULT_OK;
}

vault_err
journal_row_at(struct store *s, uint64_t index, struct journal_row *row)
{
	struct journal_filter f;
	vault_err r;

	memset(&f, 0, sizeof f);
	memset(row, 0, sizeof *row);
	row->index = -1;
	f.after_index = (int64_t)index - 1;
	f.limit = 1;
	if ((r = journal_query(s, &f, one_row, row)) != VAULT_OK)
		return r;
	return row->index == (int64_t)index ? VAULT_OK : VAULT_ERR_NOTFOUND;
}

vault_err
journal_entry(struct store *s, uint64_t index, char out[JOURNAL_ENTRY_MAX],
    size_t *len)
{
	struct journal_row row;
	vault_err r;

	if ((r = journal_row_at(s, index, &row)) != VAULT_OK)
		return r;
	*len = journal_entry_encode(&row, out);
	return VAULT_OK;
}

/* Runs one tree computation over the stored nodes, within the size the
 * journal has. */
static vault_err
with_nodes(struct store *s, uint64_t need, struct node_ctx *nc,
    struct merkle_nodes *n)
{
	uint64_t size;
	vault_err r;

	if ((r = journal_size(s, &size)) != VAULT_OK)
		return r;
	if (need > size)
		return VAULT_ERR_FORMAT;
	return nodes_open(s, nc, n);
}

vault_err
journal_root(struct store *s, uint64_t size, uint8_t root[32])
{
	struct node_ctx nc;
	struct merkle_nodes n;
	vault_err r;

	if ((r = with_nodes(s, size, &nc, &n)) != VAULT_OK)
		return r;
	r = merkle_root(&n, size, root);
	db_finish(s->db, nc.get);
	return r;
}

vault_err
journal_inclusion(struct store *s, uint64_t index, uint64_t size,
    uint8_t path[64][32], unsigned *count)
{
	struct node_ctx nc;
	struct merkle_nodes n;
	vault_err r;

	*count = 0;
	if (index >= size)
		return VAULT_ERR_FORMAT;
	if ((r = with_nodes(s, size, &nc, &n)) != VAULT_OK)
		return r;
	r = merkle_inclusion(&n, index, size, path, count);
	db_finish(s->db, nc.get);
	return r;
}

vault_err
journal_consistency(struct store *s, uint64_t first, uint64_t second,
    uint8_t path[64][32], unsigned *count)
{
	struct node_ctx nc;
	struct merkle_nodes n;
	vault_err r;

	*count = 0;
	if (first == 0 || first > second)
		return VAULT_ERR_FORMAT;
	if ((r = with_nodes(s, second, &nc, &n)) != VAULT_OK)
		return r;
	r = merkle_consistency(&n, first, second, path, count);
	db_finish(s->db, nc.get);
	return r;
}

/* ---- checkpoints ---------------------------------------------------------- */

vault_err
journal_checkpoint_latest(struct store *s, char **note, uint64_t *size,
    int64_t *at)
{
	sqlite3_stmt *st;
	vault_err r;
	int rc;

	*note = NULL;
	if (sqlite3_prepare_v2(db_handle(s->db), "SELECT note, tree_size,"
	    " created_at FROM checkpoints ORDER BY tree_size DESC LIMIT 1", -1,
	    &st, NULL) != SQLITE_OK)
		return VAULT_ERR_INTERNAL;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*note = strdup((const char *)sqlite3_column_text(st, 0));
		if (size != NULL)
			*size = (uint64_t)sqlite3_column_int64(st, 1);
		if (at != NULL)
			*at = sqlite3_column_int64(st, 2);
		r = *note != NULL ? VAULT_OK : VAULT_ERR_NOMEM;
	} else
		r = rc == SQLITE_DONE ? VAULT_ERR_NOTFOUND : db_err(rc);
	sqlite3_finalize(st);
	return r;
}

vault_err
journal_checkpoint(struct store *s, char **notep)
{
	uint8_t root[32];
	uint64_t size, last = 0;
	char *body = NULL, *note = NULL, *prev = NULL;
	sqlite3_stmt *st;
	vault_err r;
	int rc;

	*notep = NULL;
	if ((r = store_writable(s)) != VAULT_OK)
		return r;
	/* size, root and the row are read and written under the write lock,
	 * so that no entry slips between them */
	if ((r = db_begin(s->db)) != VAULT_OK)
		return store_note_failure(s, r);
	if ((r = journal_size(s, &size)) != VAULT_OK)
		goto rollback;
	r = journal_checkpoint_latest(s, &prev, &last, NULL);
	if (r == VAULT_OK && last == size) {
		db_rollback(s->db);
		*notep = prev;
		return VAULT_OK;
	}
	free(prev);
	if (r != VAULT_OK && r != VAULT_ERR_NOTFOUND)
		goto rollback;
	if ((r = journal_root(s, size, root)) != VAULT_OK)
		goto rollback;
	if ((body = note_checkpoint_body(s->origin, size, root)) == NULL) {
		r = VAULT_ERR_NOMEM;
		goto rollback;
	}
	if ((r = note_sign(body, s->origin, s->instance_sk, s->instance_pk,
	    &note)) != VAULT_OK)
		goto rollback;
	if (sqlite3_prepare_v2(db_handle(s->db), "INSERT INTO checkpoints"
	    " (tree_size, root, note, created_at) VALUES (?1, ?2, ?3, ?4)", -1,
	    &st, NULL) != SQLITE_OK) {
		r = VAULT_ERR_INTERNAL;
		goto rollback;
	}
	sqlite3_bind_int64(st, 1, (sqlite3_int64)size);
	sqlite3_bind_blob(st, 2, root, 32, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, note, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, vault_os.now_ms());
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		r = db_err(rc);
		goto rollback;
	}
	if ((r = store_note_failure(s, db_commit(s->db))) != VAULT_OK)
		goto out;
	/* its time-stamp, after the commit (the TSA is never asked under the
	 * write lock). The built-in TSA answers in a fraction of a
	 * millisecond; an external one is left to the retry worker, and so is
	 * a failure here: the checkpoint is kept either way. */
	if (s->tsa != NULL && !tsa_is_external(s->tsa))
		(void)timestamps_stamp_checkpoint(s, size, note, 0);
	*notep = note;
	note = NULL;
	goto out;
rollback:
	db_rollback(s->db);
out:
	free(body);
	free(note);
	return r;
}

/* ---- databases older than the tree ------------------------------------------ */

vault_err
journal_backfill(struct store *s, uint64_t *added)
{
	struct journal_row row;
	sqlite3_stmt *st;
	uint64_t leaves = 0, size, i;
	vault_err r;
	int rc;

	if (added != NULL)
		*added = 0;
	if ((r = journal_size(s, &size)) != VAULT_OK)
		return r;
	if (sqlite3_prepare_v2(db_handle(s->db), "SELECT count(*) FROM merkle_nodes"
	    " WHERE level = 0", -1, &st, NULL) != SQLITE_OK)
		return VAULT_ERR_INTERNAL;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		leaves = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW)
		return db_err(rc);
	if (leaves >= size)
		return VAULT_OK;
	if ((r = db_begin(s->db)) != VAULT_OK)
		return r;
	for (i = leaves; i < size && r == VAULT_OK; i++) {
		if ((r = journal_row_at(s, i, &row)) == VAULT_ERR_NOTFOUND)
			r = VAULT_ERR_CORRUPT; /* a gap: leave it for journal verify */
		if (r != VAULT_OK)
			break;
		r = append_leaf(s, &row);
	}
	if (r != VAULT_OK) {
		db_rollback(s->db);
		return r;
	}
	if ((r = db_commit(s->db)) == VAULT_OK && added != NULL)
		*added = size - leaves;
	return r;
}
