/* voicebus: the command-line client of the broker. */
#include <stdio.h>
#include <string.h>

#include "vb_cli.h"

static const struct {
	const char *name;
	int (*fn)(int, char **);
	const char *help;
} commands[] = {
	{ "publish", vb_cmd_publish, "publish JSON-line events from files or stdin" },
	{ "tail", vb_cmd_tail, "follow events as they are stored, with no gap" },
	{ "replay", vb_cmd_replay, "print stored events by seq, time, customer or type" },
	{ "gate", vb_cmd_gate, "may this customer get this purpose on this channel now?" },
	{ "filter", vb_cmd_filter, "pass a CSV audience through the gate" },
	{ "customer", vb_cmd_customer, "what the gate knows of a customer, and every decision" },
	{ "suppressions", vb_cmd_suppressions, "the current suppression list, for a sending platform" },
	{ "stats", vb_cmd_stats, "counts, last seq and disk use of the broker" },
	{ "rebuild", vb_cmd_rebuild, "admin: fold all customer state again from the log" },
	{ "backup", vb_cmd_backup, "admin: a consistent copy of the store, written on the broker's host" },
	{ "config", vb_cmd_config, "admin: the configuration the broker runs with" },
	{ "token", vb_cmd_token, "make a client token and its [client.NAME] config section" },
};

static void
usage(FILE *out)
{
	fprintf(out, "usage: " VB_PROG " COMMAND [options]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].help);
	fprintf(out, "\n" VB_PROG " COMMAND --help shows a command's options.\n"
	    "Exit status: 0 success, 1 failure (broker unreachable, ...), 2 usage or input errors.\n");
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return VB_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return VB_EXIT_OK;
	}
	if (!strcmp(argv[1], "--version")) {
		printf(VB_PROG " %s\n", VB_VERSION);
		return VB_EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].fn(argc - 1, argv + 1);
	vb_cli_err("unknown command \"%s\"", argv[1]);
	usage(stderr);
	return VB_EXIT_USAGE;
}
