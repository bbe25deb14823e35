/* pagetable.c - radix page-table nodes: allocation, reference counts, walks,
 * and unsharing on the write path. Mirrors xv6 kernel/vm.c walk(), with the
 * nodes themselves copy-on-write (cf. the COW page-table RFC for Linux): fork
 * copies only the root, and a path is copied the first time it must change.
 */
#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "internal.h"

/* Freed nodes kept for reuse: 1 in 64 of those alive (0.13 B a resident
 * page), at least 64 (256 KiB), so that reserve-then-trim within an
 * operation costs no malloc and a fork cycle that copies up to 61 leaves
 * (31,000 pages) and the path above them reuses the last cycle's nodes: with
 * 16, every cycle at 2^14 pages passed 20 nodes through malloc and free
 * (2.5 % more instructions a cycle at k=512). The rest go back to malloc,
 * and so to the host, when freed. */
#define NODE_CACHE_MIN 64

static uint64_t node_cache_bound(const cf_mem *m)
{
	uint64_t share = m->nodes / 64;
	return share > NODE_CACHE_MIN ? share : NODE_CACHE_MIN;
}

static bool node_cache_full(const cf_mem *m)
{
	return m->node_cached >= node_cache_bound(m);
}

/* A node from the cache or malloc, counted alive; its contents are stale. */
struct node *node_take_locked(cf_mem *m)
{
	struct node *n = m->node_cache;
	if (n) {
		m->node_cache = n->child[0];
		m->node_cached--;
	} else {
		n = malloc(sizeof(*n));
		if (!n)
			return NULL;
	}
	m->nodes++;
	n->mark = 0;
	return n;
}

/* A new empty node at @level with one reference, or NULL (host memory). */
struct node *node_alloc_locked(cf_mem *m, uint8_t level)
{
	struct node *n = node_take_locked(m);
	if (!n)
		return NULL;
	n->ref = 1;
	n->used = 0;
	n->level = level;
	n->wp = 0;
	memset(n->pte, 0, sizeof(n->pte));
	return n;
}

void node_free_locked(cf_mem *m, struct node *n)
{
	m->nodes--;
	if (node_cache_full(m)) {
		free(n);
		return;
	}
	n->child[0] = m->node_cache;
	m->node_cache = n;
	m->node_cached++;
}

/* Make sure the next @n node allocations cannot fail: all-or-nothing calls
 * reserve what they may need before their first visible change. */
int node_reserve_locked(cf_mem *m, uint64_t n)
{
	while (m->node_cached < n) {
		struct node *node = malloc(sizeof(*node));
		if (!node)
			return CF_ENOMEM;
		node->child[0] = m->node_cache;
		m->node_cache = node;
		m->node_cached++;
	}
	return CF_OK;
}

/* Nodes below level @top (exclusive) covering pages [first, last]. */
static uint64_t positions(uint64_t first, uint64_t last, uint32_t top)
{
	uint64_t n = 0;
	for (uint32_t lvl = 1; lvl <= top; lvl++)
		n += (last >> (NODE_BITS * lvl)) - (first >> (NODE_BITS * lvl)) + 1;
	return n;
}

/* Nodes below @n that an operation on [first, last] will copy (shared, or
 * under a shared node) or, when @create, allocate where none is. */
static uint64_t need_below(const struct node *n, uint64_t base, uint64_t first, uint64_t last,
			   bool shared, bool create)
{
	uint64_t step = 1ull << (NODE_BITS * n->level), count = 0;
	uint64_t lo = first > base ? (first - base) / step : 0;
	uint64_t hi = last < base + (step << NODE_BITS) - 1 ? (last - base) / step : NODE_MASK;
	for (uint64_t i = lo; i <= hi; i++) {
		const struct node *c = n->child[i];
		uint64_t cbase = base + i * step;
		if (!c) {
			if (create)
				count += positions(first > cbase ? first : cbase,
						   last < cbase + step - 1 ? last : cbase + step - 1,
						   n->level);
			continue;
		}
		bool s = shared || c->ref > 1;
		count += s;
		if (c->level > 0)
			count += need_below(c, cbase, first, last, s, create);
	}
	return count;
}

/* Exactly the nodes that changing pages [first, last] of @as will take, so
 * that all-or-nothing calls reserve no more host memory than they use. */
