/*
 * fuzz_json_body: every JSON request body vaultd reads (api/parse.c), as
 * the handlers read it. The first byte chooses the route, the rest is the
 * body. An accepted body must hold exactly what the route's contract
 * says: strings of the field, within their bounds, without NUL, valid
 * UTF-8; secrets that meet the role's policy; identifiers that write back
 * to the text given; scopes, categories and numbers in range, matching the
 * JSON. A refused one must say why with a 400.
 */
#include "fuzz.h"

#include "accounts.h"
#include "documents.h"
#include "keys.h"
#include "mandates.h"
#include "parse.h"
#include "shares.h"

/* An accepted string field is the JSON's own string, within its bounds. */
static void
check_field(json_t *o, const char *key, const char *v, size_t max, int required)
{
	json_t *j = json_object_get(o, key);

	if (v == NULL) {
		FUZZ_CHECK(!required);
		FUZZ_CHECK(j == NULL || json_is_null(j));
		return;
	}
	FUZZ_CHECK(json_is_string(j) && json_string_value(j) == v);
	FUZZ_CHECK(strlen(v) == json_string_length(j));
	FUZZ_CHECK(strlen(v) <= max);
	FUZZ_CHECK(vault_utf8_valid(v));
}

static void
check_refusal(const struct api_bad *bad)
{
	FUZZ_CHECK(bad->status == 400);
	FUZZ_CHECK(bad->code != NULL && bad->code[0] != '\0');
	FUZZ_CHECK(bad->message[0] != '\0');
}

/* The categories of a mandate body, read a second way: each element one
 * of the names, the mask their union. */
static unsigned
categories_again(json_t *a)
{
	unsigned mask = 0;
	size_t i;
	json_t *v;
	int c, hit;

	FUZZ_CHECK(json_is_array(a) && json_array_size(a) > 0);
	json_array_foreach(a, i, v) {
		FUZZ_CHECK(json_is_string(v));
		for (c = 0, hit = 0; c < DOC_CATEGORY_COUNT; c++)
			if (strcmp(json_string_value(v), documents_category_name(c)) == 0) {
				mask |= 1u << c;
				hit = 1;
			}
		FUZZ_CHECK(hit);
	}
	return mask;
}

