/* Fuzz target adapter_rows: an export file through the silo adapters' row
 * mapping -- vb_ad_import, which reads the CSV records, binds the header to
 * a mapping, turns each row into events with the silo's row callback
 * (adapters/<silo>/vb_<silo>.c), checks them against the contract and
 * hands them to the publisher (here a dry run into /dev/null).
 *
 * Every input goes through every silo with the mappings it ships: the
 * examples' mapping files (adapters/<silo>/examples/<name>.ini), the presets
 * (cfpb, with the ZIP code as the customer; online-retail), each silo's
 * default mapping (columns named as the fields), the service example's
 * customer map, and the --jsonl path.  A header that fits no mapping is
 * rejected early, so the fuzzer learns the headers from the seeds.
 *
 * Properties: every row read is exactly one of rejected, done without
 * events, or printed (nothing vanishes, nothing counts twice: the summary
 * the programs print adds up), and the import never fails on input. */
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vb_ad_custmap.h"
#include "vb_ad_import.h"
#include "vb_error.h"
#include "vb_fuzz.h"
#include "vb_fuzz_silos.h"

#ifndef VB_SOURCE_DIR
#error VB_SOURCE_DIR must name the source tree (for the example mappings)
#endif

typedef struct variant {
	const char *name;
	const vb_ad_silo *(*silo)(void);
	const char *mapping_file;    /* under VB_SOURCE_DIR, or NULL */
	const char *preset;          /* or NULL */
	const char *customer_column; /* or NULL */
	int custmap; /* with adapters/service/examples/customers.csv */
	int jsonl;
	vb_ad_map *map; /* made once */
	vb_ad_ctx ctx;
} variant;

static variant variants[] = {
	{ "service helpdesk.ini + customer map", vb_fuzz_silo_service,
	    "adapters/service/examples/helpdesk.ini", NULL, NULL, 1, 0, NULL,
	    { 0 } },
	{ "service helpdesk.ini", vb_fuzz_silo_service,
	    "adapters/service/examples/helpdesk.ini", NULL, NULL, 0, 0, NULL,
	    { 0 } },
	{ "service cfpb", vb_fuzz_silo_service, NULL, "cfpb", "ZIP code", 0, 0,
	    NULL, { 0 } },
	{ "service default", vb_fuzz_silo_service, NULL, NULL, NULL, 0, 0, NULL,
	    { 0 } },
	{ "field field.ini", vb_fuzz_silo_field,
	    "adapters/field/examples/field.ini", NULL, NULL, 0, 0, NULL,
	    { 0 } },
	{ "field default", vb_fuzz_silo_field, NULL, NULL, NULL, 0, 0, NULL,
	    { 0 } },
	{ "finance finance.ini", vb_fuzz_silo_finance,
	    "adapters/finance/examples/finance.ini", NULL, NULL, 0, 0, NULL,
	    { 0 } },
	{ "finance default", vb_fuzz_silo_finance, NULL, NULL, NULL, 0, 0, NULL,
	    { 0 } },
	{ "sales online-retail", vb_fuzz_silo_sales, NULL, "online-retail",
	    NULL, 0, 0, NULL, { 0 } },
	{ "sales default", vb_fuzz_silo_sales, NULL, NULL, NULL, 0, 0, NULL,
	    { 0 } },
	{ "service --jsonl + customer map", vb_fuzz_silo_service, NULL, NULL,
	    NULL, 1, 1, NULL, { 0 } },
	{ "field --jsonl", vb_fuzz_silo_field, NULL, NULL, NULL, 0, 1, NULL,
	    { 0 } },
};
#define NVARIANTS (sizeof(variants) / sizeof(variants[0]))

static FILE *devnull;
static vb_report report;
static vb_ad_custmap *custmap;
static vb_pub *pub;
static int memfd = -1;
static char path[64];
static int64_t as_of_us;

