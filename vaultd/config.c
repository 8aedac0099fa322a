/*
 * config.c: vaultd's options. Every option can be given on the command line
 * (--name value) or in a configuration file (name = value, one per line, #
 * for comments) named by --config; the command line wins. Blanks around
 * the name and around the value are not part of them.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

enum {
	O_DATA_DIR = 256, O_LISTEN, O_TLS, O_TLS_CERT, O_TLS_KEY, O_PEPPER,
	O_MAX_DOC, O_QUOTA, O_ARGON_OPS, O_ARGON_MEM, O_ARGON_CONC,
	O_SELF_ENROL, O_PUBLIC_URL, O_MAX_CONN, O_MAX_UPLOADS, O_LOGIN_MIN,
	O_IDLE, O_LIFETIME, O_LOCK_AFTER, O_LOCK_MIN, O_QUIET, O_ROUTES,
	O_TEST_CLOCK, O_CONFIG, O_HELP, O_ADDR_FAIL, O_CP_ENTRIES, O_CP_SECONDS,
	O_TSA_URL, O_TSA_CHAIN, O_TSA_CERT, O_TSA_KEY, O_TSA_TIMEOUT, O_TSA_RETRY,
	O_SCRUB_HOURS, O_SCRUB_SHARE, O_MAX_CONN_ADDR,
	O_WEB_DIR,
};

static const struct option opts[] = {
	{ "data-dir", required_argument, NULL, O_DATA_DIR },
	{ "listen", required_argument, NULL, O_LISTEN },
	{ "tls", no_argument, NULL, O_TLS },
	{ "tls-cert", required_argument, NULL, O_TLS_CERT },
	{ "tls-key", required_argument, NULL, O_TLS_KEY },
	{ "pepper-file", required_argument, NULL, O_PEPPER },
	{ "max-document-size", required_argument, NULL, O_MAX_DOC },
	{ "quota", required_argument, NULL, O_QUOTA },
	{ "argon2-ops", required_argument, NULL, O_ARGON_OPS },
	{ "argon2-mem-kib", required_argument, NULL, O_ARGON_MEM },
	{ "argon2-concurrency", required_argument, NULL, O_ARGON_CONC },
	{ "self-enrolment", no_argument, NULL, O_SELF_ENROL },
	{ "public-url", required_argument, NULL, O_PUBLIC_URL },
	{ "max-connections", required_argument, NULL, O_MAX_CONN },
	{ "max-uploads", required_argument, NULL, O_MAX_UPLOADS },
	{ "max-connections-per-address", required_argument, NULL, O_MAX_CONN_ADDR },
	{ "login-min-ms", required_argument, NULL, O_LOGIN_MIN },
	{ "session-idle", required_argument, NULL, O_IDLE },
	{ "session-lifetime", required_argument, NULL, O_LIFETIME },
	{ "lock-after", required_argument, NULL, O_LOCK_AFTER },
	{ "lock-minutes", required_argument, NULL, O_LOCK_MIN },
	{ "address-failures", required_argument, NULL, O_ADDR_FAIL },
	{ "checkpoint-entries", required_argument, NULL, O_CP_ENTRIES },
	{ "checkpoint-seconds", required_argument, NULL, O_CP_SECONDS },
	{ "tsa-url", required_argument, NULL, O_TSA_URL },
	{ "tsa-chain", required_argument, NULL, O_TSA_CHAIN },
	{ "tsa-cert", required_argument, NULL, O_TSA_CERT },
	{ "tsa-key", required_argument, NULL, O_TSA_KEY },
	{ "tsa-timeout-ms", required_argument, NULL, O_TSA_TIMEOUT },
	{ "tsa-retry-seconds", required_argument, NULL, O_TSA_RETRY },
	{ "scrub-hours", required_argument, NULL, O_SCRUB_HOURS },
	{ "scrub-share", required_argument, NULL, O_SCRUB_SHARE },
	{ "web-dir", required_argument, NULL, O_WEB_DIR },
	{ "quiet", no_argument, NULL, O_QUIET },
	{ "routes", no_argument, NULL, O_ROUTES },
	{ "test-clock-file", required_argument, NULL, O_TEST_CLOCK },
	{ "config", required_argument, NULL, O_CONFIG },
	{ "help", no_argument, NULL, O_HELP },
	{ NULL, 0, NULL, 0 },
};

const struct option *
vaultd_config_options(void)
{
	return opts;
}

int
vaultd_config_file_option(const struct option *o)
{
	return o->val != O_CONFIG && o->val != O_HELP && o->val != O_ROUTES;
}

static void
usage(FILE *f)
{
	struct store_options so;
	struct api_options ao;

	store_options_default(&so);
	api_options_default(&ao);
	fprintf(f,
	    "usage: vaultd [options]\n"
	    "\n"
	    "With no options, vaultd keeps its data in " VAULTD_DEFAULT_DATA_DIR
	    " (created on first start,\nwith a generated administrator secret "
	    "printed once) and listens on\n" VAULTD_DEFAULT_LISTEN ".\n"
	    "\n"
	    "  --config FILE            read options from FILE (\"name = value\" lines)\n"
	    "  --data-dir DIR           data directory made by `vaultctl init`\n"
	    "  --listen HOST:PORT       address to serve (port 0: any free port);\n"
	    "                           plain HTTP only on a loopback address\n"
	    "  --tls                    serve HTTPS (DIR/tls.crt and DIR/tls.key)\n"
	    "  --tls-cert FILE, --tls-key FILE   another certificate and key (PEM)\n"
	    "  --public-url URL         base of share links (default: the listening address)\n"
	    "  --pepper-file PATH       pepper kept outside the data directory\n"
	    "  --self-enrolment         let people open a vault without an aidant\n"
	    "  --max-document-size N    bytes (default %llu)\n"
	    "  --quota N                bytes per person (default %llu)\n"
	    "  --max-connections N      (default %u)\n"
	    "  --max-connections-per-address N   from one client address (default %u)\n"
	    "  --max-uploads N          uploads at once, 429 beyond (default %u)\n"
	    "  --argon2-ops N           Argon2id passes (default %llu)\n"
	    "  --argon2-mem-kib N       Argon2id memory in KiB (default %llu)\n"
	    "  --argon2-concurrency N   Argon2id evaluations at once (default %u)\n"
	    "  --login-min-ms N         every log-in answer takes at least N ms (default %lld)\n"
	    "  --session-idle S         seconds of inactivity that end a session (default %lld)\n"
	    "  --session-lifetime S     seconds a session lasts at most (default %lld)\n"
	    "  --lock-after N           failed log-ins in a row that lock an account (default %u)\n"
	    "  --lock-minutes N         how long the lock lasts (default %lld)\n"
	    "  --address-failures N     failed log-ins from one address before its\n"
	    "                           waits start doubling (default %u)\n"
	    "  --checkpoint-entries N   sign a journal checkpoint every N entries (default %llu)\n"
	    "  --checkpoint-seconds S   ... or every S seconds when it grew (default %lld)\n"
	    "  --tsa-url URL            an external RFC 3161 TSA (http:// or https://)\n"
	    "                           instead of the built-in one; needs --tsa-chain\n"
	    "  --tsa-chain FILE         PEM: the TSA certificate and its issuers, served\n"
	    "                           by /v1/tsa/certificates; an external TSA's\n"
	    "                           tokens must verify against it\n"
	    "  --tsa-cert FILE, --tsa-key FILE   the operator's own TSA certificate\n"
	    "                           (critical timeStamping usage) and key (PEM)\n"
	    "  --tsa-timeout-ms N       wait for an external TSA (default 5000)\n"
	    "  --tsa-retry-seconds S    ask again for missing tokens every S seconds\n"
	    "                           (default %lld)\n"
	    "  --scrub-hours H          check every blob against its recorded hash at\n"
	    "                           most every H hours (decimals allowed; 0: never;\n"
	    "                           default %d); findings go to the journal\n"
	    "  --scrub-share PERCENT    share of the disk's time the check may spend\n"
	    "                           reading, 1 to 100 (default %d)\n"
	    "  --web-dir DIR            the web pages served under / (default: " VAULTD_DEFAULT_WEB_DIR ",\n"
	    "                           relative to the working directory)\n"
	    "  --quiet                  no line per request on stderr\n"
	    "  --routes                 print the routes this build serves, and exit\n"
	    "  --test-clock-file FILE   tests only: add the milliseconds written in FILE\n"
	    "                           to the clock\n"
	    "  --help                   this text\n",
	    (unsigned long long)so.max_document_size,
	    (unsigned long long)so.quota_bytes, ao.max_connections,
	    ao.max_connections_per_address, ao.max_uploads,
	    (unsigned long long)so.pw.opslimit,
	    (unsigned long long)(so.pw.memlimit >> 10), ao.argon_concurrency,
	    (long long)ao.login_min_ms, (long long)(ao.session_idle_ms / 1000),
	    (long long)(ao.session_lifetime_ms / 1000), so.lock_threshold,
	    (long long)(so.lock_ms / 60000), ao.ip_failures_free,
	    (unsigned long long)ao.checkpoint_entries,
	    (long long)(ao.checkpoint_ms / 1000), (long long)(ao.tsa_retry_ms / 1000),
	    VAULTD_DEFAULT_SCRUB_HOURS, VAULTD_DEFAULT_SCRUB_SHARE);
}

static int
num(const char *name, const char *s, uint64_t min, uint64_t max, uint64_t *v)
{
	unsigned long long x;
	char *end;

	errno = 0;
	x = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || x < min || x > max) {
		fprintf(stderr, "vaultd: --%s takes a whole number from %llu to %llu, "
		    "not '%s'\n", name, (unsigned long long)min,
		    (unsigned long long)max, s);
		return -1;
	}
	*v = x;
	return 0;
}

/* Hours, decimals allowed: 0 (never), or from one second to a year. */
static int
hours(const char *name, const char *s, int64_t *ms)
{
	char *end;
	double h;

	errno = 0;
	h = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(h == 0 ||
	    (h >= 1.0 / 3600 && h <= 24 * 366))) {
		fprintf(stderr, "vaultd: --%s takes a number of hours: 0 (never), or "
		    "from 0.0003 (one second) to 8784, not '%s'\n", name, s);
		return -1;
	}
	*ms = (int64_t)(h * 3600000 + 0.5);
	return 0;
}

