/* journal.c: the access journal (see journal.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "journal.h"
#include "vault_os.h"

vault_err
journal_append(struct store *s, const struct journal_event *e)
{
	char actor[VAULT_ID_TEXT_LEN + 1], person[VAULT_ID_TEXT_LEN + 1];
	sqlite3_stmt *st;
	int rc;

	if (e->action == NULL || e->outcome == NULL ||
	    strlen(e->action) > JOURNAL_ACTION_MAX)
		abort(); /* our bug: every call site names its action */
	if (sqlite3_prepare_v2(db_handle(s->db),
	    "INSERT INTO journal (at, actor_id, person_id, action, object_id,"
	    " outcome, origin) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)", -1, &st,
	    NULL) != SQLITE_OK)
		return VAULT_ERR_INTERNAL;
	sqlite3_bind_int64(st, 1, vault_os.now_ms());
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
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? VAULT_OK : db_err(rc);
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
