/*
 * fuzz_repoconfig.c - fuzz target for the small JSON files a backup
 * repository trusts: corral-repo.json (repo_config_parse), key files
 * (repocrypt_keyfile_parse) and the chunk list of a manifest
 * (repo_manifest_walk), all of which may come from a hostile share.
 *
 * The same input goes to all three.  Checked besides "no crash, no leak":
 * a rejection carries a message; an accepted config has a 32-hex id and a
 * power-of-two chunk size within bounds; an accepted key file has scrypt
 * parameters whose memory cost is bounded; a rejected manifest says why.
 * scrypt itself is not run (its cost is what the bounds limit).
 *
 * Build with libFuzzer (-DFUZZING) or as a corpus replayer (see README.md).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backup/repo_internal.h"
#include "backup/repocrypt.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *what)
{
	fprintf(stderr, "fuzz_repoconfig: %s\n", what);
	abort();
}

static int count_visit(const uint8_t digest[REPO_DIGEST_LEN], void *arg)
{
	(void)digest;
	(*(size_t *)arg)++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf err = BUF_INIT;
	struct repo_config cfg;
	struct repo_keyfile kf;
	json_t *m;
	size_t n = 0;

	if (repo_config_parse((const char *)data, size, &cfg, &err) < 0) {
		if (!err.len)
			die("config rejected without a message");
	} else if (strlen(cfg.id) != 32 || cfg.chunk_size < (64u << 10) || cfg.chunk_size > REPO_MAX_CHUNK_SIZE ||
		   (cfg.chunk_size & (cfg.chunk_size - 1)) || (cfg.encrypted && strlen(cfg.key_check) != 64)) {
		die("accepted an invalid config");
	}
	buf_reset(&err);
	if (repocrypt_keyfile_parse((const char *)data, size, &kf, &err) < 0) {
		if (!err.len)
			die("key file rejected without a message");
	} else if (128ULL * kf.scrypt_n * kf.scrypt_r > (256ULL << 20) || kf.scrypt_p == 0 || kf.scrypt_p > 16 ||
		   strlen(kf.repo_id) != 32) {
		die("accepted unbounded scrypt parameters");
	}
	buf_reset(&err);
	m = json_loadb((const char *)data, size, 0, NULL);
	if (m && repo_manifest_walk(m, count_visit, &n, &err) < 0 && !err.len)
		die("manifest rejected without a message");
	json_decref(m);
	buf_release(&err);
	return 0;
}

#ifndef FUZZING
#include "replay.h"

int main(int argc, char **argv) { return fuzz_replay_main("fuzz_repoconfig", argc, argv); }
#endif
