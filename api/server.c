/*
 * server.c: the HTTP layer's plumbing. Requests arrive here, are matched to
 * a route of handlers.c, and go from there to storage/ (documents, accounts,
 * mandates, shares), which calls crypto/ and the disk.
 *
 * Divisions of this file, in order: responses and the error table; request helpers; store handles, Argon2id gate, throttling and
 * upload slots; the request's life (access handler, completion); start and
 * stop.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "http.h"
#include "journal.h"
#include "timestamps.h"
#include "mandates.h"
#include "shares.h"
#include "vault_os.h"

/* ---- responses ---------------------------------------------------------- */

void
api_hardening_headers(struct MHD_Response *resp, const char *cache_control,
    const char *csp)
{
	MHD_add_response_header(resp, "Cache-Control", cache_control);
	if (strcmp(cache_control, "no-store") == 0)
		MHD_add_response_header(resp, "Pragma", "no-cache");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	MHD_add_response_header(resp, "Content-Security-Policy", csp);
	MHD_add_response_header(resp, "Cross-Origin-Resource-Policy", "same-origin");
}

void
api_common_headers(struct MHD_Response *resp)
{
	/* Everything this API answers may carry personal data. */
	api_hardening_headers(resp, "no-store", "default-src 'none'; frame-ancestors 'none'");
}

