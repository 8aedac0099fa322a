/*
 * vaultd: start-up, signals, shut-down.
 *
 * Order: parse flags → open (or, for the embedded default, create) the data
 * directory → bind the socket → print "listening on ADDR:PORT" → serve until
 * SIGTERM or SIGINT → stop accepting, finish in-flight requests, close the
 * database → exit 0.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api.h"
#include "config.h"
#include "instance.h"
#include "store.h"

/* Parses HOST:PORT or [V6]:PORT into ss. Returns 0 or -1. */
static int
parse_listen(const char *spec, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
	char host[64];
	const char *colon;
	char *end;
	long port;
	size_t hl;

	memset(ss, 0, sizeof *ss);
	if ((colon = strrchr(spec, ':')) == NULL)
		return -1;
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno != 0 || end == colon + 1 || *end != '\0' || port < 0 || port > 65535)
		return -1;
	hl = (size_t)(colon - spec);
	if (hl == 0 || hl >= sizeof host)
		return -1;
	memcpy(host, spec, hl);
	host[hl] = '\0';
	if (host[0] == '[' && host[hl - 1] == ']') {
		host[hl - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &v6->sin6_addr) != 1)
			return -1;
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)port);
		*len = sizeof *v6;
		return 0;
	}
	if (strcmp(host, "localhost") == 0)
		strcpy(host, "127.0.0.1");
	if (inet_pton(AF_INET, host, &v4->sin_addr) != 1)
		return -1;
	v4->sin_family = AF_INET;
	v4->sin_port = htons((uint16_t)port);
	*len = sizeof *v4;
	return 0;
}

static int
is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
	if (ss->ss_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)ss)->sin6_addr);
	return 0;
}

static int
bind_listen(const struct sockaddr_storage *ss, socklen_t len, char *shown,
    size_t shown_len)
{
	struct sockaddr_storage got;
	socklen_t gl = sizeof got;
	char addr[INET6_ADDRSTRLEN];
	int fd, one = 1;

	if ((fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (const struct sockaddr *)ss, len) != 0 ||
	    listen(fd, 128) != 0 ||
	    getsockname(fd, (struct sockaddr *)&got, &gl) != 0) {
		close(fd);
		return -1;
	}
	if (got.ss_family == AF_INET6) {
		const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)&got;
		inet_ntop(AF_INET6, &v6->sin6_addr, addr, sizeof addr);
		snprintf(shown, shown_len, "[%s]:%u", addr, ntohs(v6->sin6_port));
	} else {
		const struct sockaddr_in *v4 = (const struct sockaddr_in *)&got;
		inet_ntop(AF_INET, &v4->sin_addr, addr, sizeof addr);
		snprintf(shown, shown_len, "%s:%u", addr, ntohs(v4->sin_port));
	}
	return fd;
}

/* The embedded default: ./var/vault, created on first start. */
static int
ensure_default_data_dir(const struct vaultd_config *c)
{
	char *secret = NULL, *code = NULL;
	struct stat st;
	vault_err r;

	if (stat(VAULTD_DEFAULT_DATA_DIR "/vault.db", &st) == 0)
		return 0;
	if (mkdir("./var", 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "vaultd: cannot create ./var: %s\n", strerror(errno));
		return -1;
	}
	if ((r = instance_generate_secret(24, &secret)) != VAULT_OK ||
	    (r = instance_init(VAULTD_DEFAULT_DATA_DIR, &c->store, "admin", secret,
	    strlen(secret), 0, &code)) != VAULT_OK) {
		fprintf(stderr, "vaultd: cannot create %s: %s\n",
		    VAULTD_DEFAULT_DATA_DIR, vault_strerror(r));
		sodium_free(secret);
		return -1;
	}
	/* Printed once, to the terminal of whoever started the instance. */
	fprintf(stderr,
	    "vaultd: created %s\n"
	    "vaultd: instance administrator login: admin\n"
	    "vaultd: instance administrator secret (shown once): %s\n"
	    "vaultd: instance administrator recovery code (shown once): %s\n",
	    VAULTD_DEFAULT_DATA_DIR, secret, code);
	sodium_free(secret);
	sodium_free(code);
	return 0;
}

int
main(int argc, char **argv)
{
	struct sockaddr_storage ss;
	struct store_recovery rep;
	struct vaultd_config c;
	struct api_server *srv = NULL;
	struct store *s = NULL;
	const char *dir;
	char shown[128];
	sigset_t set;
	socklen_t sl;
	vault_err r;
	int fd, sig, rc;

	umask(077);
	/* No core dumps, no ptrace by other processes of the same user: an
	 * unlocked key in memory must not end up in a file. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	signal(SIGPIPE, SIG_IGN);
	if ((rc = vaultd_config_parse(&c, argc, argv)) != 0)
		return rc > 0 ? 0 : 2;
	if (sodium_init() < 0) {
		fprintf(stderr, "vaultd: libsodium failed to initialise\n");
		return 1;
	}
	if (parse_listen(c.listen, &ss, &sl) != 0) {
		fprintf(stderr, "vaultd: --listen takes HOST:PORT or [ADDR]:PORT, "
		    "not '%s'\n", c.listen);
		return 2;
	}
	if (c.tls) {
		fprintf(stderr, "vaultd: --tls is not available in this build yet; "
		    "serve on a loopback address behind a TLS proxy\n");
		return 2;
	}
	if (!is_loopback(&ss)) {
		fprintf(stderr, "vaultd: plain HTTP is served only on a loopback "
		    "address; use --tls to listen on %s\n", c.listen);
		return 2;
	}
	dir = c.data_dir;
	if (dir == NULL) {
		if (ensure_default_data_dir(&c) != 0)
			return 1;
		dir = VAULTD_DEFAULT_DATA_DIR;
	}
	if ((r = store_open(dir, &c.store, &s, &rep)) != VAULT_OK) {
		fprintf(stderr, "vaultd: cannot open data directory %s: %s%s\n", dir,
		    vault_strerror(r), r == VAULT_ERR_NOTFOUND ?
		    " (create it with `vaultctl init`)" : r == VAULT_ERR_AUTH ?
		    " (is the pepper file readable by group or others?)" : "");
		return 1;
	}
	if (rep.tmp_removed || rep.orphan_blobs || rep.missing_blobs || rep.stray_files)
		fprintf(stderr, "vaultd: start-up: removed %u unfinished uploads; "
		    "%u blobs without a document, %u documents without a blob, "
		    "%u stray files\n", rep.tmp_removed, rep.orphan_blobs,
		    rep.missing_blobs, rep.stray_files);
	/* Signals are taken by sigwait below, in this thread only. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if ((fd = bind_listen(&ss, sl, shown, sizeof shown)) < 0) {
		fprintf(stderr, "vaultd: cannot listen on %s: %s\n", c.listen,
		    strerror(errno));
		store_close(s);
		return 1;
	}
	if ((r = api_server_start(fd, s, &srv)) != VAULT_OK) {
		fprintf(stderr, "vaultd: cannot start the HTTP server: %s\n",
		    vault_strerror(r));
		close(fd);
		store_close(s);
		return 1;
	}
	fprintf(stderr, "listening on %s\n", shown);
	fflush(stderr);
	while (sigwait(&set, &sig) == 0) {
		if (sig == SIGTERM || sig == SIGINT)
			break;
	}
	api_server_stop(srv);
	close(fd);
	store_close(s);
	fprintf(stderr, "vaultd: stopped\n");
	return 0;
}
