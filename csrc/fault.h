/* fault.h - the fault handlers shared by touch (fault.c) and read/write
 * (access.c). Write faults follow Linux mm/memory.c do_wp_page(): a page this
 * space maps alone is reused in place, any other is copied, and a page never
 * written is zero-filled. Reads of untouched private pages map the shared zero
 * frame (do_anonymous_page()). Inline so that each access loop keeps its state
 * in registers. Every frame is taken by frame_take() and filled by
 * frame_fill() (frames.c): one place for the copy, whichever path asks.
 */
#ifndef COWFAST_FAULT_H
#define COWFAST_FAULT_H

#include "internal.h"

/*
 * The state one access call changes, held in locals: the frame allocator's
 * cursor and the fault counters. PTE stores could alias fields of cf_mem and
 * cf_as, which would force a reload after each one; a local struct whose
 * address never escapes stays in registers. batch_end() writes it back.
 */
struct batch {
	cf_mem *m;
	uint32_t *ref;
	uint64_t top;
	uint64_t fresh;
	uint64_t copies, zero_fills, reuses, zero_maps, shm_maps;	/* faults: their sum */
	uint64_t around;	/* shared pages mapped by fault-around: resident, no fault */
	uint64_t shared;	/* shared pages mapped, by faults or fault-around */
	struct region *rg;	/* the region last looked up (regions do not move meanwhile) */
};

static inline void batch_begin(struct batch *b, cf_mem *m)
{
	*b = (struct batch){.m = m, .ref = m->ref, .top = m->top,
			    .fresh = m->fresh};
}

static inline void batch_end(struct batch *b, cf_as *as)
{
	cf_mem *m = b->m;
	uint64_t allocs = b->copies + b->zero_fills, mapped = b->shm_maps + b->around;
	uint64_t faults = allocs + b->reuses + b->zero_maps + b->shm_maps;
	if (allocs || mapped)
		m->gen++;	/* frames moved or mapped: statistics change */
	m->top = b->top;
	m->fresh = b->fresh;
	m->used += allocs;
	as->minor_faults += faults;
	rss_add(as, b->zero_fills + mapped);
	as->shmem += b->shared;
	as->cow_copies += b->copies;
	as->zero_fills += b->zero_fills;
	as->reuses += b->reuses;
	m->total.minor_faults += faults;
	m->total.cow_copies += b->copies;
	m->total.zero_fills += b->zero_fills;
	m->total.reuses += b->reuses;
}

/* frame_take() on the batch's cursor; mem->used grows in batch_end(). */
static hot_inline int batch_alloc(struct batch *b, uint32_t *out, bool *recycled)
{
	return frame_take(b->m, &b->top, &b->fresh, out, recycled);
}

/* First write to a page never written: a fresh zeroed frame (Linux
 * do_anonymous_page(), or wp_page_copy() from the zero page). */
static hot_inline int wp_zero(struct batch *b, uint64_t *ptep)
{
	cf_mem *m = b->m;
	uint32_t f;
	bool recycled;
	if (unlikely(batch_alloc(b, &f, &recycled)))
		return CF_ENOMEM;
	if (recycled)
		frame_fill(m, f, UINT32_MAX, false);
	uint64_t keep = *ptep & (PTE_MAPPED | PTE_READ | PTE_WRITE | PTE_EXEC);
	*ptep = pte_make(keep | PTE_PRESENT | PTE_WRITABLE | PTE_EXCL, f);
	b->zero_fills++;
	return CF_OK;
}

/* Point *ptep at a new copy of its frame, writable (with streaming stores
 * when @bulk); the old frame's reference is the caller's to drop.
 * Returns 0 or CF_ENOMEM, nothing changed. */
static hot_inline int copy_frame(struct batch *b, uint64_t *ptep, bool bulk)
{
	cf_mem *m = b->m;
	uint64_t pte = *ptep;
	uint32_t f;
	bool recycled;
	if (unlikely(batch_alloc(b, &f, &recycled)))
		return CF_ENOMEM;
	if (m->contents)
		frame_fill(m, f, pte_frame(pte), bulk);
	*ptep = pte_make((pte & 0xffffffffull) | PTE_WRITABLE | PTE_EXCL, f);
	b->copies++;
	return CF_OK;
}

/* Write-protected page that another space still maps: copy it (Linux
 * wp_page_copy()). The new frame is taken before anything changes; the old
 * one keeps a reference elsewhere, so dropping ours never frees it. */
static hot_inline int wp_copy(struct batch *b, uint64_t *ptep)
{
	uint32_t old = pte_frame(*ptep);
	int rc = copy_frame(b, ptep, false);
	if (likely(!rc))
		b->ref[old]--;
	return rc;
}

/*
 * Make page @i of @leaf writable for its space (Linux do_wp_page()).
 * Returns 0 or CF_ENOMEM with nothing changed.
 * Preconditions: mem->lock held; the path to @leaf is private to its space;
 * the page is mapped private with PROT_WRITE.
 */
static hot_inline int fault_write(struct batch *b, struct node *leaf, unsigned i)
{
	uint64_t *ptep = &leaf->pte[i], pte = *ptep;
	if (likely(pte & PTE_WRITABLE))
		return CF_OK;
	if (!pte_has_frame(pte))
		return wp_zero(b, ptep);
	if (b->ref[pte_frame(pte)] == 1) {	/* wp_page_reuse() */
		*ptep = pte | PTE_WRITABLE | PTE_EXCL;
		b->reuses++;
		return CF_OK;
	}
	return wp_copy(b, ptep);
}

