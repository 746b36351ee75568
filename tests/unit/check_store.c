/* Unit tests of broker/vb_store: the LMDB log, its indexes and counters.
 * Every test opens its own store in a directory of its own under a root
 * that the tcase's unchecked fixture removes. */
#include <lmdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "vb_buf.h"
#include "vb_error.h"
#include "vb_event.h"
#include "vb_pending.h"
#include "vb_state.h"
#include "vb_store.h"
#include "vb_store_impl.h"
#include "vb_time.h"
#include "vb_wire.h"
#include "vb_test.h"
#include "vb_test_lmdb.h"
#include "vb_test_store.h"

#define MiB (1024ULL * 1024)
#define GiB (1024 * MiB)
#define RECORDED "2026-11-20T09:12:01.000500Z"

/* ---- building events ---- */

/* The JSON of a valid event of type; pad bytes of padding in an attribute. */
static void
event_json(char *out, size_t len, const char *id, const char *type,
    const char *customer, const char *time, size_t pad)
{
	static const struct {
		const char *prefix, *source, *data;
	} fam[] = {
		{ "complaint.", "service", "{\"case\":\"T-1\"}" },
		{ "visit.", "field", "{\"visit\":\"V-1\"}" },
		{ "order.", "sales", "{\"order\":\"O-1\",\"amount\":\"10.00\"}" },
		{ "invoice.", "finance", "{\"invoice\":\"I-1\"}" },
		{ "consent.", "customer", "{\"channel\":\"email\"}" },
		{ "message.", "marketing",
		  "{\"channel\":\"email\",\"purpose\":\"upsell\",\"campaign\":\"c\"}" },
	};
	size_t f;
	int n;
	for (f = 0; f < sizeof(fam) / sizeof(fam[0]); f++)
		if (strncmp(type, fam[f].prefix, strlen(fam[f].prefix)) == 0)
			break;
	ck_assert_uint_lt(f, sizeof(fam) / sizeof(fam[0]));
	n = snprintf(out, len, "{\"id\":\"%s\",\"source\":\"%s\",\"type\":\"%s\","
	    "\"customer\":\"%s\",\"time\":\"%s\",\"data\":%s,\"attributes\":{\"pad\":\"",
	    id, fam[f].source, type, customer, time, fam[f].data);
	ck_assert_uint_lt((size_t)n + pad + 4, len);
	memset(out + n, 'p', pad);
	snprintf(out + n + pad, len - (size_t)n - pad, "\"}}");
}

/* A batch of events for one vb_store_append, and what keeps them alive. */
typedef struct {
	vb_event **evs;
	vb_buf *pbs;
	vb_store_item *items;
	size_t n, cap;
} batch;

static void
batch_add_json(batch *b, const char *json)
{
	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 16;
		b->evs = realloc(b->evs, b->cap * sizeof(*b->evs));
		b->pbs = realloc(b->pbs, b->cap * sizeof(*b->pbs));
		b->items = realloc(b->items, b->cap * sizeof(*b->items));
		ck_assert(b->evs && b->pbs && b->items);
	}
	vb_event *ev = vbt_event(json);
	vb_buf *pb = &b->pbs[b->n];
	vb_store_item *it = &b->items[b->n];
	memset(pb, 0, sizeof(*pb));
	ck_assert_int_eq(vb_event_to_pb_canonical(ev, pb), 0);
	memset(it, 0, sizeof(*it));
	it->pb = pb->data;
	it->pb_len = pb->len;
	it->id = vb_event_id(ev);
	it->customer = vb_event_customer(ev);
	it->type = vb_event_type(ev);
	it->source = vb_event_source(ev);
	b->evs[b->n++] = ev;
}

static void
batch_add(batch *b, const char *id, const char *type, const char *customer,
    const char *time, size_t pad)
{
	char *json = malloc(pad + 1024);
	ck_assert_ptr_nonnull(json);
	event_json(json, pad + 1024, id, type, customer, time, pad);
	batch_add_json(b, json);
	free(json);
}

static void
batch_free(batch *b)
{
	for (size_t i = 0; i < b->n; i++) {
		vb_event_free(b->evs[i]);
		vb_buf_free(&b->pbs[i]);
	}
	free(b->evs);
	free(b->pbs);
	free(b->items);
	memset(b, 0, sizeof(*b));
}

static int
batch_append(vb_store *st, batch *b, vb_buf *stored)
{
	vb_buf tmp = { 0 };
	int rv = vb_store_append(st, b->items, b->n, RECORDED, stored ? stored : &tmp, NULL);
	vb_buf_free(&tmp);
	/* As the writer does before it answers (vb_writer_submit). */
	if (rv == 0)
		rv = vb_store_sync(st);
	return rv;
}

/* ---- opening ---- */

static vb_store *
open_store_opts(const char *dir, const vb_store_opts *o)
{
	vb_store *st = NULL;
	int rv = vb_store_open(dir, o, &st);
	ck_assert_msg(rv == 0, "vb_store_open(%s) = %d (%s)", dir, rv, vb_strerror(rv));
	ck_assert_ptr_nonnull(st);
	return st;
}

static vb_store *
open_store(const char *dir, uint64_t map_size, uint64_t map_size_max)
{
	vb_store_opts o = { .map_size = map_size, .map_size_max = map_size_max };
	return open_store_opts(dir, &o);
}

/* Open dir with its log going to cap (through log, which must outlive
 * the store). */
static vb_store *
open_store_logged(const char *dir, vbt_capture *cap, vb_log *log)
{
	vb_log_init(log, vbt_capture_open(cap), "test", VB_LOG_INFO);
	vb_store_opts o = { .map_size = 16 * MiB, .map_size_max = 1 * GiB, .log = log };
	return open_store_opts(dir, &o);
}

static vb_store *
fresh_store(char *dir, size_t dirlen)
{
	vbt_mkdtemp(dir, dirlen);
	return open_store(dir, 16 * MiB, 1 * GiB);
}

/* ---- replaying ---- */

typedef struct {
	uint64_t *seqs;
	size_t n, cap;
	size_t stop_after; /* 0: never stop */
	size_t bytes;
} got;

static int
collect_cb(void *arg, uint64_t seq, const uint8_t *p, size_t len)
{
	got *g = arg;
	vb_event_peek pk;
	ck_assert_int_eq(vb_event_peek_pb(p, len, &pk), 0);
	ck_assert_uint_eq(pk.seq, seq);
	if (g->n == g->cap) {
		g->cap = g->cap ? g->cap * 2 : 64;
		g->seqs = realloc(g->seqs, g->cap * sizeof(*g->seqs));
		ck_assert_ptr_nonnull(g->seqs);
	}
	g->seqs[g->n++] = seq;
	g->bytes += len;
	return g->stop_after && g->n == g->stop_after;
}

static void
got_free(got *g)
{
	free(g->seqs);
	memset(g, 0, sizeof(*g));
}

/* Replay f to its end in pages; checks each page's promises. */
static void
replay_all(vb_store *st, const vb_store_filter *f0, size_t limit,
    size_t max_bytes, size_t scan_max, got *g, size_t *pages)
{
	vb_store_filter f = *f0;
	uint64_t next = 0, last = 0, prev_next = 0;
	int done = 0;
	*pages = 0;
	while (!done) {
		size_t before = g->n;
		int rv = vb_store_replay(st, &f, limit, max_bytes, scan_max, collect_cb, g,
		    &next, &done, &last);
		ck_assert_int_eq(rv, 0);
		ck_assert_uint_eq(last, vb_store_durable_seq(st));
		ck_assert_uint_le(g->n - before, limit);
		/* Seq order, each page after the last. */
		for (size_t i = before; i < g->n; i++) {
			ck_assert_uint_ge(g->seqs[i], f.from_seq ? f.from_seq : 1);
			ck_assert_uint_lt(g->seqs[i], next);
			if (i > 0)
				ck_assert_uint_gt(g->seqs[i], g->seqs[i - 1]);
		}
		if (!done) {
			/* A page that is not the last makes progress. */
			ck_assert_uint_gt(next, f.from_seq ? f.from_seq : 1);
			ck_assert_uint_gt(next, prev_next);
		}
		prev_next = next;
		f.from_seq = next;
		(*pages)++;
		ck_assert_uint_lt(*pages, 100000);
	}
}

/* The data set of the replay tests: n events, seq i+1 for event i. */
typedef struct {
	char id[32], customer[8], type[32], time[32];
	int64_t us;
} meta;

static const char *const ds_types[] = { "complaint.opened", "complaint.resolved",
	"visit.missed", "order.placed", "invoice.overdue" };

#define DS_N 40

/* dataset() writes the pending customer index entries into the index
 * after the append that ends with event index ds_fold_at (-1: never). */
static int ds_fold_at = -1;

static void
dataset(vb_store *st, meta *m)
{
	batch b = { 0 };
	for (int i = 0; i < DS_N; i++) {
		int h = i + 1;
		snprintf(m[i].id, sizeof(m[i].id), "ev-%03d", i + 1);
		snprintf(m[i].customer, sizeof(m[i].customer), "C%d", i % 3);
		snprintf(m[i].type, sizeof(m[i].type), "%s", ds_types[i % 5]);
		snprintf(m[i].time, sizeof(m[i].time), "2026-11-%02dT%02d:00:00Z",
		    1 + h / 24, h % 24);
		ck_assert_int_eq(vb_time_parse(m[i].time, &m[i].us), 0);
		batch_add(&b, m[i].id, m[i].type, m[i].customer, m[i].time, (size_t)i * 10);
		/* Several appends of several sizes, as the writer does. */
		if (i == 0 || i == 6 || i == 25 || i == DS_N - 1) {
			ck_assert_int_eq(batch_append(st, &b, NULL), 0);
			batch_free(&b);
			if (i == ds_fold_at)
				ck_assert_int_eq(vb_store_fold(st), 0);
		}
	}
	ck_assert_uint_eq(vb_store_last_seq(st), DS_N);
}

static int
meta_matches(const meta *m, const vb_store_filter *f, uint64_t seq)
{
	if (seq < (f->from_seq ? f->from_seq : 1))
		return 0;
	if (f->to_seq && seq > f->to_seq)
		return 0;
	if (f->customer && f->customer[0] && strcmp(f->customer, m->customer) != 0)
		return 0;
	if (f->type_prefix && strncmp(m->type, f->type_prefix, strlen(f->type_prefix)) != 0)
		return 0;
	if (f->has_since && m->us < f->since_us)
		return 0;
	if (f->has_until && m->us >= f->until_us)
		return 0;
	return 1;
}

/* Check that replaying f (in one page, and in pages of every small size)
 * gives exactly the events of m that match it. */
static size_t
check_filter(vb_store *st, const meta *m, const vb_store_filter *f)
{
	uint64_t want[DS_N];
	size_t nwant = 0, pages;
	for (int i = 0; i < DS_N; i++)
		if (meta_matches(&m[i], f, (uint64_t)i + 1))
			want[nwant++] = (uint64_t)i + 1;
	for (size_t limit = 1; limit <= DS_N + 1; limit += (limit < 5 ? 1 : 18)) {
		got g = { 0 };
		replay_all(st, f, limit, SIZE_MAX, SIZE_MAX, &g, &pages);
		ck_assert_msg(g.n == nwant, "limit %zu: %zu events, want %zu", limit, g.n, nwant);
		for (size_t i = 0; i < nwant; i++)
			ck_assert_uint_eq(g.seqs[i], want[i]);
		if (limit > DS_N)
			ck_assert_uint_eq(pages, 1); /* everything in one page */
		got_free(&g);
	}
	return nwant;
}

/* ---- tests ---- */

START_TEST(open_empty)
{
	char dir[1024];
	vb_store *st = fresh_store(dir, sizeof(dir));
	vb_store_filter f = { 0 };
	got g = { 0 };
	uint64_t next = 0, last = 7;
	int done = 0;
	vb_stats s;

	ck_assert_uint_eq(vb_store_last_seq(st), 0);
	ck_assert_int_eq(vb_store_replay(st, &f, 100, SIZE_MAX, SIZE_MAX, collect_cb, &g,
	    &next, &done, &last), 0);
	ck_assert_uint_eq(g.n, 0);
	ck_assert_int_eq(done, 1);
	ck_assert_uint_eq(last, 0);
	ck_assert_int_eq(vb_store_stats(st, &s), 0);
	ck_assert_uint_eq(s.events, 0);
	ck_assert_uint_eq(s.last_seq, 0);
	ck_assert_uint_eq(s.customers, 0);
	ck_assert_uint_eq(s.ntypes, 0);
	ck_assert_uint_eq(s.nsources, 0);
	vb_store_stats_free(&s);
	vb_store_close(st);
	vb_store_close(NULL);
}
END_TEST

START_TEST(open_creates_dir)
{
	char dir[1024], sub[1100];
	struct stat sb;
	vbt_mkdtemp(dir, sizeof(dir));
	snprintf(sub, sizeof(sub), "%s/new", dir);
	vb_store *st = open_store(sub, 16 * MiB, GiB);
	ck_assert_int_eq(stat(sub, &sb), 0);
	ck_assert(S_ISDIR(sb.st_mode));
	vb_store_close(st);
}
END_TEST

START_TEST(open_bad_dir)
{
	char dir[1024], path[1100];
	vb_store_opts o = { .map_size = 16 * MiB, .map_size_max = GiB };
	vb_store *st = NULL;
	vbt_mkdtemp(dir, sizeof(dir));
	/* A directory under a regular file cannot be made. */
	vbt_write_file(dir, "file", "x", path, sizeof(path));
	strcat(path, "/sub");
	ck_assert_int_lt(vb_store_open(path, &o, &st), 0);
	ck_assert_ptr_null(st);
}
END_TEST

START_TEST(append_assigns_seq)
{
	char dir[1024];
	vb_store *st = fresh_store(dir, sizeof(dir));
	batch b = { 0 };
	vb_buf stored = { 0 };

	for (int i = 0; i < 5; i++) {
		char id[16];
		snprintf(id, sizeof(id), "a-%d", i);
		batch_add(&b, id, "complaint.opened", "C-1", "2026-11-20T09:12:00Z", 0);
	}
	ck_assert_int_eq(vb_buf_append_str(&stored, "prefix"), 0);
	ck_assert_int_eq(batch_append(st, &b, &stored), 0);
	for (size_t i = 0; i < 5; i++) {
		vb_store_item *it = &b.items[i];
		vb_event *ev = NULL;
		ck_assert_uint_eq(it->seq, i + 1);
		ck_assert_int_eq(it->duplicate, 0);
		/* The bytes stored: the canonical event, then seq and recorded. */
		ck_assert_uint_ge(it->stored_off, 6);
		ck_assert_uint_le(it->stored_off + it->stored_len, stored.len);
		ck_assert_uint_gt(it->stored_len, it->pb_len);
		ck_assert_mem_eq(stored.data + it->stored_off, it->pb, it->pb_len);
		ck_assert_int_eq(vb_event_from_pb(stored.data + it->stored_off,
		    it->stored_len, &ev), 0);
		ck_assert_uint_eq(vb_event_seq(ev), i + 1);
		ck_assert_str_eq(vb_event_recorded(ev), RECORDED);
		ck_assert_str_eq(vb_event_id(ev), it->id);
		vb_event_free(ev);
	}
	ck_assert_mem_eq(stored.data, "prefix", 6);
	ck_assert_uint_eq(vb_store_last_seq(st), 5);
	batch_free(&b);

	/* The next call goes on from there. */
	for (int i = 0; i < 3; i++) {
		char id[16];
		snprintf(id, sizeof(id), "b-%d", i);
		batch_add(&b, id, "order.placed", "C-2", "2026-11-20T09:12:00Z", 0);
	}
	ck_assert_int_eq(batch_append(st, &b, NULL), 0);
	for (size_t i = 0; i < 3; i++)
		ck_assert_uint_eq(b.items[i].seq, 6 + i);
	ck_assert_uint_eq(vb_store_last_seq(st), 8);
	batch_free(&b);

	/* Nothing to append is no error and no seq. */
	ck_assert_int_eq(vb_store_append(st, NULL, 0, RECORDED, &stored, NULL), 0);
	ck_assert_uint_eq(vb_store_last_seq(st), 8);
	vb_buf_free(&stored);
	vb_store_close(st);
}
END_TEST

START_TEST(stored_bytes_in_replay)
{
	char dir[1024];
	vb_store *st = fresh_store(dir, sizeof(dir));
	size_t n;
	const vbt_sample *smp = vbt_samples(&n);
	batch b = { 0 };
	for (size_t i = 0; i < n; i++)
		batch_add_json(&b, smp[i].json);
	ck_assert_int_eq(batch_append(st, &b, NULL), 0);

	vb_store_filter f = { 0 };
	got g = { 0 };
	size_t pages;
	replay_all(st, &f, 1000, SIZE_MAX, SIZE_MAX, &g, &pages);
	ck_assert_uint_eq(g.n, n);
	/* Read them again, this time decoding each in full. */
	for (size_t i = 0; i < n; i++) {
		vb_store_filter one = { .from_seq = i + 1, .to_seq = i + 1 };
		uint64_t next, last;
		int done;
		got g1 = { 0 };
		ck_assert_int_eq(vb_store_replay(st, &one, 10, SIZE_MAX, SIZE_MAX,
		    collect_cb, &g1, &next, &done, &last), 0);
		ck_assert_uint_eq(g1.n, 1);
		ck_assert_uint_eq(g1.seqs[0], i + 1);
		ck_assert_int_eq(done, 1);
		got_free(&g1);
	}
	got_free(&g);
	batch_free(&b);
	vb_store_close(st);
}
END_TEST

