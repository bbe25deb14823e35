/* replay.c - a page-access trace replayed inside the C core: rows of the
 * .npz columns (pid, op, page) applied across many address spaces in one
 * call, switching spaces here rather than once per run in Python. A run of
 * rows with one pid and op is one touch_locked() call, exactly what the
 * Python replayer (cowfast/trace.py, kept as the reference) does per run.
 */
#include <string.h>

#include "internal.h"

/* Rows between two releases of the memory's lock: other threads get a turn. */
#define REPLAY_SLICE (1u << 16)

/* Whether @pid has a space; *at is its slot, or where it would go. The
 * search has no branch on the data: pids of a trace alternate unpredictably,
 * and a mispredicted branch costs more than the few compares. */
static hot_inline bool slot_find(const struct cf_replay *r, int64_t pid, size_t *at)
{
	const int64_t *base = r->pids;
	size_t len = r->count;
	if (!len) {
		*at = 0;
		return false;
	}
	while (len > 1) {
		size_t half = len / 2;
		base = base[half - 1] < pid ? base + half : base;
		len -= half;
	}
	*at = (size_t)(base - r->pids) + (*base < pid);
	return *base == pid;
}

static bool table_ok(const struct cf_replay *r)
{
	if (!r->mem || r->count > r->cap || (r->cap && (!r->pids || !r->spaces)))
		return false;
	for (size_t k = 0; k < r->count; k++) {
		if (!r->spaces[k] || r->spaces[k]->mem != r->mem)
			return false;
		if (k && r->pids[k - 1] >= r->pids[k])
			return false;
	}
	return true;
}

/* First row after @k that differs from row @k in pid or op. Blocks of 8 rows
 * are compared without an early exit, so that the compiler vectorises them:
 * a long run then costs a fraction of a nanosecond a row to find. */
static size_t run_end(const int64_t *pid, const uint8_t *op, size_t k, size_t n)
{
	int64_t p = pid[k];
	uint8_t o = op[k];
	size_t e = k + 1;
	while (e + 8 <= n) {
		unsigned differ = 0;
		for (unsigned j = 0; j < 8; j++)
			differ |= (pid[e + j] != p) | (op[e + j] != o);
		if (differ)
			break;
		e += 8;
	}
	while (e < n && pid[e] == p && op[e] == o)
		e++;
	return e;
}

/* Close @as as its process's exit would (cf_as_close(): Linux exit_mmap());
 * the handle itself stays the caller's to free.
 * Preconditions: mem->lock held; dropped meanwhile (cf_as_close() takes it). */
static void space_exit(cf_mem *m, cf_as *as)
{
	pthread_mutex_unlock(&m->lock);
	cf_as_close(as);
	pthread_mutex_lock(&m->lock);
}

/*
 * Row "@parent forks @child_pid": the child replaces any space the table
 * had for that pid (closed, as the Python replayer drops it). Sets *stop,
 * changing nothing, when the parent has no space or the table is full.
 * Returns 0, CF_EINVAL (a child pid beyond int64) or CF_ENOMEM.
 * Preconditions: mem->lock held (dropped around cf_as_fork()).
 */
static int replay_fork(struct cf_replay *r, int64_t parent, uint64_t child_pid, bool *stop)
{
	size_t p, c;
	if (child_pid > (uint64_t)INT64_MAX)
		return CF_EINVAL;
	bool replaces = slot_find(r, (int64_t)child_pid, &c);
	if (!slot_find(r, parent, &p) || (!replaces && r->count == r->cap)) {
		*stop = true;
		return CF_OK;
	}
	cf_as *child;
	pthread_mutex_unlock(&r->mem->lock);
	int rc = cf_as_fork(r->spaces[p], &child);
	pthread_mutex_lock(&r->mem->lock);
	if (rc)
		return rc;
	if (replaces) {
		space_exit(r->mem, r->spaces[c]);
	} else {
		memmove(r->pids + c + 1, r->pids + c, (r->count - c) * sizeof(*r->pids));
		memmove(r->spaces + c + 1, r->spaces + c, (r->count - c) * sizeof(*r->spaces));
		r->pids[c] = (int64_t)child_pid;
		r->count++;
	}
	r->spaces[c] = child;
	r->changes++;
	return CF_OK;
}

