/*
 * api.h: the HTTP server (libmicrohttpd) and its routes under /v1.
 * The routes of ../shared/DESIGN.md are documented in api/openapi.yaml.
 */
#ifndef API_H
#define API_H

#include "vault.h"

struct store;
struct api_server;

/* Starts serving on an already bound, listening socket. */
vault_err api_server_start(int listen_fd, struct store *s,
    struct api_server **srvp);
/* Stops accepting, lets in-flight requests finish, frees. NULL-safe. */
void api_server_stop(struct api_server *srv);

#endif
