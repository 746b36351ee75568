/* vb-field: field service visits onto the bus.
 *
 * A work order export says what was promised (a window) and what happened
 * (arrived, completed, status).  Every visit is visit.scheduled; a visit
 * nobody arrived at by the end of its window -- late, or not at all by
 * --as-of -- is visit.missed, the gap between promise and delivery; a
 * completed one is visit.completed; a cancelled one visit.cancelled. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vb_adapter.h"
#include "vb_event.h"

enum {
	F_VISIT,
	F_CUSTOMER,
	F_WINDOW_START,
	F_WINDOW_END,
	F_ARRIVED,
	F_COMPLETED,
	F_STATUS,
	F_REASON,
	F_BOOKED,
	F_UPDATED,
};

static const vb_ad_field fields[] = {
	[F_VISIT] = { "visit", "work order or visit id", 1 },
	[F_CUSTOMER] = { "customer", "whose visit (see --customer-map)", 1 },
	[F_WINDOW_START] = { "window_start", "start of the promised window",
	    1 },
	[F_WINDOW_END] = { "window_end",
	    "end of the promised window (a date alone: its end)", 1 },
	[F_ARRIVED] = { "arrived_at",
	    "when the technician arrived; empty: not (yet)", 1 },
	[F_COMPLETED] = { "completed_at",
	    "when the work was done; empty: not (yet)", 1 },
	[F_STATUS] = { "status",
	    "open, completed or cancelled (see the *_statuses options)", 1 },
	[F_REASON] = { "reason", "what the visit is for", 0 },
	[F_BOOKED] = { "booked_at",
	    "when it was booked (dates visit.scheduled)", 0 },
	[F_UPDATED] = { "updated_at",
	    "when it last changed (dates visit.cancelled)", 0 },
	{ NULL, NULL, 0 },
};

static const vb_ad_option options[] = {
	{ "open_statuses",
	    "open, scheduled, booked, confirmed, dispatched, en route, on site, in progress",
	    "statuses of a visit still to happen or under way" },
	{ "completed_statuses", "completed, complete, done, closed",
	    "statuses of a visit done" },
	{ "cancelled_statuses", "cancelled, canceled",
	    "statuses of a visit called off" },
	{ NULL, NULL, NULL },
};

enum { S_OPEN, S_COMPLETED, S_CANCELLED };

/* "2 h 05 min" */
static void
duration(int64_t us, char *buf, size_t len)
{
	int64_t min = us / 60000000;
	if (min >= 60)
		snprintf(buf, len, "%lld h %02lld min", (long long)(min / 60),
		    (long long)(min % 60));
	else
		snprintf(buf, len, "%lld min", (long long)(min ? min : 1));
}

/* A time field that must be there. */
static int
when_needed(vb_ad_file *f, const vb_ad_row *r, int field, int64_t *us,
    int *date_only)
{
	int rv = vb_ad_when(f, r, field, us, date_only);
	if (rv > 0)
		vb_ad_reject(f, r->line, "%s: empty", vb_ad_col(f, field));
	return rv == 0 ? 0 : -1;
}