/* Row "@pid exits": its space is closed and leaves the table; a pid without
 * one is ignored. */
static int replay_exit(struct cf_replay *r, int64_t pid)
{
	size_t s;
	if (!slot_find(r, pid, &s))
		return CF_OK;
	space_exit(r->mem, r->spaces[s]);
	memmove(r->pids + s, r->pids + s + 1, (r->count - s - 1) * sizeof(*r->pids));
	memmove(r->spaces + s, r->spaces + s + 1, (r->count - s - 1) * sizeof(*r->spaces));
	r->count--;
	r->changes++;
	return CF_OK;
}

/* The level-1 node (the parent of 512 leaves: 2^18 pages) a space's last
 * access row went through, valid while gen matches: any fault, fork, exit or
 * release of the lock bumps the call's gen. */
struct memo {
	uint64_t gen, span;	/* span: vpn >> (2 * NODE_BITS) */
	const struct node *l1;
	bool ex;		/* every node down to l1 is private and settled */
};
#define MEMOS 64		/* table slots with a memo; others walk each row */
#define LONG_RUN 256		/* rows from which a run goes to touch_locked() whole */

/* The leaf of @vpn in @as, and walk()'s *ex, through @mo's level-1 node: the
 * upper levels are walked only when the row leaves the node's span. */
static hot_inline const struct node *memo_leaf(const cf_as *as, struct memo *mo, uint64_t gen,
					       uint64_t vpn, bool *ex)
{
	if (mo->gen != gen || mo->span != vpn >> (2 * NODE_BITS)) {
		const struct node *n = as->root;
		bool e = true;
		for (uint32_t lvl = as->mem->levels - 1; lvl > 1; lvl--) {
			n = n->child[node_index(vpn, lvl)];
			if (!n)
				return NULL;
			e = e && n->ref == 1 && !n->wp;
		}
		*mo = (struct memo){.gen = gen, .span = vpn >> (2 * NODE_BITS), .l1 = n, .ex = e};
	}
	const struct node *leaf = mo->l1->child[node_index(vpn, 1)];
	*ex = leaf && mo->ex && leaf->ref == 1 && !leaf->wp;
	return leaf;
}

/*
 * Whether access row @vpn of @as changes nothing (Linux: a TLB hit): the
 * page is present with the permission (a write: writable, or shared, on a
 * private path: where touch_locked() would neither fault nor try a
 * whole-leaf copy), so touch_locked() would only count it. Reads only.
 */
static hot_inline bool access_hits(const cf_as *as, struct memo *mo, uint64_t gen,
				   uint64_t vpn, uint64_t limit, bool write)
{
	const uint64_t want_w = PTE_MAPPED | PTE_WRITE;
	const uint64_t want_r = PTE_MAPPED | PTE_READ | PTE_PRESENT;
	bool ex;
	if (unlikely(vpn >= limit))
		return false;
	const struct node *leaf = memo_leaf(as, mo, gen, vpn, &ex);
	if (!leaf)
		return false;
	uint64_t pte = leaf->pte[vpn & NODE_MASK];
	if (!write)
		return (pte & want_r) == want_r;
	return ex && (pte & want_w) == want_w && (pte & (PTE_WRITABLE | PTE_SHARED));
}

/* Rows ahead whose leaf entry is loaded early (0: none). */
#ifndef REPLAY_AHEAD
#define REPLAY_AHEAD 16
#endif

/*
 * Start loading the leaf entry of access row @j: the trace is known ahead,
 * and in short runs each row is a leaf in another space's table (its header
 * and its entry: two cache misses), which a walk done rows early overlaps
 * with the work between. Through the row's space's memo when it covers the
 * row (one load); else walks the upper nodes, which stay cached.
 */