/* A read of a page never touched maps the zero frame: a fault, no memory.
 * Preconditions: as for fault_write(), with PROT_READ. */
static hot_inline void fault_read(struct batch *b, struct node *leaf, unsigned i)
{
	leaf->pte[i] |= PTE_PRESENT | PTE_ZERO;
	b->zero_maps++;
}

/* The region of page @vpn, or NULL; consecutive pages hit the cache. */
static hot_inline struct region *batch_region(struct batch *b, const cf_as *as, uint64_t vpn)
{
	struct region *r = b->rg;
	if (r && vpn >= r->start && vpn < r->end)
		return r;
	r = region_find(as, vpn);
	if (r)
		b->rg = r;
	return r;
}

/* A private region's first write gives it Linux's anon_vma: from then on
 * fork copies its entries. */
static hot_inline void mark_written(struct batch *b, const cf_as *as, uint64_t vpn)
{
	struct region *r = batch_region(b, as, vpn);
	if (r)
		r->flags |= REGION_WRITTEN;
}

/* The entry of page @i of @leaf, built from its region if it has none yet
 * (page tables are filled on the first fault, as Linux's are). */
static hot_inline void pte_materialize(struct node *leaf, unsigned i, uint64_t pte)
{
	if (!leaf->pte[i]) {
		leaf->pte[i] = pte;
		leaf->used++;
	}
}

/* The entry mapping frame @f for shared region @r: writable with PROT_WRITE
 * (shmem needs no write notification, so its PTEs are made writable). */
static inline uint64_t shared_pte(const struct region *r, uint32_t f)
{
	uint64_t w = (r->prot & CF_PROT_WRITE) ? PTE_WRITABLE : 0;
	return pte_make(region_pte(r) | PTE_PRESENT | w, f);
}

/* Pages that fault-around maps with a read fault on a shared page: Linux's
 * fault_around_bytes (64 KiB) in pages, within one leaf. */
static inline uint64_t fault_around_pages(const cf_mem *m)
{
	return m->page_shift >= 16 ? 1 : 1ull << (16 - m->page_shift);
}

/*
 * A read fault on a shared page also maps its neighbours that the object
 * already holds, where this space has no entry (Linux do_fault_around() and
 * filemap_map_pages(): a window of fault_around_pages, aligned in the page
 * table but starting no earlier than the region, cut at the region's end and
 * the leaf's). They count no fault.
 */
static inline void fault_around(struct batch *b, struct node *leaf, uint64_t vpn,
				const struct region *r)
{
	uint64_t nr = fault_around_pages(b->m);
	if (nr <= 1)
		return;
	uint64_t off = vpn & NODE_MASK, into = vpn - r->start;
	uint64_t from = off & ~(nr - 1), lo = off - (off < into ? off : into);
	from = from > lo ? from : lo;
	uint64_t to = from + nr;
	to = to < NODE_ENTRIES ? to : NODE_ENTRIES;
	to = to < off + (r->end - vpn) ? to : off + (r->end - vpn);
	for (uint64_t j = from; j < to; j++) {
		uint64_t v = (vpn & ~(uint64_t)NODE_MASK) + j;
		uint32_t f = leaf->pte[j] ? 0 : shm_lookup(r->shm, region_pgoff(r, v));
		if (!f)
			continue;
		leaf->pte[j] = shared_pte(r, f - 1);
		leaf->used++;
		b->ref[f - 1]++;
		b->around++;
		b->shared++;
	}
}

/*
 * The first touch of shared page @vpn by this space (Linux do_read_fault()
 * or do_shared_fault() on shmem): map the object's frame, which the first
 * touch anywhere allocates zeroed; a read also maps what fault-around finds.
 * Returns 0 or CF_ENOMEM with nothing visible changed.
 * Preconditions: mem->lock held; @leaf private; page @i has no entry.
 */
static inline int fault_shared(struct batch *b, struct node *leaf, uint64_t vpn,
			       const struct region *r, bool write)
{
	uint32_t *slot, f;
	bool recycled;
	if (shm_slot(r->shm, region_pgoff(r, vpn), &slot))
		return CF_ENOMEM;
	if (*slot) {
		f = *slot - 1;
		b->shm_maps++;
	} else {
		if (batch_alloc(b, &f, &recycled))
			return CF_ENOMEM;
		if (recycled)
			frame_fill(b->m, f, UINT32_MAX, false);
		*slot = f + 1;	/* the object's reference */
		b->zero_fills++;
	}
	b->ref[f]++;		/* this entry's */
	leaf->pte[vpn & NODE_MASK] = shared_pte(r, f);
	leaf->used++;
	b->shared++;
	if (!write)
		fault_around(b, leaf, vpn, r);
	return CF_OK;
}

/* The private leaf of @vpn for a PTE change, unless @leaf already is.
 * Preconditions: the nodes it may copy are reserved. */
static hot_inline struct node *make_private(cf_as *as, uint64_t vpn, struct node *leaf, bool *ex)
{
	if (leaf && *ex)
		return leaf;
	*ex = true;
	return walk_alloc_locked(as, vpn);
}

#endif