static void
init_once(void)
{
	char err[1024], file[4096];
	vb_pub_opts po = { 0 };

	devnull = fopen("/dev/null", "w");
	VB_FUZZ_CHECK(devnull != NULL, "/dev/null");
	vb_report_init(&report, "vb-fuzz", devnull);
	snprintf(file, sizeof(file),
	    "%s/adapters/service/examples/customers.csv", VB_SOURCE_DIR);
	VB_FUZZ_CHECK(vb_ad_custmap_load(file, &custmap, err, sizeof(err)) == 0,
	    "%s", err);
	po.report = &report;
	po.dry_run = devnull;
	VB_FUZZ_CHECK(vb_pub_open(&po, &pub) == 0, "pub");
	/* The input is a file the import opens by name: one in memory. */
	memfd = memfd_create("vb-fuzz-input", 0);
	VB_FUZZ_CHECK(memfd >= 0, "memfd_create");
	snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	vb_ad_zone utc = { 0, 0 };
	VB_FUZZ_CHECK(vb_ad_time_parse("2026-11-28T00:00:00Z", &utc, VB_AD_YMD,
	                  &as_of_us, NULL) == 0,
	    "as-of");

	for (size_t i = 0; i < NVARIANTS; i++) {
		variant *v = &variants[i];
		const vb_ad_silo *s = v->silo();
		VB_FUZZ_CHECK(vb_ad_map_new(s->fields, s->options, &v->map) ==
		        0,
		    "map");
		if (v->preset) {
			const vb_ad_preset *p = s->presets;
			while (p && p->name && strcmp(p->name, v->preset) != 0)
				p++;
			VB_FUZZ_CHECK(p && p->name, "%s: no preset %s", v->name,
			    v->preset);
			VB_FUZZ_CHECK(vb_ad_map_load_string(v->map, v->preset,
			                  p->mapping, err, sizeof(err)) == 0,
			    "%s: %s", v->name, err);
		}
		if (v->mapping_file) {
			snprintf(file, sizeof(file), "%s/%s", VB_SOURCE_DIR,
			    v->mapping_file);
			VB_FUZZ_CHECK(vb_ad_map_load_file(v->map, file, err,
			                  sizeof(err)) == 0,
			    "%s: %s", v->name, err);
		}
		if (v->customer_column)
			VB_FUZZ_CHECK(vb_ad_map_set(v->map, "columns",
			                  "customer", v->customer_column, err,
			                  sizeof(err)) == 0,
			    "%s: %s", v->name, err);
		v->ctx.silo = s;
		v->ctx.map = v->map;
		v->ctx.report = &report;
		v->ctx.pub = pub;
		v->ctx.jsonl = v->jsonl;
		v->ctx.as_of_us = as_of_us;
		if (v->custmap) {
			v->ctx.custmap = custmap;
			v->ctx.custmap_path = "customers.csv";
		}
		VB_FUZZ_CHECK(vb_ad_ctx_options(&v->ctx, err, sizeof(err)) == 0,
		    "%s: %s", v->name, err);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (devnull == NULL)
		init_once();
	VB_FUZZ_CHECK(ftruncate(memfd, 0) == 0, "ftruncate");
	VB_FUZZ_CHECK(pwrite(memfd, data, size, 0) == (ssize_t)size, "pwrite");

	for (size_t i = 0; i < NVARIANTS; i++) {
		variant *v = &variants[i];
		vb_ad_import_stats st;
		int rv = vb_ad_import(&v->ctx, path, "fuzz.csv", &st);
		VB_FUZZ_CHECK(rv == 0, "%s: import failed: %s", v->name,
		    vb_strerror(rv));
		if (st.unreadable)
			continue;
		/* Nothing vanishes: a row is rejected, needed no event, or its
		 * events were printed (a group's rows are done with its last). */
		unsigned long long seen =
		    st.rejected + st.done_empty + st.pub.rows_done;
		VB_FUZZ_CHECK(seen == st.rows,
		    "%s: %llu rows read, %llu accounted for "
		    "(%llu rejected, %llu without events, %llu printed)",
		    v->name, st.rows, seen, st.rejected, st.done_empty,
		    st.pub.rows_done);
		VB_FUZZ_CHECK(st.pub.unsent == 0 && st.pub.rejected == 0,
		    "%s: a dry run sends nothing", v->name);
	}
	return 0;
}
