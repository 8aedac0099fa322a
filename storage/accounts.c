/* accounts.c: accounts and their key records in the database. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts.h"
#include "db.h"
#include "journal.h"
#include "vault_os.h"

static const char *const roles[] = {
	"person", "aidant", "structure_admin", "instance_admin", "auditor",
};

int
accounts_login_valid(const char *login)
{
	size_t n, i;

	if (login == NULL)
		return 0;
	n = strlen(login);
	if (n < ACCOUNT_LOGIN_MIN || n > ACCOUNT_LOGIN_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		char c = login[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

int
accounts_role_valid(const char *role)
{
	size_t i;

	for (i = 0; i < sizeof roles / sizeof roles[0]; i++)
		if (role != NULL && strcmp(role, roles[i]) == 0)
			return 1;
	return 0;
}

/* Display names: 1–128 bytes, no control characters (they end up in
 * journals and pages). UTF-8 validity is the API's job. */
static int
name_valid(const char *name)
{
	size_t n, i;

	if (name == NULL || (n = strlen(name)) == 0 || n > ACCOUNT_NAME_MAX ||
	    !vault_utf8_valid(name))
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return 0;
	return 1;
}

void
account_unlocked_wipe(struct account_unlocked *u)
{
	sodium_free(u->sk);
	sodium_memzero(u, sizeof *u);
}

/* ---- key records ------------------------------------------------------ */

static void
bind_blob(sqlite3_stmt *st, int i, const void *p, size_t n)
{
	sqlite3_bind_blob(st, i, p, (int)n, SQLITE_STATIC);
}

static int
col_copy(sqlite3_stmt *st, int i, void *out, size_t n)
{
	if (sqlite3_column_bytes(st, i) != (int)n)
		return -1;
	memcpy(out, sqlite3_column_blob(st, i), n);
	return 0;
}

#define KEYREC_COLS "k.public_key, k.pw_opslimit, k.pw_memlimit, k.pw_salt, " \
	"k.pw_nonce, k.pw_wrapped_sk, k.rec_salt, k.rec_nonce, k.rec_wrapped_sk"

/* Reads columns first..first+8 of st into rec. */
static vault_err
keyrec_from_row(sqlite3_stmt *st, int c, struct keys_record *rec)
{
	rec->pw.opslimit = (uint64_t)sqlite3_column_int64(st, c + 1);
	rec->pw.memlimit = (uint64_t)sqlite3_column_int64(st, c + 2);
	if (col_copy(st, c, rec->pk, sizeof rec->pk) != 0 ||
	    col_copy(st, c + 3, rec->pw_salt, sizeof rec->pw_salt) != 0 ||
	    col_copy(st, c + 4, rec->pw_nonce, sizeof rec->pw_nonce) != 0 ||
	    col_copy(st, c + 5, rec->pw_wrapped_sk, sizeof rec->pw_wrapped_sk) != 0 ||
	    col_copy(st, c + 6, rec->rec_salt, sizeof rec->rec_salt) != 0 ||
	    col_copy(st, c + 7, rec->rec_nonce, sizeof rec->rec_nonce) != 0 ||
	    col_copy(st, c + 8, rec->rec_wrapped_sk, sizeof rec->rec_wrapped_sk) != 0)
		return VAULT_ERR_CORRUPT;
	return VAULT_OK;
}

static vault_err
keyrec_save(struct store *s, const struct keys_record *rec, int insert)
{
	static const char *ins =
	    "INSERT INTO account_keys (public_key, pw_opslimit, pw_memlimit,"
	    " pw_salt, pw_nonce, pw_wrapped_sk, rec_salt, rec_nonce,"
	    " rec_wrapped_sk, updated_at, account_id)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";
	static const char *upd =
	    "UPDATE account_keys SET public_key = ?1, pw_opslimit = ?2,"
	    " pw_memlimit = ?3, pw_salt = ?4, pw_nonce = ?5, pw_wrapped_sk = ?6,"
	    " rec_salt = ?7, rec_nonce = ?8, rec_wrapped_sk = ?9,"
	    " updated_at = ?10 WHERE account_id = ?11";
	char id[VAULT_ID_TEXT_LEN + 1];
	sqlite3_stmt *st;
	int rc;

	vault_id_to_text(&rec->account_id, id);
	if (sqlite3_prepare_v2(db_handle(s->db), insert ? ins : upd, -1, &st,
	    NULL) != SQLITE_OK)
		return VAULT_ERR_INTERNAL;
	bind_blob(st, 1, rec->pk, sizeof rec->pk);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)rec->pw.opslimit);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)rec->pw.memlimit);
	bind_blob(st, 4, rec->pw_salt, sizeof rec->pw_salt);
	bind_blob(st, 5, rec->pw_nonce, sizeof rec->pw_nonce);
	bind_blob(st, 6, rec->pw_wrapped_sk, sizeof rec->pw_wrapped_sk);
	bind_blob(st, 7, rec->rec_salt, sizeof rec->rec_salt);
	bind_blob(st, 8, rec->rec_nonce, sizeof rec->rec_nonce);
	bind_blob(st, 9, rec->rec_wrapped_sk, sizeof rec->rec_wrapped_sk);
	sqlite3_bind_int64(st, 10, vault_os.now_ms());
	sqlite3_bind_text(st, 11, id, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return db_err(rc);
	return sqlite3_changes(db_handle(s->db)) == 1 ? VAULT_OK : VAULT_ERR_NOTFOUND;
}

