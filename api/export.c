/*
 * export.c: everything a person owns, as one .tar.gz, streamed.
 *
 *   manifest.json            who, when, and for each paper its metadata,
 *                            size and SHA-256 fingerprint
 *   documents/<id>.<ext>     each paper's original bytes
 *   documents/<id>.tsr       its RFC 3161 time-stamp reply
 *   receipts/<id>.json       its signed deposit receipt
 *
 * A producer thread writes the archive with libarchive into a pipe whose
 * other end is the response (MHD_create_response_from_pipe): nothing is
 * buffered whole, and nothing touches the disk. The thread works on its own
 * store handle and its own copy of the person's key, since the request
 * that started it ends before the archive does. If the client goes away,
 * the pipe breaks and the thread stops.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http.h"
#include "journal.h"
#include "receipts.h"
#include "vault_os.h"

struct export_job {
	struct api_server *srv;
	struct store *st;
	vault_id pid;
	uint8_t pk[KEYS_PK_LEN];
	uint8_t *sk;             /* guarded copy */
	int fd;                  /* write end of the pipe */
	json_t *docs;            /* the manifest's entries */
	uint8_t *buf;            /* guarded: plaintext passes through */
};

#define EXPORT_BUF 65536

static la_ssize_t
pipe_write(struct archive *a, void *ctx, const void *p, size_t n)
{
	struct export_job *j = ctx;
	const char *s = p;
	size_t left = n;
	ssize_t k;

	(void)a;
	while (left > 0) {
		k = write(j->fd, s, left);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1; /* the client went away */
		s += k;
		left -= (size_t)k;
	}
	return (la_ssize_t)n;
}

static const char *
extension(const char *media)
{
	static const struct { const char *m, *e; } map[] = {
		{ "application/pdf", "pdf" }, { "image/jpeg", "jpg" },
		{ "image/png", "png" }, { "image/heic", "heic" },
		{ "image/webp", "webp" }, { "image/tiff", "tif" },
		{ "text/plain", "txt" },
	};
	size_t i;

	for (i = 0; i < sizeof map / sizeof map[0]; i++)
		if (strcmp(map[i].m, media) == 0)
			return map[i].e;
	return "bin";
}

static vault_err
collect(void *ctx, const struct document_info *d)
{
	struct export_job *j = ctx;
	char id[VAULT_ID_TEXT_LEN + 1], sha[65], file[96], at[32];

	vault_id_to_text(&d->id, id);
	sodium_bin2hex(sha, sizeof sha, d->sha256, 32);
	snprintf(file, sizeof file, "documents/%s.%s", id, extension(d->media_type));
	api_time(d->deposited_at, at);
	json_array_append_new(j->docs, json_pack("{s:s, s:s, s:s, s:s, s:s, s:I,"
	    " s:s, s:o, s:o, s:s}", "document_id", id, "file", file, "title",
	    d->title, "category", d->category, "media_type", d->media_type,
	    "size", (json_int_t)d->size, "sha256", sha,
	    "issued", d->issued[0] ? json_string(d->issued) : json_null(),
	    "expires", d->expires[0] ? json_string(d->expires) : json_null(),
	    "deposited_at", at));
	return VAULT_OK;
}

static int
add_file(struct archive *a, const char *name, int64_t size)
{
	struct archive_entry *e = archive_entry_new();
	int r;

	archive_entry_set_pathname(e, name);
	archive_entry_set_size(e, size);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0600);
	archive_entry_set_mtime(e, vault_os.now_ms() / 1000, 0);
	r = archive_write_header(a, e);
	archive_entry_free(e);
	return r == ARCHIVE_OK ? 0 : -1;
}

/* The paper's time-stamp reply and signed receipt, beside it. */
static int
add_proofs(struct archive *a, struct export_job *j, const vault_id *did)
{
	char id[VAULT_ID_TEXT_LEN + 1], name[96], *text = NULL;
	uint8_t *der = NULL;
	json_t *env = NULL;
	vault_id dep;
	size_t len;
	int rc = -1;

	vault_id_to_text(did, id);
	if (documents_timestamp(j->st, &j->pid, did, &der, &len) == VAULT_OK) {
		snprintf(name, sizeof name, "documents/%s.tsr", id);
		if (add_file(a, name, (int64_t)len) != 0 ||
		    archive_write_data(a, der, len) < 0)
			goto out;
	}
	if (receipts_build(j->st, &j->pid, did, &env, &dep) != VAULT_OK ||
	    (text = json_dumps(env, JSON_INDENT(1) | JSON_SORT_KEYS)) == NULL)
		goto out;
	snprintf(name, sizeof name, "receipts/%s.json", id);
	if (add_file(a, name, (int64_t)strlen(text)) != 0 ||
	    archive_write_data(a, text, strlen(text)) < 0)
		goto out;
	rc = 0;
out:
	free(der);
	json_decref(env);
	api_json_free(text);
	return rc;
}

