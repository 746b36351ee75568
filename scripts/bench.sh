#!/usr/bin/env bash
# voicebus side by side with NATS JetStream and Redis Streams, on this
# machine, in one run: one table (docs/benchmarks.md explains every cell).
#
# Installs what it needs (scripts/deps.sh, then nats-server, libnats-dev,
# redis-server, libhiredis-dev, valgrind: as root, or through sudo), builds
# Release into build-bench/, and runs every workload against every system
# (bench/vb_cmp_SYSTEM), each server started on a temporary directory and
# loopback addresses: a fresh one for every run of a publishing workload,
# the systems taking turns, one per system for a reading workload.  After
# each it reads the server's peak RSS and stops it.  The table goes to
# stdout and to build-bench/bench-table.txt, progress to stderr.  It stops
# only the processes it started.
set -euo pipefail

usage() {
	cat <<'EOF'
usage: scripts/bench.sh [options]
Run the same workloads against voicebus, NATS JetStream and Redis Streams
and print one table: the median of --runs runs per cell.
  --quick          1 run per cell, short runs, small logs: about a minute
                   (options after it still apply: --quick --runs 3)
  --runs N         runs per cell (5)
  --seconds S      length of one timed run (2)
  --dir DIR        where the servers keep their data: the disk measured
                   (default $TMPDIR or /tmp)
  --only LIST      workloads, comma-separated, of w1 w2 w3 w3r w4 w5 w6 retail
  --systems LIST   of voicebus jetstream jetstream-always redis-always
                   redis-everysec (default: all)
  --profile DIR    also perf record voicebusd during workloads 2, 3 and 5,
                   and write the reports into DIR
  --no-callgrind   skip the instruction counts (valgrind)
  --no-install     do not install packages (fail if one is missing)
  -h, --help       this text
EOF
}

say() { printf 'bench: %s\n' "$*" >&2; }
die() {
	say "$*"
	exit 1
}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$root/build-bench
bin=$build/bin
drv=$build/bench

runs=5
seconds=2
replay_events=1000000
customers=100000
audience=1000000
cg_w3_events=20000
cg_w5_events=200000
base=${TMPDIR:-/tmp}
only=w1,w2,w3,w3r,w4,w5,w6,retail
systems_arg=voicebus,jetstream,jetstream-always,redis-always,redis-everysec
profile=
callgrind=1
install=1

while [ $# -gt 0 ]; do
	case $1 in
	--quick)
		# Options after --quick still win.
		runs=1
		seconds=0.5
		replay_events=100000
		customers=20000
		audience=100000
		cg_w3_events=5000
		cg_w5_events=20000
		;;
	--runs) runs=${2:?--runs N}; shift ;;
	--seconds) seconds=${2:?--seconds S}; shift ;;
	--dir) base=${2:?--dir DIR}; shift ;;
	--only) only=${2:?--only LIST}; shift ;;
	--systems) systems_arg=${2:?--systems LIST}; shift ;;
	--profile) profile=${2:?--profile DIR}; shift ;;
	--no-callgrind) callgrind=0 ;;
	--no-install) install=0 ;;
	-h | --help) usage; exit 0 ;;
	*)
		say "unknown option: $1"
		usage >&2
		exit 2
		;;
	esac
	shift
done
case $runs in '' | *[!0-9]*) die "--runs $runs: not a number" ;; esac
if [ "$runs" -lt 1 ] || [ "$runs" -gt 99 ]; then
	die "--runs: 1 to 99"
fi
[ -d "$base" ] || die "--dir $base: no such directory"

# Systems: a short key, what the table calls it, what an ack means there.
declare -A sys_key=([voicebus]=vb [jetstream]=js [jetstream-always]=jsa
	[redis-always]=ra [redis-everysec]=re)
declare -A label=([vb]="voicebus" [vbi]="voicebus over ipc"
	[js]="JetStream (defaults)" [jsa]="JetStream sync_interval:always"
	[ra]="Redis appendfsync always" [re]="Redis appendfsync everysec"
	[nng]="floor: nng echo" [nngi]="floor: nng echo over ipc")
declare -A durab=([vb]="fsync'd before the ack"
	[vbi]="fsync'd before the ack"
	[js]="not fsync'd (sync every 2 min)"
	[jsa]="fsync'd before the ack"
	[ra]="AOF fsync'd before the reply"
	[re]="AOF fsync'd within 1 s")
