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

/* One node: its own bookkeeping, and its references on frames or children
 * counted into @expect (frames) and @refs (nodes, by idx). */
static void check_node(cf_mem *m, struct node *n, uint32_t *expect, struct node **all,
		       uint64_t *refs, uint64_t *count, struct report *r)
{
	unsigned used = 0;
	for (unsigned i = 0; i < NODE_ENTRIES; i++) {
		if (n->level == 0) {
			uint64_t pte = n->pte[i];
			used += pte != 0;
			if (pte && !(pte & PTE_MAPPED))
				problem(r, "pte %#llx has no MAPPED bit", (unsigned long long)pte);
			if ((pte & PTE_WRITABLE) && !pte_has_frame(pte))
				problem(r, "writable pte %#llx maps no frame", (unsigned long long)pte);
			if (!pte_has_frame(pte))
				continue;
			if (pte_frame(pte) >= m->fresh)
				problem(r, "pte maps frame %u never allocated", pte_frame(pte));
			else
				expect[pte_frame(pte)]++;
			continue;
		}
		struct node *c = n->child[i];
		if (!c)
			continue;
		used++;
		if (c->level + 1 != n->level)
			problem(r, "node at level %u under level %u", c->level, n->level);
		if (c->mark != m->pass) {
			if (*count > m->nodes) {	/* a cycle or a leaked count */
				problem(r, "more nodes reachable than alive");
				continue;
			}
			c->mark = m->pass;
			c->idx = (uint32_t)*count;
			refs[*count] = 0;
			all[(*count)++] = c;
		}
		refs[c->idx]++;
	}
	if (used != n->used)
		problem(r, "node used %u, counted %u", n->used, used);
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

int cf_mem_check(cf_mem *m, char *msg, size_t msglen, uint64_t *problems)
{
	if (!m || !problems || (msglen && !msg))
		return CF_EINVAL;
	struct report r = {msg, msglen, 0};
	if (msglen)
		msg[0] = '\0';
	pthread_mutex_lock(&m->lock);
	int rc = CF_ENOMEM;
	uint64_t bytes = m->nframes * sizeof(uint32_t), count = 0;
	struct node **all = malloc((m->nodes + 2) * sizeof(*all));
	uint64_t *refs = malloc((m->nodes + 2) * sizeof(*refs));
	uint32_t *expect = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (!all || !refs || expect == MAP_FAILED)
		goto out;
	m->pass++;
	for (cf_as *as = m->spaces; as; as = as->next) {
		if (as->root->mark == m->pass || count > m->nodes) {
			problem(&r, "root shared between spaces");
			continue;
		}
		as->root->mark = m->pass;
		as->root->idx = (uint32_t)count;
		refs[count] = 1;	/* the space's own reference */
		all[count++] = as->root;
	}
	for (uint64_t k = 0; k < count; k++) {
		if (count > m->nodes) {
			problem(&r, "more nodes reachable than the %llu alive",
				(unsigned long long)m->nodes);
			break;
		}
		check_node(m, all[k], expect, all, refs, &count, &r);
	}
	for (uint64_t k = 0; k < count && k <= m->nodes; k++)
		if (all[k]->ref != refs[k])
			problem(&r, "node refcount %u, referenced %llu times", all[k]->ref,
				(unsigned long long)refs[k]);
	if (count != m->nodes)
		problem(&r, "%llu nodes reachable, %llu alive", (unsigned long long)count,
			(unsigned long long)m->nodes);
	check_frames(m, expect, &r);
	stats_refresh_locked(m);	/* counts every space's resident pages afresh */
	for (cf_as *as = m->spaces; as; as = as->next)
		if (as->stats_gen == m->gen && as->cached.rss != as->rss)
			problem(&r, "space counts %llu resident pages, its table holds %llu",
				(unsigned long long)as->rss, (unsigned long long)as->cached.rss);
	rc = CF_OK;
out:
	pthread_mutex_unlock(&m->lock);
	if (expect != MAP_FAILED)
		munmap(expect, bytes);
	free(all);
	free(refs);
	*problems = r.problems;
	return rc;
}
