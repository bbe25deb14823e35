/* stats.c - rss, uss, shared and pss of every address space, with the
 * meanings of /proc/PID/smaps_rollup (fs/proc/task_mmu.c). One pass over the
 * distinct page-table nodes of the whole memory computes every space at
 * once; the result is cached until the next change (mem->gen).
 *
 * A frame's mapcount is the number of accounted spaces reaching the leaves
 * that map it. Nearly every frame is mapped by one leaf alone (refcount 1:
 * fork shares leaves, not frames), and then its mapcount is that leaf's
 * reach: no per-frame scratch, one read of each PTE and refcount. Only
 * frames of leaves copied by unsharing (refcount > 1) are counted in a
 * scratch array, touched only where such frames are.
 */
#include <stdlib.h>
#include <sys/mman.h>

#include "internal.h"

enum { RSS, USS, SHARED, PSS, NSUMS };

/* Scratch of one pass, indexed by node->idx. */
struct pass {
	struct node **all;	/* distinct nodes, top level first, levels contiguous */
	uint64_t *reach;	/* accounted spaces that reach each node              */
	uint64_t (*sum)[NSUMS];	/* each node's subtree sums                           */
	uint8_t *multi;		/* leaves mapping frames other leaves map too         */
	uint64_t start[8];	/* level l (from the top) is all[start[l] .. start[l+1]) */
	uint32_t *mapcount;	/* per frame, for frames with refcount > 1; or NULL   */
	uint64_t mapbytes;
};

static void pass_free(struct pass *p)
{
	free(p->all);
	free(p->reach);
	free(p->sum);
	free(p->multi);
	if (p->mapcount)
		munmap(p->mapcount, p->mapbytes);
}
static void visit(struct pass *p, uint64_t *n, struct node *c, uint32_t pass)
{
	if (c->mark != pass) {
		c->mark = pass;
		c->idx = (uint32_t)*n;
		p->reach[*n] = 0;
		p->all[(*n)++] = c;
	}
}

/* Fill p->all and p->reach. Returns CF_OK, or CF_ENOMEM (no scratch, or
 * more nodes reachable than alive: cf_mem_check() says where). */
static int collect_locked(cf_mem *m, struct pass *p)
{
	uint64_t cap = m->nodes + 1, n = 0;
	p->all = malloc(cap * sizeof(*p->all));
	p->reach = malloc(cap * sizeof(*p->reach));
	p->sum = malloc(cap * sizeof(*p->sum));
	p->multi = malloc(cap);
	if (!p->all || !p->reach || !p->sum || !p->multi)
		return CF_ENOMEM;
	m->pass++;
	for (cf_as *as = m->spaces; as; as = as->next) {
		if (n >= cap)
			return CF_ENOMEM;
		visit(p, &n, as->root, m->pass);
		p->reach[as->root->idx] += !(as->flags & CF_AS_UNACCOUNTED);
	}
	for (uint32_t l = 0; l + 1 < m->levels; l++) {
		p->start[l + 1] = n;
		for (uint64_t k = p->start[l]; k < p->start[l + 1]; k++) {
			struct node *parent = p->all[k];
			for (unsigned i = 0; i < NODE_ENTRIES; i++) {
				struct node *c = parent->child[i];
				if (!c)
					continue;
				if (c->mark != m->pass && n >= cap)
					return CF_ENOMEM;
				visit(p, &n, c, m->pass);
				p->reach[c->idx] += p->reach[k];
			}
		}
	}
	p->start[m->levels] = n;
	return CF_OK;
}

/* Add @pages pages of mapcount @c to sums @s (pss: 1/c each, fixed point). */
static inline void add_pages(uint64_t *s, uint64_t pages, uint64_t c)
{
	s[RSS] += pages;
	s[USS] += c == 1 ? pages : 0;
	s[SHARED] += c >= 2 ? pages : 0;
	s[PSS] += c ? pages * ((1ull << CF_PSS_SHIFT) / c) : 0;
}

/* Start loading the next leaf while this one is summed: each leaf is a new
 * 4 KiB page, where hardware prefetchers stop. */
static inline void prefetch_leaf(const struct node *n)
{
	for (unsigned j = 0; j < 4; j++)
		__builtin_prefetch((const char *)n + 64 * j);
}

