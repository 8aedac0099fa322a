/*
 * b64.c: base64 decoding of outside input with one spelling per value.
 *
 * libsodium 1.0.18 (Debian 12) sodium_base642bin() reads some bytes above
 * 0x7f as if they were letters of the alphabet (its constant-time
 * character arithmetic sees them as negative ints): "q\xd7..." decodes to
 * the same bytes as another, plain string. A session token, a share token,
 * a receipt's signature or a checkpoint's root would then have many text
 * forms. Found by tests/fuzz/fuzz_ident; here every character is checked
 * against the variant's alphabet first.
 */
#include <sodium.h>
#include <string.h>

#include "vault.h"

int
vault_base64_decode(uint8_t *out, size_t cap, const char *text, size_t len,
    size_t *outlen, int variant)
{
	const char *extra = (variant == sodium_base64_VARIANT_URLSAFE ||
	    variant == sodium_base64_VARIANT_URLSAFE_NO_PADDING) ? "-_=" : "+/=";
	size_t i;

	for (i = 0; i < len; i++) {
		char c = text[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || (c != '\0' && strchr(extra, c) != NULL)))
			return -1;
	}
	return sodium_base642bin(out, cap, text, len, NULL, outlen, NULL, variant);
}
