/*
 * theft_tool: what a thief does with stolen files, using only the files and
 * the project's own crypto (keys.h, blob.h): no running vaultd, no store,
 * no lock-out, no journal. For tests/theft_test.py (SECURITY.md section 2).
 *
 *   theft_tool open DB BLOBDIR PEPPERFILE LOGIN SECRET OUTDIR
 *       unwraps LOGIN's secret key with SECRET and the 32 bytes of
 *       PEPPERFILE, then every document key wrapped for it, and decrypts
 *       each blob into OUTDIR/<document id>. Prints "unlock: refused" and
 *       exits 3 when the secret or the pepper is wrong; otherwise
 *       "opened ID SHA256", "dockey ID HEX" and "secretkey HEX" lines
 *       (the keys, so that the test can search the stolen files for them).
 *   theft_tool guess DB PEPPERFILE LOGIN N
 *       N wrong guesses of LOGIN's secret, each timed, and N Argon2id
 *       evaluations alone at the account's recorded cost, timed: prints
 *       "guess_ms MEDIAN", "argon2id_ms MEDIAN", "cost OPS MEMBYTES".
 *   theft_tool holders DB PEPPERFILE LOGIN SECRET
 *       unlocks LOGIN (an administrator, say) and tries its key pair on
 *       every key wrapping of the database: "tried N opened M".
 */
#include <errno.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blob.h"
#include "keys.h"
#include "vault.h"

static uint8_t pepper[KEYS_PEPPER_LEN];

static int
load_pepper(const char *path)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	if (f == NULL)
		return -1;
	n = fread(pepper, 1, sizeof pepper, f);
	fclose(f);
	return n == sizeof pepper ? 0 : -1;
}

static int
blob_col(sqlite3_stmt *st, int col, void *out, size_t len)
{
	if ((size_t)sqlite3_column_bytes(st, col) != len)
		return -1;
	memcpy(out, sqlite3_column_blob(st, col), len);
	return 0;
}

