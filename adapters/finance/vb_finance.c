/* vb-finance: invoices onto the bus.
 *
 * An invoice export says what was billed, when it is due and when it was
 * paid.  Every invoice is invoice.issued; one paid is invoice.paid; one
 * whose due date passed while it was unpaid -- judged at --as-of, or at its
 * payment when that came late -- is invoice.overdue. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vb_ad_dec.h"
#include "vb_adapter.h"
#include "vb_event.h"

enum {
	F_INVOICE,
	F_CUSTOMER,
	F_ISSUED,
	F_DUE,
	F_AMOUNT,
	F_PAID,
	F_CURRENCY,
};

static const vb_ad_field fields[] = {
	[F_INVOICE] = { "invoice", "invoice number", 1 },
	[F_CUSTOMER] = { "customer", "who is billed (see --customer-map)", 1 },
	[F_ISSUED] = { "issued", "when it was issued", 1 },
	[F_DUE] = { "due",
	    "when it is due (a date alone: overdue from the next day)", 1 },
	[F_AMOUNT] = { "amount", "amount billed, a plain decimal (1234.50)",
	    1 },
	[F_PAID] = { "paid_at", "when it was paid; empty: not (yet)", 0 },
	[F_CURRENCY] = { "currency", "ISO 4217 code (else the currency option)",
	    0 },
	{ NULL, NULL, 0 },
};

static const vb_ad_option options[] = {
	{ "currency", NULL,
	    "currency of every invoice when there is no currency column" },
	{ NULL, NULL, NULL },
};

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
	const char *invoice, *currency = r->value[F_CURRENCY];
	char customer[VB_CUSTOMER_MAX + 1], amount[VB_AD_DEC_BUFSZ];
	int64_t issued, due, overdue_at, paid = 0, amt;
	int due_date_only, has_paid, rv;
	vb_ad_ev *b;

	(void)arg;
	if (vb_ad_need(f, r, F_INVOICE, &invoice) != 0 ||
	    vb_ad_customer(f, r, F_CUSTOMER, customer, sizeof(customer)) != 0 ||
	    when_needed(f, r, F_ISSUED, &issued, NULL) != 0 ||
	    when_needed(f, r, F_DUE, &due, &due_date_only) != 0)
		return 0;
	if ((rv = vb_ad_amount(f, r, F_AMOUNT, &amt)) != 0) {
		if (rv > 0)
			vb_ad_reject(f, r->line, "%s: empty",
			    vb_ad_col(f, F_AMOUNT));
		return 0;
	}
	if ((rv = vb_ad_when(f, r, F_PAID, &paid, NULL)) < 0)
		return 0;
	has_paid = rv == 0;
	if (due < issued) {
		vb_ad_reject(f, r->line, "%s: before %s", vb_ad_col(f, F_DUE),
		    vb_ad_col(f, F_ISSUED));
		return 0;
	}
	if (has_paid && paid < issued) {
		vb_ad_reject(f, r->line, "%s: before %s", vb_ad_col(f, F_PAID),
		    vb_ad_col(f, F_ISSUED));
		return 0;
	}
	if (currency == NULL || currency[0] == '\0')
		currency = vb_ad_opt(f, "currency");
	vb_ad_dec_format(amt, amount);
	/* Due on a day: payable all that day, overdue from the next. */
	overdue_at = due_date_only ? due + VB_AD_DAY_US : due;

	if (vb_ad_event(f, r, r->line, "invoice.issued", invoice, "issued",
	        customer, issued, &b) != 0)
		return 0;
	vb_ad_ev_str(b, "invoice", invoice);
	vb_ad_ev_str(b, "amount", amount);
	vb_ad_ev_str(b, "currency", currency);
	vb_ad_ev_time(b, "due", due);
	if (vb_ad_emit(f, b, r->line) != 0)
		return 0;

	/* A credit note (nothing owed by the customer) is never overdue. */
	if (amt > 0 && overdue_at <= vb_ad_as_of(f) &&
	    (!has_paid || paid >= overdue_at)) {
		if (vb_ad_event(f, r, r->line, "invoice.overdue", invoice,
		        "overdue", customer, overdue_at, &b) != 0)
			return 0;
		vb_ad_ev_str(b, "invoice", invoice);
		vb_ad_ev_str(b, "amount", amount);
		vb_ad_ev_str(b, "currency", currency);
		vb_ad_ev_time(b, "due", due);
		if (vb_ad_emit(f, b, r->line) != 0)
			return 0;
	}
	if (has_paid) {
		if (vb_ad_event(f, r, r->line, "invoice.paid", invoice, "paid",
		        customer, paid, &b) != 0)
			return 0;
		vb_ad_ev_str(b, "invoice", invoice);
		vb_ad_ev_str(b, "amount", amount);
		vb_ad_ev_str(b, "currency", currency);
		vb_ad_emit(f, b, r->line);
	}
	return 0;
}

static const vb_ad_silo silo = {
	.prog = "vb-finance",
	.source = "finance",
	.what =
	    "Publish invoices: invoice.issued for every invoice, invoice.paid for those paid,\n"
	    "invoice.overdue for those whose due date passed while unpaid.",
	.help =
	    "Event ids: <id_prefix>:<invoice>:issued, :overdue, :paid.  invoice.overdue is\n"
	    "dated when the invoice became overdue (the instant due, or the day after a due\n"
	    "date) and published when that is at or before --as-of and the invoice was not\n"
	    "paid by then: an invoice paid late was overdue too, whenever it is imported.\n"
	    "An invoice of zero or a negative amount (a credit note) is never overdue.\n",
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
