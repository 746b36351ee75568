/* The gate's part of the store: customer state folded in the append
 * transaction, decisions, reservations, suppression changes and their
 * timers.  See vb_store.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vb_error.h"
#include "vb_event.h"
#include "vb_store_impl.h"
#include "vb_time.h"

/* ---- the customers a transaction touched: open addressing ---- */

static uint64_t
hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ULL;
	return h;
}

static int
tc_grow(store_txn *t)
{
	size_t cap = t->tc_cap ? t->tc_cap * 2 : 64;
	touched **n = calloc(cap, sizeof(*n));
	touched **list = realloc(t->tc_list, cap / 2 * sizeof(*list));
	if (list != NULL)
		t->tc_list = list;
	if (n == NULL || list == NULL) {
		free(n);
		return VB_ENOMEM;
	}
	for (size_t i = 0; i < t->tc_n; i++) {
		size_t j = hash_str(t->tc_list[i]->customer) & (cap - 1);
		while (n[j] != NULL)
			j = (j + 1) & (cap - 1);
		n[j] = t->tc_list[i];
	}
	free(t->tc);
	t->tc = n;
	t->tc_cap = cap;
	return VB_OK;
}

static int
read_state(MDB_txn *txn, MDB_dbi dbi, const char *customer, vb_state *s)
{
	MDB_val k = { strlen(customer), (void *)customer }, v;
	int rv = mdb_get(txn, dbi, &k, &v);
	memset(s, 0, sizeof(*s));
	if (rv == MDB_NOTFOUND)
		return 0;
	if (rv != 0)
		return rv;
	if (vb_state_decode(v.mv_data, v.mv_size, s) != 0) {
		vb_state_free(s);
		return MDB_CORRUPTED;
	}
	return 0;
}

touched *
store_gate_touch(store_txn *t, const char *customer, int *err)
{
	size_t j;
	touched *tc;

	*err = 0;
	if ((t->tc_n + 1) * 2 > t->tc_cap && tc_grow(t) != 0) {
		*err = ENOMEM;
		return NULL;
	}
	for (j = hash_str(customer) & (t->tc_cap - 1); t->tc[j] != NULL;
	    j = (j + 1) & (t->tc_cap - 1))
		if (strcmp(t->tc[j]->customer, customer) == 0)
			return t->tc[j];
	if ((tc = calloc(1, sizeof(*tc))) == NULL) {
		*err = ENOMEM;
		return NULL;
	}
	if ((*err = read_state(t->txn, t->st->state, customer, &tc->st)) != 0) {
		free(tc);
		return NULL;
	}
	if ((tc->customer = strdup(customer)) == NULL) {
		vb_state_free(&tc->st);
		free(tc);
		*err = ENOMEM;
		return NULL;
	}
	t->tc[j] = tc;
	t->tc_list[t->tc_n++] = tc;
	return tc;
}

static int
set_cause(touched *tc, const char *cause)
{
	char *c = strdup(cause);
	if (c == NULL)
		return ENOMEM;
	free(tc->cause);
	tc->cause = c;
	return 0;
}

int
store_gate_apply(store_txn *t, const char *customer, const vb_fact *f)
{
	int err;
	touched *tc = store_gate_touch(t, customer, &err);
	if (tc == NULL)
		return err;
	if (vb_state_apply(&tc->st, f, vb_rules_keep_us(&t->st->rules)) != 0)
		return ENOMEM;
	tc->dirty = 1;
	return set_cause(tc, f->event);
}

void
store_txn_free_gate(store_txn *t)
{
	for (size_t i = 0; i < t->tc_n; i++) {
		touched *tc = t->tc_list[i];
		free(tc->customer);
		free(tc->cause);
		vb_state_free(&tc->st);
		free(tc);
	}
	free(t->tc);
	free(t->tc_list);
	t->tc = NULL;
	t->tc_list = NULL;
	t->tc_cap = t->tc_n = 0;
	vb_buf_free(&t->scratch);
}

/* ---- folding a customer's log ---- */

typedef struct {
	vb_store *st;
	MDB_cursor *log;
	int64_t at_us;
	vb_state *s;
} fold_arg;

