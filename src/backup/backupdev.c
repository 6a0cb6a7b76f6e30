/*
 * backupdev.c - backup_dev_open(): one disk of a backup as a read-only
 * img_dev (image.h), so the image library can list partitions and copy
 * single files straight out of the repository without a restore.
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

static int bdev_pread(void *priv, void *buf, size_t len, uint64_t off)
{
	struct backup_dev *bd = priv;
	int rc = 0;
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

static void bdev_close(void *priv)
{
	struct backup_dev *bd = priv;
	for (int i = 0; i < CACHE_SLOTS; i++)
		buf_release(&bd->slots[i].data);
	backup_chunks_release(&bd->bc);
	pthread_mutex_destroy(&bd->lock);
	free(bd->id);
	free(bd);
}

static const struct img_dev_ops bdev_ops = { .pread = bdev_pread, .close = bdev_close };

int backup_dev_open(struct repo *r, const char *id, size_t index, struct img_dev **out, struct buf *err)
{
	struct backup_dev *bd = xcalloc(1, sizeof(*bd));
	int rc = backup_chunks_load(r, id, index, &bd->bc, err);
	if (rc < 0) {
		free(bd);
		return rc;
	}
	bd->repo = r;
	bd->id = xstrdup(id);
	pthread_mutex_init(&bd->lock, NULL);
	for (int i = 0; i < CACHE_SLOTS; i++)
		bd->slots[i].data = (struct buf)BUF_INIT;
	__do_free char *desc = xasprintf("disk %zu of backup %s", index, id);
	return img_dev_new(&bdev_ops, bd, bd->bc.size, desc, out, err);
}
