/* Integration: the silo adapters (vb-service, vb-field, vb-sales,
 * vb-finance) as processes against a real voicebusd.
 *
 * Expected event counts are computed here, from the input files, with a
 * small CSV reader of this file's own (not libcsv, not the adapters' code),
 * and compared with what the broker stored.
 *
 * `check_it_adapters` runs the suite on the committed excerpts and
 * examples; `check_it_adapters --real` runs it on the real exports in the
 * project's shared data folder, and exits 77 (ctest: skipped) when that
 * folder is not there, as on a clean clone in CI. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vb_harness.h"

#ifndef VB_SOURCE_DIR
#error "VB_SOURCE_DIR: the project's source directory"
#endif
#ifndef VB_SHARED_DATA
#error "VB_SHARED_DATA: the shared data folder"
#endif

#define EXAMPLES VB_SOURCE_DIR "/adapters"
#define TESTDATA VB_SOURCE_DIR "/tests/data"
#define CFPB_REAL VB_SHARED_DATA "/cfpb-complaints-sample.csv"
#define RETAIL_REAL VB_SHARED_DATA "/online-retail-2010-12.csv"

static vb_h_broker b;
static char out[400], err[400], tmp[400];

/* ---- a CSV reader of the test's own ---- */

typedef struct tcsv {
	size_t nrows, ncols;      /* rows without the header */
	char ***cell;             /* cell[row][col]; row 0 is the first data row */
	size_t *nf;               /* fields in each row */
	unsigned long *line;      /* the physical line each row starts on */
	char **head;
} tcsv;

/* RFC 4180 as the exports write it: quotes double inside quoted fields,
 * records end at a newline outside quotes, a CR before it is dropped,
 * blank lines are skipped. */
static void
tcsv_read(const char *path, tcsv *t)
{
	size_t len, cap = 0, fcap = 0, flen = 0, nf = 0;
	char *s = vb_h_slurp(path, &len), *field = NULL, **fields = NULL;
	unsigned long line = 1, start = 1;
	int inq = 0, any = 0;

	ck_assert_msg(s != NULL, "cannot read %s", path);
	memset(t, 0, sizeof(*t));
	for (size_t i = 0; i <= len; i++) {
		int c = i < len ? (unsigned char)s[i] : -1;
		if (!any && !inq) {
			if (c == '\n') {
				line++;
				continue;
			}
			if (c == '\r')
				continue;
			start = line;
		}
		if (inq) {
			if (c == '"' && i + 1 < len && s[i + 1] == '"') {
				c = '"';
				i++;
			} else if (c == '"') {
				inq = 0;
				continue;
			} else if (c == -1) {
				ck_abort_msg("%s: quote never closed", path);
			}
			if (c == '\n')
				line++;
		} else if (c == '"') {
			inq = 1;
			any = 1;
			continue;
		} else if (c == ',' || c == '\n' || c == -1) {
			if (c == -1 && !any)
				break;
			if (flen && field[flen - 1] == '\r' && c != ',')
				flen--;
			if (nf == fcap) {
				fcap = fcap ? fcap * 2 : 32;
				fields = realloc(fields, fcap * sizeof(*fields));
			}
			fields[nf++] = strndup(field ? field : "", flen);
			flen = 0;
			any = c == ',';
			if (c == ',')
				continue;
			if (t->head == NULL) {
				t->head = fields;
				t->ncols = nf;
			} else {
				if (t->nrows == cap) {
					cap = cap ? cap * 2 : 1024;
					t->cell = realloc(t->cell, cap * sizeof(*t->cell));
					t->nf = realloc(t->nf, cap * sizeof(*t->nf));
					t->line = realloc(t->line, cap * sizeof(*t->line));
				}
				t->cell[t->nrows] = fields;
				t->nf[t->nrows] = nf;
				t->line[t->nrows++] = start;
			}
			fields = NULL;
			nf = fcap = 0;
			if (c == '\n')
				line++;
			continue;
		}
		any = 1;
		if (flen + 1 >= cap + 4096 || field == NULL) {
			/* grow generously; fields are short but narratives are not */
		}
		field = realloc(field, flen + 2);
		field[flen++] = (char)c;
	}
	free(field);
	free(s);
}

static int
tcsv_col(const tcsv *t, const char *name)
{
	for (size_t i = 0; i < t->ncols; i++)
		if (strcmp(t->head[i], name) == 0)
			return (int)i;
	ck_abort_msg("no column %s", name);
	return -1;
}

static const char *
tcsv_get(const tcsv *t, size_t row, int col)
{
	return (size_t)col < t->nf[row] ? t->cell[row][col] : NULL;
}

static void
tcsv_free(tcsv *t)
{
	for (size_t r = 0; r < t->nrows; r++) {
		for (size_t i = 0; i < t->nf[r]; i++)
			free(t->cell[r][i]);
		free(t->cell[r]);
	}
	for (size_t i = 0; i < t->ncols; i++)
		free(t->head[i]);
	free(t->head);
	free(t->cell);
	free(t->nf);
	free(t->line);
}

/* ---- running the adapters ---- */

static pid_t
spawn(const char *prog, const char *const *args, const char *in)
{
	const char *argv[64];
	char path[512];
	size_t n = 0;
	snprintf(path, sizeof(path), "%s/%s", VB_BIN_DIR, prog);
	argv[n++] = path;
	for (size_t i = 0; args[i]; i++) {
		ck_assert_uint_lt(n, 63);
		argv[n++] = args[i];
	}
	argv[n] = NULL;
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int fd0 = open(in ? in : "/dev/null", O_RDONLY);
		int fd1 = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int fd2 = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd0 < 0 || fd1 < 0 || fd2 < 0)
			_exit(127);
		dup2(fd0, 0);
		dup2(fd1, 1);
		dup2(fd2, 2);
		execv(path, (char *const *)argv);
		_exit(127);
	}
	return pid;
}

