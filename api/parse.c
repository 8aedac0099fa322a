/*
 * parse.c: what the API reads from a request, as functions of text alone
 * (see parse.h). The order of the checks in each body is the order in which
 * the client is told what is wrong: the first bad field is the one named.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "accounts.h"
#include "api.h"
#include "instance.h"
#include "keys.h"
#include "mandates.h"
#include "parse.h"
#include "shares.h"

/* ---- options -------------------------------------------------------------- */

/* Here rather than in server.c: vaultd/config.c needs the defaults, and so
 * does its fuzz harness, without a server. */
void
api_options_default(struct api_options *o)
{
	memset(o, 0, sizeof *o);
	o->max_connections = 64;
	o->max_uploads = 16;
	/* one address must not hold every connection; a France Services
	 * office puts many people behind one address, hence not lower */
	o->max_connections_per_address = 48;
	o->json_max_anonymous = 4096;
	o->json_max = 65536;
	o->header_max = 16384;
	o->login_min_ms = 400;
	o->argon_concurrency = 2;
	o->argon_queue = 32;
	o->max_sessions = 4096;
	o->session_idle_ms = 15 * 60 * 1000;
	o->session_lifetime_ms = 2 * 3600 * 1000;
	o->ip_failures_free = 10;
	o->sweep_ms = 30 * 1000;
	o->checkpoint_entries = 1000;
	o->checkpoint_ms = 5 * 60 * 1000;
	o->tsa_retry_ms = 60 * 1000;
}

static int
refuse(struct api_bad *bad, unsigned status, const char *code, const char *message)
{
	bad->status = status;
	bad->code = code;
	snprintf(bad->message, sizeof bad->message, "%s", message);
	return -1;
}

/* ---- JSON bodies ------------------------------------------------------------ */

json_t *
api_parse_json_object(const char *buf, size_t len, struct api_bad *bad)
{
	json_error_t jerr;
	json_t *o;

	if (buf == NULL || len == 0) {
		refuse(bad, 400, "bad_request", "A JSON object is expected.");
		return NULL;
	}
	o = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (o == NULL || !json_is_object(o)) {
		json_decref(o);
		refuse(bad, 400, "bad_json", "The body is not a JSON object.");
		return NULL;
	}
	return o;
}

int
api_field_string(json_t *o, const char *key, int required, size_t max,
    const char **out, struct api_bad *bad)
{
	json_t *v = json_object_get(o, key);

	*out = NULL;
	if (v == NULL || json_is_null(v)) {
		if (!required)
			return 0;
		bad->status = 400;
		bad->code = "bad_request";
		snprintf(bad->message, sizeof bad->message,
		    "The field \"%s\" is missing.", key);
		return -1;
	}
	if (!json_is_string(v) || json_string_length(v) > max ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		bad->status = 400;
		bad->code = "bad_request";
		snprintf(bad->message, sizeof bad->message, "The field \"%s\" must "
		    "be a text of at most %zu bytes.", key, max);
		return -1;
	}
	*out = json_string_value(v);
	return 0;
}

/* Secret policy (SECURITY.md): a person's secret only has to be non-empty;
 * people who guard others' papers need longer ones. */
size_t
api_secret_min(const char *role)
{
	if (strcmp(role, "person") == 0)
		return 1;
	if (strcmp(role, "aidant") == 0 || strcmp(role, "structure_admin") == 0)
		return 10;
	return INSTANCE_ADMIN_SECRET_MIN;
}

void
api_bad_secret(const char *role, struct api_bad *bad)
{
	bad->status = 400;
	bad->code = "weak_secret";
	snprintf(bad->message, sizeof bad->message,
	    "The secret must have at least %zu character%s.", api_secret_min(role),
	    api_secret_min(role) > 1 ? "s" : "");
}

int
api_body_login(json_t *o, struct api_login_body *b, struct api_bad *bad)
{
	return api_field_string(o, "login", 1, 256, &b->login, bad) != 0 ||
	    api_field_string(o, "secret", 1, KEYS_SECRET_MAX_LEN, &b->secret, bad) != 0 ?
	    -1 : 0;
}

