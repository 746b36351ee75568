#include "vb_config.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vb_error.h"

typedef enum { OPT_STR, OPT_INT, OPT_SIZE, OPT_LEVEL, OPT_BOOL } opt_type;

typedef struct {
	const char *name;
	opt_type type;
	size_t off;
	size_t len;          /* OPT_STR: buffer size */
	const char *def;
	int64_t min, max;
	const char *help;
} opt;

#define OFF(f) offsetof(vb_config, f)
#define KiB 1024LL
#define MiB (1024LL * KiB)
#define GiB (1024LL * MiB)
#define TiB (1024LL * GiB)

static const opt opts[] = {
	{ "data", OPT_STR, OFF(data), sizeof(((vb_config *)0)->data), "./voicebus-data", 1, 0, "data directory" },
	{ "ingest", OPT_STR, OFF(ingest), VB_URL_MAX, "tcp://127.0.0.1:7450", 1, 0, "ingest REP address" },
	{ "pub", OPT_STR, OFF(pub), VB_URL_MAX, "tcp://127.0.0.1:7451", 1, 0, "publish PUB address" },
	{ "query", OPT_STR, OFF(query), VB_URL_MAX, "tcp://127.0.0.1:7452", 1, 0, "query REP address" },
	{ "log_level", OPT_LEVEL, OFF(log_level), 0, "info", 0, 0, "error, warn, info or debug" },
	{ "ingest_workers", OPT_INT, OFF(ingest_workers), 0, "16", 1, 1024, "concurrent ingest requests" },
	{ "query_workers", OPT_INT, OFF(query_workers), 0, "4", 1, 256, "concurrent queries" },
	{ "max_batch", OPT_INT, OFF(max_batch), 0, "1000", 1, 100000, "events per ingest request" },
	{ "max_message", OPT_SIZE, OFF(max_message), 0, "16MiB", 256 * KiB, 1 * GiB, "bytes per request" },
	{ "commit_max_events", OPT_INT, OFF(commit_max_events), 0, "10000", 1, 1000000, "events per group commit" },
	{ "commit_linger_us", OPT_INT, OFF(commit_linger_us), 0, "0", 0, 100000, "how long a commit waits for publishers just answered to share its flush" },
	{ "map_size", OPT_SIZE, OFF(map_size), 0, "256MiB", 1 * MiB, 64 * TiB, "initial LMDB map size" },
	{ "map_size_max", OPT_SIZE, OFF(map_size_max), 0, "1TiB", 1 * MiB, 64 * TiB, "largest LMDB map size" },
	{ "replay_page", OPT_INT, OFF(replay_page), 0, "1000", 1, 100000, "default events per replay page" },
	{ "replay_page_max", OPT_INT, OFF(replay_page_max), 0, "10000", 1, 1000000, "most events per replay page" },
	{ "pub_queue", OPT_INT, OFF(pub_queue), 0, "8192", 1, 8192, "messages queued per subscriber (nng allows 8192)" },
	{ "clock_tick_ms", OPT_INT, OFF(clock_tick_ms), 0, "1000", 100, 60000, "how often cool-offs and cap windows are checked" },
	/* Strings with a minimum of 0 may be empty: unset. */
	{ "tls_cert", OPT_STR, OFF(tls_cert), sizeof(((vb_config *)0)->tls_cert), "", 0, 0, "PEM certificate for tls+tcp:// listeners" },
	{ "tls_key", OPT_STR, OFF(tls_key), sizeof(((vb_config *)0)->tls_key), "", 0, 0, "PEM private key of tls_cert" },
	{ "tls_key_password", OPT_STR, OFF(tls_key_password), sizeof(((vb_config *)0)->tls_key_password), "", 0, 0, "password of tls_key, if any" },
	{ "pub_full", OPT_BOOL, OFF(pub_full), 0, "false", 0, 1, "with clients: PUB carries whole events, not the redacted form" },
};

