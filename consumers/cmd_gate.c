/* voicebus gate and voicebus customer: the decisions of the contact gate. */
#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "vb_cli.h"
#include "vb_error.h"
#include "vb_time.h"
#include "vb_validate.h"

/* gate's exit codes, as grep's: a decision is not an error. */
#define GATE_ALLOW 0
#define GATE_BLOCK 1
#define GATE_USAGE 2
#define GATE_FAIL 3

static void
print_str(vb_buf *b, const char *key, const char *v, int comma)
{
	if (comma)
		vb_buf_append_byte(b, ',');
	vb_json_escape(b, key);
	vb_buf_append_byte(b, ':');
	vb_json_escape(b, v);
}

void
vb_cli_decision_json(vb_buf *b, const vb_decision_msg *d, const char *at,
    int recorded)
{
	char num[32];
	vb_buf_append_byte(b, '{');
	print_str(b, "customer", d->customer, 0);
	print_str(b, "purpose", d->purpose, 1);
	print_str(b, "channel", d->channel, 1);
	print_str(b, "decision", d->allow ? "allow" : "block", 1);
	vb_buf_append_str(b, ",\"reasons\":");
	vb_buf_append_str(b, d->reasons[0] ? d->reasons : "[]");
	if (at && at[0])
		print_str(b, "at", at, 1);
	if (recorded && d->allow) {
		snprintf(num, sizeof(num), "%llu", (unsigned long long)d->recorded_seq);
		vb_buf_append_str(b, ",\"recorded\":{\"seq\":");
		vb_buf_append_str(b, num);
		vb_buf_append_str(b, d->recorded_duplicate ? ",\"duplicate\":true}" :
		    ",\"duplicate\":false}");
	}
	vb_buf_append_byte(b, '}');
}

static void
gate_usage(FILE *out)
{
	fprintf(out, "usage: " VB_PROG " gate --customer ID --purpose P --channel C [options]\n"
	    "May this customer get this purpose on this channel now?  Prints the decision as\n"
	    "JSON with every reason; exit 0 allow, 1 block, 2 usage error, 3 broker failure.\n"
	    "  --purpose P      service, upsell, cross-sell, promotion or survey\n"
	    "  --channel C      email, sms, phone, post or push\n"
	    "  --at TIME        the decision as it was at TIME (RFC 3339), from the log\n"
	    "  --record CAMPAIGN  when allowed, store the message.sent in the same\n"
	    "                   transaction: a reservation no other campaign can take\n"
	    VB_CLI_CONN_HELP);
}