declare -A prog=([vb]=voicebus [vbi]=voicebus [js]=jetstream [jsa]=jetstream
	[ra]=redis [re]=redis)
systems=()
IFS=, read -r -a wanted <<<"$systems_arg"
for s in "${wanted[@]}"; do
	[ -n "${sys_key[$s]:-}" ] || die "--systems: unknown system $s"
	systems+=("${sys_key[$s]}")
done
IFS=, read -r -a workloads <<<"$only"
for w in "${workloads[@]}"; do
	case $w in w1 | w2 | w3 | w3r | w4 | w5 | w6 | retail) ;;
	*) die "--only: unknown workload $w" ;;
	esac
done

# ---- packages ----

installed() {
	[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

install_packages() {
	local want=(nats-server libnats-dev redis-server libhiredis-dev)
	local missing=() sudo=() p
	[ "$callgrind" -eq 1 ] && want+=(valgrind)
	[ -n "$profile" ] && ! command -v perf >/dev/null 2>&1 && want+=(linux-perf)
	[ "$install" -eq 1 ] && "$root/scripts/deps.sh"
	for p in "${want[@]}"; do
		installed "$p" || missing+=("$p")
	done
	[ "${#missing[@]}" -eq 0 ] && return 0
	[ "$install" -eq 1 ] || die "missing packages: ${missing[*]} (run without --no-install)"
	if [ "$(id -u)" -ne 0 ]; then
		command -v sudo >/dev/null 2>&1 ||
			die "not root and no sudo: install ${missing[*]} as root"
		sudo=(sudo)
	fi
	say "installing ${missing[*]}"
	if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		--no-install-recommends "${missing[@]}" >&2; then
		"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
		"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
			--no-install-recommends "${missing[@]}" >&2
	fi
}

install_packages

# ---- build ----

say "building Release into $build"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DVB_TESTS=OFF >&2
cmake --build "$build" -j"$(nproc)" >&2
for p in "$bin/voicebusd" "$bin/voicebus" "$bin/vb-sales" "$drv/vb_cmp_voicebus"; do
	[ -x "$p" ] || die "$p is missing after the build"
done
for p in jetstream redis; do
	[ -x "$drv/vb_cmp_$p" ] ||
		die "$drv/vb_cmp_$p was not built: is its client library installed?"
done

# ---- processes and temporary files ----

work=$(mktemp -d "$base/vb-bench.XXXXXX")
results=$work/results.tsv
: >"$results"
started=()    # every server this script started, by pid
srv_pid=
srv_dir=
srv_spec=

# shellcheck disable=SC2317,SC2329  # called by the traps
cleanup() {
	local rc=$? pid
	trap - EXIT INT TERM
	for pid in "${started[@]}"; do
		if kill -0 "$pid" 2>/dev/null; then
			kill -TERM "$pid" 2>/dev/null || true
			wait "$pid" 2>/dev/null || true
		fi
	done
	rm -rf "$work"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A loopback port nothing listens on, below the kernel's ephemeral range
# (32768 and up), where outgoing connections take theirs.
free_port() {
	local p i
	for i in $(seq 1 200); do
		p=$((20000 + (RANDOM * 32768 + RANDOM + i) % 12000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# Poll a command until it succeeds, while the server lives: at most $1 s.
wait_ready() {
	local limit=$1 i=0
	shift
	while ! "$@" >/dev/null 2>&1; do
		kill -0 "$srv_pid" 2>/dev/null || return 1
		i=$((i + 1))
		[ "$i" -le $((limit * 10)) ] || return 1
		sleep 0.1
	done
}

# start_voicebus tcp|ipc|callgrind
start_voicebus() {
	local mode=$1 ingest pub query p1 p2 p3 wrap=()
	srv_dir=$(mktemp -d "$work/vb.XXXXXX")
	if [ "$mode" = ipc ]; then
		ingest=ipc://$srv_dir/ingest
		pub=ipc://$srv_dir/pub
		query=ipc://$srv_dir/query
	else
		p1=$(free_port) && p2=$(free_port) && p3=$(free_port) || return 1
		[ "$p1" != "$p2" ] && [ "$p2" != "$p3" ] && [ "$p1" != "$p3" ] || return 1
		ingest=tcp://127.0.0.1:$p1
		pub=tcp://127.0.0.1:$p2
		query=tcp://127.0.0.1:$p3
	fi
	if [ "$mode" = callgrind ]; then
		wrap=(valgrind --tool=callgrind --instr-atstart=no
			"--callgrind-out-file=$srv_dir/callgrind.%p")
	fi
	"${wrap[@]}" "$bin/voicebusd" --data "$srv_dir/data" --ingest "$ingest" \
		--pub "$pub" --query "$query" --log-level warn >"$srv_dir/log" 2>&1 &
	srv_pid=$!
	started+=("$srv_pid")
	srv_spec=$ingest,$pub,$query
	wait_ready 120 "$bin/voicebus" stats --query "$query" --timeout 1
}

nats_config() { # nats_config DIR default|always
	printf 'listen: 127.0.0.1:-1\njetstream {\n  store_dir: "%s"\n' "$1/store"
	if [ "$2" = always ]; then
		printf '  sync_interval: always\n'
	fi
	printf '}\n'
}

start_nats() { # start_nats default|always
	local port
	srv_dir=$(mktemp -d "$work/nats.XXXXXX")
	nats_config "$srv_dir" "$1" >"$srv_dir/nats.conf"
	nats-server -c "$srv_dir/nats.conf" >"$srv_dir/log" 2>&1 &
	srv_pid=$!
	started+=("$srv_pid")
	wait_ready 30 grep -q 'Server is ready' "$srv_dir/log" || return 1
	port=$(sed -n 's/.*client connections on 127\.0\.0\.1:\([0-9]*\).*/\1/p' \
		"$srv_dir/log" | head -n 1)
	[ -n "$port" ] || return 1
	srv_spec=nats://127.0.0.1:$port
}

start_redis() { # start_redis always|everysec
	local port
	srv_dir=$(mktemp -d "$work/redis.XXXXXX")
	port=$(free_port) || return 1
	# AOF only, fsync'd as asked; no RDB snapshots (they would fork).
	redis-server --port "$port" --bind 127.0.0.1 --dir "$srv_dir" \
		--appendonly yes --appendfsync "$1" --save '' --daemonize no \
		--logfile "$srv_dir/log" >/dev/null 2>&1 &
	srv_pid=$!
	started+=("$srv_pid")
	wait_ready 30 redis-cli -h 127.0.0.1 -p "$port" ping || return 1
	srv_spec=127.0.0.1:$port
}

start_server() { # start_server SYS [callgrind]
	case $1 in
	vb) start_voicebus "${2:-tcp}" ;;
	vbi) start_voicebus ipc ;;
	js) start_nats default ;;
	jsa) start_nats always ;;
	ra) start_redis always ;;
	re) start_redis everysec ;;
	esac
}