static hot_inline void prefetch_row(const struct cf_replay *r, struct memo *memo, uint64_t gen,
				    const int64_t *pid, const uint8_t *op, const uint64_t *page,
				    size_t j, uint64_t limit)
{
	size_t s;
	uint64_t vpn = page[j];
	if (pid[j] == pid[j - 1] && vpn >> NODE_BITS == page[j - 1] >> NODE_BITS)
		return;		/* the leaf of the row before: loaded by then */
	if (op[j] > CF_REPLAY_WRITE || vpn >= limit || !slot_find(r, pid[j], &s))
		return;
	const struct node *n;
	if (s < MEMOS && memo[s].gen == gen && memo[s].span == vpn >> (2 * NODE_BITS)) {
		n = memo[s].l1->child[node_index(vpn, 1)];
	} else {
		n = r->spaces[s]->root;
		for (uint32_t lvl = r->mem->levels - 1; lvl > 0 && n; lvl--)
			n = n->child[node_index(vpn, lvl)];
	}
	if (n) {
		__builtin_prefetch(n);
		__builtin_prefetch(&n->pte[vpn & NODE_MASK]);
	}
}

int cf_replay(struct cf_replay *r, const int64_t *pid, const uint8_t *op, const uint64_t *page,
	      size_t n, unsigned flags, size_t *done, struct cf_fault *fault)
{
	if (!r || !done || !fault || (n && (!pid || !op || !page)) ||
	    (flags & ~CF_REPLAY_STOP_PROC) || !table_ok(r))
		return CF_EINVAL;
	cf_mem *m = r->mem;
	uint64_t limit = va_pages(m), gen = 1, accesses = 0, runs = 0;
	struct memo memo[MEMOS], spare = {0};
	size_t k = 0, slice = 0, s = 0, run_start = 0, end = 0, did;
	int rc = CF_OK;
	bool stop = false, found = false;	/* found: s serves pid[run_start] */
	memset(memo, 0, sizeof(memo));
	r->changes = 0;
	pthread_mutex_lock(&m->lock);
	while (k < n && !rc && !stop) {
		uint8_t o = op[k];
		if (o > CF_REPLAY_WRITE) {
			if (o > CF_REPLAY_EXIT) {
				rc = CF_EINVAL;
				break;
			}
			if (flags & CF_REPLAY_STOP_PROC)
				break;
			rc = o == CF_REPLAY_FORK ? replay_fork(r, pid[k], page[k], &stop)
						 : replay_exit(r, pid[k]);
			k += !rc && !stop;
			slice++;
			gen++;		/* the table and the trees changed */
			found = false;
			continue;
		}
		if (k == 0 || pid[k] != pid[k - 1] || o != op[k - 1]) {
			/* a run starts: the lock may go between runs */
			if (slice >= REPLAY_SLICE) {
				pthread_mutex_unlock(&m->lock);
				pthread_mutex_lock(&m->lock);
				slice = 0;
				gen++;
			}
			if (!found || pid[k] != pid[run_start]) {
				found = slot_find(r, pid[k], &s);
				if (!found) {
					stop = true;
					break;
				}
			}
			run_start = k;
			runs++;
			/* a long run is one touch, whose loop keeps its leaf */
			if (k + 1 < n && pid[k + 1] == pid[k] && op[k + 1] == o) {
				end = run_end(pid, op, k, n);
				if (end - k >= LONG_RUN)
					goto touch;
			}
		}
		if (REPLAY_AHEAD && k + REPLAY_AHEAD < n)
			prefetch_row(r, memo, gen, pid, op, page, k + REPLAY_AHEAD, limit);
		struct memo *mo = s < MEMOS ? &memo[s] : &spare;
		spare.gen = 0;
		slice++;
		if (likely(access_hits(r->spaces[s], mo, gen, page[k], limit,
				       o == CF_REPLAY_WRITE))) {
			accesses++;
			k++;
			continue;
		}
		slice--;
		end = run_end(pid, op, k, n);
touch:		/* the rest of the run as one touch: faults, whole-leaf copies */
		did = 0;
		rc = touch_locked(r->spaces[s], page + k, end - k, o == CF_REPLAY_WRITE, &did,
				  fault);
		gen++;
		accesses += did;
		slice += end - k;
		if (rc) {
			r->run_start = run_start;
			runs--;
			k += did;
			break;
		}
		k = end;
	}
	pthread_mutex_unlock(&m->lock);
	r->accesses = accesses;
	r->runs = runs;
	*done = k;
	return rc;
}
