/* vb-sales: orders onto the bus.
 *
 * Sales systems export order lines.  The lines of one order (the same order
 * number, wherever they are in the file) make one event: order.placed, or
 * order.returned for an order whose number starts with return_prefix (a
 * credit note), with amount = sum of quantity x unit price and items = sum
 * of quantities.  The online-retail preset reads the UCI "Online Retail"
 * export as it is. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vb_ad_dec.h"
#include "vb_ad_dict.h"
#include "vb_adapter.h"
#include "vb_error.h"
#include "vb_event.h"

enum {
	F_ORDER,
	F_CUSTOMER,
	F_TIME,
	F_QUANTITY,
	F_UNIT_PRICE,
	F_AMOUNT,
	F_CURRENCY,
};

static const vb_ad_field fields[] = {
	[F_ORDER] = { "order", "order or invoice number; its lines share it",
	    1 },
	[F_CUSTOMER] = { "customer", "who ordered (see --customer-map)", 1 },
	[F_TIME] = { "time", "when it was ordered (the earliest of its lines)",
	    1 },
	[F_QUANTITY] = { "quantity",
	    "items on the line, a whole number (default 1)", 0 },
	[F_UNIT_PRICE] = { "unit_price",
	    "price of one item: line amount = quantity x unit_price", 0 },
	[F_AMOUNT] = { "amount",
	    "the line's amount, instead of quantity x unit_price", 0 },
	[F_CURRENCY] = { "currency", "ISO 4217 code (else the currency option)",
	    0 },
	{ NULL, NULL, 0 },
};

static const vb_ad_option options[] = {
	{ "currency", NULL,
	    "currency of every order when there is no currency column" },
	{ "return_prefix", NULL,
	    "order numbers starting with this are returns (credit notes)" },
	{ NULL, NULL, NULL },
};

/* UCI Online Retail: invoice lines of a UK shop, InvoiceDate in UK local
 * time, CustomerID written as a float ("17850.0"), credit notes "C536379". */
static const char retail_mapping[] = "[columns]\n"
                                     "order = InvoiceNo\n"
                                     "customer = CustomerID\n"
                                     "time = InvoiceDate\n"
                                     "quantity = Quantity\n"
                                     "unit_price = UnitPrice\n"
                                     "[attributes]\n"
                                     "country = Country\n"
                                     "[options]\n"
                                     "id_prefix = retail\n"
                                     "timezone = Europe/London\n"
                                     "date_order = ymd\n"
                                     "currency = GBP\n"
                                     "return_prefix = C\n"
                                     "customer_strip_suffix = .0\n";

static const vb_ad_preset presets[] = {
	{ "online-retail",
	    "the UCI Online Retail export (invoice lines, UK time, GBP)",
	    retail_mapping, NULL },
	{ NULL, NULL, NULL, NULL },
};

typedef struct group {
	char *order, *customer, *currency;
	unsigned long first_line, lines;
	int64_t time_us, amount, items;
	vb_ad_attrs *attrs; /* of its first line */
} group;

typedef struct state {
	vb_ad_dict *index; /* order -> groups[i] */
	group *groups;
	size_t n, cap;
	const char *currency, *return_prefix;
} state;

static void
release(void *arg)
{
	state *st = arg;
	if (st == NULL)
		return;
	for (size_t i = 0; i < st->n; i++) {
		free(st->groups[i].order);
		free(st->groups[i].customer);
		free(st->groups[i].currency);
		vb_ad_attrs_free(st->groups[i].attrs);
	}
	free(st->groups);
	vb_ad_dict_free(st->index);
	free(st);
}

static int
begin(vb_ad_file *f, void **out)
{
	state *st = calloc(1, sizeof(*st));
	if (st == NULL || vb_ad_dict_new(&st->index) != 0) {
		free(st);
		return VB_ENOMEM;
	}
	st->currency = vb_ad_opt(f, "currency");
	st->return_prefix = vb_ad_opt(f, "return_prefix");
	if (st->return_prefix && st->return_prefix[0] == '\0')
		st->return_prefix = NULL;
	*out = st;
	return 0;
}

