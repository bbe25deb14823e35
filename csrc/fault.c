/* fault.c - touch: bulk page accesses by page number, faulting each page in
 * (fault.h) in order, and the whole-leaf step of a child rewriting its memory.
 */
#include "fault.h"

/* Whether the next pages to touch are one whole leaf, in order. */
static bool whole_leaf_ahead(const uint64_t *vpns, size_t left)
{
	if (left < NODE_ENTRIES || vpns[NODE_MASK] != vpns[0] + NODE_MASK)
		return false;
	for (unsigned j = 1; j < NODE_MASK; j++)
		if (vpns[j] != vpns[0] + j)
			return false;
	return true;
}

/* A whole leaf was just written: start loading what the next one will read
 * (its page numbers and the shared leaf), which hardware prefetchers miss
 * because each is a new 4 KiB page. */
static void prefetch_next_leaf(const cf_as *as, const uint64_t *vpns, size_t left)
{
	if (left < 2 * NODE_ENTRIES)
		return;
	const uint64_t *next = vpns + NODE_ENTRIES;
	for (unsigned j = 0; j < NODE_ENTRIES; j += 8)
		__builtin_prefetch(next + j);
	bool ex;
	const struct node *leaf = next[0] < va_pages(as->mem) ? walk(as, next[0], &ex) : NULL;
	if (leaf)
		for (unsigned j = 0; j < NODE_ENTRIES; j += 8)
			__builtin_prefetch(&leaf->pte[j]);
}

/*
 * Write every page of a leaf that @as shares with another space, as one
 * step: the child of a fork that rewrites its whole memory. Each private
 * page is copied (or zero-filled) into a new leaf of @as's own, exactly as
 * unsharing the leaf and faulting page by page would, without taking a
 * reference on each old frame only to drop it again. Returns false, having
 * changed nothing visible, when the general path must decide instead: the
 * leaf is not shared, a page is not writable, or frames are short.
 * Preconditions: mem->lock held; @vpn is the leaf's first page.
 */
static bool cow_whole_leaf(struct batch *b, cf_as *as, uint64_t vpn)
{
	cf_mem *m = as->mem;
	bool ex;
	struct node *old = walk(as, vpn, &ex);
	if (!old || ex)
		return false;
	uint64_t need = 0;
	for (unsigned i = 0; i < NODE_ENTRIES; i++) {
		uint64_t pte = old->pte[i];
		if (!(pte & PTE_MAPPED) || !(pte & PTE_WRITE))
			return false;
		need += !(pte & PTE_SHARED);
	}
	/* free frames, less what this batch took and has not told mem yet */
	if (need > frames_free_locked(m) - (b->copies + b->zero_fills) ||
	    node_reserve_locked(m, m->levels))
		return false;
	struct node *parent = walk_alloc_to_locked(as, vpn, 1);
	struct node **slot = &parent->child[node_index(vpn, 1)];
	old = *slot;
	if (old->ref == 1)	/* private after all (a settled debt): general path */
		return false;
	track_vpn_locked(m, vpn);
	struct node *n = node_take_locked(m);
	n->ref = 1;
	n->used = old->used;
	n->level = 0;
	n->wp = 0;
	for (unsigned i = 0; i < NODE_ENTRIES; i++) {
		uint64_t pte = old->pte[i];
		n->pte[i] = pte;
		if (pte & PTE_SHARED) {
			b->ref[pte_frame(pte)]++;
			continue;
		}
		int rc = pte_has_frame(pte) ? copy_frame(b, &n->pte[i], true) : wp_zero(b, &n->pte[i]);
		CF_ASSERT(rc == CF_OK);	/* frames counted above */
		(void)rc;
		if (!pte_has_frame(pte))
			mark_written(b, as, vpn + i);
	}
	frame_copy_done();
	old->ref--;
	old->wp = 1;	/* its other holder still owes fork's write-protect */
	*slot = n;
	return true;
}

/*
 * Touch one page for @write through a cached leaf. Returns 0, a CF_SEGV_*
 * code as a positive number, or CF_ENOMEM (nothing changed for this page).
 * Reads of present pages leave a shared leaf shared: only a change unshares.
 * Preconditions: mem->lock held; *leaf is NULL or the leaf of @vpn, and *ex
 * tells whether its path is private.
 */
