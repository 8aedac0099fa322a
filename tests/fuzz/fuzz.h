/*
 * fuzz.h: what the libFuzzer harnesses of tests/fuzz/ share.
 *
 * Each harness is one program, fuzz_NAME.c, defining LLVMFuzzerTestOneInput
 * over one place where vaultd or vaultctl reads outside input. A harness
 * checks what it can about the answer (round trips, limits, agreement with
 * a second reading), not only that nothing crashed: FUZZ_CHECK aborts, and
 * libFuzzer keeps the input as a crash.
 */
#ifndef VAULT_FUZZ_H
#define VAULT_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_CHECK(cond)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
			    __LINE__, #cond);                                  \
			abort();                                               \
		}                                                              \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* The input as a NUL-terminated string (cut at its first NUL): malloc'd. */
static inline char *
fuzz_str(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* Splits the input at its first n-1 NUL bytes into n strings (missing ones
 * are NULL); *buf is to be freed. */
static inline void
fuzz_fields(const uint8_t *data, size_t size, char **buf, char **f, int n)
{
	char *s = malloc(size + 1), *p, *end;
	int i;

	if (s == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	end = s + size;
	for (i = 0, p = s; i < n; i++) {
		if (p > end) {
			f[i] = NULL;
			continue;
		}
		f[i] = p;
		p += strlen(p) + 1;
	}
	*buf = s;
}

/* A query string as libmicrohttpd hands it to us: split at '&' and '=',
 * '+' a space, %XX a byte; the first of a repeated name wins. */
#define FUZZ_NARGS 32

struct fuzz_arg { char *name, *value; };

static inline int
fuzz_hexval(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
	    c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static inline void
fuzz_unescape(char *s)
{
	char *o = s;

	for (; *s != '\0'; s++) {
		if (*s == '+')
			*o++ = ' ';
		else if (*s == '%' && fuzz_hexval(s[1]) >= 0 && fuzz_hexval(s[2]) >= 0) {
			*o++ = (char)(fuzz_hexval(s[1]) * 16 + fuzz_hexval(s[2]));
			s += 2;
		} else
			*o++ = *s;
	}
	*o = '\0';
}

/* Splits q in place; returns the number of arguments. */
static inline int
fuzz_query_split(char *q, struct fuzz_arg *a)
{
	char *p, *amp, *eq;
	int n = 0;

	for (p = q; p != NULL && n < FUZZ_NARGS; p = amp) {
		if ((amp = strchr(p, '&')) != NULL)
			*amp++ = '\0';
		if (*p == '\0')
			continue;
		if ((eq = strchr(p, '=')) != NULL)
			*eq++ = '\0';
		a[n].name = p;
		a[n].value = eq != NULL ? eq : p + strlen(p); /* "name": empty */
		fuzz_unescape(a[n].name);
		fuzz_unescape(a[n].value);
		n++;
	}
	return n;
}

static inline const char *
fuzz_arg_get(struct fuzz_arg *a, int n, const char *name)
{
	int i;

	for (i = 0; i < n; i++)
		if (strcmp(a[i].name, name) == 0)
			return a[i].value;
	return NULL;
}

#endif