int
vb_cmd_gate(int argc, char **argv)
{
	enum { OPT_CUSTOMER = VB_OPT_FIRST_OWN, OPT_PURPOSE, OPT_CHANNEL, OPT_AT, OPT_RECORD };
	static const struct option longopts[] = {
		VB_CLI_CONN_OPTIONS,
		{ "customer", required_argument, NULL, OPT_CUSTOMER },
		{ "purpose", required_argument, NULL, OPT_PURPOSE },
		{ "channel", required_argument, NULL, OPT_CHANNEL },
		{ "at", required_argument, NULL, OPT_AT },
		{ "record", required_argument, NULL, OPT_RECORD },
		{ NULL, 0, NULL, 0 },
	};
	const char *customer = NULL, *purpose = NULL, *channel = NULL, *at = NULL,
		   *record = NULL;
	vb_cli_conn conn;
	vb_client *client;
	vb_query_reply r;
	vb_buf out = { 0 };
	int64_t us;
	int c, rv;

	vb_cli_conn_init(&conn);
	optind = 1;
	while ((c = vb_cli_next_opt(argc, argv, longopts, &conn)) != -1) {
		switch (c) {
		case OPT_CUSTOMER: customer = optarg; break;
		case OPT_PURPOSE: purpose = optarg; break;
		case OPT_CHANNEL: channel = optarg; break;
		case OPT_AT: at = optarg; break;
		case OPT_RECORD: record = optarg; break;
		case VB_OPT_HELP: gate_usage(stdout); return VB_EXIT_OK;
		default: gate_usage(stderr); return GATE_USAGE;
		}
	}
	if (customer == NULL || purpose == NULL || channel == NULL || optind < argc) {
		vb_cli_err("gate: --customer, --purpose and --channel are required");
		return GATE_USAGE;
	}
	if (!vb_purpose_known(purpose)) {
		vb_cli_err("--purpose %s: not service, upsell, cross-sell, promotion or survey", purpose);
		return GATE_USAGE;
	}
	if (!vb_channel_known(channel)) {
		vb_cli_err("--channel %s: not email, sms, phone, post or push", channel);
		return GATE_USAGE;
	}
	if (at && vb_time_parse(at, &us) != 0) {
		vb_cli_err("--at %s: not an RFC 3339 date-time such as 2026-11-03T12:00:00Z", at);
		return GATE_USAGE;
	}
	if (at && record) {
		vb_cli_err("--record reserves a send now: it cannot go with --at");
		return GATE_USAGE;
	}
	if ((rv = vb_cli_client(&conn, &client)) != 0)
		return rv == VB_EXIT_USAGE ? VB_EXIT_USAGE : GATE_FAIL;
	vb_query_req q = { .kind = VB_QUERY_GATE };
	q.gate.customers = &customer;
	q.gate.n = 1;
	q.gate.purpose = purpose;
	q.gate.channel = channel;
	q.gate.at = at;
	q.gate.record = record;
	if ((rv = vb_cli_query(client, conn.query, &q, VB_QUERY_GATE, "gate", &r)) != 0) {
		vb_client_close(client);
		return rv == VB_EXIT_USAGE ? GATE_USAGE : GATE_FAIL;
	}
	if (r.ndecisions != 1) {
		vb_cli_err("gate: the broker answered %zu decisions for one customer", r.ndecisions);
		rv = GATE_FAIL;
	} else {
		vb_cli_decision_json(&out, &r.decisions[0], at ? r.at : NULL, record != NULL);
		printf("%s\n", (const char *)out.data);
		rv = r.decisions[0].allow ? GATE_ALLOW : GATE_BLOCK;
	}
	vb_buf_free(&out);
	vb_query_reply_free(&r);
	vb_client_close(client);
	return rv;
}

/* ---- customer ---- */

