/*
 * test_keys.c: the key hierarchy. Wrong secret, wrong pepper and wrong
 * recovery code fail; the right recovery code recovers and the old one
 * dies; raised Argon2id costs re-wrap at the next unlock; wrappings cannot
 * be moved between accounts; document keys are bound to their document.
 */
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include "accounts.h"
#include "db.h"
#include "keys.h"
#include "testlib.h"
#include "testutil.h"

static int test_setup(void) { return sodium_init() < 0 ? -1 : 0; }

static uint8_t pepper_a[KEYS_PEPPER_LEN], pepper_b[KEYS_PEPPER_LEN];

static void
peppers(void)
{
	memset(pepper_a, 0xa5, sizeof pepper_a);
	memset(pepper_b, 0x5a, sizeof pepper_b);
}

TEST(right_secret_unlocks_and_wrong_secret_or_pepper_does_not)
{
	struct keys_record rec;
	uint8_t *sk = NULL, *sk2 = NULL;
	char *code = NULL;
	vault_id id;

	peppers();
	vault_id_random(&id);
	REQUIRE(keys_account_create(&id, "correct horse", 13, pepper_a,
	    &test_pw_fast, &rec, &code, &sk) == VAULT_OK);
	CHECK(code != NULL && strlen(code) == KEYS_RECOVERY_TEXT_LEN);
	CHECK_EQ(keys_unlock_secret(&rec, "correct horse", 13, pepper_a, &sk2), VAULT_OK);
	CHECK(sk2 != NULL && sodium_memcmp(sk, sk2, KEYS_SK_LEN) == 0);
	sodium_free(sk2);
	CHECK_EQ(keys_unlock_secret(&rec, "correct horsf", 13, pepper_a, &sk2), VAULT_ERR_AUTH);
	CHECK(sk2 == NULL);
	CHECK_EQ(keys_unlock_secret(&rec, "correct horse", 12, pepper_a, &sk2), VAULT_ERR_AUTH);
	CHECK_EQ(keys_unlock_secret(&rec, "correct horse", 13, pepper_b, &sk2), VAULT_ERR_AUTH);
	CHECK(sk2 == NULL);
	/* the recovery code does not need the pepper to be secret, but it does
	 * need the right one */
	CHECK_EQ(keys_unlock_recovery(&rec, code, pepper_b, &sk2), VAULT_ERR_AUTH);
	sodium_free(sk);
	sodium_free(code);
}

TEST(recovery_code_format_has_no_lookalikes_and_accepts_sloppy_typing)
{
	struct keys_record rec;
	char *code = NULL, typed[64], norm[KEYS_RECOVERY_SYMBOLS + 1];
	uint8_t *sk = NULL;
	vault_id id;
	size_t i, o = 0;

	peppers();
	vault_id_random(&id);
	REQUIRE(keys_account_create(&id, "s", 1, pepper_a, &test_pw_fast, &rec,
	    &code, NULL) == VAULT_OK);
	for (i = 0; code[i] != '\0'; i++) {
		CHECK(strchr("0O1lI", code[i]) == NULL);
		CHECK(code[i] == '-' ? i % 5 == 4 : strchr(KEYS_RECOVERY_ALPHABET, code[i]) != NULL);
	}
	/* lower case, spaces instead of dashes */
	for (i = 0; code[i] != '\0'; i++)
		typed[o++] = code[i] == '-' ? ' ' : (char)(code[i] >= 'A' && code[i] <= 'Z' ? code[i] + 32 : code[i]);
	typed[o] = '\0';
	CHECK_EQ(keys_unlock_recovery(&rec, typed, pepper_a, &sk), VAULT_OK);
	sodium_free(sk);
	/* malformed: a look-alike, too short, too long */
	CHECK_EQ(keys_recovery_normalise("0000-0000-0000-0000-0000-0000-0000", norm), VAULT_ERR_FORMAT);
	CHECK_EQ(keys_recovery_normalise("ABCD", norm), VAULT_ERR_FORMAT);
	CHECK_EQ(keys_recovery_normalise("ABCD-ABCD-ABCD-ABCD-ABCD-ABCD-ABCD-A", norm), VAULT_ERR_FORMAT);
	CHECK_EQ(keys_recovery_normalise("ABCD-ABCD-ABCD-ABCD-ABCD-ABCD-ABCD", norm), VAULT_OK);
	/* a well-formed but wrong code */
	CHECK_EQ(keys_unlock_recovery(&rec, "ABCD-ABCD-ABCD-ABCD-ABCD-ABCD-ABCD", pepper_a, &sk), VAULT_ERR_AUTH);
	CHECK(sk == NULL);
	sodium_free(code);
}

