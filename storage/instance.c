/* instance.c: a new instance (see instance.h). */
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "accounts.h"
#include "instance.h"
#include "tlscert.h"

vault_err
instance_init(const char *dir, const struct store_options *o,
    const char *admin_login, const char *admin_secret, size_t secret_len,
    int force, char **recovery_codep)
{
	char crt[4096], key[4096];
	struct store *s = NULL;
	vault_id id;
	vault_err r;

	*recovery_codep = NULL;
	if (!accounts_login_valid(admin_login))
		return VAULT_ERR_FORMAT;
	if (secret_len < INSTANCE_ADMIN_SECRET_MIN)
		return VAULT_ERR_LIMIT;
	if ((r = store_create(dir, o, force)) != VAULT_OK)
		return r;
	/* the development TLS certificate (vaultd --tls); --force replaces it */
	if (snprintf(crt, sizeof crt, "%s/tls.crt", dir) >= (int)sizeof crt ||
	    snprintf(key, sizeof key, "%s/tls.key", dir) >= (int)sizeof key)
		return VAULT_ERR_LIMIT;
	if (force) {
		unlink(crt);
		unlink(key);
	}
	if ((r = tlscert_create(crt, key)) != VAULT_OK ||
	    (r = store_open(dir, o, &s, NULL)) != VAULT_OK)
		return r;
	r = accounts_create(s, admin_login, admin_login, "instance_admin", NULL, NULL, admin_secret, secret_len, &id, recovery_codep);
	store_close(s);
	return r;
}

vault_err
instance_generate_secret(size_t n, char **secretp)
{
	static const char alphabet[] = KEYS_RECOVERY_ALPHABET;
	char *s;
	size_t i;

	*secretp = NULL;
	if ((s = sodium_malloc(n + 1)) == NULL)
		return VAULT_ERR_NOMEM;
	for (i = 0; i < n; i++)
		s[i] = alphabet[randombytes_uniform(sizeof alphabet - 1)];
	s[n] = '\0';
	*secretp = s;
	return VAULT_OK;
}
