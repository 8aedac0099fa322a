/*
 * documents.h: storing and reading a person's documents.
 *
 * A put streams the document through the blob writer into the blob store,
 * makes the blob durable, then commits the document row and the owner's key
 * wrapping in one transaction: a crash at any point leaves the whole
 * document visible or nothing, and a put that returned VAULT_OK survives.
 *
 * An open checks the blob's size and SHA-256 against the row before the
 * first plaintext byte is released: a damaged, truncated or swapped blob
 * yields an error and no plaintext.
 */
#ifndef DOCUMENTS_H
#define DOCUMENTS_H

#include <stdint.h>

#include "blob.h"
#include "store.h"

#define DOC_TITLE_MAX 200       /* bytes of UTF-8 */
#define DOC_MEDIA_TYPE_MAX 127

struct document_meta {
	const char *title;
	const char *category;   /* one of DESIGN.md's categories */
	const char *media_type; /* e.g. application/pdf */
	const char *issued;     /* YYYY-MM-DD or NULL */
	const char *expires;    /* YYYY-MM-DD or NULL */
};

struct document_info {
	vault_id id;
	vault_id owner;
	vault_id deposited_by;
	char title[DOC_TITLE_MAX + 1];
	char category[16];
	char media_type[DOC_MEDIA_TYPE_MAX + 1];
	char issued[11], expires[11];   /* "" when absent */
	uint64_t size;
	uint8_t sha256[32];
	uint64_t cipher_size;
	uint8_t cipher_sha256[32];
	int compressed;
	int64_t deposited_at;           /* ms since the epoch */
	int tsa_pending;                /* waiting for an external TSA's token */
	char integrity[8];              /* the last scheduled control's finding
	                                 * (scrub.h): "missing", "corrupt", or
	                                 * "" when the blob matched */
};

#define DOC_CATEGORY_COUNT 12

/* Returns 1 if category is one of DESIGN.md's categories. */
int documents_category_valid(const char *category);
/* The category's index (its bit in a mandate's mask), or -1. */
int documents_category_index(const char *category);
/* The category of an index, or NULL. */
const char *documents_category_name(int index);

/* Who opens a document: its owner with her own wrapping, or an aidant
 * through the wrappings of his active read mandates from that owner. */
struct doc_holder {
	vault_id account;
	const uint8_t *pk;       /* KEYS_PK_LEN */
	const uint8_t *sk;       /* guarded */
	int is_owner;
};
/* Returns 1 if s is a real calendar date written YYYY-MM-DD. */
int documents_date_valid(const char *s);

struct document_put;
struct document_read;

/* Starts a put for owner, deposited by depositor (the owner, or an aidant).
 * Checks the metadata (VAULT_ERR_FORMAT) and that the owner has keys. The
 * commit journals "document.deposit" with origin (may be NULL), and wraps
 * the key for every aidant holding an active read mandate of the owner
 * that covers the category. */
vault_err documents_put_begin(struct store *s, const vault_id *owner,
    const vault_id *depositor, const struct document_meta *meta,
    enum blob_compress compress, const char *origin, struct document_put **pp);
/* VAULT_ERR_LIMIT once the document passes max_document_size or the owner's
 * quota; the put is then dead and must be aborted. */
vault_err documents_put_write(struct document_put *p, const void *buf, size_t len);
/* Makes the document durable and visible; frees p whatever the outcome. */
vault_err documents_put_commit(struct document_put *p, struct document_info *info);
/* Discards; nothing of the put remains. NULL-safe. */
void documents_put_abort(struct document_put *p);

/* Opens a document for a holder. VAULT_ERR_NOTFOUND if the document does
 * not exist for that owner or the holder holds no wrapping of its key;
 * VAULT_ERR_CORRUPT if the blob does not match its row. info may be NULL. */
vault_err documents_open(struct store *s, const vault_id *owner,
    const vault_id *document_id, const struct doc_holder *holder,
    struct document_read **rp, struct document_info *info);

/* The metadata (title included) of one document, as documents_open would
 * give it, without touching the blob. */
vault_err documents_info(struct store *s, const vault_id *owner,
    const vault_id *document_id, const struct doc_holder *holder,
    struct document_info *info);

/* Calls fn for each document of owner that holder can open, oldest first;
 * category NULL for all. */
typedef vault_err (*documents_fn)(void *ctx, const struct document_info *info);
vault_err documents_list(struct store *s, const vault_id *owner,
    const struct doc_holder *holder, const char *category, documents_fn fn,
    void *ctx);
/* Opens with the document key itself (a share link's, unwrapped by the
 * caller). Same checks as documents_open. */
vault_err documents_open_key(struct store *s, const vault_id *owner,
    const vault_id *document_id, const uint8_t *dk, struct document_read **rp,
    struct document_info *info);
/* The owner's document key (guarded, sodium_free it) and metadata: for
 * wrapping it for another holder. */
vault_err documents_unwrap_owner_key(struct store *s, const vault_id *owner,
    const vault_id *document_id, const uint8_t *owner_pk,
    const uint8_t *owner_sk, struct document_info *info, uint8_t **dkp);
vault_err documents_read(struct document_read *r, void *buf, size_t cap, size_t *n);
void documents_close(struct document_read *r);

/* Deletes the row and every key wrapping (committed first: from then on
 * the blob opens for nobody), then the blob. Journals "document.delete"
 * by actor. */
vault_err documents_delete(struct store *s, const vault_id *owner,
    const vault_id *document_id, const vault_id *actor, const char *origin);

/* Inserts one key wrapping inside the caller's transaction: holder_kind
 * "owner", "aidant" (holder_id: the mandate) or "share" (the link). */
vault_err documents_add_wrapping(struct store *s, const char *document_id,
    const char *holder_kind, const char *holder_id, const void *wrapped,
    size_t len, int64_t now);

/* The document's RFC 3161 time-stamp response (DER, malloc'd).
 * VAULT_ERR_NOTFOUND if there is none. Access is the caller's to check. */
vault_err documents_timestamp(struct store *s, const vault_id *owner,
    const vault_id *document_id, uint8_t **der, size_t *len);

/* Sum of the sizes of the owner's documents. */
vault_err documents_usage(struct store *s, const vault_id *owner, uint64_t *bytes);

#endif