enum MHD_Result
api_queue(struct api_request *rq, unsigned status, struct MHD_Response *resp)
{
	enum MHD_Result ret;

	if (rq->srv->opt.tls_cert_pem != NULL)
		MHD_add_response_header(resp, "Strict-Transport-Security",
		    "max-age=31536000");
	rq->status = status;
	rq->answered = 1;
	ret = MHD_queue_response(rq->c, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static void json_wiping_free(void *q);

enum MHD_Result
api_json(struct api_request *rq, unsigned status, json_t *body)
{
	struct MHD_Response *resp;
	char *text;

	text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (text == NULL) {
		/* Could not build the answer (out of memory, or data that is
		 * not UTF-8): say so rather than drop the connection. */
		static const char fallback[] = "{\"error\":\"internal\",\"message\":"
		    "\"Something went wrong on our side.\"}";
		resp = MHD_create_response_from_buffer(sizeof fallback - 1,
		    (void *)(uintptr_t)fallback, MHD_RESPMEM_PERSISTENT);
		if (resp == NULL)
			return MHD_NO;
		MHD_add_response_header(resp, "Content-Type", "application/json");
		api_common_headers(resp);
		return api_queue(rq, 500, resp);
	}
	rq->bytes_out += strlen(text);
	/* The text came from jansson's allocator (it may hold a recovery
	 * code or a session token): give it back there, wiped. */
	resp = MHD_create_response_from_buffer_with_free_callback(strlen(text),
	    text, json_wiping_free);
	if (resp == NULL) {
		json_wiping_free(text);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", "application/json");
	api_common_headers(resp);
	return api_queue(rq, status, resp);
}

enum MHD_Result
api_error(struct api_request *rq, unsigned status, const char *code,
    const char *message)
{
	return api_json(rq, status, json_pack("{s:s, s:s}", "error", code,
	    "message", message));
}

enum MHD_Result
api_no_content(struct api_request *rq)
{
	struct MHD_Response *resp;

	resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	if (resp == NULL)
		return MHD_NO;
	api_common_headers(resp);
	return api_queue(rq, MHD_HTTP_NO_CONTENT, resp);
}

/* One table from vault_err to what the client is told. Internal detail
 * never leaves: the sentence is for a person, the log has the rest. */
static const struct {
	vault_err r;
	unsigned status;
	const char *code, *message;
} error_table[] = {
	{ VAULT_ERR_FORMAT, 400, "bad_request", "The request is not well formed." },
	{ VAULT_ERR_AUTH, 401, "unauthorized", "Log in first." },
	{ VAULT_ERR_NOTFOUND, 404, "not_found", "There is nothing here." },
	{ VAULT_ERR_EXISTS, 409, "conflict", "This already exists." },
	{ VAULT_ERR_LIMIT, 413, "too_large", "This is more than the vault accepts." },
	{ VAULT_ERR_NOSPACE, 507, "insufficient_storage",
	    "The vault's storage is full. Nothing was stored; try again later." },
	{ VAULT_ERR_STOPPED, 503, "read_only",
	    "The vault is read-only after a storage failure. Your papers can "
	    "still be read; nothing new can be stored until it is repaired." },
	{ VAULT_ERR_BUSY, 503, "busy", "The vault is busy. Try again in a moment." },
	{ VAULT_ERR_CORRUPT, 500, "damaged",
	    "The stored copy of this paper is damaged. Nothing of it was sent." },
	{ VAULT_ERR_TRUNCATED, 500, "damaged",
	    "The stored copy of this paper is damaged. Nothing of it was sent." },
	{ VAULT_ERR_NOMEM, 503, "busy", "The vault is busy. Try again in a moment." },
	{ VAULT_ERR_IO, 500, "storage_error",
	    "The vault could not use its storage. Nothing was changed." },
};

enum MHD_Result
api_vault_error(struct api_request *rq, vault_err r)
{
	size_t i;

	for (i = 0; i < sizeof error_table / sizeof error_table[0]; i++)
		if (error_table[i].r == r)
			return api_error(rq, error_table[i].status,
			    error_table[i].code, error_table[i].message);
	return api_error(rq, 500, "internal", "Something went wrong on our side.");
}

/* ---- request helpers ------------------------------------------------------ */

json_t *
api_body_json(struct api_request *rq)
{
	struct api_bad bad;
	json_t *o;

	if (rq->body_too_big) {
		api_error(rq, 413, "too_large", "This request's body is too large.");
		return NULL;
	}
	if ((o = api_parse_json_object(rq->body, rq->body_len, &bad)) == NULL)
		api_refuse(rq, &bad);
	return o;
}

enum MHD_Result
api_refuse(struct api_request *rq, const struct api_bad *bad)
{
	return api_error(rq, bad->status, bad->code, bad->message);
}

void
api_time(int64_t ms, char out[32])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

const char *
api_arg(struct api_request *rq, const char *name)
{
	return MHD_lookup_connection_value(rq->c, MHD_GET_ARGUMENT_KIND, name);
}

int
api_param_id(struct api_request *rq, int i, vault_id *id)
{
	if (vault_id_from_text(rq->params[i], id) != VAULT_OK) {
		api_error(rq, 400, "bad_identifier",
		    "An identifier in the address is not well formed.");
		return -1;
	}
	return 0;
}

/* ---- store handles ---------------------------------------------------------- */

/* One SQLite connection per request in flight (they are not shared between
 * threads). Handles are made on demand, up to one per connection. */
static struct store *
pool_get(struct api_server *srv)
{
	struct store *s = NULL;

	pthread_mutex_lock(&srv->mu);
	while (srv->pool_idle == 0 && srv->pool_made >= srv->pool_max)
		pthread_cond_wait(&srv->cv, &srv->mu);
	if (srv->pool_idle > 0) {
		s = srv->pool[--srv->pool_idle];
		pthread_mutex_unlock(&srv->mu);
		return s;
	}
	srv->pool_made++;
	pthread_mutex_unlock(&srv->mu);
	if (store_open_sibling(srv->first, &s) != VAULT_OK) {
		pthread_mutex_lock(&srv->mu);
		srv->pool_made--;
		pthread_cond_signal(&srv->cv);
		pthread_mutex_unlock(&srv->mu);
		return NULL;
	}
	return s;
}

static void
pool_put(struct api_server *srv, struct store *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&srv->mu);
	srv->pool[srv->pool_idle++] = s;
	pthread_cond_signal(&srv->cv);
	pthread_mutex_unlock(&srv->mu);
}

struct store *
api_store_get(struct api_server *srv)
{
	return pool_get(srv);
}

void
api_store_put(struct api_server *srv, struct store *s)
{
	pool_put(srv, s);
}

int
api_producer_start(struct api_server *srv)
{
	int ok;

	pthread_mutex_lock(&srv->mu);
	ok = srv->producers < API_MAX_PRODUCERS;
	if (ok)
		srv->producers++;
	pthread_mutex_unlock(&srv->mu);
	return ok ? 0 : -1;
}

void
api_producer_done(struct api_server *srv)
{
	pthread_mutex_lock(&srv->mu);
	srv->producers--;
	pthread_cond_broadcast(&srv->cv);
	pthread_mutex_unlock(&srv->mu);
}

/* ---- the Argon2id gate ------------------------------------------------------- */

/* Each Argon2id evaluation takes memlimit bytes (64 MiB by default): a
 * flood of log-ins waits here, bounded, instead of exhausting memory. */
int
api_argon_enter(struct api_request *rq)
{
	struct api_server *srv = rq->srv;

	pthread_mutex_lock(&srv->mu);
	if (srv->argon_active >= srv->opt.argon_concurrency &&
	    srv->argon_waiting >= srv->opt.argon_queue) {
		pthread_mutex_unlock(&srv->mu);
		api_error(rq, 503, "busy", "Too many log-ins at once. Try again in a moment.");
		return -1;
	}
	srv->argon_waiting++;
	while (srv->argon_active >= srv->opt.argon_concurrency)
		pthread_cond_wait(&srv->cv, &srv->mu);
	srv->argon_waiting--;
	srv->argon_active++;
	pthread_mutex_unlock(&srv->mu);
	return 0;
}

void
api_argon_leave(struct api_request *rq)
{
	struct api_server *srv = rq->srv;

	pthread_mutex_lock(&srv->mu);
	srv->argon_active--;
	pthread_cond_broadcast(&srv->cv);
	pthread_mutex_unlock(&srv->mu);
}

/* ---- throttling by address ---------------------------------------------------- */

static struct api_ip_entry *
ip_entry(struct api_server *srv, const char *ip, int create)
{
	struct api_ip_entry *e, *oldest = NULL, *oldest_blocked = &srv->ips[0];
	int64_t now = vault_os.now_ms();
	size_t i;

	for (i = 0; i < API_IP_TABLE; i++) {
		e = &srv->ips[i];
		if (strcmp(e->ip, ip) == 0 && e->ip[0] != '\0')
			return e;
		/* evict the stalest address that is not waiting out a block:
		 * flooding the table from many addresses must not free a
		 * blocked one */
		if (e->blocked_until_ms <= now) {
			if (oldest == NULL || e->last_ms < oldest->last_ms)
				oldest = e;
		} else if (e->blocked_until_ms < oldest_blocked->blocked_until_ms ||
		    oldest_blocked->blocked_until_ms <= now)
			oldest_blocked = e;
	}
	if (!create)
		return NULL;
	if (oldest == NULL)
		oldest = oldest_blocked; /* all blocked: the one freed soonest */
	memset(oldest, 0, sizeof *oldest);
	snprintf(oldest->ip, sizeof oldest->ip, "%s", ip);
	return oldest;
}

int
api_ip_check(struct api_request *rq)
{
	struct api_server *srv = rq->srv;
	struct api_ip_entry *e;
	int64_t now = vault_os.now_ms(), wait = 0;
	char retry[24];

	pthread_mutex_lock(&srv->mu);
	if ((e = ip_entry(srv, rq->throttle, 0)) != NULL && e->blocked_until_ms > now)
		wait = e->blocked_until_ms - now;
	pthread_mutex_unlock(&srv->mu);
	if (wait == 0)
		return 0;
	snprintf(retry, sizeof retry, "%lld", (long long)(wait + 999) / 1000);
	{
		struct MHD_Response *resp;
		static const char text[] = "{\"error\":\"rate_limited\",\"message\":"
		    "\"Too many failed attempts from this place. Wait a little, then "
		    "try again.\"}";
		resp = MHD_create_response_from_buffer(sizeof text - 1,
		    (void *)(uintptr_t)text, MHD_RESPMEM_PERSISTENT);
		if (resp == NULL)
			return -1;
		MHD_add_response_header(resp, "Content-Type", "application/json");
		MHD_add_response_header(resp, "Retry-After", retry);
		api_common_headers(resp);
		api_queue(rq, 429, resp);
	}
	return -1;
}

void
api_ip_result(struct api_request *rq, int success)
{
	struct api_server *srv = rq->srv;
	struct api_ip_entry *e;
	int64_t now = vault_os.now_ms(), delay;
	unsigned over;

	/* A success does not clear the address's count: whoever holds one
	 * account could otherwise log into it between guesses at others and
	 * never wait. The count decays after a quiet quarter of an hour. */
	if (success)
		return;
	pthread_mutex_lock(&srv->mu);
	if ((e = ip_entry(srv, rq->throttle, 1)) != NULL) {
		/* quiet for a quarter of an hour: start again */
		if (now - e->last_ms > 15 * 60 * 1000)
			e->failures = 0;
		e->failures++;
		e->last_ms = now;
		/* A shared terminal in a library sees many people's typos:
		 * the first failures are free, then the wait doubles, up to
		 * five minutes. */
		if (e->failures > srv->opt.ip_failures_free) {
			over = e->failures - srv->opt.ip_failures_free;
			delay = over >= 9 ? 300000 : (int64_t)1000 << (over - 1);
			if (delay > 300000)
				delay = 300000;
			e->blocked_until_ms = now + delay;
		}
	}
	pthread_mutex_unlock(&srv->mu);
}

void
api_login_floor(struct api_request *rq)
{
	struct timespec until = rq->start;
	int64_t ns = rq->srv->opt.login_min_ms * 1000000;

	/* An absolute deadline in nanoseconds: a relative sleep rounded to
	 * milliseconds would let the sub-millisecond part of the work show. */
	until.tv_sec += ns / 1000000000;
	until.tv_nsec += ns % 1000000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) == EINTR)
		;
}

