/* Unit tests of adapters/lib/vb_ad_watch: each file once, then moved. */
#include <string.h>
#include <sys/stat.h>

#include "vb_ad_watch.h"
#include "vb_error.h"
#include "vb_test.h"

typedef struct calls {
	char seen[16][64];
	int n, retried;
	volatile sig_atomic_t *stop;
} calls;

static vb_ad_watch_result
import(void *arg, const char *path, FILE *errors)
{
	calls *c = arg;
	const char *name = strrchr(path, '/') + 1;
	ck_assert_int_lt(c->n, 16);
	snprintf(c->seen[c->n++], 64, "%s", name);
	if (strcmp(name, "b.csv") == 0) {
		fprintf(errors, "vb-test: b.csv:2: boom\n");
		return VB_AD_WATCH_FAILED;
	}
	if (strcmp(name, "r.csv") == 0 && c->retried++ == 0)
		return VB_AD_WATCH_RETRY;
	if (strcmp(name, "r.csv") == 0)
		*c->stop = 1;
	return VB_AD_WATCH_DONE;
}

static int
exists(const char *dir, const char *name)
{
	char p[1200];
	struct stat st;
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return stat(p, &st) == 0;
}

static volatile sig_atomic_t stop;

START_TEST(each_file_once_then_moved)
{
	char dir[1024], path[1200], sub[1100];
	calls c = { .stop = &stop };
	vb_report rep;
	char *err = NULL;
	size_t errn = 0;
	FILE *e = open_memstream(&err, &errn);

	vbt_mkdtemp(dir, sizeof(dir));
	vbt_write_file(dir, "a.csv", "x\n", path, sizeof(path));
	vbt_write_file(dir, "b.csv", "x\n", path, sizeof(path));
	vbt_write_file(dir, "r.csv", "x\n", path, sizeof(path));
	vbt_write_file(dir, ".hidden", "x\n", path, sizeof(path));
	vbt_write_file(dir, "c.csv.part", "x\n", path, sizeof(path));
	vbt_write_file(dir, "d.tmp", "x\n", path, sizeof(path));
	snprintf(sub, sizeof(sub), "%s/done", dir);
	ck_assert_int_eq(mkdir(sub, 0755), 0);
	/* A file of the same name was imported before. */
	vbt_write_file(sub, "a.csv", "old\n", path, sizeof(path));

	vb_report_init(&rep, "vb-test", e);
	stop = 0;
	ck_assert_int_eq(vb_ad_watch_run(dir, 20, &stop, import, &c, &rep), 0);
	fclose(e);

	ck_assert_int_eq(c.n, 4);
	ck_assert_str_eq(c.seen[0], "a.csv");
	ck_assert_str_eq(c.seen[1], "b.csv");
	ck_assert_str_eq(c.seen[2], "r.csv");
	ck_assert_str_eq(c.seen[3], "r.csv");
	ck_assert(exists(dir, "done/a.csv"));
	ck_assert(exists(dir, "done/a.csv.1"));
	ck_assert(exists(dir, "failed/b.csv"));
	ck_assert(exists(dir, "done/r.csv"));
	ck_assert(!exists(dir, "a.csv") && !exists(dir, "b.csv") && !exists(dir, "r.csv"));
	ck_assert(exists(dir, ".hidden") && exists(dir, "c.csv.part") && exists(dir, "d.tmp"));
	snprintf(path, sizeof(path), "%s/failed/b.csv.errors", dir);
	FILE *f = fopen(path, "r");
	char line[128] = "";
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), f));
	fclose(f);
	ck_assert_str_eq(line, "vb-test: b.csv:2: boom\n");
	ck_assert_msg(strstr(err, "b.csv: imported with errors, moved to ") != NULL, "%s", err);
	free(err);
}
END_TEST

START_TEST(unusable_directory)
{
	vb_report rep;
	char *err = NULL;
	size_t errn = 0;
	FILE *e = open_memstream(&err, &errn);
	calls c = { .stop = &stop };
	vb_report_init(&rep, "vb-test", e);
	stop = 0;
	ck_assert_int_eq(vb_ad_watch_run("/nonexistent/dir", 20, &stop, import, &c, &rep), VB_EIO);
	fclose(e);
	ck_assert_msg(strstr(err, "--watch /nonexistent/dir: cannot make") != NULL, "%s", err);
	free(err);
}
END_TEST

START_TEST(target_names)
{
	char dir[1024], path[1200], t[1200];
	vbt_mkdtemp(dir, sizeof(dir));
	ck_assert_int_eq(vb_ad_watch_target(dir, "done", "x.csv", t, sizeof(t)), 0);
	snprintf(path, sizeof(path), "%s/done/x.csv", dir);
	ck_assert_str_eq(t, path);
	ck_assert_int_eq(vb_ad_watch_target(dir, "done", "x.csv", t, 8), VB_ETOOBIG);
}
END_TEST

static Suite *
watch_suite(void)
{
	Suite *s = suite_create("adapter_watch");
	TCase *tc = tcase_create("watch");
	tcase_add_unchecked_fixture(tc, vbt_root_setup, vbt_root_teardown);
	tcase_add_test(tc, each_file_once_then_moved);
	tcase_add_test(tc, unusable_directory);
	tcase_add_test(tc, target_names);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return vbt_run(watch_suite());
}
