/*
 * shares.h: share links (DESIGN.md, charter 5).
 *
 * A link carries a 256-bit token. The server keeps only a hash of it, and
 * the document key for the link wrapped under a key derived from the token
 * (docs/FORMAT.md 3.7): without the link itself, the server cannot open
 * what it shares. A link expires, counts its downloads, can be revoked, and
 * every download is journaled.
 */
#ifndef SHARES_H
#define SHARES_H

#include <stdint.h>

#include "accounts.h"
#include "documents.h"

#define SHARE_TOKEN_LEN 32
#define SHARE_TOKEN_TEXT_LEN 43   /* base64url, no padding */
#define SHARE_HOURS_MAX (24 * 31)
#define SHARE_DOWNLOADS_MAX 100

struct share_info {
	vault_id id, person, document;
	int64_t created_at, expires_at;
	unsigned max_downloads, downloads;
};

/* Creates a link to one of person's documents. token receives the text
 * token (the only copy: the caller hands it to the person). */
vault_err shares_create(struct store *s, const struct account_unlocked *person,
    const vault_id *document, unsigned hours, unsigned max_downloads,
    const char *origin, struct share_info *out,
    char token[SHARE_TOKEN_TEXT_LEN + 1]);

/* Opens the document of a link, counting one download and journaling it.
 * VAULT_ERR_NOTFOUND for an unknown, revoked, expired or used-up link
 * alike. */
vault_err shares_open(struct store *s, const char *token, const char *origin,
    struct document_read **rp, struct document_info *info);

/* Revokes one of person's links. VAULT_ERR_NOTFOUND if not hers. */
vault_err shares_revoke(struct store *s, const vault_id *person,
    const vault_id *share, const char *origin);

/* Deletes the key wrappings of expired links (their rows stay, for the
 * journal and the person's list). */
vault_err shares_sweep(struct store *s);

#endif