/* Fold one event of the customer's, if dated no later than at_us. */
static int
fold_one(void *arg, uint64_t seq)
{
	fold_arg *a = arg;
	MDB_val lv;
	vb_event *ev;
	vb_fact f;
	int64_t us;
	char tbuf[64];
	vb_event_peek pk;
	int rv;

	if ((rv = store_log_get(a->log, seq, &lv)) != 0)
		return rv;
	/* Most events are of no use to the gate: look before decoding. */
	if (vb_event_peek_pb(lv.mv_data, lv.mv_size, &pk) != 0 || pk.time_len >= sizeof(tbuf))
		return 0;
	memcpy(tbuf, pk.time, pk.time_len);
	tbuf[pk.time_len] = '\0';
	if (vb_time_parse(tbuf, &us) != 0 || us > a->at_us)
		return 0;
	if (vb_event_from_pb(lv.mv_data, lv.mv_size, &ev) != 0)
		return 0;
	rv = 0;
	if (vb_fact_from_event(ev, us, &f) == 0 &&
	    vb_state_apply(a->s, &f, vb_rules_keep_us(&a->st->rules)) != 0)
		rv = ENOMEM;
	vb_event_free(ev);
	return rv;
}

/* Fold the customer's events with time <= at_us from the log (those up to
 * hi of the ones not in the cust index yet: see store_customer_seqs). */
static int
fold_from_log(vb_store *st, MDB_txn *txn, MDB_txn *xtxn, const char *customer,
    int64_t at_us, uint64_t hi, vb_state *s)
{
	fold_arg a = { st, NULL, at_us, s };
	int rv;

	memset(s, 0, sizeof(*s));
	if ((rv = mdb_cursor_open(txn, st->dlog, &a.log)) != 0)
		return rv;
	rv = store_customer_seqs(st, xtxn, customer, 0, hi, fold_one, &a);
	mdb_cursor_close(a.log);
	if (rv != 0)
		vb_state_free(s);
	return rv;
}

int
store_txn_fold(store_txn *t, const char *customer, int64_t at_us, vb_state *s)
{
	int rv;
	/* The customer's latest events may still wait in the open run. */
	if ((rv = store_log_flush(t)) != 0)
		return rv;
	return fold_from_log(t->st, t->txn, t->xtxn, customer, at_us, UINT64_MAX, s);
}

int
store_load_state(vb_store *st, MDB_txn *txn, const char *customer,
    int64_t at_us, int from_log, uint64_t hi, vb_state *s)
{
	int rv;
	if (!from_log) {
		if ((rv = read_state(txn, st->state, customer, s)) != 0)
			return rv;
		if (!vb_gate_needs_log(s, at_us))
			return 0;
		vb_state_free(s);
	}
	return fold_from_log(st, txn, NULL, customer, at_us, hi, s);
}

/* ---- the broker's own events ---- */

/* Build an event from its JSON form and store it (no id index). */
static int
put_json_event(store_txn *t, const char *customer, const char *json,
    const char *id, uint64_t *seq)
{
	vb_event *ev;
	char err[VB_ERRMSG_MAX];
	int rv;

	if (vb_event_from_json(json, strlen(json), &ev, err, sizeof(err)) != 0) {
		vb_log_error(t->st->log, "G001", "cannot build an event: %s", err);
		return EINVAL;
	}
	vb_buf_reset(&t->scratch);
	if (vb_event_to_pb_canonical(ev, &t->scratch) != 0) {
		vb_event_free(ev);
		return ENOMEM;
	}
	rv = store_txn_put_event(t, t->scratch.data, t->scratch.len, id, NULL, customer,
	    NULL, vb_event_type(ev), vb_event_source(ev), seq, NULL, NULL);
	vb_event_free(ev);
	return rv;
}

/* supp keeps, for each customer with something blocked, a digest of the
 * list last published (its length and keyed hash, 16 bytes) rather than
 * the list: the lists run to kilobytes, each in LMDB overflow pages of its
 * own (half the data file of a gate-heavy store, and a page rewritten per
 * change), while all they are needed for is "has it changed?".  The
 * lists themselves are in the suppression.changed events of the log.
 * Stores written before keep the JSON until the customer's next change. */
#define SUPP_DIGEST 16

static void
supp_digest(const vb_store *st, const vb_buf *blocked, uint8_t d[SUPP_DIGEST])
{
	uint64_t len = blocked->len, h = vb_siphash(st->supp_key, blocked->data, blocked->len);
	memcpy(d, &len, 8);
	memcpy(d + 8, &h, 8);
}

