/* mandates.c: mandates and the key wrappings they own (see mandates.h). */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "db.h"
#include "documents.h"
#include "journal.h"
#include "mandates.h"
#include "vault_os.h"

#define DAY_MS (24LL * 3600 * 1000)

static vault_err
exec_bind_id(struct store *s, const char *sql, const char *id)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db_handle(s->db), sql, -1, &st, NULL) != SQLITE_OK)
		return VAULT_ERR_INTERNAL;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? VAULT_OK : db_err(rc);
}

/* The aidant's public key, if the account is an aidant with keys. */
static vault_err
aidant_key(struct store *s, const vault_id *aidant, uint8_t pk[KEYS_PK_LEN])
{
	struct account_info a;
	vault_err r;

	if ((r = accounts_get(s, aidant, &a)) != VAULT_OK)
		return r;
	if ((strcmp(a.role, "aidant") != 0 && strcmp(a.role, "structure_admin") != 0) ||
	    !a.has_keys)
		return VAULT_ERR_NOTFOUND;
	return accounts_public_key(s, aidant, pk);
}

/* Wraps every in-scope document's key for the aidant (inside the grant's
 * transaction). */
static vault_err
wrap_documents(struct store *s, const struct account_unlocked *person,
    const char *mandate_id, unsigned categories, const uint8_t *aidant_pk,
    int64_t now)
{
	uint8_t sealed[KEYS_SEALED_DOCKEY_LEN], *dk = NULL;
	char pt[VAULT_ID_TEXT_LEN + 1];
	struct document_info info;
	sqlite3_stmt *q = NULL;
	vault_id doc;
	vault_err r = VAULT_OK;
	int rc;

	vault_id_to_text(&person->id, pt);
	if (sqlite3_prepare_v2(db_handle(s->db),
	    "SELECT document_id, category FROM documents WHERE owner_id = ?1",
	    -1, &q, NULL) != SQLITE_OK)
		return VAULT_ERR_INTERNAL;
	sqlite3_bind_text(q, 1, pt, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		int cat = documents_category_index((const char *)sqlite3_column_text(q, 1));
		if (cat < 0 || !(categories & (1u << cat)))
			continue;
		if (vault_id_from_text((const char *)sqlite3_column_text(q, 0), &doc) != VAULT_OK) {
			r = VAULT_ERR_CORRUPT;
			goto out;
		}
		if ((r = documents_unwrap_owner_key(s, &person->id, &doc, person->pk,
		    person->sk, &info, &dk)) != VAULT_OK ||
		    (r = keys_dockey_seal(dk, &doc, aidant_pk, sealed)) != VAULT_OK)
			goto out;
		keys_dockey_free(dk);
		dk = NULL;
		if ((r = documents_add_wrapping(s, (const char *)sqlite3_column_text(q, 0),
		    "aidant", mandate_id, sealed, sizeof sealed, now)) != VAULT_OK)
			goto out;
	}
	if (rc != SQLITE_DONE)
		r = db_err(rc);
out:
	keys_dockey_free(dk);
	sodium_memzero(&info, sizeof info);
	sqlite3_finalize(q);
	return r;
}