/* Loads by login, with the role and the log-in counters. VAULT_ERR_NOTFOUND
 * if no account with keys has that login. */
static vault_err
keyrec_by_login(struct store *s, const char *login, struct keys_record *rec,
    char role[24], int64_t *failed, int64_t *locked_until)
{
	sqlite3_stmt *st;
	vault_err r;
	int rc;

	memset(rec, 0, sizeof *rec);
	if (sqlite3_prepare_v2(db_handle(s->db),
	    "SELECT a.account_id, a.role, a.failed_logins, a.locked_until, "
	    KEYREC_COLS " FROM accounts a JOIN account_keys k USING (account_id)"
	    " WHERE a.login = lower(?1) AND a.removed_at IS NULL", -1, &st,
	    NULL) != SQLITE_OK)
		return VAULT_ERR_INTERNAL;
	sqlite3_bind_text(st, 1, login, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		r = VAULT_ERR_NOTFOUND;
	else if (rc != SQLITE_ROW)
		r = db_err(rc);
	else if ((r = vault_id_from_text((const char *)sqlite3_column_text(st, 0),
	    &rec->account_id)) == VAULT_OK) {
		snprintf(role, 24, "%s", (const char *)sqlite3_column_text(st, 1));
		*failed = sqlite3_column_int64(st, 2);
		*locked_until = sqlite3_column_int64(st, 3);
		r = keyrec_from_row(st, 4, rec);
	}
	sqlite3_finalize(st);
	return r;
}

vault_err
accounts_public_key(struct store *s, const vault_id *id, uint8_t pk[KEYS_PK_LEN])
{
	char idt[VAULT_ID_TEXT_LEN + 1];
	sqlite3_stmt *st;
	vault_err r;
	int rc;

	vault_id_to_text(id, idt);
	if (db_prepare(s->db,
	    "SELECT public_key FROM account_keys WHERE account_id = ?1",
	    &st) != VAULT_OK)
		return VAULT_ERR_INTERNAL;
	sqlite3_bind_text(st, 1, idt, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		r = col_copy(st, 0, pk, KEYS_PK_LEN) == 0 ? VAULT_OK : VAULT_ERR_CORRUPT;
	else
		r = rc == SQLITE_DONE ? VAULT_ERR_NOTFOUND : db_err(rc);
	db_finish(s->db, st);
	return r;
}

/* ---- operations ------------------------------------------------------- */

/* Inserts the accounts row (and nothing else) inside an open transaction. */
static vault_err
insert_account(struct store *s, const char *idt, const char *login,
    const char *role, const char *display_name, const vault_id *structure_id,
    const vault_id *enrolled_by, const uint8_t *activation_hash,
    int64_t activation_expires)
{
	char st_t[VAULT_ID_TEXT_LEN + 1], by_t[VAULT_ID_TEXT_LEN + 1];
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db_handle(s->db),
	    "INSERT INTO accounts (account_id, login, role, display_name,"
	    " structure_id, created_at, enrolled_by, activation_hash,"
	    " activation_expires_at) VALUES (?1, lower(?2), ?3, ?4, ?5, ?6, ?7,"
	    " ?8, ?9)", -1, &st, NULL) != SQLITE_OK)
		return VAULT_ERR_INTERNAL;
	sqlite3_bind_text(st, 1, idt, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, login, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, role, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, display_name, -1, SQLITE_STATIC);
	if (structure_id != NULL) {
		vault_id_to_text(structure_id, st_t);
		sqlite3_bind_text(st, 5, st_t, -1, SQLITE_STATIC);
	}
	sqlite3_bind_int64(st, 6, vault_os.now_ms());
	if (enrolled_by != NULL) {
		vault_id_to_text(enrolled_by, by_t);
		sqlite3_bind_text(st, 7, by_t, -1, SQLITE_STATIC);
	}
	if (activation_hash != NULL) {
		sqlite3_bind_blob(st, 8, activation_hash, 32, SQLITE_STATIC);
		sqlite3_bind_int64(st, 9, activation_expires);
	}
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	/* a taken login is a UNIQUE constraint: EXISTS */
	return rc == SQLITE_DONE ? VAULT_OK : db_err(rc);
}

