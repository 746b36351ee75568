#!/usr/bin/env bash
# Run the libFuzzer targets of a build made with clang and -DVB_FUZZ=ON,
# each for VB_FUZZ_SECONDS (default 60), VB_FUZZ_JOBS of them at a time
# (default: the number of cores; each target is one process):
#
#   tests/fuzz/run.sh BUILD_DIR [TARGET...]
#
# Each target starts from its seeds (BUILD_DIR/tests/fuzz/seeds/TARGET, made
# at build time), its committed regressions, and the corpus kept from
# earlier runs in BUILD_DIR/tests/fuzz/corpus/TARGET (grown as it goes).
# A crash, a leak, a failed property or a timeout is saved under
# BUILD_DIR/tests/fuzz/crashes/ and makes the script exit 1 after the other
# targets have run; docs/fuzzing.md says how to turn it into a regression.
# Extra libFuzzer options may be given in VB_FUZZ_OPTS.
set -euo pipefail

if [ $# -lt 1 ]; then
	echo "usage: $0 BUILD_DIR [TARGET...]" >&2
	exit 2
fi
build=$(cd "$1" && pwd)
shift
src=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
dir=$build/tests/fuzz
seconds=${VB_FUZZ_SECONDS:-60}

# The longest input worth trying, per target: a message or a line is
# short, an export needs a few records.
declare -A max_len=(
	[event_pb]=4096 [event_json]=4096 [ingest_req]=16384 [query_req]=1024
	[ingest_reply]=4096 [query_reply]=16384 [state]=4096 [log_record]=4096 [csv]=8192
	[adapter_rows]=8192
)
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
	targets=(event_pb event_json ingest_req query_req ingest_reply query_reply
		state log_record csv adapter_rows)
fi

failed=()
mkdir -p "$dir/crashes"
jobs=${VB_FUZZ_JOBS:-$(nproc 2>/dev/null || echo 1)}
for t in "${targets[@]}"; do
	bin=$dir/fuzz_$t
	if [ ! -x "$bin" ] || [ -z "${max_len[$t]:-}" ]; then
		echo "fuzz: $t: no such target in $dir (built with CC=clang -DVB_FUZZ=ON?)" >&2
		exit 2
	fi
done

# One target, its exit status into crashes/TARGET.rc.
fuzz_one() {
	local t=$1 rc=0
	local corpora=("$dir/corpus/$t" "$dir/seeds/$t")
	mkdir -p "$dir/corpus/$t"
	if [ -d "$src/regressions/$t" ]; then
		corpora+=("$src/regressions/$t")
	fi
	# shellcheck disable=SC2086  # VB_FUZZ_OPTS is a list of options
	"$dir/fuzz_$t" -max_total_time="$seconds" -max_len="${max_len[$t]}" -timeout=10 \
	    -rss_limit_mb=2048 -print_final_stats=1 \
	    -artifact_prefix="$dir/crashes/$t-" ${VB_FUZZ_OPTS:-} \
	    "${corpora[@]}" >"$dir/crashes/$t.log" 2>&1 || rc=$?
	echo "$rc" >"$dir/crashes/$t.rc"
}

running=0
for t in "${targets[@]}"; do
	if [ "$running" -ge "$jobs" ]; then
		wait -n || true
		running=$((running - 1))
	fi
	fuzz_one "$t" &
	running=$((running + 1))
done
wait

for t in "${targets[@]}"; do
	log=$dir/crashes/$t.log
	rc=$(cat "$dir/crashes/$t.rc" 2>/dev/null || echo 99)
	runs=$(awk '/stat::number_of_executed_units/ { print $2 }' "$log")
	rate=$(awk '/stat::average_exec_per_sec/ { print $2 }' "$log")
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 || true)
	if [ "$rc" -eq 0 ]; then
		printf 'fuzz: %-13s %3ss  %10s runs  %7s exec/s  %s  no crash\n' "$t" \
		    "$seconds" "${runs:-?}" "${rate:-?}" "$cov"
	else
		printf 'fuzz: %-13s %3ss  %10s runs  %7s exec/s  %s  FAILED (exit %d)\n' \
		    "$t" "$seconds" "${runs:-?}" "${rate:-?}" "$cov" "$rc"
		grep -E 'ERROR|property failed|SUMMARY|Test unit written|^ +#[0-9]+ ' "$log" |
		    head -n 40 | sed 's/^/    /'
		echo "    (whole log: $log)"
		failed+=("$t")
	fi
done
if [ ${#failed[@]} -gt 0 ]; then
	echo "fuzz: FAILED: ${failed[*]} (inputs in $dir/crashes/; see docs/fuzzing.md)" >&2
fi
echo "fuzz: ${#targets[@]} targets, ${seconds}s each, $jobs at a time"
echo "fuzz: $((${#targets[@]} - ${#failed[@]})) passed, ${#failed[@]} failed"
[ ${#failed[@]} -eq 0 ]
