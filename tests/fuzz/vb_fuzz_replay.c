/* The replay program: a fuzz target's entry point over the files given, and
 * over every file in the directories given (sorted, not recursive), as
 * `ctest -R fuzz_replay_<target>` runs it on the target's seeds and
 * regressions.  Each input runs in a child process of its own, so that one
 * crash, failed property or leak (the sanitizers report at the child's
 * exit) does not hide the next: every failing input is named, and the exit
 * status is 1 if any failed.  A directory that does not exist counts as
 * empty (a target without regressions has no folder); running no input at
 * all is a failure, so a wrong path cannot pass silently.  VB_FUZZ_NOFORK=1
 * runs every input in this process instead (for a debugger). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vb_fuzz.h"

static int nofork;
static long nfailed;

static int
run_one(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (f == NULL) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	do {
		if (len == cap) {
			cap = cap ? cap * 2 : 65536;
			uint8_t *nb = realloc(buf, cap);
			if (nb == NULL) {
				fprintf(stderr, "replay: %s: out of memory\n",
				    path);
				free(buf);
				fclose(f);
				return -1;
			}
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	fclose(f);
	/* A copy of exactly len bytes: ASan then sees a read past the end. */
	uint8_t *exact = malloc(len ? len : 1);
	if (exact == NULL) {
		free(buf);
		return -1;
	}
	memcpy(exact, buf, len);
	free(buf);
	LLVMFuzzerTestOneInput(exact, len);
	free(exact);
	return 0;
}

/* Run path in a child: 0 when it passed, 1 when it failed (reported), -1
 * when it could not be run at all. */
static int
run_file(const char *path)
{
	pid_t pid;
	int status;

	if (nofork)
		return run_one(path);
	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) < 0) {
		fprintf(stderr, "replay: fork: %s\n", strerror(errno));
		return -1;
	}
	if (pid == 0)
		exit(run_one(path) == 0 ? 0
		                        : 125); /* exit, not _exit: LSan runs */
	if (waitpid(pid, &status, 0) != pid) {
		fprintf(stderr, "replay: waitpid: %s\n", strerror(errno));
		return -1;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 125)
		return -1;
	if (WIFSIGNALED(status))
		fprintf(stderr, "replay: FAILED: %s (signal %d)\n", path,
		    WTERMSIG(status));
	else
		fprintf(stderr, "replay: FAILED: %s (exit %d)\n", path,
		    WEXITSTATUS(status));
	nfailed++;
	return 1;
}

static int
cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Run every regular file in dir; returns how many, or -1. */
static long
run_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, cap = 0;
	long ran = 0;

	if (d == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			char **nn = realloc(names, cap * sizeof(*names));
			if (nn == NULL)
				break;
			names = nn;
		}
		names[n++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(*names), cmp);
	for (size_t i = 0; i < n; i++) {
		char path[4096];
		struct stat st;
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			int rv = run_file(path);
			if (rv < 0)
				ran = -1;
			else if (ran >= 0)
				ran++;
		}
		free(names[i]);
	}
	free(names);
	return ran;
}

int
main(int argc, char **argv)
{
	long total = 0;
	int failed = 0;
	const char *nf = getenv("VB_FUZZ_NOFORK");

	nofork = nf != NULL && nf[0] == '1';
	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		struct stat st;
		long n;
		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode))
			n = run_dir(argv[i]);
		else if (stat(argv[i], &st) != 0 && errno == ENOENT)
			n = 0; /* a target without regressions has no folder */
		else
			n = run_file(argv[i]) < 0 ? -1 : 1;
		if (n < 0)
			failed = 1;
		else
			total += n;
		printf("replay: %s: %ld inputs\n", argv[i], n < 0 ? 0 : n);
	}
	if (failed)
		return 1;
	if (total == 0) {
		fprintf(stderr, "replay: no input ran\n");
		return 1;
	}
	if (nfailed) {
		printf("replay: %ld inputs, %ld FAILED\n", total, nfailed);
		return 1;
	}
	printf("replay: %ld inputs, no crash\n", total);
	return 0;
}