/* Whether supp's value v says blocked is what was last published.  No
 * list is as short as a digest: a purpose, a channel and a reason alone
 * take more bytes. */
static int
supp_same(const MDB_val *v, const vb_buf *blocked, const uint8_t d[SUPP_DIGEST])
{
	if (v->mv_size == SUPP_DIGEST)
		return memcmp(v->mv_data, d, SUPP_DIGEST) == 0;
	return v->mv_size == blocked->len && memcmp(v->mv_data, blocked->data, blocked->len) == 0;
}

/* Compare what is blocked for tc now with what was last published; on a
 * change, store the new list and a suppression.changed event, and set a
 * timer for when it may change by the clock. */
static int
publish_change(store_txn *t, const char *customer, const vb_state *s,
    const char *cause)
{
	vb_store *st = t->st;
	vb_buf blocked = { 0 }, json = { 0 };
	MDB_val k = { strlen(customer), (void *)customer }, v;
	vb_state now_state;
	int64_t next_us = 0, future;
	uint64_t seq;
	char now[VB_TIME_BUFSZ], id[48];
	uint8_t digest[SUPP_DIGEST];
	int rv, empty;

	/* What is blocked now is decided by the facts of now: a state that
	 * holds facts dated later is folded from the log up to now, as the
	 * gate itself does; those later facts take effect by the clock. */
	memset(&now_state, 0, sizeof(now_state));
	future = vb_state_next_after(s, t->recorded_us);
	if (future != 0) {
		if ((rv = store_txn_fold(t, customer, t->recorded_us, &now_state)) != 0)
			return rv;
		s = &now_state;
	}
	if (vb_gate_blocked_json(&st->rules, s, t->recorded_us, &blocked, &next_us) != 0) {
		rv = ENOMEM;
		goto out;
	}
	if (future != 0 && (next_us == 0 || future < next_us))
		next_us = future;
	if (next_us != 0) {
		uint8_t key[8 + 512];
		size_t cl = strlen(customer) > 500 ? 500 : strlen(customer);
		uint64_t be = (uint64_t)next_us;
		for (int i = 0; i < 8; i++)
			key[i] = (uint8_t)(be >> (56 - 8 * i));
		memcpy(key + 8, customer, cl);
		MDB_val tk = { 8 + cl, key }, tv = { 0, "" };
		if ((rv = mdb_put(t->txn, st->timers, &tk, &tv, 0)) != 0)
			goto out;
	}
	empty = blocked.len == 2; /* "[]" */
	supp_digest(st, &blocked, digest);
	rv = mdb_get(t->txn, st->supp, &k, &v);
	if (rv == MDB_NOTFOUND) {
		if (empty) {
			rv = 0;
			goto out;
		}
	} else if (rv != 0) {
		goto out;
	} else if (supp_same(&v, &blocked, digest)) {
		rv = 0;
		goto out;
	}
	if (empty) {
		rv = mdb_del(t->txn, st->supp, &k, NULL);
	} else {
		v.mv_size = SUPP_DIGEST;
		v.mv_data = digest;
		rv = mdb_put(t->txn, st->supp, &k, &v, 0);
	}
	if (rv != 0)
		goto out;
	snprintf(id, sizeof(id), "suppression:%llu", (unsigned long long)(t->seq + 1));
	rv = vb_buf_append_str(&json, "{\"id\":");
	rv |= vb_json_escape(&json, id);
	rv |= vb_buf_append_str(&json, ",\"source\":\"voicebus\",\"type\":\"suppression.changed\",\"customer\":");
	rv |= vb_json_escape(&json, customer);
	rv |= vb_buf_append_str(&json, ",\"time\":");
	rv |= vb_json_escape(&json, vb_time_format(t->recorded_us, now));
	rv |= vb_buf_append_str(&json, ",\"data\":{\"blocked\":");
	rv |= vb_buf_append(&json, blocked.data, blocked.len);
	rv |= vb_buf_append_str(&json, ",\"cause\":");
	rv |= vb_json_escape(&json, cause ? cause : "clock");
	rv |= vb_buf_append_str(&json, "}}");
	if (rv != 0) {
		rv = ENOMEM;
		goto out;
	}
	rv = put_json_event(t, customer, (const char *)json.data, NULL, &seq);
out:
	vb_state_free(&now_state);
	vb_buf_free(&blocked);
	vb_buf_free(&json);
	return rv;
}

