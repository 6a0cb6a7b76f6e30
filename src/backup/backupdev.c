/*
 * backupdev.c - backup_dev_open(): one disk of a backup as a read-only
 * device, so single files can be listed and copied straight out of the
 * repository without a restore (corrald serves its reads to the image
 * helper, which parses the disk; see service/imgclient.h).
 *
 * Reads map onto chunk-size pieces of the manifest's chunk list; a null entry
 * reads as zeros, the others are fetched with repo_chunk_get (decrypted,
 * decompressed and checked against their id) and kept in a small LRU cache,
 * since filesystem readers touch the same metadata blocks again and again.
 * A mutex makes the device safe to read from several threads.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backup/backup.h"
#include "backup/nbdsrc.h"
#include "util/log.h"
#include "util/common.h"

#define CACHE_SLOTS 8

struct cache_slot {
	size_t piece;
	uint64_t used;		/* LRU stamp, 0 = empty */
	struct buf data;
};

struct backup_dev {
	struct repo *repo;
	char *id;
	struct backup_chunks bc;
	pthread_mutex_t lock;
	uint64_t clock;
	struct cache_slot slots[CACHE_SLOTS];
};

static const struct buf *piece_get(struct backup_dev *bd, size_t piece, int *rc)
{
	struct cache_slot *victim = &bd->slots[0];
	for (int i = 0; i < CACHE_SLOTS; i++) {
		struct cache_slot *s = &bd->slots[i];
		if (s->used && s->piece == piece) {
			s->used = ++bd->clock;
			return &s->data;
		}
		if (s->used < victim->used)
			victim = s;
	}
	struct buf err = BUF_INIT;
	victim->used = 0;
	buf_reset(&victim->data);
	uint64_t off = (uint64_t)piece * bd->bc.chunk;
	size_t len = (size_t)(bd->bc.size - off < bd->bc.chunk ? bd->bc.size - off : bd->bc.chunk);
	*rc = repo_chunk_get(bd->repo, bd->bc.digest[piece], &victim->data, &err);
	if (*rc == 0 && victim->data.len != len)
		*rc = -EIO;
	if (*rc < 0) {
		log_warn("reading piece %zu of backup %s: %s", piece, bd->id, err.len ? err.s : "wrong chunk size");
		buf_release(&err);
		return NULL;
	}
	buf_release(&err);
	victim->piece = piece;
	victim->used = ++bd->clock;
	return &victim->data;
}

uint64_t backup_dev_size(const struct backup_dev *bd)
{
	return bd->bc.size;
}

int backup_dev_pread(struct backup_dev *bd, void *buf, size_t len, uint64_t off)
{
	int rc = 0;

	if (off > bd->bc.size || len > bd->bc.size - off)
		return -EINVAL;
	pthread_mutex_lock(&bd->lock);
	while (len > 0 && rc == 0) {
		size_t piece = (size_t)(off / bd->bc.chunk);
		size_t in = (size_t)(off % bd->bc.chunk);
		size_t n = bd->bc.chunk - in < len ? bd->bc.chunk - in : len;
		if (!bd->bc.present[piece]) {
			memset(buf, 0, n);
		} else {
			const struct buf *data = piece_get(bd, piece, &rc);
			if (data)
				memcpy(buf, data->s + in, n);
		}
		buf = (char *)buf + n;
		off += n;
		len -= n;
	}
	pthread_mutex_unlock(&bd->lock);
	return rc;
}

void backup_dev_close(struct backup_dev *bd)
{
	if (!bd)
		return;
	for (int i = 0; i < CACHE_SLOTS; i++)
		buf_release(&bd->slots[i].data);
	backup_chunks_release(&bd->bc);
	pthread_mutex_destroy(&bd->lock);
	free(bd->id);
	free(bd);
}

int backup_dev_open(struct repo *r, const char *id, size_t index, struct backup_dev **out, struct buf *err)
{
	struct backup_dev *bd = xcalloc(1, sizeof(*bd));
	int rc = backup_chunks_load(r, id, index, &bd->bc, err);

	*out = NULL;
	if (rc < 0) {
		free(bd);
		return rc;
	}
	bd->repo = r;
	bd->id = xstrdup(id);
	pthread_mutex_init(&bd->lock, NULL);
	for (int i = 0; i < CACHE_SLOTS; i++)
		bd->slots[i].data = (struct buf)BUF_INIT;
	*out = bd;
	return 0;
}