static int
apply(struct vaultd_config *c, int ch, const char *arg)
{
	uint64_t v;

	switch (ch) {
	case O_DATA_DIR: c->data_dir = arg; return 0;
	case O_LISTEN: c->listen = arg; return 0;
	case O_TLS: c->tls = 1; return 0;
	case O_TLS_CERT: c->tls_cert = arg; return 0;
	case O_TLS_KEY: c->tls_key = arg; return 0;
	case O_PEPPER: c->store.pepper_path = arg; return 0;
	case O_SELF_ENROL: c->api.self_enrolment = 1; return 0;
	case O_QUIET: c->api.quiet = 1; return 0;
	case O_WEB_DIR: c->api.web_dir = arg; return 0;
	case O_ROUTES: c->print_routes = 1; return 0;
	case O_TEST_CLOCK: c->test_clock_file = arg; return 0;
	case O_PUBLIC_URL:
		if (strlen(arg) >= sizeof c->api.public_url ||
		    (strncmp(arg, "http://", 7) != 0 && strncmp(arg, "https://", 8) != 0)) {
			fprintf(stderr, "vaultd: --public-url is an http:// or https:// URL\n");
			return -1;
		}
		snprintf(c->api.public_url, sizeof c->api.public_url, "%s", arg);
		while (strlen(c->api.public_url) > 8 &&
		    c->api.public_url[strlen(c->api.public_url) - 1] == '/')
			c->api.public_url[strlen(c->api.public_url) - 1] = '\0';
		return 0;
	case O_MAX_DOC:
		return num("max-document-size", arg, 1, 1ull << 40, &c->store.max_document_size);
	case O_QUOTA:
		return num("quota", arg, 1, 1ull << 44, &c->store.quota_bytes);
	case O_ARGON_OPS:
		return num("argon2-ops", arg, 1, 64, &c->store.pw.opslimit);
	case O_ARGON_MEM:
		if (num("argon2-mem-kib", arg, 8, 4u << 20, &v) != 0)
			return -1;
		c->store.pw.memlimit = v << 10;
		return 0;
	case O_ARGON_CONC:
		if (num("argon2-concurrency", arg, 1, 64, &v) != 0)
			return -1;
		c->api.argon_concurrency = (unsigned)v;
		return 0;
	case O_MAX_CONN:
		if (num("max-connections", arg, 4, 4096, &v) != 0)
			return -1;
		c->api.max_connections = (unsigned)v;
		return 0;
	case O_MAX_CONN_ADDR:
		if (num("max-connections-per-address", arg, 1, 4096, &v) != 0)
			return -1;
		c->api.max_connections_per_address = (unsigned)v;
		return 0;
	case O_MAX_UPLOADS:
		if (num("max-uploads", arg, 1, 1024, &v) != 0)
			return -1;
		c->api.max_uploads = (unsigned)v;
		return 0;
	case O_LOGIN_MIN:
		if (num("login-min-ms", arg, 0, 10000, &v) != 0)
			return -1;
		c->api.login_min_ms = (int64_t)v;
		return 0;
	case O_IDLE:
		if (num("session-idle", arg, 1, 86400, &v) != 0)
			return -1;
		c->api.session_idle_ms = (int64_t)v * 1000;
		return 0;
	case O_LIFETIME:
		if (num("session-lifetime", arg, 1, 7 * 86400, &v) != 0)
			return -1;
		c->api.session_lifetime_ms = (int64_t)v * 1000;
		return 0;
	case O_LOCK_AFTER:
		if (num("lock-after", arg, 1, 1000, &v) != 0)
			return -1;
		c->store.lock_threshold = (unsigned)v;
		return 0;
	case O_CP_ENTRIES:
		return num("checkpoint-entries", arg, 1, 1u << 30, &c->api.checkpoint_entries);
	case O_CP_SECONDS:
		if (num("checkpoint-seconds", arg, 1, 86400 * 7, &v) != 0)
			return -1;
		c->api.checkpoint_ms = (int64_t)v * 1000;
		return 0;
	case O_TSA_URL:
		if (strncmp(arg, "http://", 7) != 0 && strncmp(arg, "https://", 8) != 0) {
			fprintf(stderr, "vaultd: --tsa-url is an http:// or https:// URL\n");
			return -1;
		}
		c->tsa.url = arg;
		return 0;
	case O_TSA_CHAIN: c->tsa.chain_file = arg; return 0;
	case O_TSA_CERT: c->tsa.cert_file = arg; return 0;
	case O_TSA_KEY: c->tsa.key_file = arg; return 0;
	case O_TSA_TIMEOUT:
		if (num("tsa-timeout-ms", arg, 100, 120000, &v) != 0)
			return -1;
		c->tsa.timeout_ms = (long)v;
		return 0;
	case O_TSA_RETRY:
		if (num("tsa-retry-seconds", arg, 1, 86400, &v) != 0)
			return -1;
		c->api.tsa_retry_ms = (int64_t)v * 1000;
		c->tsa.backoff_ms = (long)v * 1000;
		return 0;
	case O_SCRUB_HOURS:
		return hours("scrub-hours", arg, &c->scrub_period_ms);
	case O_SCRUB_SHARE:
		if (num("scrub-share", arg, 1, 100, &v) != 0)
			return -1;
		c->scrub_share = (unsigned)v;
		return 0;
	case O_ADDR_FAIL:
		if (num("address-failures", arg, 1, 1000000, &v) != 0)
			return -1;
		c->api.ip_failures_free = (unsigned)v;
		return 0;
	case O_LOCK_MIN:
		if (num("lock-minutes", arg, 1, 24 * 60, &v) != 0)
			return -1;
		c->store.lock_ms = (int64_t)v * 60000;
		return 0;
	}
	return -1;
}

