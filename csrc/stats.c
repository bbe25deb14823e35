/* stats.c - rss, uss, shared and pss of every address space, with the
 * meanings of /proc/PID/smaps_rollup (fs/proc/task_mmu.c). One pass over the
 * distinct page-table nodes of the whole memory computes every space at
 * once; the result is cached until the next change (mem->gen).
 */
#include <stdlib.h>
#include <sys/mman.h>

#include "internal.h"

enum { RSS, USS, SHARED, PSS };

/*
 * Every distinct node reachable from a live space, top level first, each
 * level contiguous; node->m is the number of accounted spaces reaching it.
 * Returns the array (caller frees) with level boundaries in @start (a level
 * l occupies [start[l], start[l + 1]) counting from the top), or NULL.
 */
static struct node **collect_locked(cf_mem *m, uint64_t *start)
{
	struct node **all = malloc((m->nodes + 2) * sizeof(*all));
	if (!all)
		return NULL;
	uint64_t n = 0;
	m->pass++;
	start[0] = 0;
	for (cf_as *as = m->spaces; as; as = as->next) {
		as->root->m = !(as->flags & CF_AS_UNACCOUNTED);
		as->root->mark = m->pass;
		all[n++] = as->root;
	}
	for (uint32_t l = 0; l + 1 < m->levels; l++) {
		start[l + 1] = n;
		for (uint64_t k = start[l]; k < start[l + 1]; k++) {
			struct node *p = all[k];
			for (unsigned i = 0; i < NODE_ENTRIES; i++) {
				struct node *c = p->child[i];
				if (!c)
					continue;
				if (c->mark != m->pass) {
					if (n > m->nodes)
						goto corrupt;	/* cf_mem_check() says where */
					c->mark = m->pass;
					c->m = 0;
					all[n++] = c;
				}
				c->m += p->m;
			}
		}
	}
	start[m->levels] = n;
	return all;
corrupt:
	free(all);
	return NULL;
}

/* Sum a leaf's pages given @mapcount per frame. */
static void leaf_sums(const cf_mem *m, struct node *leaf, const uint32_t *mapcount)
{
	uint64_t s[4] = {0};
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
	for (int k = 0; k < 4; k++)
		leaf->sum[k] = s[k];
}

void stats_refresh_locked(cf_mem *m)
{
	uint64_t start[8];
	struct node **all = collect_locked(m, start);
	uint32_t *mapcount = mmap(NULL, m->nframes * sizeof(uint32_t), PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (!all || mapcount == MAP_FAILED)
		goto out;	/* stats stay stale; the caller reports ENOMEM */
	uint32_t leaves = m->levels - 1;
	for (uint64_t k = start[leaves]; k < start[leaves + 1]; k++) {
		struct node *leaf = all[k];
		for (unsigned i = 0; i < NODE_ENTRIES; i++)
			if (pte_has_frame(leaf->pte[i]))
				mapcount[pte_frame(leaf->pte[i])] += (uint32_t)leaf->m;
	}
	for (uint64_t k = start[leaves]; k < start[leaves + 1]; k++)
		leaf_sums(m, all[k], mapcount);
	for (uint32_t l = leaves; l-- > 0;) {	/* bottom-up: children are done */
		for (uint64_t k = start[l]; k < start[l + 1]; k++) {
			struct node *p = all[k];
			uint64_t s[4] = {0};
			for (unsigned i = 0; i < NODE_ENTRIES; i++)
				if (p->child[i])
					for (int j = 0; j < 4; j++)
						s[j] += p->child[i]->sum[j];
			for (int j = 0; j < 4; j++)
				p->sum[j] = s[j];
		}
	}
	for (cf_as *as = m->spaces; as; as = as->next) {
		bool accounted = !(as->flags & CF_AS_UNACCOUNTED);
		as->cached.rss = as->root->sum[RSS];
		as->cached.uss = accounted ? as->root->sum[USS] : 0;
		as->cached.shared = accounted ? as->root->sum[SHARED] : 0;
		as->cached.pss_fx = accounted ? as->root->sum[PSS] : 0;
		as->stats_gen = m->gen;
	}
out:
	if (mapcount != MAP_FAILED)
		munmap(mapcount, m->nframes * sizeof(uint32_t));
	free(all);
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
