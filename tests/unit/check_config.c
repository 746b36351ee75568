/* Unit tests of broker/vb_config: defaults, the file, the option table. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "vb_config.h"
#include "vb_error.h"
#include "vb_log.h"
#include "vb_test.h"

#define KiB 1024LL
#define MiB (1024 * KiB)
#define GiB (1024 * MiB)
#define TiB (1024 * GiB)

/* Write text to a new config file; path gets its name. */
static void
config_file(const char *text, char *path, size_t len)
{
	char dir[1024];
	vbt_mkdtemp(dir, sizeof(dir));
	vbt_write_file(dir, "voicebusd.conf", text, path, len);
}

/* Load text expecting success. */
static void
load_ok(vb_config *c, const char *text)
{
	char path[1200], err[512] = "stale";
	config_file(text, path, sizeof(path));
	int rv = vb_config_load(c, path, err, sizeof(err));
	ck_assert_msg(rv == 0, "load = %d: %s\n--- file ---\n%s", rv, err, text);
	ck_assert_str_eq(err, "");
}

/* Load text expecting "path:<line>: <want>" (want is a prefix when it ends
 * with "..."; line < 0: no line, "path: <want>"). */
static void
load_fails(const char *text, int line, const char *want)
{
	char path[1200], err[512], full[2048];
	vb_config c;
	size_t wl = strlen(want);
	int prefix = wl >= 3 && strcmp(want + wl - 3, "...") == 0;

	vb_config_defaults(&c);
	config_file(text, path, sizeof(path));
	memset(err, 'x', sizeof(err));
	int rv = vb_config_load(&c, path, err, sizeof(err));
	ck_assert_msg(rv == VB_EINVAL, "load = %d, want VB_EINVAL\n--- file ---\n%s", rv, text);
	ck_assert_msg(memchr(err, '\0', sizeof(err)) != NULL, "err not terminated");
	if (line >= 0)
		snprintf(full, sizeof(full), "%s:%d: %.*s", path, line,
		    (int)(prefix ? wl - 3 : wl), want);
	else
		snprintf(full, sizeof(full), "%s: %.*s", path,
		    (int)(prefix ? wl - 3 : wl), want);
	if (prefix)
		ck_assert_msg(strncmp(err, full, strlen(full)) == 0,
		    "error \"%s\"\n want \"%s...\"", err, full);
	else
		ck_assert_msg(strcmp(err, full) == 0, "error \"%s\"\n want \"%s\"", err, full);
}

static void
set_ok(vb_config *c, const char *name, const char *value)
{
	char err[256] = "";
	int rv = vb_config_set(c, name, value, err, sizeof(err));
	ck_assert_msg(rv == 0, "set %s = \"%s\": %d: %s", name, value, rv, err);
}

static void
set_fails(const char *name, const char *value, const char *want)
{
	vb_config c;
	char err[256];
	vb_config_defaults(&c);
	memset(err, 'x', sizeof(err));
	int rv = vb_config_set(&c, name, value, err, sizeof(err));
	ck_assert_msg(rv == VB_EINVAL, "set %s = \"%s\": %d, want VB_EINVAL", name, value, rv);
	ck_assert_msg(strcmp(err, want) == 0, "set %s = \"%s\":\n error \"%s\"\n want  \"%s\"",
	    name, value, err, want);
}

START_TEST(defaults)
{
	vb_config c;
	memset(&c, 0x5a, sizeof(c));
	vb_config_defaults(&c);
	ck_assert_str_eq(c.data, "./voicebus-data");
	/* The contract's embedded addresses. */
	ck_assert_str_eq(c.ingest, "tcp://127.0.0.1:7450");
	ck_assert_str_eq(c.pub, "tcp://127.0.0.1:7451");
	ck_assert_str_eq(c.query, "tcp://127.0.0.1:7452");
	ck_assert_int_eq(c.log_level, VB_LOG_INFO);
	ck_assert_int_eq(c.ingest_workers, 16);
	ck_assert_int_eq(c.query_workers, 4);
	ck_assert_int_eq(c.max_batch, 1000);
	ck_assert_int_eq(c.max_message, 16 * MiB);
	ck_assert_int_eq(c.commit_max_events, 10000);
	ck_assert_int_eq(c.map_size, 256 * MiB);
	ck_assert_int_eq(c.map_size_max, 1 * TiB);
	ck_assert_int_eq(c.replay_page, 1000);
	ck_assert_int_eq(c.replay_page_max, 10000);
	ck_assert_int_eq(c.pub_queue, 8192);
	/* The defaults pass the checks a file must pass. */
	ck_assert_int_le(c.map_size, c.map_size_max);
	ck_assert_int_le(c.replay_page, c.replay_page_max);
}
END_TEST