/* A copy of a value from the file, kept until vaultd_config_free: the
 * options point into it. */
static char *
keep(struct vaultd_config *c, const char *value)
{
	char **grown, *v;

	if ((v = strdup(value)) == NULL)
		return NULL;
	if ((grown = realloc(c->owned, (c->n_owned + 1) * sizeof *grown)) == NULL) {
		free(v);
		return NULL;
	}
	c->owned = grown;
	c->owned[c->n_owned++] = v;
	return v;
}

int
vaultd_config_read(struct vaultd_config *c, FILE *f, const char *path)
{
	char line[1024], *name, *value, *end, *v;
	const struct option *o;
	unsigned lineno = 0;

	while (fgets(line, sizeof line, f) != NULL) {
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			fprintf(stderr, "vaultd: %s:%u: line too long\n", path, lineno);
			return -1;
		}
		line[strcspn(line, "\r\n")] = '\0';
		for (name = line; *name == ' ' || *name == '\t'; name++)
			;
		if (*name == '#' || *name == '\0')
			continue;
		value = strchr(name, '=');
		for (end = value != NULL ? value : name + strlen(name);
		    end > name && (end[-1] == ' ' || end[-1] == '\t'); end--)
			;
		if (value != NULL) {
			for (value++; *value == ' ' || *value == '\t'; value++)
				;
			/* "data-dir = /srv/vault " names /srv/vault */
			for (v = value + strlen(value);
			    v > value && (v[-1] == ' ' || v[-1] == '\t'); v--)
				;
			*v = '\0';
		}
		*end = '\0';
		for (o = opts; o->name != NULL; o++)
			if (strcmp(o->name, name) == 0)
				break;
		if (o->name == NULL || !vaultd_config_file_option(o)) {
			fprintf(stderr, "vaultd: %s:%u: unknown option '%s'\n", path,
			    lineno, name);
			return -1;
		}
		if ((o->has_arg == required_argument) != (value != NULL && *value != '\0')) {
			fprintf(stderr, "vaultd: %s:%u: '%s' %s a value\n", path, lineno,
			    name, o->has_arg == required_argument ? "needs" : "takes no");
			return -1;
		}
		if (value != NULL && (value = keep(c, value)) == NULL) {
			fprintf(stderr, "vaultd: out of memory\n");
			return -1;
		}
		if (apply(c, o->val, value) != 0) {
			fprintf(stderr, "vaultd: (in %s, line %u)\n", path, lineno);
			return -1;
		}
	}
	return 0;
}