#define NOPTS (sizeof(opts) / sizeof(opts[0]))

static int
parse_size(const char *s, int64_t *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	int64_t mul = 1;
	if (end == s || errno != 0 || v < 0)
		return -1;
	while (isspace((unsigned char)*end))
		end++;
	if (*end) {
		if (!strcmp(end, "KiB") || !strcmp(end, "K") || !strcmp(end, "k"))
			mul = KiB;
		else if (!strcmp(end, "MiB") || !strcmp(end, "M"))
			mul = MiB;
		else if (!strcmp(end, "GiB") || !strcmp(end, "G"))
			mul = GiB;
		else if (!strcmp(end, "TiB") || !strcmp(end, "T"))
			mul = TiB;
		else
			return -1;
	}
	if (v > INT64_MAX / mul)
		return -1;
	*out = v * mul;
	return 0;
}

int
vb_config_set(vb_config *c, const char *name, const char *value, char *err,
    size_t errlen)
{
	const opt *o = NULL;
	int64_t v = 0;
	char *end;

	for (size_t i = 0; i < NOPTS; i++)
		if (strcmp(opts[i].name, name) == 0)
			o = &opts[i];
	if (o == NULL) {
		snprintf(err, errlen, "%s: unknown option", name);
		return VB_EINVAL;
	}
	switch (o->type) {
	case OPT_STR:
		if ((value[0] == '\0' && o->min > 0) || strlen(value) >= o->len) {
			snprintf(err, errlen, "%s: must be %lld to %zu characters", name,
			    (long long)o->min, o->len - 1);
			return VB_EINVAL;
		}
		memcpy((char *)c + o->off, value, strlen(value) + 1);
		return VB_OK;
	case OPT_LEVEL:
		if (vb_log_level_parse(value, (vb_log_level *)((char *)c + o->off)) != 0) {
			snprintf(err, errlen, "%s: \"%s\" is not error, warn, info or debug", name, value);
			return VB_EINVAL;
		}
		return VB_OK;
	case OPT_BOOL:
		if (strcmp(value, "true") == 0 || strcmp(value, "yes") == 0 || strcmp(value, "1") == 0)
			v = 1;
		else if (strcmp(value, "false") == 0 || strcmp(value, "no") == 0 || strcmp(value, "0") == 0)
			v = 0;
		else {
			snprintf(err, errlen, "%s: \"%s\" is not true or false", name, value);
			return VB_EINVAL;
		}
		break;
	case OPT_INT:
		errno = 0;
		v = strtoll(value, &end, 10);
		if (end == value || *end || errno) {
			snprintf(err, errlen, "%s: \"%s\" is not an integer", name, value);
			return VB_EINVAL;
		}
		break;
	case OPT_SIZE:
		if (parse_size(value, &v) != 0) {
			snprintf(err, errlen, "%s: \"%s\" is not a size such as 64MiB", name, value);
			return VB_EINVAL;
		}
		break;
	}
	if (v < o->min || v > o->max) {
		snprintf(err, errlen, "%s: %s is out of range [%lld, %lld]", name, value,
		    (long long)o->min, (long long)o->max);
		return VB_EINVAL;
	}
	*(int64_t *)((char *)c + o->off) = v;
	return VB_OK;
}

void
vb_config_defaults(vb_config *c)
{
	char err[128];
	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < NOPTS; i++)
		vb_config_set(c, opts[i].name, opts[i].def, err, sizeof(err));
	vb_rules_defaults(&c->rules);
}

typedef struct {
	vb_config *c;
	FILE *f;
	int line;         /* lines read so far: the line the handler sees */
	int err_line;     /* line of the first error found here, or 0 */
	char why[384];    /* its message */
} load_ctx;

static void
load_fail(load_ctx *lc, const char *why)
{
	if (lc->err_line != 0)
		return; /* inih reports the first error: so do we */
	lc->err_line = lc->line;
	snprintf(lc->why, sizeof(lc->why), "%s", why);
}