int
api_body_person(json_t *o, struct api_person_body *b, struct api_bad *bad)
{
	return api_field_string(o, "login", 1, ACCOUNT_LOGIN_MAX, &b->login, bad) != 0 ||
	    api_field_string(o, "display_name", 1, ACCOUNT_NAME_MAX,
	    &b->display_name, bad) != 0 ||
	    api_field_string(o, "secret", 0, KEYS_SECRET_MAX_LEN, &b->secret, bad) != 0 ?
	    -1 : 0;
}

static int
code_body(json_t *o, const char *code_field, size_t code_max,
    const char *secret_field, struct api_code_body *b, struct api_bad *bad)
{
	if (api_field_string(o, "login", 1, 256, &b->login, bad) != 0 ||
	    api_field_string(o, code_field, 1, code_max, &b->code, bad) != 0 ||
	    api_field_string(o, secret_field, 1, KEYS_SECRET_MAX_LEN, &b->secret,
	    bad) != 0)
		return -1;
	if (strlen(b->secret) < api_secret_min("person")) {
		api_bad_secret("person", bad);
		return -1;
	}
	return 0;
}

int
api_body_activate(json_t *o, struct api_code_body *b, struct api_bad *bad)
{
	return code_body(o, "activation_code", 64, "secret", b, bad);
}

int
api_body_recover(json_t *o, struct api_code_body *b, struct api_bad *bad)
{
	return code_body(o, "recovery_code", 128, "new_secret", b, bad);
}

int
api_body_structure(json_t *o, struct api_structure_body *b, struct api_bad *bad)
{
	return api_field_string(o, "name", 1, ACCOUNT_NAME_MAX, &b->name, bad);
}

int
api_body_member(json_t *o, const char *role, struct api_member_body *b,
    struct api_bad *bad)
{
	const char *want;

	if (api_field_string(o, "login", 1, ACCOUNT_LOGIN_MAX, &b->login, bad) != 0 ||
	    api_field_string(o, "display_name", 1, ACCOUNT_NAME_MAX,
	    &b->display_name, bad) != 0 ||
	    api_field_string(o, "secret", 1, KEYS_SECRET_MAX_LEN, &b->secret, bad) != 0)
		return -1;
	if (role == NULL) {
		if (api_field_string(o, "role", 0, 32, &want, bad) != 0)
			return -1;
		role = want == NULL ? "aidant" : want;
		if (strcmp(role, "aidant") != 0 && strcmp(role, "structure_admin") != 0)
			return refuse(bad, 400, "bad_role",
			    "The role is \"aidant\" or \"structure_admin\".");
	}
	b->role = role;
	if (strlen(b->secret) < api_secret_min(role)) {
		api_bad_secret(role, bad);
		return -1;
	}
	return 0;
}

static int
parse_scopes(json_t *a, int *scopes)
{
	size_t i;
	json_t *v;

	*scopes = 0;
	if (!json_is_array(a) || json_array_size(a) == 0)
		return -1;
	json_array_foreach(a, i, v) {
		if (!json_is_string(v))
			return -1;
		if (strcmp(json_string_value(v), "deposit") == 0)
			*scopes |= MANDATE_SCOPE_DEPOSIT;
		else if (strcmp(json_string_value(v), "read") == 0)
			*scopes |= MANDATE_SCOPE_READ;
		else
			return -1;
	}
	return 0;
}

static int
parse_categories(json_t *a, unsigned *mask)
{
	size_t i;
	json_t *v;
	int c;

	*mask = 0;
	if (!json_is_array(a) || json_array_size(a) == 0)
		return -1;
	json_array_foreach(a, i, v) {
		if (!json_is_string(v) ||
		    (c = documents_category_index(json_string_value(v))) < 0)
			return -1;
		*mask |= 1u << c;
	}
	return 0;
}