uint64_t nodes_needed(const cf_as *as, uint64_t first, uint64_t last, bool create)
{
	return need_below(as->root, 0, first, last, false, create);
}

/* Give back reserved nodes beyond the cache's size after an operation. */
void node_cache_trim_locked(cf_mem *m)
{
	while (m->node_cached > node_cache_bound(m)) {
		struct node *n = m->node_cache;
		m->node_cache = n->child[0];
		m->node_cached--;
		free(n);
	}
}

/*
 * After an exit that freed @freed nodes: when they were most of the memory's
 * page tables (the last process of a large machine), ask malloc to return the
 * pages of its free chunks to the host; else it keeps them for reuse (cheap,
 * and a fork cycle would soon ask again).
 */
void node_give_back_locked(const cf_mem *m, uint64_t freed)
{
#ifdef __GLIBC__
	if (freed >= (1u << 14) && freed > 4 * m->nodes)
		malloc_trim(0);
#endif
}

/* Drop a reference on @n; the last one releases its frames or children. */
void node_put_locked(cf_mem *m, struct node *n)
{
	CF_ASSERT(n->ref > 0);
	if (--n->ref)
		return;
	if (n->level == 0) {
		for (unsigned i = 0; i < NODE_ENTRIES; i++)
			if (pte_has_frame(n->pte[i]))
				frame_put_locked(m, pte_frame(n->pte[i]));
	} else {
		for (unsigned i = 0; i < NODE_ENTRIES; i++)
			if (n->child[i])
				node_put_locked(m, n->child[i]);
	}
	node_free_locked(m, n);
}

/*
 * Give the caller a private copy of the shared node in *@slot and return it.
 * A leaf copy takes a reference on every frame, and private pages lose their
 * write permission in both copies (the old one through its wp debt): sharing
 * the node was fork's lazy write-protect of parent and child (Linux
 * __copy_present_ptes()).
 * Returns NULL (nothing changed) when no node can be had.
 */
static struct node *node_unshare_locked(cf_mem *m, struct node **slot)
{
	struct node *old = *slot, *n = node_take_locked(m);
	if (!n)
		return NULL;
	n->ref = 1;
	n->used = old->used;
	n->level = old->level;
	n->wp = 0;
	if (old->level == 0) {
		/* The copy is protected now; the old leaf owes it (settled when next
		 * walked as private), which spares a write of 4 KiB on every copy. */
		old->wp = 1;
		for (unsigned i = 0; i < NODE_ENTRIES; i++) {
			uint64_t pte = old->pte[i];
			if (pte_has_frame(pte)) {
				m->ref[pte_frame(pte)]++;
				if (!(pte & PTE_SHARED))
					pte &= ~(PTE_WRITABLE | PTE_EXCL);
			}
			n->pte[i] = pte;
		}
	} else {
		old->wp = 0;	/* its children carry the debt from here */
		memcpy(n->child, old->child, sizeof(n->child));
		for (unsigned i = 0; i < NODE_ENTRIES; i++) {
			if (n->child[i]) {
				n->child[i]->ref++;
				n->child[i]->wp = 1;
			}
		}
	}
	old->ref--;
	*slot = n;
	return n;
}

/*
 * A node that was shared and is private again (its sibling exited before
 * anyone unshared it) still owes fork's write-protect: @wp says so. Settle
 * it before trusting its PTEs: a leaf's private pages lose WRITABLE and
 * EXCL, an interior node passes the debt to its children.
 */
static void node_settle(struct node *n)
{
	if (n->level == 0) {
		for (unsigned i = 0; i < NODE_ENTRIES; i++)
			if (pte_has_frame(n->pte[i]) && !(n->pte[i] & PTE_SHARED))
				n->pte[i] &= ~(PTE_WRITABLE | PTE_EXCL);
	} else {
		for (unsigned i = 0; i < NODE_ENTRIES; i++)
			if (n->child[i])
				n->child[i]->wp = 1;
	}
	n->wp = 0;
}

/* The leaf covering @vpn, or NULL; *exclusive tells whether every node on
 * the path belongs to @as alone and is settled (only then may a PTE's
 * WRITABLE bit be trusted and a PTE be changed in place). */
struct node *walk(const cf_as *as, uint64_t vpn, bool *exclusive)
{
	struct node *n = as->root;
	bool ex = true;
	for (uint32_t lvl = as->mem->levels - 1; lvl > 0; lvl--) {
		n = n->child[node_index(vpn, lvl)];
		if (!n)
			return NULL;
		ex = ex && n->ref == 1 && !n->wp;
	}
	*exclusive = ex;
	return n;
}