/* The account's key record, as a thief reads it from the database. */
static int
load_record(sqlite3 *db, const char *login, struct keys_record *rec)
{
	sqlite3_stmt *st;
	int ok = -1;

	if (sqlite3_prepare_v2(db, "SELECT a.account_id, k.public_key, k.pw_opslimit,"
	    " k.pw_memlimit, k.pw_salt, k.pw_nonce, k.pw_wrapped_sk, k.rec_salt,"
	    " k.rec_nonce, k.rec_wrapped_sk FROM accounts a JOIN account_keys k"
	    " USING (account_id) WHERE a.login = ?1", -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, login, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW &&
	    vault_id_from_text((const char *)sqlite3_column_text(st, 0),
	    &rec->account_id) == VAULT_OK &&
	    blob_col(st, 1, rec->pk, sizeof rec->pk) == 0 &&
	    blob_col(st, 4, rec->pw_salt, sizeof rec->pw_salt) == 0 &&
	    blob_col(st, 5, rec->pw_nonce, sizeof rec->pw_nonce) == 0 &&
	    blob_col(st, 6, rec->pw_wrapped_sk, sizeof rec->pw_wrapped_sk) == 0 &&
	    blob_col(st, 7, rec->rec_salt, sizeof rec->rec_salt) == 0 &&
	    blob_col(st, 8, rec->rec_nonce, sizeof rec->rec_nonce) == 0 &&
	    blob_col(st, 9, rec->rec_wrapped_sk, sizeof rec->rec_wrapped_sk) == 0) {
		rec->pw.opslimit = (uint64_t)sqlite3_column_int64(st, 2);
		rec->pw.memlimit = (uint64_t)sqlite3_column_int64(st, 3);
		ok = 0;
	}
	sqlite3_finalize(st);
	return ok;
}

static void
hex(const uint8_t *p, size_t n)
{
	char h[2 * 64 + 1];

	sodium_bin2hex(h, sizeof h, p, n);
	printf("%s", h);
}

struct file_src {
	FILE *f;
};

static vault_err
file_read(void *ctx, void *p, size_t cap, size_t *n)
{
	struct file_src *fs = ctx;

	*n = fread(p, 1, cap, fs->f);
	return ferror(fs->f) ? VAULT_ERR_IO : VAULT_OK;
}

/* Decrypts one document's blob into out; 0 on success. */
static int
decrypt(sqlite3 *db, const char *blobdir, const char *idt, const uint8_t *dk,
    const char *outdir, uint8_t sha[32])
{
	char path[4096];
	struct file_src fs = { NULL };
	struct blob_source src = { file_read, &fs };
	struct blob_reader *r = NULL;
	vault_id doc, owner;
	uint8_t buf[65536], want[32];
	uint64_t size = 0;
	sqlite3_stmt *st;
	crypto_hash_sha256_state h;
	FILE *out = NULL;
	size_t n;
	int rc = -1;

	if (sqlite3_prepare_v2(db, "SELECT owner_id, size, sha256 FROM documents"
	    " WHERE document_id = ?1", -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, idt, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW ||
	    vault_id_from_text((const char *)sqlite3_column_text(st, 0), &owner) != VAULT_OK ||
	    blob_col(st, 2, want, 32) != 0) {
		sqlite3_finalize(st);
		return -1;
	}
	size = (uint64_t)sqlite3_column_int64(st, 1);
	sqlite3_finalize(st);
	if (vault_id_from_text(idt, &doc) != VAULT_OK)
		return -1;
	snprintf(path, sizeof path, "%s/%.2s/%s", blobdir, idt, idt);
	if ((fs.f = fopen(path, "rb")) == NULL)
		return -1;
	snprintf(path, sizeof path, "%s/%s", outdir, idt);
	if ((out = fopen(path, "wb")) == NULL)
		goto done;
	crypto_hash_sha256_init(&h);
	if (blob_reader_new(dk, &doc, &owner, size, want, &src, &r) != VAULT_OK)
		goto done;
	for (;;) {
		if (blob_reader_read(r, buf, sizeof buf, &n) != VAULT_OK)
			goto done;
		if (n == 0)
			break;
		fwrite(buf, 1, n, out);
		crypto_hash_sha256_update(&h, buf, n);
	}
	crypto_hash_sha256_final(&h, sha);
	rc = 0;
done:
	blob_reader_free(r);
	if (out != NULL)
		fclose(out);
	fclose(fs.f);
	return rc;
}

static int
cmd_open(const char *dbp, const char *blobdir, const char *pep, const char *login,
    const char *secret, const char *outdir)
{
	struct keys_record rec;
	sqlite3 *db = NULL;
	sqlite3_stmt *st;
	uint8_t *sk = NULL, *dk = NULL, sha[32];
	char idt[VAULT_ID_TEXT_LEN + 1], self[VAULT_ID_TEXT_LEN + 1];
	vault_id doc;
	int opened = 0, failed = 0;

	if (load_pepper(pep) != 0 || sqlite3_open_v2(dbp, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    load_record(db, login, &rec) != 0) {
		fprintf(stderr, "theft_tool: cannot read the pepper or the account\n");
		return 2;
	}
	if (keys_unlock_secret(&rec, secret, strlen(secret), pepper, &sk) != VAULT_OK) {
		printf("unlock: refused\n");
		sqlite3_close(db);
		return 3;
	}
	printf("secretkey ");
	hex(sk, KEYS_SK_LEN);
	printf("\n");
	vault_id_to_text(&rec.account_id, self);
	if (sqlite3_prepare_v2(db, "SELECT document_id, wrapped FROM key_wrappings"
	    " WHERE holder_kind = 'owner' AND holder_id = ?1", -1, &st, NULL) != SQLITE_OK)
		return 2;
	sqlite3_bind_text(st, 1, self, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		snprintf(idt, sizeof idt, "%s", sqlite3_column_text(st, 0));
		if (vault_id_from_text(idt, &doc) != VAULT_OK ||
		    keys_dockey_open(sqlite3_column_blob(st, 1),
		    (size_t)sqlite3_column_bytes(st, 1), &doc, rec.pk, sk, &dk) != VAULT_OK) {
			failed++;
			continue;
		}
		printf("dockey %s ", idt);
		hex(dk, KEYS_DOCKEY_LEN);
		printf("\n");
		if (decrypt(db, blobdir, idt, dk, outdir, sha) == 0) {
			printf("opened %s ", idt);
			hex(sha, 32);
			printf("\n");
			opened++;
		} else
			failed++;
		keys_dockey_free(dk);
		dk = NULL;
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	sodium_free(sk);
	printf("documents: %d opened, %d not\n", opened, failed);
	return 0;
}

static double
now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int
cmd_guess(const char *dbp, const char *pep, const char *login, int n)
{
	struct keys_record rec;
	sqlite3 *db = NULL;
	double *g = calloc((size_t)n, sizeof *g), *a = calloc((size_t)n, sizeof *a), t;
	uint8_t *sk = NULL, out[32];
	char guess[64];
	int i, refused = 0;

	if (g == NULL || a == NULL || load_pepper(pep) != 0 ||
	    sqlite3_open_v2(dbp, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    load_record(db, login, &rec) != 0)
		return 2;
	sqlite3_close(db);
	for (i = 0; i < n; i++) {
		snprintf(guess, sizeof guess, "guess %d", i);
		t = now_ms();
		refused += keys_unlock_secret(&rec, guess, strlen(guess), pepper, &sk) == VAULT_ERR_AUTH;
		g[i] = now_ms() - t;
		sodium_free(sk);
		sk = NULL;
		/* the evaluation a guess cannot skip, alone */
		t = now_ms();
		if (crypto_pwhash(out, sizeof out, guess, strlen(guess), rec.pw_salt,
		    rec.pw.opslimit, (size_t)rec.pw.memlimit, crypto_pwhash_ALG_ARGON2ID13) != 0)
			return 2;
		a[i] = now_ms() - t;
	}
	qsort(g, (size_t)n, sizeof *g, cmp_double);
	qsort(a, (size_t)n, sizeof *a, cmp_double);
	printf("refused %d of %d\nguess_ms %.3f\nargon2id_ms %.3f\ncost %llu %llu\n",
	    refused, n, g[n / 2], a[n / 2], (unsigned long long)rec.pw.opslimit,
	    (unsigned long long)rec.pw.memlimit);
	free(g);
	free(a);
	return 0;
}

static int
cmd_holders(const char *dbp, const char *pep, const char *login, const char *secret)
{
	struct keys_record rec;
	sqlite3 *db = NULL;
	sqlite3_stmt *st;
	uint8_t *sk = NULL, *dk = NULL;
	vault_id doc;
	int tried = 0, opened = 0;

	if (load_pepper(pep) != 0 || sqlite3_open_v2(dbp, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    load_record(db, login, &rec) != 0)
		return 2;
	if (keys_unlock_secret(&rec, secret, strlen(secret), pepper, &sk) != VAULT_OK) {
		printf("unlock: refused\n");
		return 3;
	}
	printf("unlock: ok\n");
	if (sqlite3_prepare_v2(db, "SELECT document_id, wrapped FROM key_wrappings",
	    -1, &st, NULL) != SQLITE_OK)
		return 2;
	while (sqlite3_step(st) == SQLITE_ROW) {
		tried++;
		if (vault_id_from_text((const char *)sqlite3_column_text(st, 0), &doc) == VAULT_OK &&
		    keys_dockey_open(sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1),
		    &doc, rec.pk, sk, &dk) == VAULT_OK) {
			opened++;
			keys_dockey_free(dk);
			dk = NULL;
		}
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	sodium_free(sk);
	printf("tried %d opened %d\n", tried, opened);
	return 0;
}

int
main(int argc, char **argv)
{
	if (sodium_init() < 0)
		return 2;
	if (argc == 8 && strcmp(argv[1], "open") == 0)
		return cmd_open(argv[2], argv[3], argv[4], argv[5], argv[6], argv[7]);
	if (argc == 6 && strcmp(argv[1], "guess") == 0)
		return cmd_guess(argv[2], argv[3], argv[4], atoi(argv[5]));
	if (argc == 6 && strcmp(argv[1], "holders") == 0)
		return cmd_holders(argv[2], argv[3], argv[4], argv[5]);
	fprintf(stderr, "usage: theft_tool open DB BLOBDIR PEPPER LOGIN SECRET OUTDIR\n"
	    "       theft_tool guess DB PEPPER LOGIN N\n"
	    "       theft_tool holders DB PEPPER LOGIN SECRET\n");
	return 2;
}