/* Replay callback that decodes events and checks them against samples. */
static int
decode_cb(void *arg, uint64_t seq, const uint8_t *p, size_t len)
{
	const vbt_sample *smp = arg;
	vb_event *ev = NULL;
	vb_buf j = { 0 };
	ck_assert_int_eq(vb_event_from_pb(p, len, &ev), 0);
	ck_assert_uint_eq(vb_event_seq(ev), seq);
	ck_assert_str_eq(vb_event_recorded(ev), RECORDED);
	ck_assert_str_eq(vb_event_type(ev), smp[seq - 1].type);
	ck_assert_str_eq(vb_event_payload_type(ev), smp[seq - 1].type);
	/* Without what the broker added, it prints as it was published. */
	vb_event_set_seq(ev, 0);
	ck_assert_int_eq(vb_event_set_recorded(ev, NULL), 0);
	ck_assert_int_eq(vb_event_to_json(ev, &j), 0);
	vb_event *orig = vbt_event(smp[seq - 1].json);
	vb_buf j2 = { 0 };
	ck_assert_int_eq(vb_event_to_json(orig, &j2), 0);
	ck_assert_str_eq((char *)j.data, (char *)j2.data);
	vb_event_free(orig);
	vb_event_free(ev);
	vb_buf_free(&j);
	vb_buf_free(&j2);
	return 0;
}

START_TEST(stored_events_decode_whole)
{
	char dir[1024];
	vb_store *st = fresh_store(dir, sizeof(dir));
	size_t n;
	const vbt_sample *smp = vbt_samples(&n);
	batch b = { 0 };
	vb_store_filter f = { 0 };
	uint64_t next, last;
	int done;
	for (size_t i = 0; i < n; i++)
		batch_add_json(&b, smp[i].json);
	ck_assert_int_eq(batch_append(st, &b, NULL), 0);
	ck_assert_int_eq(vb_store_replay(st, &f, 1000, SIZE_MAX, SIZE_MAX, decode_cb,
	    (void *)smp, &next, &done, &last), 0);
	ck_assert_int_eq(done, 1);
	ck_assert_uint_eq(next, n + 1);
	batch_free(&b);
	vb_store_close(st);
}
END_TEST

START_TEST(duplicate_in_later_call)
{
	char dir[1024];
	vb_store *st = fresh_store(dir, sizeof(dir));
	batch b = { 0 };
	vb_buf stored = { 0 };
	vb_stats s;

	batch_add(&b, "A", "complaint.opened", "C-1", "2026-11-20T09:12:00Z", 0);
	batch_add(&b, "B", "complaint.opened", "C-1", "2026-11-20T09:12:00Z", 0);
	ck_assert_int_eq(batch_append(st, &b, NULL), 0);
	batch_free(&b);

	/* B again (other content, same id), then C. */
	batch_add(&b, "B", "order.placed", "C-9", "2026-11-21T09:12:00Z", 100);
	batch_add(&b, "C", "complaint.opened", "C-1", "2026-11-20T09:12:00Z", 0);
	ck_assert_int_eq(batch_append(st, &b, &stored), 0);
	ck_assert_int_eq(b.items[0].duplicate, 1);
	ck_assert_uint_eq(b.items[0].seq, 2);
	ck_assert_int_eq(b.items[1].duplicate, 0);
	ck_assert_uint_eq(b.items[1].seq, 3);
	/* Only C's bytes were stored, behind their one-byte varint length. */
	ck_assert_uint_eq(stored.len, 1 + b.items[1].stored_len);
	ck_assert_uint_eq(b.items[1].stored_off, 1);
	ck_assert_uint_eq(vb_store_last_seq(st), 3);
	batch_free(&b);

	/* All duplicates: nothing stored, last_seq unchanged. */
	batch_add(&b, "A", "complaint.opened", "C-1", "2026-11-20T09:12:00Z", 0);
	batch_add(&b, "C", "complaint.opened", "C-1", "2026-11-20T09:12:00Z", 0);
	vb_buf_reset(&stored);
	ck_assert_int_eq(batch_append(st, &b, &stored), 0);
	ck_assert_int_eq(b.items[0].duplicate, 1);
	ck_assert_uint_eq(b.items[0].seq, 1);
	ck_assert_int_eq(b.items[1].duplicate, 1);
	ck_assert_uint_eq(b.items[1].seq, 3);
	ck_assert_uint_eq(stored.len, 0);
	ck_assert_uint_eq(vb_store_last_seq(st), 3);
	batch_free(&b);

	/* The stored B is the first one, and no counter saw the second. */
	ck_assert_int_eq(vb_store_stats(st, &s), 0);
	ck_assert_uint_eq(s.events, 3);
	ck_assert_uint_eq(s.customers, 1);
	ck_assert_uint_eq(s.ntypes, 1);
	ck_assert_str_eq(s.types[0].name, "complaint.opened");
	ck_assert_uint_eq(s.types[0].count, 3);
	vb_store_stats_free(&s);
	vb_store_filter f = { .customer = "C-9" };
	got g = { 0 };
	size_t pages;
	replay_all(st, &f, 10, SIZE_MAX, SIZE_MAX, &g, &pages);
	ck_assert_uint_eq(g.n, 0);
	got_free(&g);
	vb_buf_free(&stored);
	vb_store_close(st);
}
END_TEST

/* An id hashed ahead by vb_store_prepare (on the submitter's thread) is
 * the same id as one the append hashes itself: repeated either way, in
 * memory or folded into the tree, it is a duplicate of the first. */
START_TEST(prepared_ids_are_the_same_ids)
{
	char dir[1024], id[32];
	vb_store *st = fresh_store(dir, sizeof(dir));
	batch b = { 0 };

	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 200; i++) {
			snprintf(id, sizeof(id), "P-%d", i);
			batch_add(&b, id, "order.placed", "C-1", "2026-11-20T09:12:00Z", 0);
		}
		/* Round 0 stores them, half hashed ahead; rounds 1 (in memory)
		 * and 2 (after a fold) repeat them, the other half hashed ahead. */
		for (size_t i = 0; i < b.n; i++)
			if ((int)(i % 2) == (round % 2)) {
				vb_store_prepare(st, &b.items[i], 1);
				/* The hash the writer prefetches the
				 * customer's slot by. */
				ck_assert_uint_eq(b.items[i].cust_hash,
				    vb_pending_hash(b.items[i].customer));
			}
		ck_assert_int_eq(batch_append(st, &b, NULL), 0);
		for (size_t i = 0; i < b.n; i++) {
			ck_assert_int_eq(b.items[i].duplicate, round > 0);
			ck_assert_uint_eq(b.items[i].seq, i + 1);
		}
		batch_free(&b);
		if (round == 1)
			ck_assert_int_eq(vb_store_fold(st), 0);
	}
	ck_assert_uint_eq(vb_store_last_seq(st), 200);
	vb_store_close(st);
}
END_TEST

START_TEST(duplicate_in_same_call)
{
	char dir[1024];
	vb_store *st = fresh_store(dir, sizeof(dir));
	batch b = { 0 };
	vb_buf stored = { 0 };

	batch_add(&b, "A", "complaint.opened", "C-1", "2026-11-20T09:12:00Z", 0);
	batch_add(&b, "B", "visit.missed", "C-2", "2026-11-20T09:12:00Z", 0);
	batch_add(&b, "A", "order.placed", "C-3", "2026-11-22T09:12:00Z", 50);
	batch_add(&b, "B", "visit.missed", "C-2", "2026-11-20T09:12:00Z", 0);
	batch_add(&b, "D", "visit.missed", "C-2", "2026-11-20T09:12:00Z", 0);
	ck_assert_int_eq(batch_append(st, &b, &stored), 0);
	ck_assert_uint_eq(b.items[0].seq, 1);
	ck_assert_int_eq(b.items[0].duplicate, 0);
	ck_assert_uint_eq(b.items[1].seq, 2);
	ck_assert_int_eq(b.items[1].duplicate, 0);
	ck_assert_uint_eq(b.items[2].seq, 1);
	ck_assert_int_eq(b.items[2].duplicate, 1);
	ck_assert_uint_eq(b.items[3].seq, 2);
	ck_assert_int_eq(b.items[3].duplicate, 1);
	ck_assert_uint_eq(b.items[4].seq, 3);
	ck_assert_int_eq(b.items[4].duplicate, 0);
	ck_assert_uint_eq(vb_store_last_seq(st), 3);
	/* Each stored event behind its (one-byte) varint length. */
	ck_assert_uint_eq(stored.len, 3 + b.items[0].stored_len + b.items[1].stored_len +
	    b.items[4].stored_len);

	/* What seq 1 holds is the first A. */
	vb_store_filter f = { 0 };
	got g = { 0 };
	size_t pages;
	replay_all(st, &f, 10, SIZE_MAX, SIZE_MAX, &g, &pages);
	ck_assert_uint_eq(g.n, 3);
	got_free(&g);
	f.customer = "C-3";
	replay_all(st, &f, 10, SIZE_MAX, SIZE_MAX, &g, &pages);
	ck_assert_uint_eq(g.n, 0);
	got_free(&g);
	f.customer = NULL;
	f.type_prefix = "order.";
	replay_all(st, &f, 10, SIZE_MAX, SIZE_MAX, &g, &pages);
	ck_assert_uint_eq(g.n, 0);
	got_free(&g);

	vb_stats s;
	ck_assert_int_eq(vb_store_stats(st, &s), 0);
	ck_assert_uint_eq(s.events, 3);
	ck_assert_uint_eq(s.customers, 2);
	vb_store_stats_free(&s);
	batch_free(&b);
	vb_buf_free(&stored);
	vb_store_close(st);
}
END_TEST

START_TEST(last_seq_persists)
{
	char dir[1024];
	vb_store *st = fresh_store(dir, sizeof(dir));
	batch b = { 0 };
	for (int i = 0; i < 4; i++) {
		char id[16];
		snprintf(id, sizeof(id), "p-%d", i);
		batch_add(&b, id, "invoice.overdue", "C-1", "2026-11-20T09:12:00Z", 0);
	}
	ck_assert_int_eq(batch_append(st, &b, NULL), 0);
	batch_free(&b);
	vb_store_close(st);

	st = open_store(dir, 16 * MiB, GiB);
	ck_assert_uint_eq(vb_store_last_seq(st), 4);
	/* Ids are remembered too. */
	batch_add(&b, "p-2", "invoice.overdue", "C-1", "2026-11-20T09:12:00Z", 0);
	batch_add(&b, "p-9", "invoice.paid", "C-1", "2026-11-20T09:12:00Z", 0);
	ck_assert_int_eq(batch_append(st, &b, NULL), 0);
	ck_assert_int_eq(b.items[0].duplicate, 1);
	ck_assert_uint_eq(b.items[0].seq, 3);
	ck_assert_int_eq(b.items[1].duplicate, 0);
	ck_assert_uint_eq(b.items[1].seq, 5);
	batch_free(&b);
	vb_store_close(st);

	/* And the counters. */
	st = open_store(dir, 16 * MiB, GiB);
	ck_assert_uint_eq(vb_store_last_seq(st), 5);
	vb_stats s;
	ck_assert_int_eq(vb_store_stats(st, &s), 0);
	ck_assert_uint_eq(s.events, 5);
	ck_assert_uint_eq(s.last_seq, 5);
	ck_assert_uint_eq(s.customers, 1);
	ck_assert_uint_eq(s.nsources, 1);
	ck_assert_str_eq(s.sources[0].name, "finance");
	ck_assert_uint_eq(s.sources[0].count, 5);
	vb_store_stats_free(&s);
	vb_store_close(st);
}
END_TEST

/* A commit is durable once the next commit has flushed (its meta page
 * goes with that flush) or after vb_store_sync; until then replay and
 * stats do not show it, for a crash of the host could still undo it and
 * give its seqs to other events. */
START_TEST(durable_by_next_commit_or_sync)
{
	char dir[1024];
	vb_store *st = fresh_store(dir, sizeof(dir));
	batch b = { 0 };
	vb_buf stored = { 0 };
	vb_stats stats;
	got g = { 0 };
	size_t pages;
	vb_store_filter all = { 0 };

	batch_add(&b, "d-1", "order.placed", "C-1", "2026-11-20T09:00:00Z", 0);
	ck_assert_int_eq(vb_store_append(st, b.items, b.n, RECORDED, &stored, NULL), 0);
	batch_free(&b);
	uint64_t c1 = vb_store_last_commit(st);
	ck_assert_uint_eq(vb_store_last_seq(st), 1);
	ck_assert(!vb_store_durable(st, c1));
	ck_assert_uint_eq(vb_store_durable_seq(st), 0);
	replay_all(st, &all, 100, SIZE_MAX, SIZE_MAX, &g, &pages);
	ck_assert_uint_eq(g.n, 0);
	got_free(&g);
	ck_assert_int_eq(vb_store_stats(st, &stats), 0);
	ck_assert_uint_eq(stats.last_seq, 0);
	vb_store_stats_free(&stats);

	/* The next commit's flush carries the first. */
	batch_add(&b, "d-2", "order.placed", "C-2", "2026-11-20T09:01:00Z", 0);
	ck_assert_int_eq(vb_store_append(st, b.items, b.n, RECORDED, &stored, NULL), 0);
	batch_free(&b);
	uint64_t c2 = vb_store_last_commit(st);
	ck_assert_uint_gt(c2, c1);
	ck_assert(vb_store_durable(st, c1));
	ck_assert(!vb_store_durable(st, c2));
	ck_assert_uint_eq(vb_store_durable_seq(st), 1);

	/* Only duplicates: no new commit, nothing flushed. */
	batch_add(&b, "d-2", "order.placed", "C-2", "2026-11-20T09:01:00Z", 0);
	ck_assert_int_eq(vb_store_append(st, b.items, b.n, RECORDED, &stored, NULL), 0);
	ck_assert(b.items[0].duplicate);
	batch_free(&b);
	ck_assert_uint_eq(vb_store_last_commit(st), c2);
	ck_assert(!vb_store_durable(st, c2));

	ck_assert_int_eq(vb_store_sync(st), 0);
	ck_assert(vb_store_durable(st, c2));
	ck_assert_uint_eq(vb_store_durable_seq(st), 2);
	replay_all(st, &all, 100, SIZE_MAX, SIZE_MAX, &g, &pages);
	ck_assert_uint_eq(g.n, 2);
	got_free(&g);
	vb_buf_free(&stored);
	vb_store_close(st);

	/* What a closed store committed is durable when it opens again. */
	st = open_store(dir, 16 * MiB, 1 * GiB);
	ck_assert_uint_eq(vb_store_durable_seq(st), 2);
	ck_assert(vb_store_durable(st, vb_store_last_commit(st)));
	vb_store_close(st);
}
END_TEST

START_TEST(second_open_is_busy)
{
	char dir[1024];
	vb_store *st = fresh_store(dir, sizeof(dir)), *st2 = NULL;
	vb_store_opts o = { .map_size = 16 * MiB, .map_size_max = GiB };
	batch b = { 0 };

	batch_add(&b, "x", "complaint.opened", "C-1", "2026-11-20T09:12:00Z", 0);
	ck_assert_int_eq(batch_append(st, &b, NULL), 0);
	ck_assert_int_eq(vb_store_open(dir, &o, &st2), VB_EBUSY);
	ck_assert_ptr_null(st2);
	/* The refused open did not disturb the first. */
	ck_assert_uint_eq(vb_store_last_seq(st), 1);
	batch_free(&b);
	batch_add(&b, "y", "complaint.opened", "C-1", "2026-11-20T09:12:00Z", 0);
	ck_assert_int_eq(batch_append(st, &b, NULL), 0);
	ck_assert_uint_eq(b.items[0].seq, 2);
	batch_free(&b);
	vb_store_close(st);
	/* Closed, it opens again. */
	st = open_store(dir, 16 * MiB, GiB);
	ck_assert_uint_eq(vb_store_last_seq(st), 2);
	vb_store_close(st);
}
END_TEST

START_TEST(replay_from_to)
{
	char dir[1024];
	vb_store *st = fresh_store(dir, sizeof(dir));
	meta m[DS_N];
	dataset(st, m);
	vb_store_filter f = { 0 };
	ck_assert_uint_eq(check_filter(st, m, &f), DS_N);
	f.from_seq = 1;
	ck_assert_uint_eq(check_filter(st, m, &f), DS_N);
	f.from_seq = 5;
	f.to_seq = 10;
	ck_assert_uint_eq(check_filter(st, m, &f), 6);
	f.from_seq = 7;
	f.to_seq = 7;
	ck_assert_uint_eq(check_filter(st, m, &f), 1);
	f.from_seq = 30;
	f.to_seq = 0;
	ck_assert_uint_eq(check_filter(st, m, &f), DS_N - 29);
	f.from_seq = DS_N;
	ck_assert_uint_eq(check_filter(st, m, &f), 1);
	f.from_seq = DS_N + 1;
	ck_assert_uint_eq(check_filter(st, m, &f), 0);
	f.from_seq = 1000;
	ck_assert_uint_eq(check_filter(st, m, &f), 0);
	f.from_seq = 0;
	f.to_seq = 3;
	ck_assert_uint_eq(check_filter(st, m, &f), 3);
	f.from_seq = 10;
	f.to_seq = 5; /* an empty range */
	ck_assert_uint_eq(check_filter(st, m, &f), 0);
	f.from_seq = 35;
	f.to_seq = 1000;
	ck_assert_uint_eq(check_filter(st, m, &f), DS_N - 34);
	vb_store_close(st);
}
END_TEST