int
store_gate_finish(store_txn *t, const char *cause_override)
{
	/* In the order the customers were first touched: the suppression
	 * events follow the events that caused them. */
	for (size_t i = 0; i < t->tc_n; i++) {
		touched *tc = t->tc_list[i];
		MDB_val k, v;
		int rv;
		if (!tc->dirty)
			continue;
		vb_buf_reset(&t->scratch);
		if (vb_state_encode(&tc->st, &t->scratch) != 0)
			return ENOMEM;
		k.mv_size = strlen(tc->customer);
		k.mv_data = tc->customer;
		v.mv_size = t->scratch.len;
		v.mv_data = t->scratch.data;
		if ((rv = mdb_put(t->txn, t->st->state, &k, &v, 0)) != 0)
			return rv;
		if ((rv = publish_change(t, tc->customer, &tc->st,
		    cause_override ? cause_override : tc->cause)) != 0)
			return rv;
		tc->dirty = 0;
	}
	return 0;
}

/* ---- reservation ---- */

int
store_gate_record(store_txn *t, vb_store_item *it, vb_buf *aux)
{
	vb_store *st = t->st;
	vb_decision d;
	vb_state logged, *s;
	touched *tc;
	vb_buf json = { 0 };
	char id[VB_ID_MAX + 1], now[VB_TIME_BUFSZ];
	int err, rv;

	/* The same campaign recorded again (a retry, a second run) is the
	 * reservation already made, not a new send the cap would refuse. */
	snprintf(id, sizeof(id), "%s/%s/%s/%s", it->campaign, it->customer,
	    vb_channel_names[it->channel], vb_purpose_names[it->purpose]);
	it->reasons_off = aux->len;
	if ((rv = store_ids_find(t, id, store_ids_hash(st, id), &it->seq)) == 0) {
		it->allow = 1;
		it->duplicate = 1;
		rv = vb_buf_append_str(aux, "[]");
		it->reasons_len = aux->len - it->reasons_off;
		return (vb_buf_append_byte(aux, 0) | rv) ? ENOMEM : 0;
	}
	if (rv != MDB_NOTFOUND)
		return rv;
	if ((tc = store_gate_touch(t, it->customer, &err)) == NULL)
		return err;
	s = &tc->st;
	memset(&logged, 0, sizeof(logged));
	if (vb_gate_needs_log(s, t->recorded_us)) {
		if ((rv = store_txn_fold(t, it->customer, t->recorded_us, &logged)) != 0)
			return rv;
		s = &logged;
	}
	vb_gate_decide(&st->rules, s, it->purpose, it->channel, t->recorded_us, &d);
	it->allow = d.allow;
	it->seq = 0;
	it->duplicate = 0;
	rv = vb_gate_reasons_json(&d, aux);
	it->reasons_len = aux->len - it->reasons_off;
	rv |= vb_buf_append_byte(aux, 0);
	vb_state_free(&logged);
	if (rv != 0)
		return ENOMEM;
	if (!d.allow)
		return 0;
	/* The reservation: a message.sent in this same transaction, so the
	 * next decision for this customer already counts it. */
	rv = vb_buf_append_str(&json, "{\"id\":");
	rv |= vb_json_escape(&json, id);
	rv |= vb_buf_append_str(&json, ",\"source\":\"marketing\",\"type\":\"message.sent\",\"customer\":");
	rv |= vb_json_escape(&json, it->customer);
	rv |= vb_buf_append_str(&json, ",\"time\":");
	rv |= vb_json_escape(&json, vb_time_format(t->recorded_us, now));
	rv |= vb_buf_append_str(&json, ",\"data\":{\"channel\":");
	rv |= vb_json_escape(&json, vb_channel_names[it->channel]);
	rv |= vb_buf_append_str(&json, ",\"purpose\":");
	rv |= vb_json_escape(&json, vb_purpose_names[it->purpose]);
	rv |= vb_buf_append_str(&json, ",\"campaign\":");
	rv |= vb_json_escape(&json, it->campaign);
	rv |= vb_buf_append_str(&json, "},\"attributes\":{\"recorded_by\":\"gate\"}}");
	if (rv != 0) {
		vb_buf_free(&json);
		return ENOMEM;
	}
	rv = put_json_event(t, it->customer, (const char *)json.data, id, &it->seq);
	vb_buf_free(&json);
	if (rv != 0)
		return rv;
	vb_fact f = { VB_FACT_MESSAGE_SENT, t->recorded_us, id,
		vb_channel_names[it->channel], vb_purpose_names[it->purpose] };
	return store_gate_apply(t, it->customer, &f);
}