static int
add_group(state *st, vb_ad_file *f, const vb_ad_row *r, const char *order,
    const char *customer, const char *currency, group **out)
{
	group *g;
	int rv;

	if (st->n == st->cap) {
		size_t cap = st->cap ? st->cap * 2 : 256;
		group *gs = realloc(st->groups, cap * sizeof(*gs));
		if (gs == NULL)
			return VB_ENOMEM;
		st->groups = gs;
		st->cap = cap;
	}
	g = &st->groups[st->n];
	memset(g, 0, sizeof(*g));
	g->order = strdup(order);
	g->customer = strdup(customer);
	g->currency = strdup(currency ? currency : "");
	g->first_line = r->line;
	if (!g->order || !g->customer || !g->currency ||
	    vb_ad_attrs_keep(f, r, &g->attrs) != 0 ||
	    (rv = vb_ad_dict_put(st->index, order, st->n, NULL)) < 0) {
		free(g->order);
		free(g->customer);
		free(g->currency);
		vb_ad_attrs_free(g->attrs);
		return VB_ENOMEM;
	}
	st->n++;
	*out = g;
	return 0;
}

static int
row(vb_ad_file *f, void *arg, const vb_ad_row *r)
{
	state *st = arg;
	const char *order, *currency = r->value[F_CURRENCY],
	                   *cust = r->value[F_CUSTOMER];
	char customer[VB_CUSTOMER_MAX + 1];
	int64_t t, qty = 1, price, amount;
	size_t gi;
	group *g;
	int rv;

	if (vb_ad_need(f, r, F_ORDER, &order) != 0)
		return 0;
	if (cust == NULL || cust[0] == '\0') {
		vb_ad_reject(f, r->line,
		    "%s: empty: order %s has no customer (a guest "
		    "order?); not published",
		    vb_ad_col(f, F_CUSTOMER), order);
		return 0;
	}
	if (vb_ad_customer(f, r, F_CUSTOMER, customer, sizeof(customer)) != 0)
		return 0;
	if ((rv = vb_ad_when(f, r, F_TIME, &t, NULL)) != 0) {
		if (rv > 0)
			vb_ad_reject(f, r->line, "%s: empty",
			    vb_ad_col(f, F_TIME));
		return 0;
	}
	if (r->value[F_QUANTITY] != NULL &&
	    (rv = vb_ad_int_parse(r->value[F_QUANTITY], &qty)) != 0) {
		vb_ad_reject(f, r->line,
		    "%s: \"%.32s\" is not a whole number of items",
		    vb_ad_col(f, F_QUANTITY), r->value[F_QUANTITY]);
		return 0;
	}
	if (r->value[F_AMOUNT] != NULL) {
		if ((rv = vb_ad_amount(f, r, F_AMOUNT, &amount)) != 0) {
			if (rv > 0)
				vb_ad_reject(f, r->line, "%s: empty",
				    vb_ad_col(f, F_AMOUNT));
			return 0;
		}
	} else if (r->value[F_UNIT_PRICE] != NULL) {
		if ((rv = vb_ad_amount(f, r, F_UNIT_PRICE, &price)) != 0) {
			if (rv > 0)
				vb_ad_reject(f, r->line, "%s: empty",
				    vb_ad_col(f, F_UNIT_PRICE));
			return 0;
		}
		if (vb_ad_dec_mul_int(price, qty, &amount) != 0) {
			vb_ad_reject(f, r->line, "%s: %s x %s is too large",
			    vb_ad_col(f, F_UNIT_PRICE), r->value[F_QUANTITY],
			    r->value[F_UNIT_PRICE]);
			return 0;
		}
	} else {
		vb_ad_reject(f, r->line,
		    "no amount: map the amount column, or unit_price "
		    "(and quantity)");
		return 0;
	}
	if (currency == NULL || currency[0] == '\0')
		currency = st->currency;

	if (vb_ad_dict_get(st->index, order, &gi)) {
		g = &st->groups[gi];
		if (strcmp(g->customer, customer) != 0) {
			vb_ad_reject(f, r->line,
			    "%s: \"%s\", but line %lu of order %s says \"%s\"",
			    vb_ad_col(f, F_CUSTOMER), customer, g->first_line,
			    order, g->customer);
			return 0;
		}
		if (strcmp(g->currency, currency ? currency : "") != 0) {
			vb_ad_reject(f, r->line,
			    "%s: \"%s\", but line %lu of order %s says \"%s\"",
			    vb_ad_col(f, F_CURRENCY), currency ? currency : "",
			    g->first_line, order, g->currency);
			return 0;
		}
		if (vb_ad_dec_add(g->amount, amount, &amount) != 0 ||
		    amount == INT64_MIN ||
		    g->items > INT64_MAX - (qty < 0 ? -qty : qty)) {
			vb_ad_reject(f, r->line,
			    "order %s: its total is too large", order);
			return 0;
		}
	} else {
		if (add_group(st, f, r, order, customer, currency, &g) != 0)
			return VB_ENOMEM;
		g->time_us = t;
	}
	/* The order was placed when its first line was written; a few have
	 * lines a minute apart. */
	if (t < g->time_us)
		g->time_us = t;
	g->amount = amount;
	g->items += qty < 0 ? -qty : qty;
	g->lines++;
	return 0;
}

