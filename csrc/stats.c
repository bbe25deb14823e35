/* stats.c - rss, uss, shared and pss of every address space, with the
 * meanings of /proc/PID/smaps_rollup (fs/proc/task_mmu.c). One pass over the
 * distinct page-table nodes of the whole memory computes every space at
 * once; the result is cached until the next change (mem->gen).
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
	uint64_t start[8];	/* level l (from the top) is all[start[l] .. start[l+1]) */
};

static void pass_free(struct pass *p)
{
	free(p->all);
	free(p->reach);
	free(p->sum);
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
	if (!p->all || !p->reach || !p->sum)
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

/* A leaf's sums given @mapcount per frame. */
static void leaf_sums(const struct node *leaf, const uint32_t *mapcount, uint64_t *s)
{
	for (unsigned i = 0; i < NODE_ENTRIES; i++) {
		uint64_t pte = leaf->pte[i];
		if (!pte_has_frame(pte))
			continue;
		uint32_t c = mapcount[pte_frame(pte)];
		s[RSS]++;
		s[USS] += c == 1;
		s[SHARED] += c >= 2;
		if (c)
			s[PSS] += (1ull << CF_PSS_SHIFT) / c;
	}
}

/* Sums of every node, bottom-up, from per-frame mapcounts. */
static void sum_locked(cf_mem *m, struct pass *p, uint32_t *mapcount)
{
	uint32_t leaves = m->levels - 1;
	for (uint64_t k = p->start[leaves]; k < p->start[leaves + 1]; k++) {
		const struct node *leaf = p->all[k];
		for (unsigned i = 0; i < NODE_ENTRIES; i++)
			if (pte_has_frame(leaf->pte[i]))
				mapcount[pte_frame(leaf->pte[i])] += (uint32_t)p->reach[k];
	}
	for (uint64_t k = p->start[leaves]; k < p->start[leaves + 1]; k++) {
		for (int j = 0; j < NSUMS; j++)
			p->sum[k][j] = 0;
		leaf_sums(p->all[k], mapcount, p->sum[k]);
	}
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
}

/* Recompute the cached statistics of every space; on failure they stay stale. */
void stats_refresh_locked(cf_mem *m)
{
	struct pass p = {0};
	uint64_t bytes = m->nframes * sizeof(uint32_t);
	uint32_t *mapcount = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mapcount == MAP_FAILED || collect_locked(m, &p))
		goto out;
	sum_locked(m, &p, mapcount);
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
	if (mapcount != MAP_FAILED)
		munmap(mapcount, bytes);
	pass_free(&p);
}

int cf_as_stats(cf_as *as, struct cf_as_stats *out)
{
	if (!as || !out)
		return CF_EINVAL;
	cf_mem *m = as->mem;
	pthread_mutex_lock(&m->lock);
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

/*
 * /proc/PID/pagemap's job (fs/proc/task_mmu.c, like smaps): the state of @n
 * pages from page number @vpn, one word each, a leaf at a time. Reads only.
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
	for (uint64_t i = 0; i < n;) {
		bool exclusive;
		const struct node *leaf = walk(as, vpn + i, &exclusive);
		unsigned idx = node_index(vpn + i, 0);
		uint64_t run = NODE_ENTRIES - idx;
		if (run > n - i)
			run = n - i;
		for (uint64_t j = 0; j < run; j++)
			out[i + j] = leaf ? page_word(leaf->pte[idx + j]) : 0;
		i += run;
	}
	pthread_mutex_unlock(&m->lock);
	return CF_OK;
}
