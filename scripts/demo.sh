#!/usr/bin/env bash
# The voicebus demo, the README's first command.
#
# Installs the dependencies, builds into build/, then runs a broker on a
# temporary data directory with ipc:// sockets in that directory (so it never
# collides with a broker already running on the default ports), publishes a
# complaint and a few orders, and shows them arriving in `voicebus tail` and
# in `voicebus replay`.  Everything it starts and writes is removed on exit.
# It fails (exit 1) if the gate does not block what it must.
#
# VB_DEMO_BIN=DIR skips the dependencies and the build and runs the
# programs in DIR: ctest's integration_demo runs the demo that way.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> %s\n' "$*"; }
show() { printf '$ %s\n' "$*"; }
die() {
	printf 'demo: %s\n' "$*" >&2
	exit 1
}

# The programs the demo runs: the broker, the command line and the four
# silos' adapters.  Only those; .ci/run builds and runs the tests.
progs=(voicebusd voicebus vb-service vb-field vb-sales vb-finance)

if [ -n "${VB_DEMO_BIN:-}" ]; then
	bin=$(cd "$VB_DEMO_BIN" && pwd)
else
	step "Dependencies (scripts/deps.sh)"
	scripts/deps.sh

	step "Build ${progs[*]} into build/"
	cmake -S . -B build
	cmake --build build -j"$(nproc)" --target "${progs[@]}"
	bin=$PWD/build/bin
fi
for prog in "${progs[@]}"; do
	[ -x "$bin/$prog" ] || die "$bin/$prog is missing after the build"
done

# ipc:// paths must fit in a socket address (108 bytes): keep the dir short.
tmp=$(mktemp -d "${TMPDIR:-/tmp}/voicebus-demo.XXXXXX")
broker_pid=
tail_pid=

# shellcheck disable=SC2329,SC2317  # called by the traps
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	for pid in $tail_pid $broker_pid; do
		if kill -0 "$pid" 2>/dev/null; then
			kill -TERM "$pid" 2>/dev/null || true
			wait "$pid" 2>/dev/null || true
		fi
	done
	if [ "$rc" -ne 0 ] && [ -s "$tmp/voicebusd.log" ]; then
		printf '\ndemo: stopped with exit status %d; the broker said:\n' "$rc" >&2
		cat "$tmp/voicebusd.log" >&2
	fi
	rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ingest=ipc://$tmp/ingest
pub=ipc://$tmp/pub
query=ipc://$tmp/query

vb() {
	local cmd=$1
	shift
	"$bin/voicebus" "$cmd" --ingest "$ingest" --pub "$pub" \
	    --query "$query" "$@"
}

# Poll "$@" until it succeeds, or give up after $1 seconds.
wait_for() {
	local secs=$1 what=$2
	shift 2
	local deadline=$((SECONDS + secs))
	until "$@"; do
		if [ "$SECONDS" -ge "$deadline" ]; then
			die "gave up after ${secs}s waiting for $what"
		fi
		sleep 0.1
	done
}

broker_answers() {
	kill -0 "$broker_pid" 2>/dev/null ||
	    die "voicebusd exited before it answered"
	vb stats --timeout 2 >/dev/null 2>&1
}

tail_has() {
	[ "$(wc -l <"$tmp/tail.jsonl")" -ge "$1" ]
}

step "Start the broker on a temporary data directory"
show "voicebusd --data $tmp/data --ingest $ingest --pub $pub --query $query"
"$bin/voicebusd" --data "$tmp/data" --ingest "$ingest" --pub "$pub" \
    --query "$query" 2>"$tmp/voicebusd.log" &
broker_pid=$!
wait_for 20 "voicebusd to answer on $query" broker_answers
echo "voicebusd (pid $broker_pid) answers on $query"
echo "(the commands below also pass --ingest, --pub and --query with these ipc:// addresses)"

step "Follow the bus: voicebus tail --from 1, in the background"
# Started directly, not through vb(), so that $! is voicebus itself.
"$bin/voicebus" tail --from 1 --pub "$pub" --query "$query" \
    >"$tmp/tail.jsonl" 2>"$tmp/tail.err" &
tail_pid=$!

# Each silo's adapter reads the export its system really produces.
ex=adapters
ad() {
	local prog=$1
	shift
	show "$prog $*"
	# 2: some rows rejected (reported, counted); the rest is stored.
	"$bin/$prog" --ingest "$ingest" --query "$query" "$@" || [ $? -eq 2 ]
}

step "Service desk: the helpdesk's ticket export, through vb-service"
ad vb-service --mapping $ex/service/examples/helpdesk.ini \
    --customer-map $ex/service/examples/customers.csv \
    $ex/service/examples/helpdesk-tickets.csv

step "Field service: work orders (missed: nobody came within the promised window)"
ad vb-field --mapping $ex/field/examples/field.ini --as-of 2026-11-24T12:00:00Z \
    $ex/field/examples/work-orders.csv

step "Finance: invoices, overdue as of 24 Nov"
ad vb-finance --mapping $ex/finance/examples/finance.ini --as-of 2026-11-24 \
    $ex/finance/examples/invoices.csv

step "Sales: real orders (an excerpt of the UCI online-retail export)"
ad vb-sales --preset online-retail tests/data/online-retail-excerpt.csv \
    2>"$tmp/sales.err"
