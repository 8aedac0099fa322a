/* shares.c: share links (see shares.h, docs/FORMAT.md 3.7). */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "db.h"
#include "journal.h"
#include "shares.h"
#include "vault_os.h"

#define HOUR_MS (3600LL * 1000)
#define SHARE_WRAP_NONCE crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define SHARE_WRAPPED_LEN (SHARE_WRAP_NONCE + KEYS_DOCKEY_PAYLOAD_LEN + \
	crypto_aead_xchacha20poly1305_ietf_ABYTES)

static const char hash_label[] = "vault/share-id/v1";
static const char key_label[] = "vault/share/v1";

/* token_hash = BLAKE2b-256(label ‖ token): what the database keeps. */
static void
token_hash(const uint8_t token[SHARE_TOKEN_LEN], uint8_t out[32])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, (const uint8_t *)hash_label, sizeof hash_label - 1);
	crypto_generichash_update(&st, token, SHARE_TOKEN_LEN);
	crypto_generichash_final(&st, out, 32);
}

/* K_share = BLAKE2b-256(key = token, label), guarded. */
static vault_err
share_key(const uint8_t *token, uint8_t **kp)
{
	uint8_t *k;

	*kp = NULL;
	if ((k = sodium_malloc(32)) == NULL)
		return VAULT_ERR_NOMEM;
	crypto_generichash(k, 32, (const uint8_t *)key_label, sizeof key_label - 1,
	    token, SHARE_TOKEN_LEN);
	*kp = k;
	return VAULT_OK;
}

static void
share_ad(const vault_id *share, uint8_t ad[4 + VAULT_ID_LEN])
{
	memcpy(ad, "VSH1", 4);
	memcpy(ad + 4, share->b, VAULT_ID_LEN);
}

