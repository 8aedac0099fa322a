/*
 * instance.h: making a new instance: data directory, keys and the first
 * instance administrator. Shared by `vaultctl init` and vaultd's first start.
 */
#ifndef INSTANCE_H
#define INSTANCE_H

#include "store.h"

/* Secrets of instance administrators: at least this long (they guard the
 * journal of everyone; a person's secret policy is laxer, see SECURITY.md). */
#define INSTANCE_ADMIN_SECRET_MIN 12

/*
 * Creates the data directory (store_create), a self-signed development
 * TLS certificate (tls.crt, tls.key) and the first administrator.
 * *recovery_codep receives the administrator's recovery code (guarded;
 * sodium_free it). VAULT_ERR_EXISTS if dir is not empty and !force;
 * VAULT_ERR_FORMAT for a bad login; VAULT_ERR_LIMIT for a short secret.
 * On failure after the directory was created, the directory is left for
 * the operator to inspect and `--force` to redo.
 */
vault_err instance_init(const char *dir, const struct store_options *o,
    const char *admin_login, const char *admin_secret, size_t secret_len,
    int force, char **recovery_codep);

/* Writes a fresh random secret of n symbols (recovery alphabet) + NUL into
 * guarded memory. */
vault_err instance_generate_secret(size_t n, char **secretp);

#endif