START_TEST(load_every_option)
{
	vb_config c;
	vb_config_defaults(&c);
	load_ok(&c,
	    "# voicebusd configuration\n"
	    "; comments both ways\n"
	    "\n"
	    "[broker]\n"
	    "data = /var/lib/voicebus\n"
	    "ingest = ipc:///run/voicebus/ingest.ipc\n"
	    "pub = tls+tcp://0.0.0.0:8451\n"
	    "query = tcp://[::1]:8452\n"
	    "log_level = debug\n"
	    "ingest_workers = 32\n"
	    "query_workers = 8\n"
	    "max_batch = 500\n"
	    "max_message = 64MiB\n"
	    "commit_max_events = 2000 ; inline comment\n"
	    "map_size = 1GiB\n"
	    "map_size_max = 2TiB\n"
	    "replay_page = 200\n"
	    "replay_page_max = 5000\n"
	    "pub_queue = 4096\n");
	ck_assert_str_eq(c.data, "/var/lib/voicebus");
	ck_assert_str_eq(c.ingest, "ipc:///run/voicebus/ingest.ipc");
	ck_assert_str_eq(c.pub, "tls+tcp://0.0.0.0:8451");
	ck_assert_str_eq(c.query, "tcp://[::1]:8452");
	ck_assert_int_eq(c.log_level, VB_LOG_DEBUG);
	ck_assert_int_eq(c.ingest_workers, 32);
	ck_assert_int_eq(c.query_workers, 8);
	ck_assert_int_eq(c.max_batch, 500);
	ck_assert_int_eq(c.max_message, 64 * MiB);
	ck_assert_int_eq(c.commit_max_events, 2000);
	ck_assert_int_eq(c.map_size, 1 * GiB);
	ck_assert_int_eq(c.map_size_max, 2 * TiB);
	ck_assert_int_eq(c.replay_page, 200);
	ck_assert_int_eq(c.replay_page_max, 5000);
	ck_assert_int_eq(c.pub_queue, 4096);
}
END_TEST

START_TEST(load_keeps_what_is_not_given)
{
	vb_config c;
	vb_config_defaults(&c);
	set_ok(&c, "query_workers", "9");
	load_ok(&c, "[broker]\ningest_workers=3\n");
	ck_assert_int_eq(c.ingest_workers, 3);
	ck_assert_int_eq(c.query_workers, 9);
	ck_assert_str_eq(c.ingest, "tcp://127.0.0.1:7450");
	/* An empty file, and a file with only a section, change nothing. */
	load_ok(&c, "");
	load_ok(&c, "[broker]\n");
	ck_assert_int_eq(c.ingest_workers, 3);
	/* The last of two settings wins. */
	load_ok(&c, "[broker]\nmax_batch = 10\nmax_batch = 20\n");
	ck_assert_int_eq(c.max_batch, 20);
}
END_TEST

