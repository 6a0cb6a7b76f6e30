/*
 * store_vm.c - VM definitions in the store (see store.h, "VMs"): reading
 * them with their runtime state, and the vm.put / vm.host / vm.delete ops.
 *
 * A definition is validated when written (vm.put stores vmdef_to_json of
 * what vmdef_from_json accepted) and parsed again when read.  A row that
 * no longer parses (an older corrald's rules, a hand edit) is still
 * returned, flagged `invalid` with the reason, so no VM ever vanishes from
 * a listing while its QEMU may be running.
 *
 * vm.put keeps volumes.vm in step with the definition's disks: a volume is
 * used by at most one VM, and only a volume that exists can be used.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "store.h"
#include "store_internal.h"
#include "util/log.h"
#include "util/common.h"

/* ---- reading ---- */

#define VM_SELECT                                                                                         \
	"SELECT v.uuid, v.name, v.def, v.generation, v.host, v.created, r.state, r.reason, r.since FROM vms v " \
	"LEFT JOIN vm_runtime r ON r.uuid = v.uuid "

void vm_record_release(struct vm_record *r)
{
	vmdef_free(r->def);
	free(r->invalid);
	free(r->host);
	free(r->reason);
	r->def = NULL;
	r->invalid = r->host = r->reason = NULL;
}

/* A stand-in for a definition that cannot be read: the row's name and uuid, nothing to run. */
static struct vm_def *placeholder(const char *uuid, const char *name)
{
	struct vm_def *d = xcalloc(1, sizeof(*d));
	d->name = xstrdup(name);
	snprintf(d->uuid, sizeof(d->uuid), "%s", uuid);
	d->vnc_display = -1;
	return d;
}

/* The definition text of row (uuid, name) parsed, or NULL and why in err. */
static struct vm_def *def_parse(const char *uuid, const char *name, const char *text, struct buf *err)
{
	json_error_t je;
	__do_json json_t *j = json_loads(text, 0, &je);
	struct vm_def *d;
	if (!j) {
		buf_printf(err, "the stored definition is not JSON: %s", je.text);
		return NULL;
	}
	if (!(d = vmdef_from_json(j, err)))
		return NULL;
	if (strcmp(d->uuid, uuid) != 0 || strcmp(d->name, name) != 0) {
		buf_printf(err, "the stored definition is of vm '%s' (%s), not of its row", d->name, d->uuid);
		vmdef_free(d);
		return NULL;
	}
	return d;
}

/*
 * A record in the making: the columns are copied while the lock is held,
 * the definition is parsed after it is released (parsing 1,000 of them
 * takes tens of milliseconds no batch should wait for).
 */
struct vm_row {
	struct vm_record rec; /* all but def and invalid */
	char *uuid, *name, *text;
};

static void vm_row_release(void *p)
{
	struct vm_row *row = p;
	vm_record_release(&row->rec);
	free(row->uuid);
	free(row->name);
	free(row->text);
}

static void row_to_vm(sqlite3_stmt *st, void *p)
{
	struct vm_row *row = p;
	struct vm_record *out = &row->rec;
	row->uuid = store_col_dup(st, 0);
	row->name = store_col_dup(st, 1);
	row->text = store_col_dup(st, 2);
	out->generation = sqlite3_column_int64(st, 3);
	out->host = store_col_dup(st, 4);
	if (sqlite3_column_type(st, 6) == SQLITE_NULL) {
		/* never run on this host */
		out->state = VM_STOPPED;
		out->reason = xstrdup("created");
		out->since_ms = sqlite3_column_int64(st, 5);
	} else {
		if (vmstate_parse((const char *)sqlite3_column_text(st, 6), &out->state) < 0)
			out->state = VM_STOPPED;
		out->reason = xstrdup((const char *)sqlite3_column_text(st, 7));
		out->since_ms = sqlite3_column_int64(st, 8);
	}
}