/* ---- the clock ---- */

static int
tick_txn(store_txn *t, void *arg)
{
	vb_store *st = t->st;
	MDB_cursor *cur;
	MDB_val k, v;
	int rv;
	(void)arg;

	if ((rv = mdb_cursor_open(t->txn, st->timers, &cur)) != 0)
		return rv;
	for (rv = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rv == 0;
	    rv = mdb_cursor_get(cur, &k, &v, MDB_FIRST)) {
		const uint8_t *p = k.mv_data;
		uint64_t be = 0;
		char customer[512];
		int err;
		touched *tc;

		if (k.mv_size < 8 || k.mv_size - 8 >= sizeof(customer)) {
			mdb_cursor_del(cur, 0);
			continue;
		}
		for (int i = 0; i < 8; i++)
			be = (be << 8) | p[i];
		if ((int64_t)be > t->recorded_us)
			break;
		memcpy(customer, p + 8, k.mv_size - 8);
		customer[k.mv_size - 8] = '\0';
		if ((rv = mdb_cursor_del(cur, 0)) != 0)
			break;
		/* Touch it so that finish re-decides it (cause "clock"). */
		if ((tc = store_gate_touch(t, customer, &err)) == NULL) {
			rv = err;
			break;
		}
		tc->dirty = 1;
	}
	mdb_cursor_close(cur);
	if (rv == MDB_NOTFOUND)
		rv = 0;
	if (rv != 0)
		return rv;
	/* Clock changes: "clock" is the cause, not the last event. */
	return store_gate_finish(t, "clock");
}

int
vb_store_tick(vb_store *st, int64_t now_us, vb_buf *stored)
{
	char now[VB_TIME_BUFSZ];
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	int due = 0;

	/* A read first: most ticks find nothing due and need no commit. */
	pthread_rwlock_rdlock(&st->maplock);
	if (mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn) == 0) {
		if (mdb_cursor_open(txn, st->timers, &cur) == 0) {
			if (mdb_cursor_get(cur, &k, &v, MDB_FIRST) == 0 && k.mv_size >= 8) {
				uint64_t be = 0;
				for (int i = 0; i < 8; i++)
					be = (be << 8) | ((const uint8_t *)k.mv_data)[i];
				due = (int64_t)be <= now_us;
			}
			mdb_cursor_close(cur);
		}
		mdb_txn_abort(txn);
	}
	pthread_rwlock_unlock(&st->maplock);
	if (!due)
		return VB_OK;
	return store_write(st, 1 << 16, vb_time_format(now_us, now), stored, tick_txn,
	    NULL, "clock tick");
}

/* ---- rebuild ---- */

typedef struct {
	uint64_t customers, events, changed;
} rebuild_arg;

