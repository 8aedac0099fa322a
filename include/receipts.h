/*
 * receipts.h: deposit receipts (attestations de dépôt), signed by the
 * instance's Ed25519 key.
 *
 *   {"receipt": {...}, "signature": base64, "public_key": base64}
 *
 * The signature covers the receipt object's canonical bytes: its JSON with
 * keys sorted, no white space, UTF-8 as is (jansson JSON_COMPACT |
 * JSON_SORT_KEYS; for this object of strings, integers and objects this
 * is RFC 8785's form). A receipt names the document by identifier,
 * category, media type, size and SHA-256 fingerprint, never by title (the
 * title is encrypted; the depositing aidant may hold no key to it).
 */
#ifndef RECEIPTS_H
#define RECEIPTS_H

#include <jansson.h>

#include "store.h"

/* Builds and signs the receipt of a document (the caller checks who may
 * have it). *envp: a new JSON object. VAULT_ERR_NOTFOUND if no such
 * document of that person; *depositor gets who deposited it. */
vault_err receipts_build(struct store *s, const vault_id *owner,
    const vault_id *document, json_t **envp, vault_id *depositor);

/* Verifies a receipt envelope given as text: VAULT_OK, VAULT_ERR_AUTH for
 * a bad signature or another key, VAULT_ERR_FORMAT if it is not one. */
vault_err receipts_verify(const char *text, size_t len, const uint8_t pk[32]);

#endif
