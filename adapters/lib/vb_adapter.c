#include "vb_adapter.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vb_ad_watch.h"
#include "vb_error.h"
#include "vb_time.h"
#include "vb_token.h"

#define EXIT_OK 0
#define EXIT_FAIL 1
#define EXIT_USAGE 2
/* parse_args: --help or --version was answered; exit 0. */
#define ANSWERED (-1)

/* Set by SIGINT and SIGTERM while --watch runs; nothing else. */
static volatile sig_atomic_t stop_flag;

static void
on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

enum {
	OPT_JSONL = 1000,
	OPT_PRESET,
	OPT_MAPPING,
	OPT_COLUMN,
	OPT_ATTRIBUTE,
	OPT_OPTION,
	OPT_CUSTOMER_COLUMN,
	OPT_CUSTOMER_MAP,
	OPT_TIMEZONE,
	OPT_ENCODING,
	OPT_AS_OF,
	OPT_DRY_RUN,
	OPT_BATCH,
	OPT_RETRY_FOR,
	OPT_WATCH,
	OPT_WATCH_INTERVAL,
	OPT_INGEST,
	OPT_QUERY,
	OPT_TIMEOUT,
	OPT_TLS_CA,
	OPT_TOKEN_FILE,
	OPT_SHOW_MAPPING,
	OPT_QUIET,
	OPT_HELP,
	OPT_VERSION,
};

