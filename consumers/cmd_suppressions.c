/* voicebus suppressions: the current suppression list, paged from the
 * broker, as an email or SMS platform would import it. */
#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "vb_cli.h"
#include "vb_error.h"
#include "vb_validate.h"

/* The rules of a reasons array joined by ';', and the time the block
 * ends: the latest "until" if every reason has one, else "" (it lasts
 * until something happens). */
static void
summarize(const char *reasons, vb_buf *rules, char *until, size_t ulen)
{
	json_t *a = json_loads(reasons, 0, NULL), *v;
	size_t i;
	int open_ended = 0;
	until[0] = '\0';
	vb_buf_reset(rules);
	json_array_foreach(a, i, v) {
		const char *rule = json_string_value(json_object_get(v, "rule"));
		const char *u = json_string_value(json_object_get(v, "until"));
		if (rule && strstr((const char *)(rules->data ? rules->data : (uint8_t *)""), rule) == NULL) {
			if (rules->len)
				vb_buf_append_byte(rules, ';');
			vb_buf_append_str(rules, rule);
		}
		if (u == NULL)
			open_ended = 1;
		else if (strcmp(u, until) > 0)
			snprintf(until, ulen, "%s", u);
	}
	if (open_ended)
		until[0] = '\0';
	if (rules->data == NULL)
		vb_buf_append_str(rules, "");
	json_decref(a);
}

int
vb_cmd_suppressions(int argc, char **argv)
{
	enum { OPT_PURPOSE = VB_OPT_FIRST_OWN, OPT_CHANNEL, OPT_FORMAT };
	static const struct option longopts[] = {
		VB_CLI_CONN_OPTIONS,
		{ "purpose", required_argument, NULL, OPT_PURPOSE },
		{ "channel", required_argument, NULL, OPT_CHANNEL },
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ NULL, 0, NULL, 0 },
	};
	const char *purpose = "", *channel = "", *format = "csv";
	char *after = NULL, until[64];
	vb_cli_conn conn;
	vb_client *client;
	vb_buf rules = { 0 }, line = { 0 };
	unsigned long long rows = 0;
	int c, rv, jsonl;

	vb_cli_conn_init(&conn);
	optind = 1;
	while ((c = vb_cli_next_opt(argc, argv, longopts, &conn)) != -1) {
		switch (c) {
		case OPT_PURPOSE: purpose = optarg; break;
		case OPT_CHANNEL: channel = optarg; break;
		case OPT_FORMAT: format = optarg; break;
		case VB_OPT_HELP:
			printf("usage: " VB_PROG " suppressions [--purpose P] [--channel C] [--format csv|jsonl]\n"
			    "Every blocked customer, purpose and channel now, with the rules that block\n"
			    "it and until when (empty: until something happens).\n" VB_CLI_CONN_HELP);
			return VB_EXIT_OK;
		default: return VB_EXIT_USAGE;
		}
	}
	if (purpose[0] && !vb_purpose_known(purpose)) {
		vb_cli_err("--purpose %s: not service, upsell, cross-sell, promotion or survey", purpose);
		return VB_EXIT_USAGE;
	}
	if (channel[0] && !vb_channel_known(channel)) {
		vb_cli_err("--channel %s: not email, sms, phone, post or push", channel);
		return VB_EXIT_USAGE;
	}
	if (strcmp(format, "csv") != 0 && strcmp(format, "jsonl") != 0) {
		vb_cli_err("--format %s: expected csv or jsonl", format);
		return VB_EXIT_USAGE;
	}
	jsonl = format[0] == 'j';
	if ((rv = vb_cli_client(&conn, &client)) != 0)
		return rv;
	if (!jsonl)
		printf("customer,purpose,channel,rules,until\n");
	for (;;) {
		vb_query_req q = { .kind = VB_QUERY_SUPPRESSIONS };
		vb_query_reply r;
		q.supp.after = after;
		q.supp.purpose = purpose;
		q.supp.channel = channel;
		if ((rv = vb_cli_query(client, conn.query, &q, VB_QUERY_SUPPRESSIONS, "suppressions",
		    &r)) != 0)
			break;
		for (size_t i = 0; i < r.ndecisions; i++) {
			const vb_decision_msg *d = &r.decisions[i];
			summarize(d->reasons, &rules, until, sizeof(until));
			if (jsonl) {
				vb_buf_reset(&line);
				vb_buf_append_str(&line, "{\"customer\":");
				vb_json_escape(&line, d->customer);
				vb_buf_append_str(&line, ",\"purpose\":");
				vb_json_escape(&line, d->purpose);
				vb_buf_append_str(&line, ",\"channel\":");
				vb_json_escape(&line, d->channel);
				vb_buf_append_str(&line, ",\"rules\":");
				vb_json_escape(&line, (const char *)rules.data);
				vb_buf_append_str(&line, ",\"until\":");
				if (until[0])
					vb_json_escape(&line, until);
				else
					vb_buf_append_str(&line, "null");
				vb_buf_append_str(&line, ",\"reasons\":");
				vb_buf_append_str(&line, d->reasons);
				vb_buf_append_str(&line, "}\n");
				fwrite(line.data, 1, line.len, stdout);
			} else {
				vb_buf_reset(&line);
				vb_cli_csv_field(&line, d->customer);
				vb_buf_append_byte(&line, ',');
				vb_buf_append_str(&line, d->purpose);
				vb_buf_append_byte(&line, ',');
				vb_buf_append_str(&line, d->channel);
				vb_buf_append_byte(&line, ',');
				vb_cli_csv_field(&line, (const char *)rules.data);
				vb_buf_append_byte(&line, ',');
				vb_buf_append_str(&line, until);
				vb_buf_append_byte(&line, '\n');
				fwrite(line.data, 1, line.len, stdout);
			}
			rows++;
		}
		free(after);
		after = r.next[0] ? strdup(r.next) : NULL;
		int done = r.done || after == NULL;
		vb_query_reply_free(&r);
		if (done) {
			rv = VB_EXIT_OK;
			break;
		}
	}
	fflush(stdout);
	free(after);
	vb_buf_free(&rules);
	vb_buf_free(&line);
	vb_client_close(client);
	if (rv == VB_EXIT_OK)
		fprintf(stderr, VB_PROG ": %llu suppressions\n", rows);
	return rv;
}