/* ---- upload slots ----------------------------------------------------------- */

int
api_upload_slot_take(struct api_server *srv)
{
	int ok;

	pthread_mutex_lock(&srv->mu);
	ok = srv->uploads < srv->opt.max_uploads;
	if (ok)
		srv->uploads++;
	pthread_mutex_unlock(&srv->mu);
	return ok ? 0 : -1;
}

void
api_upload_slot_give(struct api_server *srv)
{
	pthread_mutex_lock(&srv->mu);
	srv->uploads--;
	pthread_mutex_unlock(&srv->mu);
}

/* ---- the request's life --------------------------------------------------------- */

/* Matches method and path against the table; fills params. Returns the
 * route, or NULL with *path_known set if the path exists with another
 * method (405 rather than 404). */
static const struct api_route *
match(const char *method, const char *url, char params[][API_PARAM_MAX + 1],
    int *path_known)
{
	size_t i;

	*path_known = 0;
	for (i = 0; i < api_routes_count; i++) {
		if (!api_path_match(api_routes[i].pattern, url, params))
			continue;
		if (strcmp(api_routes[i].method, method) == 0)
			return &api_routes[i];
		*path_known = 1;
	}
	return NULL;
}

static enum MHD_Result
sum_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	size_t *total = cls;

	(void)kind;
	*total += strlen(key) + (value != NULL ? strlen(value) : 0) + 4;
	return MHD_YES;
}