/* Reads the file named by --config. */
static int
read_config(struct vaultd_config *c, const char *path)
{
	FILE *f;
	int r;

	if ((f = fopen(path, "r")) == NULL) {
		fprintf(stderr, "vaultd: cannot read %s: %s\n", path, strerror(errno));
		return -1;
	}
	r = vaultd_config_read(c, f, path);
	fclose(f);
	return r;
}

void
vaultd_config_free(struct vaultd_config *c)
{
	size_t i;

	for (i = 0; i < c->n_owned; i++)
		free(c->owned[i]);
	free(c->owned);
	c->owned = NULL;
	c->n_owned = 0;
}

int
vaultd_config_parse(struct vaultd_config *c, int argc, char **argv)
{
	int ch;

	memset(c, 0, sizeof *c);
	c->listen = VAULTD_DEFAULT_LISTEN;
	c->scrub_period_ms = (int64_t)VAULTD_DEFAULT_SCRUB_HOURS * 3600000;
	c->scrub_share = VAULTD_DEFAULT_SCRUB_SHARE;
	store_options_default(&c->store);
	api_options_default(&c->api);
	c->api.web_dir = VAULTD_DEFAULT_WEB_DIR;
	/* the configuration file first, so that the command line wins; found
	 * by getopt itself, not by looking for the word: in "--data-dir
	 * --config --quiet", --config is a directory's name (fuzz_config) */
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1)
		if (ch == O_CONFIG && read_config(c, optarg) != 0) {
			opterr = 1;
			return -1;
		}
	opterr = 1;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch == O_HELP) {
			usage(stdout);
			return 1;
		}
		if (ch == O_CONFIG)
			continue;
		if (ch == '?' || ch == ':') {
			usage(stderr);
			return -1;
		}
		if (apply(c, ch, optarg) != 0)
			return -1;
	}
	if (optind != argc) {
		fprintf(stderr, "vaultd: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	if (c->tsa.url != NULL && c->tsa.chain_file == NULL) {
		fprintf(stderr, "vaultd: --tsa-url needs --tsa-chain, the certificates "
		    "its tokens are verified against\n");
		return -1;
	}
	if (c->tsa.url != NULL && c->tsa.cert_file != NULL) {
		fprintf(stderr, "vaultd: --tsa-url and --tsa-cert exclude each other\n");
		return -1;
	}
	if ((c->tsa.cert_file != NULL) != (c->tsa.key_file != NULL)) {
		fprintf(stderr, "vaultd: --tsa-cert and --tsa-key go together\n");
		return -1;
	}
	c->store.tsa = &c->tsa;
	if (keys_pwparams_check(&c->store.pw) != VAULT_OK) {
		fprintf(stderr, "vaultd: Argon2id cost out of range\n");
		return -1;
	}
	if (c->print_routes) {
		api_print_routes();
		return 1;
	}
	return 0;
}
