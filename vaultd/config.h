/* config.h: vaultd's settings, from a configuration file and its command line. */
#ifndef VAULTD_CONFIG_H
#define VAULTD_CONFIG_H

#include <getopt.h>
#include <stdio.h>

#include "api.h"
#include "store.h"

#define VAULTD_DEFAULT_DATA_DIR "./var/vault"
#define VAULTD_DEFAULT_LISTEN "127.0.0.1:8080"
#define VAULTD_DEFAULT_SCRUB_HOURS 24
#define VAULTD_DEFAULT_SCRUB_SHARE 10   /* percent of the disk's time */
#define VAULTD_DEFAULT_WEB_DIR "web"

struct vaultd_config {
	const char *data_dir;   /* NULL: the embedded default, created if needed */
	const char *listen;     /* HOST:PORT, IPv6 as [ADDR]:PORT */
	int tls;
	const char *tls_cert, *tls_key;   /* NULL: DIR/tls.crt, DIR/tls.key */
	const char *test_clock_file;      /* tests only: a clock they can move */
	int print_routes;
	struct tsa_config tsa;  /* store.tsa points here */
	int64_t scrub_period_ms;          /* a scrub pass this often; 0: never */
	unsigned scrub_share;             /* percent of the time it may read */
	struct store_options store;
	struct api_options api;
	char **owned;           /* values read from --config FILE */
	size_t n_owned;
};

/* Fills c from argv (and from --config FILE, whose "name = value" lines
 * are read as --name value before the command line, which overrides
 * them). Returns 0, 1 if --help or --routes was handled, or -1 after
 * printing what is wrong on stderr. Strings point into argv or into
 * c->owned, which vaultd_config_free frees. */
int vaultd_config_parse(struct vaultd_config *c, int argc, char **argv);
/* Reads "name = value" lines from f into c (path names it in messages).
 * Returns 0, or -1 after printing what is wrong. */
int vaultd_config_read(struct vaultd_config *c, FILE *f, const char *path);
/* vaultd's options, ended by a NULL name: what --help lists and what a
 * configuration file may name (fuzz_config reads its names from here). */
const struct option *vaultd_config_options(void);
/* Whether a configuration file may name o: every option but --config,
 * --help and --routes. */
int vaultd_config_file_option(const struct option *o);
/* Frees the values read from a configuration file (c's strings may point
 * into them). */
void vaultd_config_free(struct vaultd_config *c);

#endif
