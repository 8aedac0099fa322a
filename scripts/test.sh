#!/bin/sh
# The README's second command: install what is missing, then build and run
# the whole suite twice: a normal build, then AddressSanitizer +
# UndefinedBehaviorSanitizer. Both builds use -Wall -Wextra -Werror. Then
# every libFuzzer harness (build-fuzz/, clang) for a few seconds each, over
# its seed and regression corpus (scripts/fuzz.sh; issue 7).
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
jobs="$(nproc)"

run_suite() { # build-dir, extra cmake flags...
	dir="$1"; shift
	echo "==> $dir: build" >&2
	cmake -S . -B "$dir" "$@" >/dev/null
	cmake --build "$dir" -j"$jobs" >/dev/null
	echo "==> $dir: ctest" >&2
	(cd "$dir" && ctest --output-on-failure)
}

run_suite build -DCMAKE_BUILD_TYPE=RelWithDebInfo
# detect_leaks: every test program and vaultd must free what it allocates.
ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1" \
UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
	run_suite build-asan -DCMAKE_BUILD_TYPE=Debug -DVAULT_SANITIZE=ON
# A few seconds per harness, a few tens of seconds in all: any crash, leak,
# timeout or failed check fails the command. Long runs: scripts/fuzz.sh --hours.
scripts/fuzz.sh --seconds 3