vault_err
accounts_create(struct store *s, const char *login, const char *display_name,
    const char *role, const vault_id *structure_id, const vault_id *creator,
    const char *secret, size_t secret_len, vault_id *idp,
    char **recovery_codep)
{
	char idt[VAULT_ID_TEXT_LEN + 1];
	struct keys_record rec;
	char *code = NULL;
	vault_id id;
	vault_err r;

	*recovery_codep = NULL;
	memset(idp, 0, sizeof *idp);
	if (!accounts_login_valid(login) || !name_valid(display_name) ||
	    !accounts_role_valid(role))
		return VAULT_ERR_FORMAT;
	if ((r = store_writable(s)) != VAULT_OK)
		return r;
	vault_id_random(&id);
	vault_id_to_text(&id, idt);
	/* Argon2id before the transaction: never hold the write lock for it. */
	if ((r = keys_account_create(&id, secret, secret_len, s->pepper,
	    &s->opt.pw, &rec, &code, NULL)) != VAULT_OK)
		return r;
	if ((r = db_begin(s->db)) != VAULT_OK)
		goto out;
	if ((r = insert_account(s, idt, login, role, display_name, structure_id,
	    creator, NULL, 0)) != VAULT_OK ||
	    (r = keyrec_save(s, &rec, 1)) != VAULT_OK ||
	    (r = journal_append(s, &(struct journal_event){ creator, &id,
	    "account.create", idt, "ok", NULL })) != VAULT_OK) {
		db_rollback(s->db);
		goto out;
	}
	if ((r = store_note_failure(s, db_commit(s->db))) != VAULT_OK)
		goto out;
	*idp = id;
	*recovery_codep = code;
	code = NULL;
out:
	sodium_free(code);
	sodium_memzero(&rec, sizeof rec);
	return r;
}

/* ---- enrolment by activation code ---------------------------------------- */

static const char activation_label[] = "vault/activation/v1";

/* BLAKE2b-256(key = pepper, label ‖ normalised code): a stolen database
 * alone does not reveal a pending code. */
vault_err
accounts_activation_normalise(const char *code,
    char out[ACCOUNT_ACTIVATION_SYMBOLS + 1])
{
	size_t n = 0;
	const char *p;

	for (p = code; *p != '\0'; p++) {
		char c = *p;
		if (c == '-' || c == ' ')
			continue;
		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		if (c == '\0' || strchr(KEYS_RECOVERY_ALPHABET, c) == NULL ||
		    n == ACCOUNT_ACTIVATION_SYMBOLS) {
			sodium_memzero(out, ACCOUNT_ACTIVATION_SYMBOLS + 1);
			return VAULT_ERR_FORMAT;
		}
		out[n++] = c;
	}
	out[n] = '\0';
	if (n != ACCOUNT_ACTIVATION_SYMBOLS) {
		sodium_memzero(out, ACCOUNT_ACTIVATION_SYMBOLS + 1);
		return VAULT_ERR_FORMAT;
	}
	return VAULT_OK;
}

static vault_err
activation_hash(const struct store *s, const char *code, uint8_t out[32])
{
	char norm[ACCOUNT_ACTIVATION_SYMBOLS + 1];
	crypto_generichash_state st;
	size_t n = ACCOUNT_ACTIVATION_SYMBOLS;

	if (accounts_activation_normalise(code, norm) != VAULT_OK)
		return VAULT_ERR_FORMAT;
	crypto_generichash_init(&st, s->pepper, KEYS_PEPPER_LEN, 32);
	crypto_generichash_update(&st, (const uint8_t *)activation_label,
	    sizeof activation_label - 1);
	crypto_generichash_update(&st, (const uint8_t *)norm, n);
	crypto_generichash_final(&st, out, 32);
	sodium_memzero(norm, sizeof norm);
	sodium_memzero(&st, sizeof st);
	return VAULT_OK;
}

/* Inside the enrolment's transaction: replaces the code of a pending
 * account. VAULT_ERR_EXISTS if the login is activated or the requester may
 * not renew it. */
