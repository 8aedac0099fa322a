/* note.c: C2SP signed notes and checkpoints (see note.h). */
#include <openssl/sha.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "note.h"

static const char dash[] = "\xe2\x80\x94 "; /* U+2014, then a space */

int
note_name_valid(const char *name)
{
	size_t n = strlen(name), i;

	if (n == 0 || n > NOTE_NAME_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (name[i] <= 0x20 || name[i] >= 0x7f || name[i] == '+')
			return 0;
	return 1;
}

void
note_key_hash(const char *name, const uint8_t pk[32], uint8_t out[4])
{
	uint8_t md[32], buf[NOTE_NAME_MAX + 2 + 32];
	size_t n = strlen(name);

	memcpy(buf, name, n);
	buf[n] = 0x0a;
	buf[n + 1] = 0x01; /* the Ed25519 algorithm byte */
	memcpy(buf + n + 2, pk, 32);
	SHA256(buf, n + 2 + 32, md);
	memcpy(out, md, 4);
}

vault_err
note_verifier_key(const char *name, const uint8_t pk[32], char *out, size_t cap)
{
	uint8_t h[4], key[33];
	char b64[64];

	if (!note_name_valid(name))
		return VAULT_ERR_FORMAT;
	note_key_hash(name, pk, h);
	key[0] = 0x01;
	memcpy(key + 1, pk, 32);
	sodium_bin2base64(b64, sizeof b64, key, sizeof key,
	    sodium_base64_VARIANT_ORIGINAL);
	if ((size_t)snprintf(out, cap, "%s+%02x%02x%02x%02x+%s", name, h[0], h[1],
	    h[2], h[3], b64) >= cap)
		return VAULT_ERR_LIMIT;
	return VAULT_OK;
}

vault_err
note_sign(const char *body, const char *name, const uint8_t *sk,
    const uint8_t pk[32], char **notep)
{
	uint8_t sigblob[4 + crypto_sign_BYTES];
	char b64[128], *note;
	size_t blen = strlen(body), cap;

	*notep = NULL;
	if (blen == 0 || body[blen - 1] != '\n' || !note_name_valid(name))
		return VAULT_ERR_FORMAT;
	note_key_hash(name, pk, sigblob);
	crypto_sign_detached(sigblob + 4, NULL, (const uint8_t *)body, blen, sk);
	sodium_bin2base64(b64, sizeof b64, sigblob, sizeof sigblob,
	    sodium_base64_VARIANT_ORIGINAL);
	cap = blen + 1 + sizeof dash + strlen(name) + 1 + strlen(b64) + 2;
	if ((note = malloc(cap)) == NULL)
		return VAULT_ERR_NOMEM;
	snprintf(note, cap, "%s\n%s%s %s\n", body, dash, name, b64);
	*notep = note;
	return VAULT_OK;
}

vault_err
note_verify(const char *note, const char *name, const uint8_t pk[32])
{
	uint8_t want[4], sigblob[4 + crypto_sign_BYTES + 8];
	const char *sep, *line, *eol;
	size_t blen, nlen = strlen(name), slen;
	char b64[256];

	/* the body ends at the first blank line */
	if ((sep = strstr(note, "\n\n")) == NULL)
		return VAULT_ERR_FORMAT;
	blen = (size_t)(sep - note) + 1;
	note_key_hash(name, pk, want);
	for (line = sep + 2; *line != '\0'; line = eol + 1) {
		if ((eol = strchr(line, '\n')) == NULL)
			return VAULT_ERR_FORMAT;
		if (strncmp(line, dash, sizeof dash - 1) != 0)
			return VAULT_ERR_FORMAT;
		if (strncmp(line + sizeof dash - 1, name, nlen) != 0 ||
		    line[sizeof dash - 1 + nlen] != ' ')
			continue;
		slen = (size_t)(eol - (line + sizeof dash - 1 + nlen + 1));
		if (slen >= sizeof b64)
			continue;
		memcpy(b64, line + sizeof dash - 1 + nlen + 1, slen);
		b64[slen] = '\0';
		if (vault_base64_decode(sigblob, sizeof sigblob, b64, slen, &slen,
		    sodium_base64_VARIANT_ORIGINAL) != 0 ||
		    slen != 4 + crypto_sign_BYTES || memcmp(sigblob, want, 4) != 0)
			continue;
		if (crypto_sign_verify_detached(sigblob + 4, (const uint8_t *)note,
		    blen, pk) == 0)
			return VAULT_OK;
	}
	return VAULT_ERR_AUTH;
}

char *
note_checkpoint_body(const char *origin, uint64_t size, const uint8_t root[32])
{
	char b64[64], *body;
	size_t cap = strlen(origin) + 128;

	sodium_bin2base64(b64, sizeof b64, root, 32, sodium_base64_VARIANT_ORIGINAL);
	if ((body = malloc(cap)) == NULL)
		return NULL;
	snprintf(body, cap, "%s\n%llu\n%s\n", origin, (unsigned long long)size, b64);
	return body;
}

vault_err
note_checkpoint_parse(const char *note, char origin[NOTE_NAME_MAX + 1],
    uint64_t *size, uint8_t root[32])
{
	const char *l1, *l2, *l3;
	char num[24], b64[64];
	size_t blen;
	char *end;

	if ((l1 = strchr(note, '\n')) == NULL || (size_t)(l1 - note) > NOTE_NAME_MAX ||
	    (l2 = strchr(l1 + 1, '\n')) == NULL || (size_t)(l2 - l1 - 1) >= sizeof num ||
	    (l3 = strchr(l2 + 1, '\n')) == NULL || (size_t)(l3 - l2 - 1) >= sizeof b64)
		return VAULT_ERR_FORMAT;
	memcpy(origin, note, (size_t)(l1 - note));
	origin[l1 - note] = '\0';
	memcpy(num, l1 + 1, (size_t)(l2 - l1 - 1));
	num[l2 - l1 - 1] = '\0';
	memcpy(b64, l2 + 1, (size_t)(l3 - l2 - 1));
	b64[l3 - l2 - 1] = '\0';
	/* the tree size in its one decimal form: digits only (strtoull also
	 * takes blanks, signs and leading zeros: found by fuzz_checkpoint_note),
	 * no leading zero, no overflow */
	if (num[0] == '\0' || (num[0] == '0' && num[1] != '\0') ||
	    strspn(num, "0123456789") != strlen(num))
		return VAULT_ERR_FORMAT;
	errno = 0;
	*size = strtoull(num, &end, 10);
	if (errno != 0 || *end != '\0' ||
	    vault_base64_decode(root, 32, b64, strlen(b64), &blen,
	    sodium_base64_VARIANT_ORIGINAL) != 0 || blen != 32)
		return VAULT_ERR_FORMAT;
	return VAULT_OK;
}
