/*
 * api.h: the HTTP server (libmicrohttpd) and its routes under /v1.
 * Every route of ../shared/DESIGN.md is documented in api/openapi.yaml, and
 * `vaultd --routes` prints the table the server actually registers, so that
 * a test can hold the two together.
 */
#ifndef API_H
#define API_H

#include <stdint.h>

#include "vault.h"

struct store;
struct api_server;

struct api_options {
	int self_enrolment;           /* anonymous POST /v1/persons with a secret */
	char public_url[256];         /* base of share links, no trailing slash */
	unsigned max_connections;     /* open connections at once */
	unsigned max_connections_per_address; /* ... from one client address */
	unsigned max_uploads;         /* document uploads at once (429 beyond) */
	size_t json_max_anonymous;    /* JSON body before log-in */
	size_t json_max;              /* JSON body with a session */
	size_t header_max;            /* all request headers together */
	int64_t login_min_ms;         /* every log-in answer takes at least this */
	unsigned argon_concurrency;   /* Argon2id evaluations at once */
	unsigned argon_queue;         /* waiting beyond this: 503 */
	unsigned max_sessions;
	int64_t session_idle_ms, session_lifetime_ms;
	unsigned ip_failures_free;    /* failed log-ins per address before delays */
	int64_t sweep_ms;             /* sessions and mandates swept this often */
	uint64_t checkpoint_entries;  /* a signed checkpoint at least every N entries */
	int64_t checkpoint_ms;        /* ... or every T ms when the journal grew */
	int64_t tsa_retry_ms;         /* missing time-stamps asked for this often */
	const char *tls_cert_pem;     /* with tls_key_pem: serve HTTPS */
	const char *tls_key_pem;
	int quiet;                    /* no per-request log line */
	const char *web_dir;          /* the pages served under "/"; NULL: none */
};

/* The defaults of this build (see SECURITY.md for the reasons). */
void api_options_default(struct api_options *o);

/* Starts serving on an already bound, listening socket. first is the
 * store vaultd opened; the server opens siblings of it as it needs them. */
vault_err api_server_start(int listen_fd, struct store *first,
    const struct api_options *o, struct api_server **srvp);
/* Stops accepting, lets in-flight requests finish for up to drain_ms,
 * closes, frees. NULL-safe. */
void api_server_stop(struct api_server *srv, int64_t drain_ms);

/* Prints "METHOD PATTERN" for every registered route, one per line. */
void api_print_routes(void);

#endif