static const struct option longopts[] = {
	{ "jsonl", no_argument, NULL, OPT_JSONL },
	{ "preset", required_argument, NULL, OPT_PRESET },
	{ "mapping", required_argument, NULL, OPT_MAPPING },
	{ "column", required_argument, NULL, OPT_COLUMN },
	{ "attribute", required_argument, NULL, OPT_ATTRIBUTE },
	{ "option", required_argument, NULL, OPT_OPTION },
	{ "customer-column", required_argument, NULL, OPT_CUSTOMER_COLUMN },
	{ "customer-map", required_argument, NULL, OPT_CUSTOMER_MAP },
	{ "timezone", required_argument, NULL, OPT_TIMEZONE },
	{ "encoding", required_argument, NULL, OPT_ENCODING },
	{ "as-of", required_argument, NULL, OPT_AS_OF },
	{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
	{ "batch", required_argument, NULL, OPT_BATCH },
	{ "retry-for", required_argument, NULL, OPT_RETRY_FOR },
	{ "watch", required_argument, NULL, OPT_WATCH },
	{ "watch-interval", required_argument, NULL, OPT_WATCH_INTERVAL },
	{ "ingest", required_argument, NULL, OPT_INGEST },
	{ "query", required_argument, NULL, OPT_QUERY },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "tls-ca", required_argument, NULL, OPT_TLS_CA },
	{ "token-file", required_argument, NULL, OPT_TOKEN_FILE },
	{ "show-mapping", no_argument, NULL, OPT_SHOW_MAPPING },
	{ "quiet", no_argument, NULL, OPT_QUIET },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

/* A mapping entry from the command line, applied after preset and file. */
typedef struct cli_set {
	const char *section;
	char *key;
	const char *value;
	const char *opt; /* for messages */
	const char *arg;
} cli_set;

typedef struct opts {
	int jsonl, dry_run, show_mapping, quiet;
	const char *preset, *mapping, *customer_map, *as_of, *watch;
	const char *ingest, *query, *tls_ca, *token_file;
	int timeout_ms;
	size_t batch;
	int64_t retry_for_ms, watch_interval_ms;
	cli_set *sets;
	size_t nsets;
} opts;

static void
usage(const vb_ad_silo *s, FILE *out)
{
	fprintf(out, "usage: %s [options] [FILE...]\n%s\n\n", s->prog, s->what);
	fprintf(out,
	    "Input (FILEs, or stdin when none or -):\n"
	    "  --jsonl               the contract's JSON lines, one event per line\n"
	    "  --preset NAME         a known export (below)\n"
	    "  --mapping FILE        CSV columns, attributes and options (INI; see --show-mapping)\n"
	    "  --column FIELD=COL    the CSV column that holds FIELD (default: a column named FIELD)\n"
	    "  --attribute NAME=COL  carry column COL as event attribute NAME\n"
	    "  --option NAME=VALUE   a mapping option (below)\n"
	    "  --customer-column COL the same as --column customer=COL\n"
	    "  --timezone ZONE       --option timezone=ZONE: UTC, +HH:MM, Europe/London, ...\n"
	    "  --encoding ENC        --option encoding=ENC: utf-8, latin1, cp1252\n"
	    "  --customer-map FILE   CSV (header line, then silo id,customer id): rows whose\n"
	    "                        customer is not in it are rejected\n");
	if (s->uses_as_of)
		fprintf(out,
		    "  --as-of TIME          judge what is overdue or missed at TIME (RFC 3339 or\n"
		    "                        YYYY-MM-DD; default: now)\n");
	fprintf(out,
	    "Output:\n"
	    "  --dry-run             print the events as JSON lines; publish nothing\n"
	    "  --batch N             events per request (default 1000, at most the broker's)\n"
	    "  --retry-for SEC       retry an unreachable or full broker this long (default 30)\n"
	    "  --watch DIR           import each file dropped into DIR once, then move it to\n"
	    "                        DIR/done or DIR/failed (with NAME.errors); until SIGTERM\n"
	    "  --watch-interval SEC  how often DIR is scanned (default 2; may be 0.1)\n"
	    "  --ingest URL          ingest address (default " VB_DEFAULT_INGEST
	    ")\n"
	    "  --query URL           query address (default " VB_DEFAULT_QUERY
	    ")\n"
	    "  --timeout SEC         per request (default 30)\n"
	    "  --tls-ca FILE         CA of the broker's certificate, for tls+tcp:// (or VOICEBUS_TLS_CA)\n"
	    "  --token-file FILE     this adapter's token, when the broker lists clients\n"
	    "                        (or VOICEBUS_TOKEN)\n"
	    "  --show-mapping        print the mapping in effect (preset, file, options) and exit\n"
	    "  --quiet               no summary line\n"
	    "  --help, --version\n");
	fprintf(out, "\nFields (--column FIELD=COLUMN):\n");
	for (const vb_ad_field *f = s->fields; f->name; f++)
		fprintf(out, "  %-22s %s%s\n", f->name, f->help,
		    f->required ? " (required)" : "");
	fprintf(out,
	    "\nOptions (--option NAME=VALUE, or [options] in a mapping):\n");
	for (const vb_ad_option *o = s->options; o && o->name; o++)
		fprintf(out, "  %-22s %s%s%s%s\n", o->name, o->help,
		    o->def ? " (default: " : "", o->def ? o->def : "",
		    o->def ? ")" : "");
	for (const vb_ad_option *o = vb_ad_common_options; o->name; o++)
		fprintf(out, "  %-22s %s%s%s%s\n", o->name, o->help,
		    o->def ? " (default: " : "", o->def ? o->def : "",
		    o->def ? ")" : "");
	if (s->presets && s->presets[0].name) {
		fprintf(out, "\nPresets:\n");
		for (const vb_ad_preset *p = s->presets; p->name; p++)
			fprintf(out, "  %-22s %s\n", p->name, p->help);
	}
	if (s->help)
		fprintf(out, "\n%s", s->help);
	fprintf(out,
	    "\nErrors: %s: FILE:LINE: field: what is wrong.  Summary: rows read, stored and\n"
	    "rejected; events stored and duplicates.  Exit status: 0 all stored, 2 usage or\n"
	    "input errors (some rows rejected), 1 the broker was not reached in --retry-for.\n",
	    s->prog);
}

static int bad_usage(const vb_ad_silo *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
bad_usage(const vb_ad_silo *s, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", s->prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(%s --help lists the options)\n", s->prog);
	return EXIT_USAGE;
}

/* Seconds as a decimal ("0.5", "30") into milliseconds within [lo, hi]. */
static int
parse_seconds(const char *s, double lo, double hi, int64_t *ms)
{
	char *end;
	double v;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= lo && v <= hi))
		return -1;
	*ms = (int64_t)llround(v * 1000);
	return 0;
}

