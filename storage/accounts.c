/* accounts.c: accounts and their key records in the database. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts.h"
#include "db.h"
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

static int
role_valid(const char *role)
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

	if (name == NULL || (n = strlen(name)) == 0 || n > ACCOUNT_NAME_MAX)
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

/* Loads by login; also returns the role. VAULT_ERR_NOTFOUND if none. */
static vault_err
keyrec_by_login(struct store *s, const char *login, struct keys_record *rec,
    char role[24])
{
	sqlite3_stmt *st;
	vault_err r;
	int rc;

	memset(rec, 0, sizeof *rec);
	if (sqlite3_prepare_v2(db_handle(s->db),
	    "SELECT a.account_id, a.role, " KEYREC_COLS
	    " FROM accounts a JOIN account_keys k USING (account_id)"
	    " WHERE a.login = ?1", -1, &st, NULL) != SQLITE_OK)
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
		r = keyrec_from_row(st, 2, rec);
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
	if (sqlite3_prepare_v2(db_handle(s->db),
	    "SELECT public_key FROM account_keys WHERE account_id = ?1", -1, &st,
	    NULL) != SQLITE_OK)
		return VAULT_ERR_INTERNAL;
	sqlite3_bind_text(st, 1, idt, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		r = col_copy(st, 0, pk, KEYS_PK_LEN) == 0 ? VAULT_OK : VAULT_ERR_CORRUPT;
	else
		r = rc == SQLITE_DONE ? VAULT_ERR_NOTFOUND : db_err(rc);
	sqlite3_finalize(st);
	return r;
}

/* ---- operations ------------------------------------------------------- */

vault_err
accounts_create(struct store *s, const char *login, const char *display_name,
    const char *role, const char *secret, size_t secret_len, vault_id *idp,
    char **recovery_codep)
{
	char idt[VAULT_ID_TEXT_LEN + 1];
	struct keys_record rec;
	sqlite3_stmt *st = NULL;
	char *code = NULL;
	vault_id id;
	vault_err r;
	int rc;

	*recovery_codep = NULL;
	memset(idp, 0, sizeof *idp);
	if (!accounts_login_valid(login) || !name_valid(display_name) ||
	    !role_valid(role))
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
	if (sqlite3_prepare_v2(db_handle(s->db),
	    "INSERT INTO accounts (account_id, login, role, display_name,"
	    " created_at) VALUES (?1, lower(?2), ?3, ?4, ?5)", -1, &st,
	    NULL) != SQLITE_OK) {
		r = VAULT_ERR_INTERNAL;
		goto rollback;
	}
	sqlite3_bind_text(st, 1, idt, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, login, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, role, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, display_name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, vault_os.now_ms());
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE) {
		r = db_err(rc); /* a taken login is a UNIQUE constraint: EXISTS */
		goto rollback;
	}
	if ((r = keyrec_save(s, &rec, 1)) != VAULT_OK)
		goto rollback;
	if ((r = store_note_failure(s, db_commit(s->db))) != VAULT_OK)
		goto out;
	*idp = id;
	*recovery_codep = code;
	code = NULL;
	goto out;
rollback:
	db_rollback(s->db);
out:
	sqlite3_finalize(st);
	sodium_free(code);
	sodium_memzero(&rec, sizeof rec);
	return r;
}

/* Spends the same Argon2id work as a real unlock, for unknown logins. */
static void
unlock_dummy(struct store *s, const char *secret, size_t secret_len)
{
	static struct keys_record dummy;
	static int ready;
	uint8_t *sk = NULL;

	if (!ready) {
		randombytes_buf(&dummy, sizeof dummy);
		ready = 1;
	}
	dummy.pw = s->opt.pw;
	(void)keys_unlock_secret(&dummy, secret, secret_len, s->pepper, &sk);
	sodium_free(sk);
}

vault_err
accounts_unlock(struct store *s, const char *login, const char *secret,
    size_t secret_len, struct account_unlocked *u)
{
	struct keys_record rec, up;
	vault_err r;

	memset(u, 0, sizeof *u);
	if (!accounts_login_valid(login)) {
		unlock_dummy(s, secret, secret_len);
		return VAULT_ERR_AUTH;
	}
	r = keyrec_by_login(s, login, &rec, u->role);
	if (r == VAULT_ERR_NOTFOUND) {
		unlock_dummy(s, secret, secret_len);
		return VAULT_ERR_AUTH;
	}
	if (r != VAULT_OK)
		return r;
	if ((r = keys_unlock_secret(&rec, secret, secret_len, s->pepper,
	    &u->sk)) != VAULT_OK) {
		memset(u, 0, sizeof *u);
		return r;
	}
	u->id = rec.account_id;
	memcpy(u->pk, rec.pk, sizeof u->pk);
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

vault_err
accounts_recover(struct store *s, const char *login, const char *recovery_code,
    const char *new_secret, size_t new_secret_len, char **new_recovery_codep)
{
	struct keys_record rec;
	uint8_t *sk = NULL;
	char *code = NULL;
	char role[24];
	vault_err r;

	*new_recovery_codep = NULL;
	if (!accounts_login_valid(login))
		return VAULT_ERR_AUTH;
	if ((r = keyrec_by_login(s, login, &rec, role)) != VAULT_OK)
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
	if ((r = keyrec_save(s, &rec, 0)) != VAULT_OK) {
		db_rollback(s->db);
		goto out;
	}
	if ((r = store_note_failure(s, db_commit(s->db))) != VAULT_OK)
		goto out;
	*new_recovery_codep = code;
	code = NULL;
out:
	sodium_free(sk);
	sodium_free(code);
	sodium_memzero(&rec, sizeof rec);
	return r;
}