# A port picked free may be taken before the server binds it: try again.
start_with_retries() { # start_with_retries SYS [callgrind]
	local try
	for try in 1 2 3; do
		start_server "$@" && return 0
		say "${label[$1]} did not start (try $try):"
		tail -n 3 "$srv_dir/log" >&2 || true
		stop_server
	done
	return 1
}

stop_server() {
	local keep=() pid
	if [ -n "$srv_pid" ] && kill -0 "$srv_pid" 2>/dev/null; then
		kill -TERM "$srv_pid" 2>/dev/null || true
		wait "$srv_pid" 2>/dev/null || true
	fi
	for pid in "${started[@]}"; do
		[ "$pid" = "$srv_pid" ] || keep+=("$pid")
	done
	started=("${keep[@]}")
	[ -n "$srv_dir" ] && rm -rf "$srv_dir"
	srv_pid=
	srv_dir=
}

# record SYS WORKLOAD KIND KEY VALUE
record() { printf '%s\t%s\t%s\t%s\t%s\n' "$@" >>"$results"; }

value() { # value SYS KEY: the median of what was recorded, or nothing
	awk -F'\t' -v s="$1" -v k="$2" '$1 == s && $4 == k { print $5 }' "$results" |
		sort -g | awk '{ v[NR] = $1 } END { if (NR) print (v[int((NR + 1) / 2)] + v[int(NR / 2) + 1]) / 2 }'
}

