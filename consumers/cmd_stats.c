/* voicebus stats: what the broker holds. */
#include <getopt.h>
#include <string.h>

#include "vb_cli.h"
#include "vb_error.h"

static void
print_counts(const char *title, const vb_count *c, size_t n)
{
	printf("%s:\n", title);
	for (size_t i = 0; i < n; i++)
		printf("  %-22s %12llu\n", c[i].name, (unsigned long long)c[i].count);
}

static void
print_json_counts(const char *key, const vb_count *c, size_t n)
{
	/* Type and source names are from the schema: no escaping needed. */
	printf(",\"%s\":{", key);
	for (size_t i = 0; i < n; i++)
		printf("%s\"%s\":%llu", i ? "," : "", c[i].name, (unsigned long long)c[i].count);
	printf("}");
}

int
vb_cmd_stats(int argc, char **argv)
{
	enum { OPT_JSON = VB_OPT_FIRST_OWN };
	static const struct option longopts[] = {
		VB_CLI_CONN_OPTIONS,
		{ "json", no_argument, NULL, OPT_JSON },
		{ NULL, 0, NULL, 0 },
	};
	vb_query_req q = { .kind = VB_QUERY_STATS };
	vb_query_reply r;
	vb_cli_conn conn;
	vb_client *client;
	int c, rv, json = 0;

	vb_cli_conn_init(&conn);
	optind = 1;
	while ((c = vb_cli_next_opt(argc, argv, longopts, &conn)) != -1) {
		switch (c) {
		case OPT_JSON: json = 1; break;
		case VB_OPT_HELP:
			printf("usage: " VB_PROG " stats [--json]\n" VB_CLI_CONN_HELP);
			return VB_EXIT_OK;
		default: return VB_EXIT_USAGE;
		}
	}
	if ((rv = vb_cli_client(&conn, &client)) != 0)
		return rv;
	if ((rv = vb_cli_query(client, conn.query, &q, VB_QUERY_STATS, "stats", &r)) != 0) {
		vb_client_close(client);
		return rv;
	}
	const vb_stats *s = &r.stats;
	if (json) {
		printf("{\"events\":%llu,\"last_seq\":%llu,\"customers\":%llu,"
		    "\"disk_bytes\":%llu,\"map_bytes\":%llu,\"used_bytes\":%llu",
		    (unsigned long long)s->events, (unsigned long long)s->last_seq,
		    (unsigned long long)s->customers, (unsigned long long)s->disk_bytes,
		    (unsigned long long)s->map_bytes, (unsigned long long)s->used_bytes);
		print_json_counts("types", s->types, s->ntypes);
		print_json_counts("sources", s->sources, s->nsources);
		/* Client names are letters, digits, '-', '_' and '.'. */
		if (s->client[0])
			printf(",\"client\":\"%s\",\"role\":\"%s\"", s->client, s->role);
		printf("}\n");
	} else {
		printf("events     %llu\nlast seq   %llu\ncustomers  %llu\n"
		    "disk       %.1f MiB (map %.1f MiB, used %.1f MiB)\n",
		    (unsigned long long)s->events, (unsigned long long)s->last_seq,
		    (unsigned long long)s->customers, s->disk_bytes / 1048576.0,
		    s->map_bytes / 1048576.0, s->used_bytes / 1048576.0);
		if (s->client[0])
			printf("client     %s (%s)\n", s->client, s->role);
		print_counts("types", s->types, s->ntypes);
		print_counts("sources", s->sources, s->nsources);
	}
	vb_query_reply_free(&r);
	vb_client_close(client);
	return VB_EXIT_OK;
}
