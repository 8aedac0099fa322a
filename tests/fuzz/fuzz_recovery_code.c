/*
 * fuzz_recovery_code: recovery codes (crypto/keys.c) and activation codes
 * (storage/accounts.c), as typed by a person: any case, dashes, blanks.
 *
 * The first byte chooses: 0, a recovery code; 1, an activation code; 2,
 * the recovery code of an account made at start-up, changed by the rest of
 * the input ((position, byte) pairs; byte 0 lower-cases). A code the
 * normaliser accepts is exactly its symbols from the alphabet, in upper
 * case, and normalising it again, or its grouped form, gives the same.
 * Recovery codes also go to the unlock of that account: it must open
 * exactly when the code normalises to the account's code.
 */
#include <ctype.h>
#include <sodium.h>

#include "fuzz.h"

#include "accounts.h"
#include "keys.h"

static struct keys_record rec;
static uint8_t pepper[KEYS_PEPPER_LEN];
static char known[KEYS_RECOVERY_SYMBOLS + 1];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct keys_pwparams pw = { crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN };
	vault_id id;
	char *code;
	uint8_t *sk;

	(void)argc;
	(void)argv;
	if (sodium_init() < 0)
		abort();
	memset(pepper, 7, sizeof pepper);
	memset(id.b, 9, sizeof id.b);
	if (keys_account_create(&id, "s", 1, pepper, &pw, &rec, &code, &sk) != VAULT_OK ||
	    keys_recovery_normalise(code, known) != VAULT_OK)
		abort();
	sodium_free(code);
	sodium_free(sk);
	return 0;
}

static void
check_normalised(const char *in, const char *out, size_t symbols)
{
	const char *p;
	size_t i, n = 0;

	FUZZ_CHECK(strlen(out) == symbols);
	for (i = 0; i < symbols; i++)
		FUZZ_CHECK(out[i] != '\0' && strchr(KEYS_RECOVERY_ALPHABET, out[i]) != NULL);
	/* the input's symbols, in order, upper-cased; nothing else in it
	 * but separators */
	for (p = in; *p != '\0'; p++) {
		if (*p == '-' || *p == ' ' || *p == '\t')
			continue;
		FUZZ_CHECK(n < symbols);
		FUZZ_CHECK(toupper((unsigned char)*p) == out[n]);
		n++;
	}
	FUZZ_CHECK(n == symbols);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[KEYS_RECOVERY_SYMBOLS + 1], again[KEYS_RECOVERY_SYMBOLS + 1];
	char grouped[2 * KEYS_RECOVERY_SYMBOLS + 1];
	char *s;
	uint8_t *sk = NULL;
	size_t i, o;
	vault_err r;

	if (size < 1)
		return 0;
	if (data[0] % 3 == 2) {
		/* the account's own code, grouped, then changed */
		size_t len;
		for (i = 0, o = 0; i < KEYS_RECOVERY_SYMBOLS; i++) {
			if (i > 0 && i % 4 == 0)
				grouped[o++] = '-';
			grouped[o++] = known[i];
		}
		grouped[o] = '\0';
		len = o;
		for (i = 1; i + 1 < size && i < 17; i += 2) {
			char *c = &grouped[data[i] % len];
			*c = data[i + 1] != 0 ? (char)data[i + 1] :
			    (char)tolower((unsigned char)*c);
		}
		s = fuzz_str((const uint8_t *)grouped, len);
	} else
		s = fuzz_str(data + 1, size - 1);
	if (data[0] % 3 != 1) {
		r = keys_recovery_normalise(s, out);
		if (r == VAULT_OK) {
			check_normalised(s, out, KEYS_RECOVERY_SYMBOLS);
			for (i = 0, o = 0; i < KEYS_RECOVERY_SYMBOLS; i++) {
				if (i > 0 && i % 4 == 0)
					grouped[o++] = '-';
				grouped[o++] = (char)tolower((unsigned char)out[i]);
			}
			grouped[o] = '\0';
			FUZZ_CHECK(keys_recovery_normalise(grouped, again) == VAULT_OK);
			FUZZ_CHECK(strcmp(again, out) == 0);
		} else
			FUZZ_CHECK(r == VAULT_ERR_FORMAT);
		/* the unlock: opens exactly for the known code */
		r = keys_unlock_recovery(&rec, s, pepper, &sk);
		if (r == VAULT_OK) {
			FUZZ_CHECK(keys_recovery_normalise(s, out) == VAULT_OK);
			FUZZ_CHECK(strcmp(out, known) == 0);
			sodium_free(sk);
		} else {
			FUZZ_CHECK(r == VAULT_ERR_AUTH || r == VAULT_ERR_FORMAT);
			FUZZ_CHECK(keys_recovery_normalise(s, out) != VAULT_OK ||
			    strcmp(out, known) != 0);
		}
	} else {
		char act[ACCOUNT_ACTIVATION_SYMBOLS + 1];
		if (accounts_activation_normalise(s, act) == VAULT_OK) {
			check_normalised(s, act, ACCOUNT_ACTIVATION_SYMBOLS);
			FUZZ_CHECK(strchr(s, '\t') == NULL);
		}
	}
	free(s);
	return 0;
}