static void
client_address(struct MHD_Connection *c, char out[48])
{
	const union MHD_ConnectionInfo *ci;
	const struct sockaddr *sa;

	snprintf(out, 48, "-");
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci == NULL || (sa = ci->client_addr) == NULL)
		return;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, 48);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, 48);
}

/* What the address throttle counts by: an IPv4 address (also when it
 * comes IPv4-mapped), or an IPv6 address's /64 — one household or one
 * machine holds a whole /64 and could otherwise take a fresh address for
 * every guess. */
static void
throttle_key(const char *origin, char out[48])
{
	struct in6_addr a;
	struct in_addr v4;

	snprintf(out, 48, "%s", origin);
	if (inet_pton(AF_INET6, origin, &a) != 1)
		return;
	if (IN6_IS_ADDR_V4MAPPED(&a)) {
		memcpy(&v4, a.s6_addr + 12, 4);
		inet_ntop(AF_INET, &v4, out, 48);
		return;
	}
	memset(a.s6_addr + 8, 0, 8);
	inet_ntop(AF_INET6, &a, out, 44);
	strcat(out, "/64");
}

/* Upload handlers begin their put in the first call (handlers.c). */
enum MHD_Result api_upload_begin(struct api_request *rq);

static enum MHD_Result
first_call(struct api_request *rq, const char *method, const char *url)
{
	const char *auth, *cl;
	uint64_t declared;
	size_t headers = 0;
	int path_known;

	/* Outside /v1: the web pages (static.c), never a route of the API. */
	if (strncmp(url, "/v1/", 4) != 0 && strcmp(url, "/v1") != 0) {
		rq->is_page = 1;
		return api_static(rq, method, url);
	}
	rq->route = match(method, url, rq->params, &path_known);
	if (rq->route == NULL)
		return path_known ? api_error(rq, 405, "method_not_allowed",
		    "This address does not accept this method.") :
		    api_error(rq, 404, "not_found", "There is nothing at this address.");
	MHD_get_connection_values(rq->c, MHD_HEADER_KIND, sum_header, &headers);
	if (headers > rq->srv->opt.header_max)
		return api_error(rq, 431, "headers_too_large",
		    "The request's headers are too large.");
	/* Routes open to anyone ignore a session altogether: a stale token
	 * left in a page must not stop a log-in or a share link. */
	auth = rq->route->auth == API_ANON ? NULL :
	    MHD_lookup_connection_value(rq->c, MHD_HEADER_KIND, "Authorization");
	if (auth != NULL) {
		if (strncmp(auth, "Bearer ", 7) != 0 ||
		    sessions_lookup(rq->srv->sessions, auth + 7, &rq->sess) != VAULT_OK)
			return api_error(rq, 401, "unauthorized",
			    "Your session has ended. Log in again.");
		rq->have_session = 1;
		vault_id_to_text(&rq->sess.account, rq->log_account);
	}
	if (rq->route->auth == API_SESSION && !rq->have_session)
		return api_error(rq, 401, "unauthorized", "Log in first.");
	if ((rq->st = pool_get(rq->srv)) == NULL)
		return api_error(rq, 503, "busy", "The vault is busy. Try again in a moment.");
	switch (rq->route->body) {
	case API_BODY_JSON:
		rq->body_max = rq->have_session ? rq->srv->opt.json_max :
		    rq->srv->opt.json_max_anonymous;
		cl = MHD_lookup_connection_value(rq->c, MHD_HEADER_KIND,
		    MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl != NULL && (api_content_length(cl, &declared) != 0 ||
		    declared > rq->body_max))
			return api_error(rq, 413, "too_large",
			    "This request's body is too large.");
		if ((rq->body = sodium_malloc(rq->body_max)) == NULL)
			return api_error(rq, 503, "busy", "The vault is busy. Try again in a moment.");
		return MHD_YES;
	case API_BODY_UPLOAD:
		return api_upload_begin(rq);
	case API_BODY_NONE:
		break;
	}
	return MHD_YES;
}

