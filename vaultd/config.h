/* config.h: vaultd's settings, from a configuration file and its command line. */
#ifndef VAULTD_CONFIG_H
#define VAULTD_CONFIG_H

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
};

/* Fills c from argv (and from --config FILE, whose "name = value" lines
 * are read as --name value before the command line, which overrides
 * them). Returns 0, 1 if --help or --routes was handled, or -1 after
 * printing what is wrong on stderr. Strings point into argv or into
 * memory kept for the life of the process. */
int vaultd_config_parse(struct vaultd_config *c, int argc, char **argv);

#endif
