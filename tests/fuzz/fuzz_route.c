/*
 * fuzz_route: the request line's path, matched against vaultd's routes
 * (api_path_match, as server.c's match() calls it for every route).
 *
 * Input: "METHOD PATH". A path that matches a route must be exactly its
 * pattern with the parameters put back in; each parameter 1 to 64 bytes
 * without '/'; and no path matches two routes of the same method. The
 * table below is api/handlers.c's (the openapi test keeps that one and
 * api/openapi.yaml together).
 */
#include "fuzz.h"

#include "parse.h"

static const struct { const char *method, *pattern; } routes[] = {
	{ "GET", "/v1/health" },
	{ "POST", "/v1/sessions" },
	{ "DELETE", "/v1/sessions/current" },
	{ "GET", "/v1/me" },
	{ "POST", "/v1/persons" },
	{ "POST", "/v1/activate" },
	{ "POST", "/v1/recover" },
	{ "POST", "/v1/structures" },
	{ "POST", "/v1/structures/{}/aidants" },
	{ "POST", "/v1/auditors" },
	{ "POST", "/v1/persons/{}/documents" },
	{ "GET", "/v1/persons/{}/documents" },
	{ "GET", "/v1/persons/{}/documents/{}" },
	{ "GET", "/v1/persons/{}/documents/{}/content" },
	{ "DELETE", "/v1/persons/{}/documents/{}" },
	{ "GET", "/v1/persons/{}/documents/{}/timestamp" },
	{ "GET", "/v1/persons/{}/documents/{}/receipt" },
	{ "GET", "/v1/persons/{}/export" },
	{ "POST", "/v1/persons/{}/mandates" },
	{ "GET", "/v1/persons/{}/mandates" },
	{ "DELETE", "/v1/persons/{}/mandates/{}" },
	{ "GET", "/v1/aidants/me/mandates" },
	{ "POST", "/v1/persons/{}/documents/{}/shares" },
	{ "GET", "/v1/shares/{}" },
	{ "DELETE", "/v1/persons/{}/shares/{}" },
	{ "GET", "/v1/persons/{}/journal" },
	{ "GET", "/v1/journal" },
	{ "GET", "/v1/journal/checkpoint" },
	{ "GET", "/v1/journal/checkpoints/{}" },
	{ "GET", "/v1/journal/checkpoints/{}/timestamp" },
	{ "POST", "/v1/journal/checkpoint" },
	{ "GET", "/v1/journal/entries/{}" },
	{ "GET", "/v1/journal/proof/inclusion" },
	{ "GET", "/v1/journal/proof/consistency" },
	{ "GET", "/v1/tsa/certificates" },
	{ "GET", "/v1/instance/keys" },
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char params[API_PARAMS_MAX][API_PARAM_MAX + 1], back[4096], *s, *url;
	const char *p;
	size_t i, o;
	int np, hits = 0;

	s = fuzz_str(data, size);
	if ((url = strchr(s, ' ')) == NULL) {
		free(s);
		return 0;
	}
	*url++ = '\0';
	for (i = 0; i < sizeof routes / sizeof routes[0]; i++) {
		memset(params, 0x55, sizeof params);
		if (!api_path_match(routes[i].pattern, url, params))
			continue;
		if (strcmp(routes[i].method, s) == 0)
			hits++;
		/* the pattern with the parameters put back is the path */
		for (p = routes[i].pattern, o = 0, np = 0; *p != '\0'; ) {
			if (p[0] == '{' && p[1] == '}') {
				FUZZ_CHECK(np < API_PARAMS_MAX);
				FUZZ_CHECK(strlen(params[np]) >= 1 &&
				    strlen(params[np]) <= API_PARAM_MAX);
				FUZZ_CHECK(strchr(params[np], '/') == NULL);
				FUZZ_CHECK(o + strlen(params[np]) < sizeof back);
				memcpy(back + o, params[np], strlen(params[np]));
				o += strlen(params[np++]);
				p += 2;
			} else {
				FUZZ_CHECK(o + 1 < sizeof back);
				back[o++] = *p++;
			}
		}
		back[o] = '\0';
		FUZZ_CHECK(strcmp(back, url) == 0);
	}
	FUZZ_CHECK(hits <= 1);
	free(s);
	return 0;
}