int
api_body_mandate(json_t *o, struct api_mandate_body *b, struct api_bad *bad)
{
	const char *aid_t;
	json_t *days;

	if (api_field_string(o, "aidant_id", 1, VAULT_ID_TEXT_LEN, &aid_t, bad) != 0)
		return -1;
	if (vault_id_from_text(aid_t, &b->aidant) != VAULT_OK)
		return refuse(bad, 400, "bad_identifier", "aidant_id is not well formed.");
	if (parse_scopes(json_object_get(o, "scopes"), &b->scopes) != 0)
		return refuse(bad, 400, "bad_scopes",
		    "scopes is a list of \"deposit\" and \"read\".");
	if (parse_categories(json_object_get(o, "categories"), &b->categories) != 0)
		return refuse(bad, 400, "bad_category",
		    "categories is a non-empty list of known categories.");
	days = json_object_get(o, "duration_days");
	if (!json_is_integer(days) || json_integer_value(days) < 1 ||
	    json_integer_value(days) > MANDATE_DAYS_MAX)
		return refuse(bad, 400, "bad_duration",
		    "duration_days is a whole number from 1 to 365.");
	b->days = (int)json_integer_value(days);
	return 0;
}

int
api_body_share(json_t *o, struct api_share_body *b, struct api_bad *bad)
{
	json_t *hours = json_object_get(o, "expires_in_hours");
	json_t *maxd = json_object_get(o, "max_downloads");

	if (!json_is_integer(hours) || json_integer_value(hours) < 1 ||
	    json_integer_value(hours) > SHARE_HOURS_MAX ||
	    !json_is_integer(maxd) || json_integer_value(maxd) < 1 ||
	    json_integer_value(maxd) > SHARE_DOWNLOADS_MAX)
		return refuse(bad, 400, "bad_request", "expires_in_hours is a whole "
		    "number from 1 to 744, max_downloads from 1 to 100.");
	b->hours = (unsigned)json_integer_value(hours);
	b->max_downloads = (unsigned)json_integer_value(maxd);
	return 0;
}

/* ---- query arguments and path parameters ------------------------------------ */

int
api_parse_u64(const char *s, uint64_t *v)
{
	uint64_t x = 0;
	size_t i;

	if (s == NULL || s[0] == '\0')
		return -1;
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9' ||
		    x > ((uint64_t)INT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return -1;
		x = x * 10 + (uint64_t)(s[i] - '0');
	}
	*v = x;
	return 0;
}

int
api_parse_paging(const char *after, const char *limit, struct journal_filter *f,
    struct api_bad *bad)
{
	uint64_t v;

	f->after_index = -1;
	f->limit = 1000;
	if (after != NULL) {
		if (strcmp(after, "-1") == 0)
			f->after_index = -1;
		else if (api_parse_u64(after, &v) == 0)
			f->after_index = (int64_t)v;
		else
			return refuse(bad, 400, "bad_request", "after is a journal index.");
	}
	if (limit != NULL) {
		if (api_parse_u64(limit, &v) != 0 || v < 1 || v > 1000)
			return refuse(bad, 400, "bad_request", "limit is from 1 to 1000.");
		f->limit = (unsigned)v;
	}
	return 0;
}

int64_t
api_parse_instant(const char *s)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";
	struct tm tm, back;
	const char *end;
	time_t t;
	size_t i;

	/* exactly the documented form: strptime alone takes leading spaces
	 * and fields of fewer digits */
	if (s == NULL || strlen(s) != sizeof shape - 1)
		return -1;
	for (i = 0; i < sizeof shape - 1; i++)
		if (shape[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != shape[i])
			return -1;
	memset(&tm, 0, sizeof tm);
	end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (end == NULL || *end != '\0')
		return -1;
	back = tm;
	t = timegm(&back);
	/* strptime takes February 30th; timegm would move it to March */
	if (t < 0 || back.tm_mday != tm.tm_mday || back.tm_mon != tm.tm_mon ||
	    back.tm_year != tm.tm_year || back.tm_hour != tm.tm_hour ||
	    back.tm_min != tm.tm_min || back.tm_sec != tm.tm_sec)
		return -1;
	return (int64_t)t * 1000;
}