static hot_inline int touch_one(struct batch *b, cf_as *as, uint64_t vpn, bool write,
			    struct node **leaf, bool *ex)
{
	unsigned i = vpn & NODE_MASK;
	if (!*leaf)
		*leaf = walk(as, vpn, ex);
	uint64_t pte = *leaf ? (*leaf)->pte[i] : 0;
	const struct region *r = NULL;
	if (unlikely(!pte)) {	/* no entry yet: the region says what it will be */
		r = batch_region(b, as, vpn);
		if (!r)
			return CF_SEGV_MAPERR;
		pte = region_pte(r);
	}
	if (unlikely(!(pte & (write ? PTE_WRITE : PTE_READ))))
		return CF_SEGV_ACCERR;
	if (unlikely(r && r->shm)) {	/* a shared page this space has not touched */
		if (node_reserve_locked(as->mem, as->mem->levels))
			return CF_ENOMEM;
		track_vpn_locked(as->mem, vpn);	/* fault-around stays in this leaf */
		*leaf = make_private(as, vpn, *leaf, ex);
		return fault_shared(b, *leaf, vpn, r, write);
	}
	if (write) {
		if (pte & PTE_SHARED)
			return CF_OK;
		if (likely(*ex) && (pte & PTE_WRITABLE))
			return CF_OK;
	} else if (pte & PTE_PRESENT) {
		return CF_OK;
	}
	track_vpn_locked(as->mem, vpn);
	if ((!*leaf || !*ex) && node_reserve_locked(as->mem, as->mem->levels))
		return CF_ENOMEM;
	struct node *l = make_private(as, vpn, *leaf, ex);
	*leaf = l;
	pte_materialize(l, i, pte);
	if (!write) {
		fault_read(b, l, i);
		return CF_OK;
	}
	int rc = fault_write(b, l, i);
	if (!rc && !pte_has_frame(pte))
		mark_written(b, as, vpn);
	return rc;
}

/*
 * Touch pages @vpns[0..n) of @as in order (cf_as_touch() without the lock,
 * for callers that hold it across many calls: trace replay). Returns as
 * cf_as_touch(); *done pages were touched (untouched on CF_EBADF).
 * Preconditions: mem->lock held; arguments checked.
 */
int touch_locked(cf_as *as, const uint64_t *vpns, size_t n, bool write, size_t *done,
		 struct cf_fault *fault)
{
	cf_mem *m = as->mem;
	uint64_t limit = va_pages(m);
	struct node *leaf = NULL;
	bool ex = false;
	uint64_t leaf_id = ~0ull;
	size_t k;
	int rc = CF_OK;
	struct batch b;
	if (as->closed)
		return CF_EBADF;	/* *done untouched: nothing was */
	batch_begin(&b, m);
	for (k = 0; k < n; k++) {
		uint64_t vpn = vpns[k];
		if (unlikely(vpn >= limit)) {	/* beyond the space: not mapped */
			rc = CF_SEGV_MAPERR;
			goto fault;
		}
		if (write && (vpn & NODE_MASK) == 0 && whole_leaf_ahead(vpns + k, n - k) &&
		    cow_whole_leaf(&b, as, vpn)) {
			prefetch_next_leaf(as, vpns + k, n - k);
			k += NODE_MASK;	/* and the loop's ++: the leaf's 512 pages are done */
			leaf = NULL;
			leaf_id = ~0ull;
			continue;
		}
		if ((vpn >> NODE_BITS) != leaf_id) {
			leaf = NULL;
			leaf_id = vpn >> NODE_BITS;
		}
		rc = touch_one(&b, as, vpn, write, &leaf, &ex);
		if (unlikely(rc)) {
fault:
			if (rc > 0) {	/* the caller knows the address: vpns[done] */
				fault->addr = vpn << m->page_shift;
				fault->code = rc;
				rc = CF_EFAULT;
			}
			break;
		}
	}
	batch_end(&b, as);
	*done = k;
	return rc;
}

int cf_as_touch(cf_as *as, const uint64_t *vpns, size_t n, unsigned flags, size_t *done,
		struct cf_fault *fault)
{
	if (!as || !done || !fault || (n && !vpns) || (flags & ~CF_TOUCH_WRITE))
		return CF_EINVAL;
	cf_mem *m = as->mem;
	pthread_mutex_lock(&m->lock);
	int rc = touch_locked(as, vpns, n, flags & CF_TOUCH_WRITE, done, fault);
	pthread_mutex_unlock(&m->lock);
	return rc;
}