/* Parse the row's definition into its record and hand the record to *out. */
static void vm_row_finish(struct vm_row *row, struct vm_record *out)
{
	struct buf why = BUF_INIT;
	row->rec.def = def_parse(row->uuid, row->name, row->text ? row->text : "", &why);
	if (!row->rec.def) {
		row->rec.def = placeholder(row->uuid, row->name);
		row->rec.invalid = buf_detach(&why);
	}
	buf_release(&why);
	*out = row->rec;
	memset(&row->rec, 0, sizeof(row->rec));
	vm_row_release(row);
}

int store_vm_get(struct store *s, const char *uuid, struct vm_record *out)
{
	struct vm_row row = { 0 };
	int r = store_get_row(&s->cfg, VM_SELECT "WHERE v.uuid = ?", "get vm", uuid, row_to_vm, &row);
	if (r == 0)
		vm_row_finish(&row, out);
	return r;
}

static void row_to_uuid(sqlite3_stmt *st, void *out)
{
	snprintf(out, 37, "%s", (const char *)sqlite3_column_text(st, 0));
}

int store_vm_lookup(struct store *s, const char *key, char uuid[37])
{
	/* The name (unique, indexed) first, then the uuid in any case. */
	return store_get_row(&s->cfg,
			     "SELECT uuid FROM vms WHERE name = ?1 UNION ALL "
			     "SELECT uuid FROM vms WHERE uuid = lower(?1) AND name <> ?1 LIMIT 1",
			     "look up vm", key, row_to_uuid, uuid);
}

int store_vm_list(struct store *s, struct vm_record **out, size_t *n)
{
	void *list;
	int r = store_list_rows(&s->cfg, VM_SELECT "ORDER BY v.name", "list vms", sizeof(struct vm_row), row_to_vm,
				vm_row_release, &list, n);
	struct vm_row *rows = list;
	*out = r < 0 ? NULL : xcalloc(*n + 1, sizeof(**out));
	for (size_t i = 0; r == 0 && i < *n; i++)
		vm_row_finish(&rows[i], &(*out)[i]);
	free(rows);
	return r;
}

void store_vm_list_free(struct vm_record *list, size_t n)
{
	for (size_t i = 0; list && i < n; i++)
		vm_record_release(&list[i]);
	free(list);
}

/* ---- ops ---- */

/* The generation of VM `uuid` in *gen: 0, -ENOENT (sentence in a->err), or a database error. */
static int vm_generation(struct store_apply *a, const char *uuid, int64_t *gen)
{
	int r = store_query_int(a->c, gen, "SELECT generation FROM vms WHERE uuid=?", "s", uuid);
	if (r == -ENOENT)
		buf_printf(a->err, "vm %s does not exist", uuid);
	else if (r < 0)
		return op_db_fail(a, r);
	return r;
}

/* The op's expected generation, if it has one. */
static int op_gen(struct store_apply *a, const json_t *op, int64_t *want, bool *present)
{
	int r = op_int(a, op, "gen", want, present);
	if (r == 0 && *present && *want < 0) {
		buf_printf(a->err, "store op %s: 'gen' must be 0 or more", a->op);
		r = -EINVAL;
	}
	return r;
}

/* -ESTALE if the op expects generation `want` (present) and the row is at `cur`. */
static int check_gen(struct store_apply *a, const char *uuid, bool present, int64_t want, int64_t cur)
{
	if (!present || want == cur)
		return 0;
	__do_free char *name = op_vm_name(a, uuid);
	buf_printf(a->err,
		   "vm '%s' changed since it was read (generation %" PRId64 ", now %" PRId64 "); read it again",
		   name, want, cur);
	return -ESTALE;
}

