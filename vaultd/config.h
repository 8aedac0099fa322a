/* config.h: vaultd's settings, from its command line. */
#ifndef VAULTD_CONFIG_H
#define VAULTD_CONFIG_H

#include "store.h"

#define VAULTD_DEFAULT_DATA_DIR "./var/vault"
#define VAULTD_DEFAULT_LISTEN "127.0.0.1:8080"

struct vaultd_config {
	const char *data_dir;   /* NULL: the embedded default, created if needed */
	const char *listen;     /* HOST:PORT, IPv6 as [ADDR]:PORT */
	int tls;
	struct store_options store;
};

/* Fills c from argv. Returns 0, 1 if --help was printed, or -1 after
 * printing what is wrong on stderr. */
int vaultd_config_parse(struct vaultd_config *c, int argc, char **argv);

#endif