static vault_err
renew_code(struct store *s, const char *login, const vault_id *requester,
    const uint8_t h[32], int64_t expires, vault_id *idp, char idt[VAULT_ID_TEXT_LEN + 1])
{
	char rt[VAULT_ID_TEXT_LEN + 1];
	struct account_info who;
	sqlite3_stmt *st;
	int rc, admin;

	if (requester == NULL || accounts_get(s, requester, &who) != VAULT_OK)
		return VAULT_ERR_EXISTS;
	admin = strcmp(who.role, "instance_admin") == 0;
	vault_id_to_text(requester, rt);
	if (sqlite3_prepare_v2(db_handle(s->db),
	    "UPDATE accounts SET activation_hash = ?2, activation_expires_at = ?3"
	    " WHERE login = lower(?1) AND activation_hash IS NOT NULL"
	    " AND (?5 OR enrolled_by = ?4) AND NOT EXISTS (SELECT 1 FROM"
	    " account_keys k WHERE k.account_id = accounts.account_id)"
	    " RETURNING account_id", -1, &st, NULL) != SQLITE_OK)
		return VAULT_ERR_INTERNAL;
	sqlite3_bind_text(st, 1, login, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, h, 32, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, expires);
	sqlite3_bind_text(st, 4, rt, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 5, admin);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		snprintf(idt, VAULT_ID_TEXT_LEN + 1, "%s", sqlite3_column_text(st, 0));
		rc = vault_id_from_text(idt, idp) == VAULT_OK ? SQLITE_DONE : SQLITE_CORRUPT;
		sqlite3_step(st);
	} else if (rc == SQLITE_DONE)
		rc = SQLITE_CONSTRAINT;
	sqlite3_finalize(st);
	return rc == SQLITE_CONSTRAINT ? VAULT_ERR_EXISTS : db_err(rc);
}

vault_err
accounts_enrol(struct store *s, const char *login, const char *display_name,
    const vault_id *enrolled_by, const char *origin, vault_id *idp,
    char **codep, int64_t *expires_at)
{
	static const char alphabet[] = KEYS_RECOVERY_ALPHABET;
	char idt[VAULT_ID_TEXT_LEN + 1], *code;
	uint8_t h[32];
	vault_id id;
	vault_err r;
	size_t i, o = 0;

	*codep = NULL;
	memset(idp, 0, sizeof *idp);
	if (!accounts_login_valid(login) || !name_valid(display_name))
		return VAULT_ERR_FORMAT;
	if ((r = store_writable(s)) != VAULT_OK)
		return r;
	if ((code = sodium_malloc(ACCOUNT_ACTIVATION_TEXT_LEN + 1)) == NULL)
		return VAULT_ERR_NOMEM;
	for (i = 0; i < ACCOUNT_ACTIVATION_SYMBOLS; i++) {
		if (i > 0 && i % 4 == 0)
			code[o++] = '-';
		code[o++] = alphabet[randombytes_uniform(sizeof alphabet - 1)];
	}
	code[o] = '\0';
	if ((r = activation_hash(s, code, h)) != VAULT_OK)
		goto fail;
	vault_id_random(&id);
	vault_id_to_text(&id, idt);
	*expires_at = vault_os.now_ms() + ACCOUNT_ACTIVATION_MS;
	if ((r = db_begin(s->db)) != VAULT_OK)
		goto fail;
	r = insert_account(s, idt, login, "person", display_name, NULL,
	    enrolled_by, h, *expires_at);
	/* The login of someone enrolled but never activated (her code lost
	 * or expired): a new code, for whoever enrolled her or an instance
	 * administrator. An activated account is never touched. */
	if (r == VAULT_ERR_EXISTS)
		r = renew_code(s, login, enrolled_by, h, *expires_at, &id, idt);
	if (r != VAULT_OK ||
	    (r = journal_append(s, &(struct journal_event){ enrolled_by, &id,
	    "account.enrol", idt, "ok", origin })) != VAULT_OK) {
		db_rollback(s->db);
		goto fail;
	}
	if ((r = store_note_failure(s, db_commit(s->db))) != VAULT_OK)
		goto fail;
	*idp = id;
	*codep = code;
	return VAULT_OK;
fail:
	sodium_free(code);
	return r;
}

