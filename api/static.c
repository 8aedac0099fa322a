/*
 * static.c: the web pages (web/), served by vaultd itself under "/",
 * same origin as the API. Everything outside /v1 that is GET or HEAD comes
 * here; the pages then use the public API only, like any other client.
 *
 * What is served: regular files inside the web directory, reached by a
 * path of [A-Za-z0-9._-] segments none of which begins with a dot (no
 * "..", no dotfile), whose resolved location (symlinks followed) is still
 * inside the directory and still has no dotted segment, and whose
 * extension is one of the table below. Anything else is 404.
 *
 * Headers: the page policy (a strict Content-Security-Policy: scripts and
 * styles from this origin only, no inline script, no eval, no frames, no
 * form submission, Trusted Types), no referrer, nosniff. HTML is no-store
 * like every API answer; the other files hold no personal data and are
 * revalidated (no-cache + ETag, 304 when unchanged), which spares people
 * who pay for their data the same bytes twice.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "http.h"

#define STATIC_PATH_MAX 256
/* Text files up to this size are sent gzip-compressed to clients that
 * accept it: people pay for their data by the megabyte. */
#define STATIC_GZIP_MAX (1 << 20)

/* The pages' Content-Security-Policy (SECURITY.md, section 13). */
static const char page_csp[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self' blob:; connect-src 'self'; manifest-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'; "
    "require-trusted-types-for 'script'; trusted-types 'none'";

static const struct {
	const char *ext, *type;
	int text;  /* worth compressing */
} types[] = {
	{ ".html", "text/html; charset=utf-8", 1 },
	{ ".css", "text/css; charset=utf-8", 1 },
	{ ".js", "text/javascript; charset=utf-8", 1 },
	{ ".mjs", "text/javascript; charset=utf-8", 1 },
	{ ".json", "application/json", 1 },
	{ ".svg", "image/svg+xml", 1 },
	{ ".png", "image/png", 0 },
	{ ".ico", "image/x-icon", 0 },
	{ ".webmanifest", "application/manifest+json", 1 },
	{ ".txt", "text/plain; charset=utf-8", 1 },
};

void
api_page_headers(struct MHD_Response *resp, int html)
{
	api_hardening_headers(resp, html ? "no-store" : "no-cache", page_csp);
	MHD_add_response_header(resp, "Cross-Origin-Opener-Policy", "same-origin");
	MHD_add_response_header(resp, "Permissions-Policy",
	    "geolocation=(), microphone=(), camera=(), payment=(), usb=()");
}

static enum MHD_Result
not_found(struct api_request *rq)
{
	static const char page[] = "<!doctype html><html lang=\"fr\"><head>"
	    "<meta charset=\"utf-8\"><title>Page introuvable</title></head><body>"
	    "<h1>Page introuvable</h1><p><a href=\"/\">Retour à l'accueil</a></p>"
	    "<p lang=\"en\">Page not found. <a href=\"/?lang=en\">Home</a></p>"
	    "</body></html>\n";
	struct MHD_Response *resp;

	resp = MHD_create_response_from_buffer(sizeof page - 1,
	    (void *)(uintptr_t)page, MHD_RESPMEM_PERSISTENT);
	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", "text/html; charset=utf-8");
	api_page_headers(resp, 1);
	return api_queue(rq, 404, resp);
}

/* 1 if every segment of path (relative, '/'-separated) is made of
 * [A-Za-z0-9._-] and none is empty or begins with a dot. */
static int
segments_ok(const char *path)
{
	const char *p = path;

	if (*p == '\0')
		return 0;
	for (;;) {
		if (*p == '\0' || *p == '/' || *p == '.')
			return 0;
		while (*p != '\0' && *p != '/') {
			char c = *p++;
			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
				return 0;
		}
		if (*p == '\0')
			return 1;
		p++;
	}
}

static const char *
type_of(const char *path, int *text)
{
	size_t n = strlen(path), i, e;

	for (i = 0; i < sizeof types / sizeof types[0]; i++) {
		e = strlen(types[i].ext);
		if (n > e && strcmp(path + n - e, types[i].ext) == 0) {
			if (text != NULL)
				*text = types[i].text;
			return types[i].type;
		}
	}
	return NULL;
}

/* 1 if the Accept-Encoding header names gzip (without q=0). */
static int
accepts_gzip(struct api_request *rq)
{
	const char *ae = MHD_lookup_connection_value(rq->c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_ACCEPT_ENCODING), *p;

	if (ae == NULL || (p = strstr(ae, "gzip")) == NULL)
		return 0;
	p += 4;
	while (*p == ' ')
		p++;
	return !(strncmp(p, ";q=0", 4) == 0 && (p[4] == '\0' || p[4] == ',' ||
	    p[4] == ' ' || (p[4] == '.' && strspn(p + 5, "0") > 0 &&
	    (p[5 + strspn(p + 5, "0")] == '\0' || p[5 + strspn(p + 5, "0")] == ','))));
}

/* The whole of fd, gzip-compressed, in *out (malloc'd); 0 or -1. */
static int
gzip_file(int fd, size_t size, void **out, size_t *out_len)
{
	unsigned char *in = NULL, *z = NULL;
	size_t got = 0, cap;
	ssize_t n;
	z_stream zs;

	if ((in = malloc(size > 0 ? size : 1)) == NULL)
		return -1;
	while (got < size && (n = read(fd, in + got, size - got)) > 0)
		got += (size_t)n;
	if (got != size)
		goto fail;
	memset(&zs, 0, sizeof zs);
	if (deflateInit2(&zs, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK)
		goto fail;
	cap = deflateBound(&zs, size) + 32;
	if ((z = malloc(cap)) == NULL) {
		deflateEnd(&zs);
		goto fail;
	}
	zs.next_in = in;
	zs.avail_in = (uInt)size;
	zs.next_out = z;
	zs.avail_out = (uInt)cap;
	if (deflate(&zs, Z_FINISH) != Z_STREAM_END) {
		deflateEnd(&zs);
		goto fail;
	}
	*out_len = zs.total_out;
	deflateEnd(&zs);
	free(in);
	*out = z;
	return 0;
fail:
	free(in);
	free(z);
	return -1;
}

int
api_static_root(const char *dir, char out[PATH_MAX])
{
	struct stat st;

	if (dir == NULL || realpath(dir, out) == NULL)
		return -1;
	if (stat(out, &st) != 0 || !S_ISDIR(st.st_mode))
		return -1;
	return 0;
}

enum MHD_Result
api_static(struct api_request *rq, const char *method, const char *url)
{
	char rel[STATIC_PATH_MAX + 16], full[PATH_MAX + STATIC_PATH_MAX + 16],
	    real[PATH_MAX], etag[64];
	const char *root = rq->srv->web_root, *type, *inm;
	struct MHD_Response *resp;
	struct stat st;
	size_t rl;
	int fd, html, text = 0, gz;
	void *zbuf = NULL;
	size_t zlen = 0;

	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		return api_error(rq, 405, "method_not_allowed",
		    "The pages are read with GET.");
	}
	if (root[0] == '\0' || url[0] != '/' || strlen(url) > STATIC_PATH_MAX)
		return not_found(rq);
	snprintf(rel, sizeof rel, "%s%s", url + 1,
	    url[strlen(url) - 1] == '/' ? "index.html" : "");
	if (!segments_ok(rel) || (type = type_of(rel, &text)) == NULL)
		return not_found(rq);
	snprintf(full, sizeof full, "%s/%s", root, rel);
	/* symlinks are followed only while they stay inside, and undotted */
	rl = strlen(root);
	if (realpath(full, real) == NULL || strncmp(real, root, rl) != 0 ||
	    real[rl] != '/' || !segments_ok(real + rl + 1) || type_of(real, NULL) == NULL)
		return not_found(rq);
	if ((fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return not_found(rq);
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return not_found(rq);
	}
	html = strncmp(type, "text/html", 9) == 0;
	gz = text && st.st_size > 256 && st.st_size <= STATIC_GZIP_MAX &&
	    accepts_gzip(rq);
	snprintf(etag, sizeof etag, "\"%" PRIx64 "-%" PRIx64 "-%" PRIx64 "%s\"",
	    (uint64_t)st.st_size, (uint64_t)st.st_mtim.tv_sec,
	    (uint64_t)st.st_mtim.tv_nsec, gz ? "-gz" : "");
	inm = MHD_lookup_connection_value(rq->c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_IF_NONE_MATCH);
	if (!html && inm != NULL && strcmp(inm, etag) == 0) {
		close(fd);
		resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
		if (resp == NULL)
			return MHD_NO;
		MHD_add_response_header(resp, "ETag", etag);
		if (text)
			MHD_add_response_header(resp, "Vary", "Accept-Encoding");
		api_page_headers(resp, 0);
		return api_queue(rq, MHD_HTTP_NOT_MODIFIED, resp);
	}
	if (gz && gzip_file(fd, (size_t)st.st_size, &zbuf, &zlen) == 0) {
		close(fd);
		resp = MHD_create_response_from_buffer(zlen, zbuf, MHD_RESPMEM_MUST_FREE);
		if (resp == NULL) {
			free(zbuf);
			return MHD_NO;
		}
		MHD_add_response_header(resp, "Content-Encoding", "gzip");
	} else {
		if (gz && lseek(fd, 0, SEEK_SET) != 0) {
			close(fd);
			return api_error(rq, 500, "internal", "Something went wrong on our side.");
		}
		zlen = (size_t)st.st_size;
		/* MHD closes fd when the response is destroyed */
		if ((resp = MHD_create_response_from_fd((uint64_t)st.st_size, fd)) == NULL) {
			close(fd);
			return MHD_NO;
		}
	}
	if (strcmp(method, "GET") == 0)
		rq->bytes_out += zlen;
	if (text)
		MHD_add_response_header(resp, "Vary", "Accept-Encoding");
	MHD_add_response_header(resp, "Content-Type", type);
	if (!html)
		MHD_add_response_header(resp, "ETag", etag);
	api_page_headers(resp, html);
	return api_queue(rq, 200, resp);
}
