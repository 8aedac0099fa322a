/* config.c: vaultd's command line (see --help). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: vaultd [options]\n"
	    "\n"
	    "With no options, vaultd keeps its data in " VAULTD_DEFAULT_DATA_DIR
	    " (created on first start,\nwith a generated administrator secret "
	    "printed once) and listens on\n" VAULTD_DEFAULT_LISTEN ".\n"
	    "\n"
	    "options:\n"
	    "  --data-dir DIR           data directory made by `vaultctl init`\n"
	    "  --listen HOST:PORT       address to serve (port 0: any free port);\n"
	    "                           plain HTTP only on a loopback address\n"
	    "  --tls                    serve HTTPS\n"
	    "  --pepper-file PATH       pepper kept outside the data directory\n"
	    "  --max-document-size N    bytes (default %llu)\n"
	    "  --quota N                bytes per person (default %llu)\n"
	    "  --argon2-ops N           Argon2id passes (default %llu)\n"
	    "  --argon2-mem-kib N       Argon2id memory in KiB (default %llu)\n"
	    "  --help                   this text\n",
	    (unsigned long long)STORE_DEFAULT_MAX_DOCUMENT_SIZE,
	    (unsigned long long)STORE_DEFAULT_QUOTA,
	    (unsigned long long)keys_pwparams_default.opslimit,
	    (unsigned long long)(keys_pwparams_default.memlimit >> 10));
}

static int
parse_u64(const char *name, const char *s, uint64_t *v)
{
	unsigned long long x;
	char *end;

	errno = 0;
	x = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-') {
		fprintf(stderr, "vaultd: --%s takes a whole number, not '%s'\n",
		    name, s);
		return -1;
	}
	*v = x;
	return 0;
}

int
vaultd_config_parse(struct vaultd_config *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "data-dir", required_argument, NULL, 'd' },
		{ "listen", required_argument, NULL, 'l' },
		{ "tls", no_argument, NULL, 't' },
		{ "pepper-file", required_argument, NULL, 'p' },
		{ "max-document-size", required_argument, NULL, 'M' },
		{ "quota", required_argument, NULL, 'Q' },
		{ "argon2-ops", required_argument, NULL, 'o' },
		{ "argon2-mem-kib", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int ch;

	memset(c, 0, sizeof *c);
	c->listen = VAULTD_DEFAULT_LISTEN;
	store_options_default(&c->store);
	optind = 1;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'd': c->data_dir = optarg; break;
		case 'l': c->listen = optarg; break;
		case 't': c->tls = 1; break;
		case 'p': c->store.pepper_path = optarg; break;
		case 'M':
			if (parse_u64("max-document-size", optarg,
			    &c->store.max_document_size) != 0)
				return -1;
			break;
		case 'Q':
			if (parse_u64("quota", optarg, &c->store.quota_bytes) != 0)
				return -1;
			break;
		case 'o':
			if (parse_u64("argon2-ops", optarg, &c->store.pw.opslimit) != 0)
				return -1;
			break;
		case 'm':
			if (parse_u64("argon2-mem-kib", optarg, &v) != 0 ||
			    v > (1ull << 32))
				return -1;
			c->store.pw.memlimit = v << 10;
			break;
		case 'h': usage(stdout); return 1;
		default: usage(stderr); return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "vaultd: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	if (keys_pwparams_check(&c->store.pw) != VAULT_OK) {
		fprintf(stderr, "vaultd: Argon2id cost out of range\n");
		return -1;
	}
	return 0;
}