START_TEST(replay_customer)
{
	char dir[1024];
	vb_store *st = fresh_store(dir, sizeof(dir));
	meta m[DS_N];
	dataset(st, m);
	vb_store_filter f = { .customer = "C1" };
	ck_assert_uint_eq(check_filter(st, m, &f), 13);
	f.customer = "C0"; /* seqs 1, 4, 7, ... 40 */
	ck_assert_uint_eq(check_filter(st, m, &f), 14);
	f.from_seq = 10;
	f.to_seq = 20;
	ck_assert_uint_eq(check_filter(st, m, &f), 4); /* seqs 10, 13, 16, 19 */
	f.from_seq = 11; /* between two of C0's events */
	ck_assert_uint_eq(check_filter(st, m, &f), 3);
	f.from_seq = 38;
	f.to_seq = 0;
	ck_assert_uint_eq(check_filter(st, m, &f), 1);
	f.from_seq = 41;
	ck_assert_uint_eq(check_filter(st, m, &f), 0);
	f.from_seq = 0;
	f.customer = "C9";
	ck_assert_uint_eq(check_filter(st, m, &f), 0);
	f.customer = "C"; /* a prefix of a customer is another customer */
	ck_assert_uint_eq(check_filter(st, m, &f), 0);
	f.customer = "";
	ck_assert_uint_eq(check_filter(st, m, &f), DS_N);
	vb_store_close(st);
}
END_TEST

/* A crash as the store sees it: a child process opens the store in dir,
 * appends the batch fill makes and exits without closing (no fold, no
 * last flush but the commit's own). */
static void
crash_after_append(const char *dir, void (*fill)(batch *b))
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		vb_store_opts o = { .map_size = 16 * MiB, .map_size_max = 1 * GiB };
		vb_store *cs = NULL;
		batch b = { 0 };
		if (vb_store_open(dir, &o, &cs) != 0)
			_exit(1);
		fill(&b);
		_exit(batch_append(cs, &b, NULL) == 0 ? 0 : 2);
	}
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
}

static void
late_events(batch *b)
{
	batch_add(b, "late-1", "order.placed", "C0", "2026-11-03T00:00:00Z", 0);
	batch_add(b, "late-2", "order.placed", "C7", "2026-11-03T00:00:00Z", 0);
	batch_add(b, "late-3", "complaint.opened", "C7", "2026-11-03T01:00:00Z", 0);
}

START_TEST(customer_index_deferred)
{
	char dir[1024];
	vb_store *st = fresh_store(dir, sizeof(dir));
	meta m[DS_N];
	vb_stats stats;
	uint64_t c, e, ch;
	vb_buf stored = { 0 };

	/* Seqs 1-26 in the index, 27-40 pending: one customer's replay
	 * spans both, in order, whatever the page size. */
	ds_fold_at = 25;
	dataset(st, m);
	ds_fold_at = -1;
	ck_assert_uint_eq(vb_store_pending(st), DS_N - 26);
	vb_store_filter f = { .customer = "C0" };
	ck_assert_uint_eq(check_filter(st, m, &f), 14);
	f.from_seq = 20;
	f.to_seq = 30;
	ck_assert_uint_eq(check_filter(st, m, &f), 3); /* 22, 25, 28 */
	f.from_seq = 27;
	f.to_seq = 0;
	ck_assert_uint_eq(check_filter(st, m, &f), 5); /* 28 ... 40 */
	ck_assert_int_eq(vb_store_stats(st, &stats), 0);
	ck_assert_uint_eq(stats.customers, 3);
	vb_store_stats_free(&stats);
	ck_assert_int_eq(vb_store_fold(st), 0);
	ck_assert_uint_eq(vb_store_pending(st), 0);
	f.from_seq = 0;
	ck_assert_uint_eq(check_filter(st, m, &f), 14);
	vb_store_close(st);

	/* A crash: entries never written to the index come back from the
	 * log at the next open. */
	crash_after_append(dir, late_events);
	st = open_store(dir, 16 * MiB, 1 * GiB);
	ck_assert_uint_eq(vb_store_pending(st), 3);
	got g = { 0 };
	size_t pages;
	vb_store_filter fc = { .customer = "C7" };
	replay_all(st, &fc, 1, SIZE_MAX, SIZE_MAX, &g, &pages);
	ck_assert_uint_eq(g.n, 2);
	ck_assert_uint_eq(g.seqs[0], DS_N + 2);
	ck_assert_uint_eq(g.seqs[1], DS_N + 3);
	got_free(&g);
	fc.customer = "C0";
	replay_all(st, &fc, 1000, SIZE_MAX, SIZE_MAX, &g, &pages);
	ck_assert_uint_eq(g.n, 15);
	ck_assert_uint_eq(g.seqs[14], DS_N + 1);
	got_free(&g);
	ck_assert_int_eq(vb_store_stats(st, &stats), 0);
	ck_assert_uint_eq(stats.customers, 4);
	vb_store_stats_free(&stats);
	/* The rebuild walks the index, which it completes first: it counts
	 * every event.  (This suite stores no facts, so states "differ".) */
	ck_assert_int_eq(vb_store_rebuild(st, 1800000000000000LL, &stored, &c, &e, &ch), 0);
	ck_assert_uint_eq(e, DS_N + 3);
	/* Pending now: only what the rebuild itself published. */
	ck_assert_uint_eq(vb_store_pending(st), vb_store_last_seq(st) - (DS_N + 3));
	vb_buf_free(&stored);
	vb_store_close(st);
}
END_TEST

START_TEST(replay_type_prefix)
{
	char dir[1024];
	vb_store *st = fresh_store(dir, sizeof(dir));
	meta m[DS_N];
	dataset(st, m);
	vb_store_filter f = { .type_prefix = "complaint." };
	ck_assert_uint_eq(check_filter(st, m, &f), 16);
	f.type_prefix = "complaint.opened";
	ck_assert_uint_eq(check_filter(st, m, &f), 8);
	f.type_prefix = "visit";
	ck_assert_uint_eq(check_filter(st, m, &f), 8);
	f.type_prefix = "invoice.overdue.more";
	ck_assert_uint_eq(check_filter(st, m, &f), 0);
	f.type_prefix = "consent.";
	ck_assert_uint_eq(check_filter(st, m, &f), 0);
	f.type_prefix = "";
	ck_assert_uint_eq(check_filter(st, m, &f), DS_N);
	f.type_prefix = "order.";
	f.from_seq = 10;
	f.to_seq = 30;
	ck_assert_uint_eq(check_filter(st, m, &f), 4); /* 14, 19, 24, 29 */
	vb_store_close(st);
}
END_TEST

START_TEST(replay_since_until)
{
	char dir[1024];
	vb_store *st = fresh_store(dir, sizeof(dir));
	meta m[DS_N];
	dataset(st, m);
	vb_store_filter f = { .has_since = 1, .since_us = m[9].us };
	ck_assert_uint_eq(check_filter(st, m, &f), DS_N - 9); /* at or after */
	f.since_us = m[9].us + 1;
	ck_assert_uint_eq(check_filter(st, m, &f), DS_N - 10);
	f.has_until = 1;
	f.until_us = m[19].us; /* before: seq 20 is out */
	ck_assert_uint_eq(check_filter(st, m, &f), 9);
	f.has_since = 0;
	ck_assert_uint_eq(check_filter(st, m, &f), 19);
	f.until_us = m[0].us;
	ck_assert_uint_eq(check_filter(st, m, &f), 0);
	f.has_since = 1;
	f.since_us = m[DS_N - 1].us + 1;
	f.has_until = 0;
	ck_assert_uint_eq(check_filter(st, m, &f), 0);
	/* since/until ignored unless flagged. */
	f.has_since = 0;
	f.has_until = 0;
	f.until_us = 0;
	ck_assert_uint_eq(check_filter(st, m, &f), DS_N);
	vb_store_close(st);
}
END_TEST

START_TEST(replay_combined)
{
	char dir[1024];
	vb_store *st = fresh_store(dir, sizeof(dir));
	meta m[DS_N];
	dataset(st, m);
	vb_store_filter f = { .customer = "C2", .type_prefix = "complaint.",
		.has_since = 1, .since_us = m[4].us, .has_until = 1, .until_us = m[35].us,
		.from_seq = 3, .to_seq = 33 };
	size_t n = check_filter(st, m, &f);
	ck_assert_uint_gt(n, 0);
	f.type_prefix = "visit.missed";
	check_filter(st, m, &f);
	f.customer = "C1";
	f.type_prefix = "order";
	f.has_since = 0;
	check_filter(st, m, &f);
	vb_store_close(st);
}
END_TEST

START_TEST(replay_pages_by_size_and_scan)
{
	char dir[1024];
	vb_store *st = fresh_store(dir, sizeof(dir));
	meta m[DS_N];
	dataset(st, m);
	vb_store_filter f = { 0 };
	got g = { 0 };
	size_t pages;

	/* max_bytes 1: one event a page, and still all of them. */
	replay_all(st, &f, 1000, 1, SIZE_MAX, &g, &pages);
	ck_assert_uint_eq(g.n, DS_N);
	ck_assert_uint_ge(pages, DS_N);
	got_free(&g);
	/* About max_bytes: a page stops once it holds that much. */
	replay_all(st, &f, 1000, 2000, SIZE_MAX, &g, &pages);
	ck_assert_uint_eq(g.n, DS_N);
	ck_assert_uint_gt(pages, 1);
	got_free(&g);
	/* A rare type with a short scan: pages may be empty but move on. */
	f.type_prefix = "invoice.";
	replay_all(st, &f, 1000, SIZE_MAX, 3, &g, &pages);
	ck_assert_uint_eq(g.n, 8);
	for (size_t i = 0; i < g.n; i++)
		ck_assert_uint_eq(g.seqs[i] % 5, 0);
	ck_assert_uint_ge(pages, DS_N / 3);
	got_free(&g);
	/* The same through the customer index. */
	f.customer = "C0";
	f.type_prefix = NULL;
	replay_all(st, &f, 2, SIZE_MAX, 1, &g, &pages);
	ck_assert_uint_eq(g.n, 14);
	got_free(&g);
	vb_store_close(st);
}
END_TEST

START_TEST(replay_callback_stops)
{
	char dir[1024];
	vb_store *st = fresh_store(dir, sizeof(dir));
	meta m[DS_N];
	dataset(st, m);
	vb_store_filter f = { 0 };
	got g = { .stop_after = 3 };
	uint64_t next, last;
	int done;
	/* The callback's refusal is the return value, and the cursor stays
	 * on the refused event so that nothing is skipped. */
	ck_assert_int_eq(vb_store_replay(st, &f, 100, SIZE_MAX, SIZE_MAX, collect_cb, &g,
	    &next, &done, &last), 1);
	ck_assert_uint_eq(g.n, 3);
	ck_assert_uint_eq(next, g.seqs[2]);
	ck_assert_int_eq(done, 0);
	ck_assert_uint_eq(last, DS_N);
	got_free(&g);
	vb_store_close(st);
}
END_TEST

static uint64_t
count_of(const vb_count *c, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(c[i].name, name) == 0)
			return c[i].count;
	return 0;
}

START_TEST(stats_counts)
{
	char dir[1024];
	vb_store *st = fresh_store(dir, sizeof(dir));
	meta m[DS_N];
	vb_stats s;
	dataset(st, m);
	/* Duplicates count nothing. */
	batch b = { 0 };
	batch_add(&b, "ev-001", "consent.granted", "C-new", "2026-11-20T09:12:00Z", 0);
	batch_add(&b, "ev-040", "message.sent", "C-new", "2026-11-20T09:12:00Z", 0);
	ck_assert_int_eq(batch_append(st, &b, NULL), 0);
	batch_free(&b);
	/* New ones do, a new customer included. */
	batch_add(&b, "m-1", "message.sent", "C-new", "2026-11-20T09:12:00Z", 0);
	batch_add(&b, "m-2", "message.sent", "C-new", "2026-11-21T09:12:00Z", 0);
	batch_add(&b, "m-3", "message.sent", "C0", "2026-11-21T09:12:00Z", 0);
	ck_assert_int_eq(batch_append(st, &b, NULL), 0);
	batch_free(&b);

	ck_assert_int_eq(vb_store_stats(st, &s), 0);
	ck_assert_uint_eq(s.events, DS_N + 3);
	ck_assert_uint_eq(s.last_seq, DS_N + 3);
	ck_assert_uint_eq(s.customers, 4);
	ck_assert_uint_eq(s.ntypes, 6);
	ck_assert_uint_eq(count_of(s.types, s.ntypes, "complaint.opened"), 8);
	ck_assert_uint_eq(count_of(s.types, s.ntypes, "complaint.resolved"), 8);
	ck_assert_uint_eq(count_of(s.types, s.ntypes, "visit.missed"), 8);
	ck_assert_uint_eq(count_of(s.types, s.ntypes, "order.placed"), 8);
	ck_assert_uint_eq(count_of(s.types, s.ntypes, "invoice.overdue"), 8);
	ck_assert_uint_eq(count_of(s.types, s.ntypes, "message.sent"), 3);
	ck_assert_uint_eq(count_of(s.types, s.ntypes, "consent.granted"), 0);
	ck_assert_uint_eq(s.nsources, 5);
	ck_assert_uint_eq(count_of(s.sources, s.nsources, "service"), 16);
	ck_assert_uint_eq(count_of(s.sources, s.nsources, "field"), 8);
	ck_assert_uint_eq(count_of(s.sources, s.nsources, "sales"), 8);
	ck_assert_uint_eq(count_of(s.sources, s.nsources, "finance"), 8);
	ck_assert_uint_eq(count_of(s.sources, s.nsources, "marketing"), 3);
	ck_assert_uint_eq(count_of(s.sources, s.nsources, "customer"), 0);
	uint64_t sum = 0;
	for (size_t i = 0; i < s.ntypes; i++)
		sum += s.types[i].count;
	ck_assert_uint_eq(sum, s.events);
	ck_assert_uint_gt(s.disk_bytes, 0);
	ck_assert_uint_gt(s.used_bytes, 0);
	ck_assert_uint_ge(s.map_bytes, s.used_bytes);
	vb_store_stats_free(&s);
	ck_assert_ptr_null(s.types);
	vb_store_close(st);
}
END_TEST

START_TEST(map_grows_from_tiny)
{
	char dir[1024];
	vb_store *st;
	const size_t pad = 2000, per_batch = 256;
	const size_t total = (20 * MiB) / pad;
	size_t made = 0;
	vb_stats s;

	vbt_mkdtemp(dir, sizeof(dir));
	st = open_store(dir, 1 * MiB, 1 * GiB);
	while (made < total) {
		batch b = { 0 };
		for (size_t i = 0; i < per_batch && made < total; i++, made++) {
			char id[32], cust[16];
			snprintf(id, sizeof(id), "grow-%zu", made);
			snprintf(cust, sizeof(cust), "C-%zu", made % 1000);
			batch_add(&b, id, made % 2 ? "visit.missed" : "order.placed", cust,
			    "2026-11-20T09:12:00Z", pad);
		}
		int rv = batch_append(st, &b, NULL);
		ck_assert_msg(rv == 0, "append at %zu events: %d (%s)", made, rv, vb_strerror(rv));
		ck_assert_uint_eq(b.items[b.n - 1].seq, made);
		batch_free(&b);
	}
	ck_assert_uint_eq(vb_store_last_seq(st), total);
	ck_assert_int_eq(vb_store_stats(st, &s), 0);
	ck_assert_uint_eq(s.events, total);
	ck_assert_uint_eq(s.customers, 1000);
	ck_assert_uint_gt(s.map_bytes, 20 * MiB);
	ck_assert_uint_le(s.map_bytes, 1 * GiB);
	vb_store_stats_free(&s);

	vb_store_filter f = { 0 };
	got g = { 0 };
	size_t pages;
	replay_all(st, &f, 5000, SIZE_MAX, SIZE_MAX, &g, &pages);
	ck_assert_uint_eq(g.n, total);
	ck_assert_uint_ge(g.bytes, total * pad);
	got_free(&g);
	vb_store_close(st);

	/* Reopened with the same tiny initial size, the data is all there. */
	st = open_store(dir, 1 * MiB, 1 * GiB);
	ck_assert_uint_eq(vb_store_last_seq(st), total);
	f.customer = "C-7";
	replay_all(st, &f, 5000, SIZE_MAX, SIZE_MAX, &g, &pages);
	ck_assert_uint_eq(g.n, total / 1000 + (total % 1000 > 7));
	got_free(&g);
	vb_store_close(st);
}
END_TEST

/* A reader thread of map_grows_under_readers: replays the whole log again
 * and again until told to stop, checking that what it sees is a gapless
 * prefix of the log that never shrinks. */
typedef struct {
	vb_store *st;
	atomic_int stop;
	uint64_t rounds, max_seen;
	int failed;
	char why[128];
} reader_ctx;

typedef struct {
	uint64_t expect;
} gapless;

static int
gapless_cb(void *arg, uint64_t seq, const uint8_t *p, size_t len)
{
	gapless *g = arg;
	vb_event_peek pk;
	if (seq != g->expect || vb_event_peek_pb(p, len, &pk) != 0 || pk.seq != seq)
		return 1;
	g->expect++;
	return 0;
}