vault_err
shares_create(struct store *s, const struct account_unlocked *person,
    const vault_id *document, unsigned hours, unsigned max_downloads,
    const char *origin, struct share_info *out,
    char token_text[SHARE_TOKEN_TEXT_LEN + 1])
{
	uint8_t token[SHARE_TOKEN_LEN], h[32], ad[4 + VAULT_ID_LEN];
	uint8_t wrapped[SHARE_WRAPPED_LEN], *dk = NULL, *k = NULL, *payload = NULL;
	char st_t[VAULT_ID_TEXT_LEN + 1], pt[VAULT_ID_TEXT_LEN + 1];
	char dt[VAULT_ID_TEXT_LEN + 1];
	struct document_info info;
	sqlite3_stmt *st = NULL;
	int64_t now;
	vault_id id;
	vault_err r;
	int rc;

	memset(out, 0, sizeof *out);
	token_text[0] = '\0';
	if (hours < 1 || hours > SHARE_HOURS_MAX || max_downloads < 1 ||
	    max_downloads > SHARE_DOWNLOADS_MAX)
		return VAULT_ERR_FORMAT;
	if ((r = store_writable(s)) != VAULT_OK)
		return r;
	if ((r = documents_unwrap_owner_key(s, &person->id, document, person->pk,
	    person->sk, &info, &dk)) != VAULT_OK)
		return r;
	randombytes_buf(token, sizeof token);
	token_hash(token, h);
	vault_id_random(&id);
	share_ad(&id, ad);
	if ((r = share_key(token, &k)) != VAULT_OK ||
	    (payload = sodium_malloc(KEYS_DOCKEY_PAYLOAD_LEN)) == NULL) {
		r = r != VAULT_OK ? r : VAULT_ERR_NOMEM;
		goto out;
	}
	/* the same payload as a sealed wrapping: "VDK1" ‖ document ‖ DK */
	memcpy(payload, "VDK1", 4);
	memcpy(payload + 4, document->b, VAULT_ID_LEN);
	memcpy(payload + 4 + VAULT_ID_LEN, dk, KEYS_DOCKEY_LEN);
	randombytes_buf(wrapped, SHARE_WRAP_NONCE);
	crypto_aead_xchacha20poly1305_ietf_encrypt(wrapped + SHARE_WRAP_NONCE, NULL,
	    payload, KEYS_DOCKEY_PAYLOAD_LEN, ad, sizeof ad, NULL, wrapped, k);
	vault_id_to_text(&id, st_t);
	vault_id_to_text(&person->id, pt);
	vault_id_to_text(document, dt);
	now = vault_os.now_ms();
	if ((r = db_begin(s->db)) != VAULT_OK) {
		r = store_note_failure(s, r);
		goto out;
	}
	if (sqlite3_prepare_v2(db_handle(s->db),
	    "INSERT INTO shares (share_id, person_id, document_id, token_hash,"
	    " created_at, expires_at, max_downloads) VALUES (?1, ?2, ?3, ?4, ?5,"
	    " ?6, ?7)", -1, &st, NULL) != SQLITE_OK) {
		r = VAULT_ERR_INTERNAL;
		goto rollback;
	}
	sqlite3_bind_text(st, 1, st_t, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, pt, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, dt, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 4, h, 32, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, now);
	sqlite3_bind_int64(st, 6, now + (int64_t)hours * HOUR_MS);
	sqlite3_bind_int(st, 7, (int)max_downloads);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	st = NULL;
	if (rc != SQLITE_DONE) {
		r = db_err(rc);
		goto rollback;
	}
	if ((r = documents_add_wrapping(s, dt, "share", st_t, wrapped,
	    sizeof wrapped, now)) != VAULT_OK)
		goto rollback;
	if ((r = journal_append(s, &(struct journal_event){ &person->id,
	    &person->id, "share.create", st_t, "ok", origin })) != VAULT_OK)
		goto rollback;
	if ((r = store_note_failure(s, db_commit(s->db))) != VAULT_OK)
		goto out;
	sodium_bin2base64(token_text, SHARE_TOKEN_TEXT_LEN + 1, token, sizeof token,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	out->id = id;
	out->person = person->id;
	out->document = *document;
	out->created_at = now;
	out->expires_at = now + (int64_t)hours * HOUR_MS;
	out->max_downloads = max_downloads;
	goto out;
rollback:
	db_rollback(s->db);
out:
	sodium_memzero(token, sizeof token);
	sodium_memzero(&info, sizeof info);
	keys_dockey_free(dk);
	sodium_free(k);
	sodium_free(payload);
	return r;
}

vault_err
shares_open(struct store *s, const char *token_text, const char *origin,
    struct document_read **rp, struct document_info *info)
{
	uint8_t token[SHARE_TOKEN_LEN], h[32], ad[4 + VAULT_ID_LEN];
	uint8_t wrapped[SHARE_WRAPPED_LEN], *k = NULL, *payload = NULL;
	char st_t[VAULT_ID_TEXT_LEN + 1];
	struct document_read *rd = NULL;
	vault_id id, person, document;
	sqlite3_stmt *st = NULL;
	size_t tlen;
	int64_t now = vault_os.now_ms();
	vault_err r = VAULT_ERR_NOTFOUND;
	int rc;

	*rp = NULL;
	if (strlen(token_text) != SHARE_TOKEN_TEXT_LEN ||
	    vault_base64_decode(token, sizeof token, token_text, SHARE_TOKEN_TEXT_LEN,
	    &tlen, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    tlen != SHARE_TOKEN_LEN)
		return VAULT_ERR_NOTFOUND;
	token_hash(token, h);
	if (sqlite3_prepare_v2(db_handle(s->db),
	    "SELECT s.share_id, s.person_id, s.document_id, w.wrapped FROM shares s"
	    " JOIN key_wrappings w ON w.document_id = s.document_id AND"
	    " w.holder_kind = 'share' AND w.holder_id = s.share_id"
	    " WHERE s.token_hash = ?1 AND s.revoked_at IS NULL AND s.expires_at > ?2"
	    " AND s.downloads < s.max_downloads", -1, &st, NULL) != SQLITE_OK) {
		r = VAULT_ERR_INTERNAL;
		goto out;
	}
	sqlite3_bind_blob(st, 1, h, 32, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		r = rc == SQLITE_DONE ? VAULT_ERR_NOTFOUND : db_err(rc);
		goto out;
	}
	if (sqlite3_column_bytes(st, 3) != SHARE_WRAPPED_LEN ||
	    vault_id_from_text((const char *)sqlite3_column_text(st, 0), &id) != VAULT_OK ||
	    vault_id_from_text((const char *)sqlite3_column_text(st, 1), &person) != VAULT_OK ||
	    vault_id_from_text((const char *)sqlite3_column_text(st, 2), &document) != VAULT_OK) {
		r = VAULT_ERR_CORRUPT;
		goto out;
	}
	memcpy(wrapped, sqlite3_column_blob(st, 3), sizeof wrapped);
	sqlite3_finalize(st);
	st = NULL;
	share_ad(&id, ad);
	if ((r = share_key(token, &k)) != VAULT_OK ||
	    (payload = sodium_malloc(KEYS_DOCKEY_PAYLOAD_LEN)) == NULL) {
		r = r != VAULT_OK ? r : VAULT_ERR_NOMEM;
		goto out;
	}
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(payload, NULL, NULL,
	    wrapped + SHARE_WRAP_NONCE, sizeof wrapped - SHARE_WRAP_NONCE, ad,
	    sizeof ad, wrapped, k) != 0 || memcmp(payload, "VDK1", 4) != 0 ||
	    memcmp(payload + 4, document.b, VAULT_ID_LEN) != 0) {
		r = VAULT_ERR_CORRUPT;
		goto out;
	}
	if ((r = documents_open_key(s, &person, &document,
	    payload + 4 + VAULT_ID_LEN, &rd, info)) != VAULT_OK)
		goto out;
	/* Count the download, and journal it, before any byte goes out. */
	if ((r = store_writable(s)) != VAULT_OK ||
	    (r = db_begin(s->db)) != VAULT_OK)
		goto out;
	vault_id_to_text(&id, st_t);
	if (sqlite3_prepare_v2(db_handle(s->db),
	    "UPDATE shares SET downloads = downloads + 1 WHERE share_id = ?1"
	    " AND downloads < max_downloads AND revoked_at IS NULL", -1, &st,
	    NULL) != SQLITE_OK) {
		db_rollback(s->db);
		r = VAULT_ERR_INTERNAL;
		goto out;
	}
	sqlite3_bind_text(st, 1, st_t, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	st = NULL;
	if (rc != SQLITE_DONE || sqlite3_changes(db_handle(s->db)) != 1) {
		db_rollback(s->db);
		r = rc == SQLITE_DONE ? VAULT_ERR_NOTFOUND : db_err(rc);
		goto out;
	}
	/* the last download takes the link's key wrapping with it: a used-up
	 * link, like a revoked one, opens nothing even with its token */
	if (sqlite3_prepare_v2(db_handle(s->db), "DELETE FROM key_wrappings WHERE"
	    " holder_kind = 'share' AND holder_id = ?1 AND (SELECT downloads >="
	    " max_downloads FROM shares WHERE share_id = ?1)", -1, &st, NULL) != SQLITE_OK) {
		db_rollback(s->db);
		r = VAULT_ERR_INTERNAL;
		goto out;
	}
	sqlite3_bind_text(st, 1, st_t, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	st = NULL;
	if (rc != SQLITE_DONE) {
		db_rollback(s->db);
		r = db_err(rc);
		goto out;
	}
	if ((r = journal_append(s, &(struct journal_event){ NULL, &person,
	    "share.download", st_t, "ok", origin })) != VAULT_OK) {
		db_rollback(s->db);
		goto out;
	}
	if ((r = store_note_failure(s, db_commit(s->db))) != VAULT_OK)
		goto out;
	*rp = rd;
	rd = NULL;
out:
	sqlite3_finalize(st);
	documents_close(rd);
	sodium_memzero(token, sizeof token);
	sodium_free(k);
	sodium_free(payload);
	return r;
}

vault_err
shares_revoke(struct store *s, const vault_id *person, const vault_id *share,
    const char *origin)
{
	char st_t[VAULT_ID_TEXT_LEN + 1], pt[VAULT_ID_TEXT_LEN + 1];
	sqlite3_stmt *st;
	vault_err r;
	int rc, changed;

	if ((r = store_writable(s)) != VAULT_OK)
		return r;
	vault_id_to_text(share, st_t);
	vault_id_to_text(person, pt);
	if ((r = db_begin(s->db)) != VAULT_OK)
		return store_note_failure(s, r);
	if (sqlite3_prepare_v2(db_handle(s->db),
	    "UPDATE shares SET revoked_at = COALESCE(revoked_at, ?3)"
	    " WHERE share_id = ?1 AND person_id = ?2", -1, &st, NULL) != SQLITE_OK) {
		db_rollback(s->db);
		return VAULT_ERR_INTERNAL;
	}
	sqlite3_bind_text(st, 1, st_t, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, pt, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, vault_os.now_ms());
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	changed = sqlite3_changes(db_handle(s->db));
	if (rc != SQLITE_DONE || changed != 1) {
		db_rollback(s->db);
		return rc == SQLITE_DONE ? VAULT_ERR_NOTFOUND : db_err(rc);
	}
	if (sqlite3_prepare_v2(db_handle(s->db), "DELETE FROM key_wrappings WHERE"
	    " holder_kind = 'share' AND holder_id = ?1", -1, &st, NULL) != SQLITE_OK) {
		db_rollback(s->db);
		return VAULT_ERR_INTERNAL;
	}
	sqlite3_bind_text(st, 1, st_t, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE ||
	    (r = journal_append(s, &(struct journal_event){ person, person,
	    "share.revoke", st_t, "ok", origin })) != VAULT_OK) {
		db_rollback(s->db);
		return rc != SQLITE_DONE ? db_err(rc) : r;
	}
	return store_note_failure(s, db_commit(s->db));
}

vault_err
shares_sweep(struct store *s)
{
	sqlite3_stmt *st;
	vault_err r;
	int rc;

	if ((r = store_writable(s)) != VAULT_OK)
		return r;
	if ((r = db_begin(s->db)) != VAULT_OK)
		return store_note_failure(s, r);
	if (sqlite3_prepare_v2(db_handle(s->db), "DELETE FROM key_wrappings WHERE"
	    " holder_kind = 'share' AND holder_id IN (SELECT share_id FROM shares"
	    " WHERE expires_at <= ?1)", -1, &st, NULL) != SQLITE_OK) {
		db_rollback(s->db);
		return VAULT_ERR_INTERNAL;
	}
	sqlite3_bind_int64(st, 1, vault_os.now_ms());
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		db_rollback(s->db);
		return db_err(rc);
	}
	return store_note_failure(s, db_commit(s->db));
}
