#!/bin/sh
# Builds the libFuzzer harnesses of tests/fuzz/ in build-fuzz/ (clang,
# -fsanitize=fuzzer,address,undefined) and runs each one, starting from its
# seed corpus tests/fuzz/corpus/NAME/ (regression inputs included) plus
# what earlier runs found (build-fuzz/fuzz/corpus/NAME/).
#
#   scripts/fuzz.sh                  every harness 3 s (what scripts/test.sh runs)
#   scripts/fuzz.sh --seconds 180    every harness 3 minutes
#   scripts/fuzz.sh --hours 8 --jobs 2   8 hours in all, two harnesses at a time
#   scripts/fuzz.sh fuzz_config ...  only these harnesses
#
# Prints the executions of each harness and their total. Exits 1 if any
# harness crashed, leaked, timed out or failed one of its checks: the input
# is then in build-fuzz/fuzz/artifacts/; rerun it with
#   build-fuzz/tests/fuzz/NAME build-fuzz/fuzz/artifacts/NAME-crash-...
# to see the failed check, fix the defect, and copy the input to
# tests/fuzz/corpus/NAME/regress-WHAT so that every later run replays it.
set -eu
cd "$(dirname "$0")/.."

seconds=3 hours="" jobs=1
while [ $# -gt 0 ]; do
	case "$1" in
	--seconds) seconds="$2"; shift 2 ;;
	--hours) hours="$2"; shift 2 ;;
	--jobs) jobs="$2"; shift 2 ;;
	-h|--help) sed -n '2,20p' "$0"; exit 0 ;;
	--*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
	*) break ;;
	esac
done

if [ $# -gt 0 ]; then
	harnesses="$*"
else
	harnesses=$(ls tests/fuzz/fuzz_*.c | sed 's|.*/||; s|\.c$||')
fi
count=$(echo $harnesses | wc -w)
if [ -n "$hours" ]; then
	# the hours shared evenly, jobs harnesses at a time
	seconds=$(( hours * 3600 * jobs / count ))
fi

echo "==> build-fuzz: build (clang, libFuzzer + ASan + UBSan)" >&2
cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DVAULT_FUZZ=ON >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target fuzzers >/dev/null

work=build-fuzz/fuzz
rm -rf "$work/tmp"   # stores left by a harness that crashed
mkdir -p "$work/artifacts" "$work/tmp"
# the harnesses that need a store make it here, and remove it
TMPDIR="$(pwd)/$work/tmp"
export TMPDIR
ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export ASAN_OPTIONS UBSAN_OPTIONS

run_one() { # name
	mkdir -p "$work/corpus/$1"
	set +e
	"build-fuzz/tests/fuzz/$1" -max_total_time="$seconds" -timeout=25 \
		-rss_limit_mb=2048 -close_fd_mask=3 -print_final_stats=1 \
		-artifact_prefix="$work/artifacts/$1-" \
		"$work/corpus/$1" "tests/fuzz/corpus/$1" >"$work/$1.log" 2>&1
	echo $? >"$work/$1.rc"
	set -e
}

echo "==> fuzz: $count harnesses, ${seconds}s each" >&2
set -- $harnesses
while [ $# -gt 0 ]; do
	i=0
	while [ $i -lt "$jobs" ] && [ $# -gt 0 ]; do
		run_one "$1" &
		shift
		i=$((i + 1))
	done
	wait
done

total=0 passed=0 failed=0
for h in $harnesses; do
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$h.log" | tail -1)
	runs=${runs:-0}
	total=$((total + runs))
	if [ "$(cat "$work/$h.rc")" = 0 ]; then
		passed=$((passed + 1))
		printf 'fuzz %-22s %12s executions in %ss\n' "$h" "$runs" "$seconds"
	else
		failed=$((failed + 1))
		printf 'fuzz %-22s FAILED after %s executions (log: %s)\n' "$h" "$runs" \
			"$work/$h.log"
		grep -E 'ERROR|SUMMARY|Test unit written|#[0-9]+ in ' "$work/$h.log" | head -20
	fi
done
printf 'fuzz %-22s %12s executions\n' "total" "$total"
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