static void *
reader_main(void *arg)
{
	reader_ctx *rc = arg;
	/* ck_assert cannot be used off the test's thread: record and stop. */
	while (!atomic_load(&rc->stop) && !rc->failed) {
		vb_store_filter f = { 0 };
		gapless g = { 1 };
		uint64_t next, last;
		int done, rv;
		vb_stats s;
		rv = vb_store_replay(rc->st, &f, SIZE_MAX, SIZE_MAX, SIZE_MAX, gapless_cb,
		    &g, &next, &done, &last);
		if (rv != 0 || !done || g.expect - 1 < rc->max_seen || g.expect - 1 < last) {
			snprintf(rc->why, sizeof(rc->why), "replay rv %d done %d saw %llu "
			    "before %llu last %llu", rv, done, (unsigned long long)(g.expect - 1),
			    (unsigned long long)rc->max_seen, (unsigned long long)last);
			rc->failed = 1;
			break;
		}
		rc->max_seen = g.expect - 1;
		rv = vb_store_stats(rc->st, &s);
		if (rv != 0 || s.events < rc->max_seen) {
			snprintf(rc->why, sizeof(rc->why), "stats rv %d events %llu", rv,
			    (unsigned long long)s.events);
			rc->failed = 1;
		}
		vb_store_stats_free(&s);
		if (rc->failed)
			break;
		rc->rounds++;
	}
	return NULL;
}

START_TEST(map_grows_under_readers)
{
	char dir[1024];
	vb_store *st;
	const size_t pad = 1000, per_batch = 64, total = (8 * MiB) / pad;
	reader_ctx rc[2];
	pthread_t th[2];
	size_t made = 0;

	vbt_mkdtemp(dir, sizeof(dir));
	st = open_store(dir, 1 * MiB, 1 * GiB);
	for (int i = 0; i < 2; i++) {
		memset(&rc[i], 0, sizeof(rc[i]));
		rc[i].st = st;
		ck_assert_int_eq(pthread_create(&th[i], NULL, reader_main, &rc[i]), 0);
	}
	while (made < total) {
		batch b = { 0 };
		for (size_t i = 0; i < per_batch && made < total; i++, made++) {
			char id[32];
			snprintf(id, sizeof(id), "rd-%zu", made);
			batch_add(&b, id, "order.placed", "C-1", "2026-11-20T09:12:00Z", pad);
		}
		int rv = batch_append(st, &b, NULL);
		batch_free(&b);
		if (rv != 0) {
			for (int i = 0; i < 2; i++)
				atomic_store(&rc[i].stop, 1);
			for (int i = 0; i < 2; i++)
				pthread_join(th[i], NULL);
			ck_abort_msg("append at %zu events: %d (%s)", made, rv, vb_strerror(rv));
		}
	}
	for (int i = 0; i < 2; i++)
		atomic_store(&rc[i].stop, 1);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
		ck_assert_msg(!rc[i].failed, "reader %d: %s", i, rc[i].why);
		ck_assert_uint_gt(rc[i].rounds, 0);
	}
	ck_assert_uint_eq(vb_store_last_seq(st), total);
	vb_stats s;
	ck_assert_int_eq(vb_store_stats(st, &s), 0);
	ck_assert_uint_gt(s.map_bytes, 8 * MiB);
	vb_store_stats_free(&s);
	vb_store_close(st);
}
END_TEST

/* A reader of map_grows_under_busy_readers: short replay pages back to
 * back, as query workers serving several clients do.  With a
 * reader-preferring maplock the resize never got its turn, and the test
 * ran into its timeout. */
typedef struct {
	vb_store *st;
	atomic_int stop;
	uint64_t pages;
	int rv;
} busy_ctx;

static int
ignore_cb(void *arg, uint64_t seq, const uint8_t *p, size_t len)
{
	return 0;
}

static void *
busy_main(void *arg)
{
	busy_ctx *bc = arg;
	while (!atomic_load(&bc->stop) && bc->rv == 0) {
		vb_store_filter f = { 0 };
		uint64_t next, last;
		int done;
		bc->rv = vb_store_replay(bc->st, &f, 200, SIZE_MAX, SIZE_MAX, ignore_cb, NULL,
		    &next, &done, &last);
		bc->pages++;
	}
	return NULL;
}

START_TEST(map_grows_under_busy_readers)
{
	char dir[1024];
	vb_store *st;
	const size_t pad = 1000, per_batch = 64, total = (16 * MiB) / pad;
	busy_ctx bc[4];
	pthread_t th[4];
	size_t made = 0;
	int64_t t0 = vb_time_now(), worst = 0;

	vbt_mkdtemp(dir, sizeof(dir));
	st = open_store(dir, 1 * MiB, 1 * GiB);
	for (int i = 0; i < 4; i++) {
		memset(&bc[i], 0, sizeof(bc[i]));
		bc[i].st = st;
		ck_assert_int_eq(pthread_create(&th[i], NULL, busy_main, &bc[i]), 0);
	}
	while (made < total) {
		batch b = { 0 };
		for (size_t i = 0; i < per_batch && made < total; i++, made++) {
			char id[32];
			snprintf(id, sizeof(id), "busy-%zu", made);
			batch_add(&b, id, "order.placed", "C-1", "2026-11-20T09:12:00Z", pad);
		}
		int64_t a0 = vb_time_now();
		int rv = batch_append(st, &b, NULL);
		int64_t took = vb_time_now() - a0;
		if (took > worst)
			worst = took;
		batch_free(&b);
		if (rv != 0)
			break;
	}
	for (int i = 0; i < 4; i++)
		atomic_store(&bc[i].stop, 1);
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		ck_assert_int_eq(bc[i].rv, 0);
	}
	fprintf(stderr, "busy readers: %zu events in %.1f s, slowest append %.1f ms, pages %llu\n",
	    made, (double)(vb_time_now() - t0) / 1e6, (double)worst / 1e3,
	    (unsigned long long)(bc[0].pages + bc[1].pages + bc[2].pages + bc[3].pages));
	ck_assert_uint_eq(vb_store_last_seq(st), total);
	vb_store_close(st);
}
END_TEST

/* Replay callback checking that event seq has id "full-<seq>". */
static int
full_cb(void *arg, uint64_t seq, const uint8_t *p, size_t len)
{
	size_t *n = arg;
	vb_event_peek pk;
	char want[32];
	ck_assert_int_eq(vb_event_peek_pb(p, len, &pk), 0);
	ck_assert_uint_eq(pk.seq, seq);
	snprintf(want, sizeof(want), "full-%llu", (unsigned long long)seq);
	ck_assert_uint_eq(pk.id_len, strlen(want));
	ck_assert_mem_eq(pk.id, want, pk.id_len);
	(*n)++;
	return 0;
}

START_TEST(map_full_is_efull)
{
	char dir[1024];
	vb_store *st;
	const size_t pad = 2000, per_batch = 16;
	size_t made = 0;
	uint64_t before = 0;
	int rv = 0;
	vb_buf stored = { 0 };

	vbt_mkdtemp(dir, sizeof(dir));
	st = open_store(dir, 1 * MiB, 2 * MiB);
	for (int round = 0; round < 1000; round++) {
		batch b = { 0 };
		for (size_t i = 0; i < per_batch; i++) {
			char id[32];
			snprintf(id, sizeof(id), "full-%zu", made + i + 1);
			batch_add(&b, id, "complaint.opened", "C-1", "2026-11-20T09:12:00Z", pad);
		}
		before = vb_store_last_seq(st);
		ck_assert_int_eq(vb_buf_append_str(&stored, "keep"), 0);
		rv = batch_append(st, &b, &stored);
		batch_free(&b);
		if (rv != 0)
			break;
		made += per_batch;
		vb_buf_reset(&stored);
	}
	ck_assert_msg(rv == VB_EFULL, "append into a full map: %d (%s), want VB_EFULL",
	    rv, vb_strerror(rv));
	ck_assert_uint_gt(made, 0);
	/* Nothing of the failed call was stored. */
	ck_assert_uint_eq(vb_store_last_seq(st), before);
	ck_assert_uint_eq(before, made);
	ck_assert_uint_eq(stored.len, 4);
	ck_assert_mem_eq(stored.data, "keep", 4);

	/* Everything before is intact. */
	vb_store_filter f = { 0 };
	uint64_t next, last;
	int done;
	size_t n = 0;
	ck_assert_int_eq(vb_store_replay(st, &f, SIZE_MAX, SIZE_MAX, SIZE_MAX, full_cb, &n,
	    &next, &done, &last), 0);
	ck_assert_uint_eq(n, made);
	ck_assert_int_eq(done, 1);
	vb_stats s;
	ck_assert_int_eq(vb_store_stats(st, &s), 0);
	ck_assert_uint_eq(s.events, made);
	ck_assert_uint_eq(count_of(s.types, s.ntypes, "complaint.opened"), made);
	ck_assert_uint_le(s.map_bytes, 2 * MiB);
	vb_store_stats_free(&s);
	vb_store_close(st);

	/* And after a restart. */
	st = open_store(dir, 1 * MiB, 2 * MiB);
	ck_assert_uint_eq(vb_store_last_seq(st), made);
	n = 0;
	ck_assert_int_eq(vb_store_replay(st, &f, SIZE_MAX, SIZE_MAX, SIZE_MAX, full_cb, &n,
	    &next, &done, &last), 0);
	ck_assert_uint_eq(n, made);
	vb_store_close(st);
	vb_buf_free(&stored);
}
END_TEST

START_TEST(map_size_capped_at_max)
{
	char dir[1024];
	vb_store *st;
	vb_stats s;
	int rv = 0;

	/* An initial size above the maximum (the default map_size with only
	 * map_size_max lowered) starts the map at the maximum. */
	vbt_mkdtemp(dir, sizeof(dir));
	st = open_store(dir, 64 * MiB, 2 * MiB);
	ck_assert_int_eq(vb_store_stats(st, &s), 0);
	ck_assert_uint_eq(s.map_bytes, 2 * MiB);
	vb_store_stats_free(&s);
	for (int round = 0; round < 1000 && rv == 0; round++) {
		batch b = { 0 };
		for (int i = 0; i < 16; i++) {
			char id[32];
			snprintf(id, sizeof(id), "cap-%d-%d", round, i);
			batch_add(&b, id, "complaint.opened", "C-1", "2026-11-20T09:12:00Z", 2000);
		}
		rv = batch_append(st, &b, NULL);
		batch_free(&b);
	}
	ck_assert_int_eq(rv, VB_EFULL);
	ck_assert_int_eq(vb_store_stats(st, &s), 0);
	ck_assert_uint_eq(s.map_bytes, 2 * MiB);
	ck_assert_uint_le(s.disk_bytes, 2 * MiB);
	vb_store_stats_free(&s);
	vb_store_close(st);
}
END_TEST

/* An item whose event the gate folds. */
static void
batch_add_fact(batch *b, const char *id, const char *type, const char *customer,
    const char *time, size_t pad)
{
	int64_t us;
	batch_add(b, id, type, customer, time, pad);
	ck_assert_int_eq(vb_time_parse(time, &us), 0);
	ck_assert_int_eq(
	    vb_fact_from_event(b->evs[b->n - 1], us, &b->items[b->n - 1].fact), 0);
}

/* Items of a batch whose events the gate folds (complaints open a case),
 * so that a failed commit would also have written customer state. */
static void
batch_add_facts(batch *b, const char *prefix, size_t n, size_t pad)
{
	for (size_t i = 0; i < n; i++) {
		char id[48], cust[16];
		snprintf(id, sizeof(id), "%s-%zu", prefix, i);
		snprintf(cust, sizeof(cust), "F-%zu", i % 7);
		batch_add_fact(b, id, "complaint.opened", cust,
		    "2026-11-20T09:12:00Z", pad);
	}
}

START_TEST(failed_commit_leaves_store_usable)
{
	char dir[1024], path[1100];
	vb_store *st;
	vb_buf stored = { 0 }, state = { 0 };
	struct rlimit rl, lim;
	struct stat sb;
	vb_stats s;
	batch b = { 0 };

	/* The file may not grow past its size (ulimit -f): every commit that
	 * needs new pages fails in LMDB's write of them, as on a full disk,
	 * but without needing one. */
	signal(SIGXFSZ, SIG_IGN);
	st = fresh_store(dir, sizeof(dir));
	batch_add_facts(&b, "before", 50, 100);
	ck_assert_int_eq(batch_append(st, &b, NULL), 0);
	batch_free(&b);
	/* 50 complaints and a suppression.changed for each of 7 customers. */
	uint64_t base = vb_store_last_seq(st);
	ck_assert_uint_eq(base, 57);
	ck_assert_int_eq(vb_store_state_get(st, "F-1", &state), 0);
	vb_buf_reset(&state);
	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &rl), 0);
	lim = rl;

	/* Refused as storage full, twice: a failure leaves nothing behind,
	 * not even for the next attempt.  First with room for a few pages,
	 * which LMDB sees as a short write (EIO), then with none (EFBIG).
	 * Checked once the limit is lifted: check writes its messages to a
	 * file too. */
	batch_add_facts(&b, "during", 200, 2000);
	batch_add(&b, "during-other", "order.placed", "G-1", "2026-11-20T09:12:00Z", 10);
	struct {
		int rv, state_rv, stats_rv;
		size_t stored_len;
		uint64_t last, events, customers, complaints, orders;
	} att[2];
	for (int i = 0; i < 2; i++) {
		lim.rlim_cur = stat(path, &sb) == 0 ? (rlim_t)sb.st_size + (i == 0 ? 3 * 4096 : 0) : 0;
		setrlimit(RLIMIT_FSIZE, &lim);
		vb_buf_reset(&stored);
		vb_buf_append_str(&stored, "keep");
		att[i].rv = batch_append(st, &b, &stored);
		att[i].stored_len = stored.len;
		att[i].last = vb_store_last_seq(st);
		att[i].state_rv = vb_store_state_get(st, "G-1", &state);
		att[i].stats_rv = vb_store_stats(st, &s);
		att[i].events = s.events;
		att[i].customers = s.customers;
		att[i].complaints = count_of(s.types, s.ntypes, "complaint.opened");
		att[i].orders = count_of(s.types, s.ntypes, "order.placed");
		vb_store_stats_free(&s);
	}
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
	for (int i = 0; i < 2; i++) {
		ck_assert_msg(att[i].rv == VB_EFULL, "append past the size limit: %d (%s)",
		    att[i].rv, vb_strerror(att[i].rv));
		ck_assert_uint_eq(att[i].stored_len, 4);
		ck_assert_uint_eq(att[i].last, base);
		ck_assert_int_eq(att[i].state_rv, VB_ENOTFOUND);
		ck_assert_int_eq(att[i].stats_rv, 0);
		ck_assert_uint_eq(att[i].events, base);
		ck_assert_uint_eq(att[i].customers, 7);
		ck_assert_uint_eq(att[i].complaints, 50);
		ck_assert_uint_eq(att[i].orders, 0);
	}
	/* What was stored before is intact. */
	vb_store_filter f = { 0 };
	got g = { 0 };
	size_t pages;
	replay_all(st, &f, 7, SIZE_MAX, SIZE_MAX, &g, &pages);
	ck_assert_uint_eq(g.n, base);
	got_free(&g);

	/* Room again: the same batch is stored whole, with the next seqs,
	 * none of it a duplicate (nothing of the failures was kept). */
	ck_assert_int_eq(batch_append(st, &b, NULL), 0);
	for (size_t i = 0; i < b.n; i++) {
		ck_assert_int_eq(b.items[i].duplicate, 0);
		ck_assert_uint_eq(b.items[i].seq, base + 1 + i);
	}
	ck_assert_int_eq(vb_store_state_get(st, "G-1", &state), VB_ENOTFOUND);
	ck_assert_int_eq(batch_append(st, &b, NULL), 0);
	for (size_t i = 0; i < b.n; i++)
		ck_assert_int_eq(b.items[i].duplicate, 1);
	ck_assert_int_eq(vb_store_stats(st, &s), 0);
	ck_assert_uint_eq(s.events, vb_store_last_seq(st));
	ck_assert_uint_eq(s.customers, 8);
	ck_assert_uint_eq(count_of(s.types, s.ntypes, "complaint.opened"), 250);
	ck_assert_uint_eq(count_of(s.types, s.ntypes, "order.placed"), 1);
	vb_store_stats_free(&s);
	uint64_t last = vb_store_last_seq(st);
	batch_free(&b);
	vb_store_close(st);

	st = open_store(dir, 16 * MiB, 1 * GiB);
	ck_assert_uint_eq(vb_store_last_seq(st), last);
	replay_all(st, &f, 64, SIZE_MAX, SIZE_MAX, &g, &pages);
	ck_assert_uint_eq(g.n, last);
	for (size_t i = 0; i < g.n; i++)
		ck_assert_uint_eq(g.seqs[i], i + 1);
	got_free(&g);
	vb_store_close(st);
	vb_buf_free(&stored);
	vb_buf_free(&state);
}
END_TEST

