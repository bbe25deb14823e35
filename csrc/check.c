/* check.c - the invariant checker: recompute every node's and every frame's
 * reference count from the live address spaces and compare with the stored
 * ones, then audit the free stack (gVisor mm_test.go's recompute-and-compare).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "internal.h"

struct report {
	char *msg;
	size_t len;
	uint64_t problems;
};

static void problem(struct report *r, const char *fmt, ...)
{
	if (r->problems++ == 0 && r->msg && r->len) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(r->msg, r->len, fmt, ap);
		va_end(ap);
	}
}

/* Scratch of one check pass, indexed by node->idx. */
struct walk {
	struct node **all;	/* distinct nodes reachable, roots first            */
	uint64_t *refs;		/* parent entries (or spaces) seen pointing at each */
	uint64_t *base;		/* first page each node covers                      */
	uint8_t *priv;		/* path from its root private and settled (walk()) */
	uint64_t count;
	uint32_t *expect;	/* per frame: entries mapping it                    */
};

/* A leaf entry: the fast path's invariants. A WRITABLE private page is
 * written without a fault, so on a settled private path it must map a frame
 * this space alone holds (refcount 1) and be Linux's PageAnonExclusive. */
static void check_pte(cf_mem *m, uint64_t pte, uint64_t vpn, bool priv, struct walk *w,
		      struct report *r)
{
	unsigned long long va = (unsigned long long)vpn << m->page_shift;
	if (!(pte & PTE_MAPPED))
		problem(r, "page 0x%llx: pte %#llx has no MAPPED bit", va, (unsigned long long)pte);
	if ((pte & PTE_WRITABLE) && !pte_has_frame(pte))
		problem(r, "page 0x%llx: writable pte %#llx maps no frame", va,
			(unsigned long long)pte);
	if (!pte_has_frame(pte))
		return;
	uint32_t f = pte_frame(pte);
	if (f >= m->fresh) {
		problem(r, "page 0x%llx: pte maps frame %u never allocated", va, f);
		return;
	}
	w->expect[f]++;
	if (!priv || !(pte & PTE_WRITABLE) || (pte & PTE_SHARED))
		return;
	if (m->ref[f] != 1)
		problem(r, "page 0x%llx: writable pte on a private path maps frame %u of refcount %u",
			va, f, m->ref[f]);
	if (!(pte & PTE_EXCL))
		problem(r, "page 0x%llx: writable private pte is not exclusive", va);
}

/* One node: its own bookkeeping, its entries, and its references on
 * children, which it enters in @w (privacy and first page included). */
static void check_node(cf_mem *m, uint64_t k, struct walk *w, struct report *r)
{
	struct node *n = w->all[k];
	uint64_t step = 1ull << (NODE_BITS * n->level);
	unsigned used = 0;
	for (unsigned i = 0; i < NODE_ENTRIES; i++) {
		if (n->level == 0) {
			used += n->pte[i] != 0;
			if (n->pte[i])
				check_pte(m, n->pte[i], w->base[k] + i, w->priv[k], w, r);
			continue;
		}
		struct node *c = n->child[i];
		if (!c)
			continue;
		used++;
		if (c->level + 1 != n->level)
			problem(r, "node at level %u under level %u", c->level, n->level);
		if (c->mark != m->pass) {
			if (w->count > m->nodes) {	/* a cycle or a leaked count */
				problem(r, "more nodes reachable than alive");
				continue;
			}
			c->mark = m->pass;
			c->idx = (uint32_t)w->count;
			w->refs[w->count] = 0;
			w->base[w->count] = w->base[k] + i * step;
			w->priv[w->count] = w->priv[k] && c->ref == 1 && !c->wp;
			w->all[w->count++] = c;
		}
		w->refs[c->idx]++;
	}
	if (used != n->used)
		problem(r, "node over page 0x%llx: used %u, counted %u",
			(unsigned long long)w->base[k] << m->page_shift, n->used, used);
}

