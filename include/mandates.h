/*
 * mandates.h: a person's consent to an aidant (DESIGN.md, charter 2 and 3).
 *
 * A mandate has scopes (deposit, read), a set of categories and an end
 * (1 to 365 days). It is granted only in the person's own session: a read
 * mandate wraps the keys of the documents in scope for the aidant, which
 * needs the person's unlocked secret key. Revocation and expiry delete those
 * wrappings; an expired mandate stops working at once because every check
 * compares its end with the clock, and the sweeper only cleans up after it.
 */
#ifndef MANDATES_H
#define MANDATES_H

#include <stdint.h>

#include "accounts.h"
#include "store.h"

#define MANDATE_SCOPE_DEPOSIT 0x1
#define MANDATE_SCOPE_READ 0x2
#define MANDATE_DAYS_MAX 365
#define MANDATE_ALL_CATEGORIES 0xfff

struct mandate_info {
	vault_id id, person, aidant;
	int scopes;                /* MANDATE_SCOPE_* */
	unsigned categories;       /* bit i: documents_category_name(i) */
	int64_t created_at, expires_at, revoked_at; /* ms; revoked_at 0 if not */
	const char *status;        /* "active", "revoked", "expired" */
};

/* Grants a mandate from person (unlocked) to aidant. VAULT_ERR_FORMAT for
 * bad scopes, categories or duration; VAULT_ERR_NOTFOUND if aidant is not
 * an aidant or structure administrator with keys. */
vault_err mandates_grant(struct store *s, const struct account_unlocked *person,
    const vault_id *aidant, int scopes, unsigned categories, int days,
    const char *origin, struct mandate_info *out);

/* Revokes one of person's mandates and deletes its wrappings.
 * VAULT_ERR_NOTFOUND if it is not one of hers. Revoking an ended mandate
 * changes nothing and is not an error. */
vault_err mandates_revoke(struct store *s, const vault_id *person,
    const vault_id *mandate, const char *origin);

typedef vault_err (*mandates_fn)(void *ctx, const struct mandate_info *m);
/* Every mandate of a person, newest first. */
vault_err mandates_list_person(struct store *s, const vault_id *person,
    mandates_fn fn, void *ctx);
/* The active mandates given to an aidant. */
vault_err mandates_list_aidant(struct store *s, const vault_id *aidant,
    mandates_fn fn, void *ctx);

/* Is there an active mandate from person to aidant with this scope and,
 * if category >= 0, covering that category? VAULT_OK and its id in
 * *mandate (may be NULL), or VAULT_ERR_NOTFOUND. */
vault_err mandates_check(struct store *s, const vault_id *aidant,
    const vault_id *person, int scope, int category, vault_id *mandate);

/* The categories covered by aidant's active mandates of this scope from
 * person (0 if none). */
vault_err mandates_categories(struct store *s, const vault_id *aidant,
    const vault_id *person, int scope, unsigned *mask);

/* Ends what has expired: deletes its wrappings and journals
 * "mandate.expire", once per mandate. *ended may be NULL. */
vault_err mandates_sweep(struct store *s, unsigned *ended);

#endif
