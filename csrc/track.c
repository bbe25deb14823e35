/* track.c - one space's rss, uss, shared and pss kept current by what
 * changed (cf_as_stats_incremental), where stats.c's pass walks everything.
 *
 * A frame is only ever mapped at one virtual page: fork shares nodes,
 * unsharing and copy-on-write copy entries to the same index, and map makes
 * new frames. So a frame's mapcount, and with it every space's figures at
 * that page, changes only when some space's entry at that page changes or a
 * space reaching it comes or goes. The fault, map, unmap, fork and exit paths
 * log the leaf position (vpn >> 9) they change into every tracker; a sample
 * re-sums the tracked space's leaves at the logged positions only, against
 * a cached contribution per position.
 */
#include <stdlib.h>
#include <sys/mman.h>

#include "internal.h"

/* One leaf position's contribution to the tracked space's sums. */
struct leaf_stat {
	uint16_t rss, uss, shared;
	uint8_t dirty;		/* logged since the last sample */
	uint8_t leaf;		/* the space has a leaf here    */
	uint64_t pss_fx;
};

struct tracker {
	struct tracker *next;	/* in mem->trackers */
	cf_as *as;
	struct leaf_stat *cache;	/* per leaf position: reserved, touched where used */
	uint64_t cache_bytes;
	uint32_t *log;		/* positions logged since the last sample */
	uint64_t logged, cap;	/* past cap a rebuild costs no more: go stale  */
	uint64_t leaves;	/* positions where the space has a leaf          */
	bool stale;		/* the log overflowed: rebuild before the next sample */
	uint64_t rss, uss, shared, pss_fx;	/* sums over every position */
};

/* Log position @pos into every tracker that still logs; false when none
 * does (a walk that logs many positions can stop). */
bool track_leaf_locked(cf_mem *m, uint64_t pos)
{
	bool any = false;
	for (struct tracker *t = m->trackers; t; t = t->next) {
		if (t->stale)
			continue;
		struct leaf_stat *e = &t->cache[pos];
		if (!e->dirty) {
			if (t->logged == t->cap) {
				t->stale = true;
				continue;
			}
			e->dirty = 1;
			t->log[t->logged++] = (uint32_t)pos;
		}
		any = true;
	}
	return any;
}

/* Log the positions of the leaves below interior node @n (covering pages
 * from @base) that hold pages of [first, last]; false once no tracker logs. */
static bool log_below(cf_mem *m, const struct node *n, uint64_t base, uint64_t first,
		      uint64_t last)
{
	uint64_t step = 1ull << (NODE_BITS * n->level);
	uint64_t lo = first > base ? (first - base) / step : 0;
	uint64_t hi = last < base + (step << NODE_BITS) - 1 ? (last - base) / step : NODE_MASK;
	for (uint64_t i = lo; i <= hi; i++) {
		const struct node *c = n->child[i];
		if (!c)
			continue;
		bool more = c->level == 0 ? track_leaf_locked(m, (base + i * step) >> NODE_BITS)
					  : log_below(m, c, base + i * step, first, last);
		if (!more)
			return false;
	}
	return true;
}

/* Every leaf position of @as in pages [first, last]: the range is about to
 * change (unmap), has changed (map), or every frame in it changed mapcount
 * (fork, exit). Costs nothing without trackers. */
void track_range_locked(const cf_as *as, uint64_t first, uint64_t last)
{
	if (as->mem->trackers)
		log_below(as->mem, as->root, 0, first, last);
}

/* Figures of the tracked space's leaf @mine at position @pos: each frame's
 * mapcount is the accounted spaces reaching @mine, plus, for a frame other
 * leaves map too (refcount > 1), the accounted spaces whose leaf at @pos
 * maps it at the same index. */
static void leaf_stat_compute(const cf_mem *m, const struct tracker *t, const struct node *mine,
			      uint64_t pos, struct leaf_stat *out)
{
	const uint32_t *ref = m->ref;
	uint16_t more[NODE_ENTRIES];
	uint64_t reach = 0, vpn = pos << NODE_BITS;
	bool multi = false;
	*out = (struct leaf_stat){.leaf = 1};
	for (unsigned i = 0; i < NODE_ENTRIES; i++) {
		uint64_t pte = mine->pte[i];
		more[i] = 0;
		multi |= pte_has_frame(pte) && ref[pte_frame(pte)] != 1;
	}
	for (const cf_as *s = m->spaces; s; s = s->next) {
		bool ex;
		const struct node *l = walk(s, vpn, &ex);
		if (!l || (s->flags & CF_AS_UNACCOUNTED))
			continue;
		if (l == mine) {
			reach++;
			continue;
		}
		for (unsigned i = 0; multi && i < NODE_ENTRIES; i++) {
			uint64_t a = mine->pte[i], b = l->pte[i];
			more[i] += pte_has_frame(a) && pte_has_frame(b) && pte_frame(a) == pte_frame(b);
		}
	}
	bool accounted = !(t->as->flags & CF_AS_UNACCOUNTED);
	for (unsigned i = 0; i < NODE_ENTRIES; i++) {
		if (!pte_has_frame(mine->pte[i]))
			continue;
		uint64_t c = reach + more[i];
		out->rss++;
		if (!accounted)
			continue;
		out->uss += c == 1;
		out->shared += c >= 2;
		out->pss_fx += c ? (1ull << CF_PSS_SHIFT) / c : 0;
	}
}

