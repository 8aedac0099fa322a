/*
 * fuzz_config: vaultd's configuration file (vaultd/config.c), read the way
 * vaultd reads it: `vaultd --config FILE`.
 *
 * The README's promise is that every line "name = value" of the file is
 * the option --name value of the command line. So the input is written to
 * a file and parsed with --config; it is also read here a second way,
 * written from that promise (blanks around names and values, # comments,
 * a CR ends a line, lines up to 1022 bytes), into a command line: both
 * must succeed or fail together and, when they succeed, give the same
 * settings. A line the second reading finds malformed must make the
 * first fail too. (Inputs with a NUL byte are only checked not to crash.)
 */
#include <getopt.h>
#include <unistd.h>

#include "fuzz.h"

#include "config.h"

/* The options a file may name, and whether each takes a value: read from
 * vaultd's own table (a copy kept here went stale when options were added,
 * and the harness then failed on a valid --web-dir line). */
#define MAX_OPTS 64
static struct { const char *name; int arg; } known[MAX_OPTS];
static size_t n_known;

static char path[4096];
static char dashed[MAX_OPTS][40];   /* "--name" */

static void
cleanup(void)
{
	unlink(path);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");
	const struct option *o;

	(void)argc;
	(void)argv;
	for (o = vaultd_config_options(); o->name != NULL; o++) {
		if (!vaultd_config_file_option(o))
			continue;
		if (n_known == MAX_OPTS || strlen(o->name) + 3 > sizeof dashed[0])
			abort();
		known[n_known].name = o->name;
		known[n_known].arg = o->has_arg == required_argument;
		snprintf(dashed[n_known], sizeof dashed[n_known], "--%s", o->name);
		n_known++;
	}
	if (n_known < 30)   /* the table was found, not an empty one */
		abort();
	snprintf(path, sizeof path, "%s/fuzz_config.%ld.conf",
	    tmp != NULL ? tmp : "/tmp", (long)getpid());
	atexit(cleanup);
	return 0;
}

static int
same_str(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void
check_same(const struct vaultd_config *a, const struct vaultd_config *b)
{
	struct api_options aa = a->api, ab = b->api;

	FUZZ_CHECK(same_str(a->data_dir, b->data_dir));
	FUZZ_CHECK(same_str(a->listen, b->listen));
	FUZZ_CHECK(a->tls == b->tls && a->print_routes == b->print_routes);
	FUZZ_CHECK(same_str(a->tls_cert, b->tls_cert));
	FUZZ_CHECK(same_str(a->tls_key, b->tls_key));
	FUZZ_CHECK(same_str(a->test_clock_file, b->test_clock_file));
	FUZZ_CHECK(same_str(a->tsa.url, b->tsa.url));
	FUZZ_CHECK(same_str(a->tsa.chain_file, b->tsa.chain_file));
	FUZZ_CHECK(same_str(a->tsa.cert_file, b->tsa.cert_file));
	FUZZ_CHECK(same_str(a->tsa.key_file, b->tsa.key_file));
	FUZZ_CHECK(a->tsa.timeout_ms == b->tsa.timeout_ms);
	FUZZ_CHECK(a->tsa.backoff_ms == b->tsa.backoff_ms);
	FUZZ_CHECK(same_str(a->store.pepper_path, b->store.pepper_path));
	FUZZ_CHECK(memcmp(&a->store.pw, &b->store.pw, sizeof a->store.pw) == 0);
	FUZZ_CHECK(a->store.max_document_size == b->store.max_document_size);
	FUZZ_CHECK(a->store.quota_bytes == b->store.quota_bytes);
	FUZZ_CHECK(a->store.lock_threshold == b->store.lock_threshold);
	FUZZ_CHECK(a->store.lock_ms == b->store.lock_ms);
	FUZZ_CHECK(a->scrub_period_ms == b->scrub_period_ms);
	FUZZ_CHECK(a->scrub_share == b->scrub_share);
	FUZZ_CHECK(same_str(a->api.web_dir, b->api.web_dir));
	/* the rest of the API's settings hold no pointer but web_dir */
	aa.web_dir = ab.web_dir = NULL;
	FUZZ_CHECK(memcmp(&aa, &ab, sizeof aa) == 0);
}

static char *
trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	for (e = s + strlen(s); e > s && (e[-1] == ' ' || e[-1] == '\t'); e--)
		;
	*e = '\0';
	return s;
}

/* The second reading: into argv, or -1 if a line is malformed. */
static int
to_argv(char *text, char **argv, int max)
{
	char *line, *next, *eq, *name, *value;
	int argc = 1;
	size_t i;

	argv[0] = "vaultd";
	for (line = text; line != NULL && *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (strlen(line) > 1022)
			return -1;
		line[strcspn(line, "\r")] = '\0';
		name = trim(line);
		if (*name == '#' || *name == '\0')
			continue;
		value = NULL;
		if ((eq = strchr(name, '=')) != NULL) {
			*eq = '\0';
			value = trim(eq + 1);
			name = trim(name);
		}
		for (i = 0; i < n_known; i++)
			if (strcmp(known[i].name, name) == 0)
				break;
		if (i == n_known)
			return -1;
		if (known[i].arg != (value != NULL && *value != '\0'))
			return -1;
		if (argc + 2 >= max)
			return -2;
		argv[argc++] = dashed[i];
		if (known[i].arg)
			argv[argc++] = value;
	}
	argv[argc] = NULL;
	return argc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vaultd_config from_file, from_argv;
	char *fargv[] = { "vaultd", "--config", path, NULL };
	char *argv[512], *text;
	int rf, ra, argc;
	FILE *f;

	if (size > 16384)
		return 0;
	if ((f = fopen(path, "wb")) == NULL || fwrite(data, 1, size, f) != size ||
	    fclose(f) != 0)
		abort();
	rf = vaultd_config_parse(&from_file, 3, fargv);
	if (memchr(data, '\0', size) != NULL) {
		vaultd_config_free(&from_file);
		return 0;
	}
	text = fuzz_str(data, size);
	argc = to_argv(text, argv, 512);
	if (argc == -1)
		FUZZ_CHECK(rf != 0); /* a malformed line */
	else if (argc > 0) {
		ra = vaultd_config_parse(&from_argv, argc, argv);
		FUZZ_CHECK(rf == ra);
		if (rf == 0)
			check_same(&from_file, &from_argv);
		vaultd_config_free(&from_argv);
	}
	vaultd_config_free(&from_file);
	free(text);
	return 0;
}