static void *
export_main(void *arg)
{
	struct export_job *j = arg;
	struct doc_holder h;
	struct archive *a = NULL;
	struct document_read *rd;
	char *manifest = NULL, at[32];
	size_t i, n;
	json_t *d;
	vault_id did;
	int ok = 0;

	h.account = j->pid;
	h.pk = j->pk;
	h.sk = j->sk;
	h.is_owner = 1;
	j->docs = json_array();
	if (documents_list(j->st, &j->pid, &h, NULL, collect, j) != VAULT_OK)
		goto out;
	api_time(vault_os.now_ms(), at);
	{
		char pid[VAULT_ID_TEXT_LEN + 1];
		json_t *m;
		vault_id_to_text(&j->pid, pid);
		m = json_pack("{s:s, s:s, s:s, s:O}", "format", "vault-export-1",
		    "person_id", pid, "exported_at", at, "documents", j->docs);
		manifest = json_dumps(m, JSON_INDENT(1));
		json_decref(m);
	}
	if (manifest == NULL || (a = archive_write_new()) == NULL ||
	    archive_write_add_filter_gzip(a) != ARCHIVE_OK ||
	    archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_open2(a, j, NULL, pipe_write, NULL, NULL) != ARCHIVE_OK)
		goto out;
	if (add_file(a, "manifest.json", (int64_t)strlen(manifest)) != 0 ||
	    archive_write_data(a, manifest, strlen(manifest)) < 0)
		goto out;
	json_array_foreach(j->docs, i, d) {
		if (vault_id_from_text(json_string_value(json_object_get(d,
		    "document_id")), &did) != VAULT_OK ||
		    documents_open(j->st, &j->pid, &did, &h, &rd, NULL) != VAULT_OK)
			goto out;
		if (add_file(a, json_string_value(json_object_get(d, "file")),
		    json_integer_value(json_object_get(d, "size"))) != 0) {
			documents_close(rd);
			goto out;
		}
		for (;;) {
			if (documents_read(rd, j->buf, EXPORT_BUF, &n) != VAULT_OK) {
				documents_close(rd);
				goto out;
			}
			if (n == 0)
				break;
			if (archive_write_data(a, j->buf, n) < 0) {
				documents_close(rd);
				goto out;
			}
		}
		documents_close(rd);
		if (add_proofs(a, j, &did) != 0)
			goto out;
	}
	ok = archive_write_close(a) == ARCHIVE_OK;
out:
	/* A broken archive ends without its gzip trailer: the client sees a
	 * truncated file, never a shorter one that looks whole. */
	if (a != NULL)
		archive_write_free(a);
	(void)journal_record(j->st, &(struct journal_event){ &j->pid, &j->pid,
	    "export", NULL, ok ? "ok" : "failed", NULL });
	close(j->fd);
	json_decref(j->docs);
	api_json_free(manifest);
	api_store_put(j->srv, j->st);
	sodium_free(j->sk);
	sodium_free(j->buf);
	api_producer_done(j->srv);
	free(j);
	/* what the frames below left of the documents' keys (server.c) */
	sodium_stackzero(API_STACK_WIPE);
	return NULL;
}

enum MHD_Result
api_export(struct api_request *rq, const vault_id *pid)
{
	struct MHD_Response *resp;
	struct export_job *j;
	pthread_attr_t attr;
	pthread_t t;
	int fds[2];

	if (api_producer_start(rq->srv) != 0)
		return api_error(rq, 429, "busy", "Several exports are being "
		    "prepared right now. Try again in a minute.");
	if ((j = calloc(1, sizeof *j)) == NULL) {
		api_producer_done(rq->srv);
		return api_vault_error(rq, VAULT_ERR_NOMEM);
	}
	if ((j->sk = sodium_malloc(KEYS_SK_LEN)) == NULL ||
	    (j->buf = sodium_malloc(EXPORT_BUF)) == NULL ||
	    (j->st = api_store_get(rq->srv)) == NULL) {
		sodium_free(j->sk);
		sodium_free(j->buf);
		free(j);
		api_producer_done(rq->srv);
		return api_vault_error(rq, VAULT_ERR_NOMEM);
	}
	if (pipe2(fds, O_CLOEXEC) != 0) {
		api_store_put(rq->srv, j->st);
		sodium_free(j->sk);
		sodium_free(j->buf);
		free(j);
		api_producer_done(rq->srv);
		return api_vault_error(rq, VAULT_ERR_IO);
	}
	j->srv = rq->srv;
	j->pid = *pid;
	memcpy(j->pk, rq->sess.pk, KEYS_PK_LEN);
	memcpy(j->sk, rq->sess.sk, KEYS_SK_LEN);
	j->fd = fds[1];
	if ((resp = MHD_create_response_from_pipe(fds[0])) == NULL) {
		close(fds[0]);
		close(fds[1]);
		api_store_put(rq->srv, j->st);
		sodium_free(j->sk);
		sodium_free(j->buf);
		free(j);
		api_producer_done(rq->srv);
		return MHD_NO;
	}
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, export_main, j) != 0) {
		pthread_attr_destroy(&attr);
		close(fds[1]);
		api_store_put(rq->srv, j->st);
		sodium_free(j->sk);
		sodium_free(j->buf);
		free(j);
		api_producer_done(rq->srv);
		MHD_destroy_response(resp);
		return api_vault_error(rq, VAULT_ERR_NOMEM);
	}
	pthread_attr_destroy(&attr);
	MHD_add_response_header(resp, "Content-Type", "application/gzip");
	MHD_add_response_header(resp, "Content-Disposition",
	    "attachment; filename=\"mes-papiers.tar.gz\"");
	api_common_headers(resp);
	return api_queue(rq, 200, resp);
}
