/*
 * fuzz_receipt: what `vaultctl receipt verify` reads: a file said to be a
 * deposit receipt, checked with the instance's public key
 * (receipts_verify, storage/receipts.c).
 *
 * One receipt is signed at start-up with a fixed key. Ed25519 cannot be
 * forged, so whatever the input, if it verifies, its receipt object must
 * mean exactly the signed one: its canonical form (sorted keys, no white
 * space) must be the signed bytes. Anything else must be refused as not a
 * receipt or as a bad signature. FUZZ_WRITE_SEEDS=DIR writes the signed
 * receipt, a re-ordered and spaced copy, and a tampered one into DIR.
 */
#include <sodium.h>

#include "fuzz.h"

#include "receipts.h"

static uint8_t pk[32], sk[64];
static char *signed_bytes;

static void
seed(const char *dir, const char *name, const char *text)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	if ((f = fopen(path, "wb")) == NULL || fputs(text, f) < 0 || fclose(f) != 0)
		abort();
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	uint8_t seedkey[32], sig[64];
	char sigb64[128], pkb64[64], *env_text, *spaced;
	const char *dir = getenv("FUZZ_WRITE_SEEDS");
	json_t *receipt, *env;

	(void)argc;
	(void)argv;
	if (sodium_init() < 0)
		abort();
	memset(seedkey, 0x5e, sizeof seedkey);
	crypto_sign_seed_keypair(pk, sk, seedkey);
	receipt = json_pack("{s:s, s:s, s:s, s:{s:s, s:s}, s:{s:s, s:s, s:s, s:s, s:s},"
	    " s:s, s:s, s:I, s:s, s:s, s:o}",
	    "format", "vault-receipt/1", "origin", "vault.example.org",
	    "document_id", "d0d1d2d3d4d5d6d7d8d9dadbdcdddedf",
	    "person", "account_id", "0a0b0c0d0e0f10111213141516171819",
	    "display_name", "Karim É.",
	    "deposited_by", "account_id", "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf",
	    "role", "aidant", "display_name", "Amina", "structure_id",
	    "b0b1b2b3b4b5b6b7b8b9babbbcbdbebf", "structure_name", "Association Solidarité",
	    "category", "residence", "media_type", "application/pdf",
	    "size", (json_int_t)123456,
	    "sha256", "5a0ec31daa84fa27666da56af259b9351086bba0b9ab4aa6007e3e6fb1866b47",
	    "deposited_at", "2026-11-22T14:05:00Z", "timestamp_serial", json_null());
	if (receipt == NULL ||
	    (signed_bytes = json_dumps(receipt, JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
		abort();
	crypto_sign_detached(sig, NULL, (const uint8_t *)signed_bytes,
	    strlen(signed_bytes), sk);
	sodium_bin2base64(sigb64, sizeof sigb64, sig, sizeof sig,
	    sodium_base64_VARIANT_ORIGINAL);
	sodium_bin2base64(pkb64, sizeof pkb64, pk, sizeof pk,
	    sodium_base64_VARIANT_ORIGINAL);
	env = json_pack("{s:O, s:s, s:s}", "receipt", receipt, "signature", sigb64,
	    "public_key", pkb64);
	if (env == NULL || (env_text = json_dumps(env, JSON_COMPACT)) == NULL ||
	    (spaced = json_dumps(env, JSON_INDENT(2) | JSON_PRESERVE_ORDER)) == NULL)
		abort();
	FUZZ_CHECK(receipts_verify(env_text, strlen(env_text), pk) == VAULT_OK);
	FUZZ_CHECK(receipts_verify(spaced, strlen(spaced), pk) == VAULT_OK);
	if (dir != NULL) {
		seed(dir, "signed.json", env_text);
		seed(dir, "spaced.json", spaced);
		json_object_set_new(json_object_get(env, "receipt"), "size",
		    json_integer(123457));
		free(env_text);
		env_text = json_dumps(env, JSON_COMPACT);
		seed(dir, "tampered.json", env_text);
		exit(0);
	}
	free(env_text);
	free(spaced);
	json_decref(env);
	json_decref(receipt);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t jerr;
	json_t *env;
	char *canon;
	vault_err r;

	r = receipts_verify((const char *)data, size, pk);
	if (r != VAULT_OK) {
		FUZZ_CHECK(r == VAULT_ERR_FORMAT || r == VAULT_ERR_AUTH);
		return 0;
	}
	/* it verified: it must be the signed receipt, whatever its spelling */
	env = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &jerr);
	FUZZ_CHECK(env != NULL);
	canon = json_dumps(json_object_get(env, "receipt"), JSON_COMPACT | JSON_SORT_KEYS);
	FUZZ_CHECK(canon != NULL && strcmp(canon, signed_bytes) == 0);
	free(canon);
	json_decref(env);
	return 0;
}