static const char *
jget(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

static void
print_state_table(const char *customer, const char *at, json_t *st)
{
	size_t i;
	json_t *v;
	int any = 0;

	printf("customer %s, at %s\n\n", customer, at);
	printf("complaints:\n");
	json_array_foreach(json_object_get(st, "complaints"), i, v) {
		const char *status = jget(v, "status");
		if (strcmp(status, "open") == 0)
			printf("  %-16s open since %s (%s)\n", jget(v, "case"), jget(v, "opened"),
			    jget(v, "opened_event"));
		else
			printf("  %-16s resolved %s (%s)\n", jget(v, "case"), jget(v, "resolved"),
			    jget(v, "resolved_event"));
		any = 1;
	}
	if (!any)
		printf("  none\n");
	json_t *vis = json_object_get(st, "visits");
	printf("visits:\n");
	if (json_string_value(json_object_get(vis, "last_missed")))
		printf("  last missed    %s (%s, %s)\n", jget(vis, "last_missed"),
		    jget(vis, "missed_visit"), jget(vis, "missed_event"));
	if (json_string_value(json_object_get(vis, "last_completed")))
		printf("  last completed %s\n", jget(vis, "last_completed"));
	if (!json_string_value(json_object_get(vis, "last_missed")) &&
	    !json_string_value(json_object_get(vis, "last_completed")))
		printf("  none\n");
	printf("invoices:\n");
	any = 0;
	json_array_foreach(json_object_get(st, "invoices"), i, v) {
		if (json_string_value(json_object_get(v, "paid")))
			printf("  %-16s paid %s\n", jget(v, "invoice"), jget(v, "paid"));
		else
			printf("  %-16s overdue since %s (%s)\n", jget(v, "invoice"),
			    jget(v, "overdue"), jget(v, "overdue_event"));
		any = 1;
	}
	if (!any)
		printf("  none\n");
	printf("consent:\n");
	any = 0;
	json_array_foreach(json_object_get(st, "consent"), i, v) {
		printf("  %-6s %-10s %-9s %s (%s)\n", jget(v, "channel"), jget(v, "purpose"),
		    jget(v, "consent"), jget(v, "at"), jget(v, "event"));
		any = 1;
	}
	if (!any)
		printf("  nothing withdrawn\n");
	printf("marketing messages (cap window):\n");
	any = 0;
	json_array_foreach(json_object_get(st, "messages"), i, v) {
		printf("  %s %-6s %-10s %s\n", jget(v, "at"), jget(v, "channel"),
		    jget(v, "purpose"), jget(v, "event"));
		any = 1;
	}
	if (!any)
		printf("  none\n");
}

static void
print_decision_table(const vb_query_reply *r)
{
	printf("\n%-14s", "decisions");
	for (size_t c = 0; c < 5 && c < r->ndecisions; c++)
		printf(" %-7s", r->decisions[c].channel);
	printf("\n");
	for (size_t i = 0; i < r->ndecisions; i += 5) {
		printf("  %-12s", r->decisions[i].purpose);
		for (size_t c = 0; c < 5 && i + c < r->ndecisions; c++)
			printf(" %-7s", r->decisions[i + c].allow ? "allow" : "BLOCK");
		printf("\n");
	}
	printf("\nreasons:\n");
	int any = 0;
	/* The same reasons usually block many purposes and channels: print
	 * each set of reasons once, with where it applies. */
	for (size_t i = 0; i < r->ndecisions; i++) {
		const vb_decision_msg *d = &r->decisions[i];
		json_t *rs, *v;
		size_t k, j;
		int seen = 0;
		if (d->allow)
			continue;
		for (j = 0; j < i && !seen; j++)
			seen = !r->decisions[j].allow && strcmp(r->decisions[j].reasons, d->reasons) == 0;
		if (seen)
			continue;
		any = 1;
		printf("  ");
		for (size_t p = i - i % 5; p < r->ndecisions; p += 5) {
			int nch = 0, all = 1;
			for (size_t c = 0; c < 5; c++) {
				const vb_decision_msg *e = &r->decisions[p + c];
				if (!e->allow && strcmp(e->reasons, d->reasons) == 0)
					nch++;
				else
					all = 0;
			}
			if (nch == 0)
				continue;
			printf("%s%s:", p == i - i % 5 ? "" : "; ", r->decisions[p].purpose);
			if (all) {
				printf(" every channel");
				continue;
			}
			for (size_t c = 0, first = 1; c < 5; c++) {
				const vb_decision_msg *e = &r->decisions[p + c];
				if (!e->allow && strcmp(e->reasons, d->reasons) == 0) {
					printf("%s%s", first ? " " : ",", e->channel);
					first = 0;
				}
			}
		}
		printf("\n    ");
		rs = json_loads(d->reasons, 0, NULL);
		json_array_foreach(rs, k, v) {
			printf("%s%s%s%s%s%s%s", k ? "; " : "", jget(v, "rule"),
			    jget(v, "event")[0] ? " " : "", jget(v, "event"),
			    jget(v, "since")[0] ? " since " : "", jget(v, "since"),
			    jget(v, "until")[0] ? " until " : "");
			if (jget(v, "until")[0])
				printf("%s", jget(v, "until"));
		}
		printf("\n");
		json_decref(rs);
	}
	if (!any)
		printf("  none: everything is allowed\n");
}

int
vb_cmd_customer(int argc, char **argv)
{
	enum { OPT_AT = VB_OPT_FIRST_OWN, OPT_JSON };
	static const struct option longopts[] = {
		VB_CLI_CONN_OPTIONS,
		{ "at", required_argument, NULL, OPT_AT },
		{ "json", no_argument, NULL, OPT_JSON },
		{ NULL, 0, NULL, 0 },
	};
	const char *at = NULL;
	vb_cli_conn conn;
	vb_client *client;
	vb_query_reply r;
	int64_t us;
	int c, rv, json = 0;

	vb_cli_conn_init(&conn);
	optind = 1;
	while ((c = vb_cli_next_opt(argc, argv, longopts, &conn)) != -1) {
		switch (c) {
		case OPT_AT: at = optarg; break;
		case OPT_JSON: json = 1; break;
		case VB_OPT_HELP:
			printf("usage: " VB_PROG " customer ID [--at TIME] [--json]\n"
			    "What the gate knows of a customer, and the decision for every purpose\n"
			    "and channel.\n" VB_CLI_CONN_HELP);
			return VB_EXIT_OK;
		default: return VB_EXIT_USAGE;
		}
	}
	if (optind + 1 != argc) {
		vb_cli_err("customer: give one customer id");
		return VB_EXIT_USAGE;
	}
	if (at && vb_time_parse(at, &us) != 0) {
		vb_cli_err("--at %s: not an RFC 3339 date-time", at);
		return VB_EXIT_USAGE;
	}
	if ((rv = vb_cli_client(&conn, &client)) != 0)
		return rv;
	vb_query_req q = { .kind = VB_QUERY_CUSTOMER };
	q.customer.customer = argv[optind];
	q.customer.at = at;
	if ((rv = vb_cli_query(client, conn.query, &q, VB_QUERY_CUSTOMER, "customer", &r)) != 0) {
		vb_client_close(client);
		return rv;
	}
	if (json) {
		vb_buf b = { 0 };
		vb_buf_append_str(&b, "{\"customer\":");
		vb_json_escape(&b, argv[optind]);
		vb_buf_append_str(&b, ",\"at\":");
		vb_json_escape(&b, r.at);
		vb_buf_append_str(&b, ",\"state\":");
		vb_buf_append_str(&b, r.state);
		vb_buf_append_str(&b, ",\"decisions\":[");
		for (size_t i = 0; i < r.ndecisions; i++) {
			if (i)
				vb_buf_append_byte(&b, ',');
			vb_cli_decision_json(&b, &r.decisions[i], NULL, 0);
		}
		vb_buf_append_str(&b, "]}");
		printf("%s\n", (const char *)b.data);
		vb_buf_free(&b);
	} else {
		json_t *st = json_loads(r.state, 0, NULL);
		print_state_table(argv[optind], r.at, st);
		print_decision_table(&r);
		json_decref(st);
	}
	vb_query_reply_free(&r);
	vb_client_close(client);
	return VB_EXIT_OK;
}

/* ---- rebuild ---- */

int
vb_cmd_rebuild(int argc, char **argv)
{
	static const struct option longopts[] = {
		VB_CLI_CONN_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	vb_cli_conn conn;
	vb_client *client;
	vb_query_reply r;
	int c, rv;

	vb_cli_conn_init(&conn);
	conn.timeout_ms = 3600 * 1000; /* a rebuild reads the whole log */
	optind = 1;
	while ((c = vb_cli_next_opt(argc, argv, longopts, &conn)) != -1) {
		if (c == VB_OPT_HELP) {
			printf("usage: " VB_PROG " rebuild\n"
			    "Admin: fold every customer's state again from the log, report how many\n"
			    "differed from the stored state (0 is the expected answer), and publish\n"
			    "any decision that changes.\n" VB_CLI_CONN_HELP);
			return VB_EXIT_OK;
		}
		return VB_EXIT_USAGE;
	}
	if ((rv = vb_cli_client(&conn, &client)) != 0)
		return rv;
	vb_query_req q = { .kind = VB_QUERY_REBUILD };
	if ((rv = vb_cli_query(client, conn.query, &q, VB_QUERY_REBUILD, "rebuild", &r)) != 0) {
		vb_client_close(client);
		return rv == VB_EXIT_USAGE ? VB_EXIT_FAIL : rv;
	}
	printf("rebuilt the state of %llu customers from %llu events: %llu differed\n",
	    (unsigned long long)r.rebuilt[0], (unsigned long long)r.rebuilt[1],
	    (unsigned long long)r.rebuilt[2]);
	rv = VB_EXIT_OK;
	vb_query_reply_free(&r);
	vb_client_close(client);
	return rv;
}
