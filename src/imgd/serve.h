/*
 * serve.h - corral-imgd's side of the requests (serve.c): one request in,
 * its answer frames out, through the image library.
 *
 * The request ops and their answers are listed in docs/image.md ("The image
 * helper").  A request names its device in "dev": an image chain whose
 * files came with the request as descriptors ({"kind":"file","names":[...],
 * "format","snapshot"}), or a device corrald serves block by block over the
 * same socket ({"kind":"remote","size","desc"}: remotedev.c).  Every answer
 * ends with one "result" or "error" frame; "read-file" sends "file" and
 * "data" frames before it.
 */
#ifndef CORRAL_IMGD_SERVE_H
#define CORRAL_IMGD_SERVE_H

#include <stdint.h>

#include "image/image.h"
#include "imgd/proto.h"

/*
 * Answer request req (its descriptors are taken or closed).  0 when the
 * answer went out (a failed request is answered with an "error" frame),
 * or -errno when the socket broke: the helper then exits.
 */
int imgd_serve(int sock, struct imgd_msg *req);

/* A device of `size` bytes whose reads are "read" requests to corrald over
 * sock (remotedev.c); desc names it in messages. */
int imgd_remote_dev_open(int sock, uint64_t size, const char *desc, struct img_dev **out, struct buf *err);

#endif
