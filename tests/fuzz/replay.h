/*
 * replay.h - main() for fuzz targets built without libFuzzer: feed every
 * file named on the command line, or every regular file in a named
 * directory, to LLVMFuzzerTestOneInput once.  A crash or abort fails the
 * run like it would under the fuzzer; so does finding no input at all.
 * Included by each target under #ifndef FUZZING.
 */
#ifndef CORRAL_FUZZ_REPLAY_H
#define CORRAL_FUZZ_REPLAY_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "util/buf.h"

static int fuzz_replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	struct buf b = BUF_INIT;
	char tmp[4096];
	size_t n;

	if (!f) {
		perror(path);
		return -1;
	}
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		buf_add(&b, tmp, n);
	fclose(f);
	/* a private heap copy, so ASan sees reads past the end */
	uint8_t *copy = xmalloc(b.len ? b.len : 1);
	for (size_t i = 0; i < b.len; i++)
		copy[i] = (uint8_t)b.s[i];
	LLVMFuzzerTestOneInput(copy, b.len);
	free(copy);
	buf_release(&b);
	return 0;
}

static int fuzz_replay_main(const char *prog, int argc, char **argv)
{
	int files = 0, errors = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE...\n", prog);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) < 0) {
			perror(argv[i]);
			errors++;
			continue;
		}
		if (!S_ISDIR(st.st_mode)) {
			errors += fuzz_replay_file(argv[i]) < 0;
			files++;
			continue;
		}
		struct dirent **list;
		int n = scandir(argv[i], &list, NULL, alphasort);
		if (n < 0) {
			perror(argv[i]);
			errors++;
			continue;
		}
		for (int k = 0; k < n; k++) {
			char *p = xasprintf("%s/%s", argv[i], list[k]->d_name);
			if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
				errors += fuzz_replay_file(p) < 0;
				files++;
			}
			free(p);
			free(list[k]);
		}
		free(list);
	}
	printf("%s: replayed %d input(s), %d unreadable\n", prog, files, errors);
	return errors || files == 0 ? 1 : 0;
}

#endif