/* Queue a mapping entry from the command line: key = value, or, with key
 * NULL, arg is "KEY=VALUE".  0, VB_EINVAL (no '=') or VB_ENOMEM. */
static int
add_set(opts *o, const char *section, const char *key, const char *opt,
    const char *arg)
{
	cli_set *s = realloc(o->sets, (o->nsets + 1) * sizeof(*s));
	if (s == NULL)
		return VB_ENOMEM;
	o->sets = s;
	s = &o->sets[o->nsets];
	s->section = section;
	s->opt = opt;
	s->arg = arg;
	s->value = arg;
	if (key == NULL) {
		const char *eq = strchr(arg, '=');
		if (eq == NULL || eq == arg)
			return VB_EINVAL;
		s->key = strndup(arg, (size_t)(eq - arg));
		s->value = eq + 1;
	} else {
		s->key = strdup(key);
	}
	if (s->key == NULL)
		return VB_ENOMEM;
	o->nsets++;
	return VB_OK;
}

/* The options that are mapping entries. */
static const struct {
	int opt;
	const char *name, *section,
	    *key; /* key NULL: the argument is KEY=VALUE */
} set_opts[] = {
	{ OPT_COLUMN, "--column", "columns", NULL },
	{ OPT_ATTRIBUTE, "--attribute", "attributes", NULL },
	{ OPT_OPTION, "--option", "options", NULL },
	{ OPT_CUSTOMER_COLUMN, "--customer-column", "columns", "customer" },
	{ OPT_TIMEZONE, "--timezone", "options", "timezone" },
	{ OPT_ENCODING, "--encoding", "options", "encoding" },
};

static int
parse_args(const vb_ad_silo *s, int argc, char **argv, opts *o)
{
	unsigned long long v;
	char *end;
	int c, rv;

	o->timeout_ms = 30000;
	o->retry_for_ms = 30000;
	o->watch_interval_ms = 2000;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_JSONL: o->jsonl = 1; break;
		case OPT_PRESET: o->preset = optarg; break;
		case OPT_MAPPING: o->mapping = optarg; break;
		case OPT_COLUMN:
		case OPT_ATTRIBUTE:
		case OPT_OPTION:
		case OPT_CUSTOMER_COLUMN:
		case OPT_TIMEZONE:
		case OPT_ENCODING: {
			size_t k = 0;
			while (set_opts[k].opt != c)
				k++;
			rv = add_set(o, set_opts[k].section, set_opts[k].key,
			    set_opts[k].name, optarg);
			if (rv == VB_EINVAL)
				return bad_usage(s,
				    "%s %s: expected NAME=VALUE",
				    set_opts[k].name, optarg);
			if (rv != 0)
				return bad_usage(s, "out of memory");
			break;
		}
		case OPT_CUSTOMER_MAP: o->customer_map = optarg; break;
		case OPT_AS_OF:
			if (!s->uses_as_of)
				return bad_usage(s,
				    "--as-of: %s judges nothing by the date",
				    s->prog);
			o->as_of = optarg;
			break;
		case OPT_DRY_RUN: o->dry_run = 1; break;
		case OPT_BATCH:
			errno = 0;
			v = strtoull(optarg, &end, 10);
			if (errno || *end || optarg[0] < '0' ||
			    optarg[0] > '9' || v < 1 || v > 100000)
				return bad_usage(s,
				    "--batch %s: expected 1 to 100000", optarg);
			o->batch = (size_t)v;
			break;
		case OPT_RETRY_FOR:
			if (parse_seconds(optarg, 0, 7 * 86400,
			        &o->retry_for_ms) != 0)
				return bad_usage(s,
				    "--retry-for %s: expected seconds, 0 to 604800",
				    optarg);
			break;
		case OPT_WATCH: o->watch = optarg; break;
		case OPT_WATCH_INTERVAL:
			if (parse_seconds(optarg, 0.01, 86400,
			        &o->watch_interval_ms) != 0)
				return bad_usage(s,
				    "--watch-interval %s: expected seconds, 0.01 to 86400",
				    optarg);
			break;
		case OPT_INGEST: o->ingest = optarg; break;
		case OPT_QUERY: o->query = optarg; break;
		case OPT_TLS_CA: o->tls_ca = optarg; break;
		case OPT_TOKEN_FILE: o->token_file = optarg; break;
		case OPT_TIMEOUT: {
			int64_t ms;
			if (parse_seconds(optarg, 0.1, 86400, &ms) != 0)
				return bad_usage(s,
				    "--timeout %s: expected seconds, 0.1 to 86400",
				    optarg);
			o->timeout_ms = (int)ms;
			break;
		}
		case OPT_SHOW_MAPPING: o->show_mapping = 1; break;
		case OPT_QUIET: o->quiet = 1; break;
		case OPT_HELP: usage(s, stdout); return ANSWERED;
		case OPT_VERSION:
			printf("%s %s\n", s->prog, VB_VERSION);
			return ANSWERED;
		default:
			fprintf(stderr, "(%s --help lists the options)\n",
			    s->prog);
			return EXIT_USAGE;
		}
	}
	return EXIT_OK;
}