static int
wait_exit(pid_t pid)
{
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Run prog with the broker's addresses and args (NULL-terminated). */
static int
run(const char *prog, ...)
{
	const char *args[64] = { "--ingest", b.ingest, "--query", b.query, "--retry-for", "5" };
	size_t n = 6;
	va_list ap;
	va_start(ap, prog);
	for (const char *a; (a = va_arg(ap, const char *)) != NULL;) {
		ck_assert_uint_lt(n, 63);
		args[n++] = a;
	}
	va_end(ap);
	args[n] = NULL;
	return wait_exit(spawn(prog, args, NULL));
}

static void
assert_contains(const char *path, const char *needle)
{
	char *s = vb_h_slurp(path, NULL);
	size_t n = s ? strlen(s) : 0;
	/* check's messages are limited: the end of the file is what tells. */
	ck_assert_msg(s && strstr(s, needle), "%s does not contain \"%s\":\n%s%s", path, needle,
	    n > 3000 ? "..." : "", s ? s + (n > 3000 ? n - 3000 : 0) : "(missing)");
	free(s);
}

static void
assert_lacks(const char *path, const char *needle)
{
	char *s = vb_h_slurp(path, NULL);
	ck_assert_msg(s == NULL || strstr(s, needle) == NULL, "%s contains \"%s\"", path, needle);
	free(s);
}

/* The summary line's "stored N, duplicates N" of the events. */
static void
assert_events(unsigned long long stored, unsigned long long dups)
{
	char want[128];
	snprintf(want, sizeof(want), "events %llu (stored %llu, duplicates %llu)", stored + dups,
	    stored, dups);
	assert_contains(err, want);
}

/* How many events of type (a prefix ending in '.': of the family) the
 * broker holds. */
static unsigned long long
stored_of(const char *type)
{
	vb_client *c = vb_h_client(&b);
	vb_query_req q = { .kind = VB_QUERY_STATS };
	vb_query_reply r;
	unsigned long long n = 0;
	size_t tl = strlen(type);
	ck_assert_int_eq(vb_client_query(c, &q, &r), 0);
	ck_assert_int_eq(r.code, 0);
	for (size_t i = 0; i < r.stats.ntypes; i++) {
		const char *name = r.stats.types[i].name;
		if (type[tl - 1] == '.' ? strncmp(name, type, tl) == 0 : strcmp(name, type) == 0)
			n += r.stats.types[i].count;
	}
	vb_query_reply_free(&r);
	vb_client_close(c);
	return n;
}

static void
setup(void)
{
	vb_h_init(&b);
	vb_h_start(&b, NULL);
	snprintf(out, sizeof(out), "%s/out", b.dir);
	snprintf(err, sizeof(err), "%s/err", b.dir);
	snprintf(tmp, sizeof(tmp), "%s/in.csv", b.dir);
}

static void
teardown(void)
{
	vb_h_stop(&b);
	vb_h_cleanup(&b);
}

/* The line numbers reported for a reason: "FILE:LINE: <reason>". */
static size_t
reported_lines(const char *file, const char *reason, unsigned long *lines, size_t max)
{
	char *s = vb_h_slurp(err, NULL), *p = s, needle[600];
	size_t n = 0, fl = strlen(file);
	ck_assert_ptr_nonnull(s);
	snprintf(needle, sizeof(needle), "%s:", file);
	while ((p = strstr(p, needle)) != NULL) {
		char *end;
		unsigned long line = strtoul(p + fl + 1, &end, 10);
		if (end != p + fl + 1 && strncmp(end, ": ", 2) == 0 &&
		    strncmp(end + 2, reason, strlen(reason)) == 0) {
			ck_assert_uint_lt(n, max);
			lines[n++] = line;
		}
		p += fl;
	}
	free(s);
	return n;
}

/* ---- vb-service ---- */

typedef struct cfpb_counts {
	size_t rows, opened, resolved, no_zip;
	unsigned long no_zip_lines[2000];
} cfpb_counts;

static void
cfpb_count(const char *path, cfpb_counts *c)
{
	tcsv t;
	tcsv_read(path, &t);
	int zip = tcsv_col(&t, "ZIP code"), resp = tcsv_col(&t, "Company response to consumer");
	memset(c, 0, sizeof(*c));
	c->rows = t.nrows;
	for (size_t r = 0; r < t.nrows; r++) {
		ck_assert_uint_eq(t.nf[r], 18);
		if (tcsv_get(&t, r, zip)[0] == '\0') {
			ck_assert_uint_lt(c->no_zip, 2000);
			c->no_zip_lines[c->no_zip++] = t.line[r];
			continue;
		}
		c->opened++;
		c->resolved += strncmp(tcsv_get(&t, r, resp), "Closed", 6) == 0;
	}
	tcsv_free(&t);
}

static void
cfpb_check(const char *path)
{
	static cfpb_counts c;
	static unsigned long lines[2000];
	cfpb_count(path, &c);
	ck_assert_uint_gt(c.opened, 0);
	ck_assert_int_eq(run("vb-service", "--preset", "cfpb", "--customer-column", "ZIP code",
	    path, NULL), c.no_zip ? 2 : 0);
	ck_assert_uint_eq(stored_of("complaint.opened"), c.opened);
	ck_assert_uint_eq(stored_of("complaint.resolved"), c.resolved);
	ck_assert_uint_eq(stored_of("complaint."), c.opened + c.resolved);
	assert_events(c.opened + c.resolved, 0);
	char want[128];
	snprintf(want, sizeof(want), "rows read %zu (stored %zu, rejected %zu)", c.rows, c.opened,
	    c.no_zip);
	assert_contains(err, want);
	/* Every row without a ZIP code is reported at the line it starts on. */
	size_t n = reported_lines(path, "ZIP code: empty", lines, 2000);
	ck_assert_uint_eq(n, c.no_zip);
	for (size_t i = 0; i < n; i++)
		ck_assert_uint_eq(lines[i], c.no_zip_lines[i]);
	/* Again: nothing new. */
	ck_assert_int_eq(run("vb-service", "--preset", "cfpb", "--customer-column", "ZIP code",
	    path, NULL), c.no_zip ? 2 : 0);
	assert_events(0, c.opened + c.resolved);
	ck_assert_uint_eq(stored_of("complaint."), c.opened + c.resolved);
}

START_TEST(service_cfpb_excerpt)
{
	cfpb_check(TESTDATA "/cfpb-excerpt.csv");
	/* A complaint whose narrative spans lines keeps its line breaks. */
	const char *args[] = { "replay", "--query", b.query, "--type", "complaint.opened", NULL };
	ck_assert_int_eq(vb_h_cli(args, NULL, out, NULL), 0);
	assert_contains(out, "\"id\":\"cfpb:3384392:opened\"");
	assert_contains(out, "\"summary\":\"transworld systems inc. \\nis trying to collect a debt");
	assert_contains(out, "\"time\":\"2019-09-24T00:00:00Z\"");
}
END_TEST

START_TEST(service_helpdesk_example)
{
	const char *csv = EXAMPLES "/service/examples/helpdesk-tickets.csv";
	tcsv t;
	size_t resolved = 0;
	tcsv_read(csv, &t);
	int st = tcsv_col(&t, "Status");
	for (size_t r = 0; r < t.nrows; r++)
		resolved += !strcmp(tcsv_get(&t, r, st), "Solved") || !strcmp(tcsv_get(&t, r, st), "Closed");
	ck_assert_int_eq(run("vb-service", "--mapping", EXAMPLES "/service/examples/helpdesk.ini",
	    "--customer-map", EXAMPLES "/service/examples/customers.csv", csv, NULL), 0);
	ck_assert_uint_eq(stored_of("complaint.opened"), t.nrows);
	ck_assert_uint_eq(stored_of("complaint.resolved"), resolved);
	assert_events(t.nrows + resolved, 0);
	ck_assert_int_eq(run("vb-service", "--mapping", EXAMPLES "/service/examples/helpdesk.ini",
	    "--customer-map", EXAMPLES "/service/examples/customers.csv", csv, NULL), 0);
	assert_events(0, t.nrows + resolved);
	/* Mapped customers, local times read in the mapping's zone. */
	const char *args[] = { "replay", "--query", b.query, "--customer", "C-1001", NULL };
	ck_assert_int_eq(vb_h_cli(args, NULL, out, NULL), 0);
	assert_contains(out, "\"id\":\"helpdesk:4411:resolved\"");
	assert_contains(out, "\"time\":\"2026-11-22T16:30:00Z\"");
	tcsv_free(&t);
}
END_TEST

START_TEST(service_helpdesk_bad_rows)
{
	const char *csv = EXAMPLES "/service/examples/helpdesk-tickets-bad.csv";
	ck_assert_int_eq(run("vb-service", "--mapping", EXAMPLES "/service/examples/helpdesk.ini",
	    "--customer-map", EXAMPLES "/service/examples/customers.csv", csv, NULL), 2);
	static const char *const want[] = {
		":3: Status: \"Escalated\" is neither an open status",
		":4: Created at: \"27 Nov 2026\" is not a date or time",
		":5: Requester: empty",
		":6: csv: a quoted field is never closed",
		":7: csv: 8 fields; the header has 9",
		":8: Subject: not valid UTF-8 (byte 0xe9",
		":9: Updated at: before Created at",
		":11: Requester: \"nobody@example.com\" is not in the customer map",
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		char line[600];
		snprintf(line, sizeof(line), "vb-service: %s%s", csv, want[i]);
		assert_contains(err, line);
	}
	assert_contains(err, "rows read 10 (stored 2, rejected 8); events 2 (stored 2, duplicates 0)");
	ck_assert_uint_eq(stored_of("complaint.opened"), 2);
}
END_TEST

/* ---- vb-sales ---- */

typedef struct retail_counts {
	size_t lines, invoices, placed, returned, guest;
	unsigned long first_guest_line;
} retail_counts;

static int
by_string(const void *a, const void *b2)
{
	return strcmp(*(char *const *)a, *(char *const *)b2);
}

static void
retail_count(const char *path, retail_counts *c)
{
	tcsv t;
	tcsv_read(path, &t);
	int inv = tcsv_col(&t, "InvoiceNo"), cust = tcsv_col(&t, "CustomerID");
	memset(c, 0, sizeof(*c));
	c->lines = t.nrows;
	/* Lines of an invoice are not assumed to be together: a sort of
	 * (invoice, has-customer) pairs counts distinct ones. */
	char **keys = calloc(t.nrows + 1, sizeof(*keys));
	for (size_t r = 0; r < t.nrows; r++) {
		const char *i = tcsv_get(&t, r, inv), *cu = tcsv_get(&t, r, cust);
		keys[r] = malloc(strlen(i) + 3);
		sprintf(keys[r], "%s|%c", i, cu[0] ? 'c' : 'g');
		if (!cu[0]) {
			if (c->guest++ == 0)
				c->first_guest_line = t.line[r];
		}
	}
	qsort(keys, t.nrows, sizeof(*keys), by_string);
	for (size_t r = 0; r < t.nrows; r++) {
		if (r > 0 && strcmp(keys[r], keys[r - 1]) == 0)
			continue;
		char *bar = strchr(keys[r], '|');
		if (r == 0 || strncmp(keys[r], keys[r - 1], (size_t)(bar - keys[r]) + 1) != 0)
			c->invoices++;
		if (bar[1] == 'c') {
			if (keys[r][0] == 'C')
				c->returned++;
			else
				c->placed++;
		}
	}
	for (size_t r = 0; r < t.nrows; r++)
		free(keys[r]);
	free(keys);
	tcsv_free(&t);
}

static void
retail_check(const char *path, retail_counts *c)
{
	char want[256];
	retail_count(path, c);
	ck_assert_int_eq(run("vb-sales", "--preset", "online-retail", path, NULL), c->guest ? 2 : 0);
	ck_assert_uint_eq(stored_of("order.placed"), c->placed);
	ck_assert_uint_eq(stored_of("order.returned"), c->returned);
	assert_events(c->placed + c->returned, 0);
	snprintf(want, sizeof(want), "rows read %zu (stored %zu, rejected %zu)", c->lines,
	    c->lines - c->guest, c->guest);
	assert_contains(err, want);
	if (c->guest) {
		snprintf(want, sizeof(want), "vb-sales: %s:%lu: CustomerID: empty: order ", path,
		    c->first_guest_line);
		assert_contains(err, want);
	}
	ck_assert_int_eq(run("vb-sales", "--preset", "online-retail", path, NULL), c->guest ? 2 : 0);
	assert_events(0, c->placed + c->returned);
	ck_assert_uint_eq(stored_of("order."), c->placed + c->returned);
}

START_TEST(sales_retail_excerpt)
{
	retail_counts c;
	retail_check(TESTDATA "/online-retail-excerpt.csv", &c);
	ck_assert_uint_gt(c.returned, 0);
	ck_assert_uint_gt(c.guest, 0);
	/* 536365: 7 lines, 139.12 GBP, 40 items, UK time in December = UTC;
	 * C536379: a credit note of 27.50; 536591 has lines a minute apart: the
	 * earliest dates it. */
	const char *args[] = { "replay", "--query", b.query, "--type", "order.", NULL };
	ck_assert_int_eq(vb_h_cli(args, NULL, out, NULL), 0);
	assert_contains(out, "\"id\":\"retail:536365:placed\",\"source\":\"sales\",\"type\":"
	    "\"order.placed\",\"customer\":\"17850\",\"time\":\"2010-12-01T08:26:00Z\",");
	assert_contains(out, "\"data\":{\"order\":\"536365\",\"amount\":\"139.12\","
	    "\"currency\":\"GBP\",\"items\":40},\"attributes\":{\"country\":\"United Kingdom\","
	    "\"lines\":\"7\"}");
	assert_contains(out, "\"id\":\"retail:C536379:returned\"");
	assert_contains(out, "\"amount\":\"27.50\"");
	assert_contains(out, "\"id\":\"retail:536591:placed\",\"source\":\"sales\",\"type\":"
	    "\"order.placed\",\"customer\":\"14606\",\"time\":\"2010-12-01T16:57:00Z\"");
}
END_TEST

START_TEST(sales_bad_rows)
{
	/* The retail layout, with a mistake in each line after the first. */
	vb_h_write(tmp,
	    "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
	    "600001,22423,\"REGENCY CAKESTAND, 3 TIER\",2,2010-12-05 10:00:00,12.75,13047.0,United Kingdom\n"
	    "600001,22424,CAKE STAND,two,2010-12-05 10:00:00,12.75,13047.0,United Kingdom\n"
	    "600001,22425,CAKE STAND,1,2010-12-05 10:00:00,\xc2\xa3" "12.75,13047.0,United Kingdom\n"
	    "600001,22426,CAKE STAND,1,05/12/2010 10:00,12.75,13047.0,United Kingdom\n"
	    "600001,22427,CAKE STAND,1,2010-12-05 10:00:00,12.75,12346.0,United Kingdom\n"
	    "600001,22428,\"CAKE \"STAND\",1,2010-12-05 10:00:00,12.75,13047.0,United Kingdom\n"
	    "600001,22429,CAKE STAND,1,2010-12-05 10:00:00,12.75,13047.0\n"
	    "600001,22430,CAKE STAND,1,2010-12-05 10:00:00,12.75,13047.0,Fran\xe7" "e\n"
	    "600001,22431,CAF\xc9 SET,3,2010-12-05 10:01:00,1.50,13047.0,United Kingdom\n"
	    ",22432,CAKE STAND,1,2010-12-05 10:00:00,12.75,13047.0,United Kingdom\n");
	ck_assert_int_eq(run("vb-sales", "--preset", "online-retail", tmp, NULL), 2);
	static const char *const want[] = {
		":3: Quantity: \"two\" is not a whole number of items",
		":4: UnitPrice: \"\xc2\xa3" "12.75\" is not a plain decimal number",
		":5: InvoiceDate: \"05/12/2010 10:00\" is not a date or time",
		":6: CustomerID: \"12346\", but line 2 of order 600001 says \"13047\"",
		":7: csv: malformed quoting",
		":8: csv: 7 fields; the header has 8",
		":9: Country: not valid UTF-8 (byte 0xe7",
		":11: InvoiceNo: empty",
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		char line[600];
		snprintf(line, sizeof(line), "vb-sales: %s%s", tmp, want[i]);
		assert_contains(err, line);
	}
	/* Line 10's bad byte is in Description, which nothing reads: the line
	 * counts, with line 2, towards the order. */
	assert_contains(err, "rows read 10 (stored 2, rejected 8); events 1 (stored 1, duplicates 0)");
	const char *args[] = { "replay", "--query", b.query, "--type", "order.", NULL };
	ck_assert_int_eq(vb_h_cli(args, NULL, out, NULL), 0);
	assert_contains(out, "\"data\":{\"order\":\"600001\",\"amount\":\"30.00\",\"currency\":\"GBP\","
	    "\"items\":5},\"attributes\":{\"country\":\"United Kingdom\",\"lines\":\"2\"}");
}
END_TEST

/* ---- vb-field ---- */

START_TEST(field_example)
{
	const char *csv = EXAMPLES "/field/examples/work-orders.csv";
	const char *as_of = "2026-11-28 00:00";
	size_t completed = 0, cancelled = 0, missed = 0;
	tcsv t;
	tcsv_read(csv, &t);
	int we = tcsv_col(&t, "Window End"), ar = tcsv_col(&t, "Arrived");
	int co = tcsv_col(&t, "Completed"), st = tcsv_col(&t, "Status");
	/* The example's times are UK local in November: UTC, comparable as text. */
	for (size_t r = 0; r < t.nrows; r++) {
		const char *a = tcsv_get(&t, r, ar), *w = tcsv_get(&t, r, we);
		int canc = strcmp(tcsv_get(&t, r, st), "Cancelled") == 0;
		cancelled += canc;
		completed += tcsv_get(&t, r, co)[0] != '\0';
		if (!canc && ((a[0] && strcmp(a, w) > 0) || (!a[0] && strcmp(w, as_of) <= 0)))
			missed++;
	}
	ck_assert_uint_gt(missed, 0);
	ck_assert_int_eq(run("vb-field", "--mapping", EXAMPLES "/field/examples/field.ini",
	    "--as-of", "2026-11-28T00:00:00Z", csv, NULL), 0);
	ck_assert_uint_eq(stored_of("visit.scheduled"), t.nrows);
	ck_assert_uint_eq(stored_of("visit.completed"), completed);
	ck_assert_uint_eq(stored_of("visit.cancelled"), cancelled);
	ck_assert_uint_eq(stored_of("visit.missed"), missed);
	size_t total = t.nrows + completed + cancelled + missed;
	assert_events(total, 0);
	ck_assert_int_eq(run("vb-field", "--mapping", EXAMPLES "/field/examples/field.ini",
	    "--as-of", "2026-11-28T00:00:00Z", csv, NULL), 0);
	assert_events(0, total);
	/* Later, the open visits whose windows have passed with nobody there
	 * are missed too; what was stored is not stored again. */
	size_t later = 0;
	for (size_t r = 0; r < t.nrows; r++) {
		const char *a = tcsv_get(&t, r, ar), *w = tcsv_get(&t, r, we);
		if (strcmp(tcsv_get(&t, r, st), "Cancelled") != 0 && !a[0] &&
		    strcmp(w, as_of) > 0 && strcmp(w, "2026-12-31 00:00") <= 0)
			later++;
	}
	ck_assert_uint_gt(later, 0);
	ck_assert_int_eq(run("vb-field", "--mapping", EXAMPLES "/field/examples/field.ini",
	    "--as-of", "2026-12-31", csv, NULL), 0);
	ck_assert_uint_eq(stored_of("visit.missed"), missed + later);
	assert_events(later, total);
	const char *args[] = { "replay", "--query", b.query, "--type", "visit.missed", NULL };
	ck_assert_int_eq(vb_h_cli(args, NULL, out, NULL), 0);
	assert_contains(out, "\"id\":\"fsm:WO-7703:missed\"");
	assert_contains(out, "\"reason\":\"arrived 2 h 20 min after the window\"");
	tcsv_free(&t);
}
END_TEST

START_TEST(field_bad_rows)
{
	const char *csv = EXAMPLES "/field/examples/work-orders-bad.csv";
	ck_assert_int_eq(run("vb-field", "--mapping", EXAMPLES "/field/examples/field.ini",
	    "--as-of", "2026-11-28T00:00:00Z", csv, NULL), 2);
	static const char *const want[] = {
		":3: Window End: not after Window Start",
		":4: Arrived: empty, but Completed is set",
		":5: Completed: empty, but Status is \"Completed\"",
		":6: Account: empty",
		":7: Status: \"Postponed\" is not an open",
		":8: Window Start: \"2026-11-27 8am\" is not a date or time",
		":9: csv: malformed quoting",
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		char line[600];
		snprintf(line, sizeof(line), "vb-field: %s%s", csv, want[i]);
		assert_contains(err, line);
	}
	assert_contains(err, "rows read 9 (stored 2, rejected 7)");
	ck_assert_uint_eq(stored_of("visit.scheduled"), 2);
	ck_assert_uint_eq(stored_of("visit.completed"), 2);
}
END_TEST

/* ---- vb-finance ---- */

/* dd/mm/yyyy as yyyymmdd, 0 for "". */
static long
dmy(const char *s)
{
	int d, m, y;
	if (s[0] == '\0')
		return 0;
	ck_assert_int_eq(sscanf(s, "%d/%d/%d", &d, &m, &y), 3);
	return y * 10000L + m * 100 + d;
}

START_TEST(finance_example)
{
	const char *csv = EXAMPLES "/finance/examples/invoices.csv";
	size_t paid = 0, overdue = 0;
	const long as_of = 20261128;
	tcsv t;
	tcsv_read(csv, &t);
	int du = tcsv_col(&t, "Due Date"), pa = tcsv_col(&t, "Paid On"), am = tcsv_col(&t, "Amount");
	for (size_t r = 0; r < t.nrows; r++) {
		long due = dmy(tcsv_get(&t, r, du)), p = dmy(tcsv_get(&t, r, pa));
		paid += p != 0;
		/* Due on a day, overdue from the next; a credit note never. */
		if (tcsv_get(&t, r, am)[0] != '-' && due < as_of && (p == 0 || p > due))
			overdue++;
	}
	ck_assert_uint_gt(overdue, 0);
	ck_assert_int_eq(run("vb-finance", "--mapping", EXAMPLES "/finance/examples/finance.ini",
	    "--as-of", "2026-11-28", csv, NULL), 0);
	ck_assert_uint_eq(stored_of("invoice.issued"), t.nrows);
	ck_assert_uint_eq(stored_of("invoice.paid"), paid);
	ck_assert_uint_eq(stored_of("invoice.overdue"), overdue);
	assert_events(t.nrows + paid + overdue, 0);
	ck_assert_int_eq(run("vb-finance", "--mapping", EXAMPLES "/finance/examples/finance.ini",
	    "--as-of", "2026-11-28", csv, NULL), 0);
	assert_events(0, t.nrows + paid + overdue);
	const char *args[] = { "replay", "--query", b.query, "--type", "invoice.overdue", NULL };
	ck_assert_int_eq(vb_h_cli(args, NULL, out, NULL), 0);
	assert_contains(out, "\"id\":\"ledger:INV-9003:overdue\",\"source\":\"finance\",\"type\":"
	    "\"invoice.overdue\",\"customer\":\"C-1001\",\"time\":\"2026-11-15T00:00:00Z\"");
	assert_lacks(out, "INV-9001");
	tcsv_free(&t);
}
END_TEST

START_TEST(finance_bad_rows)
{
	const char *csv = EXAMPLES "/finance/examples/invoices-bad.csv";
	ck_assert_int_eq(run("vb-finance", "--mapping", EXAMPLES "/finance/examples/finance.ini",
	    "--as-of", "2026-11-28", csv, NULL), 2);
	static const char *const want[] = {
		":3: Amount: \"\xc2\xa3" "1,200.00\" is not a plain decimal number",
		":4: Due Date: \"31/02/2026\" is not a date or time",
		":5: Customer No: empty",
		":6: Due Date: before Issue Date",
		":7: csv: 6 fields; the header has 8",
		":8: Amount: \"12.5.0\" is not a plain decimal",
		":9: Paid On: before Issue Date",
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		char line[600];
		snprintf(line, sizeof(line), "vb-finance: %s%s", csv, want[i]);
		assert_contains(err, line);
	}
	assert_contains(err, "rows read 9 (stored 2, rejected 7); events 3 (stored 3, duplicates 0)");
}
END_TEST

/* ---- what every adapter does with files it cannot use ---- */

START_TEST(missing_column_named)
{
	/* The retail export without its CustomerID column. */
	vb_h_write(tmp, "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,Country\n"
	    "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26:00,2.55,United Kingdom\n");
	ck_assert_int_eq(run("vb-sales", "--preset", "online-retail", tmp, NULL), 2);
	assert_contains(err, ":1: column \"CustomerID\" (customer) is not in the header");
	assert_contains(err, "rows read 0");
	/* A work order export without its arrival times. */
	vb_h_write(tmp, "Work Order,Account,Job,Window Start,Window End,Completed,Status,Booked,"
	    "Last Update,Technician Notes\n");
	ck_assert_int_eq(run("vb-field", "--mapping", EXAMPLES "/field/examples/field.ini", tmp,
	    NULL), 2);
	assert_contains(err, ":1: column \"Arrived\" (arrived_at) is not in the header");
	ck_assert_uint_eq(stored_of("visit."), 0);
	ck_assert_uint_eq(stored_of("order."), 0);

	vb_h_write(tmp, "Invoice No,Customer No,Issue Date,Amount,Paid On\nINV-1,C-1,01/11/2026,10.00,\n");
	ck_assert_int_eq(run("vb-finance", "--mapping", EXAMPLES "/finance/examples/finance.ini",
	    tmp, NULL), 2);
	char want[600];
	snprintf(want, sizeof(want), "vb-finance: %s:1: column \"Due Date\" (due) is not in the header", tmp);
	assert_contains(err, want);
	ck_assert_uint_eq(stored_of("invoice."), 0);
	/* Without a mapping, a field is looked for under its own name. */
	vb_h_write(tmp, "invoice,customer,issued,amount\nINV-1,C-1,2026-11-01,10.00\n");
	ck_assert_int_eq(run("vb-finance", tmp, NULL), 2);
	assert_contains(err, ":1: no column for due (when it is due");
	/* The CFPB preset on a file that is not the CFPB export. */
	ck_assert_int_eq(run("vb-service", "--preset", "cfpb", "--customer-column", "ZIP code",
	    TESTDATA "/online-retail-excerpt.csv", NULL), 2);
	assert_contains(err, ":1: column \"Complaint ID\" (case) is not in the header");
}
END_TEST

/* Every adapter: an empty file is an error, a header alone is nothing to
 * do. */
START_TEST(empty_and_header_only_every_adapter)
{
	static const struct {
		const char *prog, *header;
	} a[] = {
		{ "vb-service", "case,customer,opened,status\n" },
		{ "vb-field", "visit,customer,window_start,window_end,arrived_at,completed_at,status\r\n" },
		{ "vb-sales", "order,customer,time,quantity,unit_price\n" },
		{ "vb-finance", "invoice,customer,issued,due,amount" },
	};
	char want[600];
	for (size_t i = 0; i < sizeof(a) / sizeof(a[0]); i++) {
		vb_h_write(tmp, "");
		ck_assert_int_eq(run(a[i].prog, tmp, NULL), 2);
		snprintf(want, sizeof(want), "%s: %s: empty file: expected a header line", a[i].prog, tmp);
		assert_contains(err, want);
		vb_h_write(tmp, a[i].header);
		ck_assert_int_eq(run(a[i].prog, tmp, NULL), 0);
		snprintf(want, sizeof(want), "%s: %s: rows read 0 (stored 0, rejected 0); events 0 "
		    "(stored 0, duplicates 0)", a[i].prog, tmp);
		assert_contains(err, want);
	}
}
END_TEST

START_TEST(empty_and_header_only)
{
	vb_h_write(tmp, "");
	ck_assert_int_eq(run("vb-sales", "--preset", "online-retail", tmp, NULL), 2);
	char want[600];
	snprintf(want, sizeof(want), "vb-sales: %s: empty file: expected a header line", tmp);
	assert_contains(err, want);
	assert_contains(err, "rows read 0");
	vb_h_write(tmp, "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\r\n");
	ck_assert_int_eq(run("vb-sales", "--preset", "online-retail", tmp, NULL), 0);
	assert_contains(err, "rows read 0 (stored 0, rejected 0); events 0 (stored 0, duplicates 0)");
	/* An empty JSON-lines file is no error: there is no header to miss. */
	vb_h_write(tmp, "");
	ck_assert_int_eq(run("vb-field", "--jsonl", tmp, NULL), 0);
	ck_assert_uint_eq(stored_of("order."), 0);
}
END_TEST

START_TEST(bytes_not_utf8)
{
	/* A Latin-1 "é" in the subject: rejected in UTF-8, with the column and
	 * the byte; read right with --encoding latin1. */
	vb_h_write(tmp, "case,customer,opened,status,summary\n"
	    "1,C-1,2026-11-20 10:00,open,Caf\xe9 au lait spilt\n"
	    "2,C-2,2026-11-20 11:00,open,fine\n"
	    "3,C-\xff,2026-11-20 12:00,open,fine\n");
	ck_assert_int_eq(run("vb-service", tmp, NULL), 2);
	char want[600];
	snprintf(want, sizeof(want), "vb-service: %s:2: summary: not valid UTF-8 (byte 0xe9 at offset 3", tmp);
	assert_contains(err, want);
	snprintf(want, sizeof(want), "vb-service: %s:4: customer: not valid UTF-8 (byte 0xff at offset 2", tmp);
	assert_contains(err, want);
	ck_assert_uint_eq(stored_of("complaint.opened"), 1);
	ck_assert_int_eq(run("vb-service", "--encoding", "latin1", tmp, NULL), 0);
	ck_assert_uint_eq(stored_of("complaint.opened"), 3);
	const char *args[] = { "replay", "--query", b.query, "--customer", "C-1", NULL };
	ck_assert_int_eq(vb_h_cli(args, NULL, out, NULL), 0);
	assert_contains(out, "\"summary\":\"Caf\xc3\xa9 au lait spilt\"");
	/* JSON lines with a bad byte: the line is rejected. */
	vb_h_write(tmp, "{\"id\":\"x\",\"source\":\"field\",\"type\":\"visit.scheduled\",\"customer\":\"C\xe9\","
	    "\"time\":\"2026-11-20T10:00:00Z\",\"data\":{\"visit\":\"V\"}}\n");
	ck_assert_int_eq(run("vb-field", "--jsonl", tmp, NULL), 2);
	snprintf(want, sizeof(want), "vb-field: %s:1: ", tmp);
	assert_contains(err, want);
	ck_assert_uint_eq(stored_of("visit."), 0);
}
END_TEST

START_TEST(jsonl_input)
{
	vb_h_write(tmp,
	    "{\"id\":\"fs-1\",\"source\":\"field\",\"type\":\"visit.scheduled\",\"customer\":\"C-1\","
	    "\"time\":\"2026-11-20T10:00:00Z\",\"data\":{\"visit\":\"V-1\"}}\n"
	    "\n"
	    "{\"id\":\"o-1\",\"source\":\"sales\",\"type\":\"order.placed\",\"customer\":\"C-1\","
	    "\"time\":\"2026-11-20T10:00:00Z\",\"data\":{\"order\":\"O-1\"}}\n"
	    "{\"id\":\"fs-2\",\"source\":\"field\",\"type\":\"visit.missed\",\"customer\":\"C-1\","
	    "\"time\":\"2026-11-20T10:00:00Z\",\"data\":{}}\n");
	ck_assert_int_eq(run("vb-field", "--jsonl", tmp, NULL), 2);
	char want[600];
	snprintf(want, sizeof(want), "vb-field: %s:3: source: \"sales\": vb-field publishes field events only", tmp);
	assert_contains(err, want);
	snprintf(want, sizeof(want), "vb-field: %s:4: data.visit: missing", tmp);
	assert_contains(err, want);
	assert_contains(err, "rows read 3 (stored 1, rejected 2); events 1 (stored 1, duplicates 0)");
	ck_assert_uint_eq(stored_of("visit."), 1);
	ck_assert_uint_eq(stored_of("order."), 0);
	ck_assert_int_eq(run("vb-field", "--jsonl", "--preset", "x", tmp, NULL), 2);
}
END_TEST

START_TEST(dry_run_publishes_nothing)
{
	const char *args[] = { "--preset", "online-retail", "--dry-run",
		TESTDATA "/online-retail-excerpt.csv", NULL };
	retail_counts c;
	retail_count(TESTDATA "/online-retail-excerpt.csv", &c);
	ck_assert_int_eq(wait_exit(spawn("vb-sales", args, NULL)), 2);
	ck_assert_uint_eq(vb_h_count_lines(out), c.placed + c.returned);
	assert_contains(out, "{\"id\":\"retail:536365:placed\"");
	assert_contains(err, "(dry run: nothing published)");
	ck_assert_uint_eq(stored_of("order."), 0);
	/* The same JSON lines, published with --jsonl, are the same events. */
	char jl[420];
	snprintf(jl, sizeof(jl), "%s/dry.jsonl", b.dir);
	rename(out, jl);
	ck_assert_int_eq(run("vb-sales", "--jsonl", jl, NULL), 0);
	ck_assert_uint_eq(stored_of("order."), c.placed + c.returned);
	ck_assert_int_eq(run("vb-sales", "--preset", "online-retail",
	    TESTDATA "/online-retail-excerpt.csv", NULL), 2);
	assert_events(0, c.placed + c.returned);
}
END_TEST

START_TEST(cli_basics)
{
	static const char *const progs[] = { "vb-service", "vb-field", "vb-sales", "vb-finance" };
	for (size_t i = 0; i < 4; i++) {
		const char *help[] = { "--help", NULL }, *ver[] = { "--version", NULL };
		const char *bad[] = { "--no-such-option", NULL };
		ck_assert_int_eq(wait_exit(spawn(progs[i], help, NULL)), 0);
		assert_contains(out, "usage: ");
		assert_contains(out, "--retry-for SEC");
		ck_assert_int_eq(wait_exit(spawn(progs[i], ver, NULL)), 0);
		assert_contains(out, progs[i]);
		ck_assert_int_eq(wait_exit(spawn(progs[i], bad, NULL)), 2);
	}
	const char *nocust[] = { "--preset", "cfpb", "x.csv", NULL };
	ck_assert_int_eq(wait_exit(spawn("vb-service", nocust, NULL)), 2);
	assert_contains(err, "--preset cfpb: the CFPB export has no customer id");
	const char *badpreset[] = { "--preset", "nope", NULL };
	ck_assert_int_eq(wait_exit(spawn("vb-sales", badpreset, NULL)), 2);
	assert_contains(err, "--preset nope: unknown preset (online-retail)");
	const char *badcol[] = { "--column", "colour=Red", NULL };
	ck_assert_int_eq(wait_exit(spawn("vb-sales", badcol, NULL)), 2);
	assert_contains(err, "--column colour=Red: colour: unknown field");
	const char *badzone[] = { "--timezone", "Mars/Olympus", NULL };
	ck_assert_int_eq(wait_exit(spawn("vb-sales", badzone, NULL)), 2);
	assert_contains(err, "timezone: unknown zone \"Mars/Olympus\"");
	const char *show[] = { "--preset", "online-retail", "--show-mapping", NULL };
	ck_assert_int_eq(wait_exit(spawn("vb-sales", show, NULL)), 0);
	assert_contains(out, "order = InvoiceNo\n");
	assert_contains(out, "timezone = Europe/London\n");
	const char *missing[] = { "/nonexistent/file.csv", NULL };
	ck_assert_int_eq(wait_exit(spawn("vb-sales", missing, NULL)), 2);
	assert_contains(err, "vb-sales: /nonexistent/file.csv: No such file or directory");
	/* stdin when no file is named. */
	const char *dry[] = { "--jsonl", "--dry-run", NULL };
	vb_h_write(tmp, "{\"id\":\"x\",\"source\":\"sales\",\"type\":\"order.placed\",\"customer\":\"C-1\","
	    "\"time\":\"2026-11-20T10:00:00Z\",\"data\":{\"order\":\"1\"}}\n");
	ck_assert_int_eq(wait_exit(spawn("vb-sales", dry, tmp)), 0);
	assert_contains(out, "\"id\":\"x\"");
	assert_contains(err, "vb-sales: <stdin>: rows read 1");
}
END_TEST

/* ---- the broker down, slow to come, or gone mid-import ---- */

START_TEST(broker_unreachable_exit_1)
{
	char nowhere[400];
	snprintf(nowhere, sizeof(nowhere), "ipc://%s/nobody.sock", b.dir);
	const char *args[] = { "--ingest", nowhere, "--query", nowhere, "--retry-for", "1",
		"--mapping", EXAMPLES "/finance/examples/finance.ini", "--as-of", "2026-11-28",
		EXAMPLES "/finance/examples/invoices.csv", NULL };
	int64_t t0 = vb_h_now_ms();
	ck_assert_int_eq(wait_exit(spawn("vb-finance", args, NULL)), 1);
	ck_assert_int_ge(vb_h_now_ms() - t0, 1000);
	assert_contains(err, "cannot reach the broker at ipc://");
	assert_contains(err, "retrying for up to 1 s");
	assert_contains(err, "rows read 7 (stored 0, not stored 7, rejected 0); events 12 "
	    "(stored 0, duplicates 0, not stored 12); run the same import again to store the rest");
}
END_TEST

START_TEST(broker_comes_up_during_retry)
{
	vb_h_stop(&b);
	const char *args[] = { "--ingest", b.ingest, "--query", b.query, "--retry-for", "60",
		"--mapping", EXAMPLES "/finance/examples/finance.ini", "--as-of", "2026-11-28",
		EXAMPLES "/finance/examples/invoices.csv", NULL };
	pid_t pid = spawn("vb-finance", args, NULL);
	int64_t deadline = vb_h_now_ms() + 20000;
	for (;;) {
		char *s = vb_h_slurp(err, NULL);
		int retrying = s && strstr(s, "retrying for up to 60 s");
		free(s);
		if (retrying)
			break;
		ck_assert_msg(vb_h_now_ms() < deadline, "the adapter never said it retries");
		usleep(20000);
	}
	vb_h_start(&b, NULL);
	ck_assert_int_eq(wait_exit(pid), 0);
	assert_contains(err, "answers again");
	assert_contains(err, "events 12 (stored 12, duplicates 0)");
	ck_assert_uint_eq(stored_of("invoice."), 12);
}
END_TEST

/* Write a generated export of n records for an adapter; returns the number
 * of events it makes. */
static size_t
generate(const char *prog, size_t n, const char *path)
{
	FILE *f = fopen(path, "w");
	size_t events;
	ck_assert_ptr_nonnull(f);
	if (strcmp(prog, "vb-service") == 0) {
		fprintf(f, "case,customer,opened,status,resolved,summary\n");
		for (size_t i = 0; i < n; i++)
			fprintf(f, "T-%zu,C-%zu,2026-11-20 10:00,%s,2026-11-21 10:00,\"no sound, again\"\n",
			    i, i % 97, i % 2 ? "open" : "solved");
		events = n + (n + 1) / 2;
	} else if (strcmp(prog, "vb-field") == 0) {
		fprintf(f, "visit,customer,window_start,window_end,arrived_at,completed_at,status\n");
		for (size_t i = 0; i < n; i++)
			fprintf(f, "V-%zu,C-%zu,2026-11-20 08:00,2026-11-20 12:00,2026-11-20 09:00,"
			    "2026-11-20 10:00,completed\n", i, i % 97);
		events = 2 * n;
	} else if (strcmp(prog, "vb-sales") == 0) {
		/* Two lines an order, the second far from the first. */
		fprintf(f, "order,customer,time,quantity,unit_price\n");
		for (size_t k = 0; k < 2; k++)
			for (size_t i = 0; i < n; i++)
				fprintf(f, "O-%zu,C-%zu,2026-11-20 10:00,%zu,1.25\n", i, i % 97, k + 1);
		events = n;
	} else {
		fprintf(f, "invoice,customer,issued,due,amount,paid_at\n");
		for (size_t i = 0; i < n; i++)
			fprintf(f, "I-%zu,C-%zu,2026-11-01,2026-12-01,10.00,%s\n", i, i % 97,
			    i % 2 ? "2026-11-10" : "");
		events = n + n / 2;
	}
	ck_assert_int_eq(fclose(f), 0);
	return events;
}

/* After a kill, a request in flight may still commit: the count once it
 * holds still. */
static unsigned long long
settled_count(const char *family)
{
	unsigned long long a = stored_of(family), c;
	for (;;) {
		usleep(200000);
		if ((c = stored_of(family)) == a)
			return c;
		a = c;
	}
}

/* kill -9 an import of path while it publishes one event a request, then
 * run it again: the re-run stores exactly what the first did not. */
static void
kill_mid_import_then_rest(const char *prog, const char *family, const char *const *opts,
    const char *path, size_t total)
{
	const char *args[32] = { "--ingest", b.ingest, "--query", b.query, "--batch", "1" };
	const char *again[32] = { "--ingest", b.ingest, "--query", b.query };
	size_t n = 6, k = 4;
	for (size_t i = 0; opts && opts[i]; i++)
		args[n++] = again[k++] = opts[i];
	args[n++] = again[k++] = path;
	args[n] = again[k] = NULL;

	pid_t pid = spawn(prog, args, NULL);
	int64_t deadline = vb_h_now_ms() + 60000;
	while (stored_of(family) < 50) {
		ck_assert_msg(vb_h_now_ms() < deadline, "%s stored nothing", prog);
		usleep(2000);
	}
	kill(pid, SIGKILL);
	ck_assert_int_eq(wait_exit(pid), 128 + SIGKILL);
	unsigned long long before = settled_count(family);
	ck_assert_msg(before > 0 && before < total, "%s: %llu of %zu stored before the kill",
	    prog, before, total);
	fprintf(stderr, "%s %s: killed with %llu of %zu events stored; the re-run must store %llu\n",
	    prog, path, before, total, (unsigned long long)total - before);

	/* The same import again, in full-size batches. */
	int rv = wait_exit(spawn(prog, again, NULL));
	ck_assert_msg(rv == 0 || rv == 2, "%s: exit %d", prog, rv);
	assert_events(total - before, before);
	ck_assert_uint_eq(stored_of(family), total);
}

static void
kill_generated(const char *prog, const char *family, size_t n)
{
	const char *asof[] = { "--as-of", "2026-11-28", NULL };
	size_t total = generate(prog, n, tmp);
	int takes_as_of = !strcmp(prog, "vb-field") || !strcmp(prog, "vb-finance");
	kill_mid_import_then_rest(prog, family, takes_as_of ? asof : NULL, tmp, total);
}

START_TEST(kill_mid_import_service)
{
	kill_generated("vb-service", "complaint.", 3000);
}
END_TEST

START_TEST(kill_mid_import_field)
{
	kill_generated("vb-field", "visit.", 2500);
}
END_TEST

START_TEST(kill_mid_import_sales)
{
	kill_generated("vb-sales", "order.", 4000);
}
END_TEST

START_TEST(kill_mid_import_finance)
{
	kill_generated("vb-finance", "invoice.", 3000);
}
END_TEST

/* ---- --watch ---- */

static size_t
count_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;
	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL)
		n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return n;
}