/* Every frame's refcount against the mappings counted into @expect, then
 * the free stack: each free frame on it exactly once. Reuses @expect. */
static void check_frames(cf_mem *m, uint32_t *expect, struct report *r)
{
	const uint32_t seen = UINT32_MAX;
	uint64_t used = 0;
	for (uint64_t f = 0; f < m->fresh; f++) {
		if (m->ref[f] == 0 && expect[f])
			problem(r, "free frame %llu is mapped %u times", (unsigned long long)f,
				expect[f]);
		else if (m->ref[f] != expect[f])
			problem(r, "frame %llu refcount %u, mapped %u times",
				(unsigned long long)f, m->ref[f], expect[f]);
		used += m->ref[f] != 0;
	}
	if (used != m->used)
		problem(r, "%llu frames in use, counter says %llu", (unsigned long long)used,
			(unsigned long long)m->used);
	if (m->top != m->fresh - used)
		problem(r, "free stack holds %llu frames, expected %llu",
			(unsigned long long)m->top, (unsigned long long)(m->fresh - used));
	for (uint64_t k = 0; k < m->top; k++) {
		uint32_t f = m->stack[k];
		if (f >= m->fresh || m->ref[f] || expect[f] == seen) {
			problem(r, "free stack entry %llu (frame %u) is not a free frame",
				(unsigned long long)k, f);
			return;
		}
		expect[f] = seen;
	}
}

/* The zero frame is shared by every untouched page: never written. */
static void check_zero(const cf_mem *m, struct report *r)
{
	for (uint64_t i = 0; i < (1ull << m->page_shift); i++) {
		if (m->zero[i]) {
			problem(r, "zero frame written: byte %llu is %u", (unsigned long long)i,
				m->zero[i]);
			return;
		}
	}
}

/* Statistics cached as current must equal a fresh pass (which also counts
 * every space's resident pages afresh against its running rss). */
static void check_stats(cf_mem *m, struct report *r)
{
	uint64_t nspaces = 0, k = 0;
	for (cf_as *as = m->spaces; as; as = as->next)
		nspaces++;
	struct cf_as_stats *was = malloc((nspaces + 1) * sizeof(*was));
	if (!was) {
		problem(r, "no host memory to check the statistics cache");
		return;
	}
	for (cf_as *as = m->spaces; as; as = as->next, k++) {
		was[k] = as->cached;
		if (as->stats_gen != m->gen)
			was[k].rss = UINT64_MAX;	/* not claimed current */
	}
	stats_refresh_locked(m);
	k = 0;
	for (cf_as *as = m->spaces; as; as = as->next, k++) {
		const struct cf_as_stats *c = &as->cached;
		if (as->stats_gen != m->gen)
			continue;
		if (as->cached.rss != as->rss)
			problem(r, "space %llu counts %llu resident pages, its table holds %llu",
				(unsigned long long)k, (unsigned long long)as->rss,
				(unsigned long long)c->rss);
		if (was[k].rss != UINT64_MAX &&
		    (was[k].rss != c->rss || was[k].uss != c->uss || was[k].shared != c->shared ||
		     was[k].pss_fx != c->pss_fx))
			problem(r, "space %llu: cached stats rss %llu uss %llu shared %llu, "
				"a fresh pass %llu %llu %llu", (unsigned long long)k,
				(unsigned long long)was[k].rss, (unsigned long long)was[k].uss,
				(unsigned long long)was[k].shared, (unsigned long long)c->rss,
				(unsigned long long)c->uss, (unsigned long long)c->shared);
	}
	free(was);
}

/* Entries below @n (covering pages from @base) against @as's regions: each
 * inside one, with its protection and sharing, and a private frame only in
 * a region that was written (an anon_vma). */