static enum MHD_Result
access_handler(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct api_server *srv = cls;
	struct api_request *rq = *con_cls;
	vault_err r;

	(void)version;
	if (rq == NULL) {
		if ((rq = calloc(1, sizeof *rq)) == NULL)
			return MHD_NO;
		rq->srv = srv;
		rq->c = c;
		clock_gettime(CLOCK_MONOTONIC, &rq->start);
		client_address(c, rq->origin);
		throttle_key(rq->origin, rq->throttle);
		snprintf(rq->log_account, sizeof rq->log_account, "-");
		*con_cls = rq;
		pthread_mutex_lock(&srv->mu);
		srv->inflight++;
		pthread_mutex_unlock(&srv->mu);
		return first_call(rq, method, url);
	}
	if (*upload_data_size > 0) {
		size_t n = *upload_data_size;
		rq->bytes_in += n;
		*upload_data_size = 0;
		if (rq->answered)
			return MHD_YES; /* an early answer: the rest is discarded */
		if (rq->route->body == API_BODY_JSON) {
			if (rq->body_len + n > rq->body_max)
				rq->body_too_big = 1;
			else {
				memcpy(rq->body + rq->body_len, upload_data, n);
				rq->body_len += n;
			}
		} else if (rq->route->body == API_BODY_UPLOAD &&
		    rq->upload_err == VAULT_OK &&
		    (r = documents_put_write(rq->put, upload_data, n)) != VAULT_OK)
			/* keep reading (and discarding) to the end, then answer */
			rq->upload_err = r;
		return MHD_YES;
	}
	if (rq->answered)
		return MHD_YES;
	return rq->route->fn(rq);
}