static int
row(vb_ad_file *f, void *arg, const vb_ad_row *r)
{
	const char *visit, *status;
	char customer[VB_CUSTOMER_MAX + 1], why[96], late[48];
	int64_t ws, we, arrived = 0, completed = 0, booked, cancelled = 0;
	int end_date_only, has_arrived, has_completed, rv, st;
	vb_ad_ev *b;

	(void)arg;
	if (vb_ad_need(f, r, F_VISIT, &visit) != 0 ||
	    vb_ad_customer(f, r, F_CUSTOMER, customer, sizeof(customer)) != 0 ||
	    when_needed(f, r, F_WINDOW_START, &ws, NULL) != 0 ||
	    when_needed(f, r, F_WINDOW_END, &we, &end_date_only) != 0 ||
	    vb_ad_need(f, r, F_STATUS, &status) != 0)
		return 0;
	/* A window that ends "on 21 November" ends at its midnight. */
	if (end_date_only)
		we += VB_AD_DAY_US;
	if (we <= ws) {
		vb_ad_reject(f, r->line, "%s: not after %s",
		    vb_ad_col(f, F_WINDOW_END), vb_ad_col(f, F_WINDOW_START));
		return 0;
	}
	if (vb_ad_list_match(vb_ad_opt(f, "completed_statuses"), status))
		st = S_COMPLETED;
	else if (vb_ad_list_match(vb_ad_opt(f, "cancelled_statuses"), status))
		st = S_CANCELLED;
	else if (vb_ad_list_match(vb_ad_opt(f, "open_statuses"), status))
		st = S_OPEN;
	else {
		vb_ad_reject(f, r->line,
		    "%s: \"%.64s\" is not an open (%s), completed (%s) or "
		    "cancelled (%s) status",
		    vb_ad_col(f, F_STATUS), status,
		    vb_ad_opt(f, "open_statuses"),
		    vb_ad_opt(f, "completed_statuses"),
		    vb_ad_opt(f, "cancelled_statuses"));
		return 0;
	}
	if ((rv = vb_ad_when(f, r, F_ARRIVED, &arrived, NULL)) < 0)
		return 0;
	has_arrived = rv == 0;
	if ((rv = vb_ad_when(f, r, F_COMPLETED, &completed, NULL)) < 0)
		return 0;
	has_completed = rv == 0;
	if (has_completed && !has_arrived) {
		vb_ad_reject(f, r->line,
		    "%s: empty, but %s is set: when did the technician arrive?",
		    vb_ad_col(f, F_ARRIVED), vb_ad_col(f, F_COMPLETED));
		return 0;
	}
	if (has_completed && completed < arrived) {
		vb_ad_reject(f, r->line, "%s: before %s",
		    vb_ad_col(f, F_COMPLETED), vb_ad_col(f, F_ARRIVED));
		return 0;
	}
	if (st == S_COMPLETED && !has_completed) {
		vb_ad_reject(f, r->line, "%s: empty, but %s is \"%s\"",
		    vb_ad_col(f, F_COMPLETED), vb_ad_col(f, F_STATUS), status);
		return 0;
	}
	if (st != S_COMPLETED && has_completed) {
		vb_ad_reject(f, r->line, "%s: \"%s\", but %s is set",
		    vb_ad_col(f, F_STATUS), status, vb_ad_col(f, F_COMPLETED));
		return 0;
	}
	if (st == S_CANCELLED) {
		if ((rv = vb_ad_when(f, r, F_UPDATED, &cancelled, NULL)) != 0) {
			if (rv > 0)
				vb_ad_reject(f, r->line,
				    "%s: empty: nothing dates the cancellation",
				    vb_ad_col(f, F_UPDATED));
			return 0;
		}
	}
	if ((rv = vb_ad_when(f, r, F_BOOKED, &booked, NULL)) < 0)
		return 0;
	if (rv > 0)
		booked = ws; /* the export does not say when it was booked */

	if (vb_ad_event(f, r, r->line, "visit.scheduled", visit, "scheduled",
	        customer, booked, &b) != 0)
		return 0;
	vb_ad_ev_str(b, "visit", visit);
	vb_ad_ev_time(b, "window_start", ws);
	vb_ad_ev_time(b, "window_end", we);
	vb_ad_ev_str(b, "reason", r->value[F_REASON]);
	if (vb_ad_emit(f, b, r->line) != 0)
		return 0;

	if (st == S_CANCELLED) {
		if (vb_ad_event(f, r, r->line, "visit.cancelled", visit,
		        "cancelled", customer, cancelled, &b) != 0)
			return 0;
		vb_ad_ev_str(b, "visit", visit);
		vb_ad_ev_str(b, "reason", status);
		vb_ad_emit(f, b, r->line);
		return 0;
	}

	/* Missed: nobody there by the end of the window, whether they came
	 * later or not at all (judged at --as-of). */
	why[0] = '\0';
	if (has_arrived && arrived > we) {
		duration(arrived - we, late, sizeof(late));
		snprintf(why, sizeof(why), "arrived %s after the window", late);
	} else if (!has_arrived && we <= vb_ad_as_of(f)) {
		snprintf(why, sizeof(why),
		    "nobody arrived by the end of the window");
	}
	if (why[0]) {
		if (vb_ad_event(f, r, r->line, "visit.missed", visit, "missed",
		        customer, we, &b) != 0)
			return 0;
		vb_ad_ev_str(b, "visit", visit);
		vb_ad_ev_time(b, "window_start", ws);
		vb_ad_ev_time(b, "window_end", we);
		vb_ad_ev_str(b, "reason", why);
		if (vb_ad_emit(f, b, r->line) != 0)
			return 0;
	}
	if (has_completed) {
		if (vb_ad_event(f, r, r->line, "visit.completed", visit,
		        "completed", customer, completed, &b) != 0)
			return 0;
		vb_ad_ev_str(b, "visit", visit);
		vb_ad_ev_time(b, "arrived_at", arrived);
		vb_ad_ev_time(b, "completed_at", completed);
		vb_ad_emit(f, b, r->line);
	}
	return 0;
}

static const vb_ad_silo silo = {
	.prog = "vb-field",
	.source = "field",
	.what =
	    "Publish field visits: visit.scheduled for every work order; visit.missed when\n"
	    "nobody arrived by the end of the promised window; visit.completed; visit.cancelled.",
	.help =
	    "Event ids: <id_prefix>:<visit>:scheduled, :missed, :completed, :cancelled.\n"
	    "visit.scheduled is dated by booked_at, else by the window's start; visit.missed\n"
	    "by the window's end, when the arrival was later or, with no arrival, when the\n"
	    "window ended before --as-of; visit.completed by completed_at; visit.cancelled by\n"
	    "updated_at.  A late visit that was then completed is both missed and completed.\n",
	.fields = fields,
	.options = options,
	.uses_as_of = 1,
	.row = row,
};

int
main(int argc, char **argv)
{
	return vb_adapter_main(&silo, argc, argv);
}