START_TEST(sizes)
{
	static const struct {
		const char *text;
		long long v;
	} ok[] = {
		{ "64MiB", 64 * MiB }, { "64M", 64 * MiB }, { "262144", 256 * KiB },
		{ "256KiB", 256 * KiB }, { "256K", 256 * KiB }, { "256k", 256 * KiB },
		{ "1GiB", GiB }, { "1G", GiB }, { "1024MiB", GiB },
	};
	vb_config c;
	vb_config_defaults(&c);
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		set_ok(&c, "max_message", ok[i].text);
		ck_assert_msg(c.max_message == ok[i].v, "%s -> %lld, want %lld", ok[i].text,
		    (long long)c.max_message, ok[i].v);
	}
	set_ok(&c, "map_size_max", "64TiB");
	ck_assert_int_eq(c.map_size_max, 64 * TiB);
	set_ok(&c, "map_size_max", "3T");
	ck_assert_int_eq(c.map_size_max, 3 * TiB);
	set_ok(&c, "map_size", "1MiB");
	ck_assert_int_eq(c.map_size, MiB);

	set_fails("max_message", "64MB", "max_message: \"64MB\" is not a size such as 64MiB");
	set_fails("max_message", "64mib", "max_message: \"64mib\" is not a size such as 64MiB");
	set_fails("max_message", "MiB", "max_message: \"MiB\" is not a size such as 64MiB");
	set_fails("max_message", "", "max_message: \"\" is not a size such as 64MiB");
	set_fails("max_message", "-1MiB", "max_message: \"-1MiB\" is not a size such as 64MiB");
	set_fails("max_message", "1.5GiB", "max_message: \"1.5GiB\" is not a size such as 64MiB");
	set_fails("max_message", "64MiBs", "max_message: \"64MiBs\" is not a size such as 64MiB");
	set_fails("map_size_max", "99999999999TiB",
	    "map_size_max: \"99999999999TiB\" is not a size such as 64MiB");
	set_fails("map_size_max", "99999999999999999999",
	    "map_size_max: \"99999999999999999999\" is not a size such as 64MiB");
	/* Sizes have bounds too. */
	set_fails("max_message", "32KiB", "max_message: 32KiB is out of range [262144, 1073741824]");
	set_fails("max_message", "2GiB", "max_message: 2GiB is out of range [262144, 1073741824]");
	set_fails("map_size", "512KiB", "map_size: 512KiB is out of range [1048576, 70368744177664]");
	set_fails("map_size_max", "65TiB",
	    "map_size_max: 65TiB is out of range [1048576, 70368744177664]");
}
END_TEST

START_TEST(integer_bounds)
{
	static const struct {
		const char *name;
		long long min, max;
	} ints[] = {
		{ "ingest_workers", 1, 1024 }, { "query_workers", 1, 256 },
		{ "max_batch", 1, 100000 }, { "commit_max_events", 1, 1000000 },
		{ "replay_page", 1, 100000 }, { "replay_page_max", 1, 1000000 },
		{ "pub_queue", 1, 8192 },
	};
	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
		vb_config c;
		char v[32], want[256];
		vb_config_defaults(&c);
		snprintf(v, sizeof(v), "%lld", ints[i].min);
		set_ok(&c, ints[i].name, v);
		snprintf(v, sizeof(v), "%lld", ints[i].max);
		set_ok(&c, ints[i].name, v);
		snprintf(v, sizeof(v), "%lld", ints[i].min - 1);
		snprintf(want, sizeof(want), "%s: %s is out of range [%lld, %lld]",
		    ints[i].name, v, ints[i].min, ints[i].max);
		set_fails(ints[i].name, v, want);
		snprintf(v, sizeof(v), "%lld", ints[i].max + 1);
		snprintf(want, sizeof(want), "%s: %s is out of range [%lld, %lld]",
		    ints[i].name, v, ints[i].min, ints[i].max);
		set_fails(ints[i].name, v, want);
	}
	set_fails("max_batch", "many", "max_batch: \"many\" is not an integer");
	set_fails("max_batch", "", "max_batch: \"\" is not an integer");
	set_fails("max_batch", "10x", "max_batch: \"10x\" is not an integer");
	set_fails("max_batch", "1.5", "max_batch: \"1.5\" is not an integer");
	set_fails("max_batch", "99999999999999999999",
	    "max_batch: \"99999999999999999999\" is not an integer");
	set_fails("max_batch", "-5", "max_batch: -5 is out of range [1, 100000]");
}
END_TEST