/* The mapping: preset, then file, then the command line. */
static int
build_map(const vb_ad_silo *s, const opts *o, vb_ad_map **out)
{
	const vb_ad_preset *preset = NULL;
	vb_ad_map *m = NULL;
	char err[1024], name[128];
	int rv;

	if (vb_ad_map_new(s->fields, s->options, &m) != 0)
		return bad_usage(s, "out of memory");
	if (o->preset) {
		for (const vb_ad_preset *p = s->presets; p && p->name; p++)
			if (strcmp(p->name, o->preset) == 0)
				preset = p;
		if (preset == NULL) {
			char known[256] = "";
			for (const vb_ad_preset *p = s->presets; p && p->name;
			     p++) {
				size_t n = strlen(known);
				snprintf(known + n, sizeof(known) - n, "%s%s",
				    n ? ", " : "", p->name);
			}
			rv = bad_usage(s, "--preset %s: unknown preset (%s)",
			    o->preset,
			    known[0] ? known : "this program has none");
			goto fail;
		}
		snprintf(name, sizeof(name), "preset %s", preset->name);
		if ((rv = vb_ad_map_load_string(m, name, preset->mapping, err,
		         sizeof(err))) != 0) {
			rv = bad_usage(s, "%s", err);
			goto fail;
		}
	}
	if (o->mapping &&
	    (rv = vb_ad_map_load_file(m, o->mapping, err, sizeof(err))) != 0) {
		rv = bad_usage(s, "--mapping %s", err);
		goto fail;
	}
	for (size_t i = 0; i < o->nsets; i++) {
		const cli_set *cs = &o->sets[i];
		if (vb_ad_map_set(m, cs->section, cs->key, cs->value, err,
		        sizeof(err)) != 0) {
			rv = bad_usage(s, "%s %s: %s", cs->opt, cs->arg, err);
			goto fail;
		}
	}
	if (preset && preset->customer_hint && !o->show_mapping &&
	    vb_ad_map_column(m, vb_ad_map_field(m, "customer")) == NULL) {
		rv = bad_usage(s, "--preset %s: %s", preset->name,
		    preset->customer_hint);
		goto fail;
	}
	*out = m;
	return EXIT_OK;
fail:
	vb_ad_map_free(m);
	return rv;
}