vault_err
accounts_activate(struct store *s, const char *login, const char *code,
    const char *secret, size_t secret_len, const char *origin, vault_id *idp,
    char **recovery_codep)
{
	char idt[VAULT_ID_TEXT_LEN + 1];
	uint8_t h[32], stored[32];
	struct keys_record rec;
	sqlite3_stmt *st = NULL;
	char *rcode = NULL;
	int64_t expires = 0;
	int found = 0, rc;
	vault_id id;
	vault_err r;

	*recovery_codep = NULL;
	memset(idp, 0, sizeof *idp);
	memset(&rec, 0, sizeof rec);
	if (!accounts_login_valid(login) || activation_hash(s, code, h) != VAULT_OK)
		return VAULT_ERR_AUTH;
	if ((r = store_writable(s)) != VAULT_OK)
		return r;
	if (sqlite3_prepare_v2(db_handle(s->db),
	    "SELECT account_id, activation_hash, activation_expires_at FROM accounts"
	    " WHERE login = lower(?1) AND activation_hash IS NOT NULL AND"
	    " NOT EXISTS (SELECT 1 FROM account_keys k WHERE"
	    " k.account_id = accounts.account_id)", -1, &st, NULL) != SQLITE_OK)
		return VAULT_ERR_INTERNAL;
	sqlite3_bind_text(st, 1, login, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 1) == 32 &&
	    vault_id_from_text((const char *)sqlite3_column_text(st, 0), &id) == VAULT_OK) {
		memcpy(stored, sqlite3_column_blob(st, 1), 32);
		expires = sqlite3_column_int64(st, 2);
		found = 1;
	}
	sqlite3_finalize(st);
	st = NULL;
	/* One comparison whatever the reason, in constant time. */
	if (!found || sodium_memcmp(h, stored, 32) != 0 || vault_os.now_ms() >= expires) {
		if (found)
			(void)journal_record(s, &(struct journal_event){ NULL, &id,
			    "account.activate", NULL, "denied", origin });
		return VAULT_ERR_AUTH;
	}
	vault_id_to_text(&id, idt);
	if ((r = keys_account_create(&id, secret, secret_len, s->pepper,
	    &s->opt.pw, &rec, &rcode, NULL)) != VAULT_OK)
		return r;
	if ((r = db_begin(s->db)) != VAULT_OK)
		goto out;
	/* the code dies in the same transaction that makes the keys */
	if (sqlite3_prepare_v2(db_handle(s->db),
	    "UPDATE accounts SET activation_hash = NULL, activation_expires_at ="
	    " NULL WHERE account_id = ?1 AND activation_hash = ?2", -1, &st,
	    NULL) != SQLITE_OK) {
		r = VAULT_ERR_INTERNAL;
		goto rollback;
	}
	sqlite3_bind_text(st, 1, idt, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, h, 32, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		r = db_err(rc);
		goto rollback;
	}
	if (sqlite3_changes(db_handle(s->db)) != 1) {
		r = VAULT_ERR_AUTH; /* used by a concurrent activation */
		goto rollback;
	}
	if ((r = keyrec_save(s, &rec, 1)) != VAULT_OK ||
	    (r = journal_append(s, &(struct journal_event){ &id, &id,
	    "account.activate", idt, "ok", origin })) != VAULT_OK)
		goto rollback;
	if ((r = store_note_failure(s, db_commit(s->db))) != VAULT_OK)
		goto out;
	*idp = id;
	*recovery_codep = rcode;
	rcode = NULL;
	goto out;
rollback:
	db_rollback(s->db);
out:
	sodium_free(rcode);
	sodium_memzero(&rec, sizeof rec);
	return r;
}

/* ---- reading accounts -------------------------------------------------- */

vault_err
accounts_get(struct store *s, const vault_id *id, struct account_info *info)
{
	char idt[VAULT_ID_TEXT_LEN + 1];
	const unsigned char *t;
	sqlite3_stmt *st;
	vault_err r;
	int rc;

	memset(info, 0, sizeof *info);
	vault_id_to_text(id, idt);
	if (db_prepare(s->db,
	    "SELECT login, role, display_name, structure_id, created_at,"
	    " locked_until, EXISTS (SELECT 1 FROM account_keys k WHERE"
	    " k.account_id = a.account_id), (SELECT name FROM structures st WHERE"
	    " st.structure_id = a.structure_id) FROM accounts a WHERE account_id = ?1",
	    &st) != VAULT_OK)
		return VAULT_ERR_INTERNAL;
	sqlite3_bind_text(st, 1, idt, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		info->id = *id;
		snprintf(info->login, sizeof info->login, "%s", sqlite3_column_text(st, 0));
		snprintf(info->role, sizeof info->role, "%s", sqlite3_column_text(st, 1));
		snprintf(info->display_name, sizeof info->display_name, "%s",
		    sqlite3_column_text(st, 2));
		if ((t = sqlite3_column_text(st, 3)) != NULL &&
		    vault_id_from_text((const char *)t, &info->structure_id) == VAULT_OK)
			info->has_structure = 1;
		info->created_at = sqlite3_column_int64(st, 4);
		info->locked_until = sqlite3_column_int64(st, 5);
		info->has_keys = sqlite3_column_int(st, 6);
		if ((t = sqlite3_column_text(st, 7)) != NULL)
			snprintf(info->structure_name, sizeof info->structure_name,
			    "%s", t);
		r = VAULT_OK;
	} else
		r = rc == SQLITE_DONE ? VAULT_ERR_NOTFOUND : db_err(rc);
	db_finish(s->db, st);
	return r;
}