/* Sum leaf @k's frames of refcount 1 (mapcount: the leaf's reach); count the
 * others into the scratch mapcount for multi_sums(). CF_ENOMEM: no scratch. */
static int leaf_sums(cf_mem *m, struct pass *p, uint64_t k)
{
	const struct node *leaf = p->all[k];
	const uint32_t *ref = m->ref;
	uint64_t alone = 0, reach = p->reach[k];
	unsigned multi = 0;
	for (unsigned i = 0; i < NODE_ENTRIES; i++) {
		uint64_t pte = leaf->pte[i];
		if (!pte_has_frame(pte))
			continue;
		if (likely(ref[pte_frame(pte)] == 1)) {
			alone++;
			continue;
		}
		if (!p->mapcount) {
			p->mapbytes = m->nframes * sizeof(uint32_t);
			void *a = mmap(NULL, p->mapbytes, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
			if (a == MAP_FAILED)
				return CF_ENOMEM;
			p->mapcount = a;
		}
		p->mapcount[pte_frame(pte)] += (uint32_t)reach;
		multi = 1;
	}
	for (int j = 0; j < NSUMS; j++)
		p->sum[k][j] = 0;
	add_pages(p->sum[k], alone, reach);
	p->multi[k] = (uint8_t)multi;
	return CF_OK;
}

/* Leaf @k's frames of refcount > 1, once every leaf has been counted. */
static void multi_sums(const cf_mem *m, struct pass *p, uint64_t k)
{
	const struct node *leaf = p->all[k];
	for (unsigned i = 0; i < NODE_ENTRIES; i++) {
		uint64_t pte = leaf->pte[i];
		if (pte_has_frame(pte) && m->ref[pte_frame(pte)] != 1)
			add_pages(p->sum[k], 1, p->mapcount[pte_frame(pte)]);
	}
}

/* Sums of every node, bottom-up: leaves in one pass (a second only over the
 * few leaves with frames of refcount > 1), then each level from the one below. */
static int sum_locked(cf_mem *m, struct pass *p)
{
	uint32_t leaves = m->levels - 1;
	uint64_t first = p->start[leaves], end = p->start[leaves + 1];
	bool multi = false;
	for (uint64_t k = first; k < end; k++) {
		if (k + 1 < end)
			prefetch_leaf(p->all[k + 1]);
		if (leaf_sums(m, p, k))
			return CF_ENOMEM;
		multi |= p->multi[k];
	}
	for (uint64_t k = first; multi && k < end; k++)
		if (p->multi[k])
			multi_sums(m, p, k);
	for (uint32_t l = leaves; l-- > 0;) {
		for (uint64_t k = p->start[l]; k < p->start[l + 1]; k++) {
			const struct node *n = p->all[k];
			for (int j = 0; j < NSUMS; j++)
				p->sum[k][j] = 0;
			for (unsigned i = 0; i < NODE_ENTRIES; i++)
				if (n->child[i])
					for (int j = 0; j < NSUMS; j++)
						p->sum[k][j] += p->sum[n->child[i]->idx][j];
		}
	}
	return CF_OK;
}

/* Recompute the cached statistics of every space; on failure they stay stale. */
void stats_refresh_locked(cf_mem *m)
{
	struct pass p = {0};
	if (collect_locked(m, &p) || sum_locked(m, &p))
		goto out;
	for (cf_as *as = m->spaces; as; as = as->next) {
		const uint64_t *s = p.sum[as->root->idx];
		bool accounted = !(as->flags & CF_AS_UNACCOUNTED);
		as->cached.rss = s[RSS];
		as->cached.uss = accounted ? s[USS] : 0;
		as->cached.shared = accounted ? s[SHARED] : 0;
		as->cached.pss_fx = accounted ? s[PSS] : 0;
		as->stats_gen = m->gen;
	}
out:
	pass_free(&p);
}

int cf_as_stats(cf_as *as, struct cf_as_stats *out)
{
	if (!as || !out)
		return CF_EINVAL;
	cf_mem *m = as->mem;
	pthread_mutex_lock(&m->lock);
	if (as->closed) {		/* unlinked: the pass below cannot reach it */
		pthread_mutex_unlock(&m->lock);
		return CF_EBADF;
	}
	if (as->stats_gen != m->gen)
		stats_refresh_locked(m);
	int rc = as->stats_gen == m->gen ? CF_OK : CF_ENOMEM;
	if (!rc) {
		*out = as->cached;
		out->minor_faults = as->minor_faults;
		out->cow_copies = as->cow_copies;
		out->zero_fills = as->zero_fills;
		out->reuses = as->reuses;
	}
	pthread_mutex_unlock(&m->lock);
	return rc;
}

int cf_as_counters(cf_as *as, struct cf_as_counters *out)
{
	if (!as || !out)
		return CF_EINVAL;
	pthread_mutex_lock(&as->mem->lock);
	if (as->closed) {
		pthread_mutex_unlock(&as->mem->lock);
		return CF_EBADF;
	}
	*out = (struct cf_as_counters){
		.rss = as->rss,
		.peak_rss = as->hwm,
		.minor_faults = as->minor_faults,
		.cow_copies = as->cow_copies,
		.zero_fills = as->zero_fills,
		.reuses = as->reuses,
	};
	pthread_mutex_unlock(&as->mem->lock);
	return CF_OK;
}

/* The public page word is the PTE without the bits that only the fault path
 * reads (WRITABLE, EXCL); a page without a frame of its own has frame 0. */
_Static_assert(CF_PAGE_MAPPED == PTE_MAPPED && CF_PAGE_SHARED == PTE_SHARED &&
		       CF_PAGE_PRESENT == PTE_PRESENT && CF_PAGE_ZERO == PTE_ZERO &&
		       CF_PAGE_PROT_SHIFT == PTE_PROT_SHIFT &&
		       CF_PAGE_FRAME_SHIFT == PTE_FRAME_SHIFT,
	       "the public page word is the PTE's layout");

static uint64_t page_word(uint64_t pte)
{
	uint64_t w = pte & ~(PTE_WRITABLE | PTE_EXCL);
	return pte_has_frame(pte) ? w : w & ((1ull << PTE_FRAME_SHIFT) - 1);
}

/* The page words of pages [vpn, vpn + n) that have no entry: their region's
 * (mapped, not present), or 0 outside every region. */
static void region_words(const cf_as *as, uint64_t vpn, uint64_t n, uint64_t *out)
{
	uint64_t end = vpn + n;
	for (uint64_t i = 0; i < n; i++)
		out[i] = 0;
	for (uint32_t k = region_index(as, vpn); k < as->nrg && as->rg[k].start < end; k++) {
		const struct region *r = &as->rg[k];
		uint64_t lo = r->start > vpn ? r->start : vpn, hi = r->end < end ? r->end : end;
		for (uint64_t v = lo; v < hi; v++)
			out[v - vpn] = page_word(region_pte(r));
	}
}

/*
 * /proc/PID/pagemap's job (fs/proc/task_mmu.c, like smaps): the state of @n
 * pages from page number @vpn, one word each: the entry's where there is
 * one, else the region's. Reads only.
 */
int cf_as_pagemap(cf_as *as, uint64_t vpn, uint64_t n, uint64_t *out)
{
	if (!as || (n && !out))
		return CF_EINVAL;
	cf_mem *m = as->mem;
	uint64_t limit = va_pages(m);
	if (vpn > limit || n > limit - vpn)
		return CF_EINVAL;
	pthread_mutex_lock(&m->lock);
	if (as->closed) {
		pthread_mutex_unlock(&m->lock);
		return CF_EBADF;
	}
	region_words(as, vpn, n, out);
	for (uint64_t i = 0; i < n;) {
		bool exclusive;
		const struct node *leaf = walk(as, vpn + i, &exclusive);
		unsigned idx = node_index(vpn + i, 0);
		uint64_t run = NODE_ENTRIES - idx;
		if (run > n - i)
			run = n - i;
		for (uint64_t j = 0; leaf && j < run; j++)
			if (leaf->pte[idx + j])
				out[i + j] = page_word(leaf->pte[idx + j]);
		i += run;
	}
	pthread_mutex_unlock(&m->lock);
	return CF_OK;
}