# cell SYS WORKLOAD RUNS [driver options...]: one server, one workload,
# RUNS runs (the driver prints their medians).  A workload may be several
# cells; the table takes the median of what they all printed (and the
# largest RSS).
cell() {
	local sys=$1 w=$2 n=$3 out err
	shift 3
	out=$work/$sys-$w.out
	err=$work/$sys-$w.err
	say "$(date +%T) ${label[$sys]}: $w"
	if ! start_with_retries "$sys"; then
		record "$sys" "$w" failed - -
		return 0
	fi
	if "$drv/vb_cmp_${prog[$sys]}" --workload "$w" --connect "$srv_spec" \
		--server-pid "$srv_pid" --runs "$n" --seconds "$seconds" \
		--dir "$srv_dir" "$@" >"$out" 2>"$err"; then
		awk -F'\t' -v s="$sys" -v w="$w" \
			'$1 == "result" || $1 == "info" { print s "\t" w "\t" $1 "\t" $2 "\t" $3 }' \
			"$out" >>"$results"
	else
		say "${label[$sys]}: $w failed:"
		tail -n 5 "$err" >&2
		record "$sys" "$w" failed - -
	fi
	stop_server
}

# floor_cell: what one request costs nng alone on this machine, the floor
# of workload 6's latency, recorded as rows of workload 6 (nng: over tcp,
# as voicebus; nngi: over ipc, as voicebus over ipc).
floor_cell() {
	local out=$work/nng-floor.out t
	say "$(date +%T) floor: nng echo"
	if ! "$drv/vb_cmp_voicebus" --workload nng --runs "$runs" --seconds "$seconds" \
		--dir "$work" >"$out" 2>"$work/nng-floor.err"; then
		say "floor: nng echo failed:"
		tail -n 5 "$work/nng-floor.err" >&2
		return 0
	fi
	for t in tcp:nng ipc:nngi; do
		awk -F'\t' -v t="${t%%:*}" -v s="${t#*:}" '$1 == "result" && $2 ~ "^nng\\." t "\\." {
			sub("^nng\\." t "\\.", "", $2); print s "\tw6\tresult\tw6." $2 "\t" $3 }' "$out" >>"$results"
	done
}

# callgrind_cell WORKLOAD [driver options...]: instructions per event of
# voicebusd for the measured part, from callgrind's dump.
callgrind_cell() {
	local w=$1 out ir events dump
	shift
	out=$work/cg-$w.out
	say "$(date +%T) voicebus under callgrind: $w"
	start_with_retries vb callgrind || return 0
	# One run, as long as the event count takes (valgrind is slow).
	if "$drv/vb_cmp_voicebus" --workload "$w" --connect "$srv_spec" \
		--server-pid "$srv_pid" --runs 1 --seconds 3600 --callgrind \
		--dir "$srv_dir" "$@" >"$out" 2>"$work/cg-$w.err"; then
		dump=$(find "$srv_dir" -maxdepth 1 -name "callgrind.$srv_pid.*" | sort | tail -n 1)
		ir=$(sed -n 's/^summary: *//p' "$dump" 2>/dev/null | head -n 1)
		events=$(awk -F'\t' '$2 == "callgrind.events" { print $3 }' "$out")
		if [ -n "$ir" ] && [ -n "$events" ]; then
			record vb "$w" result "cg.$w" "$(awk -v i="$ir" -v e="$events" 'BEGIN { printf "%.0f", i / e }')"
			record vb "$w" info "cg.$w.events" "$events"
		fi
	else
		say "callgrind $w failed:"
		tail -n 5 "$work/cg-$w.err" >&2
	fi
	stop_server
}

# profile_cell WORKLOAD [driver options...]: perf record voicebusd.
profile_cell() {
	local w=$1 data
	shift
	data=$profile/perf-$w.data
	say "$(date +%T) voicebus under perf record: $w"
	start_with_retries vb || return 0
	if "$drv/vb_cmp_voicebus" --workload "$w" --connect "$srv_spec" \
		--server-pid "$srv_pid" --runs 1 --seconds "$seconds" --perf "$data" \
		--dir "$srv_dir" "$@" >"$work/perf-$w.out" 2>"$work/perf-$w.err"; then
		perf report -i "$data" --stdio --no-children --percent-limit 1 \
			--sort symbol -g caller,0.5,callee,function,percent \
			>"$profile/perf-$w.txt" 2>/dev/null || true
		perf report -i "$data" --stdio --children --percent-limit 5 \
			--sort symbol -g none >"$profile/perf-$w-children.txt" 2>/dev/null || true
		say "profile: $profile/perf-$w.txt"
	else
		tail -n 5 "$work/perf-$w.err" >&2
	fi
	stop_server
}

