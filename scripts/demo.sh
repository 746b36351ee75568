#!/usr/bin/env bash
# The voicebus demo, the README's first command.
#
# Installs the dependencies, builds into build/, then runs a broker on a
# temporary data directory with ipc:// sockets in that directory (so it never
# collides with a broker already running on the default ports), publishes a
# complaint and a few orders, and shows them arriving in `voicebus tail` and
# in `voicebus replay`.  Everything it starts and writes is removed on exit.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> %s\n' "$*"; }
show() { printf '$ %s\n' "$*"; }
die() {
	printf 'demo: %s\n' "$*" >&2
	exit 1
}

step "Dependencies (scripts/deps.sh)"
scripts/deps.sh

step "Build voicebusd and voicebus into build/"
cmake -S . -B build
# Only the two programs the demo runs; .ci/run builds and runs the tests.
cmake --build build -j"$(nproc)" --target voicebusd voicebus

bin=$PWD/build/bin
for prog in voicebusd voicebus; do
	[ -x "$bin/$prog" ] || die "build/bin/$prog is missing after the build"
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

# What the silos' adapters would publish: a complaint from the service desk,
# orders from sales, an overdue invoice from finance, a consent change.
cat >"$tmp/events.jsonl" <<'JSONL'
{"id":"zd-4411-opened","source":"service","type":"complaint.opened","customer":"C-1001","time":"2026-11-20T09:12:00Z","data":{"case":"T-4411","severity":"high","summary":"no sound from headphones","channel":"phone"}}
{"id":"so-20931-placed","source":"sales","type":"order.placed","customer":"C-1001","time":"2026-11-14T16:40:00Z","data":{"order":"SO-20931","amount":"139.50","currency":"GBP","items":1}}
{"id":"so-20977-placed","source":"sales","type":"order.placed","customer":"C-1002","time":"2026-11-18T11:05:00Z","data":{"order":"SO-20977","amount":"24.99","currency":"GBP","items":2}}
{"id":"so-21002-placed","source":"sales","type":"order.placed","customer":"C-1001","time":"2026-11-21T08:30:00Z","data":{"order":"SO-21002","amount":"12.00","currency":"GBP","items":1}}
{"id":"inv-5530-overdue","source":"finance","type":"invoice.overdue","customer":"C-1002","time":"2026-11-19T07:00:00Z","data":{"invoice":"INV-5530","amount":"89.00","currency":"GBP","due":"2026-11-05T00:00:00Z"}}
{"id":"consent-c1002-sms-withdrawn","source":"customer","type":"consent.withdrawn","customer":"C-1002","time":"2026-11-20T18:22:00Z","data":{"channel":"sms","purpose":"promotion"}}
JSONL
nevents=$(wc -l <"$tmp/events.jsonl")

step "Publish $nevents events"
cat "$tmp/events.jsonl"
show "voicebus publish events.jsonl"
vb publish "$tmp/events.jsonl"

# The broker adds events of its own: a suppression.changed each time a
# customer's gate decisions change (the complaint, the overdue invoice).
last_seq=$(vb stats --json | sed -n 's/.*"last_seq":\([0-9]*\).*/\1/p')

step "What voicebus tail printed (seq and recorded added by the broker)"
wait_for 20 "voicebus tail to print $last_seq events" tail_has "$last_seq"
cat "$tmp/tail.jsonl"

step "Replay one customer's history"
show "voicebus replay --customer C-1001"
vb replay --customer C-1001

step "Replay by type prefix"
show "voicebus replay --type order."
vb replay --type order.

step "Broker statistics"
show "voicebus stats"
vb stats

step "Publish the same file again: every id is known, nothing new is stored"
show "voicebus publish events.jsonl"
vb publish "$tmp/events.jsonl"
# Duplicates are acknowledged, not stored again, and not published again.
echo "voicebus tail shows $(wc -l <"$tmp/tail.jsonl") events"

# gate exits 0 for allow and 1 for block, as grep does: keep going on 1.
gate() {
	show "voicebus gate $*"
	vb gate "$@" || [ $? -eq 1 ]
}

step "Marketing asks before an upsell email to C-1001"
gate --customer C-1001 --purpose upsell --channel email
echo "=> blocked: complaint T-4411 is open (marketing sees the rule and the event, never the complaint text)"

step "A service message to the same customer is allowed"
gate --customer C-1001 --purpose service --channel email

step "What the gate knows of C-1001, and every decision"
show "voicebus customer C-1001"
vb customer C-1001

step "The service desk resolves the complaint: upsell stays blocked for the 14-day cool-off"
printf '%s\n' '{"id":"zd-4411-resolved","source":"service","type":"complaint.resolved","customer":"C-1001","time":"2026-11-22T15:00:00Z","data":{"case":"T-4411","resolution":"replaced"}}' >"$tmp/resolved.jsonl"
vb publish "$tmp/resolved.jsonl"
gate --customer C-1001 --purpose upsell --channel email

step "An auditor asks: could C-1001 have been upsold on 19 Nov?"
gate --customer C-1001 --purpose upsell --channel email --at 2026-11-19T12:00:00Z

step "The suppression list a sending platform imports"
show "voicebus suppressions --channel email"
vb suppressions --channel email

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