static void
log_line(struct api_request *rq)
{
	struct timespec now;
	long long ms;

	if (rq->srv->opt.quiet)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (long long)(now.tv_sec - rq->start.tv_sec) * 1000 +
	    (now.tv_nsec - rq->start.tv_nsec) / 1000000;
	/* The route's pattern, never the address itself: a share link's
	 * token is in its path. Never a title, a file name or a secret. */
	fprintf(stderr, "%s %s %u %lldms in=%llu out=%llu account=%s\n",
	    rq->route != NULL ? rq->route->method : rq->is_page ? "GET" : "-",
	    rq->route != NULL ? rq->route->pattern : rq->is_page ? "/(page)" : "-",
	    rq->status, ms,
	    (unsigned long long)rq->bytes_in, (unsigned long long)rq->bytes_out,
	    rq->log_account);
}

static void
completed(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct api_request *rq = *con_cls;

	(void)cls;
	(void)c;
	if (rq == NULL)
		return;
	if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK && rq->status < 400)
		rq->status = 499; /* the client went away: nothing was committed */
	/* An upload cut off, refused or failed: nothing of it stays. */
	documents_put_abort(rq->put);
	if (rq->upload_slot)
		api_upload_slot_give(rq->srv);
	pool_put(rq->srv, rq->st);
	log_line(rq);
	session_view_wipe(&rq->sess);
	sodium_free(rq->body);
	pthread_mutex_lock(&rq->srv->mu);
	rq->srv->inflight--;
	pthread_mutex_unlock(&rq->srv->mu);
	/* a share link's token was one of the path's parameters */
	sodium_memzero(rq->params, sizeof rq->params);
	free(rq);
	*con_cls = NULL;
	/* What the request's frames held (a key in a library's local
	 * buffer, a register saved there) stays on this stack when they
	 * return, and glibc hands a cached stack to the next thread as it
	 * is. The frames are gone here: wipe what they used. */
	sodium_stackzero(API_STACK_WIPE);
}

/* ---- start and stop ----------------------------------------------------------- */

/* A signed checkpoint every opt.checkpoint_entries entries, or every
 * opt.checkpoint_ms once the journal has grown. */
static void
maybe_checkpoint(struct api_server *srv, struct store *s)
{
	uint64_t size, last = 0;
	int64_t at = 0;
	char *note = NULL;
	vault_err r;

	if (journal_size(s, &size) != VAULT_OK)
		return;
	r = journal_checkpoint_latest(s, &note, &last, &at);
	free(note);
	note = NULL;
	if (r != VAULT_OK && r != VAULT_ERR_NOTFOUND)
		return;
	if (size > last && (size - last >= srv->opt.checkpoint_entries ||
	    vault_os.now_ms() - at >= srv->opt.checkpoint_ms) &&
	    journal_checkpoint(s, &note) == VAULT_OK)
		free(note);
}

/* Waits ms, or less if the server stops; returns 0 once it is stopping.
 * Called and returns with srv->mu held. */
static int
wait_or_stop(struct api_server *srv, int64_t ms)
{
	struct timespec deadline;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += ms / 1000;
	deadline.tv_nsec += (ms % 1000) * 1000000;
	if (deadline.tv_nsec >= 1000000000) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000;
	}
	/* the condition variable is shared with the pool and the Argon2id
	 * gate: wake-ups before the deadline are not ours */
	while (!srv->stopping && pthread_cond_timedwait(&srv->cv, &srv->mu,
	    &deadline) != ETIMEDOUT)
		;
	return !srv->stopping;
}

/* Sessions idle too long, and mandates past their end, are swept here; the
 * checks themselves never wait for the sweeper. */