TEST(wrapping_moved_to_another_account_does_not_open)
{
	struct keys_record a, b;
	char *ca = NULL, *cb = NULL;
	uint8_t *sk = NULL;
	vault_id ia, ib;

	peppers();
	vault_id_random(&ia);
	vault_id_random(&ib);
	REQUIRE(keys_account_create(&ia, "same", 4, pepper_a, &test_pw_fast, &a, &ca, NULL) == VAULT_OK);
	REQUIRE(keys_account_create(&ib, "same", 4, pepper_a, &test_pw_fast, &b, &cb, NULL) == VAULT_OK);
	/* b's row given a's wrapping (salt, nonce, ciphertext): the AD names
	 * a's id and key, so it fails. */
	memcpy(b.pw_salt, a.pw_salt, sizeof a.pw_salt);
	memcpy(b.pw_nonce, a.pw_nonce, sizeof a.pw_nonce);
	memcpy(b.pw_wrapped_sk, a.pw_wrapped_sk, sizeof a.pw_wrapped_sk);
	CHECK_EQ(keys_unlock_secret(&b, "same", 4, pepper_a, &sk), VAULT_ERR_AUTH);
	/* a's row with b's public key: AD mismatch again */
	memcpy(a.pk, b.pk, sizeof a.pk);
	CHECK_EQ(keys_unlock_secret(&a, "same", 4, pepper_a, &sk), VAULT_ERR_AUTH);
	CHECK(sk == NULL);
	sodium_free(ca);
	sodium_free(cb);
}

TEST(document_key_is_bound_to_its_document_and_holder)
{
	uint8_t pk[KEYS_PK_LEN], sk[KEYS_SK_LEN], pk2[KEYS_PK_LEN], sk2[KEYS_SK_LEN];
	uint8_t sealed[KEYS_SEALED_DOCKEY_LEN];
	uint8_t *dk = NULL, *back = NULL;
	vault_id doc, other;

	crypto_box_keypair(pk, sk);
	crypto_box_keypair(pk2, sk2);
	vault_id_random(&doc);
	vault_id_random(&other);
	REQUIRE(keys_dockey_new(&dk) == VAULT_OK);
	REQUIRE(keys_dockey_seal(dk, &doc, pk, sealed) == VAULT_OK);
	CHECK_EQ(keys_dockey_open(sealed, sizeof sealed, &doc, pk, sk, &back), VAULT_OK);
	CHECK(back != NULL && sodium_memcmp(back, dk, KEYS_DOCKEY_LEN) == 0);
	keys_dockey_free(back);
	CHECK_EQ(keys_dockey_open(sealed, sizeof sealed, &other, pk, sk, &back), VAULT_ERR_CORRUPT);
	CHECK(back == NULL);
	CHECK_EQ(keys_dockey_open(sealed, sizeof sealed, &doc, pk2, sk2, &back), VAULT_ERR_CORRUPT);
	CHECK_EQ(keys_dockey_open(sealed, sizeof sealed - 1, &doc, pk, sk, &back), VAULT_ERR_CORRUPT);
	sealed[40] ^= 1;
	CHECK_EQ(keys_dockey_open(sealed, sizeof sealed, &doc, pk, sk, &back), VAULT_ERR_CORRUPT);
	keys_dockey_free(dk);
}

