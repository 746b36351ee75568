/* vb_fuzz: what the fuzz targets share.
 *
 * Each target is one file, fuzz_<target>.c, that defines libFuzzer's entry
 * point.  Built with clang and -DVB_FUZZ=ON it links libFuzzer
 * (-fsanitize=fuzzer); in every build it also links vb_fuzz_replay.c, a
 * main that runs the entry point over files and directories, so the seeds
 * and every committed crash input (tests/fuzz/regressions/<target>/) stay
 * tests of the normal suite (ctest fuzz_replay_<target>). */
#ifndef VB_FUZZ_H
#define VB_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* libFuzzer's entry point: one input, borrowed for the call.  Returns 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A property every input must keep (a round trip, a bound): when it does
 * not, say which and abort: libFuzzer saves the input as a crash, and the
 * replay counts it failed. */
#define VB_FUZZ_CHECK(cond, ...)                                      \
	do {                                                          \
		if (!(cond)) {                                        \
			fprintf(stderr,                               \
			    "%s:%d: property failed: %s: ", __FILE__, \
			    __LINE__, #cond);                         \
			fprintf(stderr, __VA_ARGS__);                 \
			fputc('\n', stderr);                          \
			abort();                                      \
		}                                                     \
	} while (0)

/* Whether len bytes at p are one JSON value (jansson); for properties of
 * what we print.  Targets that use it link jansson. */
int vb_fuzz_json_ok(const void *p, size_t len);

#endif
