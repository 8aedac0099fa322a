/* err.c: one sentence for every vault_err, and the identifier helpers. */
#include <sodium.h>
#include <string.h>

#include "vault.h"

const char *
vault_strerror(vault_err r)
{
	switch (r) {
	case VAULT_OK: return "success";
	case VAULT_ERR_NOMEM: return "out of memory";
	case VAULT_ERR_FORMAT: return "malformed input";
	case VAULT_ERR_AUTH: return "wrong secret, recovery code or server key";
	case VAULT_ERR_LIMIT: return "a size limit was exceeded";
	case VAULT_ERR_IO: return "the storage failed a read, write or sync";
	case VAULT_ERR_INTERNAL: return "internal error";
	case VAULT_ERR_NOTFOUND: return "not found";
	case VAULT_ERR_EXISTS: return "already exists";
	case VAULT_ERR_CORRUPT: return "stored data is corrupt or does not belong here";
	case VAULT_ERR_TRUNCATED: return "stored data is truncated";
	case VAULT_ERR_NOSPACE: return "no space left on the storage";
	case VAULT_ERR_UNSUPPORTED: return "unsupported format version or option";
	case VAULT_ERR_BUSY: return "busy (the database is locked, or no file descriptor is free); try again";
	case VAULT_ERR_UNAVAILABLE: return "a remote service did not answer, or answered wrongly";
	case VAULT_ERR_STOPPED: return "writes are stopped after a storage failure; restart once the storage is checked";
	}
	return "unknown error";
}

void
vault_id_random(vault_id *id)
{
	randombytes_buf(id->b, sizeof id->b);
}

void
vault_id_to_text(const vault_id *id, char out[VAULT_ID_TEXT_LEN + 1])
{
	sodium_bin2hex(out, VAULT_ID_TEXT_LEN + 1, id->b, sizeof id->b);
}

vault_err
vault_id_from_text(const char *text, vault_id *id)
{
	size_t i;

	memset(id, 0, sizeof *id);
	if (text == NULL || strlen(text) != VAULT_ID_TEXT_LEN)
		return VAULT_ERR_FORMAT;
	/* Only lowercase hex: one text form per identifier, so that two
	 * spellings can never name the same row. */
	for (i = 0; i < VAULT_ID_TEXT_LEN; i++) {
		char c = text[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return VAULT_ERR_FORMAT;
	}
	if (sodium_hex2bin(id->b, sizeof id->b, text, VAULT_ID_TEXT_LEN,
	    NULL, NULL, NULL) != 0) {
		memset(id, 0, sizeof *id);
		return VAULT_ERR_FORMAT;
	}
	return VAULT_OK;
}
