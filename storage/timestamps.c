/* timestamps.c: tokens asked for again (see timestamps.h). */
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>
#include <sodium.h>

#include "db.h"
#include "journal.h"
#include "timestamps.h"
#include "tsa.h"

vault_err
timestamps_stamp_checkpoint(struct store *s, uint64_t tree_size, const char *note,
    int background)
{
	char serial[65];
	uint8_t sha[32], *der = NULL;
	sqlite3_stmt *st = NULL;
	size_t len;
	vault_err r;
	int rc;

	if (s->tsa == NULL)
		return VAULT_ERR_UNSUPPORTED;
	if ((r = store_writable(s)) != VAULT_OK)
		return r;
	/* the token is over the note's exact bytes, as served */
	crypto_hash_sha256(sha, (const unsigned char *)note, strlen(note));
	if ((r = tsa_stamp(s->tsa, sha, background, &der, &len, serial)) != VAULT_OK)
		return r;
	if ((r = db_begin(s->db)) != VAULT_OK)
		goto out;
	if (sqlite3_prepare_v2(db_handle(s->db), "UPDATE checkpoints SET tsa_token = ?1,"
	    " tsa_serial = ?2 WHERE tree_size = ?3 AND tsa_token IS NULL", -1, &st,
	    NULL) != SQLITE_OK) {
		db_rollback(s->db);
		r = VAULT_ERR_INTERNAL;
		goto out;
	}
	sqlite3_bind_blob(st, 1, der, (int)len, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, serial, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)tree_size);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		db_rollback(s->db);
		r = db_err(rc);
		goto out;
	}
	r = db_commit(s->db);
out:
	free(der);
	return store_note_failure(s, r);
}

/* One document's token, stored with its timestamp.issue event. */
static vault_err
stamp_document(struct store *s, const char *doc, const char *owner_text,
    const uint8_t sha[32])
{
	char serial[65];
	uint8_t *der = NULL;
	sqlite3_stmt *st = NULL;
	vault_id owner;
	size_t len;
	vault_err r;
	int rc;

	if ((r = vault_id_from_text(owner_text, &owner)) != VAULT_OK)
		return VAULT_ERR_CORRUPT;
	if ((r = tsa_stamp(s->tsa, sha, 1, &der, &len, serial)) != VAULT_OK)
		return r;
	if ((r = db_begin(s->db)) != VAULT_OK)
		goto out;
	if (sqlite3_prepare_v2(db_handle(s->db), "UPDATE documents SET tsa_token = ?1,"
	    " tsa_serial = ?2, tsa_pending = 0 WHERE document_id = ?3"
	    " AND tsa_pending = 1", -1, &st, NULL) != SQLITE_OK) {
		r = VAULT_ERR_INTERNAL;
		goto rollback;
	}
	sqlite3_bind_blob(st, 1, der, (int)len, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, serial, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, doc, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		r = db_err(rc);
		goto rollback;
	}
	/* deleted since, or stamped by another worker: nothing to record */
	if (sqlite3_changes(db_handle(s->db)) == 1 &&
	    (r = journal_append(s, &(struct journal_event){ NULL, &owner,
	    "timestamp.issue", doc, "ok", NULL })) != VAULT_OK)
		goto rollback;
	r = db_commit(s->db);
	goto out;
rollback:
	db_rollback(s->db);
out:
	free(der);
	return store_note_failure(s, r);
}

struct missing {
	char id[VAULT_ID_TEXT_LEN + 1];   /* a document, or "" for a checkpoint */
	char owner[VAULT_ID_TEXT_LEN + 1];
	uint8_t sha[32];
	uint64_t tree_size;
	char *note;
};

static vault_err
count_left(struct store *s, unsigned *left)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db_handle(s->db), "SELECT (SELECT count(*) FROM"
	    " documents WHERE tsa_pending = 1) + (SELECT count(*) FROM checkpoints"
	    " WHERE tsa_token IS NULL)", -1, &st, NULL) != SQLITE_OK)
		return VAULT_ERR_INTERNAL;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*left = (unsigned)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? VAULT_OK : db_err(rc);
}

/* What waits, documents first (a person is waiting for those), then
 * checkpoints; at most max. */