vault_err
mandates_grant(struct store *s, const struct account_unlocked *person,
    const vault_id *aidant, int scopes, unsigned categories, int days,
    const char *origin, struct mandate_info *out)
{
	char mt[VAULT_ID_TEXT_LEN + 1], pt[VAULT_ID_TEXT_LEN + 1];
	char at[VAULT_ID_TEXT_LEN + 1];
	uint8_t apk[KEYS_PK_LEN];
	sqlite3_stmt *st;
	int64_t now;
	vault_id id;
	vault_err r;
	int rc;

	memset(out, 0, sizeof *out);
	if (scopes == 0 || (scopes & ~(MANDATE_SCOPE_DEPOSIT | MANDATE_SCOPE_READ)) != 0 ||
	    categories == 0 || (categories & ~MANDATE_ALL_CATEGORIES) != 0 ||
	    days < 1 || days > MANDATE_DAYS_MAX)
		return VAULT_ERR_FORMAT;
	if ((r = store_writable(s)) != VAULT_OK)
		return r;
	if ((r = aidant_key(s, aidant, apk)) != VAULT_OK)
		return r;
	vault_id_random(&id);
	vault_id_to_text(&id, mt);
	vault_id_to_text(&person->id, pt);
	vault_id_to_text(aidant, at);
	now = vault_os.now_ms();
	if ((r = db_begin(s->db)) != VAULT_OK)
		return store_note_failure(s, r);
	if (sqlite3_prepare_v2(db_handle(s->db),
	    "INSERT INTO mandates (mandate_id, person_id, aidant_id, scope_deposit,"
	    " scope_read, categories, created_at, expires_at) VALUES"
	    " (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)", -1, &st, NULL) != SQLITE_OK) {
		r = VAULT_ERR_INTERNAL;
		goto rollback;
	}
	sqlite3_bind_text(st, 1, mt, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, pt, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, at, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 4, (scopes & MANDATE_SCOPE_DEPOSIT) != 0);
	sqlite3_bind_int(st, 5, (scopes & MANDATE_SCOPE_READ) != 0);
	sqlite3_bind_int(st, 6, (int)categories);
	sqlite3_bind_int64(st, 7, now);
	sqlite3_bind_int64(st, 8, now + days * DAY_MS);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		r = db_err(rc);
		goto rollback;
	}
	if ((scopes & MANDATE_SCOPE_READ) &&
	    (r = wrap_documents(s, person, mt, categories, apk, now)) != VAULT_OK)
		goto rollback;
	if ((r = journal_append(s, &(struct journal_event){ &person->id,
	    &person->id, "mandate.grant", mt, "ok", origin })) != VAULT_OK)
		goto rollback;
	if ((r = store_note_failure(s, db_commit(s->db))) != VAULT_OK)
		return r;
	out->id = id;
	out->person = person->id;
	out->aidant = *aidant;
	out->scopes = scopes;
	out->categories = categories;
	out->created_at = now;
	out->expires_at = now + days * DAY_MS;
	out->status = "active";
	return VAULT_OK;
rollback:
	db_rollback(s->db);
	return r;
}

vault_err
mandates_revoke(struct store *s, const vault_id *person, const vault_id *mandate,
    const char *origin)
{
	char mt[VAULT_ID_TEXT_LEN + 1], pt[VAULT_ID_TEXT_LEN + 1];
	sqlite3_stmt *st;
	int64_t now = vault_os.now_ms();
	int rc, active;
	vault_err r;

	if ((r = store_writable(s)) != VAULT_OK)
		return r;
	vault_id_to_text(mandate, mt);
	vault_id_to_text(person, pt);
	if ((r = db_begin(s->db)) != VAULT_OK)
		return store_note_failure(s, r);
	if (sqlite3_prepare_v2(db_handle(s->db),
	    "SELECT revoked_at IS NULL AND expires_at > ?3 FROM mandates"
	    " WHERE mandate_id = ?1 AND person_id = ?2", -1, &st, NULL) != SQLITE_OK) {
		r = VAULT_ERR_INTERNAL;
		goto rollback;
	}
	sqlite3_bind_text(st, 1, mt, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, pt, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, now);
	rc = sqlite3_step(st);
	active = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW) {
		r = rc == SQLITE_DONE ? VAULT_ERR_NOTFOUND : db_err(rc);
		goto rollback;
	}
	/* The wrappings go whatever the state: after expiry the sweeper may
	 * not have run yet. */
	if ((r = exec_bind_id(s, "DELETE FROM key_wrappings WHERE holder_kind ="
	    " 'aidant' AND holder_id = ?1", mt)) != VAULT_OK)
		goto rollback;
	if (active) {
		if (sqlite3_prepare_v2(db_handle(s->db), "UPDATE mandates SET"
		    " revoked_at = ?2, ended_journaled = 1 WHERE mandate_id = ?1",
		    -1, &st, NULL) != SQLITE_OK) {
			r = VAULT_ERR_INTERNAL;
			goto rollback;
		}
		sqlite3_bind_text(st, 1, mt, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, now);
		rc = sqlite3_step(st);
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE) {
			r = db_err(rc);
			goto rollback;
		}
		if ((r = journal_append(s, &(struct journal_event){ person, person,
		    "mandate.revoke", mt, "ok", origin })) != VAULT_OK)
			goto rollback;
	}
	r = store_note_failure(s, db_commit(s->db));
	if (r == VAULT_OK)
		/* the wrappings leave the WAL too, as for a deleted document;
		 * the revocation is committed and answered as done, but a
		 * failed sync here stops later writes (it was ignored before) */
		(void)store_note_failure(s, db_checkpoint_truncate(s->db));
	return r;