static int
end(vb_ad_file *f, void *arg)
{
	state *st = arg;
	char amount[VB_AD_DEC_BUFSZ], lines[32];

	for (size_t i = 0; i < st->n; i++) {
		const group *g = &st->groups[i];
		size_t plen = st->return_prefix ? strlen(st->return_prefix) : 0;
		int ret =
		    plen && strncmp(g->order, st->return_prefix, plen) == 0;
		vb_ad_ev *b;

		if (vb_ad_event(f, NULL, g->first_line,
		        ret ? "order.returned" : "order.placed", g->order,
		        ret ? "returned" : "placed", g->customer, g->time_us,
		        &b) != 0) {
			if (g->lines > 1)
				vb_ad_reject_n(f, g->first_line, g->lines - 1,
				    "order %s: its other %lu lines are rejected with it",
				    g->order, g->lines - 1);
			continue;
		}
		if (vb_ad_attrs_apply(f, g->attrs, b) != 0) {
			vb_ad_ev_free(b);
			return VB_ENOMEM;
		}
		/* A credit note's lines are negative: a return is told as the
		 * amount given back. */
		vb_ad_ev_str(b, "order", g->order);
		vb_ad_dec_format(ret && g->amount < 0 ? -g->amount : g->amount,
		    amount);
		vb_ad_ev_str(b, "amount", amount);
		vb_ad_ev_str(b, "currency", g->currency);
		vb_ad_ev_int(b, "items", g->items);
		snprintf(lines, sizeof(lines), "%lu", g->lines);
		vb_ad_ev_attr(b, "lines", lines);
		vb_ad_emit_rows(f, b, g->first_line, g->lines);
	}
	return 0;
}

static const vb_ad_silo silo = {
	.prog = "vb-sales",
	.source = "sales",
	.what =
	    "Publish orders: order.placed for each order (its lines grouped), order.returned\n"
	    "for each credit note (an order number starting with return_prefix).",
	.help =
	    "Event ids: <id_prefix>:<order>:placed and <id_prefix>:<order>:returned.\n"
	    "An order is dated by its earliest line; amount = sum of quantity x unit_price\n"
	    "(or of amount), a return's as a positive amount given back; items = sum of\n"
	    "quantities; attribute \"lines\" = its number of lines.  Lines without a customer\n"
	    "(guest orders) are rejected, counted, and not published.\n",
	.fields = fields,
	.options = options,
	.presets = presets,
	.grouped = 1,
	.begin = begin,
	.row = row,
	.end = end,
	.free = release,
};

int
main(int argc, char **argv)
{
	return vb_adapter_main(&silo, argc, argv);
}