START_TEST(strings_and_levels)
{
	vb_config c;
	char longv[VB_URL_MAX + 8], want[256];
	vb_config_defaults(&c);
	memset(longv, 'u', sizeof(longv));
	longv[VB_URL_MAX - 1] = '\0';
	set_ok(&c, "ingest", longv);
	ck_assert_uint_eq(strlen(c.ingest), VB_URL_MAX - 1);
	longv[VB_URL_MAX - 1] = 'u';
	longv[VB_URL_MAX] = '\0';
	snprintf(want, sizeof(want), "ingest: must be 1 to %d characters", VB_URL_MAX - 1);
	set_fails("ingest", longv, want);
	set_fails("pub", "", "pub: must be 1 to 511 characters");
	set_fails("data", "", "data: must be 1 to 4095 characters");

	static const struct {
		const char *s;
		vb_log_level l;
	} levels[] = { { "error", VB_LOG_ERROR }, { "warn", VB_LOG_WARN },
		{ "info", VB_LOG_INFO }, { "debug", VB_LOG_DEBUG } };
	for (size_t i = 0; i < 4; i++) {
		set_ok(&c, "log_level", levels[i].s);
		ck_assert_int_eq(c.log_level, levels[i].l);
	}
	set_fails("log_level", "loud", "log_level: \"loud\" is not error, warn, info or debug");
	set_fails("log_level", "INFO", "log_level: \"INFO\" is not error, warn, info or debug");
	set_fails("log_level", "warning", "log_level: \"warning\" is not error, warn, info or debug");
	set_fails("colour", "blue", "colour: unknown option");
	set_fails("Ingest", "tcp://x:1", "Ingest: unknown option");
}
END_TEST

START_TEST(file_errors_name_the_line)
{
	load_fails("[broker]\ncolour = blue\n", 2, "colour: unknown option");
	load_fails("# a comment\n\n[broker]\ndata = /tmp/x\n\n"
	    "ingest_workers = many\n", 6, "ingest_workers: \"many\" is not an integer");
	load_fails("[broker]\n; the next is too few\ningest_workers = 0\n", 3,
	    "ingest_workers: 0 is out of range [1, 1024]");
	load_fails("[broker]\nmap_size = 64MB\n", 2,
	    "map_size: \"64MB\" is not a size such as 64MiB");
	load_fails("[broker]\nmap_size = 512KiB\n", 2,
	    "map_size: 512KiB is out of range [1048576, 70368744177664]");
	load_fails("[broker]\nlog_level = loud\n", 2,
	    "log_level: \"loud\" is not error, warn, info or debug");
	load_fails("[broker]\ningest =\n", 2, "ingest: must be 1 to 511 characters");
	/* An option of another section. */
	load_fails("[broker]\ndata = /tmp/x\n[gate]\nopen_complaint = on\n", 4,
	    "[gate]: unknown section...");
	/* An option before any section. */
	load_fails("data = /tmp/x\n[broker]\n", 1, "[]: unknown section...");
	/* Not an INI line at all. */
	load_fails("[broker]\ndata = /tmp/x\nthis is not an option\n", 3, "syntax error...");
	load_fails("[broker\n", 1, "syntax error...");
}
END_TEST

START_TEST(file_errors_first_one_wins)
{
	/* With two mistakes, the message is the first one's, at its line:
	 * the line number and the text must belong to the same mistake. */
	load_fails("[broker]\ncolour = blue\nmax_batch = 0\n", 2, "colour: unknown option");
	load_fails("[broker]\nnonsense line\nmax_batch = 0\n", 2, "syntax error...");
	load_fails("[broker]\nmax_batch = 0\nnonsense line\n", 2,
	    "max_batch: 0 is out of range [1, 100000]");
	load_fails("[broker\ndata = /tmp/x\n", 1, "syntax error...");
}
END_TEST

