/* vb-service: the service desk's complaints onto the bus.
 *
 * Each row of a ticket export is one complaint: complaint.opened when it was
 * opened, and complaint.resolved when its status is a resolved one.  The
 * generic mapping reads any helpdesk export (ticket id, status, created,
 * updated, requester); the cfpb preset reads the US CFPB's complaint
 * database export as it is. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vb_ad_text.h"
#include "vb_adapter.h"
#include "vb_error.h"
#include "vb_event.h"

enum {
	F_CASE,
	F_CUSTOMER,
	F_OPENED,
	F_STATUS,
	F_RESOLVED,
	F_UPDATED,
	F_CATEGORY,
	F_SUBCATEGORY,
	F_SEVERITY,
	F_SUMMARY,
	F_CHANNEL,
	F_RESOLUTION_SUMMARY,
};

static const vb_ad_field fields[] = {
	[F_CASE] = { "case", "ticket or case number", 1 },
	[F_CUSTOMER] = { "customer", "who complained (see --customer-map)", 1 },
	[F_OPENED] = { "opened", "when it was opened", 1 },
	[F_STATUS] = { "status", "its status now: an open or a resolved one",
	    1 },
	[F_RESOLVED] = { "resolved", "when it was resolved (else: updated)",
	    0 },
	[F_UPDATED] = { "updated", "when it last changed", 0 },
	[F_CATEGORY] = { "category", "what it is about", 0 },
	[F_SUBCATEGORY] = { "subcategory", "joined to category with \" / \"",
	    0 },
	[F_SEVERITY] = { "severity", "priority or severity", 0 },
	[F_SUMMARY] = { "summary", "subject or narrative", 0 },
	[F_CHANNEL] = { "channel", "how the customer complained", 0 },
	[F_RESOLUTION_SUMMARY] = { "resolution_summary",
	    "what was done, as told to the customer", 0 },
	{ NULL, NULL, 0 },
};

static const vb_ad_option options[] = {
	{ "open_statuses",
	    "new, open, pending, hold, on-hold, waiting, in progress",
	    "statuses of an open complaint (comma-separated; \"X*\": starting with X)" },
	{ "resolved_statuses", "solved, resolved, closed, done",
	    "statuses of a resolved complaint" },
	{ "summary_max", "32768",
	    "longer summaries are cut to this many bytes" },
	{ NULL, NULL, NULL },
};

/* The CFPB export (Consumer Complaint Database, "Download CSV").  It has no
 * closing date: the latest date it has is "Date sent to company", which is
 * when the company got the complaint, on or before it responded.  That is
 * the date of complaint.resolved (see docs/adapters.md). */
static const char cfpb_mapping[] =
    "[columns]\n"
    "case = Complaint ID\n"
    "opened = Date received\n"
    "status = Company response to consumer\n"
    "resolved = Date sent to company\n"
    "category = Product\n"
    "subcategory = Issue\n"
    "summary = Consumer complaint narrative\n"
    "channel = Submitted via\n"
    "resolution_summary = Company public response\n"
    "[attributes]\n"
    "sub_product = Sub-product\n"
    "sub_issue = Sub-issue\n"
    "company = Company\n"
    "state = State\n"
    "tags = Tags\n"
    "timely_response = Timely response?\n"
    "consumer_disputed = Consumer disputed?\n"
    "[options]\n"
    "id_prefix = cfpb\n"
    "timezone = UTC\n"
    "date_order = ymd\n"
    "open_statuses = In progress, Untimely response\n"
    "resolved_statuses = Closed*\n";

static const vb_ad_preset presets[] = {
	{ "cfpb", "the CFPB Consumer Complaint Database CSV export",
	    cfpb_mapping,
	    "the CFPB export has no customer id: name the column that stands for the "
	    "customer with --customer-column (\"ZIP code\" is the closest)" },
	{ NULL, NULL, NULL, NULL },
};

typedef struct state {
	const char *open, *resolved;
	size_t summary_max;
	vb_buf category;
} state;

static int
begin(vb_ad_file *f, void **out)
{
	state *st = calloc(1, sizeof(*st));
	unsigned long long max = 0;
	const char *v = vb_ad_opt(f, "summary_max");

	if (st == NULL)
		return VB_ENOMEM;
	st->open = vb_ad_opt(f, "open_statuses");
	st->resolved = vb_ad_opt(f, "resolved_statuses");
	if (v == NULL || sscanf(v, "%llu", &max) != 1 || max < 64)
		max = 32768;
	st->summary_max = (size_t)max;
	*out = st;
	return 0;
}

static void
release(void *arg)
{
	state *st = arg;
	if (st == NULL)
		return;
	vb_buf_free(&st->category);
	free(st);
}

/* "category / subcategory", or whichever there is. */
static const char *
category(state *st, const char *cat, const char *sub)
{
	vb_buf_reset(&st->category);
	if (cat && cat[0])
		vb_buf_append_str(&st->category, cat);
	if (cat && cat[0] && sub && sub[0])
		vb_buf_append_str(&st->category, " / ");
	if (sub && sub[0])
		vb_buf_append_str(&st->category, sub);
	if (vb_buf_append_byte(&st->category, 0) != 0)
		return NULL;
	return (const char *)st->category.data;
}