/* inih's reader: counts lines (Debian's inih has no line numbers in the
 * handler) and refuses lines longer than its fixed buffer, which it would
 * otherwise split into two lines. */
static char *
read_line(char *str, int num, void *stream)
{
	load_ctx *lc = stream;
	size_t n;
	if (fgets(str, num, lc->f) == NULL)
		return NULL;
	lc->line++;
	n = strlen(str);
	if (n == (size_t)num - 1 && str[n - 1] != '\n') {
		int ch;
		char why[96];
		snprintf(why, sizeof(why), "line longer than %d characters", num - 2);
		load_fail(lc, why);
		while ((ch = fgetc(lc->f)) != EOF && ch != '\n')
			;
		str[0] = '\0'; /* let inih see an empty line */
	}
	return str;
}

static int
on_ini(void *user, const char *section, const char *name, const char *value)
{
	load_ctx *lc = user;
	char why[256];
	if (strncmp(section, "rule.", 5) == 0) {
		if (vb_rules_set(&lc->c->rules, section + 5, name, value, why, sizeof(why)) != 0) {
			load_fail(lc, why);
			return 0;
		}
		return 1;
	}
	if (strncmp(section, "client.", 7) == 0) {
		if (vb_auth_set(&lc->c->auth, section + 7, name, value, lc->line, why,
		    sizeof(why)) != 0) {
			load_fail(lc, why);
			return 0;
		}
		return 1;
	}
	if (strcmp(section, "broker") != 0) {
		snprintf(why, sizeof(why), "[%s]: unknown section (options go under [broker], "
		    "rules under [rule.NAME], clients under [client.NAME])", section);
		load_fail(lc, why);
		return 0;
	}
	if (vb_config_set(lc->c, name, value, why, sizeof(why)) != 0) {
		load_fail(lc, why);
		return 0;
	}
	return 1;
}

int
vb_config_load(vb_config *c, const char *path, char *err, size_t errlen)
{
	load_ctx lc = { .c = c };
	char why[256];
	int rv, line;

	err[0] = '\0';
	if ((lc.f = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return VB_EINVAL;
	}
	rv = ini_parse_stream(read_line, &lc, on_ini, &lc);
	fclose(lc.f);
	if (rv < 0) {
		snprintf(err, errlen, "%s: cannot read it", path);
		return VB_EINVAL;
	}
	if (lc.err_line != 0 && (rv == 0 || lc.err_line <= rv)) {
		snprintf(err, errlen, "%s:%d: %s", path, lc.err_line, lc.why);
		return VB_EINVAL;
	}
	if (rv > 0) {
		/* inih found a line it could not parse before any of ours. */
		snprintf(err, errlen, "%s:%d: syntax error (expected [section] or name = value)",
		    path, rv);
		return VB_EINVAL;
	}
	if (c->map_size > c->map_size_max) {
		snprintf(err, errlen, "%s: map_size: larger than map_size_max", path);
		return VB_EINVAL;
	}
	if (c->replay_page > c->replay_page_max) {
		snprintf(err, errlen, "%s: replay_page: larger than replay_page_max", path);
		return VB_EINVAL;
	}
	if (vb_auth_check(&c->auth, &line, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "%s:%d: %s", path, line, why);
		return VB_EINVAL;
	}
	return VB_OK;
}

/* Whether url can only be reached from this machine. */
static int
url_local(const char *url)
{
	static const char *const local_schemes[] = { "ipc://", "inproc://",
		"abstract://", NULL };
	static const char *const tcp_schemes[] = { "tcp://", "tcp4://", "tcp6://",
		"tls+tcp://", "tls+tcp4://", "tls+tcp6://", NULL };
	const char *host = NULL;
	for (const char *const *s = local_schemes; *s; s++)
		if (strncmp(url, *s, strlen(*s)) == 0)
			return 1;
	for (const char *const *s = tcp_schemes; *s; s++)
		if (strncmp(url, *s, strlen(*s)) == 0)
			host = url + strlen(*s);
	if (host == NULL)
		return 0;
	if (strncmp(host, "127.", 4) == 0 || strncmp(host, "[::1]:", 6) == 0)
		return 1;
	return strncmp(host, "localhost:", 10) == 0;
}

int
vb_config_pub_redacted(const vb_config *c)
{
	return vb_auth_enabled(&c->auth) && !c->pub_full;
}

int
vb_config_check(const vb_config *c, char *err, size_t errlen)
{
	const struct {
		const char *name, *url;
	} urls[] = { { "ingest", c->ingest }, { "pub", c->pub }, { "query", c->query } };

	if (vb_auth_enabled(&c->auth))
		return VB_OK;
	for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++)
		if (!url_local(urls[i].url)) {
			snprintf(err, errlen, "%s = %s: with no [client.NAME] configured the "
			    "broker serves only loopback (127.0.0.1, [::1], localhost) and "
			    "ipc:// addresses; configure clients and their tokens to serve "
			    "others (docs/security.md)", urls[i].name, urls[i].url);
			return VB_EINVAL;
		}
	return VB_OK;
}

