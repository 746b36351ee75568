/* voicebus backup and voicebus config: the admin's requests that read the
 * broker as a whole (rebuild, which writes, is with the gate commands). */
#include <stdio.h>
#include <string.h>

#include "vb_cli.h"
#include "vb_error.h"

/* Parse only the shared options; a positional argument into *arg when
 * arg is not NULL.  Returns -1 to go on, else the exit code. */
static int
admin_opts(int argc, char **argv, vb_cli_conn *conn, const char *help,
    const char **arg)
{
	static const struct option longopts[] = {
		VB_CLI_CONN_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	int c;
	optind = 1;
	while ((c = vb_cli_next_opt(argc, argv, longopts, conn)) != -1) {
		if (c == VB_OPT_HELP) {
			printf("%s" VB_CLI_CONN_HELP, help);
			return VB_EXIT_OK;
		}
		fprintf(stderr, "%s", help);
		return VB_EXIT_USAGE;
	}
	if (arg != NULL) {
		if (optind + 1 != argc) {
			fprintf(stderr, "%s", help);
			return VB_EXIT_USAGE;
		}
		*arg = argv[optind];
	} else if (optind != argc) {
		vb_cli_err("unexpected argument \"%s\"", argv[optind]);
		return VB_EXIT_USAGE;
	}
	return -1;
}

int
vb_cmd_backup(int argc, char **argv)
{
	static const char help[] =
	    "usage: " VB_PROG " backup PATH\n"
	    "Admin: have the broker write a compact, consistent copy of its store to\n"
	    "PATH on its own host (an absolute path that does not exist yet), while it\n"
	    "keeps serving.  The copy is an LMDB data.mdb: to restore, put it as\n"
	    "data.mdb in an empty data directory (docs/operations.md).\n";
	vb_cli_conn conn;
	vb_client *client;
	vb_query_reply r;
	const char *path = NULL;
	int rv;

	vb_cli_conn_init(&conn);
	conn.timeout_ms = 3600 * 1000; /* a copy reads the whole store */
	if ((rv = admin_opts(argc, argv, &conn, help, &path)) >= 0)
		return rv;
	if ((rv = vb_cli_client(&conn, &client)) != 0)
		return rv;
	vb_query_req q = { .kind = VB_QUERY_BACKUP, .backup_path = path };
	if ((rv = vb_cli_query(client, conn.query, &q, VB_QUERY_BACKUP, "backup", &r)) != 0) {
		vb_client_close(client);
		return rv;
	}
	printf("backup %s: %llu bytes, every event up to seq %llu\n", path,
	    (unsigned long long)r.backup_bytes, (unsigned long long)r.backup_seq);
	vb_query_reply_free(&r);
	vb_client_close(client);
	return VB_EXIT_OK;
}

int
vb_cmd_config(int argc, char **argv)
{
	static const char help[] =
	    "usage: " VB_PROG " config\n"
	    "Admin: print the configuration the broker runs with, as\n"
	    "`voicebusd --check-config` prints it (passwords masked).\n";
	vb_cli_conn conn;
	vb_client *client;
	vb_query_reply r;
	int rv;

	vb_cli_conn_init(&conn);
	if ((rv = admin_opts(argc, argv, &conn, help, NULL)) >= 0)
		return rv;
	if ((rv = vb_cli_client(&conn, &client)) != 0)
		return rv;
	vb_query_req q = { .kind = VB_QUERY_CONFIG };
	if ((rv = vb_cli_query(client, conn.query, &q, VB_QUERY_CONFIG, "config", &r)) != 0) {
		vb_client_close(client);
		return rv;
	}
	fputs(r.config, stdout);
	vb_query_reply_free(&r);
	vb_client_close(client);
	return VB_EXIT_OK;
}