static vault_err
list_missing(struct store *s, unsigned max, struct missing **mp, unsigned *np)
{
	struct missing *m;
	sqlite3_stmt *st;
	vault_err r = VAULT_OK;
	unsigned n = 0;
	int rc = SQLITE_DONE, pass;

	*mp = NULL;
	*np = 0;
	if ((m = calloc(max, sizeof *m)) == NULL)
		return VAULT_ERR_NOMEM;
	for (pass = 0; pass < 2 && n < max && r == VAULT_OK; pass++) {
		if (sqlite3_prepare_v2(db_handle(s->db), pass == 0 ?
		    "SELECT document_id, owner_id, sha256 FROM documents"
		    " WHERE tsa_pending = 1 ORDER BY deposited_at LIMIT ?1" :
		    "SELECT tree_size, note FROM checkpoints WHERE tsa_token IS NULL"
		    " ORDER BY tree_size LIMIT ?1", -1, &st, NULL) != SQLITE_OK) {
			r = VAULT_ERR_INTERNAL;
			break;
		}
		sqlite3_bind_int(st, 1, (int)(max - n));
		while (n < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
			if (pass == 0) {
				if (sqlite3_column_bytes(st, 2) != 32) {
					r = VAULT_ERR_CORRUPT;
					break;
				}
				snprintf(m[n].id, sizeof m[n].id, "%s", sqlite3_column_text(st, 0));
				snprintf(m[n].owner, sizeof m[n].owner, "%s", sqlite3_column_text(st, 1));
				memcpy(m[n].sha, sqlite3_column_blob(st, 2), 32);
			} else {
				m[n].tree_size = (uint64_t)sqlite3_column_int64(st, 0);
				if ((m[n].note = strdup((const char *)sqlite3_column_text(st, 1))) == NULL) {
					r = VAULT_ERR_NOMEM;
					break;
				}
			}
			n++;
		}
		if (r == VAULT_OK && n < max && rc != SQLITE_DONE)
			r = db_err(rc);
		sqlite3_finalize(st);
	}
	*mp = m;
	*np = n;
	return r;
}

vault_err
timestamps_catch_up(struct store *s, unsigned max, unsigned *issued, unsigned *left)
{
	struct missing *m = NULL;
	unsigned n = 0, i, done = 0;
	vault_err r;

	if (issued != NULL)
		*issued = 0;
	if (left != NULL)
		*left = 0;
	if (max == 0 || s->tsa == NULL)
		return VAULT_OK;
	if ((r = store_writable(s)) != VAULT_OK)
		return r;
	/* read first, then one short write transaction a token: the TSA is
	 * asked with no lock held */
	if ((r = list_missing(s, max, &m, &n)) == VAULT_OK) {
		for (i = 0; i < n; i++) {
			r = m[i].note == NULL ? stamp_document(s, m[i].id, m[i].owner, m[i].sha) :
			    timestamps_stamp_checkpoint(s, m[i].tree_size, m[i].note, 1);
			if (r != VAULT_OK)
				break;
			done++;
		}
	}
	for (i = 0; i < n; i++)
		free(m[i].note);
	free(m);
	if (issued != NULL)
		*issued = done;
	if (left != NULL && count_left(s, left) != VAULT_OK)
		*left = 0;
	return r;
}

vault_err
timestamps_checkpoint_get(struct store *s, uint64_t tree_size, char **note,
    uint8_t **der, size_t *len)
{
	sqlite3_stmt *st;
	vault_err r = VAULT_OK;
	int rc;

	*note = NULL;
	*der = NULL;
	*len = 0;
	if (sqlite3_prepare_v2(db_handle(s->db), "SELECT note, tsa_token FROM"
	    " checkpoints WHERE tree_size = ?1", -1, &st, NULL) != SQLITE_OK)
		return VAULT_ERR_INTERNAL;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)tree_size);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_finalize(st);
		return rc == SQLITE_DONE ? VAULT_ERR_NOTFOUND : db_err(rc);
	}
	if ((*note = strdup((const char *)sqlite3_column_text(st, 0))) == NULL)
		r = VAULT_ERR_NOMEM;
	else if (sqlite3_column_bytes(st, 1) > 0) {
		*len = (size_t)sqlite3_column_bytes(st, 1);
		if ((*der = malloc(*len)) == NULL)
			r = VAULT_ERR_NOMEM;
		else
			memcpy(*der, sqlite3_column_blob(st, 1), *len);
	}
	sqlite3_finalize(st);
	if (r != VAULT_OK) {
		free(*note);
		free(*der);
		*note = NULL;
		*der = NULL;
		*len = 0;
	}
	return r;
}
