/*
 * parse.h: what the API reads from a request, as functions of text alone.
 *
 * The handlers (handlers.c) and the plumbing (server.c) call these on what
 * libmicrohttpd hands them: JSON bodies, query arguments, path parameters,
 * Content-Type and Content-Length. Nothing here touches a connection, a
 * session or the store, so that the fuzz harnesses of tests/fuzz/ run the
 * very code the server runs, without a server. A refusal is described in an
 * api_bad, which the caller turns into its 4xx answer.
 */
#ifndef API_PARSE_H
#define API_PARSE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "documents.h"
#include "journal.h"
#include "vault.h"

#define API_PARAMS_MAX 3
#define API_PARAM_MAX 64

/* A refusal: the status, the error code and the sentence for the client. */
struct api_bad {
	unsigned status;
	const char *code;
	char message[192];
};

/* ---- JSON bodies -------------------------------------------------------- */

/* The body as a JSON object (duplicate keys refused), or NULL with *bad
 * filled ("bad_request" for an empty body, "bad_json" otherwise). */
json_t *api_parse_json_object(const char *buf, size_t len, struct api_bad *bad);
/* A string member: required or not, at most max bytes, no NUL inside.
 * Returns 0 and *out (NULL if absent and optional), or -1 with *bad naming
 * the field. The string belongs to o. */
int api_field_string(json_t *o, const char *key, int required, size_t max,
    const char **out, struct api_bad *bad);

/* The shortest secret a role may have (SECURITY.md, section 7). */
size_t api_secret_min(const char *role);
/* The "weak_secret" refusal for a role. */
void api_bad_secret(const char *role, struct api_bad *bad);

/* POST /v1/sessions */
struct api_login_body { const char *login, *secret; };
int api_body_login(json_t *o, struct api_login_body *b, struct api_bad *bad);

/* POST /v1/persons (secret only without a session: checked by the caller) */
struct api_person_body { const char *login, *display_name, *secret; };
int api_body_person(json_t *o, struct api_person_body *b, struct api_bad *bad);

/* POST /v1/activate and POST /v1/recover: a login, a code and a person's
 * new secret (policy checked). */
struct api_code_body { const char *login, *code, *secret; };
int api_body_activate(json_t *o, struct api_code_body *b, struct api_bad *bad);
int api_body_recover(json_t *o, struct api_code_body *b, struct api_bad *bad);

/* POST /v1/structures */
struct api_structure_body { const char *name; };
int api_body_structure(json_t *o, struct api_structure_body *b, struct api_bad *bad);

/* POST /v1/structures/{}/aidants (role NULL: "role" chosen in the body,
 * aidant by default) and POST /v1/auditors (role "auditor"). The secret is
 * checked against the policy of the resulting role. */
struct api_member_body { const char *login, *display_name, *secret, *role; };
int api_body_member(json_t *o, const char *role, struct api_member_body *b,
    struct api_bad *bad);

/* POST /v1/persons/{}/mandates */
struct api_mandate_body {
	vault_id aidant;
	int scopes;             /* MANDATE_SCOPE_* */
	unsigned categories;    /* bit i: category i */
	int days;
};
int api_body_mandate(json_t *o, struct api_mandate_body *b, struct api_bad *bad);

/* POST /v1/persons/{}/documents/{}/shares */
struct api_share_body { unsigned hours, max_downloads; };
int api_body_share(json_t *o, struct api_share_body *b, struct api_bad *bad);

/* ---- query arguments and path parameters ------------------------------- */

/* A whole number written in decimal digits only (no sign, no space), at
 * most INT64_MAX. Returns 0, or -1. */
int api_parse_u64(const char *s, uint64_t *v);
/* after (a journal index, or -1) and limit (1 to 1000), either NULL. */
int api_parse_paging(const char *after, const char *limit,
    struct journal_filter *f, struct api_bad *bad);
/* Exactly "YYYY-MM-DDTHH:MM:SSZ", a real instant from 1970 on: its ms, or
 * -1. */
int64_t api_parse_instant(const char *s);
/* GET /v1/journal's filters besides paging: person and actor identifiers,
 * action, since. */
int api_parse_journal_search(const char *person, const char *actor,
    const char *action, const char *since, struct journal_filter *f,
    struct api_bad *bad);

/* Matches a path against a route pattern ("/v1/persons/{}/documents": {}
 * is a parameter of 1 to API_PARAM_MAX bytes without '/'). Returns 1 and
 * the parameters, or 0. */
int api_path_match(const char *pattern, const char *url,
    char params[API_PARAMS_MAX][API_PARAM_MAX + 1]);

/* ---- uploads -------------------------------------------------------------- */

/* "application/pdf; charset=…" → "application/pdf", lower case; no or an
 * empty header: application/octet-stream. */
void api_media_type(const char *content_type, char out[DOC_MEDIA_TYPE_MAX + 1]);
/* A Content-Length value: decimal digits only, no overflow. 0 or -1. */
int api_content_length(const char *s, uint64_t *len);
/* The deposit's metadata from the query: title, category, dates (an empty
 * date is none: set to NULL). Returns the category's index, or -1 with
 * *bad. */
int api_upload_meta(struct document_meta *m, struct api_bad *bad);
/* The limits known before a byte of the body: a declared length (cl may be
 * NULL) against the document size limit and what is left of the quota.
 * Returns 0, or -1 with *bad (413 or 507, 400 for an unreadable length). */
int api_upload_limits(const char *cl, uint64_t max_document_size,
    uint64_t used, uint64_t quota, struct api_bad *bad);

#endif
