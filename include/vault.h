/*
 * vault.h: what every module of vaultd shares: the error codes, the sizes of
 * identifiers, and a few helpers on them.
 *
 * Errors are negative values of one flat enum; vault_strerror() turns any of
 * them into a sentence. Hostile or malformed input is reported through these
 * codes; our own bugs (a NULL state, an impossible length) abort().
 */
#ifndef VAULT_H
#define VAULT_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
	VAULT_OK = 0,
	VAULT_ERR_NOMEM = -1,      /* out of memory */
	VAULT_ERR_FORMAT = -2,     /* malformed input (bad id, bad header, bad code) */
	VAULT_ERR_AUTH = -3,       /* wrong secret, recovery code or pepper */
	VAULT_ERR_LIMIT = -4,      /* a size limit was exceeded */
	VAULT_ERR_IO = -5,         /* the operating system failed a read, write or fsync */
	VAULT_ERR_INTERNAL = -6,   /* a library failed in a way that should not happen */
	VAULT_ERR_NOTFOUND = -7,   /* no such account, document or blob */
	VAULT_ERR_EXISTS = -8,     /* already exists (login taken, data directory present) */
	VAULT_ERR_CORRUPT = -9,    /* stored data failed authentication or its recorded hash */
	VAULT_ERR_TRUNCATED = -10, /* a blob ended before its final chunk */
	VAULT_ERR_NOSPACE = -11,   /* the disk is full */
	VAULT_ERR_UNSUPPORTED = -12, /* a format version or option this build does not know */
	VAULT_ERR_STOPPED = -13,   /* writes refused since an earlier storage failure */
	VAULT_ERR_BUSY = -14,      /* locked by another writer, or no file descriptor free: retry */
	VAULT_ERR_UNAVAILABLE = -15, /* a remote service (external TSA) did not answer well */
} vault_err;

/* Returns a sentence for any vault_err; never NULL. */
const char *vault_strerror(vault_err r);

/*
 * Identifiers (accounts, documents) are 16 random bytes, written as 32
 * lowercase hex characters. The raw bytes are what crypto binds as
 * associated data; the text form is what the database and the API use.
 */
#define VAULT_ID_LEN 16
#define VAULT_ID_TEXT_LEN (2 * VAULT_ID_LEN)

typedef struct {
	uint8_t b[VAULT_ID_LEN];
} vault_id;

/* Returns 1 if s (NUL-terminated) is well-formed UTF-8, else 0. */
int vault_utf8_valid(const char *s);

/* Fills *id with fresh random bytes. */
void vault_id_random(vault_id *id);
/* Writes the 32-character text form and a NUL into out (33 bytes). */
void vault_id_to_text(const vault_id *id, char out[VAULT_ID_TEXT_LEN + 1]);
/* Parses exactly 32 lowercase hex characters; VAULT_ERR_FORMAT otherwise,
 * leaving *id zeroed. */
vault_err vault_id_from_text(const char *text, vault_id *id);

/* sodium_base642bin() without a characters-to-ignore list, refusing any
 * byte outside the variant's alphabet (and '=') first: libsodium 1.0.18
 * decodes some bytes above 0x7f as letters. 0 or -1, like libsodium. */
int vault_base64_decode(uint8_t *out, size_t cap, const char *text, size_t len,
    size_t *outlen, int variant);

#endif