TEST(pepper_file_is_0600_and_loose_or_short_ones_are_refused)
{
	char *dir = tu_tempdir("pepper"), path[512];
	struct stat st;
	uint8_t *p = NULL;

	REQUIRE(dir != NULL);
	snprintf(path, sizeof path, "%s/pepper.key", dir);
	CHECK_EQ(keys_file_create(path), VAULT_OK);
	CHECK_EQ(keys_file_create(path), VAULT_ERR_EXISTS);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	CHECK_EQ(keys_pepper_load(path, &p), VAULT_OK);
	CHECK(p != NULL);
	keys_pepper_free(p);
	chmod(path, 0644);
	CHECK_EQ(keys_pepper_load(path, &p), VAULT_ERR_AUTH);
	CHECK(p == NULL);
	chmod(path, 0600);
	CHECK(truncate(path, 31) == 0);
	CHECK_EQ(keys_pepper_load(path, &p), VAULT_ERR_FORMAT);
	snprintf(path, sizeof path, "%s/absent.key", dir);
	CHECK_EQ(keys_pepper_load(path, &p), VAULT_ERR_NOTFOUND);
	tu_rmrf(dir);
	free(dir);
}

/* ---- through the account store --------------------------------------- */

static int64_t
row_int(struct store *s, const char *sql, const char *arg)
{
	sqlite3_stmt *st;
	int64_t v = -1;
	if (sqlite3_prepare_v2(db_handle(s->db), sql, -1, &st, NULL) != SQLITE_OK)
		return -2;
	sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

TEST(recovery_sets_a_new_secret_and_kills_the_old_secret_and_code)
{
	struct account_unlocked u;
	char *dir, *code = NULL, *code2 = NULL, *code3 = NULL;
	struct store *s = tu_store_new(&dir);
	vault_id id;

	REQUIRE(s != NULL);
	REQUIRE(accounts_create(s, "Amina.K", "Amina", "person", NULL, NULL, "old secret", 10,
	    &id, &code) == VAULT_OK);
	/* logins are case-insensitive */
	CHECK_EQ(accounts_unlock(s, "amina.k", "old secret", 10, NULL, &u, NULL), VAULT_OK);
	CHECK(memcmp(u.id.b, id.b, VAULT_ID_LEN) == 0);
	CHECK(strcmp(u.role, "person") == 0);
	account_unlocked_wipe(&u);
	CHECK_EQ(accounts_recover(s, "amina.k", "ABCD-ABCD-ABCD-ABCD-ABCD-ABCD-ABCD",
	    "new secret", 10, NULL, NULL, &code2), VAULT_ERR_AUTH);
	CHECK(code2 == NULL);
	CHECK_EQ(accounts_recover(s, "amina.k", "not a code", "new secret", 10, NULL, NULL, &code2), VAULT_ERR_FORMAT);
	CHECK_EQ(accounts_recover(s, "nobody", code, "new secret", 10, NULL, NULL, &code2), VAULT_ERR_AUTH);
	CHECK_EQ(accounts_recover(s, "amina.k", code, "new secret", 10, NULL, NULL, &code2), VAULT_OK);
	REQUIRE(code2 != NULL);
	CHECK(strcmp(code, code2) != 0);
	CHECK_EQ(accounts_unlock(s, "amina.k", "old secret", 10, NULL, &u, NULL), VAULT_ERR_AUTH);
	CHECK_EQ(accounts_unlock(s, "amina.k", "new secret", 10, NULL, &u, NULL), VAULT_OK);
	account_unlocked_wipe(&u);
	/* the old code is dead, the new one works */
	CHECK_EQ(accounts_recover(s, "amina.k", code, "third", 5, NULL, NULL, &code3), VAULT_ERR_AUTH);
	CHECK_EQ(accounts_recover(s, "amina.k", code2, "third", 5, NULL, NULL, &code3), VAULT_OK);
	sodium_free(code);
	sodium_free(code2);
	sodium_free(code3);
	store_close(s);
	tu_rmrf(dir);
	free(dir);
}

TEST(unknown_login_and_wrong_secret_give_the_same_error)
{
	struct account_unlocked u;
	char *dir, *code = NULL;
	struct store *s = tu_store_new(&dir);
	vault_id id;

	REQUIRE(s != NULL);
	REQUIRE(accounts_create(s, "karim", "Karim", "person", NULL, NULL, "abcdef", 6, &id, &code) == VAULT_OK);
	CHECK_EQ(accounts_unlock(s, "karim", "abcdeg", 6, NULL, &u, NULL), VAULT_ERR_AUTH);
	CHECK_EQ(accounts_unlock(s, "karime", "abcdef", 6, NULL, &u, NULL), VAULT_ERR_AUTH);
	CHECK_EQ(accounts_unlock(s, "k", "abcdef", 6, NULL, &u, NULL), VAULT_ERR_AUTH);
	CHECK(u.sk == NULL);
	/* a taken login, in another case */
	CHECK_EQ(accounts_create(s, "KARIM", "K", "person", NULL, NULL, "x", 1, &id, &code), VAULT_ERR_EXISTS);
	CHECK_EQ(accounts_create(s, "ka rim", "K", "person", NULL, NULL, "x", 1, &id, &code), VAULT_ERR_FORMAT);
	CHECK_EQ(accounts_create(s, "karim2", "K", "emperor", NULL, NULL, "x", 1, &id, &code), VAULT_ERR_FORMAT);
	CHECK_EQ(accounts_create(s, "karim3", "K\n", "person", NULL, NULL, "x", 1, &id, &code), VAULT_ERR_FORMAT);
	store_close(s);
	tu_rmrf(dir);
	free(dir);
}

TEST(raised_argon2_cost_rewraps_at_next_unlock)
{
	struct account_unlocked u;
	char *dir, *code = NULL, idt[VAULT_ID_TEXT_LEN + 1];
	struct store *s = tu_store_new(&dir);
	vault_id id;

	REQUIRE(s != NULL);
	REQUIRE(accounts_create(s, "lea", "Léa", "person", NULL, NULL, "pw", 2, &id, &code) == VAULT_OK);
	sodium_free(code);
	vault_id_to_text(&id, idt);
	CHECK_EQ(row_int(s, "SELECT pw_opslimit FROM account_keys WHERE account_id = ?1", idt), 1);
	CHECK_EQ(row_int(s, "SELECT pw_memlimit FROM account_keys WHERE account_id = ?1", idt), 8192);
	/* the operator raises the cost */
	s->opt.pw.opslimit = 2;
	s->opt.pw.memlimit = 65536;
	CHECK_EQ(accounts_unlock(s, "lea", "pw", 2, NULL, &u, NULL), VAULT_OK);
	account_unlocked_wipe(&u);
	CHECK_EQ(row_int(s, "SELECT pw_opslimit FROM account_keys WHERE account_id = ?1", idt), 2);
	CHECK_EQ(row_int(s, "SELECT pw_memlimit FROM account_keys WHERE account_id = ?1", idt), 65536);
	/* and the re-wrapped key still opens with the same secret, only */
	CHECK_EQ(accounts_unlock(s, "lea", "pw", 2, NULL, &u, NULL), VAULT_OK);
	account_unlocked_wipe(&u);
	CHECK_EQ(accounts_unlock(s, "lea", "pW", 2, NULL, &u, NULL), VAULT_ERR_AUTH);
	store_close(s);
	tu_rmrf(dir);
	free(dir);
}

TEST_MAIN