/* The disks of d exist and belong to no VM but d's. */
static int check_disks(struct store_apply *a, const struct vm_def *d)
{
	for (int i = 0; i < d->ndisks; i++) {
		const char *vol = d->disks[i].volume;
		char *owner = NULL;
		int r = store_query_str(a->c, &owner, "SELECT vm FROM volumes WHERE name=?", "s", vol);
		__do_free char *user = owner;
		if (r == -ENOENT) {
			buf_printf(a->err, "volume '%s' does not exist (create it with 'corral disk create')", vol);
			return r;
		}
		if (r < 0)
			return op_db_fail(a, r);
		if (user && strcmp(user, d->uuid) != 0) {
			__do_free char *name = op_vm_name(a, user);
			buf_printf(a->err, "volume '%s' is already used by vm '%s'", vol, name);
			return -EBUSY;
		}
		char *fmt = NULL;
		if (store_query_str(a->c, &fmt, "SELECT format FROM volumes WHERE name=? AND (ct IS NOT NULL OR format='dir')",
				    "s", vol) == 0) {
			buf_printf(a->err, "volume '%s' is a directory volume for containers, not a disk", vol);
			free(fmt);
			return -EBUSY;
		}
	}
	return 0;
}

/* volumes.vm: d's disks are d's, nothing else is. */
static int set_owners(struct store_apply *a, const struct vm_def *d)
{
	int r = store_exec(a->c, "UPDATE volumes SET vm=NULL WHERE vm=?", "s", d->uuid);
	if (r < 0 && r != -ENOENT)
		return op_db_fail(a, r);
	for (int i = 0; i < d->ndisks; i++)
		if ((r = store_exec(a->c, "UPDATE volumes SET vm=? WHERE name=?", "ss", d->uuid, d->disks[i].volume)) < 0)
			return op_db_fail(a, r);
	return 0;
}

/* The definition of a vm.put: valid, and complete enough to give the same result on every host. */
static struct vm_def *put_def(struct store_apply *a, const json_t *op)
{
	const json_t *j = json_object_get(op, "def");
	struct vm_def *d;
	if (!json_is_object(j)) {
		buf_printf(a->err, "store op %s: 'def' must be an object", a->op);
		return NULL;
	}
	if (!(d = vmdef_from_json(j, a->err)))
		return NULL;
	/* vmdef_from_json makes up a missing uuid or MAC: another host would make up another. */
	json_t *nics[VM_MAX_NICS];
	int nn = vmdef_json_nics(j, nics);
	bool macs = nn == d->nnics;
	for (int i = 0; i < nn; i++)
		macs = macs && json_is_string(json_object_get(nics[i], "mac"));
	if (!json_is_string(json_object_get(j, "uuid")) || !macs) {
		buf_printf(a->err, "store op %s: the definition must carry its uuid and MAC address", a->op);
		vmdef_free(d);
		return NULL;
	}
	return d;
}