static void *
sweeper_main(void *arg)
{
	struct api_server *srv = arg;
	struct store *s;

	pthread_mutex_lock(&srv->mu);
	while (wait_or_stop(srv, srv->opt.sweep_ms)) {
		pthread_mutex_unlock(&srv->mu);
		sessions_sweep(srv->sessions);
		if ((s = pool_get(srv)) != NULL) {
			(void)mandates_sweep(s, NULL);
			(void)shares_sweep(s);
			maybe_checkpoint(srv, s);
			pool_put(srv, s);
		}
		pthread_mutex_lock(&srv->mu);
	}
	pthread_mutex_unlock(&srv->mu);
	return NULL;
}

static int
is_stopping(struct api_server *srv)
{
	int v;

	pthread_mutex_lock(&srv->mu);
	v = srv->stopping;
	pthread_mutex_unlock(&srv->mu);
	return v;
}

/* Tokens that could not be had at once (timestamps.h): asked for again
 * every tsa_retry_ms, a batch at a time, while the TSA answers. Its own
 * thread: an external TSA that hangs until its time-out must not delay
 * the sweeps. */
static void *
stamper_main(void *arg)
{
	struct api_server *srv = arg;
	unsigned issued, left, total;
	struct store *s;
	vault_err r;

	pthread_mutex_lock(&srv->mu);
	while (wait_or_stop(srv, srv->opt.tsa_retry_ms)) {
		pthread_mutex_unlock(&srv->mu);
		total = 0;
		if ((s = pool_get(srv)) != NULL) {
			do {
				r = timestamps_catch_up(s, 64, &issued, &left);
				total += issued;
			} while (r == VAULT_OK && issued > 0 && left > 0 &&
			    !is_stopping(srv));
			pool_put(srv, s);
			if (total > 0 || r != VAULT_OK)
				fprintf(stderr, "vaultd: time-stamps: %u issued, %u waiting%s%s\n",
				    total, left, r != VAULT_OK ? ": " : "",
				    r != VAULT_OK ? vault_strerror(r) : "");
		}
		pthread_mutex_lock(&srv->mu);
	}
	pthread_mutex_unlock(&srv->mu);
	return NULL;
}

/* libmicrohttpd's own messages can quote the request's URL, and a share
 * link's token is in its path: they are reduced to their first words,
 * before any quoted part. */
static void
mhd_logger(void *cls, const char *fmt, va_list ap)
{
	char buf[512], *q;

	(void)cls;
	vsnprintf(buf, sizeof buf, fmt, ap);
	if ((q = strpbrk(buf, "`'\"/")) != NULL)
		*q = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	fprintf(stderr, "vaultd: http: %s\n", buf);
}

/* jansson's allocations can hold a secret (a JSON body with a password):
 * wipe them on free. */
static void *
json_wiping_malloc(size_t n)
{
	size_t *p = malloc(n + sizeof(size_t) * 2);

	if (p == NULL)
		return NULL;
	p[0] = n;
	return p + 2;
}

static void
json_wiping_free(void *q)
{
	size_t *p;

	if (q == NULL)
		return;
	p = (size_t *)q - 2;
	sodium_memzero(q, p[0]);
	free(p);
}

void
api_json_free(void *p)
{
	json_wiping_free(p);
}

vault_err
api_server_start(int listen_fd, struct store *first, const struct api_options *o,
    struct api_server **srvp)
{
	struct api_server *srv;
	unsigned flags;
	vault_err r;