void
vb_config_dump(const vb_config *c, FILE *out)
{
	static const char *levels[] = { "error", "warn", "info", "debug" };
	fprintf(out, "[broker]\n");
	for (size_t i = 0; i < NOPTS; i++) {
		const opt *o = &opts[i];
		const void *p = (const char *)c + o->off;
		switch (o->type) {
		case OPT_STR:
			/* Never print a secret back. */
			fprintf(out, "%s = %s\n", o->name, strstr(o->name, "password") &&
			    ((const char *)p)[0] ? "(set)" : (const char *)p);
			break;
		case OPT_LEVEL: fprintf(out, "%s = %s\n", o->name, levels[*(const vb_log_level *)p]); break;
		case OPT_BOOL: fprintf(out, "%s = %s\n", o->name, *(const int64_t *)p ? "true" : "false"); break;
		default: fprintf(out, "%s = %lld\n", o->name, (long long)*(const int64_t *)p); break;
		}
	}
	for (int r = 0; r < VB_NRULES; r++) {
		const vb_rules *rl = &c->rules;
		fprintf(out, "\n[rule.%s]\nenabled = %s\nblocks =", vb_rule_names[r],
		    rl->rule[r].enabled ? "true" : "false");
		for (int p = 0, first = 1; p < VB_NPURPOSES; p++)
			if (rl->rule[r].blocks & (1u << p)) {
				fprintf(out, "%s %s", first ? "" : ",", vb_purpose_names[p]);
				first = 0;
			}
		fputc('\n', out);
		if (r == VB_RULE_COOLOFF)
			fprintf(out, "duration = %llds\n", (long long)(rl->cooloff_us / 1000000));
		if (r == VB_RULE_FREQUENCY_CAP)
			fprintf(out, "max = %lld\nwindow = %llds\nper_channel_per_day = %lld\n",
			    (long long)rl->cap_max, (long long)(rl->cap_window_us / 1000000),
			    (long long)rl->cap_per_day);
	}
	for (size_t i = 0; i < c->auth.n; i++) {
		const vb_auth_client *cl = &c->auth.client[i];
		char hex[65];
		for (int k = 0; k < 32; k++)
			snprintf(hex + 2 * k, 3, "%02x", cl->hash[k]);
		fprintf(out, "\n[client.%s]\nrole = %s\ntoken_sha256 = %s\n", cl->name,
		    vb_role_names[cl->role], hex);
		if (cl->role == VB_ROLE_PUBLISHER) {
			fprintf(out, "sources =");
			for (int k = 0, first = 1; vb_auth_sources[k]; k++)
				if (cl->sources & (1u << k)) {
					fprintf(out, "%s %s", first ? "" : ",", vb_auth_sources[k]);
					first = 0;
				}
			fputc('\n', out);
		}
	}
}