/* Whether a node on the path to @vpn is shared with another space. */
bool path_shared(const cf_as *as, uint64_t vpn)
{
	struct node *n = as->root;
	for (uint32_t lvl = as->mem->levels - 1; lvl > 0 && n; lvl--) {
		n = n->child[node_index(vpn, lvl)];
		if (n && n->ref > 1)
			return true;
	}
	return false;
}

/* The node at @level on the path to @vpn, the path down to it made private
 * to @as, creating missing nodes. Returns NULL on host memory exhaustion;
 * what was copied before that is invisible (sharing a node or not changes
 * no statistic). */
struct node *walk_alloc_to_locked(cf_as *as, uint64_t vpn, uint32_t level)
{
	cf_mem *m = as->mem;
	struct node *n = as->root;
	for (uint32_t lvl = m->levels - 1; lvl > level; lvl--) {
		struct node **slot = &n->child[node_index(vpn, lvl)];
		if (!*slot) {
			struct node *c = node_alloc_locked(m, (uint8_t)(lvl - 1));
			if (!c)
				return NULL;
			*slot = c;
			n->used++;
		} else if ((*slot)->ref > 1) {
			if (!node_unshare_locked(m, slot))
				return NULL;
		} else if ((*slot)->wp) {
			node_settle(*slot);
		}
		n = *slot;
	}
	return n;
}

struct node *walk_alloc_locked(cf_as *as, uint64_t vpn)
{
	return walk_alloc_to_locked(as, vpn, 0);
}

/* Pages below @n that hold a frame (a subtree about to be dropped). */
static uint64_t resident_below(const struct node *n)
{
	uint64_t count = 0;
	for (unsigned i = 0; i < NODE_ENTRIES; i++) {
		if (n->level == 0)
			count += pte_has_frame(n->pte[i]);
		else if (n->child[i])
			count += resident_below(n->child[i]);
	}
	return count;
}

/* Remove pages [first, last] below *@slot, a node covering pages from @base.
 * Whole nodes are dropped by reference; emptied nodes are freed. Returns the
 * resident pages the space lost.
 * Preconditions: 2 nodes a level reserved (only the range's ends are copied). */
static uint64_t unmap_node_locked(cf_mem *m, struct node **slot, uint64_t base, uint64_t first,
				  uint64_t last)
{
	struct node *n = *slot;
	uint64_t span = 1ull << (NODE_BITS * (n->level + 1)), lost = 0;
	if (first <= base && last >= base + span - 1) {
		lost = resident_below(n);
		node_put_locked(m, n);
		*slot = NULL;
		return lost;
	}
	if (n->ref > 1)
		n = node_unshare_locked(m, slot);
	else if (n->wp)
		node_settle(n);	/* children dropped here must not lose the debt */
	CF_ASSERT(n);
	uint64_t step = span >> NODE_BITS;
	unsigned lo = first > base ? (unsigned)((first - base) / step) : 0;
	unsigned hi = last < base + span - 1 ? (unsigned)((last - base) / step) : NODE_MASK;
	for (unsigned i = lo; i <= hi; i++) {
		if (n->level == 0) {
			if (!n->pte[i])
				continue;
			if (pte_has_frame(n->pte[i])) {
				frame_put_locked(m, pte_frame(n->pte[i]));
				lost++;
			}
			n->pte[i] = 0;
			n->used--;
		} else if (n->child[i]) {
			lost += unmap_node_locked(m, &n->child[i], base + i * step, first, last);
			if (!n->child[i])
				n->used--;
		}
	}
	if (n->used == 0) {
		node_put_locked(m, n);
		*slot = NULL;
	}
	return lost;
}

/* Unmap pages [first, last] of @as; the root stays even when empty. */
void range_unmap_locked(cf_as *as, uint64_t first, uint64_t last)
{
	struct node *root = as->root;
	uint32_t top = as->mem->levels - 1;
	uint64_t step = 1ull << (NODE_BITS * top);
	for (uint64_t i = first / step; i <= last / step; i++) {
		if (!root->child[i])
			continue;
		as->rss -= unmap_node_locked(as->mem, &root->child[i], i * step, first, last);
		if (!root->child[i])
			root->used--;
	}
}