/* Spends the same Argon2id work as a real unlock, for unknown logins. */
static void
unlock_dummy(struct store *s, const char *secret, size_t secret_len)
{
	struct keys_record dummy;
	uint8_t *sk = NULL;

	/* A fresh random record each time: no state shared between threads,
	 * and the AEAD fails as it would for a wrong secret. */
	randombytes_buf(&dummy, sizeof dummy);
	dummy.pw = s->opt.pw;
	(void)keys_unlock_secret(&dummy, secret, secret_len, s->pepper, &sk);
	sodium_free(sk);
}

enum attempt { ATTEMPT_UNKNOWN, ATTEMPT_LOCKED, ATTEMPT_FAILED, ATTEMPT_OK };

/*
 * Records a log-in attempt: its journal events and the account's counters,
 * read and written in the same write transaction, so that concurrent
 * attempts cannot undo each other (a failure counted on a stale value, a
 * lock overwritten by a later write). A success that finds the account
 * locked meanwhile is refused: VAULT_ERR_AUTH.
 */
static vault_err
record_attempt(struct store *s, const vault_id *id, enum attempt kind,
    const char *origin, int *locked_now)
{
	char idt[VAULT_ID_TEXT_LEN + 1];
	int64_t failed = 0, locked_until = 0, now = vault_os.now_ms();
	const char *action = "session.login_failed", *outcome = "failed";
	sqlite3_stmt *st;
	vault_err r;
	int rc, lock = 0;

	if (locked_now != NULL)
		*locked_now = 0;
	if ((r = store_writable(s)) != VAULT_OK)
		return r;
	if ((r = db_begin(s->db)) != VAULT_OK)
		return store_note_failure(s, r);
	if (id != NULL && (kind == ATTEMPT_FAILED || kind == ATTEMPT_OK)) {
		vault_id_to_text(id, idt);
		if (sqlite3_prepare_v2(db_handle(s->db), "SELECT failed_logins,"
		    " locked_until FROM accounts WHERE account_id = ?1", -1, &st,
		    NULL) != SQLITE_OK) {
			db_rollback(s->db);
			return VAULT_ERR_INTERNAL;
		}
		sqlite3_bind_text(st, 1, idt, -1, SQLITE_STATIC);
		if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			failed = sqlite3_column_int64(st, 0);
			locked_until = sqlite3_column_int64(st, 1);
		}
		sqlite3_finalize(st);
		if (rc != SQLITE_ROW) {
			db_rollback(s->db);
			return rc == SQLITE_DONE ? VAULT_ERR_AUTH : db_err(rc);
		}
		if (kind == ATTEMPT_OK && locked_until > now) {
			/* locked by a concurrent failure since we looked */
			kind = ATTEMPT_LOCKED;
		} else if (kind == ATTEMPT_OK) {
			failed = 0;
			locked_until = 0;
		} else if (++failed >= (int64_t)s->opt.lock_threshold) {
			if (locked_until < now + s->opt.lock_ms)
				locked_until = now + s->opt.lock_ms;
			failed = 0;
			lock = 1;
		}
		if (kind != ATTEMPT_LOCKED) {
			if (sqlite3_prepare_v2(db_handle(s->db), "UPDATE accounts SET"
			    " failed_logins = ?2, locked_until = ?3 WHERE account_id = ?1",
			    -1, &st, NULL) != SQLITE_OK) {
				db_rollback(s->db);
				return VAULT_ERR_INTERNAL;
			}
			sqlite3_bind_text(st, 1, idt, -1, SQLITE_STATIC);
			sqlite3_bind_int64(st, 2, failed);
			sqlite3_bind_int64(st, 3, locked_until);
			rc = sqlite3_step(st);
			sqlite3_finalize(st);
			if (rc != SQLITE_DONE) {
				db_rollback(s->db);
				return db_err(rc);
			}
		}
	}
	if (kind == ATTEMPT_OK) {
		action = "session.login";
		outcome = "ok";
	} else if (kind == ATTEMPT_LOCKED)
		outcome = "locked";
	/* a successful log-in is the account's own act; a failed one is
	 * nobody's (whoever typed it is unknown) */
	if ((r = journal_append(s, &(struct journal_event){
	    kind == ATTEMPT_OK ? id : NULL, id, action, NULL, outcome,
	    origin })) != VAULT_OK ||
	    (lock && (r = journal_append(s, &(struct journal_event){ NULL,
	    id, "session.locked", NULL, "ok", origin })) != VAULT_OK)) {
		db_rollback(s->db);
		return r;
	}
	if ((r = store_note_failure(s, db_commit(s->db))) != VAULT_OK)
		return r;
	if (locked_now != NULL)
		*locked_now = lock;
	return kind == ATTEMPT_OK ? VAULT_OK : VAULT_ERR_AUTH;
}