static void check_entries(const cf_as *as, const struct node *n, uint64_t base, struct report *r,
			  uint64_t *shmem)
{
	uint64_t step = 1ull << (NODE_BITS * n->level);
	for (unsigned i = 0; i < NODE_ENTRIES && r->problems < 16; i++) {
		uint64_t vpn = base + i * step;
		if (n->level) {
			if (n->child[i])
				check_entries(as, n->child[i], vpn, r, shmem);
			continue;
		}
		uint64_t pte = n->pte[i];
		if (!pte)
			continue;
		*shmem += pte_has_frame(pte) && (pte & PTE_SHARED);
		unsigned long long va = (unsigned long long)vpn << as->mem->page_shift;
		const struct region *rg = region_find(as, vpn);
		uint64_t attrs = PTE_MAPPED | PTE_READ | PTE_WRITE | PTE_EXEC | PTE_SHARED;
		if (!rg)
			problem(r, "page 0x%llx: entry %#llx outside every region", va,
				(unsigned long long)pte);
		else if ((pte & attrs) != region_pte(rg))
			problem(r, "page 0x%llx: entry %#llx, its region's protection %u%s", va,
				(unsigned long long)pte, rg->prot,
				(rg->flags & REGION_SHARED) ? " shared" : "");
		else if (pte_has_frame(pte) && !(pte & PTE_SHARED) && !(rg->flags & REGION_WRITTEN))
			problem(r, "page 0x%llx: private frame in a region never written", va);
	}
}

/* Each shared mapping's object holds one reference on each of its frames:
 * count them into @expect, each object once (the pass number marks it). */
static void count_objects(cf_mem *m, uint32_t *expect)
{
	for (cf_as *as = m->spaces; as; as = as->next) {
		for (uint32_t k = 0; k < as->nrg; k++) {
			struct shm *o = as->rg[k].shm;
			if (o && o->mark != m->pass) {
				o->mark = m->pass;
				shm_count_frames(o, expect);
			}
		}
	}
}

/* Every space's regions: sorted, disjoint, not empty, compatible neighbours
 * merged; then its entries against them. */
static void check_regions(cf_mem *m, struct report *r)
{
	for (cf_as *as = m->spaces; as; as = as->next) {
		for (uint32_t k = 0; k < as->nrg; k++) {
			const struct region *a = &as->rg[k];
			if (a->start >= a->end || a->end > va_pages(m) ||
			    (k && as->rg[k - 1].end > a->start))
				problem(r, "region %u [0x%llx, 0x%llx) is empty, beyond the space or "
					"overlaps the one before", k,
					(unsigned long long)a->start << m->page_shift,
					(unsigned long long)a->end << m->page_shift);
		}
		uint64_t shmem = 0;
		check_entries(as, as->root, 0, r, &shmem);
		if (shmem != as->shmem)
			problem(r, "a space counts %llu resident shared pages, its table holds %llu",
				(unsigned long long)as->shmem, (unsigned long long)shmem);
	}
}

/* Enter every space's root in @w; roots never owe a write-protect. */
static void add_roots(cf_mem *m, struct walk *w, struct report *r)
{
	for (cf_as *as = m->spaces; as; as = as->next) {
		struct node *root = as->root;
		if (root->mark == m->pass || w->count > m->nodes) {
			problem(r, "root shared between spaces");
			continue;
		}
		if (root->wp)
			problem(r, "a root owes a write-protect");
		root->mark = m->pass;
		root->idx = (uint32_t)w->count;
		w->refs[w->count] = 1;	/* the space's own reference */
		w->base[w->count] = 0;
		w->priv[w->count] = root->ref == 1 && !root->wp;
		w->all[w->count++] = root;
	}
}

