/*
 * structures.c: what administrators see of structures and their members,
 * and the removal of a member (see accounts.h).
 */
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "accounts.h"
#include "db.h"
#include "journal.h"
#include "vault_os.h"

static void
copy_text(sqlite3_stmt *st, int col, char *out, size_t cap)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	snprintf(out, cap, "%s", t != NULL ? (const char *)t : "");
}

vault_err
accounts_structures_list(struct store *s, accounts_structure_fn fn, void *ctx)
{
	struct structure_info si;
	sqlite3_stmt *st;
	vault_err r = VAULT_OK;
	int rc;

	if (sqlite3_prepare_v2(db_handle(s->db), "SELECT s.structure_id, s.name,"
	    " s.created_at, (SELECT count(*) FROM accounts a WHERE a.structure_id ="
	    " s.structure_id AND a.removed_at IS NULL) FROM structures s"
	    " ORDER BY s.created_at, s.structure_id", -1, &st, NULL) != SQLITE_OK)
		return VAULT_ERR_INTERNAL;
	while (r == VAULT_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&si, 0, sizeof si);
		if (vault_id_from_text((const char *)sqlite3_column_text(st, 0), &si.id) != VAULT_OK) {
			r = VAULT_ERR_CORRUPT;
			break;
		}
		copy_text(st, 1, si.name, sizeof si.name);
		si.created_at = sqlite3_column_int64(st, 2);
		si.members = (unsigned)sqlite3_column_int64(st, 3);
		r = fn(ctx, &si);
	}
	if (r == VAULT_OK && rc != SQLITE_DONE)
		r = db_err(rc);
	sqlite3_finalize(st);
	return r;
}

vault_err
accounts_members_list(struct store *s, const vault_id *structure,
    accounts_member_fn fn, void *ctx)
{
	char sid[VAULT_ID_TEXT_LEN + 1];
	struct member_info m;
	sqlite3_stmt *st;
	vault_err r = VAULT_OK;
	int rc;

	vault_id_to_text(structure, sid);
	if (sqlite3_prepare_v2(db_handle(s->db), "SELECT account_id, login,"
	    " display_name, role, created_at, COALESCE(removed_at, 0) FROM accounts"
	    " WHERE structure_id = ?1 AND role IN ('aidant', 'structure_admin')"
	    " ORDER BY created_at, account_id", -1, &st, NULL) != SQLITE_OK)
		return VAULT_ERR_INTERNAL;
	sqlite3_bind_text(st, 1, sid, -1, SQLITE_STATIC);
	while (r == VAULT_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&m, 0, sizeof m);
		if (vault_id_from_text((const char *)sqlite3_column_text(st, 0), &m.id) != VAULT_OK) {
			r = VAULT_ERR_CORRUPT;
			break;
		}
		copy_text(st, 1, m.login, sizeof m.login);
		copy_text(st, 2, m.display_name, sizeof m.display_name);
		copy_text(st, 3, m.role, sizeof m.role);
		m.created_at = sqlite3_column_int64(st, 4);
		m.removed_at = sqlite3_column_int64(st, 5);
		r = fn(ctx, &m);
	}
	if (r == VAULT_OK && rc != SQLITE_DONE)
		r = db_err(rc);
	sqlite3_finalize(st);
	return r;
}

/* Ends every mandate the member holds: wrappings deleted (he can open
 * nothing more, even with his key), each active one revoked and journaled
 * to its person with the administrator as actor. */
static vault_err
end_mandates(struct store *s, const char *member, const vault_id *by,
    const char *origin, int64_t now)
{
	char mt[VAULT_ID_TEXT_LEN + 1];
	sqlite3_stmt *st, *up;
	vault_id person;
	vault_err r = VAULT_OK;
	int rc;

	if (sqlite3_prepare_v2(db_handle(s->db), "DELETE FROM key_wrappings WHERE"
	    " holder_kind = 'aidant' AND holder_id IN (SELECT mandate_id FROM"
	    " mandates WHERE aidant_id = ?1)", -1, &st, NULL) != SQLITE_OK)
		return VAULT_ERR_INTERNAL;
	sqlite3_bind_text(st, 1, member, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return db_err(rc);
	if (sqlite3_prepare_v2(db_handle(s->db), "SELECT mandate_id, person_id FROM"
	    " mandates WHERE aidant_id = ?1 AND revoked_at IS NULL AND expires_at > ?2",
	    -1, &st, NULL) != SQLITE_OK)
		return VAULT_ERR_INTERNAL;
	if (sqlite3_prepare_v2(db_handle(s->db), "UPDATE mandates SET revoked_at = ?2,"
	    " ended_journaled = 1 WHERE mandate_id = ?1", -1, &up, NULL) != SQLITE_OK) {
		sqlite3_finalize(st);
		return VAULT_ERR_INTERNAL;
	}
	sqlite3_bind_text(st, 1, member, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now);
	while (r == VAULT_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		copy_text(st, 0, mt, sizeof mt);
		if (vault_id_from_text((const char *)sqlite3_column_text(st, 1), &person) != VAULT_OK) {
			r = VAULT_ERR_CORRUPT;
			break;
		}
		sqlite3_reset(up);
		sqlite3_bind_text(up, 1, mt, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(up, 2, now);
		if ((rc = sqlite3_step(up)) != SQLITE_DONE) {
			r = db_err(rc);
			break;
		}
		r = journal_append(s, &(struct journal_event){ by, &person,
		    "mandate.revoke", mt, "ok", origin });
	}
	if (r == VAULT_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
		r = db_err(rc);
	sqlite3_finalize(st);
	sqlite3_finalize(up);
	return r;
}

vault_err
accounts_member_remove(struct store *s, const vault_id *structure,
    const vault_id *member, const vault_id *by, const char *origin)
{
	char sid[VAULT_ID_TEXT_LEN + 1], mid[VAULT_ID_TEXT_LEN + 1];
	int64_t now = vault_os.now_ms();
	sqlite3_stmt *st;
	vault_err r;
	int rc;

	if ((r = store_writable(s)) != VAULT_OK)
		return r;
	vault_id_to_text(structure, sid);
	vault_id_to_text(member, mid);
	if ((r = db_begin(s->db)) != VAULT_OK)
		return store_note_failure(s, r);
	if (sqlite3_prepare_v2(db_handle(s->db), "UPDATE accounts SET removed_at = ?3"
	    " WHERE account_id = ?1 AND structure_id = ?2 AND removed_at IS NULL"
	    " AND role IN ('aidant', 'structure_admin')", -1, &st, NULL) != SQLITE_OK) {
		r = VAULT_ERR_INTERNAL;
		goto rollback;
	}
	sqlite3_bind_text(st, 1, mid, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, sid, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, now);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		r = db_err(rc);
		goto rollback;
	}
	if (sqlite3_changes(db_handle(s->db)) != 1) {
		r = VAULT_ERR_NOTFOUND;
		goto rollback;
	}
	if ((r = end_mandates(s, mid, by, origin, now)) != VAULT_OK ||
	    (r = journal_append(s, &(struct journal_event){ by, NULL,
	    "aidant.remove", mid, "ok", origin })) != VAULT_OK)
		goto rollback;
	r = store_note_failure(s, db_commit(s->db));
	if (r == VAULT_OK)
		/* the wrappings leave the WAL too */
		(void)sqlite3_wal_checkpoint_v2(db_handle(s->db), NULL,
		    SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	return r;
rollback:
	db_rollback(s->db);
	return store_note_failure(s, r);
}