static void
copy_file(const char *from, const char *to)
{
	size_t len;
	char *s = vb_h_slurp(from, &len);
	FILE *f = fopen(to, "wb");
	ck_assert_ptr_nonnull(s);
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(s, 1, len, f), len);
	fclose(f);
	free(s);
}

START_TEST(watch_imports_each_file_once)
{
	char dir[400], part[450], path[450], done[420], failed[420];
	snprintf(dir, sizeof(dir), "%s/drop", b.dir);
	snprintf(done, sizeof(done), "%s/done", dir);
	snprintf(failed, sizeof(failed), "%s/failed", dir);
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	/* One file before it starts, written and renamed into place. */
	snprintf(part, sizeof(part), "%s/a.csv.part", dir);
	snprintf(path, sizeof(path), "%s/a.csv", dir);
	copy_file(EXAMPLES "/service/examples/helpdesk-tickets.csv", part);
	ck_assert_int_eq(rename(part, path), 0);
	const char *args[] = { "--ingest", b.ingest, "--query", b.query, "--watch", dir,
		"--watch-interval", "0.05", "--mapping", EXAMPLES "/service/examples/helpdesk.ini",
		"--customer-map", EXAMPLES "/service/examples/customers.csv", NULL };
	pid_t pid = spawn("vb-service", args, NULL);
	int64_t deadline = vb_h_now_ms() + 30000;
	while (count_dir(done) < 1) {
		ck_assert_msg(vb_h_now_ms() < deadline, "a.csv was not imported");
		usleep(20000);
	}
	/* Then one with bad rows, and one more good one, while it runs. */
	snprintf(part, sizeof(part), "%s/b.csv.part", dir);
	snprintf(path, sizeof(path), "%s/b.csv", dir);
	copy_file(EXAMPLES "/service/examples/helpdesk-tickets-bad.csv", part);
	ck_assert_int_eq(rename(part, path), 0);
	snprintf(part, sizeof(part), "%s/c.csv.part", dir);
	snprintf(path, sizeof(path), "%s/c.csv", dir);
	copy_file(EXAMPLES "/service/examples/helpdesk-tickets.csv", part);
	ck_assert_int_eq(rename(part, path), 0);
	while (count_dir(done) < 2 || count_dir(failed) < 2) {
		ck_assert_msg(vb_h_now_ms() < deadline, "b.csv and c.csv were not imported");
		usleep(20000);
	}
	kill(pid, SIGTERM);
	ck_assert_int_eq(wait_exit(pid), 0);
	ck_assert_uint_eq(count_dir(dir), 2); /* done/ and failed/ */
	struct stat st;
	snprintf(path, sizeof(path), "%s/a.csv", done);
	ck_assert_int_eq(stat(path, &st), 0);
	snprintf(path, sizeof(path), "%s/c.csv", done);
	ck_assert_int_eq(stat(path, &st), 0);
	snprintf(path, sizeof(path), "%s/b.csv", failed);
	ck_assert_int_eq(stat(path, &st), 0);
	snprintf(path, sizeof(path), "%s/b.csv.errors", failed);
	assert_contains(path, "b.csv:3: Status: \"Escalated\"");
	assert_contains(path, "rows read 10 (stored 2, rejected 8)");
	/* a.csv and c.csv are the same tickets: stored once. */
	ck_assert_uint_eq(stored_of("complaint.opened"), 7 + 2);
	assert_contains(err, "c.csv: rows read 7 (stored 7, rejected 0); events 10 (stored 0, duplicates 10)");
}
END_TEST

