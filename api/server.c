/*
 * server.c: the HTTP layer. Requests arrive here and go to handlers, which
 * call storage/ (documents, accounts), which calls crypto/ and the disk.
 */
#include <jansson.h>
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "store.h"

struct api_server {
	struct MHD_Daemon *d;
	struct store *s;
};

static enum MHD_Result
send_json(struct MHD_Connection *c, unsigned int status, json_t *body)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	char *text;

	text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (text == NULL)
		return MHD_NO;
	resp = MHD_create_response_from_buffer(strlen(text), text,
	    MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", "application/json");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result
send_error(struct MHD_Connection *c, unsigned int status, const char *code,
    const char *message)
{
	return send_json(c, status, json_pack("{s:s, s:s}", "error", code,
	    "message", message));
}

static enum MHD_Result
handle(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	(void)cls;
	(void)version;
	(void)upload_data;
	(void)con_cls;
	if (*upload_data_size != 0) {
		*upload_data_size = 0; /* no route of this build takes a body */
		return MHD_YES;
	}
	if (strcmp(url, "/v1/health") == 0) {
		if (strcmp(method, "GET") != 0)
			return send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED,
			    "method_not_allowed", "Use GET on this address.");
		return send_json(c, MHD_HTTP_OK, json_pack("{s:s}", "status", "ok"));
	}
	return send_error(c, MHD_HTTP_NOT_FOUND, "not_found",
	    "There is nothing at this address.");
}

vault_err
api_server_start(int listen_fd, struct store *s, struct api_server **srvp)
{
	struct api_server *srv;

	*srvp = NULL;
	if ((srv = calloc(1, sizeof *srv)) == NULL)
		return VAULT_ERR_NOMEM;
	srv->s = s;
	srv->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
	    MHD_USE_ERROR_LOG, 0, NULL, NULL, handle, srv,
	    MHD_OPTION_LISTEN_SOCKET, listen_fd,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32768,
	    MHD_OPTION_END);
	if (srv->d == NULL) {
		free(srv);
		return VAULT_ERR_IO;
	}
	*srvp = srv;
	return VAULT_OK;
}

void
api_server_stop(struct api_server *srv)
{
	if (srv == NULL)
		return;
	MHD_stop_daemon(srv->d);
	free(srv);
}