START_TEST(rules_from_file)
{
	vb_config c;
	vb_config_defaults(&c);
	ck_assert_int_eq(c.rules.cooloff_us, 14LL * 86400 * 1000000);
	ck_assert_int_eq(c.rules.cap_max, 3);
	load_ok(&c, "[broker]\nclock_tick_ms = 250\n\n[rule.complaint-cooloff]\nduration = 21d\n"
	    "blocks = upsell\n\n[rule.frequency-cap]\nmax = 5\nwindow = 30d\n"
	    "per_channel_per_day = 2\n\n[rule.missed-visit]\nenabled = false\n");
	ck_assert_int_eq(c.clock_tick_ms, 250);
	ck_assert_int_eq(c.rules.cooloff_us, 21LL * 86400 * 1000000);
	ck_assert_uint_eq(c.rules.rule[VB_RULE_COOLOFF].blocks, 1u << VB_P_UPSELL);
	ck_assert_int_eq(c.rules.cap_max, 5);
	ck_assert_int_eq(c.rules.cap_window_us, 30LL * 86400 * 1000000);
	ck_assert_int_eq(c.rules.cap_per_day, 2);
	ck_assert_int_eq(c.rules.rule[VB_RULE_MISSED_VISIT].enabled, 0);
	ck_assert_int_eq(c.rules.rule[VB_RULE_OPEN_COMPLAINT].enabled, 1);
	/* Mistakes in rules name the file and line like any option. */
	load_fails("[broker]\n\n[rule.complaint-cooloff]\nduration = two weeks\n", 4,
	    "duration: \"two weeks\" is not a duration such as 14d");
	load_fails("[rule.open-complaint]\nblocks = upsell, service\n", 2,
	    "blocks: service is never blocked by these rules");
	load_fails("[rule.open-complaint]\nblocks = upsell, spam\n", 2,
	    "blocks: unknown purpose \"spam\"");
	load_fails("[rule.shouting]\nenabled = true\n", 2, "[rule.shouting]: unknown rule...");
	load_fails("[rule.frequency-cap]\nduration = 3d\n", 2,
	    "duration: not an option of rule frequency-cap");
	load_fails("[rule.no-consent]\nenabled = maybe\n", 2,
	    "enabled: \"maybe\" is not true or false");
}
END_TEST

START_TEST(file_long_values)
{
	/* Debian's inih reads lines of at most 200 bytes; a longer one is an
	 * error on its own line, never a value cut in two. */
	char *text = malloc(8192), dirv[1024];
	ck_assert_ptr_nonnull(text);
	memset(dirv, 'd', 600);
	dirv[0] = '/';
	dirv[600] = '\0';
	snprintf(text, 8192, "[broker]\ndata = %s\nmax_batch = 7\n", dirv);
	load_fails(text, 2, "line longer than ...");
	free(text);
}
END_TEST

START_TEST(file_cross_checks)
{
	load_fails("[broker]\nmap_size = 2GiB\nmap_size_max = 1GiB\n", -1,
	    "map_size: larger than map_size_max");
	load_fails("[broker]\nreplay_page = 500\nreplay_page_max = 100\n", -1,
	    "replay_page: larger than replay_page_max");
	vb_config c;
	vb_config_defaults(&c);
	load_ok(&c, "[broker]\nmap_size = 1GiB\nmap_size_max = 1GiB\n"
	    "replay_page = 100\nreplay_page_max = 100\n");
}
END_TEST

START_TEST(clients_and_exposure)
{
	vb_config c;
	char err[512];
	vb_config_defaults(&c);
	/* Without clients: loopback and ipc:// only. */
	ck_assert_int_eq(vb_config_check(&c, err, sizeof(err)), 0);
	static const char *const local[] = { "ipc:///run/vb.sock", "tcp://127.0.0.1:1",
		"tcp://127.8.9.10:1", "tcp://localhost:7450", "tcp://[::1]:7450",
		"tls+tcp://localhost:7450", "inproc://x" };
	static const char *const remote[] = { "tcp://0.0.0.0:7450", "tcp://10.0.0.7:7450",
		"tls+tcp://bus.example.com:7450", "tcp://*:7450", "tcp://[::]:7450",
		"tcp://localhost.evil:7450", "ws://127.0.0.1:80/x" };
	for (size_t i = 0; i < sizeof(local) / sizeof(local[0]); i++) {
		snprintf(c.query, sizeof(c.query), "%s", local[i]);
		ck_assert_msg(vb_config_check(&c, err, sizeof(err)) == 0, "%s: %s", local[i], err);
	}
	for (size_t i = 0; i < sizeof(remote) / sizeof(remote[0]); i++) {
		snprintf(c.pub, sizeof(c.pub), "%s", remote[i]);
		ck_assert_msg(vb_config_check(&c, err, sizeof(err)) == VB_EINVAL, "%s", remote[i]);
		ck_assert_ptr_nonnull(strstr(err, "pub = "));
	}
	/* With a client, any address. */
	load_ok(&c, "[client.ops]\nrole = admin\ntoken_sha256 = "
	    "8ca723da058b6ded07f1605675279eb464be73d87d17a68340768be26c787792\n");
	ck_assert_uint_eq(c.auth.n, 1);
	ck_assert_int_eq(vb_config_check(&c, err, sizeof(err)), 0);
	load_fails("[client.ops]\nrole = admin\nfavourite = tea\n", 3,
	    "favourite: unknown client option...");
	load_fails("[broker]\npub_full = maybe\n", 2, "pub_full: \"maybe\" is not true or false");
}
END_TEST