START_TEST(check_readers_clears_dead_process)
{
	char dir[1024];
	vb_store *st;
	int fds[2], cleared = -1;
	char c;

	st = fresh_store(dir, sizeof(dir));
	ck_assert_int_eq(vb_store_check_readers(st, &cleared), 0);
	ck_assert_int_eq(cleared, 0);
	/* Another process (as mdb_copy would) opens a read transaction and
	 * is killed inside it. */
	ck_assert_int_eq(pipe(fds), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		MDB_env *env;
		MDB_txn *txn;
		if (mdb_env_create(&env) != 0 || mdb_env_set_maxdbs(env, 8) != 0 ||
		    mdb_env_open(env, dir, MDB_RDONLY, 0) != 0 ||
		    mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) != 0)
			_exit(1);
		if (write(fds[1], "r", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(fds[1]);
	ck_assert_int_eq(read(fds[0], &c, 1), 1);
	close(fds[0]);
	kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
	ck_assert_int_eq(vb_store_check_readers(st, &cleared), 0);
	ck_assert_int_eq(cleared, 1);
	ck_assert_int_eq(vb_store_check_readers(st, NULL), 0);
	vb_store_close(st);
}
END_TEST

/* ---- the log's records: runs of events (vb_store_log.c) ---- */

/* The meta database's "format" of the closed store in dir: set to fmt,
 * or read when fmt is 0. */
static uint32_t
store_format(const char *dir, uint32_t fmt)
{
	MDB_dbi mdbi;
	MDB_txn *txn = raw_txn(dir, 0, "meta", &mdbi);
	MDB_env *env = mdb_txn_env(txn);
	MDB_val k = { 6, "format" }, v = { sizeof(fmt), &fmt };
	if (fmt != 0) {
		ck_assert_int_eq(mdb_put(txn, mdbi, &k, &v, 0), 0);
	} else {
		ck_assert_int_eq(mdb_get(txn, mdbi, &k, &v), 0);
		ck_assert_uint_eq(v.mv_size, sizeof(fmt));
		memcpy(&fmt, v.mv_data, sizeof(fmt));
	}
	ck_assert_int_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	return fmt;
}

/* The closed store's index environment (vb_store_index.c), in a buffer
 * of the caller's. */
static const char *
index_dir(const char *dir, char *buf, size_t len)
{
	snprintf(buf, len, "%s/index", dir);
	return buf;
}
#define IX(dir) index_dir((dir), (char[1100]){ 0 }, 1100)

/* The entries of database name in the closed store. */
static size_t
db_entries(const char *dir, const char *name)
{
	MDB_dbi dbi;
	MDB_stat ms;
	MDB_txn *txn = raw_txn(dir, MDB_RDONLY, name, &dbi);
	MDB_env *env = mdb_txn_env(txn);
	ck_assert_int_eq(mdb_stat(txn, dbi, &ms), 0);
	mdb_txn_abort(txn);
	mdb_env_close(env);
	return ms.ms_entries;
}

/* The 8-byte value of key in database name of the closed store in dir. */
static uint64_t
raw_u64(const char *dir, const char *name, const char *key)
{
	uint64_t x;
	size_t len;
	raw_get(dir, name, key, &x, sizeof(x), &len);
	ck_assert_uint_eq(len, sizeof(x));
	return x;
}

/* The records of the closed store's log. */
static size_t
log_records(const char *dir)
{
	return db_entries(dir, "log");
}

/* Replaying from every seq, and every customer, gives exactly the events
 * from there on, with their own bytes. */
static void
check_every_start(vb_store *st, uint64_t n)
{
	for (uint64_t from = 1; from <= n + 1; from++) {
		vb_store_filter f = { .from_seq = from };
		got g = { 0 };
		size_t pages;
		replay_all(st, &f, (size_t)(from % 7) + 1, SIZE_MAX, SIZE_MAX, &g, &pages);
		ck_assert_uint_eq(g.n, n + 1 - from);
		for (size_t i = 0; i < g.n; i++)
			ck_assert_uint_eq(g.seqs[i], from + i);
		got_free(&g);
	}
}

START_TEST(log_runs_hold_consecutive_events)
{
	char dir[1024], id[32];
	vb_store *st = fresh_store(dir, sizeof(dir));
	batch b = { 0 };
	/* Small events share records; one too big for a run stands alone,
	 * in the middle of a batch. */
	for (int i = 0; i < 60; i++) {
		snprintf(id, sizeof(id), "r-%02d", i);
		batch_add(&b, id, "order.placed", i % 2 ? "C-odd" : "C-even",
		    "2026-11-20T09:00:00Z", i == 30 ? 3000 : (size_t)(i % 5) * 40);
	}
	ck_assert_int_eq(batch_append(st, &b, NULL), 0);
	batch_free(&b);
	/* A batch of one, then a duplicate beside a new event. */
	batch_add(&b, "r-60", "order.placed", "C-odd", "2026-11-20T09:00:00Z", 0);
	ck_assert_int_eq(batch_append(st, &b, NULL), 0);
	batch_free(&b);
	batch_add(&b, "r-05", "order.placed", "C-odd", "2026-11-20T09:00:00Z", 0);
	batch_add(&b, "r-61", "order.placed", "C-even", "2026-11-20T09:00:00Z", 0);
	ck_assert_int_eq(batch_append(st, &b, NULL), 0);
	ck_assert_int_eq(b.items[0].duplicate, 1);
	ck_assert_uint_eq(b.items[0].seq, 6);
	ck_assert_uint_eq(b.items[1].seq, 62);
	batch_free(&b);
	check_every_start(st, 62);

	/* By customer: the lookups by seq land inside runs. */
	vb_store_filter f = { .customer = "C-odd" };
	got g = { 0 };
	size_t pages;
	replay_all(st, &f, 3, SIZE_MAX, SIZE_MAX, &g, &pages);
	ck_assert_uint_eq(g.n, 31);
	for (size_t i = 0; i < 30; i++)
		ck_assert_uint_eq(g.seqs[i], 2 * i + 2);
	ck_assert_uint_eq(g.seqs[30], 61);
	got_free(&g);

	vb_stats s;
	ck_assert_int_eq(vb_store_stats(st, &s), 0);
	ck_assert_uint_eq(s.events, 62);
	vb_store_stats_free(&s);
	vb_store_close(st);

	/* Fewer records than events, and all of them again after a reopen. */
	size_t records = log_records(dir);
	ck_assert_uint_lt(records, 20);
	ck_assert_uint_ge(records, 5);
	st = open_store(dir, 16 * MiB, 1 * GiB);
	ck_assert_uint_eq(vb_store_last_seq(st), 62);
	check_every_start(st, 62);
	vb_store_close(st);
}
END_TEST

START_TEST(log_reads_format_1)
{
	char dir[1024], id[32];
	vb_store *st = fresh_store(dir, sizeof(dir));
	batch b = { 0 };
	/* One event per append: one event per record, as format 1 wrote. */
	for (int i = 0; i < 5; i++) {
		snprintf(id, sizeof(id), "old-%d", i);
		batch_add(&b, id, "complaint.opened", "C1", "2026-11-20T09:00:00Z", 0);
		ck_assert_int_eq(batch_append(st, &b, NULL), 0);
		batch_free(&b);
	}
	vb_store_close(st);
	ck_assert_uint_eq(log_records(dir), 5);
	store_format(dir, 1);

	st = open_store(dir, 16 * MiB, 1 * GiB);
	ck_assert_uint_eq(vb_store_last_seq(st), 5);
	for (int i = 0; i < 10; i++) {
		snprintf(id, sizeof(id), "new-%d", i);
		batch_add(&b, id, "complaint.opened", "C1", "2026-11-20T09:00:00Z", 0);
	}
	ck_assert_int_eq(batch_append(st, &b, NULL), 0);
	ck_assert_uint_eq(b.items[0].seq, 6);
	batch_free(&b);
	check_every_start(st, 15);
	vb_store_close(st);
	ck_assert_uint_eq(store_format(dir, 0), 6);
	ck_assert_uint_lt(log_records(dir), 15);
}
END_TEST

START_TEST(log_refuses_newer_format)
{
	char dir[1024];
	vb_store *st = fresh_store(dir, sizeof(dir));
	vb_store_close(st);
	store_format(dir, 7);
	vb_store_opts o = { .map_size = 16 * MiB, .map_size_max = 1 * GiB };
	st = NULL;
	ck_assert_int_eq(vb_store_open(dir, &o, &st), VB_ECORRUPT);
	ck_assert_ptr_null(st);
}
END_TEST

/* ---- the id index (vb_store_ids.c) ---- */

/* An id of no order, as a UUID's: i scrambled (a bijection mod 2^32). */
static void
random_id(char *buf, size_t len, const char *prefix, uint32_t i)
{
	snprintf(buf, len, "%s%08x", prefix, (uint32_t)(i * 2654435761u) ^ 0x5bd1e995u);
}

/* Append ids prefix<n> for n in [from, to) and expect each to be new
 * (want_seq0 == 0) or a duplicate of seq want_seq0 + (n - from). */
static void
ids_round(vb_store *st, const char *prefix, uint32_t from, uint32_t to, uint64_t want_seq0)
{
	for (uint32_t lo = from; lo < to; lo += 500) {
		batch b = { 0 };
		char id[48];
		uint32_t hi = lo + 500 < to ? lo + 500 : to;
		uint64_t before = vb_store_last_seq(st);
		for (uint32_t i = lo; i < hi; i++) {
			random_id(id, sizeof(id), prefix, i);
			batch_add(&b, id, "order.placed", "C-1", "2026-11-20T09:12:00Z", 0);
		}
		ck_assert_int_eq(batch_append(st, &b, NULL), 0);
		for (uint32_t i = lo; i < hi; i++) {
			vb_store_item *it = &b.items[i - lo];
			if (want_seq0 == 0) {
				ck_assert_int_eq(it->duplicate, 0);
				ck_assert_uint_eq(it->seq, before + 1 + (i - lo));
			} else {
				ck_assert_msg(it->duplicate, "id %u not seen as stored before", i);
				ck_assert_uint_eq(it->seq, want_seq0 + (i - from));
			}
		}
		batch_free(&b);
	}
}

/* The entries of the closed store's ids index. */
static size_t
ids_entries(const char *dir)
{
	return db_entries(IX(dir), "ids");
}

/* Ids wait in memory, answer duplicates from there, then from the tree
 * once folded (in transactions of 4,096: 9,000 ids take three), and
 * after a reopen. */
START_TEST(ids_wait_then_fold)
{
	char dir[1024];
	vb_store *st = fresh_store(dir, sizeof(dir));
	ids_round(st, "u-", 0, 9000, 0);
	ck_assert_uint_eq(vb_store_pending(st), 9000);
	/* In memory, and within one call: the first of two is stored. */
	ids_round(st, "u-", 1000, 1200, 1001);
	batch b = { 0 };
	batch_add(&b, "twice", "order.placed", "C-1", "2026-11-20T09:12:00Z", 0);
	batch_add(&b, "twice", "order.placed", "C-2", "2026-11-20T09:12:00Z", 0);
	ck_assert_int_eq(batch_append(st, &b, NULL), 0);
	ck_assert(!b.items[0].duplicate && b.items[1].duplicate);
	ck_assert_uint_eq(b.items[1].seq, b.items[0].seq);
	batch_free(&b);
	ck_assert_int_eq(vb_store_fold(st), 0);
	ck_assert_uint_eq(vb_store_pending(st), 0);
	ids_round(st, "u-", 0, 9000, 1);
	ids_round(st, "v-", 0, 100, 0);
	vb_store_close(st);
	/* The close folded the last 100: nothing left to recover. */
	ck_assert_uint_eq(ids_entries(dir), 9101);
	st = open_store(dir, 16 * MiB, 1 * GiB);
	ck_assert_uint_eq(vb_store_pending(st), 0);
	ids_round(st, "u-", 8500, 9000, 8501);
	ids_round(st, "v-", 0, 100, 9002);
	vb_store_close(st);
}
END_TEST

/* The writer's filter of ids: once the folder has read the tree's ids
 * into it, a new id takes no lookup, and every id stored before, in the
 * tree or in memory, is still found. */
START_TEST(ids_filter_spares_lookups)
{
	char dir[1024];
	vb_store *st = fresh_store(dir, sizeof(dir));
	ids_round(st, "u-", 0, 9000, 0);
	vb_store_close(st); /* folds them: the tree has them all */
	ck_assert_uint_eq(ids_entries(dir), 9000);
	st = open_store(dir, 16 * MiB, 1 * GiB);
	vb_store_fold_wait(st); /* the folder's scan */
	ck_assert(atomic_load(&st->idf.scan_done));
	uint64_t gets = st->idf.tree_gets;
	ids_round(st, "v-", 0, 9000, 0);
	/* About 1 in 200 is "maybe": a lookup that finds nothing. */
	ck_assert_msg(st->idf.tree_gets - gets < 300, "%llu lookups for 9000 new ids",
	    (unsigned long long)(st->idf.tree_gets - gets));
	ck_assert(st->idf.whole);
	ids_round(st, "u-", 0, 9000, 1);
	ids_round(st, "v-", 0, 9000, 9001);
	ck_assert_int_eq(vb_store_fold(st), 0);
	ids_round(st, "v-", 4000, 9000, 13001);
	vb_store_close(st);
}
END_TEST

static void
crash_facts(batch *b)
{
	batch_add_facts(b, "crash", 50, 0);
}

/* After a crash the ids not in the tree yet come back from the log, and
 * only those the index had: the broker's own suppression.changed events
 * ("suppression:SEQ") were never in it, and a publisher's event of such
 * an id is new. */
START_TEST(ids_come_back_after_crash)
{
	char dir[1024];
	vbt_mkdtemp(dir, sizeof(dir));
	crash_after_append(dir, crash_facts);
	ck_assert_uint_eq(ids_entries(dir), 0);
	vb_store *st = open_store(dir, 16 * MiB, 1 * GiB);
	/* 50 complaints and a suppression.changed for each of 7 customers. */
	ck_assert_uint_eq(vb_store_last_seq(st), 57);
	batch b = { 0 };
	batch_add_facts(&b, "crash", 50, 0);
	ck_assert_int_eq(batch_append(st, &b, NULL), 0);
	uint64_t seen[58] = { 0 };
	for (size_t i = 0; i < b.n; i++) {
		ck_assert_msg(b.items[i].duplicate, "crash-%zu stored again", i);
		ck_assert(b.items[i].seq >= 1 && b.items[i].seq <= 57);
		ck_assert(!seen[b.items[i].seq]);
		seen[b.items[i].seq] = 1;
	}
	batch_free(&b);
	ck_assert_uint_eq(vb_store_last_seq(st), 57);
	for (int k = 1; k <= 57; k++) {
		char id[48];
		snprintf(id, sizeof(id), "suppression:%d", k);
		batch_add(&b, id, "order.placed", "C-1", "2026-11-20T09:12:00Z", 0);
	}
	ck_assert_int_eq(batch_append(st, &b, NULL), 0);
	for (size_t i = 0; i < b.n; i++)
		ck_assert_msg(!b.items[i].duplicate, "%s taken for the broker's event",
		    vb_event_id(b.evs[i]));
	batch_free(&b);
	vb_store_close(st);
	ck_assert_uint_eq(ids_entries(dir), 50 + 57);
}
END_TEST

/* A store of format 3 kept its indexes with the log.  Its main
 * environment is given them again here (with entries and marks that no
 * longer mean anything) and the index directory taken away: the open
 * drops them, builds the index environment from the log, and answers
 * every id as before. */
START_TEST(indexes_of_a_format_3_store)
{
	char dir[1024];
	vbt_capture cap;
	vb_log log;
	vb_store *st = fresh_store(dir, sizeof(dir));
	ids_round(st, "old-", 0, 700, 0);
	vb_store_close(st);
	ck_assert_int_eq(vbt_rmtree(IX(dir)), 0);
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi ids, cust, mdbi;
	size_t seq = 1;
	uint64_t mark = 700;
	MDB_val k = { 5, "old-0" }, v = { sizeof(seq), &seq };
	MDB_val mk = { 12, "ids_applied" }, mv = { sizeof(mark), &mark };
	ck_assert_int_eq(mdb_env_create(&env), 0);
	ck_assert_int_eq(mdb_env_set_maxdbs(env, 8), 0);
	ck_assert_int_eq(mdb_env_open(env, dir, 0, 0640), 0);
	ck_assert_int_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	ck_assert_int_eq(mdb_dbi_open(txn, "ids", MDB_CREATE, &ids), 0);
	ck_assert_int_eq(mdb_dbi_open(txn, "cust", MDB_CREATE | MDB_DUPSORT, &cust), 0);
	ck_assert_int_eq(mdb_dbi_open(txn, "meta", 0, &mdbi), 0);
	ck_assert_int_eq(mdb_put(txn, ids, &k, &v, 0), 0);
	ck_assert_int_eq(mdb_put(txn, cust, &k, &v, 0), 0);
	mk.mv_size = 11;
	ck_assert_int_eq(mdb_put(txn, mdbi, &mk, &mv, 0), 0);
	ck_assert_int_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	store_format(dir, 3);

	st = open_store_logged(dir, &cap, &log);
	ck_assert_uint_eq(vbt_capture_count(&cap, " S013 "), 1);
	ck_assert_uint_eq(vb_store_pending(st), 700);
	ids_round(st, "old-", 0, 700, 1);
	ids_round(st, "new-", 0, 10, 0);
	vb_store_close(st);
	vbt_capture_close(&cap);
	ck_assert_uint_eq(store_format(dir, 0), 6);
	ck_assert_uint_eq(db_entries(IX(dir), "ids"), 710);
	ck_assert_uint_eq(raw_u64(IX(dir), "meta", "ids_applied"), 710);
	ck_assert_int_eq(mdb_env_create(&env), 0);
	ck_assert_int_eq(mdb_env_set_maxdbs(env, 8), 0);
	ck_assert_int_eq(mdb_env_open(env, dir, MDB_RDONLY, 0640), 0);
	ck_assert_int_eq(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
	ck_assert_int_eq(mdb_dbi_open(txn, "ids", 0, &ids), MDB_NOTFOUND);
	ck_assert_int_eq(mdb_dbi_open(txn, "cust", 0, &cust), MDB_NOTFOUND);
	mdb_txn_abort(txn);
	mdb_env_close(env);
}
END_TEST

/* A store restored from a backup (the log's environment alone) builds its
 * index environment again from the log: every id answers for its event,
 * every customer's events replay, and the marks end at the last seq. */
START_TEST(index_built_again_when_missing)
{
	char dir[1024];
	vb_store *st = fresh_store(dir, sizeof(dir));
	meta m[DS_N];

	dataset(st, m);
	vb_store_close(st);
	ck_assert_uint_gt(db_entries(IX(dir), "cust"), 0);
	ck_assert_int_eq(vbt_rmtree(IX(dir)), 0);
	st = open_store(dir, 16 * MiB, 1 * GiB);
	for (int c = 0; c < 3; c++) {
		char cust[8];
		snprintf(cust, sizeof(cust), "C%d", c);
		vb_store_filter f = { .customer = cust };
		ck_assert_uint_gt(check_filter(st, m, &f), 0);
	}
	batch b = { 0 };
	for (int i = 0; i < DS_N; i++)
		batch_add(&b, m[i].id, "order.placed", "C-9", "2026-11-20T09:12:00Z", 0);
	ck_assert_int_eq(batch_append(st, &b, NULL), 0);
	for (size_t i = 0; i < b.n; i++) {
		ck_assert(b.items[i].duplicate);
		ck_assert_uint_eq(b.items[i].seq, i + 1);
	}
	batch_free(&b);
	vb_store_close(st);
	ck_assert_uint_eq(db_entries(IX(dir), "cust"), DS_N);
	ck_assert_uint_eq(raw_u64(IX(dir), "meta", "cust_applied"), DS_N);
	ck_assert_uint_eq(raw_u64(IX(dir), "meta", "ids_applied"), DS_N);
}
END_TEST

START_TEST(log_malformed_records)
{
	size_t seq = 7;
	MDB_val k = { sizeof(seq), &seq }, v;
	store_rec r;
	/* An event: its bytes whole. */
	uint8_t ev[] = { 0x0a, 0x01, 'x' };
	v.mv_size = sizeof(ev);
	v.mv_data = ev;
	ck_assert_int_eq(store_rec_open(&r, &k, &v), 0);
	ck_assert_uint_eq(r.seq, 7);
	ck_assert_uint_eq(r.ev.mv_size, 3);
	ck_assert_int_eq(store_rec_next(&r), MDB_NOTFOUND);
	/* A run of two, then its end. */
	uint8_t run[] = { 0x00, 0x01, 0x0a, 0x02, 0x0a, 0x0b };
	v.mv_size = sizeof(run);
	v.mv_data = run;
	ck_assert_int_eq(store_rec_open(&r, &k, &v), 0);
	ck_assert_uint_eq(r.seq, 7);
	ck_assert_uint_eq(r.ev.mv_size, 1);
	ck_assert_int_eq(store_rec_next(&r), 0);
	ck_assert_uint_eq(r.seq, 8);
	ck_assert_uint_eq(r.ev.mv_size, 2);
	ck_assert_int_eq(store_rec_next(&r), MDB_NOTFOUND);
	/* Empty, a run of nothing, a length past the end, an empty event, a
	 * bad key. */
	v.mv_size = 0;
	ck_assert_int_eq(store_rec_open(&r, &k, &v), MDB_CORRUPTED);
	v.mv_size = 1;
	ck_assert_int_eq(store_rec_open(&r, &k, &v), MDB_CORRUPTED);
	uint8_t past[] = { 0x00, 0x05, 0x0a };
	v.mv_size = sizeof(past);
	v.mv_data = past;
	ck_assert_int_eq(store_rec_open(&r, &k, &v), MDB_CORRUPTED);
	uint8_t empty[] = { 0x00, 0x00 };
	v.mv_size = sizeof(empty);
	v.mv_data = empty;
	ck_assert_int_eq(store_rec_open(&r, &k, &v), MDB_CORRUPTED);
	k.mv_size = 4;
	v.mv_size = sizeof(ev);
	v.mv_data = ev;
	ck_assert_int_eq(store_rec_open(&r, &k, &v), MDB_CORRUPTED);
	/* A run stays on leaf pages: two to a 4 KiB page. */
	ck_assert_uint_lt(2 * (store_log_run_max(4096) + 1 + 8 + 8 + 2), 4096 - 16);
	ck_assert_uint_gt(store_log_run_max(4096), 1900);
}
END_TEST

/* ---- the folds, and the marks of how far they went ---- */

/* Open and close the store in dir, logging into memory: vb_store_open's
 * code; the lines logged with code, and all the lines logged. */
static int
open_logged(const char *dir, const char *code, size_t *logged, size_t *lines)
{
	vb_store *st = NULL;
	vbt_capture cap;
	vb_log log;
	vb_log_init(&log, vbt_capture_open(&cap), "test", VB_LOG_INFO);
	vb_store_opts o = { .map_size = 16 * MiB, .map_size_max = 1 * GiB,
		.log = &log };
	int rv = vb_store_open(dir, &o, &st);
	vb_store_close(st);
	*logged = vbt_capture_count(&cap, code);
	*lines = vbt_capture_count(&cap, "\n");
	vbt_capture_close(&cap);
	return rv;
}

/* A failed open writes nothing, and says only why it failed.  Here
 * pending_recover has put the log's tail back in memory up to a bad
 * event when it stops.  The close used to fold those entries: LMDB
 * refused (the open's database handles went with its aborted
 * transaction), but only after the map had grown, and with S008 and
 * S010 "Invalid argument" after the S003 that matters. */
START_TEST(failed_open_writes_nothing)
{
	char dir[1024];
	vb_store *st = fresh_store(dir, sizeof(dir));
	meta m[DS_N];
	size_t logged, lines;

	dataset(st, m);
	vb_store_close(st); /* both indexes complete up to DS_N */
	crash_after_append(dir, late_events);
	/* After them, an event whose bytes end inside its first field. */
	uint8_t bad[] = { 0x0a, 0x05, 'x' };
	size_t seq = DS_N + 4;
	raw_put(dir, "log", &seq, sizeof(seq), bad, sizeof(bad));
	size_t cust = db_entries(IX(dir), "cust"), ids = db_entries(IX(dir), "ids");

	ck_assert_int_eq(open_logged(dir, " S003 ", &logged, &lines),
	    VB_ECORRUPT);
	ck_assert_uint_eq(logged, 1);
	ck_assert_msg(lines == 1, "%zu lines logged, want the S003 alone",
	    lines);
	ck_assert_uint_eq(raw_u64(IX(dir), "meta", "cust_applied"), DS_N);
	ck_assert_uint_eq(raw_u64(IX(dir), "meta", "ids_applied"), DS_N);
	ck_assert_uint_eq(db_entries(IX(dir), "cust"), cust);
	ck_assert_uint_eq(db_entries(IX(dir), "ids"), ids);
}
END_TEST

/* An index environment that cannot be trusted for this log is built
 * again from it, with S011: a mark of another size than 8 bytes, a mark
 * past the log's last seq (an index left by a newer copy of the store),
 * and an index of another store. */
START_TEST(untrusted_index_built_again)
{
	static const struct {
		const char *key;
		const void *val;
		size_t len;
	} bad[] = {
		{ "cust_applied", "abc", 3 },
		{ "ids_applied", "abc", 3 },
		{ "ids_applied", "\x40\0\0\0\0\0\0\0", 8 }, /* 64, past the 10 events */
		{ "store", "0123456789abcdef", 16 },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char dir[1024];
		vb_store *st = fresh_store(dir, sizeof(dir));
		size_t logged, lines;
		ids_round(st, "m-", 0, 10, 0);
		vb_store_close(st);
		raw_put(IX(dir), "meta", bad[i].key, strlen(bad[i].key), bad[i].val, bad[i].len);
		ck_assert_int_eq(open_logged(dir, " S011 ", &logged, &lines), 0);
		ck_assert_msg(logged == 1, "%s: S011 logged %zu times", bad[i].key, logged);
		ck_assert_uint_eq(raw_u64(IX(dir), "meta", "cust_applied"), 10);
		ck_assert_uint_eq(raw_u64(IX(dir), "meta", "ids_applied"), 10);
		ck_assert_uint_eq(db_entries(IX(dir), "ids"), 10);
		st = open_store(dir, 16 * MiB, 1 * GiB);
		ids_round(st, "m-", 0, 10, 1);
		vb_store_close(st);
	}
}
END_TEST

/* A store whose log's last three events (late_events, appended by a
 * crashed process) wait in memory, while the ids tree already holds
 * late-2 under seq 1: a tree that disagrees with the log.  Logging into
 * log. */
static vb_store *
store_with_wrong_id(char *dir, size_t dirlen, vb_log *log)
{
	vb_store *st = fresh_store(dir, dirlen);
	vb_store_opts o = { .map_size = 16 * MiB, .map_size_max = 1 * GiB,
		.log = log };
	meta m[DS_N];
	size_t one = 1;

	dataset(st, m);
	vb_store_close(st);
	crash_after_append(dir, late_events);
	raw_put(IX(dir), "ids", "late-2", 6, &one, sizeof(one));
	st = open_store_opts(dir, &o);
	ck_assert_uint_eq(vb_store_pending(st), 3);
	return st;
}

/* An id the tree holds under another seq than the one being folded is
 * damage, not a fold that stopped half-way: the fold fails with S010,
 * the ids stay in memory (and answer for their events), and neither the
 * tree nor ids_applied changes. */
START_TEST(ids_fold_refuses_another_seq)
{
	char dir[1024];
	vbt_capture cap;
	vb_log log;
	batch b = { 0 };

	vb_log_init(&log, vbt_capture_open(&cap), "test", VB_LOG_INFO);
	vb_store *st = store_with_wrong_id(dir, sizeof(dir), &log);
	ck_assert_int_eq(vb_store_fold(st), VB_ECORRUPT);
	ck_assert_uint_eq(vbt_capture_count(&cap, " S010 "), 1);
	ck_assert_uint_eq(vb_store_pending(st), 3);
	late_events(&b);
	ck_assert_int_eq(batch_append(st, &b, NULL), 0);
	for (size_t i = 0; i < b.n; i++) {
		ck_assert(b.items[i].duplicate);
		ck_assert_uint_eq(b.items[i].seq, DS_N + 1 + i);
	}
	batch_free(&b);
	vb_store_close(st);
	vbt_capture_close(&cap);
	ck_assert_uint_eq(raw_u64(IX(dir), "meta", "ids_applied"), DS_N);
	ck_assert_uint_eq(raw_u64(IX(dir), "ids", "late-2"), 1);
	ck_assert_uint_eq(db_entries(IX(dir), "ids"), DS_N + 1);
}
END_TEST

/* The rebuild needs the cust index complete, not the ids: an ids fold
 * that fails does not stop it. */
/* Two events of customer K-1 after the 10,000 of cust_fold_in_chunks. */
static void
k1_events(batch *b)
{
	batch_add(b, "k1-a", "order.placed", "K-1", "2026-11-03T00:00:00Z", 0);
	batch_add(b, "k1-b", "order.placed", "K-1", "2026-11-03T01:00:00Z", 0);
}

/* The store's stats with their lists freed: the counts and sizes. */
static vb_stats
stats_now(vb_store *st)
{
	vb_stats s, c;
	ck_assert_int_eq(vb_store_stats(st, &s), 0);
	c = s;
	c.types = c.sources = NULL;
	c.ntypes = c.nsources = 0;
	vb_store_stats_free(&s);
	return c;
}

/* Keys of cust's runs in st's index environment now, the store open. */
static size_t
run_keys(vb_store *st)
{
	MDB_txn *txn;
	MDB_stat ms;
	ck_assert_int_eq(mdb_txn_begin(st->xenv, NULL, MDB_RDONLY, &txn), 0);
	ck_assert_int_eq(mdb_stat(txn, st->xruns, &ms), 0);
	mdb_txn_abort(txn);
	return ms.ms_entries;
}

START_TEST(cust_fold_in_chunks)
{
	char dir[1024], id[32], cust[32];
	vb_store *st = fresh_store(dir, sizeof(dir));
	const uint64_t n = 10000;

	/* More entries than one fold transaction takes (CUST_FOLD_CHUNK):
	 * every one reaches the index, the mark once, at the end. */
	for (uint64_t i = 0; i < n; i += 1000) {
		batch b = { 0 };
		for (uint64_t j = i; j < i + 1000; j++) {
			snprintf(id, sizeof(id), "e-%llu", (unsigned long long)j);
			snprintf(cust, sizeof(cust), "C-%llu", (unsigned long long)j);
			batch_add(&b, id, "order.placed", cust, "2026-11-02T00:00:00Z", 0);
		}
		ck_assert_int_eq(batch_append(st, &b, NULL), 0);
		batch_free(&b);
	}
	ck_assert_int_eq(vb_store_fold(st), 0);
	ck_assert_uint_eq(vb_store_pending(st), 0);
	vb_store_close(st);
	ck_assert_uint_eq(db_entries(IX(dir), "cust"), n);
	ck_assert_uint_eq(raw_u64(IX(dir), "meta", "cust_applied"), n);

	/* A fold that committed K-1's transaction and crashed before the
	 * last: K-1's entries are in the index and, from the log, pending
	 * again.  Each is replayed once, and the next fold writes none
	 * twice. */
	crash_after_append(dir, k1_events);
	for (size_t s = (size_t)n + 1; s <= (size_t)n + 2; s++)
		raw_put(IX(dir), "cust", "K-1", 3, &s, sizeof(s));
	/* ... and counted K-1 in that transaction. */
	uint64_t counted = n + 1;
	raw_put(IX(dir), "meta", "customers", 9, &counted, sizeof(counted));
	st = open_store(dir, 16 * MiB, 1 * GiB);
	ck_assert_uint_eq(vb_store_pending(st), 2);
	ck_assert_uint_eq(stats_now(st).customers, n + 1);
	got g = { 0 };
	size_t pages;
	vb_store_filter f = { .customer = "K-1" };
	replay_all(st, &f, 1000, SIZE_MAX, SIZE_MAX, &g, &pages);
	ck_assert_uint_eq(g.n, 2);
	ck_assert_uint_eq(g.seqs[0], n + 1);
	ck_assert_uint_eq(g.seqs[1], n + 2);
	got_free(&g);
	f.from_seq = n + 2;
	replay_all(st, &f, 1000, SIZE_MAX, SIZE_MAX, &g, &pages);
	ck_assert_uint_eq(g.n, 1);
	ck_assert_uint_eq(g.seqs[0], n + 2);
	got_free(&g);
	ck_assert_int_eq(vb_store_fold(st), 0);
	ck_assert_uint_eq(stats_now(st).customers, n + 1); /* K-1 not twice */
	/* K-1 was in the tree: the fold put its entries in a run, where
	 * they repeat the tree's; replayed once still. */
	ck_assert_uint_eq(run_keys(st), 1);
	f.from_seq = 0;
	replay_all(st, &f, 1000, SIZE_MAX, SIZE_MAX, &g, &pages);
	ck_assert_uint_eq(g.n, 2);
	ck_assert_uint_eq(g.seqs[0], n + 1);
	ck_assert_uint_eq(g.seqs[1], n + 2);
	got_free(&g);
	vb_store_close(st);
	ck_assert_uint_eq(db_entries(IX(dir), "cust"), n + 2);
	ck_assert_uint_eq(raw_u64(IX(dir), "meta", "cust_applied"), n + 2);
	ck_assert_uint_eq(raw_u64(IX(dir), "meta", "customers"), n + 1);
}
END_TEST

/* The entries of index i in st's index environment now, the store open. */
static size_t
live_entries(vb_store *st, int i)
{
	MDB_txn *txn;
	MDB_stat ms;
	ck_assert_int_eq(mdb_txn_begin(st->xenv, NULL, MDB_RDONLY, &txn), 0);
	ck_assert_int_eq(mdb_stat(txn, st->ix[i].dbi, &ms), 0);
	mdb_txn_abort(txn);
	return ms.ms_entries;
}

typedef struct {
	vb_store *st;
	atomic_int stop;
	int failed;
	size_t rounds;
	char why[160];
} cust_reader;

/* Replay customer F-7 (every 100th event from seq 8) until told to stop:
 * exactly its events, in order, however the folder moves them. */
static void *
cust_reader_main(void *arg)
{
	cust_reader *rc = arg;
	int all_in = 0; /* an earlier stats saw F-99's first event */
	while (!atomic_load(&rc->stop) && !rc->failed) {
		vb_store_filter f = { .customer = "F-7" };
		got g = { 0 };
		uint64_t next, last;
		int done;
		int rv = vb_store_replay(rc->st, &f, SIZE_MAX, SIZE_MAX, SIZE_MAX, collect_cb,
		    &g, &next, &done, &last);
		uint64_t want = last >= 8 ? (last - 8) / 100 + 1 : 0;
		if (rv != 0 || !done || g.n != want)
			rc->failed = 1;
		for (size_t i = 0; i < g.n && !rc->failed; i++)
			if (g.seqs[i] != 8 + 100 * i)
				rc->failed = 1;
		if (rc->failed)
			snprintf(rc->why, sizeof(rc->why), "rv %d done %d: %zu events up to %llu, "
			    "want %llu", rv, done, g.n, (unsigned long long)last,
			    (unsigned long long)want);
		got_free(&g);
		/* The customer count, from the tree and the tables in memory,
		 * whichever holds them as the folds move entries: once the
		 * first event of F-99 is in, all 100. */
		vb_stats s;
		if (!rc->failed && (rv = vb_store_stats(rc->st, &s)) == 0) {
			if (all_in && s.customers != 100) {
				rc->failed = 1;
				snprintf(rc->why, sizeof(rc->why), "%llu customers at seq %llu",
				    (unsigned long long)s.customers,
				    (unsigned long long)s.last_seq);
			}
			all_in = s.last_seq >= 100;
			vb_store_stats_free(&s);
		} else if (!rc->failed) {
			rc->failed = 1;
			snprintf(rc->why, sizeof(rc->why), "stats: %d", rv);
		}
		rc->rounds++;
	}
	return NULL;
}

/* The folder writes the indexes on its own thread, once their events are
 * durable, while readers replay by customer: not before FOLD_EVENTS
 * entries wait (or 10 s pass), never ahead of the durable log, and with
 * no event missing or twice from a customer's replay meanwhile. */
START_TEST(folder_folds_in_background)
{
	char dir[1024];
	vb_store *st = fresh_store(dir, sizeof(dir));
	const uint64_t n = 70000;
	cust_reader rc = { .st = st };
	pthread_t th;

	ck_assert_int_eq(pthread_create(&th, NULL, cust_reader_main, &rc), 0);
	for (uint64_t i = 0; i < n; i += 5000) {
		batch b = { 0 };
		char id[32], cust[16];
		for (uint64_t j = i; j < i + 5000; j++) {
			snprintf(id, sizeof(id), "bg-%llu", (unsigned long long)j);
			snprintf(cust, sizeof(cust), "F-%llu", (unsigned long long)(j % 100));
			batch_add(&b, id, "order.placed", cust, "2026-11-02T00:00:00Z", 0);
		}
		/* Not batch_append: no flush after the commit. */
		vb_buf stored = { 0 };
		ck_assert_int_eq(vb_store_append(st, b.items, b.n, RECORDED, &stored, NULL), 0);
		vb_buf_free(&stored);
		batch_free(&b);
		if (i == 0)
			ck_assert_int_eq(vb_store_fold_start(st), 0); /* 5,000: not yet */
	}
	/* The last commit is not durable yet (vb_store_durable): the folder
	 * waits for it. */
	ck_assert_uint_lt(vb_store_durable_seq(st), n);
	ck_assert_int_eq(vb_store_fold_start(st), 2);
	usleep(200 * 1000);
	ck_assert_uint_eq(live_entries(st, IX_CUST), 0);
	ck_assert_uint_eq(live_entries(st, IX_IDS), 0);
	ck_assert_int_eq(vb_store_sync(st), 0);
	vb_store_fold_wait(st);
	ck_assert_uint_eq(vb_store_pending(st), 0);
	ck_assert_uint_eq(live_entries(st, IX_CUST), n);
	ck_assert_uint_eq(live_entries(st, IX_IDS), n);
	ck_assert_int_eq(vb_store_fold_start(st), 0); /* nothing waits */
	atomic_store(&rc.stop, 1);
	pthread_join(th, NULL);
	ck_assert_msg(!rc.failed, "reader: %s", rc.why);
	ck_assert_uint_gt(rc.rounds, 0);
	vb_store_close(st);
	ck_assert_uint_eq(raw_u64(IX(dir), "meta", "cust_applied"), n);
	ck_assert_uint_eq(raw_u64(IX(dir), "meta", "ids_applied"), n);
}
END_TEST

/* The first fold puts the customers in cust's tree; each later one
 * appends their entries as a run, and the eighth run moves them all into
 * the tree.  A reader replaying a customer meanwhile sees each of its
 * events once, in order (cust_reader_main). */
START_TEST(cust_runs_merged)
{
	char dir[1024];
	vb_store *st = fresh_store(dir, sizeof(dir));
	cust_reader rc = { .st = st };
	vb_buf stored = { 0 };
	uint64_t c, e, ch;
	pthread_t th;

	ck_assert_int_eq(pthread_create(&th, NULL, cust_reader_main, &rc), 0);
	for (uint64_t round = 0; round < 10; round++) {
		batch b = { 0 };
		char id[32], cust[16];
		for (uint64_t j = round * 1000; j < (round + 1) * 1000; j++) {
			snprintf(id, sizeof(id), "cr-%llu", (unsigned long long)j);
			snprintf(cust, sizeof(cust), "F-%llu", (unsigned long long)(j % 100));
			batch_add(&b, id, "order.placed", cust, "2026-11-02T00:00:00Z", 0);
		}
		ck_assert_int_eq(batch_append(st, &b, NULL), 0);
		batch_free(&b);
		ck_assert_int_eq(vb_store_fold(st), 0);
		size_t runs = round % 8; /* the merge follows the eighth */
		ck_assert_uint_eq(run_keys(st), 100 * runs);
		ck_assert_uint_eq(live_entries(st, IX_CUST), 1000 * (round + 1 - runs));
		ck_assert_uint_eq(stats_now(st).customers, 100);
	}
	atomic_store(&rc.stop, 1);
	pthread_join(th, NULL);
	ck_assert_msg(!rc.failed, "reader: %s", rc.why);
	ck_assert_uint_gt(rc.rounds, 0);
	vb_store_close(st);

	/* The same seqs in a later run, as when a fold that committed part
	 * of its entries crashed and the next open folded them again:
	 * replayed once, merged once. */
	uint8_t key[11] = { 0, 0, 0, 0, 0, 0, 0x27, 0x11, 'F', '-', '7' }; /* 10001 */
	uint64_t again[2] = { 9808, 9908 };
	raw_put(IX(dir), "cust_runs", key, sizeof(key), again, sizeof(again));
	st = open_store(dir, 16 * MiB, 1 * GiB);
	got g = { 0 };
	size_t pages;
	vb_store_filter f = { .customer = "F-7" };
	replay_all(st, &f, 7, SIZE_MAX, SIZE_MAX, &g, &pages);
	ck_assert_uint_eq(g.n, 100);
	for (size_t i = 0; i < g.n; i++)
		ck_assert_uint_eq(g.seqs[i], 8 + 100 * i);
	got_free(&g);
	/* The rebuild walks the tree: it moves every run into it first. */
	ck_assert_int_eq(vb_store_rebuild(st, 1800000000000000LL, &stored, &c, &e, &ch), 0);
	ck_assert_uint_eq(e, 10000);
	ck_assert_uint_eq(run_keys(st), 0);
	ck_assert_uint_eq(live_entries(st, IX_CUST), 10000);
	replay_all(st, &f, 1000, SIZE_MAX, SIZE_MAX, &g, &pages);
	ck_assert_uint_eq(g.n, 100);
	ck_assert_uint_eq(g.seqs[99], 9908);
	got_free(&g);
	ck_assert_uint_eq(stats_now(st).customers, 100);
	vb_store_close(st);
	vb_buf_free(&stored);

	/* Format 5 had no runs: its index is kept as it is (no S011), and
	 * the store becomes format 6. */
	vbt_capture cap;
	vb_log log;
	store_format(dir, 5);
	st = open_store_logged(dir, &cap, &log);
	ck_assert_uint_eq(vbt_capture_count(&cap, " S013 "), 1);
	ck_assert_uint_eq(vbt_capture_count(&cap, " S011 "), 0);
	ck_assert_uint_eq(vb_store_pending(st), 0);
	ck_assert_uint_eq(live_entries(st, IX_CUST), 10000);
	vb_store_close(st);
	vbt_capture_close(&cap);
	ck_assert_uint_eq(store_format(dir, 0), 6);
}
END_TEST

/* n events, ids pfx<i>, over customers R-0 .. R-99, flushed. */
static void
many_events(vb_store *st, const char *pfx, uint64_t n)
{
	for (uint64_t i = 0; i < n; i += 5000) {
		batch b = { 0 };
		char id[32], cust[16];
		for (uint64_t j = i; j < i + 5000 && j < n; j++) {
			snprintf(id, sizeof(id), "%s%llu", pfx, (unsigned long long)j);
			snprintf(cust, sizeof(cust), "R-%llu", (unsigned long long)(j % 100));
			batch_add(&b, id, "order.placed", cust, "2026-11-02T00:00:00Z", 0);
		}
		ck_assert_int_eq(batch_append(st, &b, NULL), 0);
		batch_free(&b);
	}
}

/* stats counts the customers of durable events only: the writer adds an
 * event's entry to memory inside its transaction, which may still fail
 * and take it back. */
typedef struct {
	vb_store *st;
	uint64_t seen;
	const vb_store_item *it;
} ghost;

static void *
ghost_stats(void *arg)
{
	ghost *g = arg;
	vb_stats s;
	if (vb_store_stats(g->st, &s) == 0) {
		g->seen = s.customers;
		vb_store_stats_free(&s);
	}
	return NULL;
}

/* Put g's event, have another thread ask stats meanwhile, then fail. */
static int
ghost_txn(store_txn *t, void *arg)
{
	ghost *g = arg;
	uint64_t seq;
	size_t off, len;
	pthread_t th;
	int rv = store_txn_put_event(t, g->it->pb, g->it->pb_len, g->it->id, NULL,
	    g->it->customer, NULL, g->it->type, g->it->source, &seq, &off, &len);
	ck_assert_int_eq(rv, 0);
	ck_assert_int_eq(pthread_create(&th, NULL, ghost_stats, g), 0);
	pthread_join(th, NULL);
	return MDB_BAD_TXN;
}

START_TEST(stats_skips_an_aborted_customer)
{
	char dir[1024];
	vb_store *st = fresh_store(dir, sizeof(dir));
	batch b = { 0 };
	vb_buf stored = { 0 };

	many_events(st, "a-", 100); /* R-0 .. R-99 */
	batch_add(&b, "ghost-1", "order.placed", "GHOST", "2026-11-02T00:00:00Z", 0);
	ghost g = { st, 0, &b.items[0] };
	ck_assert_int_ne(store_write(st, 4096, RECORDED, &stored, ghost_txn, &g, "ghost"), 0);
	ck_assert_uint_eq(g.seen, 100);
	ck_assert_uint_eq(stats_now(st).customers, 100);
	ck_assert_uint_eq(vb_store_last_seq(st), 100);
	vb_buf_free(&stored);
	batch_free(&b);
	vb_store_close(st);
}
END_TEST

/* Each index folds at its own size: ids at 24,576 entries, cust at
 * 49,152 (a cust fold rewrites most of its leaves whatever it holds). */
START_TEST(indexes_fold_at_their_own_sizes)
{
	char dir[1024];
	vb_store *st = fresh_store(dir, sizeof(dir));

	many_events(st, "s-", 30000);
	ck_assert_int_eq(vb_store_fold_start(st), 1); /* ids alone */
	vb_store_fold_wait(st);
	ck_assert_uint_eq(live_entries(st, IX_IDS), 30000);
	ck_assert_uint_eq(live_entries(st, IX_CUST), 0);
	ck_assert_uint_eq(stats_now(st).customers, 100);
	many_events(st, "t-", 20000);
	ck_assert_int_eq(vb_store_fold_start(st), 1); /* 50,000 for cust */
	vb_store_fold_wait(st);
	ck_assert_uint_eq(live_entries(st, IX_CUST), 50000);
	ck_assert_uint_eq(live_entries(st, IX_IDS), 30000);
	ck_assert_uint_eq(stats_now(st).customers, 100);
	vb_store_close(st);
	ck_assert_uint_eq(raw_u64(IX(dir), "meta", "cust_applied"), 50000);
	ck_assert_uint_eq(raw_u64(IX(dir), "meta", "ids_applied"), 50000);
	ck_assert_uint_eq(raw_u64(IX(dir), "meta", "customers"), 100);
}
END_TEST

typedef struct {
	vb_store *st;
	_Atomic int returned;
} fold_start_arg;

static void *
fold_start_thread(void *arg)
{
	fold_start_arg *a = arg;
	(void)vb_store_fold_start(a->st);
	atomic_store(&a->returned, 1);
	return NULL;
}

/* When the folds fall behind, the writer waits for them rather than let
 * its tables grow without end: at two folds' worth of new ids gathered
 * while the last fold is under way. */
START_TEST(writer_waits_for_folds_behind)
{
	char dir[1024];
	vb_store *st = fresh_store(dir, sizeof(dir));
	pthread_t th;

	vb_store_fold_wait(st); /* the folder's scan */
	folder_busy(st, 1);
	many_events(st, "s-", 30000);
	ck_assert_int_eq(vb_store_fold_start(st), 1); /* ids taken, not folded */
	many_events(st, "t-", 40000);
	/* 40,000 new ids: on (and 70,000 customer entries taken). */
	ck_assert_int_eq(vb_store_fold_start(st), 1);
	many_events(st, "u-", 10000);
	/* Not while the folder reads the tree's ids at start: no fold runs
	 * then, and on a large tree that takes seconds. */
	atomic_store(&st->idf.scan_done, 0);
	ck_assert_int_eq(vb_store_fold_start(st), 0);
	atomic_store(&st->idf.scan_done, 1);
	fold_start_arg a = { st, 0 };
	ck_assert_int_eq(pthread_create(&th, NULL, fold_start_thread, &a), 0);
	usleep(300 * 1000);
	ck_assert_msg(!atomic_load(&a.returned), "50,000 ids gathered, and no wait");
	ck_assert_uint_eq(live_entries(st, IX_IDS), 0);
	folder_busy(st, 0);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	ck_assert(atomic_load(&a.returned));
	/* The fold it waited for is in; the 50,000 after it were taken. */
	ck_assert_uint_ge(live_entries(st, IX_IDS), 30000);
	vb_store_fold_wait(st);
	ck_assert_uint_eq(live_entries(st, IX_IDS), 80000);
	vb_store_close(st);
}
END_TEST

/* A failed flush breaks the store for good: what it was to make durable
 * is not called durable, by that flush or any after it, and nothing more
 * is written.  The flush fails here because its descriptor is a pipe's
 * (EINVAL); on a disk it would be a write-back error (EIO), which Linux
 * reports once to each open file. */
START_TEST(failed_flush_breaks_store)
{
	char dir[1024];
	vbt_capture cap;
	vb_log log;
	vb_store *st;
	int pfd[2];
	batch b = { 0 };

	vbt_mkdtemp(dir, sizeof(dir));
	st = open_store_logged(dir, &cap, &log);
	batch_add(&b, "ok-1", "order.placed", "C-1", "2026-11-20T09:12:00Z", 0);
	ck_assert_int_eq(batch_append(st, &b, NULL), 0);
	batch_free(&b);
	ck_assert_int_eq(vb_store_sync(st), 0);
	ck_assert_uint_eq(vb_store_durable_seq(st), 1);

	batch_add(&b, "lost-1", "order.placed", "C-1", "2026-11-20T09:13:00Z", 0);
	vb_buf stored = { 0 };
	ck_assert_int_eq(vb_store_append(st, b.items, b.n, RECORDED, &stored, NULL), 0);
	vb_buf_free(&stored);
	batch_free(&b);
	uint64_t commit = vb_store_last_commit(st);
	ck_assert(!vb_store_durable(st, commit));
	ck_assert_int_eq(pipe(pfd), 0);
	int real = st->sync_fd;
	st->sync_fd = pfd[0];
	ck_assert_int_ne(vb_store_sync(st), 0);
	ck_assert_uint_eq(vbt_capture_count(&cap, " S009 "), 1);
	/* Broken: a working descriptor again does not mend it. */
	st->sync_fd = real;
	ck_assert_int_eq(vb_store_sync(st), VB_EIO);
	ck_assert(!vb_store_durable(st, commit));
	ck_assert_uint_eq(vb_store_durable_seq(st), 1);
	batch_add(&b, "after-1", "order.placed", "C-2", "2026-11-20T09:14:00Z", 0);
	ck_assert_int_eq(batch_append(st, &b, NULL), VB_EIO);
	batch_free(&b);
	ck_assert_uint_eq(vb_store_last_seq(st), 2);
	ck_assert_uint_eq(vb_store_durable_seq(st), 1);
	vb_store_close(st);
	close(pfd[0]);
	close(pfd[1]);
	vbt_capture_close(&cap);
}
END_TEST

/* An ids tree that disagrees with the log (S010, MDB_CORRUPTED), and more
 * events after it than the open reads back before it folds: the open's
 * fold fails the same way, and the open builds the index again (S011)
 * rather than refuse to start. */
START_TEST(open_rebuilds_index_a_fold_refuses)
{
	char dir[1024];
	vbt_capture cap;
	vb_log log;
	size_t logged, lines;

	vb_log_init(&log, vbt_capture_open(&cap), "test", VB_LOG_INFO);
	vb_store *st = store_with_wrong_id(dir, sizeof(dir), &log);
	many_events(st, "rb-", 70000);
	vb_store_close(st); /* the ids fold fails again */
	vbt_capture_close(&cap);
	ck_assert_int_eq(open_logged(dir, " S011 ", &logged, &lines), 0);
	ck_assert_uint_eq(logged, 1);
	st = open_store(dir, 16 * MiB, 1 * GiB);
	batch b = { 0 };
	batch_add(&b, "late-2", "order.placed", "C-1", "2026-11-20T09:12:00Z", 0);
	batch_add(&b, "rb-69999", "order.placed", "C-1", "2026-11-20T09:12:00Z", 0);
	ck_assert_int_eq(batch_append(st, &b, NULL), 0);
	ck_assert(b.items[0].duplicate && b.items[1].duplicate);
	ck_assert_uint_eq(b.items[0].seq, DS_N + 2); /* late_events' second */
	ck_assert_uint_eq(b.items[1].seq, DS_N + 3 + 70000);
	batch_free(&b);
	vb_store_close(st);
	ck_assert_uint_eq(raw_u64(IX(dir), "meta", "ids_applied"), DS_N + 3 + 70000);
}
END_TEST

typedef struct {
	vb_store *st;
	atomic_int go, in;
} stuck_reader;

/* Hold a replay page (and with it maplock, shared, as a backup does for
 * the whole copy) until told to go. */
static int
stuck_cb(void *arg, uint64_t seq, const uint8_t *p, size_t len)
{
	stuck_reader *r = arg;
	(void)seq, (void)p, (void)len;
	atomic_store(&r->in, 1);
	while (!atomic_load(&r->go))
		usleep(1000);
	return 1;
}

static void *
stuck_main(void *arg)
{
	stuck_reader *r = arg;
	vb_store_filter f = { 0 };
	uint64_t next, last;
	int done;
	(void)vb_store_replay(r->st, &f, 10, SIZE_MAX, SIZE_MAX, stuck_cb, r, &next,
	    &done, &last);
	return NULL;
}

/* A reader that holds the store for long (a backup) does not hold the
 * writer at its next swap, nor other readers: were it so, this test would
 * never end (the reader goes on only after the swap, a fold and a gate
 * decision have). */
START_TEST(long_reader_holds_no_fold)
{
	char dir[1024];
	vb_store *st = fresh_store(dir, sizeof(dir));
	stuck_reader r = { .st = st };
	pthread_t th;
	const char *c[1] = { "R-1" };
	vb_gate_result res[1];
	vb_buf reasons = { 0 };

	many_events(st, "lr-", 50000);
	ck_assert_int_eq(pthread_create(&th, NULL, stuck_main, &r), 0);
	while (!atomic_load(&r.in))
		usleep(1000);
	ck_assert_int_eq(vb_store_fold_start(st), 2);
	vb_store_fold_wait(st);
	ck_assert_int_eq(vb_store_fold_start(st), 0); /* empties what was folded */
	ck_assert_uint_eq(vb_store_pending(st), 0);
	ck_assert_int_eq(vb_store_decide(st, c, 1, 0, 0, 1800000000000000LL, 0, res,
	    &reasons), 0);
	atomic_store(&r.go, 1);
	pthread_join(th, NULL);
	vb_buf_free(&reasons);
	vb_store_close(st);
}
END_TEST

/* Append events pfx<from> .. pfx<to - 1> of customer cust. */
static void
ev_range(vb_store *st, const char *pfx, const char *cust, int from, int to)
{
	batch b = { 0 };
	char id[32];
	for (int i = from; i < to; i++) {
		snprintf(id, sizeof(id), "%s%d", pfx, i);
		batch_add(&b, id, "order.placed", cust, "2026-11-02T00:00:00Z", 0);
	}
	ck_assert_int_eq(batch_append(st, &b, NULL), 0);
	batch_free(&b);
}

/* ---- writing ahead (vb_store_ahead.c) ---- */

static uint64_t
file_bytes(const char *path)
{
	struct stat sb;
	ck_assert_int_eq(stat(path, &sb), 0);
	return (uint64_t)sb.st_size;
}

/* Zeros are written past LMDB's last page, a step at a time (an eighth of
 * the data, at least 1 MiB, at most 8), and the commits after a step
 * overwrite them instead of growing the file.  Nothing past the data is
 * read as data, before a restart or after. */
START_TEST(write_ahead_commits_overwrite)
{
	char dir[1024], path[1100];
	vb_store *st = fresh_store(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	ev_range(st, "a-", "CA", 0, 100);
	uint64_t used0 = stats_now(st).used_bytes;
	ck_assert_uint_le(file_bytes(path), used0);

	vb_store_write_ahead(st);
	uint64_t size1 = file_bytes(path);
	ck_assert_uint_ge(size1, used0 + 1 * MiB);
	ck_assert_uint_le(size1, used0 + 2 * MiB);
	FILE *f = fopen(path, "rb");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fseeko(f, (off_t)used0, SEEK_SET), 0);
	uint64_t nonzero = 0;
	for (int c; (c = fgetc(f)) != EOF;)
		nonzero += c != 0;
	fclose(f);
	ck_assert_uint_eq(nonzero, 0);
	/* Far enough ahead: nothing more to write. */
	vb_store_write_ahead(st);
	ck_assert_uint_eq(file_bytes(path), size1);

	/* Commits fill the zeros; the file keeps its size. */
	ev_range(st, "b-", "CB", 0, 2000);
	uint64_t used1 = stats_now(st).used_bytes;
	ck_assert_uint_gt(used1, used0 + 128 * 1024);
	ck_assert_uint_lt(used1, size1);
	ck_assert_uint_eq(file_bytes(path), size1);

	/* A fold writes the index's file ahead of its data the same way. */
	char xpath[1100];
	MDB_envinfo xi;
	MDB_stat xs;
	snprintf(xpath, sizeof(xpath), "%s/index/data.mdb", dir);
	ck_assert_int_eq(vb_store_fold(st), 0);
	mdb_env_info(st->xenv, &xi);
	mdb_env_stat(st->xenv, &xs);
	ck_assert_uint_ge(file_bytes(xpath),
	    (uint64_t)(xi.me_last_pgno + 1) * xs.ms_psize + 1 * MiB);

	/* After a restart the data ends where LMDB says, and the next step
	 * starts from the file's end. */
	vb_store_close(st);
	st = open_store(dir, 16 * MiB, 1 * GiB);
	ck_assert_uint_eq(vb_store_last_seq(st), 2100);
	ck_assert_uint_eq(stats_now(st).used_bytes, used1);
	vb_store_filter all = { 0 };
	got g = { 0 };
	size_t pages;
	replay_all(st, &all, 1000, SIZE_MAX, SIZE_MAX, &g, &pages);
	ck_assert_uint_eq(g.n, 2100);
	got_free(&g);
	ev_range(st, "c-", "CC", 0, 3000);
	vb_store_write_ahead(st);
	uint64_t used2 = stats_now(st).used_bytes, size2 = file_bytes(path);
	ck_assert_uint_ge(size2, used2 + 1 * MiB);
	ck_assert_uint_le(size2, used2 + 2 * MiB);
	vb_store_close(st);
}
END_TEST

/* The zeros stop where the file may end (ulimit -f, or a full disk): the
 * commits then meet the limit themselves, as they would without them. */
START_TEST(write_ahead_stops_at_file_size_limit)
{
	char dir[1024], path[1100];
	struct rlimit rl, lim;
	signal(SIGXFSZ, SIG_IGN);
	vb_store *st = fresh_store(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	ev_range(st, "a-", "CA", 0, 10);
	uint64_t size0 = file_bytes(path);
	ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &rl), 0);
	lim = rl;
	lim.rlim_cur = size0 + 256 * 1024;
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
	vb_store_write_ahead(st);
	uint64_t size1 = file_bytes(path);
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
	ck_assert_uint_le(size1, lim.rlim_cur);
	ck_assert_uint_gt(size1, size0);
	/* The store goes on; the next try waits (10 s), and the commits
	 * grow the file as they did before. */
	ev_range(st, "b-", "CB", 0, 3000);
	vb_store_write_ahead(st);
	ck_assert_uint_eq(vb_store_last_seq(st), 3010);
	ck_assert_uint_le(file_bytes(path), stats_now(st).used_bytes + 256 * 1024);
	vb_store_close(st);
}
END_TEST

/* The folds count the customers new to cust; stats adds those only in
 * memory.  The count holds across folds, a restart, an index built again,
 * and an index of format 4, which counted none (the log's meta did). */
START_TEST(customers_counted_by_folds)
{
	char dir[1024];
	vbt_capture cap;
	vb_log log;
	vb_store *st = fresh_store(dir, sizeof(dir));

	many_events(st, "a-", 250); /* R-0 .. R-99 */
	ck_assert_uint_eq(stats_now(st).customers, 100);
	ck_assert_int_eq(vb_store_fold(st), 0);
	ck_assert_uint_eq(stats_now(st).customers, 100);
	ev_range(st, "b-", "R-7", 0, 3);   /* known */
	ev_range(st, "c-", "N-1", 0, 2);   /* new, twice */
	ev_range(st, "d-", "N-2", 0, 1);   /* new */
	ck_assert_uint_eq(stats_now(st).customers, 102);
	vb_store_close(st);
	ck_assert_uint_eq(raw_u64(IX(dir), "meta", "customers"), 102);

	st = open_store(dir, 16 * MiB, 1 * GiB);
	ck_assert_uint_eq(stats_now(st).customers, 102);
	ev_range(st, "e-", "N-3", 0, 1);
	ck_assert_uint_eq(stats_now(st).customers, 103);
	vb_store_close(st);
	ck_assert_int_eq(vbt_rmtree(IX(dir)), 0);
	st = open_store(dir, 16 * MiB, 1 * GiB);
	ck_assert_uint_eq(stats_now(st).customers, 103);
	vb_store_close(st);

	/* Format 4: the count in the log's meta, none in the index. */
	uint64_t old = 99;
	raw_put(dir, "meta", "c:", 2, &old, sizeof(old));
	ck_assert_int_eq(raw_del(IX(dir), "meta", "customers"), 0);
	store_format(dir, 4);
	st = open_store_logged(dir, &cap, &log);
	ck_assert_uint_eq(vbt_capture_count(&cap, " S013 "), 1);
	ck_assert_uint_eq(vbt_capture_count(&cap, "does not count its customers"), 1);
	ck_assert_uint_eq(stats_now(st).customers, 103);
	vb_store_close(st);
	vbt_capture_close(&cap);
	ck_assert_uint_eq(store_format(dir, 0), 6);
	ck_assert_uint_eq(raw_u64(IX(dir), "meta", "customers"), 103);
	MDB_dbi mdbi;
	MDB_txn *txn = raw_txn(dir, MDB_RDONLY, "meta", &mdbi);
	MDB_val k = { 2, "c:" }, v;
	ck_assert_int_eq(mdb_get(txn, mdbi, &k, &v), MDB_NOTFOUND);
	MDB_env *env = mdb_txn_env(txn);
	mdb_txn_abort(txn);
	mdb_env_close(env);
}
END_TEST

static void
cp_file(const char *from, const char *to)
{
	char cmd[3000];
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", from, to);
	ck_assert_int_eq(system(cmd), 0);
}

/* Two data files of one store (the same supp_key) whose histories differ
 * after seq 10, and the index of the one that ends first beside the
 * other: its marks are within the log, but it is built again (S011),
 * since the event where its folds went is another. */
START_TEST(index_of_another_history_built_again)
{
	char dir[1024], p[1100], b10[1100], t1[1100];
	vb_store *st = fresh_store(dir, sizeof(dir));
	vbt_capture cap;
	vb_log log;

	snprintf(p, sizeof(p), "%s/data.mdb", dir);
	snprintf(b10, sizeof(b10), "%s.b10", dir);
	snprintf(t1, sizeof(t1), "%s.t1", dir);
	ev_range(st, "a-", "CA", 0, 10);
	vb_store_close(st);
	cp_file(p, b10);                   /* a copy at seq 10 */
	st = open_store(dir, 16 * MiB, 1 * GiB);
	ev_range(st, "a-", "CA", 10, 20);  /* seqs 11 .. 20 */
	vb_store_close(st);
	cp_file(p, t1);
	cp_file(b10, p);                   /* the copy back: its index is ahead */
	st = open_store(dir, 16 * MiB, 1 * GiB);
	ev_range(st, "b-", "CB", 0, 5);    /* seqs 11 .. 15, other events */
	vb_store_close(st);
	cp_file(t1, p);                    /* the longer history back */
	st = open_store_logged(dir, &cap, &log);
	ck_assert_uint_eq(vbt_capture_count(&cap, " S011 "), 1);
	batch b = { 0 };
	batch_add(&b, "b-0", "order.placed", "CB", "2026-11-02T00:00:00Z", 0);
	batch_add(&b, "a-10", "order.placed", "CA", "2026-11-02T00:00:00Z", 0);
	ck_assert_int_eq(batch_append(st, &b, NULL), 0);
	ck_assert(!b.items[0].duplicate);
	ck_assert(b.items[1].duplicate);
	ck_assert_uint_eq(b.items[1].seq, 11);
	batch_free(&b);
	vb_store_close(st);
	vbt_capture_close(&cap);
}
END_TEST

START_TEST(rebuild_folds_customers_only)
{
	char dir[1024];
	vbt_capture cap;
	vb_log log;
	vb_buf stored = { 0 };
	uint64_t c, e, ch;

	vb_log_init(&log, vbt_capture_open(&cap), "test", VB_LOG_INFO);
	vb_store *st = store_with_wrong_id(dir, sizeof(dir), &log);
	ck_assert_int_eq(
	    vb_store_rebuild(st, 1800000000000000LL, &stored, &c, &e, &ch), 0);
	ck_assert_uint_eq(e, DS_N + 3);
	ck_assert_uint_eq(vbt_capture_count(&cap, " S010 "), 0);
	vb_store_close(st);
	vbt_capture_close(&cap);
	vb_buf_free(&stored);
}
END_TEST

/* The marks follow the log also where an index has nothing to write:
 * the broker's own events (here the clock's suppression.changed at the
 * end of a cool-off) have no id, and an ids_applied left behind them
 * would make every open scan them again. */
START_TEST(marks_follow_events_without_ids)
{
	char dir[1024];
	vb_store *st = fresh_store(dir, sizeof(dir));
	batch b = { 0 };
	vb_buf stored = { 0 };
	int64_t later;

	batch_add_fact(&b, "mk-opened", "complaint.opened", "F-0",
	    "2026-11-20T09:00:00Z", 0);
	batch_add_fact(&b, "mk-resolved", "complaint.resolved", "F-0",
	    "2026-11-20T09:10:00Z", 0);
	ck_assert_int_eq(batch_append(st, &b, NULL), 0);
	batch_free(&b);
	ck_assert_int_eq(vb_store_fold(st), 0);
	uint64_t folded = vb_store_last_seq(st);
	ck_assert_int_eq(vb_time_parse("2026-12-20T00:00:00Z", &later), 0);
	ck_assert_int_eq(vb_store_tick(st, later, &stored), 0);
	uint64_t last = vb_store_last_seq(st);
	ck_assert_uint_gt(last, folded);
	ck_assert_int_eq(vb_store_fold(st), 0);
	vb_store_close(st);
	ck_assert_uint_eq(raw_u64(IX(dir), "meta", "cust_applied"), last);
	ck_assert_uint_eq(raw_u64(IX(dir), "meta", "ids_applied"), last);
	vb_buf_free(&stored);
}
END_TEST

static Suite *
store_suite(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("log");
	tcase_add_unchecked_fixture(tc, vbt_root_setup, vbt_root_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, open_empty);
	tcase_add_test(tc, open_creates_dir);
	tcase_add_test(tc, open_bad_dir);
	tcase_add_test(tc, append_assigns_seq);
	tcase_add_test(tc, stored_bytes_in_replay);
	tcase_add_test(tc, stored_events_decode_whole);
	tcase_add_test(tc, duplicate_in_later_call);
	tcase_add_test(tc, duplicate_in_same_call);
	tcase_add_test(tc, prepared_ids_are_the_same_ids);
	tcase_add_test(tc, last_seq_persists);
	tcase_add_test(tc, durable_by_next_commit_or_sync);
	tcase_add_test(tc, second_open_is_busy);
	suite_add_tcase(s, tc);

	tc = tcase_create("replay");
	tcase_add_unchecked_fixture(tc, vbt_root_setup, vbt_root_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, replay_from_to);
	tcase_add_test(tc, replay_customer);
	tcase_add_test(tc, customer_index_deferred);
	tcase_add_test(tc, replay_type_prefix);
	tcase_add_test(tc, replay_since_until);
	tcase_add_test(tc, replay_combined);
	tcase_add_test(tc, replay_pages_by_size_and_scan);
	tcase_add_test(tc, replay_callback_stops);
	tcase_add_test(tc, stats_counts);
	suite_add_tcase(s, tc);

	tc = tcase_create("records");
	tcase_add_unchecked_fixture(tc, vbt_root_setup, vbt_root_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, log_runs_hold_consecutive_events);
	tcase_add_test(tc, log_reads_format_1);
	tcase_add_test(tc, log_refuses_newer_format);
	tcase_add_test(tc, log_malformed_records);
	suite_add_tcase(s, tc);

	tc = tcase_create("ids");
	tcase_add_unchecked_fixture(tc, vbt_root_setup, vbt_root_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, ids_wait_then_fold);
	tcase_add_test(tc, ids_filter_spares_lookups);
	tcase_add_test(tc, ids_come_back_after_crash);
	tcase_add_test(tc, indexes_of_a_format_3_store);
	tcase_add_test(tc, index_built_again_when_missing);
	suite_add_tcase(s, tc);

	tc = tcase_create("folds");
	tcase_add_unchecked_fixture(tc, vbt_root_setup, vbt_root_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, failed_open_writes_nothing);
	tcase_add_test(tc, untrusted_index_built_again);
	tcase_add_test(tc, ids_fold_refuses_another_seq);
	tcase_add_test(tc, rebuild_folds_customers_only);
	tcase_add_test(tc, folder_folds_in_background);
	tcase_add_test(tc, open_rebuilds_index_a_fold_refuses);
	tcase_add_test(tc, long_reader_holds_no_fold);
	tcase_add_test(tc, index_of_another_history_built_again);
	tcase_add_test(tc, customers_counted_by_folds);
	tcase_add_test(tc, stats_skips_an_aborted_customer);
	tcase_add_test(tc, indexes_fold_at_their_own_sizes);
	tcase_add_test(tc, writer_waits_for_folds_behind);
	tcase_add_test(tc, failed_flush_breaks_store);
	tcase_add_test(tc, marks_follow_events_without_ids);
	tcase_add_test(tc, cust_fold_in_chunks);
	tcase_add_test(tc, cust_runs_merged);
	suite_add_tcase(s, tc);

	tc = tcase_create("map");
	tcase_add_unchecked_fixture(tc, vbt_root_setup, vbt_root_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, map_grows_from_tiny);
	tcase_add_test(tc, map_grows_under_readers);
	tcase_add_test(tc, map_grows_under_busy_readers);
	tcase_add_test(tc, map_full_is_efull);
	tcase_add_test(tc, map_size_capped_at_max);
	tcase_add_test(tc, write_ahead_commits_overwrite);
	tcase_add_test(tc, write_ahead_stops_at_file_size_limit);
	tcase_add_test(tc, failed_commit_leaves_store_usable);
	tcase_add_test(tc, check_readers_clears_dead_process);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return vbt_run(store_suite());
}