static int
rebuild_txn(store_txn *t, void *arg)
{
	rebuild_arg *a = arg;
	vb_store *st = t->st;
	MDB_cursor *cur;
	MDB_val k, v;
	char customer[VB_CUSTOMER_MAX + 1];
	int rv;

	a->customers = a->events = a->changed = 0;
	if ((rv = mdb_cursor_open(t->xtxn, st->ix[IX_CUST].dbi, &cur)) != 0)
		return rv;
	/* Customer by customer, from the customer index: memory stays that of
	 * one customer whatever the size of the log. */
	for (rv = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rv == 0;
	    rv = mdb_cursor_get(cur, &k, &v, MDB_NEXT_NODUP)) {
		vb_state s;
		MDB_val sk, sv;
		size_t ndup = 0;
		if (k.mv_size > VB_CUSTOMER_MAX)
			continue;
		memcpy(customer, k.mv_data, k.mv_size);
		customer[k.mv_size] = '\0';
		mdb_cursor_count(cur, &ndup);
		a->events += ndup;
		if ((rv = store_txn_fold(t, customer, INT64_MAX, &s)) != 0)
			break;
		vb_buf_reset(&t->scratch);
		int has = s.ncases || s.missed_event || s.completed_us || s.ninvoices ||
		    s.nconsents || s.nmessages;
		if (has && vb_state_encode(&s, &t->scratch) != 0) {
			vb_state_free(&s);
			rv = ENOMEM;
			break;
		}
		sk.mv_size = strlen(customer);
		sk.mv_data = customer;
		rv = mdb_get(t->txn, st->state, &sk, &sv);
		int same = has ? (rv == 0 && sv.mv_size == t->scratch.len &&
		    memcmp(sv.mv_data, t->scratch.data, t->scratch.len) == 0) : rv == MDB_NOTFOUND;
		if (!same) {
			a->changed++;
			vb_log_warn(st->log, "G002", "rebuild: state of %s differed", customer);
			if (has) {
				sv.mv_size = t->scratch.len;
				sv.mv_data = t->scratch.data;
				rv = mdb_put(t->txn, st->state, &sk, &sv, 0);
			} else {
				rv = mdb_del(t->txn, st->state, &sk, NULL);
			}
			if (rv != 0) {
				vb_state_free(&s);
				break;
			}
		}
		if (has)
			a->customers++;
		/* Re-decide everyone: publishes only what really changed. */
		rv = publish_change(t, customer, &s, "rebuild");
		vb_state_free(&s);
		if (rv != 0)
			break;
	}
	mdb_cursor_close(cur);
	return rv == MDB_NOTFOUND ? 0 : rv;
}

int
vb_store_rebuild(vb_store *st, int64_t now_us, vb_buf *stored,
    uint64_t *customers, uint64_t *events, uint64_t *changed)
{
	rebuild_arg a = { 0, 0, 0 };
	char now[VB_TIME_BUFSZ];
	int rv;
	/* The rebuild walks customers by the cust index: complete it first
	 * (its events durable first: the index never runs ahead of the log).
	 * Only it: the ids have nothing to do with the rebuild, and an ids
	 * fold that fails (S010) must not stop it. */
	if ((rv = vb_store_sync(st)) != 0 ||
	    (rv = store_fold_now(st, (1u << IX_CUST) | STORE_FOLD_MERGE,
	        atomic_load(&st->last_seq))) != 0)
		return rv;
	rv = store_write(st, 1 << 20, vb_time_format(now_us, now), stored,
	    rebuild_txn, &a, "rebuild");
	*customers = a.customers;
	*events = a.events;
	*changed = a.changed;
	return rv;
}

/* ---- reads ---- */

int
vb_store_decide(vb_store *st, const char *const *customers, size_t n,
    int purpose, int channel, int64_t at_us, int from_log, vb_gate_result *res,
    vb_buf *reasons)
{
	MDB_txn *txn;
	int rv;

	pthread_rwlock_rdlock(&st->maplock);
	uint64_t hi = atomic_load(&st->last_seq); /* committed before the snapshot */
	if ((rv = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn)) != 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		vb_state s;
		vb_decision d;
		if ((rv = store_load_state(st, txn, customers[i], at_us, from_log, hi,
		    &s)) != 0)
			break;
		vb_gate_decide(&st->rules, &s, purpose, channel, at_us, &d);
		res[i].allow = d.allow;
		res[i].reasons_off = reasons->len;
		rv = vb_gate_reasons_json(&d, reasons);
		res[i].reasons_len = reasons->len - res[i].reasons_off;
		rv |= vb_buf_append_byte(reasons, 0);
		vb_state_free(&s);
		if (rv != 0) {
			rv = ENOMEM;
			break;
		}
	}
	mdb_txn_abort(txn);
out:
	pthread_rwlock_unlock(&st->maplock);
	return rv ? vb_err_from_mdb(rv) : VB_OK;
}

