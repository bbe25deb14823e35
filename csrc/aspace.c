/* aspace.c - the address-space entry points that change mappings: new, fork,
 * free, map, unmap, protect. Each validates first, takes the memory's lock,
 * reserves every frame and node it may need, and only then changes anything
 * (the shape of gVisor's mm syscalls; Linux mmap(2), munmap(2), mprotect(2)).
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define PROT_MASK (CF_PROT_READ | CF_PROT_WRITE | CF_PROT_EXEC)

/* Page range of [addr, addr + len) with len rounded up to pages: false when
 * addr is unaligned, len is 0 or the range leaves the 48-bit space. */
static bool range_ok(const cf_mem *m, uint64_t addr, uint64_t len, uint64_t *first,
		     uint64_t *last)
{
	uint64_t mask = (1ull << m->page_shift) - 1, va = 1ull << CF_VA_BITS;
	if ((addr & mask) || len == 0 || addr >= va || len > va - addr)
		return false;
	*first = addr >> m->page_shift;
	*last = (addr + len - 1) >> m->page_shift;
	return true;
}

static void link_locked(cf_mem *m, cf_as *as)
{
	as->prev = NULL;
	as->next = m->spaces;
	if (m->spaces)
		m->spaces->prev = as;
	m->spaces = as;
	m->refs++;
	m->gen++;
}

static int as_create_locked(cf_mem *m, unsigned flags, cf_as **out)
{
	cf_as *as = calloc(1, sizeof(*as));
	struct node *root = as ? node_alloc_locked(m, (uint8_t)(m->levels - 1)) : NULL;
	if (!root) {
		free(as);
		return CF_ENOMEM;
	}
	as->mem = m;
	as->root = root;
	as->flags = flags;
	as->stats_gen = ~0ull;
	link_locked(m, as);
	*out = as;
	return CF_OK;
}

int cf_as_new(cf_mem *m, unsigned flags, cf_as **out)
{
	if (!m || !out || (flags & ~CF_AS_UNACCOUNTED))
		return CF_EINVAL;
	pthread_mutex_lock(&m->lock);
	int rc = as_create_locked(m, flags, out);
	pthread_mutex_unlock(&m->lock);
	return rc;
}

/* Drop the child's entries of every region fork does not copy: Linux's
 * vma_needs_copy() copies none of a region without an anon_vma, that is a
 * private region never written (its entries are zero pages only) or a
 * shared one: the child faults them in again, from the zero page or the
 * mapping's object. Only subtrees with entries are visited.
 * Returns 0 or CF_ENOMEM. */
static int fork_drop_uncopied_locked(cf_as *child)
{
	cf_mem *m = child->mem;
	for (uint32_t k = 0; k < child->nrg; k++) {
		const struct region *r = &child->rg[k];
		if (r->flags & REGION_WRITTEN)
			continue;
		if (next_leaf(child, r->start, r->end - 1) == UINT64_MAX)
			continue;
		if (node_reserve_locked(m, 2ull * m->levels))
			return CF_ENOMEM;
		range_unmap_locked(child, r->start, r->end - 1);
	}
	return CF_OK;
}

/*
 * The child shares every page-table node below the root with @parent, so
 * fork costs one root copy plus the regions whatever the size (Linux copies
 * every PTE in copy_page_range(); the write-protect it does there happens
 * lazily here, when a shared node is first unshared). Counters start at
 * zero, and the child is always accounted: forking a page cache is how a
 * program starts.
 */
int cf_as_fork(cf_as *parent, cf_as **child)
{
	if (!parent || !child)
		return CF_EINVAL;
	cf_mem *m = parent->mem;
	cf_as *as;
	pthread_mutex_lock(&m->lock);
	int rc = parent->closed ? CF_EBADF : as_create_locked(m, 0, &as);	/* a page cache's child is a process */
	if (!rc) {
		struct node *root = as->root, *from = parent->root;
		memcpy(root->child, from->child, sizeof(root->child));
		root->used = from->used;
		as->rss = parent->rss;
		for (unsigned i = 0; i < NODE_ENTRIES; i++) {
			if (root->child[i]) {
				root->child[i]->ref++;
				root->child[i]->wp = 1;	/* fork's write-protect, owed */
			}
		}
		track_range_locked(parent, 0, va_pages(m) - 1);	/* every frame: one more mapper */
		rc = region_copy(as, parent);
		if (!rc)
			rc = fork_drop_uncopied_locked(as);
		as->hwm = as->rss;	/* Linux dup_mm(): hiwater_rss = rss */
		if (rc) {
			pthread_mutex_unlock(&m->lock);
			cf_as_free(as);		/* never seen: its close changes nothing visible */
			return rc;
		}
		*child = as;
	}
	pthread_mutex_unlock(&m->lock);
	return rc;
}