# ---- the machine ----

# The disk's fsyncs/s, one second each: three times before the
# workloads, once before every round of a publishing workload, three times
# after.  A disk shared with other work moves between them.
# Each time also without growing the file (an overwrite: no journal
# commit), the flush an LMDB commit pays when its file does not grow.
fsyncs=()
flushes=()
measure_fsync() { # measure_fsync N
	local _ out
	say "measuring the disk in $base"
	for _ in $(seq 1 "$1"); do
		out=$("$drv/vb_cmp_voicebus" --workload fsync --dir "$work")
		fsyncs+=("$(awk -F'\t' '$2 == "fsync.rate" { printf "%.0f", $3 }' <<<"$out")")
		flushes+=("$(awk -F'\t' '$2 == "fsync.overwrite_rate" { printf "%.0f", $3 }' <<<"$out")")
	done
}
measure_fsync 3
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
mem=$(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)
disk=$(df -PT "$base" | awk 'NR == 2 { print $2 " on " $1 }')
pkgver() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo '?'; }
v_nats=$(nats-server --version 2>&1 | sed 's/^nats-server: //')
v_redis=$(redis-server --version | sed -n 's/.* v=\([^ ]*\).*/\1/p')
v_vb=$("$bin/voicebusd" --version 2>&1 | head -n 1)
if rev=$(git -C "$root" rev-parse --short HEAD 2>/dev/null); then
	if [ -n "$(git -C "$root" status --porcelain -- broker proto common 2>/dev/null)" ]; then
		rev="$rev + uncommitted changes in broker/ proto/ common/"
	fi
	v_vb="$v_vb (commit $rev)"
fi
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

js_always=1
tmpconf=$work/nats-always.conf
nats_config "$work" always >"$tmpconf"
if ! js_refusal=$(nats-server -t -c "$tmpconf" 2>&1); then
	js_always=0
	js_refusal=$(printf '%s\n' "$js_refusal" | grep -m 1 . | sed "s|$tmpconf|nats.conf|")
	say "nats-server $v_nats refuses sync_interval: $js_refusal"
fi

# ---- the retail export ----

retail_csv=$root/../shared/data/online-retail-2010-12.csv
[ -f "$retail_csv" ] || retail_csv=$root/tests/data/online-retail-excerpt.csv
retail_jsonl=$work/retail.jsonl
# vb-sales exits 2 when it skips rows (guest orders): that is expected.
"$bin/vb-sales" --preset online-retail --dry-run "$retail_csv" \
	>"$retail_jsonl" 2>"$work/retail.err" || [ $? -eq 2 ]
[ -s "$retail_jsonl" ] || die "vb-sales printed no events from $retail_csv"

# ---- the workloads ----

has() { # has SYS: whether SYS was asked for (and can run)
	local s
	[ "$1" = jsa ] && [ "$js_always" -eq 0 ] && return 1
	for s in "${systems[@]}"; do
		[ "$s" = "$1" ] && return 0
	done
	return 1
}

# The publishing workloads (1-4, retail) depend on the disk, which other
# work on the machine shares: their runs take turns, system after system,
# each on a fresh server, so that a slow minute of the disk falls on every
# system alike; one second of the disk's fsync rate is measured before
# each round.  The reading workloads (5, 6) load their data once and run
# --runs times against it.
t_start=$(date +%s)
for w in "${workloads[@]}"; do
	case $w in
	w1 | w2 | w3 | w3r | w4 | retail)
		for r in $(seq 1 "$runs"); do
			measure_fsync 1
			say "$w: run $r of $runs"
			for sys in vb js jsa ra re; do
				has "$sys" || continue
				case $w in
				w4)
					# Half the maximum rate: half of this system's
					# workload 1 (measured by the driver if not run).
					rate=$(value "$sys" w1.rate)
					if [ -n "$rate" ]; then
						cell "$sys" w4 1 --rate "$(awk -v r="$rate" 'BEGIN { printf "%.0f", r / 2 }')"
					else
						cell "$sys" w4 1
					fi
					;;
				retail) cell "$sys" retail 1 --jsonl "$retail_jsonl" ;;
				*) cell "$sys" "$w" 1 ;;
				esac
			done
		done
		;;
	w5)
		# Reads: durability does not matter; each system's defaults.
		for sys in vb js re; do
			if has "$sys"; then
				cell "$sys" w5 "$runs" --replay-events "$replay_events"
			fi
		done
		;;
	w6)
		for sys in vb js re; do
			has "$sys" || continue
			cell "$sys" w6 "$runs" --customers "$customers" --audience "$audience"
			if [ "$sys" = vb ]; then
				cell vbi w6 "$runs" --customers "$customers" --audience 0
				floor_cell
			fi
		done
		;;
	esac