static int
row(vb_ad_file *f, void *arg, const vb_ad_row *r)
{
	state *st = arg;
	const char *kase, *status, *summary = r->value[F_SUMMARY];
	const char *cat = r->value[F_CATEGORY], *sub = r->value[F_SUBCATEGORY];
	char customer[VB_CUSTOMER_MAX + 1], cut[64];
	int64_t opened, resolved = 0;
	int resolved_now, rv;
	vb_ad_ev *b;
	size_t n;

	if (vb_ad_need(f, r, F_CASE, &kase) != 0 ||
	    vb_ad_customer(f, r, F_CUSTOMER, customer, sizeof(customer)) != 0)
		return 0;
	if ((rv = vb_ad_when(f, r, F_OPENED, &opened, NULL)) != 0) {
		if (rv > 0)
			vb_ad_reject(f, r->line, "%s: empty",
			    vb_ad_col(f, F_OPENED));
		return 0;
	}
	if (vb_ad_need(f, r, F_STATUS, &status) != 0)
		return 0;
	if (vb_ad_list_match(st->resolved, status)) {
		resolved_now = 1;
	} else if (vb_ad_list_match(st->open, status)) {
		resolved_now = 0;
	} else {
		vb_ad_reject(f, r->line,
		    "%s: \"%.64s\" is neither an open status (%s) nor a "
		    "resolved one (%s)",
		    vb_ad_col(f, F_STATUS), status, st->open, st->resolved);
		return 0;
	}
	if (resolved_now) {
		int by = F_RESOLVED;
		if ((rv = vb_ad_when(f, r, by, &resolved, NULL)) > 0)
			rv = vb_ad_when(f, r, by = F_UPDATED, &resolved, NULL);
		if (rv < 0)
			return 0;
		if (rv > 0) {
			vb_ad_reject(f, r->line,
			    "%s: empty, and so is %s: nothing dates the "
			    "resolution",
			    vb_ad_col(f, F_RESOLVED), vb_ad_col(f, F_UPDATED));
			return 0;
		}
		if (resolved < opened) {
			vb_ad_reject(f, r->line,
			    "%s: before %s: resolved before it was opened",
			    vb_ad_col(f, by), vb_ad_col(f, F_OPENED));
			return 0;
		}
	}

	if (vb_ad_event(f, r, r->line, "complaint.opened", kase, "opened",
	        customer, opened, &b) != 0)
		return 0;
	vb_ad_ev_str(b, "case", kase);
	vb_ad_ev_str(b, "category", category(st, cat, sub));
	vb_ad_ev_str(b, "severity", r->value[F_SEVERITY]);
	vb_ad_ev_str(b, "channel", r->value[F_CHANNEL]);
	if (summary && (n = strlen(summary)) > st->summary_max) {
		/* Cut, and say so: the event must stay under 64 KiB. */
		char *s = strndup(summary,
		    vb_ad_utf8_cut(summary, n, st->summary_max));
		if (s == NULL) {
			vb_ad_ev_free(b);
			return VB_ENOMEM;
		}
		snprintf(cut, sizeof(cut), "%zu", n);
		vb_ad_ev_str(b, "summary", s);
		vb_ad_ev_attr(b, "summary_cut_from_bytes", cut);
		free(s);
	} else {
		vb_ad_ev_str(b, "summary", summary);
	}
	if (vb_ad_emit(f, b, r->line) != 0 || !resolved_now)
		return 0;

	if (vb_ad_event(f, r, r->line, "complaint.resolved", kase, "resolved",
	        customer, resolved, &b) != 0)
		return 0;
	vb_ad_ev_str(b, "case", kase);
	vb_ad_ev_str(b, "resolution", status);
	vb_ad_ev_str(b, "summary", r->value[F_RESOLUTION_SUMMARY]);
	vb_ad_emit(f, b, r->line);
	return 0;
}

static const vb_ad_silo silo = {
	.prog = "vb-service",
	.source = "service",
	.what =
	    "Publish the service desk's complaints: complaint.opened for every ticket,\n"
	    "complaint.resolved for those whose status is a resolved one.",
	.help =
	    "Event ids: <id_prefix>:<case>:opened and <id_prefix>:<case>:resolved.\n"
	    "complaint.opened is dated by `opened`; complaint.resolved by `resolved`, else\n"
	    "`updated`.  A status that is neither open nor resolved rejects the row.\n"
	    "With --preset cfpb, complaint.resolved is dated by \"Date sent to company\",\n"
	    "the latest date the export has (it has no closing date); see docs/adapters.md.\n",
	.fields = fields,
	.options = options,
	.presets = presets,
	.begin = begin,
	.row = row,
	.free = release,
};

int
main(int argc, char **argv)
{
	return vb_adapter_main(&silo, argc, argv);
}