/* A closed space's root: empty, so that a read-only walk racing close()
 * finds nothing mapped instead of a freed node. Never written. */
static struct node closed_root;

/* Release the space's frames and page tables and unlink it; the struct
 * stays for calls still in flight, which see @closed (Linux exit_mmap()
 * while the mm_struct lives on for its other users). */
int cf_as_close(cf_as *as)
{
	if (!as)
		return CF_EINVAL;
	cf_mem *m = as->mem;
	pthread_mutex_lock(&m->lock);
	if (!as->closed) {
		if (as->prev)
			as->prev->next = as->next;
		else
			m->spaces = as->next;
		if (as->next)
			as->next->prev = as->prev;
		track_close_locked(as);
		uint64_t nodes = m->nodes;
		node_put_locked(m, as->root);
		as->root = &closed_root;
		region_free_locked(as);
		as->rss = as->shmem = 0;
		as->closed = true;
		m->gen++;
		node_cache_trim_locked(m);
		node_give_back_locked(m, nodes - m->nodes);
		frames_reset_if_idle_locked(m);
	}
	pthread_mutex_unlock(&m->lock);
	return CF_OK;
}

/* Preconditions: no call on @as is in flight or will be made. */
void cf_as_free(cf_as *as)
{
	if (!as)
		return;
	cf_mem *m = as->mem;
	cf_as_close(as);
	free(as);
	mem_put(m);
}

/* Unmap the entries of pages [first, last], region by region (entries lie
 * only inside regions), keeping the count of resident shared pages.
 * Preconditions: as for range_unmap_locked(). */
static void unmap_entries_locked(cf_as *as, uint64_t first, uint64_t last)
{
	for (uint32_t k = region_index(as, first); k < as->nrg && as->rg[k].start <= last; k++) {
		const struct region *r = &as->rg[k];
		uint64_t rss = as->rss;
		range_unmap_locked(as, r->start > first ? r->start : first,
				   r->end - 1 < last ? r->end - 1 : last);
		if (r->shm)
			as->shmem -= rss - as->rss;
	}
}

/* Nodes that unmap_entries_locked() may copy: two a level for each region
 * it unmaps entries of (only each range's ends are copied), none where the
 * range has no entries. */
static uint64_t unmap_nodes(const cf_as *as, uint64_t first, uint64_t last)
{
	uint64_t n = 0;
	for (uint32_t k = region_index(as, first); k < as->nrg && as->rg[k].start <= last; k++) {
		const struct region *r = &as->rg[k];
		uint64_t lo = r->start > first ? r->start : first;
		if (next_leaf(as, lo, r->end - 1 < last ? r->end - 1 : last) != UINT64_MAX)
			n += 2ull * as->mem->levels;
	}
	return n;
}

/* A shared mapping is a new object (Linux: a shmem file), whose frames are
 * faulted in on first touch; a private one is a region. Nothing is
 * populated: page tables are built by faults. */
int cf_as_map(cf_as *as, uint64_t addr, uint64_t len, unsigned prot, unsigned flags)
{
	uint64_t first, last;
	if (!as || (prot & ~PROT_MASK) || (flags & ~CF_MAP_SHARED) ||
	    !range_ok(as->mem, addr, len, &first, &last))
		return CF_EINVAL;
	cf_mem *m = as->mem;
	struct shm *shm = NULL;
	if ((flags & CF_MAP_SHARED) && !(shm = shm_new(last - first + 1)))
		return CF_ENOMEM;
	pthread_mutex_lock(&m->lock);
	int rc = as->closed ? CF_EBADF : region_reserve(as, 2);
	if (!rc)	/* MAP_FIXED: what was there goes first */
		rc = node_reserve_locked(m, unmap_nodes(as, first, last));
	if (!rc) {
		track_range_locked(as, first, last);	/* frames the range drops */
		unmap_entries_locked(as, first, last);
		region_carve_locked(as, first, last);
		region_add_locked(as, first, last, prot, shm);
		shm = NULL;
		m->gen++;
	}
	if (shm)
		shm_put_locked(m, shm);
	node_cache_trim_locked(m);
	pthread_mutex_unlock(&m->lock);
	return rc;
}