static void
check_mandate(json_t *o, const struct api_mandate_body *b)
{
	char t[VAULT_ID_TEXT_LEN + 1];
	json_t *days = json_object_get(o, "duration_days");
	json_t *scopes = json_object_get(o, "scopes"), *v;
	int want = 0;
	size_t i;

	vault_id_to_text(&b->aidant, t);
	FUZZ_CHECK(strcmp(t, json_string_value(json_object_get(o, "aidant_id"))) == 0);
	FUZZ_CHECK(json_is_array(scopes) && json_array_size(scopes) > 0);
	json_array_foreach(scopes, i, v) {
		FUZZ_CHECK(json_is_string(v));
		if (strcmp(json_string_value(v), "deposit") == 0)
			want |= MANDATE_SCOPE_DEPOSIT;
		else {
			FUZZ_CHECK(strcmp(json_string_value(v), "read") == 0);
			want |= MANDATE_SCOPE_READ;
		}
	}
	FUZZ_CHECK(b->scopes == want && b->scopes != 0 &&
	    (b->scopes & ~(MANDATE_SCOPE_DEPOSIT | MANDATE_SCOPE_READ)) == 0);
	FUZZ_CHECK(b->categories != 0 && b->categories < (1u << DOC_CATEGORY_COUNT));
	FUZZ_CHECK(b->categories == categories_again(json_object_get(o, "categories")));
	FUZZ_CHECK(json_is_integer(days) && json_integer_value(days) == b->days);
	FUZZ_CHECK(b->days >= 1 && b->days <= MANDATE_DAYS_MAX);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct api_login_body lb;
	struct api_person_body pb;
	struct api_code_body cb;
	struct api_structure_body sb;
	struct api_member_body mb;
	struct api_mandate_body md;
	struct api_share_body sh;
	struct api_bad bad;
	json_t *o;
	int route, r = 0;

	if (size < 1)
		return 0;
	route = data[0] % 9;
	memset(&bad, 0, sizeof bad);
	if ((o = api_parse_json_object((const char *)data + 1, size - 1, &bad)) == NULL) {
		check_refusal(&bad);
		FUZZ_CHECK(strcmp(bad.code, "bad_json") == 0 ||
		    (size == 1 && strcmp(bad.code, "bad_request") == 0));
		return 0;
	}
	FUZZ_CHECK(json_is_object(o));
	switch (route) {
	case 0: /* POST /v1/sessions */
		if ((r = api_body_login(o, &lb, &bad)) == 0) {
			check_field(o, "login", lb.login, 256, 1);
			check_field(o, "secret", lb.secret, KEYS_SECRET_MAX_LEN, 1);
		}
		break;
	case 1: /* POST /v1/persons */
		if ((r = api_body_person(o, &pb, &bad)) == 0) {
			check_field(o, "login", pb.login, ACCOUNT_LOGIN_MAX, 1);
			check_field(o, "display_name", pb.display_name, ACCOUNT_NAME_MAX, 1);
			check_field(o, "secret", pb.secret, KEYS_SECRET_MAX_LEN, 0);
		}
		break;
	case 2: /* POST /v1/activate */
	case 3: /* POST /v1/recover */
		r = route == 2 ? api_body_activate(o, &cb, &bad) :
		    api_body_recover(o, &cb, &bad);
		if (r == 0) {
			check_field(o, "login", cb.login, 256, 1);
			check_field(o, route == 2 ? "activation_code" : "recovery_code",
			    cb.code, route == 2 ? 64 : 128, 1);
			check_field(o, route == 2 ? "secret" : "new_secret", cb.secret,
			    KEYS_SECRET_MAX_LEN, 1);
			FUZZ_CHECK(strlen(cb.secret) >= 1);
		}
		break;
	case 4: /* POST /v1/structures */
		if ((r = api_body_structure(o, &sb, &bad)) == 0)
			check_field(o, "name", sb.name, ACCOUNT_NAME_MAX, 1);
		break;
	case 5: /* POST /v1/structures/{}/aidants */
	case 6: /* POST /v1/auditors */
		if ((r = api_body_member(o, route == 5 ? NULL : "auditor", &mb, &bad)) == 0) {
			check_field(o, "login", mb.login, ACCOUNT_LOGIN_MAX, 1);
			check_field(o, "display_name", mb.display_name, ACCOUNT_NAME_MAX, 1);
			check_field(o, "secret", mb.secret, KEYS_SECRET_MAX_LEN, 1);
			if (route == 5) {
				FUZZ_CHECK(strcmp(mb.role, "aidant") == 0 ||
				    strcmp(mb.role, "structure_admin") == 0);
				check_field(o, "role", json_object_get(o, "role") == NULL ||
				    json_is_null(json_object_get(o, "role")) ? NULL :
				    mb.role, 32, 0);
			} else
				FUZZ_CHECK(strcmp(mb.role, "auditor") == 0);
			/* people who guard others' papers: 10, administrators 12 */
			FUZZ_CHECK(strlen(mb.secret) >= (route == 5 ? 10u : 12u));
		}
		break;
	case 7: /* POST /v1/persons/{}/mandates */
		if ((r = api_body_mandate(o, &md, &bad)) == 0)
			check_mandate(o, &md);
		break;
	case 8: /* POST /v1/persons/{}/documents/{}/shares */
		if ((r = api_body_share(o, &sh, &bad)) == 0) {
			FUZZ_CHECK(sh.hours >= 1 && sh.hours <= SHARE_HOURS_MAX);
			FUZZ_CHECK(sh.max_downloads >= 1 &&
			    sh.max_downloads <= SHARE_DOWNLOADS_MAX);
			FUZZ_CHECK(json_integer_value(json_object_get(o,
			    "expires_in_hours")) == (json_int_t)sh.hours);
			FUZZ_CHECK(json_integer_value(json_object_get(o,
			    "max_downloads")) == (json_int_t)sh.max_downloads);
		}
		break;
	}
	if (r != 0)
		check_refusal(&bad);
	json_decref(o);
	return 0;
}