START_TEST(file_missing)
{
	vb_config c;
	char err[512], path[1100];
	vb_config_defaults(&c);
	vbt_mkdtemp(path, sizeof(path));
	strcat(path, "/nope.conf");
	ck_assert_int_eq(vb_config_load(&c, path, err, sizeof(err)), VB_EINVAL);
	ck_assert_msg(strncmp(err, path, strlen(path)) == 0, "error \"%s\"", err);
	ck_assert_ptr_nonnull(strstr(err, "No such file"));
}
END_TEST

START_TEST(dump_reloads)
{
	vb_config c, d;
	char *text = NULL, path[1200], err[512];
	size_t len = 0;
	FILE *f;

	vb_config_defaults(&c);
	set_ok(&c, "data", "/srv/voicebus data");
	set_ok(&c, "ingest", "ipc:///tmp/vb-ingest");
	set_ok(&c, "log_level", "warn");
	set_ok(&c, "max_message", "2MiB");
	set_ok(&c, "map_size_max", "8GiB");
	set_ok(&c, "pub_queue", "1234");
	f = open_memstream(&text, &len);
	ck_assert_ptr_nonnull(f);
	vb_config_dump(&c, f);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_ptr_nonnull(strstr(text, "[broker]\n"));
	ck_assert_ptr_nonnull(strstr(text, "\nlog_level = warn\n"));

	/* What dump writes, load reads back to the same configuration. */
	config_file(text, path, sizeof(path));
	memset(&d, 0, sizeof(d));
	vb_config_defaults(&d);
	ck_assert_msg(vb_config_load(&d, path, err, sizeof(err)) == 0, "%s\n%s", err, text);
	ck_assert_str_eq(d.data, c.data);
	ck_assert_str_eq(d.ingest, c.ingest);
	ck_assert_str_eq(d.pub, c.pub);
	ck_assert_str_eq(d.query, c.query);
	ck_assert_int_eq(d.log_level, c.log_level);
	ck_assert_int_eq(d.ingest_workers, c.ingest_workers);
	ck_assert_int_eq(d.query_workers, c.query_workers);
	ck_assert_int_eq(d.max_batch, c.max_batch);
	ck_assert_int_eq(d.max_message, c.max_message);
	ck_assert_int_eq(d.commit_max_events, c.commit_max_events);
	ck_assert_int_eq(d.map_size, c.map_size);
	ck_assert_int_eq(d.map_size_max, c.map_size_max);
	ck_assert_int_eq(d.replay_page, c.replay_page);
	ck_assert_int_eq(d.replay_page_max, c.replay_page_max);
	ck_assert_int_eq(d.pub_queue, c.pub_queue);
	free(text);
}
END_TEST

static Suite *
config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("options");
	tcase_add_test(tc, defaults);
	tcase_add_test(tc, sizes);
	tcase_add_test(tc, integer_bounds);
	tcase_add_test(tc, strings_and_levels);
	suite_add_tcase(s, tc);

	tc = tcase_create("file");
	tcase_add_unchecked_fixture(tc, vbt_root_setup, vbt_root_teardown);
	tcase_add_test(tc, load_every_option);
	tcase_add_test(tc, load_keeps_what_is_not_given);
	tcase_add_test(tc, file_errors_name_the_line);
	tcase_add_test(tc, file_errors_first_one_wins);
	tcase_add_test(tc, rules_from_file);
	tcase_add_test(tc, file_long_values);
	tcase_add_test(tc, file_cross_checks);
	tcase_add_test(tc, file_missing);
	tcase_add_test(tc, clients_and_exposure);
	tcase_add_test(tc, dump_reloads);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return vbt_run(config_suite());
}