echo "(guest orders have no customer: each line is reported, and counted)"
head -n 2 "$tmp/sales.err"
echo "..."
tail -n 1 "$tmp/sales.err"

step "The customer's own preference: C-1002 withdraws SMS consent (voicebus publish)"
cat >"$tmp/consent.jsonl" <<'JSONL'
{"id":"pref-c1002-sms-withdrawn","source":"customer","type":"consent.withdrawn","customer":"C-1002","time":"2026-11-20T18:22:00Z","data":{"channel":"sms"}}
JSONL
cat "$tmp/consent.jsonl"
show "voicebus publish consent.jsonl"
vb publish "$tmp/consent.jsonl"

# The broker adds events of its own: a suppression.changed each time a
# customer's gate decisions change.
last_seq=$(vb stats --json | sed -n 's/.*"last_seq":\([0-9]*\).*/\1/p')

step "What voicebus tail printed: $last_seq events (the last 5 shown; seq and recorded added by the broker)"
wait_for 20 "voicebus tail to print $last_seq events" tail_has "$last_seq"
tail -n 5 "$tmp/tail.jsonl"

step "Replay one customer's history across the silos"
show "voicebus replay --customer C-1001 --type complaint."
vb replay --customer C-1001 --type complaint.
show "voicebus replay --customer C-1001 --type visit."
vb replay --customer C-1001 --type visit.

step "Broker statistics"
show "voicebus stats"
vb stats

step "Run the service desk's import again: every id is known, nothing new is stored"
ad vb-service --mapping $ex/service/examples/helpdesk.ini \
    --customer-map $ex/service/examples/customers.csv \
    $ex/service/examples/helpdesk-tickets.csv
echo "voicebus tail still shows $(wc -l <"$tmp/tail.jsonl") events"

# gate exits 0 for allow and 1 for block, as grep does: keep going on 1.
gate() {
	show "voicebus gate $*"
	vb gate "$@" || [ $? -eq 1 ]
}

# The same, where the demo's data decide the answer: $1 is the exit
# status it must have (0: allowed, 1: blocked).
gate_must() {
	local want=$1 rc=0
	shift
	show "voicebus gate $*"
	vb gate "$@" || rc=$?
	[ "$rc" -eq "$want" ] ||
	    die "voicebus gate $* exited with $rc, not $want ($([ "$want" -eq 1 ] && echo blocked || echo allowed))"
}

step "Marketing asks before an upsell email to C-1001 (Anna Berg)"
gate_must 1 --customer C-1001 --purpose upsell --channel email
echo "=> blocked, with every reason: her complaint T-4411 was resolved on 22 Nov, and its"
echo "   14-day cool-off runs until 6 Dec (from then on the second reason alone blocks);"
echo "   invoice INV-9003, due on 14 Nov, is overdue.  The technician of WO-7703 came late"
echo "   but completed the visit, so no missed-visit reason.  Marketing sees rules and"
echo "   event ids, never the complaint text."

step "A service message to the same customer is allowed"
gate_must 0 --customer C-1001 --purpose service --channel email

step "C-1002 has an open complaint: upsell blocked; SMS also blocked by consent"
gate_must 1 --customer C-1002 --purpose upsell --channel sms

step "What the gate knows of C-1001, and every decision"
show "voicebus customer C-1001"
vb customer C-1001

step "An auditor asks: could C-1001 have been upsold on 1 Nov?"
gate --customer C-1001 --purpose upsell --channel email --at 2026-11-01T12:00:00Z

step "The suppression list a sending platform imports"
show "voicebus suppressions --channel email --purpose upsell"
vb suppressions --channel email --purpose upsell

step "A campaign's audience through the gate, reserving each send"
cat >"$tmp/audience.csv" <<'CSV'
customer,name,email
C-1001,"Berg, Anna",anna.berg@example.com
C-1002,"Osei, J.",j.osei@example.org
13047,"Retail customer 13047",c13047@example.com
17850,"Retail customer 17850",c17850@example.com
CSV
cat "$tmp/audience.csv"
show "voicebus filter --purpose promotion --channel email --record xmas-2026 --blocked blocked.csv < audience.csv"
vb filter --purpose promotion --channel email --record xmas-2026 \
    --blocked "$tmp/blocked.csv" <"$tmp/audience.csv" >"$tmp/sendable.csv" ||
    [ $? -eq 2 ]
echo "--- sendable.csv"
cat "$tmp/sendable.csv"
echo "--- blocked.csv"
cat "$tmp/blocked.csv"
grep -q '^C-1002,' "$tmp/blocked.csv" ||
    die "filter did not block C-1002, whose complaint is open"
grep -q '^C-1002,' "$tmp/sendable.csv" &&
    die "filter let C-1002 through, whose complaint is open"

step "Stop: voicebus tail, then voicebusd with SIGTERM (drains, exits 0)"
kill -TERM "$tail_pid"
wait "$tail_pid" 2>/dev/null || true
tail_pid=
kill -TERM "$broker_pid"
rc=0
wait "$broker_pid" || rc=$?
broker_pid=
echo "voicebusd exited with status $rc; its log:"
cat "$tmp/voicebusd.log"
[ "$rc" -eq 0 ] || die "voicebusd exited with status $rc after SIGTERM"

step "Done: the temporary directory $tmp is removed"