/* ---- the real exports (../shared/data), when they are there ---- */

START_TEST(real_cfpb)
{
	cfpb_counts c;
	cfpb_count(CFPB_REAL, &c);
	ck_assert_uint_eq(c.rows, 999); /* as the data's README says */
	cfpb_check(CFPB_REAL);
	/* kill -9 while it publishes, then the rest. */
	vb_h_stop(&b);
	vb_h_cleanup(&b);
	setup();
	const char *opts[] = { "--preset", "cfpb", "--customer-column", "ZIP code", NULL };
	kill_mid_import_then_rest("vb-service", "complaint.", opts, CFPB_REAL, c.opened + c.resolved);
}
END_TEST

START_TEST(real_retail)
{
	retail_counts c;
	retail_check(RETAIL_REAL, &c);
	/* As the data's README says. */
	ck_assert_uint_eq(c.lines, 42481);
	ck_assert_uint_eq(c.invoices, 2025);
	ck_assert_uint_eq(c.guest, 15631);
	vb_h_stop(&b);
	vb_h_cleanup(&b);
	setup();
	const char *opts[] = { "--preset", "online-retail", NULL };
	kill_mid_import_then_rest("vb-sales", "order.", opts, RETAIL_REAL, c.placed + c.returned);
}
END_TEST

