/*
 * http.h: what the files of api/ share, and nothing outside api/ sees
 * (include/api.h is the module's public face).
 *
 * A request's life, in libmicrohttpd's terms:
 *   1. first call of the access handler: route matched, session looked up,
 *      limits checked on the headers; an upload's checks run and its
 *      document put begins here, before any byte of the body is read;
 *   2. calls with body bytes: JSON is gathered (bounded), an upload is
 *      streamed straight into the document put (never buffered whole);
 *   3. last call: the route's handler runs and queues its response;
 *   4. completion callback: whatever is still open is aborted (an upload
 *      cut off mid-stream stores nothing), the session's key copy is wiped,
 *      one log line is written.
 */
#ifndef API_HTTP_H
#define API_HTTP_H

#include <jansson.h>
#include <limits.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "api.h"
#include "documents.h"
#include "parse.h"
#include "sessions.h"
#include "store.h"

enum api_body { API_BODY_NONE, API_BODY_JSON, API_BODY_UPLOAD };
enum api_auth { API_ANON, API_SESSION, API_SESSION_OPTIONAL };

struct api_request;
typedef enum MHD_Result (*api_handler)(struct api_request *);

struct api_route {
	const char *method;
	const char *pattern;     /* "/v1/persons/{}/documents/{}": {} is a parameter */
	api_handler fn;
	enum api_body body;
	enum api_auth auth;
};

extern const struct api_route api_routes[];
extern const size_t api_routes_count;

/* A client address that failed to log in. */
struct api_ip_entry {
	char ip[48];
	unsigned failures;
	int64_t last_ms, blocked_until_ms;
};
#define API_IP_TABLE 1024

struct api_server {
	struct MHD_Daemon *d;
	struct api_options opt;
	struct sessions *sessions;
	pthread_mutex_t mu;            /* guards what follows */
	pthread_cond_t cv;
	struct store **pool;           /* idle store handles */
	unsigned pool_idle, pool_made, pool_max;
	struct store *first;
	unsigned uploads;
	unsigned argon_active, argon_waiting;
	struct api_ip_entry ips[API_IP_TABLE];
	pthread_t sweeper;
	pthread_t stamper;              /* timestamps_catch_up */
	int stopping;
	unsigned producers;            /* export threads running */
	unsigned inflight;             /* requests between first call and completion */
	char web_root[PATH_MAX];       /* the pages' directory, resolved; "" for none */
};

struct api_request {
	struct api_server *srv;
	struct MHD_Connection *c;
	const struct api_route *route;
	char params[API_PARAMS_MAX][API_PARAM_MAX + 1];
	char origin[48];
	char throttle[48];      /* origin, or its /64 for IPv6 (address throttle) */
	struct timespec start;
	int have_session;
	struct session_view sess;
	struct store *st;              /* pool handle, for the whole request */
	/* JSON body, in guarded memory (it may carry a secret) */
	char *body;
	size_t body_len, body_max;
	int body_too_big;
	/* upload */
	struct document_put *put;
	vault_id mandate;              /* the deposit mandate an aidant uses */
	int upload_slot;
	vault_err upload_err;
	/* a response was queued early (before or during the body) */
	int answered;
	unsigned status;
	uint64_t bytes_in, bytes_out;
	char log_account[VAULT_ID_TEXT_LEN + 1];
	int is_page;                   /* served from the web directory */
};

/* ---- responses (server.c) ------------------------------------------------ */

/* Queues body (a JSON object, consumed) with the headers every response
 * gets: no-store, nosniff, CSP, no referrer. */
enum MHD_Result api_json(struct api_request *rq, unsigned status, json_t *body);
/* {"error": code, "message": message} */
enum MHD_Result api_error(struct api_request *rq, unsigned status,
    const char *code, const char *message);
/* The status, code and sentence that fit a vault_err. */
enum MHD_Result api_vault_error(struct api_request *rq, vault_err r);
enum MHD_Result api_no_content(struct api_request *rq);
/* Adds the common headers to a response built elsewhere (downloads). */
/* The hardening headers every answer carries (nosniff, no referrer, no
 * framing, CORP), with its cache policy and CSP ("no-store" adds Pragma). */
void api_hardening_headers(struct MHD_Response *resp, const char *cache_control,
    const char *csp);
/* The API's: no-store, and a CSP that allows nothing. */
void api_common_headers(struct MHD_Response *resp);
enum MHD_Result api_queue(struct api_request *rq, unsigned status,
    struct MHD_Response *resp);

/* ---- helpers (server.c) -------------------------------------------------- */

/* Frees what json_dumps returned (jansson's allocator wipes on free). */
void api_json_free(void *p);

/* The request's JSON object (api_parse_json_object), or NULL after
 * answering 400 or 413 itself. */
json_t *api_body_json(struct api_request *rq);
/* Answers a refusal of parse.c. */
enum MHD_Result api_refuse(struct api_request *rq, const struct api_bad *bad);
/* Writes an RFC 3339 UTC instant ("2026-11-22T14:05:00Z"). */
void api_time(int64_t ms, char out[32]);
/* A query argument, or NULL. */
const char *api_arg(struct api_request *rq, const char *name);
/* A parameter of the path as an identifier; -1 after answering 400. */
int api_param_id(struct api_request *rq, int i, vault_id *id);

/* Argon2id gate: at most opt.argon_concurrency at once. Returns 0, or -1
 * after answering 503 when too many already wait. */
int api_argon_enter(struct api_request *rq);
void api_argon_leave(struct api_request *rq);

/* Log-in throttling by client address. api_ip_check answers 429 itself and
 * returns -1 when the address must wait. */
int api_ip_check(struct api_request *rq);
void api_ip_result(struct api_request *rq, int success);
/* Sleeps until opt.login_min_ms have passed since the request began. */
void api_login_floor(struct api_request *rq);

/* Store handles beyond a request's own (a background producer's). */
struct store *api_store_get(struct api_server *srv);
void api_store_put(struct api_server *srv, struct store *s);

/* Background producers (the export) still running; stop waits for them. */
/* Exports stream from a producer thread holding a store of its own: at
 * most API_MAX_PRODUCERS at once (api_producer_start returns -1 beyond),
 * so that slow readers of exports cannot take every store. */
#define API_MAX_PRODUCERS 4
int api_producer_start(struct api_server *srv);
void api_producer_done(struct api_server *srv);

/* Bytes of stack wiped below a request's frames when it ends, and at the
 * end of an export's producer (server.c): more than any handler uses. */
#define API_STACK_WIPE (64 * 1024)

/* ---- the web pages (static.c) -------------------------------------------- */

/* Resolves dir into out (absolute, no symlink); 0, or -1 if it is not a
 * directory. */
int api_static_root(const char *dir, char out[PATH_MAX]);
/* Serves url (outside /v1) from the web directory, or 404/405. */
enum MHD_Result api_static(struct api_request *rq, const char *method,
    const char *url);
/* The pages' headers: strict CSP, no referrer, nosniff; no-store for HTML,
 * no-cache (revalidate) for the rest. */
void api_page_headers(struct MHD_Response *resp, int html);

/* Streams the person's whole vault as a .tar.gz (export.c). */
enum MHD_Result api_export(struct api_request *rq, const vault_id *pid);

/* Upload slots: 0, or -1 when the limit is reached. */
int api_upload_slot_take(struct api_server *srv);
void api_upload_slot_give(struct api_server *srv);

#endif