static void
summary(const vb_ad_ctx *c, const char *name, const vb_ad_import_stats *st,
    int dry_run)
{
	const vb_pub_counts *p = &st->pub;
	unsigned long long stored = p->rows_done + st->done_empty;
	unsigned long long seen = stored + st->rejected;
	unsigned long long left = st->rows > seen ? st->rows - seen : 0;
	char rows[256], events[256];

	if (dry_run) {
		snprintf(rows, sizeof(rows), "rows read %llu (rejected %llu)",
		    st->rows, st->rejected);
		snprintf(events, sizeof(events),
		    "events %llu printed (dry run: nothing published)",
		    p->printed);
	} else if (p->unsent || st->interrupted) {
		snprintf(rows, sizeof(rows),
		    "rows read %llu (stored %llu, not stored %llu, rejected %llu)",
		    st->rows, stored, left, st->rejected);
		snprintf(events, sizeof(events),
		    "events %llu (stored %llu, duplicates %llu, not stored %llu)",
		    p->stored + p->duplicates + p->unsent, p->stored,
		    p->duplicates, p->unsent);
	} else {
		snprintf(rows, sizeof(rows),
		    "rows read %llu (stored %llu, rejected %llu)", st->rows,
		    stored, st->rejected);
		snprintf(events, sizeof(events),
		    "events %llu (stored %llu, duplicates %llu)",
		    p->stored + p->duplicates, p->stored, p->duplicates);
	}
	vb_reportf(c->report, name, 0, "%s; %s%s%s", rows, events,
	    st->interrupted ? "; interrupted" : "",
	    p->unsent ? "; run the same import again to store the rest" : "");
}

typedef struct watch_arg {
	vb_ad_ctx *c;
	vb_report *report;
	const opts *o;
	int fatal;
} watch_arg;

static vb_ad_watch_result
watch_one(void *arg, const char *path, FILE *errors)
{
	watch_arg *w = arg;
	vb_ad_import_stats st;
	int rv;

	w->report->copy = errors;
	vb_pub_retry(w->c->pub);
	rv = vb_ad_import(w->c, path, path, &st);
	if (rv == 0 && !w->o->quiet)
		summary(w->c, path, &st, w->o->dry_run);
	w->report->copy = NULL;
	if (rv != 0) {
		vb_report_msg(w->report, "%s: %s", path, vb_strerror(rv));
		w->fatal = 1;
		return VB_AD_WATCH_RETRY;
	}
	if (st.interrupted || vb_pub_failed(w->c->pub))
		return VB_AD_WATCH_RETRY;
	if (st.unreadable || st.rejected)
		return VB_AD_WATCH_FAILED;
	return VB_AD_WATCH_DONE;
}

static int
run_watch(vb_ad_ctx *c, vb_report *report, const opts *o)
{
	struct sigaction sa;
	watch_arg w = { c, report, o, 0 };
	int rv;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: a signal must cut a pause short. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	c->stop = &stop_flag;
	vb_report_msg(report, "watching %s (SIGTERM or SIGINT stops)",
	    o->watch);
	rv = vb_ad_watch_run(o->watch, o->watch_interval_ms, &stop_flag,
	    watch_one, &w, report);
	return rv != 0 || w.fatal ? EXIT_FAIL : EXIT_OK;
}