	*srvp = NULL;
	json_set_alloc_funcs(json_wiping_malloc, json_wiping_free);
	if ((srv = calloc(1, sizeof *srv)) == NULL)
		return VAULT_ERR_NOMEM;
	srv->opt = *o;
	srv->first = first;
	if (o->web_dir != NULL && api_static_root(o->web_dir, srv->web_root) != 0) {
		fprintf(stderr, "vaultd: no web pages: %s is not a directory "
		    "(--web-dir)\n", o->web_dir);
		srv->web_root[0] = '\0';
	}
	/* every connection, the sweeper, the stamper, every export's producer
	 * and one spare: pool_get never waits for a store */
	srv->pool_max = o->max_connections + 3 + API_MAX_PRODUCERS;
	pthread_mutex_init(&srv->mu, NULL);
	pthread_cond_init(&srv->cv, NULL);
	if ((srv->pool = calloc(srv->pool_max, sizeof *srv->pool)) == NULL ||
	    (r = sessions_new(o->max_sessions, o->session_idle_ms,
	    o->session_lifetime_ms, &srv->sessions)) != VAULT_OK) {
		free(srv->pool);
		free(srv);
		return VAULT_ERR_NOMEM;
	}
	/* One thread per connection: handlers block on Argon2id, fsync and
	 * SQLite, which must not stall other connections. */
	flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
	    MHD_USE_ITC | MHD_USE_ERROR_LOG;
	if (o->tls_cert_pem != NULL)
		flags |= MHD_USE_TLS;
	srv->d = MHD_start_daemon(flags, 0, NULL, NULL, access_handler, srv,
	    /* first, so that no message reaches MHD's own logger */
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, NULL,
	    MHD_OPTION_LISTEN_SOCKET, listen_fd,
	    MHD_OPTION_CONNECTION_LIMIT, o->max_connections,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, o->max_connections_per_address,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)60,
	    /* request line and headers (bigger ones get MHD's own 431), and
	     * the buffer a body is read into. MHD zeroes the whole of it
	     * after every request: at 1 MiB that was 3.7 % of vaultd's CPU
	     * under eight clients of small deposits; at 256 KiB, vaultd's
	     * CPU per 200 KiB deposit fell by 5 % and a 1 GiB upload, read
	     * in smaller pieces, by 3 % at most (README, API benchmark) */
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(o->header_max * 4 + 262144),
	    MHD_OPTION_NOTIFY_COMPLETED, completed, srv,
	    o->tls_cert_pem != NULL ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END,
	    o->tls_cert_pem, MHD_OPTION_HTTPS_MEM_KEY, o->tls_key_pem,
	    MHD_OPTION_END);
	if (srv->d == NULL) {
		sessions_free(srv->sessions);
		free(srv->pool);
		free(srv);
		return VAULT_ERR_IO;
	}
	pthread_create(&srv->sweeper, NULL, sweeper_main, srv);
	pthread_create(&srv->stamper, NULL, stamper_main, srv);
	*srvp = srv;
	return VAULT_OK;
}

void
api_server_stop(struct api_server *srv, int64_t drain_ms)
{
	struct timespec t = { 0, 20 * 1000000 };
	int64_t waited = 0;
	unsigned i, busy;

	if (srv == NULL)
		return;
	/* Stop accepting; let the requests in flight finish, for a bounded
	 * time. Idle keep-alive connections do not count: stopping the
	 * daemon closes them. */
	MHD_quiesce_daemon(srv->d);
	while (waited < drain_ms) {
		pthread_mutex_lock(&srv->mu);
		busy = srv->inflight + srv->producers;
		pthread_mutex_unlock(&srv->mu);
		if (busy == 0)
			break;
		nanosleep(&t, NULL);
		waited += 20;
	}
	MHD_stop_daemon(srv->d);
	pthread_mutex_lock(&srv->mu);
	srv->stopping = 1;
	pthread_cond_broadcast(&srv->cv);
	/* Export producers see their pipe closed by MHD_stop_daemon and end;
	 * they hold store handles, so wait for them. */
	while (srv->producers > 0)
		pthread_cond_wait(&srv->cv, &srv->mu);
	pthread_mutex_unlock(&srv->mu);
	pthread_join(srv->sweeper, NULL);
	pthread_join(srv->stamper, NULL);
	for (i = 0; i < srv->pool_idle; i++)
		store_close(srv->pool[i]);
	sessions_free(srv->sessions);
	pthread_mutex_destroy(&srv->mu);
	pthread_cond_destroy(&srv->cv);
	free(srv->pool);
	free(srv);
}

void
api_print_routes(void)
{
	size_t i;

	for (i = 0; i < api_routes_count; i++)
		printf("%s %s\n", api_routes[i].method, api_routes[i].pattern);
}