done
t_total=$(($(date +%s) - t_start))
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
measure_fsync 3

if [ "$callgrind" -eq 1 ] && has vb; then
	command -v valgrind >/dev/null 2>&1 || die "valgrind is not installed"
	for w in "${workloads[@]}"; do
		case $w in
		w3) callgrind_cell w3 --events "$cg_w3_events" ;;
		w5) callgrind_cell w5 --replay-events "$cg_w5_events" ;;
		esac
	done
fi

if [ -n "$profile" ]; then
	command -v perf >/dev/null 2>&1 || die "perf is not installed"
	mkdir -p "$profile"
	profile=$(cd "$profile" && pwd)
	for w in "${workloads[@]}"; do
		case $w in
		w2 | w3) profile_cell "$w" ;;
		w5) profile_cell w5 --replay-events "$replay_events" ;;
		esac
	done
fi
fsync_rate=$(printf '%s\n' "${fsyncs[@]}" | sort -n | awk '
	{ v[NR] = $1 }
	END {
		printf "%.0f fsync/s, the median of %d one-second measurements before, between and after\n", (v[int((NR + 1) / 2)] + v[int(NR / 2) + 1]) / 2, NR
		printf "      the workloads (lowest %d, quartiles %d and %d, highest %d)", v[1], v[int(NR / 4) + 1], v[int(3 * NR / 4) + 1], v[NR]
	}')
flush_median=$(printf '%s\n' "${flushes[@]}" | sort -n | awk '
	{ v[NR] = $1 } END { printf "%.0f", (v[int((NR + 1) / 2)] + v[int(NR / 2) + 1]) / 2 }')
flush_range=$(printf '%s\n' "${flushes[@]}" | sort -n | awk '
	{ v[NR] = $1 } END { printf "lowest %d, highest %d", v[1], v[NR] }')

# ---- the table ----

# One row per line: workload|label of its first row|metric|metric label|format|systems
rows() {
	cat <<EOF
w1|1  one publisher, one event per request|w1.rate|events/s|rate|vb js jsa ra re
w1||w1.p50|ack p50, us|lat|vb js jsa ra re
w1||w1.p99|ack p99, us|lat|vb js jsa ra re
w2|2  8 publishers, one event per request|w2.rate|events/s|rate|vb js jsa ra re
w2||w2.p50|ack p50, us|lat|vb js jsa ra re
w2||w2.p99|ack p99, us|lat|vb js jsa ra re
w3|3  batches of 100 events|w3_1.rate|1 publisher, events/s|rate|vb js jsa ra re
w3||w3_8.rate|8 publishers, events/s|rate|vb js jsa ra re
w3||cg.w3|instructions/event|int|vb
w3r|3r batches of 100, ids in no order (as UUIDs)|w3r_8.rate|8 publishers, events/s|rate|vb js jsa ra re
w4|4  publish to subscriber, at half of 1's rate|w4.p50|p50, us|lat|vb js jsa ra re
w4||w4.p99|p99, us|lat|vb js jsa ra re
w4||w4.offered_rate|offered, events/s|info|vb js jsa ra re
w4||w4.achieved_rate|achieved, events/s|info|vb js jsa ra re
w5|5  replay of ${replay_events} stored events|w5.rate|events/s, one consumer|rate|vb js re
w5||w5.cli_pb|voicebus replay pb, ev/s|rate|vb
w5||w5.cli_jsonl|voicebus replay jsonl, ev/s|rate|vb
w5||cg.w5|instructions/event|int|vb
w6|6  gate decision / KV get, ${customers} customers|w6.p50|1 client, p50 us|lat|vb vbi js re nng nngi
w6||w6.p99|1 client, p99 us|lat|vb vbi js re nng nngi
w6||w6.rate8|8 clients, lookups/s|rate|vb vbi js re
w6||w6.filter_seconds|filter ${audience} rows, s|sec|vb re
retail|R  real retail events, batches of 100|retail.rate|events/s|rate|vb js jsa ra re
EOF
}

retail_events=$(wc -l <"$retail_jsonl")
table() {
	printf 'voicebus vs NATS JetStream vs Redis Streams: median of %d run(s) of %s s per cell\n' \
		"$runs" "$seconds"
	printf '200-byte events (protobuf voicebus.v1.Event, the same bytes to every system), customers spread over 100,000\n'
	printf 'machine: %s cores (%s), %s RAM, %s, kernel %s\n' "$(nproc)" "$cpu" "$mem" "$disk" "$(uname -r)"
	printf 'disk: %s\n' "$fsync_rate"
	printf '      (each: 4 KiB appended + fdatasync, in a loop, in --dir %s)\n' "$base"
	printf '      %s flush/s over a file not growing (4 KiB overwritten + fdatasync; %s)\n' \
		"$flush_median" "$flush_range"
	printf 'bound: a voicebus acknowledgement waits for two flushes in a row (pages, then meta page), so\n'
	printf '      one request in flight <= %d/s (workload 1), 8 in flight <= %d/s (workload 2)\n' \
		"$((flush_median / 2))" "$((flush_median * 4))"
	# Both flushes fall between a request's arrival and its reply, so
	# the transport's own round trip (the floor, measured with workload
	# 6) comes on top: each request in flight takes two flushes and a
	# round trip at least.
	local rtt
	rtt=$(value nng w6.p50)
	if [ -n "$rtt" ] && [ "$flush_median" -gt 0 ]; then
		awk -v f="$flush_median" -v r="$rtt" 'BEGIN {
			c = 2e6 / f + r
			printf "      with nng'"'"'s own round trip (the floor of 6 over tcp, p50 %.0f us): one request in flight\n", r
			printf "      <= %.0f/s, 8 in flight <= %.0f/s (1e6 / (2 x %.0f us + %.0f us), x 8)\n", 1e6 / c, 8e6 / c, 1e6 / f, r }'
	fi
	printf 'versions: %s; nats-server %s (libnats %s); redis-server %s (hiredis %s); nng %s; lmdb %s\n' \
		"$v_vb" "$v_nats" "$(pkgver libnats-dev)" "$v_redis" "$(pkgver libhiredis-dev)" \
		"$(pkgver libnng1)" "$(pkgver liblmdb0)"
	printf 'load average before %s, after %s; %d s of workloads\n' "$load_before" "$load_after" "$t_total"
	if [ "$js_always" -eq 0 ]; then
		printf 'JetStream sync_interval:always: refused by nats-server %s (%s): no such rows\n' \
			"$v_nats" "$js_refusal"
	fi
	printf 'retail: the %s events vb-sales makes of %s, again with fresh ids for as long as a run lasts\n' \
		"$retail_events" "$(basename "$retail_csv")"
	printf 'peak RSS: the server process'"'"'s VmHWM (the largest over the runs of 1-4 and R, each on a fresh server; over all\n'
	printf '          the runs of 5 and 6, on one), and in brackets its anonymous memory alone (RssAnon, sampled every 20 ms):\n'
	printf '          VmHWM also counts the pages of files the process maps (for voicebusd, LMDB'"'"'s data file)\n'
	if grep -q "$(printf '\tfailed\t')" "$results"; then
		printf '!: some runs of that cell failed (see the messages on stderr); the median is of the others\n'
	fi
	printf 'vb/peer: voicebus divided by that row (events/s: above 1 voicebus is faster; us and s: below 1 voicebus is faster)\n'
	if has vb && printf '%s\n' "${workloads[@]}" | grep -qx w6; then
		printf 'floor: an nng REQ/REP echo of 200 bytes to a process that only sends each request back:\n'
		printf '       the least one request over that transport takes on this machine (vb/peer: voicebus over the same one)\n'
	fi
	if [ "$callgrind" -eq 1 ]; then
		printf 'instructions/event: all of voicebusd'"'"'s threads under callgrind, over %s events of 3 (1 publisher)\n' \
			"$(value vb cg.w3.events | awk '{ printf "%.0f", $1 }')"
		printf '                    and %s of 5: fewer events than the timed runs\n' \
			"$(value vb cg.w5.events | awk '{ printf "%.0f", $1 }')"
	fi
	printf '\n' 
	rows | awk -F'|' -v results="$results" \
		-v labels="$(for k in "${!label[@]}"; do printf '%s=%s;' "$k" "${label[$k]}"; done)" \
		-v durab="$(for k in "${!durab[@]}"; do printf '%s=%s;' "$k" "${durab[$k]}"; done)" '
	function split_map(s, m,   n, a, i, kv) {
		n = split(s, a, ";")
		for (i = 1; i <= n; i++)
			if (a[i] != "") { kv = index(a[i], "="); m[substr(a[i], 1, kv - 1)] = substr(a[i], kv + 1) }
	}
	function fmt(v, f,   s, n, out) {
		if (f == "sec") return sprintf("%.2f", v)
		if (f == "info") f = "rate"
		if (f == "lat" && v < 100) return sprintf("%.1f", v)
		s = sprintf("%.0f", v); out = ""
		while (length(s) > 3) { out = "," substr(s, length(s) - 2) out; s = substr(s, 1, length(s) - 3) }
		return s out
	}
	BEGIN {
		split_map(labels, L); split_map(durab, D)
		# Several cells of one workload: the median of their values;
		# the largest of their peak RSS.
		while ((getline line < results) > 0) {
			split(line, x, "\t")
			if (x[3] == "failed") F[x[1], x[2]] = 1
			if (x[4] == "rss_peak_mib" && x[5] + 0 > R[x[1], x[2]] + 0) R[x[1], x[2]] = x[5]
			if (x[4] == "rss_anon_peak_mib" && x[5] + 0 > A[x[1], x[2]] + 0) A[x[1], x[2]] = x[5]
			if (x[3] != "result" && x[3] != "info") continue
			k = x[1] SUBSEP x[4]
			N[k]++
			ALL[k, N[k]] = x[5] + 0
		}
		for (k in N) {
			n = N[k]
			for (i = 1; i <= n; i++) tmp[i] = ALL[k, i]
			for (i = 2; i <= n; i++) {     # insertion sort: n <= 99
				v = tmp[i]
				for (j = i - 1; j >= 1 && tmp[j] > v; j--) tmp[j + 1] = tmp[j]
				tmp[j + 1] = v
			}
			V[k] = (tmp[int((n + 1) / 2)] + tmp[int(n / 2) + 1]) / 2
		}
		printf "%-46s %-31s %-31s %11s %8s %15s\n", "workload / metric", "system", "durability of an ack", "median", "vb/peer", "peak RSS (anon)"
		printf "%-46s %-31s %-31s %11s %8s %15s\n", "-----------------", "------", "--------------------", "------", "-------", "---------------"
	}
	{
		w = $1; title = $2; key = $3; mlabel = $4; f = $5; n = split($6, S, " ")
		if (title != "") pending = title
		first = 1
		for (i = 1; i <= n; i++) {
			s = S[i]
			if (!((s, key) in V) && !((s, w) in F)) continue
			val = ((s, key) in V) ? fmt(V[s, key], f) : "failed"
			if (((s, key) in V) && ((s, w) in F)) val = val "!"
			ratio = ""
			# The ipc floor against voicebus over ipc; the rest against voicebus.
			b = s == "nngi" ? "vbi" : "vb"
			if (f != "info" && s != "vb" && s != "vbi" && ((s, key) in V) && ((b, key) in V) && V[s, key] > 0)
				ratio = sprintf("%.2f", V[b, key] / V[s, key])
			d = (w == "w5" || w == "w6") ? "- (reads)" : D[s]
			if (s ~ /^nng/) d = "- (no server)"
			rss = ((s, w) in R && key !~ /^cg\./) ? sprintf("%.0f MiB", R[s, w]) : ""
			if (rss != "" && (s, w) in A) rss = sprintf("%.0f (%.0f) MiB", R[s, w], A[s, w])
			if (key ~ /^cg\./) d = "-"
			if (pending != "") { printf "%s\n", pending; pending = "" }
			printf "  %-44s %-31s %-31s %11s %8s %15s\n", first ? mlabel : "", L[s], d, val, ratio, rss
			first = 0
		}
	}'
}

mkdir -p "$build"
table | tee "$build/bench-table.txt"
cp "$results" "$build/bench-results.tsv"
say "table kept in build-bench/bench-table.txt, raw results in build-bench/bench-results.tsv"