int
vb_adapter_main(const vb_ad_silo *silo, int argc, char **argv)
{
	opts o = { 0 };
	vb_ad_map *map = NULL;
	vb_ad_custmap *custmap = NULL;
	vb_client *client = NULL;
	vb_report report;
	vb_ad_ctx c = { .silo = silo };
	vb_pub_opts po = { 0 };
	char err[1024];
	int rv, status = EXIT_OK, any_failed = 0, any_input_error = 0;
	int nfiles;

	vb_report_init(&report, silo->prog, stderr);
	if ((rv = parse_args(silo, argc, argv, &o)) != 0) {
		if (rv == ANSWERED)
			rv = EXIT_OK;
		goto out;
	}
	if (o.jsonl && (o.preset || o.mapping || o.nsets)) {
		rv = bad_usage(silo,
		    "--jsonl reads the contract's JSON lines: no preset, mapping "
		    "or column options");
		goto out;
	}
	if (o.watch && optind < argc) {
		rv = bad_usage(silo,
		    "--watch DIR imports the files dropped into DIR: no FILE arguments");
		goto out;
	}
	if (o.watch && o.dry_run) {
		rv = bad_usage(silo,
		    "--watch moves each file once imported: not with --dry-run");
		goto out;
	}
	if ((rv = build_map(silo, &o, &map)) != 0)
		goto out;
	if (o.show_mapping) {
		vb_ad_map_print(map, stdout);
		rv = EXIT_OK;
		goto out;
	}
	c.map = map;
	c.report = &report;
	c.jsonl = o.jsonl;
	if (vb_ad_ctx_options(&c, err, sizeof(err)) != 0) {
		rv = bad_usage(silo, "%s", err);
		goto out;
	}
	c.as_of_us = vb_time_now();
	if (o.as_of) {
		vb_ad_zone utc = { 0, 0 };
		if (vb_ad_time_parse(o.as_of, &utc, VB_AD_YMD, &c.as_of_us,
		        NULL) != 0) {
			rv = bad_usage(silo,
			    "--as-of %s: not an RFC 3339 time or YYYY-MM-DD date",
			    o.as_of);
			goto out;
		}
	}
	if (o.customer_map) {
		if (vb_ad_custmap_load(o.customer_map, &custmap, err,
		        sizeof(err)) != 0) {
			vb_report_msg(&report, "--customer-map %s", err);
			rv = EXIT_USAGE;
			goto out;
		}
		c.custmap = custmap;
		c.custmap_path = o.customer_map;
	}
	if (!o.dry_run) {
		char token[VB_TOKEN_MAX + 1];
		vb_client_opts co = { o.ingest, o.query, o.timeout_ms, o.tls_ca, token };
		if (vb_token_find(o.token_file, token, sizeof(token), err, sizeof(err)) != 0) {
			vb_report_msg(&report, "%s", err);
			rv = EXIT_USAGE;
			goto out;
		}
		int orv = vb_client_open(&co, &client);
		memset(token, 0, sizeof(token));
		if (orv != 0) {
			vb_report_msg(&report, "out of memory");
			rv = EXIT_FAIL;
			goto out;
		}
	}
	po.client = client;
	po.report = &report;
	po.batch = o.batch;
	po.retry_for_ms = o.retry_for_ms;
	po.dry_run = o.dry_run ? stdout : NULL;
	po.stop = &stop_flag;
	if (vb_pub_open(&po, &c.pub) != 0) {
		vb_report_msg(&report, "out of memory");
		rv = EXIT_FAIL;
		goto out;
	}
	if (o.watch) {
		rv = run_watch(&c, &report, &o);
		goto out;
	}
	/* No FILE: stdin. */
	nfiles = argc - optind;
	vb_ad_import_stats total = { 0 };
	for (int i = 0; i < (nfiles ? nfiles : 1); i++) {
		const char *path = nfiles ? argv[optind + i] : "-";
		vb_ad_import_stats st;
		if ((rv = vb_ad_import(&c, path,
		         strcmp(path, "-") ? path : "<stdin>", &st)) != 0) {
			vb_report_msg(&report, "%s: %s", path,
			    vb_strerror(rv));
			status = EXIT_FAIL;
			break;
		}
		if (!o.quiet)
			summary(&c, strcmp(path, "-") ? path : "<stdin>", &st,
			    o.dry_run);
		any_failed |= st.pub.unsent > 0 || vb_pub_failed(c.pub);
		any_input_error |= st.unreadable || st.rejected > 0;
		total.rows += st.rows;
		total.rejected += st.rejected;
		total.done_empty += st.done_empty;
		total.pub.events += st.pub.events;
		total.pub.stored += st.pub.stored;
		total.pub.duplicates += st.pub.duplicates;
		total.pub.rejected += st.pub.rejected;
		total.pub.unsent += st.pub.unsent;
		total.pub.printed += st.pub.printed;
		total.pub.rows_done += st.pub.rows_done;
	}
	if (nfiles > 1 && !o.quiet && status == EXIT_OK)
		summary(&c, "total", &total, o.dry_run);
	/* The broker's failure outranks the input's. */
	if (status == EXIT_OK && any_failed)
		status = EXIT_FAIL;
	else if (status == EXIT_OK && any_input_error)
		status = EXIT_USAGE;
	rv = status;
out:
	vb_pub_close(c.pub);
	vb_client_close(client);
	vb_ad_custmap_free(custmap);
	vb_ad_map_free(map);
	for (size_t i = 0; i < o.nsets; i++)
		free(o.sets[i].key);
	free(o.sets);
	return rv;
}