int cf_mem_check(cf_mem *m, char *msg, size_t msglen, uint64_t *problems)
{
	if (!m || !problems || (msglen && !msg))
		return CF_EINVAL;
	struct report r = {msg, msglen, 0};
	if (msglen)
		msg[0] = '\0';
	pthread_mutex_lock(&m->lock);
	int rc = CF_ENOMEM;
	uint64_t bytes = m->nframes * sizeof(uint32_t), cap = m->nodes + 2;
	struct walk w = {
		.all = malloc(cap * sizeof(*w.all)),
		.refs = malloc(cap * sizeof(*w.refs)),
		.base = malloc(cap * sizeof(*w.base)),
		.priv = malloc(cap),
		.expect = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0),
	};
	if (!w.all || !w.refs || !w.base || !w.priv || w.expect == MAP_FAILED)
		goto out;
	m->pass++;
	add_roots(m, &w, &r);
	for (uint64_t k = 0; k < w.count; k++) {
		if (w.count > m->nodes) {
			problem(&r, "more nodes reachable than the %llu alive",
				(unsigned long long)m->nodes);
			break;
		}
		check_node(m, k, &w, &r);
	}
	for (uint64_t k = 0; k < w.count && k <= m->nodes; k++)
		if (w.all[k]->ref != w.refs[k])
			problem(&r, "node over page 0x%llx: refcount %u, referenced %llu times",
				(unsigned long long)w.base[k] << m->page_shift, w.all[k]->ref,
				(unsigned long long)w.refs[k]);
	if (w.count != m->nodes)
		problem(&r, "%llu nodes reachable, %llu alive", (unsigned long long)w.count,
			(unsigned long long)m->nodes);
	count_objects(m, w.expect);
	check_frames(m, w.expect, &r);
	check_regions(m, &r);
	check_zero(m, &r);
	check_stats(m, &r);
	rc = CF_OK;
out:
	pthread_mutex_unlock(&m->lock);
	if (w.expect != MAP_FAILED)
		munmap(w.expect, bytes);
	free(w.all);
	free(w.refs);
	free(w.base);
	free(w.priv);
	*problems = r.problems;
	return rc;
}

#ifdef CF_DEBUG
/* Break one invariant on purpose, for the tests of the checker. */
static int corrupt_locked(cf_as *as, uint64_t vpn, int kind)
{
	cf_mem *m = as->mem;
	bool ex;
	struct node *leaf = vpn < va_pages(m) ? walk(as, vpn, &ex) : NULL;
	uint64_t *ptep = leaf ? &leaf->pte[vpn & NODE_MASK] : NULL;
	switch (kind) {
	case CF_CORRUPT_WRITABLE:
		if (!ptep || !pte_has_frame(*ptep))
			return CF_EINVAL;
		*ptep |= PTE_WRITABLE | PTE_EXCL;
		return CF_OK;
	case CF_CORRUPT_REFCOUNT:
		if (!ptep || !pte_has_frame(*ptep))
			return CF_EINVAL;
		m->ref[pte_frame(*ptep)]++;
		return CF_OK;
	case CF_CORRUPT_WP:
		if (!leaf || !leaf->wp)
			return CF_EINVAL;
		leaf->wp = 0;
		return CF_OK;
	case CF_CORRUPT_ZERO:
		m->zero[vpn & ((1ull << m->page_shift) - 1)] = 1;
		return CF_OK;
	case CF_CORRUPT_OUTSIDE:
		if (vpn >= va_pages(m) || region_find(as, vpn) || node_reserve_locked(m, m->levels))
			return CF_EINVAL;
		leaf = walk_alloc_locked(as, vpn);	/* no region: no entry either */
		leaf->pte[vpn & NODE_MASK] = PTE_MAPPED | PTE_READ;
		leaf->used++;
		return CF_OK;
	case CF_CORRUPT_STATS:
		if (as->stats_gen != m->gen)
			stats_refresh_locked(m);
		as->cached.uss++;
		return CF_OK;
	}
	return CF_EINVAL;
}
#endif

int cf_debug_corrupt(cf_as *as, uint64_t vpn, int kind)
{
#ifdef CF_DEBUG
	if (!as)
		return CF_EINVAL;
	pthread_mutex_lock(&as->mem->lock);
	int rc = as->closed ? CF_EBADF : corrupt_locked(as, vpn, kind);
	pthread_mutex_unlock(&as->mem->lock);
	return rc;
#else
	return CF_EINVAL;
#endif
}