static Suite *
real_suite(void)
{
	Suite *s = suite_create("adapters_real_data");
	TCase *tc = tcase_create("real_exports");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, real_cfpb);
	tcase_add_test(tc, real_retail);
	suite_add_tcase(s, tc);
	return s;
}

static Suite *
adapters_suite(void)
{
	Suite *s = suite_create("adapters");
	TCase *tc = tcase_create("against_broker");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, cli_basics);
	tcase_add_test(tc, service_cfpb_excerpt);
	tcase_add_test(tc, service_helpdesk_example);
	tcase_add_test(tc, service_helpdesk_bad_rows);
	tcase_add_test(tc, sales_retail_excerpt);
	tcase_add_test(tc, field_example);
	tcase_add_test(tc, field_bad_rows);
	tcase_add_test(tc, finance_example);
	tcase_add_test(tc, finance_bad_rows);
	tcase_add_test(tc, missing_column_named);
	tcase_add_test(tc, empty_and_header_only);
	tcase_add_test(tc, empty_and_header_only_every_adapter);
	tcase_add_test(tc, sales_bad_rows);
	tcase_add_test(tc, bytes_not_utf8);
	tcase_add_test(tc, jsonl_input);
	tcase_add_test(tc, dry_run_publishes_nothing);
	tcase_add_test(tc, broker_unreachable_exit_1);
	tcase_add_test(tc, broker_comes_up_during_retry);
	tcase_add_test(tc, kill_mid_import_service);
	tcase_add_test(tc, kill_mid_import_field);
	tcase_add_test(tc, kill_mid_import_sales);
	tcase_add_test(tc, kill_mid_import_finance);
	tcase_add_test(tc, watch_imports_each_file_once);
	suite_add_tcase(s, tc);
	return s;
}

/* The ctest SKIP_RETURN_CODE. */
#define SKIPPED 77

int
main(int argc, char **argv)
{
	int real = argc > 1 && strcmp(argv[1], "--real") == 0;
	struct stat st;

	if (real && (stat(CFPB_REAL, &st) != 0 || stat(RETAIL_REAL, &st) != 0)) {
		printf("skipped: the real exports are not in %s (the project's shared data "
		    "folder, beside the checkout); the excerpts in tests/data are tested by "
		    "integration_adapters\n", VB_SHARED_DATA);
		return SKIPPED;
	}
	SRunner *sr = srunner_create(real ? real_suite() : adapters_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
