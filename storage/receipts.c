/* receipts.c: signed deposit receipts (see receipts.h). */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "accounts.h"
#include "db.h"
#include "receipts.h"

static json_t *
str_or_null(const unsigned char *t)
{
	return t != NULL ? json_string((const char *)t) : json_null();
}

static void
rfc3339(int64_t ms, char out[32])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The canonical bytes of a receipt object, from jansson's allocator. */
static char *
canonical(const json_t *receipt)
{
	return json_dumps(receipt, JSON_COMPACT | JSON_SORT_KEYS);
}

/* Gives back what jansson allocated, through jansson's free (vaultd sets a
 * wiping allocator). */
static void
jfree(void *p)
{
	json_free_t f;

	json_get_alloc_funcs(NULL, &f);
	f(p);
}

vault_err
receipts_build(struct store *s, const vault_id *owner, const vault_id *doc,
    json_t **envp, vault_id *depositor)
{
	char ot[VAULT_ID_TEXT_LEN + 1], dt[VAULT_ID_TEXT_LEN + 1], at[32], sha[65];
	uint8_t sig[crypto_sign_BYTES];
	char sigb64[128], pkb64[64], *bytes;
	json_t *receipt;
	sqlite3_stmt *st;
	vault_err r;
	int rc;

	*envp = NULL;
	vault_id_to_text(owner, ot);
	vault_id_to_text(doc, dt);
	if (sqlite3_prepare_v2(db_handle(s->db),
	    "SELECT d.category, d.media_type, d.size, d.sha256, d.deposited_at,"
	    " d.tsa_serial, p.display_name, d.deposited_by, a.role, a.display_name,"
	    " a.structure_id, st.name FROM documents d"
	    " JOIN accounts p ON p.account_id = d.owner_id"
	    " JOIN accounts a ON a.account_id = d.deposited_by"
	    " LEFT JOIN structures st ON st.structure_id = a.structure_id"
	    " WHERE d.document_id = ?1 AND d.owner_id = ?2", -1, &st, NULL) != SQLITE_OK)
		return VAULT_ERR_INTERNAL;
	sqlite3_bind_text(st, 1, dt, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, ot, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_finalize(st);
		return rc == SQLITE_DONE ? VAULT_ERR_NOTFOUND : db_err(rc);
	}
	if (sqlite3_column_bytes(st, 3) != 32 ||
	    vault_id_from_text((const char *)sqlite3_column_text(st, 7), depositor) != VAULT_OK) {
		sqlite3_finalize(st);
		return VAULT_ERR_CORRUPT;
	}
	sodium_bin2hex(sha, sizeof sha, sqlite3_column_blob(st, 3), 32);
	rfc3339(sqlite3_column_int64(st, 4), at);
	receipt = json_pack("{s:s, s:s, s:s, s:{s:s, s:o}, s:{s:s, s:s, s:o, s:o, s:o},"
	    " s:s, s:s, s:I, s:s, s:s, s:o}",
	    "format", "vault-receipt/1", "origin", s->origin, "document_id", dt,
	    "person", "account_id", ot, "display_name", str_or_null(sqlite3_column_text(st, 6)),
	    "deposited_by", "account_id", sqlite3_column_text(st, 7), "role",
	    sqlite3_column_text(st, 8), "display_name", str_or_null(sqlite3_column_text(st, 9)),
	    "structure_id", str_or_null(sqlite3_column_text(st, 10)),
	    "structure_name", str_or_null(sqlite3_column_text(st, 11)),
	    "category", sqlite3_column_text(st, 0), "media_type", sqlite3_column_text(st, 1),
	    "size", (json_int_t)sqlite3_column_int64(st, 2), "sha256", sha,
	    "deposited_at", at, "timestamp_serial", str_or_null(sqlite3_column_text(st, 5)));
	sqlite3_finalize(st);
	if (receipt == NULL || (bytes = canonical(receipt)) == NULL) {
		json_decref(receipt);
		return VAULT_ERR_NOMEM;
	}
	crypto_sign_detached(sig, NULL, (const uint8_t *)bytes, strlen(bytes), s->instance_sk);
	jfree(bytes);
	sodium_bin2base64(sigb64, sizeof sigb64, sig, sizeof sig, sodium_base64_VARIANT_ORIGINAL);
	sodium_bin2base64(pkb64, sizeof pkb64, s->instance_pk, 32, sodium_base64_VARIANT_ORIGINAL);
	*envp = json_pack("{s:o, s:s, s:s}", "receipt", receipt, "signature", sigb64,
	    "public_key", pkb64);
	r = *envp != NULL ? VAULT_OK : VAULT_ERR_NOMEM;
	return r;
}

vault_err
receipts_verify(const char *text, size_t len, const uint8_t pk[32])
{
	uint8_t sig[crypto_sign_BYTES];
	json_t *env, *receipt, *sigj;
	json_error_t jerr;
	vault_err r = VAULT_ERR_FORMAT;
	size_t slen;
	char *bytes;

	if ((env = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL)
		return VAULT_ERR_FORMAT;
	receipt = json_object_get(env, "receipt");
	sigj = json_object_get(env, "signature");
	if (!json_is_object(receipt) || !json_is_string(sigj) ||
	    vault_base64_decode(sig, sizeof sig, json_string_value(sigj),
	    json_string_length(sigj), &slen, sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    slen != sizeof sig)
		goto out;
	if ((bytes = canonical(receipt)) == NULL) {
		r = VAULT_ERR_NOMEM;
		goto out;
	}
	r = crypto_sign_verify_detached(sig, (const uint8_t *)bytes, strlen(bytes), pk) == 0 ?
	    VAULT_OK : VAULT_ERR_AUTH;
	jfree(bytes);
out:
	json_decref(env);
	return r;
}