int
api_parse_journal_search(const char *person, const char *actor,
    const char *action, const char *since, struct journal_filter *f,
    struct api_bad *bad)
{
	vault_id tmp;

	f->person = person;
	f->actor = actor;
	f->action = action;
	if ((person != NULL && vault_id_from_text(person, &tmp) != VAULT_OK) ||
	    (actor != NULL && vault_id_from_text(actor, &tmp) != VAULT_OK))
		return refuse(bad, 400, "bad_identifier",
		    "person and actor are account identifiers.");
	if (action != NULL && strlen(action) > JOURNAL_ACTION_MAX)
		return refuse(bad, 400, "bad_request", "Unknown action.");
	if (since != NULL && (f->since_ms = api_parse_instant(since)) < 0)
		return refuse(bad, 400, "bad_date",
		    "since is an instant like 2026-11-22T14:05:00Z.");
	return 0;
}

int
api_path_match(const char *pattern, const char *url,
    char params[API_PARAMS_MAX][API_PARAM_MAX + 1])
{
	const char *p = pattern, *u = url;
	int np = 0;

	while (*p != '\0') {
		if (p[0] == '{' && p[1] == '}') {
			size_t n = strcspn(u, "/");
			if (n == 0 || n > API_PARAM_MAX || np == API_PARAMS_MAX)
				return 0;
			memcpy(params[np], u, n);
			params[np++][n] = '\0';
			u += n;
			p += 2;
		} else if (*p++ != *u++)
			return 0;
	}
	return *u == '\0';
}

/* ---- uploads ------------------------------------------------------------------ */

void
api_media_type(const char *ct, char out[DOC_MEDIA_TYPE_MAX + 1])
{
	size_t i;

	if (ct == NULL || *ct == '\0')
		ct = "application/octet-stream";
	for (i = 0; ct[i] != '\0' && ct[i] != ';' && ct[i] != ' ' &&
	    i < DOC_MEDIA_TYPE_MAX; i++)
		out[i] = (char)tolower((unsigned char)ct[i]);
	out[i] = '\0';
}

int
api_content_length(const char *s, uint64_t *len)
{
	uint64_t x = 0;
	size_t i;

	if (s == NULL || s[0] == '\0')
		return -1;
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9' ||
		    x > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return -1;
		x = x * 10 + (uint64_t)(s[i] - '0');
	}
	*len = x;
	return 0;
}

int
api_upload_meta(struct document_meta *m, struct api_bad *bad)
{
	int cat;

	if (m->issued != NULL && *m->issued == '\0')
		m->issued = NULL;
	if (m->expires != NULL && *m->expires == '\0')
		m->expires = NULL;
	if (m->title == NULL || *m->title == '\0' || strlen(m->title) > DOC_TITLE_MAX ||
	    !vault_utf8_valid(m->title))
		return refuse(bad, 400, "bad_title",
		    "Give the paper a title (\"title\"), up to 200 bytes of UTF-8.");
	if ((cat = documents_category_index(m->category)) < 0)
		return refuse(bad, 400, "bad_category", "The category is not one of: "
		    "identity, residence, health, housing, employment, income, tax, "
		    "family, schooling, bank, justice, other.");
	if ((m->issued != NULL && !documents_date_valid(m->issued)) ||
	    (m->expires != NULL && !documents_date_valid(m->expires)))
		return refuse(bad, 400, "bad_date",
		    "Dates are written YYYY-MM-DD and must exist.");
	return cat;
}

int
api_upload_limits(const char *cl, uint64_t max_document_size, uint64_t used,
    uint64_t quota, struct api_bad *bad)
{
	uint64_t len;

	if (cl == NULL)
		return 0; /* chunked: the limits are checked as bytes arrive */
	if (api_content_length(cl, &len) != 0)
		return refuse(bad, 400, "bad_request", "Content-Length is not a number.");
	if (len > max_document_size)
		return refuse(bad, 413, "too_large",
		    "This paper is larger than the vault accepts.");
	if (used > quota || len > quota - used)
		return refuse(bad, 507, "quota_exceeded",
		    "This vault is full: delete a paper, or ask to raise the limit.");
	return 0;
}