int cf_as_unmap(cf_as *as, uint64_t addr, uint64_t len)
{
	uint64_t first, last;
	if (!as || !range_ok(as->mem, addr, len, &first, &last))
		return CF_EINVAL;
	cf_mem *m = as->mem;
	pthread_mutex_lock(&m->lock);
	int rc = as->closed ? CF_EBADF : region_reserve(as, 2);	/* a hole splits one in three */
	if (!rc)
		rc = node_reserve_locked(m, unmap_nodes(as, first, last));
	if (!rc) {
		track_range_locked(as, first, last);	/* frames the range drops */
		unmap_entries_locked(as, first, last);
		region_carve_locked(as, first, last);
		m->gen++;
	}
	pthread_mutex_unlock(&m->lock);
	return rc;
}

/* The first page >= @vpn and <= @last whose leaf exists, or UINT64_MAX:
 * absent subtrees are skipped whole, so a sparse range costs its entries. */
uint64_t next_leaf(const cf_as *as, uint64_t vpn, uint64_t last)
{
	while (vpn <= last) {
		const struct node *n = as->root;
		uint32_t lvl = as->mem->levels - 1;
		for (; lvl > 0 && n->child[node_index(vpn, lvl)]; lvl--)
			n = n->child[node_index(vpn, lvl)];
		if (lvl == 0)
			return vpn;
		uint64_t span = 1ull << (NODE_BITS * lvl);
		vpn = (vpn & ~(span - 1)) + span;
	}
	return UINT64_MAX;
}

/* New protection for one PTE. Adding PROT_WRITE makes a private page
 * writable only if this space owned it exclusively (Linux
 * can_change_pte_writable() and PageAnonExclusive). */
static uint64_t pte_protect(uint64_t pte, unsigned prot)
{
	pte &= ~(PTE_READ | PTE_WRITE | PTE_EXEC | PTE_WRITABLE);
	pte |= (uint64_t)prot << PTE_PROT_SHIFT;
	if ((prot & CF_PROT_WRITE) && (pte & PTE_SHARED))
		pte |= PTE_WRITABLE;
	else if ((prot & CF_PROT_WRITE) && (pte & PTE_EXCL) && pte_has_frame(pte))
		pte |= PTE_WRITABLE;
	return pte;
}

/* Change the entries of pages [first, last] that exist (the others are
 * built from the region on their first fault).
 * Preconditions: the nodes it copies are reserved. */
static void range_protect_locked(cf_as *as, uint64_t first, uint64_t last, unsigned prot)
{
	for (uint64_t vpn = next_leaf(as, first, last); vpn <= last;) {
		struct node *leaf = walk_alloc_locked(as, vpn);
		uint64_t end = (vpn | NODE_MASK) < last ? vpn | NODE_MASK : last;
		for (uint64_t v = vpn; v <= end; v++)
			if (leaf->pte[v & NODE_MASK])
				leaf->pte[v & NODE_MASK] = pte_protect(leaf->pte[v & NODE_MASK], prot);
		if (end == last)
			break;
		vpn = next_leaf(as, end + 1, last);
	}
}

int cf_as_protect(cf_as *as, uint64_t addr, uint64_t len, unsigned prot,
		  struct cf_fault *fault)
{
	uint64_t first, last;
	if (!as || !fault)
		return CF_EINVAL;
	if (len == 0)	/* Linux checks alignment, then length, then prot */
		return (addr & ((1ull << as->mem->page_shift) - 1)) ? CF_EINVAL : CF_OK;
	if ((prot & ~PROT_MASK) || !range_ok(as->mem, addr, len, &first, &last))
		return CF_EINVAL;
	cf_mem *m = as->mem;
	pthread_mutex_lock(&m->lock);
	int rc = as->closed ? CF_EBADF : CF_OK;
	uint64_t hole = rc ? UINT64_MAX : region_hole(as, first, last);
	if (hole != UINT64_MAX) {
		fault->addr = hole << m->page_shift;
		fault->code = CF_SEGV_MAPERR;
		rc = CF_EFAULT;
	}
	if (!rc)
		rc = region_reserve(as, 2);
	if (!rc)
		rc = node_reserve_locked(m, nodes_needed(as, first, last, false));
	if (!rc) {
		range_protect_locked(as, first, last, prot);
		region_protect_locked(as, first, last, prot);
	}
	node_cache_trim_locked(m);
	pthread_mutex_unlock(&m->lock);
	return rc;
}