vault_err
accounts_unlock(struct store *s, const char *login, const char *secret,
    size_t secret_len, const char *origin, struct account_unlocked *u,
    struct unlock_report *rep)
{
	struct unlock_report dummy_rep;
	struct keys_record rec, up;
	int64_t failed = 0, locked_until = 0;
	vault_err r;

	memset(u, 0, sizeof *u);
	if (rep == NULL)
		rep = &dummy_rep;
	memset(rep, 0, sizeof *rep);
	r = accounts_login_valid(login) ?
	    keyrec_by_login(s, login, &rec, u->role, &failed, &locked_until) :
	    VAULT_ERR_NOTFOUND;
	if (r == VAULT_ERR_NOTFOUND) {
		/* Same work as for a known login: one Argon2id, one durable
		 * journal entry. */
		unlock_dummy(s, secret, secret_len);
		(void)record_attempt(s, NULL, ATTEMPT_UNKNOWN, origin, NULL);
		memset(u, 0, sizeof *u);
		return VAULT_ERR_AUTH;
	}
	if (r != VAULT_OK)
		return r;
	rep->known = 1;
	rep->id = rec.account_id;
	if (locked_until > vault_os.now_ms()) {
		unlock_dummy(s, secret, secret_len);
		rep->locked = 1;
		(void)record_attempt(s, &rec.account_id, ATTEMPT_LOCKED, origin, NULL);
		memset(u, 0, sizeof *u);
		return VAULT_ERR_AUTH;
	}
	if ((r = keys_unlock_secret(&rec, secret, secret_len, s->pepper,
	    &u->sk)) != VAULT_OK) {
		memset(u, 0, sizeof *u);
		if (r != VAULT_ERR_AUTH)
			return r;
		(void)record_attempt(s, &rec.account_id, ATTEMPT_FAILED, origin,
		    &rep->locked_now);
		return VAULT_ERR_AUTH;
	}
	u->id = rec.account_id;
	memcpy(u->pk, rec.pk, sizeof u->pk);
	if ((r = record_attempt(s, &rec.account_id, ATTEMPT_OK, origin,
	    NULL)) != VAULT_OK) {
		/* no session without its journal entry, none for an account
		 * locked meanwhile */
		if (r == VAULT_ERR_AUTH)
			rep->locked = 1;
		account_unlocked_wipe(u);
		return r;
	}
	/* The cost was raised since this wrapping was made: re-wrap now that
	 * we hold both the secret and the key. A failure here costs nothing
	 * but a later retry, so the unlock still succeeds. */
	if (keys_pwparams_weaker(&rec.pw, &s->opt.pw) &&
	    store_writable(s) == VAULT_OK) {
		up = rec;
		if (keys_set_secret(&up, u->sk, secret, secret_len, s->pepper,
		    &s->opt.pw) == VAULT_OK && db_begin(s->db) == VAULT_OK) {
			if (keyrec_save(s, &up, 0) == VAULT_OK)
				(void)store_note_failure(s, db_commit(s->db));
			else
				db_rollback(s->db);
		}
		sodium_memzero(&up, sizeof up);
	}
	sodium_memzero(&rec, sizeof rec);
	return VAULT_OK;
}

