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
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "config.h"
#include "tsa.h"
#include "instance.h"
#include "scrubber.h"
#include "store.h"
#include "vault_os.h"
#include "workers.h"

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

/* --test-clock-file: the real clock plus the milliseconds the file holds,
 * so that tests can move time forward (mandate and link expiry). Never
 * set in production; vaultd says so on start-up when it is. */
static const char *clock_file;

static int64_t
real_clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t
test_clock_ms(void)
{
	char buf[32];
	FILE *f = fopen(clock_file, "r");
	long long off = 0;

	if (f != NULL) {
		if (fgets(buf, sizeof buf, f) != NULL)
			off = strtoll(buf, NULL, 10);
		fclose(f);
	}
	return real_clock_ms() + off;
}

/* Each connection may hold its socket, a pooled database handle (two
 * descriptors), a blob or temp file and a directory being synced. Out of
 * descriptors, a request answers 503 busy, and libmicrohttpd stops
 * accepting connections until one closes: raise the soft limit toward the
 * hard one when --max-connections needs it, and say so when it cannot. */
static void
fit_nofile(unsigned max_connections)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)max_connections * 6 + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want ?
	    rl.rlim_max : want;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < want)
		fprintf(stderr, "vaultd: warning: %llu file descriptors for "
		    "--max-connections %u, which may need %llu: raise the limit "
		    "(ulimit -n) or lower --max-connections\n",
		    (unsigned long long)(getrlimit(RLIMIT_NOFILE, &rl) == 0 ?
		    rl.rlim_cur : 0), max_connections, (unsigned long long)want);
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
	/* static: the options point into it for the life of the process */
	static struct vaultd_config c;
	struct api_server *srv = NULL;
	struct scrubber *scrub = NULL;
	struct store *s = NULL;
	struct tsa *t = NULL;
	char *cert = NULL, *key = NULL;
	const char *dir;
	char shown[128], path[4096];
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
	fit_nofile(c.api.max_connections);
	if (c.test_clock_file != NULL) {
		clock_file = c.test_clock_file;
		vault_os.now_ms = test_clock_ms;
		fprintf(stderr, "vaultd: the clock follows %s (tests only)\n", clock_file);
	}
	if (!c.tls && !is_loopback(&ss)) {
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
	/* the time-stamping authority first, so that a bad certificate, key
	 * or chain is named as such rather than as a bad data directory */
	if ((c.tsa.url != NULL || c.tsa.cert_file != NULL) &&
	    (r = tsa_open(dir, &c.tsa, &t)) != VAULT_OK) {
		if (r == VAULT_ERR_UNSUPPORTED && c.tsa.url != NULL) {
			fprintf(stderr, "vaultd: --tsa-url needs libcurl "
			    "(libcurl.so.4, Debian package libcurl4), which "
			    "could not be loaded\n");
			return 1;
		}
		fprintf(stderr, "vaultd: the time-stamping authority's files are "
		    "unusable: %s (%s needs a readable PEM%s)\n", vault_strerror(r),
		    c.tsa.url != NULL ? "--tsa-chain" : "--tsa-cert with --tsa-key",
		    c.tsa.url != NULL ? " chain" : " certificate with the critical "
		    "timeStamping extended key usage, and its key");
		return 1;
	}
	tsa_free(t);
	/* Signals are taken by sigwait below, in this thread only: blocked
	 * before the first thread starts (the store's pool of blob files
	 * starts one), which inherits the mask. A SIGTERM during start-up
	 * waits for sigwait. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if ((r = store_open(dir, &c.store, &s, &rep)) != VAULT_OK) {
		fprintf(stderr, "vaultd: cannot open data directory %s: %s%s\n", dir,
		    vault_strerror(r), r == VAULT_ERR_NOTFOUND ?
		    " (create it with `vaultctl init`)" : r == VAULT_ERR_AUTH ?
		    " (is the pepper file readable by group or others?)" :
		    r == VAULT_ERR_BUSY ? " (another vaultd is using it)" : "");
		return 1;
	}
	if (c.tls) {
		if (c.tls_cert == NULL)
			snprintf(path, sizeof path, "%s/tls.crt", dir);
		cert = vault_os_read_text(c.tls_cert != NULL ? c.tls_cert : path, 65536, 0);
		if (c.tls_key == NULL)
			snprintf(path, sizeof path, "%s/tls.key", dir);
		key = vault_os_read_text(c.tls_key != NULL ? c.tls_key : path, 65536, 1);
		if (cert == NULL || key == NULL) {
			fprintf(stderr, "vaultd: --tls needs a certificate and a key "
			    "(tls.crt and tls.key in the data directory, or --tls-cert "
			    "and --tls-key)\n");
			free(cert);
			sodium_free(key);
			store_close(s);
			return 1;
		}
		c.api.tls_cert_pem = cert;
		c.api.tls_key_pem = key;
	}
	if (rep.tmp_removed || rep.orphan_blobs || rep.missing_blobs || rep.stray_files)
		fprintf(stderr, "vaultd: start-up: removed %u unfinished uploads; "
		    "%u blobs without a document, %u documents without a blob, "
		    "%u stray files\n", rep.tmp_removed, rep.orphan_blobs,
		    rep.missing_blobs, rep.stray_files);
	if ((fd = bind_listen(&ss, sl, shown, sizeof shown)) < 0) {
		fprintf(stderr, "vaultd: cannot listen on %s: %s\n", c.listen,
		    strerror(errno));
		store_close(s);
		return 1;
	}
	/* The minimum log-in time hides the Argon2id evaluation only if it
	 * is longer than it (SECURITY.md, section 9): measure, and warn. */
	{
		struct timespec a, b;
		uint8_t out[32], salt[16] = { 0 };
		double ms;

		clock_gettime(CLOCK_MONOTONIC, &a);
		if (crypto_pwhash(out, sizeof out, "calibration", 11, salt,
		    c.store.pw.opslimit, (size_t)c.store.pw.memlimit,
		    crypto_pwhash_ALG_ARGON2ID13) == 0) {
			clock_gettime(CLOCK_MONOTONIC, &b);
			ms = (double)(b.tv_sec - a.tv_sec) * 1e3 +
			    (double)(b.tv_nsec - a.tv_nsec) / 1e6;
			if (ms * 2 > (double)c.api.login_min_ms)
				fprintf(stderr, "vaultd: warning: one Argon2id takes %.0f ms, "
				    "more than half of --login-min-ms %lld: raise it, or log-in "
				    "times may tell which logins exist\n", ms,
				    (long long)c.api.login_min_ms);
		}
	}
	if (c.api.public_url[0] == '\0')
		snprintf(c.api.public_url, sizeof c.api.public_url, "%s://%s",
		    c.tls ? "https" : "http", shown);
	if ((r = api_server_start(fd, s, &c.api, &srv)) != VAULT_OK) {
		fprintf(stderr, "vaultd: cannot start the HTTP server: %s\n",
		    vault_strerror(r));
		close(fd);
		store_close(s);
		return 1;
	}
	/* the scheduled control of the blobs, in the background (scrub.h) */
	if ((r = scrubber_start(s, c.scrub_period_ms, c.scrub_share, &scrub)) != VAULT_OK) {
		fprintf(stderr, "vaultd: cannot start the scrub: %s\n",
		    vault_strerror(r));
		api_server_stop(srv, 0);
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
	fprintf(stderr, "vaultd: stopping: finishing requests in flight\n");
	scrubber_stop(scrub); /* between two reads: at once */
	api_server_stop(srv, 30000);
	close(fd);
	store_close(s);
	workers_shutdown();
	free(cert);
	sodium_free(key);
	fprintf(stderr, "vaultd: stopped\n");
	return 0;
}