int op_vm_put(struct store_apply *a, const json_t *op)
{
	const char *host = NULL;
	int64_t want = 0, cur = 0;
	bool has_gen, exists;
	int r;

	if ((r = op_gen(a, op, &want, &has_gen)) < 0 || (r = op_str(a, op, "host", false, &host)) < 0)
		return r;
	struct vm_def *d = put_def(a, op);
	if (!d)
		return -EINVAL;
	__do_json json_t *j = vmdef_to_json(d);
	__do_free char *text = json_dumps(j, JSON_COMPACT);
	__do_free char *other = NULL;

	r = store_query_int(a->c, &cur, "SELECT generation FROM vms WHERE uuid=?", "s", d->uuid);
	if (r < 0 && r != -ENOENT) {
		r = op_db_fail(a, r);
		goto out;
	}
	exists = r == 0;
	if (has_gen && want == STORE_GEN_NEW && exists) {
		other = op_vm_name(a, d->uuid);
		buf_printf(a->err, "vm '%s' already has uuid %s", other, d->uuid);
		r = -EEXIST;
		goto out;
	}
	if (!exists && !(has_gen && want == STORE_GEN_NEW)) {
		buf_printf(a->err, "vm %s does not exist", d->uuid);
		r = -ENOENT;
		goto out;
	}
	if (exists && (r = check_gen(a, d->uuid, has_gen, want, cur)) < 0)
		goto out;
	r = store_query_str(a->c, &other, "SELECT uuid FROM vms WHERE name=? AND uuid<>?", "ss", d->name, d->uuid);
	if (r == 0) {
		buf_printf(a->err, "a vm named '%s' already exists", d->name);
		r = -EEXIST;
		goto out;
	}
	if (r != -ENOENT) {
		r = op_db_fail(a, r);
		goto out;
	}
	if ((r = check_disks(a, d)) < 0)
		goto out;
	if (!exists)
		r = store_exec(a->c, "INSERT INTO vms(uuid, name, def, generation, host, created) VALUES(?,?,?,1,?,?)",
			       "ssssi", d->uuid, d->name, text, host, a->time);
	else if (json_object_get(op, "host"))
		r = store_exec(a->c, "UPDATE vms SET name=?, def=?, host=?, generation=generation+1 WHERE uuid=?",
			       "ssss", d->name, text, host, d->uuid);
	else
		r = store_exec(a->c, "UPDATE vms SET name=?, def=?, generation=generation+1 WHERE uuid=?", "sss",
			       d->name, text, d->uuid);
	if (r < 0)
		r = op_db_fail(a, r);
	else
		r = set_owners(a, d);
out:
	vmdef_free(d);
	return r;
}

int op_vm_host(struct store_apply *a, const json_t *op)
{
	const char *uuid, *host;
	int64_t want = 0, cur;
	bool has_gen;
	int r;

	if ((r = op_str(a, op, "uuid", true, &uuid)) < 0 || (r = op_str(a, op, "host", false, &host)) < 0 ||
	    (r = op_gen(a, op, &want, &has_gen)) < 0)
		return r;
	if (!json_object_get(op, "host")) {
		buf_printf(a->err, "store op %s: 'host' is missing", a->op);
		return -EINVAL;
	}
	if ((r = vm_generation(a, uuid, &cur)) < 0 || (r = check_gen(a, uuid, has_gen, want, cur)) < 0)
		return r;
	if ((r = store_exec(a->c, "UPDATE vms SET host=?, generation=generation+1 WHERE uuid=?", "ss", host, uuid)) < 0)
		return op_db_fail(a, r);
	return 0;
}

int op_vm_delete(struct store_apply *a, const json_t *op)
{
	const char *uuid;
	int64_t want = 0, cur;
	bool has_gen;
	int r;

	if ((r = op_str(a, op, "uuid", true, &uuid)) < 0 || (r = op_gen(a, op, &want, &has_gen)) < 0)
		return r;
	if ((r = vm_generation(a, uuid, &cur)) < 0 || (r = check_gen(a, uuid, has_gen, want, cur)) < 0)
		return r;
	/* The foreign keys free its volumes and drop its snapshots and runtime row. */
	if ((r = store_exec(a->c, "DELETE FROM vms WHERE uuid=?", "s", uuid)) < 0)
		return op_db_fail(a, r);
	return 0;
}

/* ---- one-op batches ---- */

int store_vm_insert(struct store *s, const struct vm_def *d)
{
	struct store_batch *b = store_batch_new();
	store_batch_vm_put(b, d, STORE_GEN_NEW);
	return store_commit_one(s, b);
}

int store_vm_update_def(struct store *s, const struct vm_def *d)
{
	struct store_batch *b = store_batch_new();
	store_batch_vm_put(b, d, STORE_GEN_ANY);
	return store_commit_one(s, b);
}

int store_vm_delete(struct store *s, const char *uuid)
{
	struct store_batch *b = store_batch_new();
	store_batch_vm_delete(b, uuid, STORE_GEN_ANY);
	return store_commit_one(s, b);
}