rollback:
	db_rollback(s->db);
	return r;
}

static vault_err
list(struct store *s, const char *sql, const vault_id *who, mandates_fn fn,
    void *ctx)
{
	char wt[VAULT_ID_TEXT_LEN + 1];
	struct mandate_info m;
	sqlite3_stmt *st;
	int64_t now = vault_os.now_ms();
	vault_err r = VAULT_OK;
	int rc;

	vault_id_to_text(who, wt);
	if (sqlite3_prepare_v2(db_handle(s->db), sql, -1, &st, NULL) != SQLITE_OK)
		return VAULT_ERR_INTERNAL;
	sqlite3_bind_text(st, 1, wt, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&m, 0, sizeof m);
		if (vault_id_from_text((const char *)sqlite3_column_text(st, 0), &m.id) != VAULT_OK ||
		    vault_id_from_text((const char *)sqlite3_column_text(st, 1), &m.person) != VAULT_OK ||
		    vault_id_from_text((const char *)sqlite3_column_text(st, 2), &m.aidant) != VAULT_OK) {
			r = VAULT_ERR_CORRUPT;
			break;
		}
		m.scopes = (sqlite3_column_int(st, 3) ? MANDATE_SCOPE_DEPOSIT : 0) |
		    (sqlite3_column_int(st, 4) ? MANDATE_SCOPE_READ : 0);
		m.categories = (unsigned)sqlite3_column_int(st, 5);
		m.created_at = sqlite3_column_int64(st, 6);
		m.expires_at = sqlite3_column_int64(st, 7);
		m.revoked_at = sqlite3_column_int64(st, 8);
		m.status = m.revoked_at != 0 ? "revoked" : m.expires_at <= now ?
		    "expired" : "active";
		if ((r = fn(ctx, &m)) != VAULT_OK)
			break;
	}
	if (r == VAULT_OK && rc != SQLITE_DONE)
		r = db_err(rc);
	sqlite3_finalize(st);
	return r;
}

#define MANDATE_COLS "mandate_id, person_id, aidant_id, scope_deposit," \
	" scope_read, categories, created_at, expires_at, COALESCE(revoked_at, 0)"

vault_err
mandates_list_person(struct store *s, const vault_id *person, mandates_fn fn,
    void *ctx)
{
	return list(s, "SELECT " MANDATE_COLS " FROM mandates WHERE person_id = ?1"
	    " AND ?2 = ?2 ORDER BY created_at DESC, mandate_id", person, fn, ctx);
}

vault_err
mandates_list_aidant(struct store *s, const vault_id *aidant, mandates_fn fn,
    void *ctx)
{
	return list(s, "SELECT " MANDATE_COLS " FROM mandates WHERE aidant_id = ?1"
	    " AND revoked_at IS NULL AND expires_at > ?2 ORDER BY created_at DESC,"
	    " mandate_id", aidant, fn, ctx);
}

vault_err
mandates_categories(struct store *s, const vault_id *aidant,
    const vault_id *person, int scope, unsigned *mask)
{
	char at[VAULT_ID_TEXT_LEN + 1], pt[VAULT_ID_TEXT_LEN + 1];
	sqlite3_stmt *st;
	int rc;

	*mask = 0;
	vault_id_to_text(aidant, at);
	vault_id_to_text(person, pt);
	if (db_prepare(s->db,
	    "SELECT categories FROM mandates WHERE aidant_id = ?1 AND person_id = ?2"
	    " AND revoked_at IS NULL AND expires_at > ?3"
	    " AND ((?4 & 1 AND scope_deposit) OR (?4 & 2 AND scope_read))",
	    &st) != VAULT_OK)
		return VAULT_ERR_INTERNAL;
	sqlite3_bind_text(st, 1, at, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, pt, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, vault_os.now_ms());
	sqlite3_bind_int(st, 4, scope);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		*mask |= (unsigned)sqlite3_column_int(st, 0);
	db_finish(s->db, st);
	return rc == SQLITE_DONE ? VAULT_OK : db_err(rc);
}