int
vb_store_customer(vb_store *st, const char *customer, int64_t at_us,
    int from_log, vb_buf *state_json, vb_gate_result res[VB_NPURPOSES * VB_NCHANNELS],
    vb_buf *reasons)
{
	MDB_txn *txn;
	vb_state s;
	int rv;

	pthread_rwlock_rdlock(&st->maplock);
	uint64_t hi = atomic_load(&st->last_seq); /* committed before the snapshot */
	if ((rv = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn)) != 0)
		goto out;
	if ((rv = store_load_state(st, txn, customer, at_us, from_log, hi, &s)) == 0) {
		rv = vb_state_to_json(&s, state_json) ? ENOMEM : 0;
		for (int p = 0; p < VB_NPURPOSES && rv == 0; p++) {
			for (int c = 0; c < VB_NCHANNELS && rv == 0; c++) {
				vb_decision d;
				vb_gate_result *r = &res[p * VB_NCHANNELS + c];
				vb_gate_decide(&st->rules, &s, p, c, at_us, &d);
				r->allow = d.allow;
				r->reasons_off = reasons->len;
				rv = vb_gate_reasons_json(&d, reasons) ? ENOMEM : 0;
				r->reasons_len = reasons->len - r->reasons_off;
				if (vb_buf_append_byte(reasons, 0) != 0)
					rv = ENOMEM;
			}
		}
		vb_state_free(&s);
	}
	mdb_txn_abort(txn);
out:
	pthread_rwlock_unlock(&st->maplock);
	return rv ? vb_err_from_mdb(rv) : VB_OK;
}

int
vb_store_suppressions(vb_store *st, const char *after, size_t limit,
    int purpose, int channel, int64_t now_us, vb_store_supp_cb cb, void *arg,
    char **next)
{
	MDB_txn *txn;
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	char customer[VB_CUSTOMER_MAX + 1];
	size_t visited = 0;
	vb_buf reasons = { 0 };
	int rv;

	*next = NULL;
	pthread_rwlock_rdlock(&st->maplock);
	uint64_t hi = atomic_load(&st->last_seq); /* committed before the snapshot */
	if ((rv = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn)) != 0)
		goto out;
	if ((rv = mdb_cursor_open(txn, st->supp, &cur)) != 0)
		goto done;
	if (after && after[0]) {
		k.mv_size = strlen(after);
		k.mv_data = (void *)after;
		rv = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		if (rv == 0 && k.mv_size == strlen(after) && memcmp(k.mv_data, after, k.mv_size) == 0)
			rv = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	} else {
		rv = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	}
	for (; rv == 0 && visited < limit; rv = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		vb_state s;
		if (k.mv_size > VB_CUSTOMER_MAX)
			continue;
		memcpy(customer, k.mv_data, k.mv_size);
		customer[k.mv_size] = '\0';
		visited++;
		/* Decide now rather than trust the list last published: a
		 * cool-off may have ended since the last tick. */
		if ((rv = store_load_state(st, txn, customer, now_us, 0, hi, &s)) != 0)
			break;
		for (int p = 0; p < VB_NPURPOSES && rv == 0; p++) {
			if (purpose >= 0 && p != purpose)
				continue;
			for (int c = 0; c < VB_NCHANNELS && rv == 0; c++) {
				vb_decision d;
				if (channel >= 0 && c != channel)
					continue;
				vb_gate_decide(&st->rules, &s, p, c, now_us, &d);
				if (d.allow)
					continue;
				vb_buf_reset(&reasons);
				if (vb_gate_reasons_json(&d, &reasons) != 0)
					rv = ENOMEM;
				else if (cb(arg, customer, p, c, (const char *)reasons.data, reasons.len) != 0)
					rv = ECANCELED;
			}
		}
		vb_state_free(&s);
		if (rv != 0)
			break;
	}
	if (rv == 0 && visited == limit && (*next = strdup(customer)) == NULL)
		rv = ENOMEM;
	if (rv == MDB_NOTFOUND || rv == ECANCELED)
		rv = 0;
done:
	if (cur)
		mdb_cursor_close(cur);
	mdb_txn_abort(txn);
out:
	pthread_rwlock_unlock(&st->maplock);
	vb_buf_free(&reasons);
	return rv ? vb_err_from_mdb(rv) : VB_OK;
}

int
vb_store_state_get(vb_store *st, const char *customer, vb_buf *out)
{
	MDB_txn *txn;
	MDB_val k = { strlen(customer), (void *)customer }, v;
	int rv;

	pthread_rwlock_rdlock(&st->maplock);
	if ((rv = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn)) == 0) {
		if ((rv = mdb_get(txn, st->state, &k, &v)) == 0 &&
		    vb_buf_append(out, v.mv_data, v.mv_size) != 0)
			rv = ENOMEM;
		mdb_txn_abort(txn);
	}
	pthread_rwlock_unlock(&st->maplock);
	return rv ? vb_err_from_mdb(rv) : VB_OK;
}
