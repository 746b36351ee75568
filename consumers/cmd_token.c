/* voicebus token: make a client's token and the [client.NAME] section that
 * lets the broker know it.  The token goes to a file only its owner can
 * read; the broker's config gets its SHA-256 and never the token. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vb_cli.h"
#include "vb_token.h"

static const char *const roles[] = { "publisher", "marketing", "engineer", "admin", NULL };

static void
usage(FILE *out)
{
	fprintf(out, "usage: " VB_PROG " token --name NAME --role ROLE [--sources LIST] --output FILE\n"
	    "       " VB_PROG " token --hash [--token-file FILE]\n"
	    "Make a client token: write it to FILE (mode 0600; an existing file is never\n"
	    "overwritten) and print the [client.NAME] section for voicebusd's config.\n"
	    "  --name NAME      the client's name in the broker's log lines\n"
	    "  --role ROLE      publisher, marketing, engineer or admin\n"
	    "  --sources LIST   publisher: the sources it may publish (finance, service, ...)\n"
	    "  --output FILE    where the token goes (- : stdout)\n"
	    "  --hash           print the token_sha256 of an existing token (--token-file\n"
	    "                   or VOICEBUS_TOKEN)\n");
}

static int
write_token(const char *path, const char *token)
{
	int fd;
	size_t n = strlen(token);
	if (strcmp(path, "-") == 0) {
		printf("%s\n", token);
		return 0;
	}
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
		vb_cli_err("%s: %s", path, strerror(errno));
		return -1;
	}
	if (write(fd, token, n) != (ssize_t)n || write(fd, "\n", 1) != 1 || fsync(fd) != 0) {
		vb_cli_err("%s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	close(fd);
	return 0;
}

int
vb_cmd_token(int argc, char **argv)
{
	enum { OPT_NAME = VB_OPT_FIRST_OWN, OPT_ROLE, OPT_SOURCES, OPT_OUTPUT, OPT_HASH };
	static const struct option longopts[] = {
		VB_CLI_CONN_OPTIONS,
		{ "name", required_argument, NULL, OPT_NAME },
		{ "role", required_argument, NULL, OPT_ROLE },
		{ "sources", required_argument, NULL, OPT_SOURCES },
		{ "output", required_argument, NULL, OPT_OUTPUT },
		{ "hash", no_argument, NULL, OPT_HASH },
		{ NULL, 0, NULL, 0 },
	};
	const char *name = NULL, *role = NULL, *sources = NULL, *output = NULL;
	char token[VB_TOKEN_MAX + 1], hex[65], err[512];
	int c, hash = 0, known = 0;
	vb_cli_conn conn;

	vb_cli_conn_init(&conn);
	optind = 1;
	while ((c = vb_cli_next_opt(argc, argv, longopts, &conn)) != -1) {
		switch (c) {
		case OPT_NAME: name = optarg; break;
		case OPT_ROLE: role = optarg; break;
		case OPT_SOURCES: sources = optarg; break;
		case OPT_OUTPUT: output = optarg; break;
		case OPT_HASH: hash = 1; break;
		case VB_OPT_HELP: usage(stdout); return VB_EXIT_OK;
		default: usage(stderr); return VB_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		vb_cli_err("token: unexpected argument \"%s\"", argv[optind]);
		return VB_EXIT_USAGE;
	}
	if (hash) {
		if (vb_token_find(conn.token_file, token, sizeof(token), err, sizeof(err)) != 0) {
			vb_cli_err("%s", err);
			return VB_EXIT_USAGE;
		}
		if (token[0] == '\0') {
			vb_cli_err("token --hash: no token (--token-file FILE or VOICEBUS_TOKEN)");
			return VB_EXIT_USAGE;
		}
		vb_token_hash_hex(token, strlen(token), hex);
		printf("token_sha256 = %s\n", hex);
		return VB_EXIT_OK;
	}
	if (name == NULL || role == NULL || output == NULL) {
		vb_cli_err("token: --name, --role and --output are required");
		usage(stderr);
		return VB_EXIT_USAGE;
	}
	for (const char *const *r = roles; *r; r++)
		known |= strcmp(*r, role) == 0;
	if (!known) {
		vb_cli_err("--role %s: expected publisher, marketing, engineer or admin", role);
		return VB_EXIT_USAGE;
	}
	if ((strcmp(role, "publisher") == 0) != (sources != NULL)) {
		vb_cli_err("--sources: %s", sources ? "only for --role publisher" :
		    "required for --role publisher (the sources it may publish)");
		return VB_EXIT_USAGE;
	}
	if (vb_token_new(token, sizeof(token)) != 0) {
		vb_cli_err("cannot read random bytes from the kernel");
		return VB_EXIT_FAIL;
	}
	if (write_token(output, token) != 0)
		return VB_EXIT_FAIL;
	vb_token_hash_hex(token, strlen(token), hex);
	memset(token, 0, sizeof(token));
	/* The section on stdout, where the token is not (unless asked for). */
	printf("[client.%s]\nrole = %s\n", name, role);
	if (sources)
		printf("sources = %s\n", sources);
	printf("token_sha256 = %s\n", hex);
	return VB_EXIT_OK;
}