vault_err
mandates_check(struct store *s, const vault_id *aidant, const vault_id *person,
    int scope, int category, vault_id *mandate)
{
	char at[VAULT_ID_TEXT_LEN + 1], pt[VAULT_ID_TEXT_LEN + 1];
	sqlite3_stmt *st;
	vault_err r;
	int rc;

	vault_id_to_text(aidant, at);
	vault_id_to_text(person, pt);
	if (db_prepare(s->db,
	    "SELECT mandate_id FROM mandates WHERE aidant_id = ?1 AND person_id = ?2"
	    " AND revoked_at IS NULL AND expires_at > ?3"
	    " AND ((?4 = 1 AND scope_deposit) OR (?4 = 2 AND scope_read))"
	    " AND (?5 < 0 OR (categories >> ?5) & 1) ORDER BY expires_at DESC LIMIT 1",
	    &st) != VAULT_OK)
		return VAULT_ERR_INTERNAL;
	sqlite3_bind_text(st, 1, at, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, pt, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, vault_os.now_ms());
	sqlite3_bind_int(st, 4, scope);
	sqlite3_bind_int(st, 5, category);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		r = mandate == NULL ? VAULT_OK : vault_id_from_text(
		    (const char *)sqlite3_column_text(st, 0), mandate);
	else
		r = rc == SQLITE_DONE ? VAULT_ERR_NOTFOUND : db_err(rc);
	db_finish(s->db, st);
	return r;
}

vault_err
mandates_sweep(struct store *s, unsigned *ended)
{
	char mt[VAULT_ID_TEXT_LEN + 1];
	sqlite3_stmt *st;
	vault_id person;
	vault_err r;
	unsigned n = 0;
	int rc;

	if (ended != NULL)
		*ended = 0;
	if ((r = store_writable(s)) != VAULT_OK)
		return r;
	/* One expired mandate per transaction: short write locks. */
	for (;;) {
		if ((r = db_begin(s->db)) != VAULT_OK)
			return store_note_failure(s, r);
		if (sqlite3_prepare_v2(db_handle(s->db),
		    "SELECT mandate_id, person_id FROM mandates WHERE revoked_at IS NULL"
		    " AND ended_journaled = 0 AND expires_at <= ?1 LIMIT 1", -1, &st,
		    NULL) != SQLITE_OK) {
			db_rollback(s->db);
			return VAULT_ERR_INTERNAL;
		}
		sqlite3_bind_int64(st, 1, vault_os.now_ms());
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			snprintf(mt, sizeof mt, "%s", sqlite3_column_text(st, 0));
			r = vault_id_from_text((const char *)sqlite3_column_text(st, 1), &person);
		}
		sqlite3_finalize(st);
		if (rc != SQLITE_ROW || r != VAULT_OK) {
			db_rollback(s->db);
			break;
		}
		if ((r = exec_bind_id(s, "DELETE FROM key_wrappings WHERE holder_kind ="
		    " 'aidant' AND holder_id = ?1", mt)) != VAULT_OK ||
		    (r = exec_bind_id(s, "UPDATE mandates SET ended_journaled = 1"
		    " WHERE mandate_id = ?1", mt)) != VAULT_OK ||
		    (r = journal_append(s, &(struct journal_event){ NULL, &person,
		    "mandate.expire", mt, "ok", NULL })) != VAULT_OK) {
			db_rollback(s->db);
			return r;
		}
		if ((r = store_note_failure(s, db_commit(s->db))) != VAULT_OK)
			return r;
		n++;
	}
	if (ended != NULL)
		*ended = n;
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return db_err(rc);
	return r;
}
