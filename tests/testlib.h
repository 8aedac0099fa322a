/*
 * testlib.h: a minimal test runner. Each TEST is a function named after the
 * property it proves; CHECK records a failure with its line and goes on,
 * REQUIRE stops the test. main() runs every test (or those named on the
 * command line) and ends with "N passed, N failed".
 */
#ifndef TESTLIB_H
#define TESTLIB_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*test_fn)(void);
struct test_case { const char *name; test_fn fn; };

#define TEST_MAX 256
extern struct test_case test_cases[TEST_MAX];
extern int test_count;
extern int test_failed_now;

#define TEST(name) \
	static void name(void); \
	__attribute__((constructor)) static void register_##name(void) { \
		if (test_count < TEST_MAX) \
			test_cases[test_count++] = (struct test_case){ #name, name }; \
	} \
	static void name(void)

#define CHECK(cond) do { if (!(cond)) { \
	fprintf(stderr, "  %s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
	test_failed_now = 1; } } while (0)
#define REQUIRE(cond) do { if (!(cond)) { \
	fprintf(stderr, "  %s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, #cond); \
	test_failed_now = 1; return; } } while (0)
#define CHECK_EQ(a, b) do { long long _a = (long long)(a), _b = (long long)(b); \
	if (_a != _b) { fprintf(stderr, "  %s:%d: CHECK_EQ failed: %s == %lld, " \
	"expected %s == %lld\n", __FILE__, __LINE__, #a, _a, #b, _b); \
	test_failed_now = 1; } } while (0)

/* Define once, in one file per test program. */
#define TEST_MAIN \
	struct test_case test_cases[TEST_MAX]; int test_count; int test_failed_now; \
	int main(int argc, char **argv) { \
		int passed = 0, failed = 0, i, j, run; \
		if (test_setup() != 0) { fprintf(stderr, "setup failed\n"); return 1; } \
		for (i = 0; i < test_count; i++) { \
			run = argc < 2; \
			for (j = 1; j < argc; j++) \
				if (strcmp(argv[j], test_cases[i].name) == 0) run = 1; \
			if (!run) continue; \
			test_failed_now = 0; \
			test_cases[i].fn(); \
			printf("%s %s\n", test_failed_now ? "FAIL" : "ok  ", test_cases[i].name); \
			fflush(stdout); \
			if (test_failed_now) failed++; else passed++; \
		} \
		printf("%d passed, %d failed\n", passed, failed); \
		return failed == 0 && passed > 0 ? 0 : 1; \
	}

#endif