static vault_err
reset_counters(struct store *s, const vault_id *id)
{
	char idt[VAULT_ID_TEXT_LEN + 1];
	sqlite3_stmt *st;
	int rc;

	vault_id_to_text(id, idt);
	if (sqlite3_prepare_v2(db_handle(s->db), "UPDATE accounts SET"
	    " failed_logins = 0, locked_until = 0 WHERE account_id = ?1", -1,
	    &st, NULL) != SQLITE_OK)
		return VAULT_ERR_INTERNAL;
	sqlite3_bind_text(st, 1, idt, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? VAULT_OK : db_err(rc);
}

vault_err
accounts_recover(struct store *s, const char *login, const char *recovery_code,
    const char *new_secret, size_t new_secret_len, const char *origin,
    vault_id *idp, char **new_recovery_codep)
{
	struct keys_record rec;
	uint8_t *sk = NULL;
	char *code = NULL;
	char role[24];
	int64_t failed, locked_until;
	vault_err r;

	*new_recovery_codep = NULL;
	if (!accounts_login_valid(login))
		return VAULT_ERR_AUTH;
	if ((r = keyrec_by_login(s, login, &rec, role, &failed, &locked_until)) != VAULT_OK)
		return r == VAULT_ERR_NOTFOUND ? VAULT_ERR_AUTH : r;
	if ((r = keys_unlock_recovery(&rec, recovery_code, s->pepper, &sk)) != VAULT_OK ||
	    (r = keys_set_secret(&rec, sk, new_secret, new_secret_len, s->pepper,
	    &s->opt.pw)) != VAULT_OK ||
	    (r = keys_set_recovery(&rec, sk, s->pepper, &code)) != VAULT_OK)
		goto out;
	/* New secret and new code replace the old ones in one row update:
	 * both old ones die at the same commit. */
	if ((r = store_writable(s)) != VAULT_OK || (r = db_begin(s->db)) != VAULT_OK)
		goto out;
	/* a successful recovery also lifts a lock: the person proved herself */
	if ((r = keyrec_save(s, &rec, 0)) != VAULT_OK ||
	    (r = journal_append(s, &(struct journal_event){ &rec.account_id,
	    &rec.account_id, "account.recover", NULL, "ok", origin })) != VAULT_OK ||
	    (r = reset_counters(s, &rec.account_id)) != VAULT_OK) {
		db_rollback(s->db);
		goto out;
	}
	if ((r = store_note_failure(s, db_commit(s->db))) != VAULT_OK)
		goto out;
	*new_recovery_codep = code;
	code = NULL;
	if (idp != NULL)
		*idp = rec.account_id;
out:
	sodium_free(sk);
	sodium_free(code);
	sodium_memzero(&rec, sizeof rec);
	return r;
}

/* ---- structures ---------------------------------------------------------- */

vault_err
accounts_structure_create(struct store *s, const char *name,
    const vault_id *creator, const char *origin, vault_id *idp)
{
	char idt[VAULT_ID_TEXT_LEN + 1];
	sqlite3_stmt *st;
	vault_id id;
	vault_err r;
	int rc;

	memset(idp, 0, sizeof *idp);
	if (!name_valid(name))
		return VAULT_ERR_FORMAT;
	if ((r = store_writable(s)) != VAULT_OK)
		return r;
	vault_id_random(&id);
	vault_id_to_text(&id, idt);
	if ((r = db_begin(s->db)) != VAULT_OK)
		return store_note_failure(s, r);
	if (sqlite3_prepare_v2(db_handle(s->db), "INSERT INTO structures"
	    " (structure_id, name, created_at) VALUES (?1, ?2, ?3)", -1, &st,
	    NULL) != SQLITE_OK) {
		db_rollback(s->db);
		return VAULT_ERR_INTERNAL;
	}
	sqlite3_bind_text(st, 1, idt, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, vault_os.now_ms());
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE ||
	    (r = journal_append(s, &(struct journal_event){ creator, NULL,
	    "structure.create", idt, "ok", origin })) != VAULT_OK) {
		db_rollback(s->db);
		return rc != SQLITE_DONE ? db_err(rc) : r;
	}
	if ((r = store_note_failure(s, db_commit(s->db))) != VAULT_OK)
		return r;
	*idp = id;
	return VAULT_OK;
}

vault_err
accounts_structure_exists(struct store *s, const vault_id *id)
{
	char idt[VAULT_ID_TEXT_LEN + 1];
	sqlite3_stmt *st;
	int rc;

	vault_id_to_text(id, idt);
	if (sqlite3_prepare_v2(db_handle(s->db), "SELECT 1 FROM structures"
	    " WHERE structure_id = ?1", -1, &st, NULL) != SQLITE_OK)
		return VAULT_ERR_INTERNAL;
	sqlite3_bind_text(st, 1, idt, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? VAULT_OK : rc == SQLITE_DONE ? VAULT_ERR_NOTFOUND : db_err(rc);
}