/* Put @e in place of position @pos's cached contribution, in the sums. */
static void leaf_stat_store(struct tracker *t, uint64_t pos, const struct leaf_stat *e)
{
	struct leaf_stat *old = &t->cache[pos];
	t->rss += (uint64_t)e->rss - old->rss;
	t->uss += (uint64_t)e->uss - old->uss;
	t->shared += (uint64_t)e->shared - old->shared;
	t->pss_fx += e->pss_fx - old->pss_fx;
	t->leaves += (uint64_t)e->leaf - old->leaf;
	*old = *e;
	old->dirty = 0;
}

/* Re-sum position @pos of the tracked space. */
static void refresh_leaf(const cf_mem *m, struct tracker *t, uint64_t pos)
{
	bool ex;
	struct leaf_stat e = {0};
	const struct node *mine = walk(t->as, pos << NODE_BITS, &ex);
	if (mine)
		leaf_stat_compute(m, t, mine, pos, &e);
	leaf_stat_store(t, pos, &e);
}

/* Every leaf position below interior node @n of the tracked space. */
static void refresh_below(const cf_mem *m, struct tracker *t, const struct node *n,
			  uint64_t base)
{
	uint64_t step = 1ull << (NODE_BITS * n->level);
	for (unsigned i = 0; i < NODE_ENTRIES; i++) {
		const struct node *c = n->child[i];
		if (!c)
			continue;
		if (c->level > 0) {
			refresh_below(m, t, c, base + i * step);
			continue;
		}
		struct leaf_stat e;
		leaf_stat_compute(m, t, c, (base + i * step) >> NODE_BITS, &e);
		leaf_stat_store(t, (base + i * step) >> NODE_BITS, &e);
	}
}

/* Forget every cached position and sum the space afresh; the log gets room
 * for as many positions as the space has leaves (a rebuild costs about as
 * much as re-summing that many). CF_ENOMEM: still stale, nothing else changed. */
static int rebuild_locked(cf_mem *m, struct tracker *t)
{
	uint64_t cap = t->as->rss / NODE_ENTRIES * 2 + 64;
	uint32_t *log = realloc(t->log, cap * sizeof(*log));
	if (!log)
		return CF_ENOMEM;
	t->log = log;
	t->cap = cap;
	madvise(t->cache, t->cache_bytes, MADV_DONTNEED);	/* back to zeros */
	t->rss = t->uss = t->shared = t->pss_fx = t->leaves = t->logged = 0;
	refresh_below(m, t, t->as->root, 0);
	t->stale = false;
	return CF_OK;
}

static int tracker_new_locked(cf_as *as)
{
	cf_mem *m = as->mem;
	struct tracker *t = calloc(1, sizeof(*t));
	if (!t)
		return CF_ENOMEM;
	t->cache_bytes = (va_pages(m) >> NODE_BITS) * sizeof(struct leaf_stat);
	void *a = mmap(NULL, t->cache_bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (a == MAP_FAILED) {
		free(t);
		return CF_ENOMEM;
	}
	t->cache = a;
	t->as = as;
	t->stale = true;
	t->next = m->trackers;
	m->trackers = t;
	as->tracker = t;
	return CF_OK;
}

/* @as is closing: its positions change for everyone else; its tracker goes. */
void track_close_locked(cf_as *as)
{
	cf_mem *m = as->mem;
	struct tracker *t = as->tracker;
	if (t) {
		struct tracker **p = &m->trackers;
		while (*p != t)
			p = &(*p)->next;
		*p = t->next;
		munmap(t->cache, t->cache_bytes);
		free(t->log);
		free(t);
		as->tracker = NULL;
	}
	track_range_locked(as, 0, va_pages(m) - 1);
}

/*
 * cf_as_stats() of @as re-summed where something changed since the last
 * call. The first call sums the whole space and starts tracking it, until
 * it closes: from then on each fault, map, unmap, fork and exit in the
 * memory logs the positions it changes (a few instructions each).
 */
int cf_as_stats_incremental(cf_as *as, struct cf_as_stats *out)
{
	if (!as || !out)
		return CF_EINVAL;
	cf_mem *m = as->mem;
	pthread_mutex_lock(&m->lock);
	int rc = as->closed ? CF_EBADF : CF_OK;
	if (!rc && !as->tracker)
		rc = tracker_new_locked(as);
	struct tracker *t = rc ? NULL : as->tracker;
	if (t && t->stale)
		rc = rebuild_locked(m, t);
	if (!rc) {
		for (uint64_t k = 0; k < t->logged; k++)
			refresh_leaf(m, t, t->log[k]);
		t->logged = 0;
		*out = (struct cf_as_stats){
			.rss = t->rss, .uss = t->uss, .shared = t->shared,
			.pss_fx = t->pss_fx, .minor_faults = as->minor_faults,
			.cow_copies = as->cow_copies, .zero_fills = as->zero_fills,
			.reuses = as->reuses,
		};
	}
	pthread_mutex_unlock(&m->lock);
	return rc;
}
