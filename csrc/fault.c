/* fault.c - page faults and the access entry points (read, write, touch).
 * Write faults follow Linux mm/memory.c do_wp_page(): a page this space maps
 * alone is reused in place, any other is copied, and a page never written is
 * zero-filled. Reads of untouched private pages map the shared zero frame
 * (do_anonymous_page()). The hot loops live here, next to the fault code, so
 * that the compiler can inline it.
 */
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "internal.h"

/*
 * Copy one frame that will not be read again soon (a bulk copy-on-write):
 * streaming stores skip reading each destination line first, which is how a
 * large memcpy runs at twice the speed of many page-sized ones. Frames are
 * page-aligned. The caller fences (stream_done()) before the bytes are read.
 */
static void copy_stream(uint8_t *dst, const uint8_t *src, size_t n)
{
#ifdef __SSE2__
	for (size_t i = 0; i < n; i += 64) {
		__m128i a = _mm_loadu_si128((const __m128i *)(src + i));
		__m128i b = _mm_loadu_si128((const __m128i *)(src + i + 16));
		__m128i c = _mm_loadu_si128((const __m128i *)(src + i + 32));
		__m128i d = _mm_loadu_si128((const __m128i *)(src + i + 48));
		_mm_stream_si128((__m128i *)(dst + i), a);
		_mm_stream_si128((__m128i *)(dst + i + 16), b);
		_mm_stream_si128((__m128i *)(dst + i + 32), c);
		_mm_stream_si128((__m128i *)(dst + i + 48), d);
	}
#else
	memcpy(dst, src, n);
#endif
}

static void stream_done(void)
{
#ifdef __SSE2__
	_mm_sfence();
#endif
}

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
	uint64_t copies, zero_fills, reuses, zero_maps;	/* faults: their sum */
};

static inline void batch_begin(struct batch *b, cf_mem *m)
{
	*b = (struct batch){.m = m, .ref = m->ref, .top = m->top,
			    .fresh = m->fresh};
}

static inline void batch_end(struct batch *b, cf_as *as)
{
	cf_mem *m = b->m;
	uint64_t allocs = b->copies + b->zero_fills;
	uint64_t faults = allocs + b->reuses + b->zero_maps;
	if (allocs)
		m->gen++;	/* frames moved: statistics change */
	m->top = b->top;
	m->fresh = b->fresh;
	m->used += allocs;
	as->minor_faults += faults;
	rss_add(as, b->zero_fills);
	as->cow_copies += b->copies;
	as->zero_fills += b->zero_fills;
	as->reuses += b->reuses;
	m->total.minor_faults += faults;
	m->total.cow_copies += b->copies;
	m->total.zero_fills += b->zero_fills;
	m->total.reuses += b->reuses;
}

/* frame_alloc_locked() on the batch's cursor. */
static hot_inline int batch_alloc(struct batch *b, uint32_t *out, bool *recycled)
{
	uint32_t f;
	if (b->top) {
		f = b->m->stack[--b->top];
		*recycled = true;
	} else if (likely(b->fresh < b->m->nframes)) {
		f = (uint32_t)b->fresh++;
		*recycled = false;
	} else {
		return CF_ENOMEM;
	}
	b->ref[f] = 1;	/* mem->used grows in batch_end(): copies + zero fills */
	*out = f;
	return CF_OK;
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
	if (m->contents && recycled)
		memset(frame_bytes(m, f), 0, 1u << m->page_shift);
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
	if (m->contents && bulk)
		copy_stream(frame_bytes(m, f), frame_bytes(m, pte_frame(pte)), 1u << m->page_shift);
	else if (m->contents)
		memcpy(frame_bytes(m, f), frame_bytes(m, pte_frame(pte)), 1u << m->page_shift);
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

/* 0 when @as may access page @vpn (write or read), else a CF_SEGV_* code. */
static int access_check(const cf_as *as, uint64_t vpn, bool write)
{
	bool ex;
	if (vpn >= va_pages(as->mem))
		return CF_SEGV_MAPERR;
	struct node *leaf = walk(as, vpn, &ex);
	uint64_t pte = leaf ? leaf->pte[vpn & NODE_MASK] : 0;
	if (!(pte & PTE_MAPPED))
		return CF_SEGV_MAPERR;
	return (pte & (write ? PTE_WRITE : PTE_READ)) ? 0 : CF_SEGV_ACCERR;
}

/* Whether a write to mapped, writable page @vpn will take a frame. */
static bool write_needs_frame(const cf_as *as, uint64_t vpn)
{
	bool ex;
	uint64_t pte = walk(as, vpn, &ex)->pte[vpn & NODE_MASK];
	if (pte & PTE_SHARED)
		return false;
	if (!pte_has_frame(pte))
		return true;
	if (ex && (pte & PTE_WRITABLE))
		return false;
	if (path_shared(as, vpn))	/* unsharing takes a second reference on the frame */
		return true;
	return as->mem->ref[pte_frame(pte)] > 1;	/* else reuse */
}

/*
 * Check pages [first, last] for an access; on a fault fill @fault (if any)
 * with the first faulting byte of [addr, ...) and return CF_EFAULT.
 */
static int check_range(const cf_as *as, uint64_t addr, uint64_t first, uint64_t last,
		       bool write, struct cf_fault *fault)
{
	uint32_t shift = as->mem->page_shift;
	for (uint64_t vpn = first; vpn <= last; vpn++) {
		int code = access_check(as, vpn, write);
		if (code && fault) {
			fault->addr = vpn == first ? addr : vpn << shift;
			fault->code = code;
		}
		if (code)
			return CF_EFAULT;
	}
	return CF_OK;
}

/* Validate an access of @len bytes at @addr; sets the page range. */
static int access_args(const cf_as *as, uint64_t addr, size_t len, const void *buf,
		       uint64_t *first, uint64_t *last)
{
	if (!as || (len && !buf) || addr + len < addr)
		return CF_EINVAL;
	*first = addr >> as->mem->page_shift;
	*last = len ? (addr + len - 1) >> as->mem->page_shift : *first;
	return CF_OK;
}

/* The private leaf of @vpn for a PTE change, unless @leaf already is.
 * Preconditions: the nodes it may copy are reserved. */
static hot_inline struct node *make_private(cf_as *as, uint64_t vpn, struct node *leaf, bool *ex)
{
	if (*ex)
		return leaf;
	*ex = true;
	return walk_alloc_locked(as, vpn);
}

/* Frames a write to pages [first, last] will take (all mapped and writable). */
static uint64_t frames_needed(const cf_as *as, uint64_t first, uint64_t last)
{
	uint64_t need = 0;
	for (uint64_t vpn = first; vpn <= last; vpn++)
		need += write_needs_frame(as, vpn);
	return need;
}

/*
 * Move @len bytes between @buf and [@addr, @addr + @len), faulting each page
 * in as the access needs: into the pages for @write (from @buf, which is
 * then only read), out of them otherwise.
 * Preconditions: mem->lock held; every page checked, frames counted and
 * nodes reserved, so nothing here can fail.
 */
static void copy_range_locked(cf_as *as, uint64_t addr, uint8_t *buf, size_t len, bool write)
{
	cf_mem *m = as->mem;
	uint64_t psize = 1ull << m->page_shift;
	struct batch b;
	batch_begin(&b, m);
	for (uint64_t vpn = addr >> m->page_shift; len; vpn++) {
		bool ex;
		struct node *leaf = walk(as, vpn, &ex);
		unsigned i = vpn & NODE_MASK;
		uint64_t pte = leaf->pte[i];
		if (write ? !(pte & PTE_SHARED) : !(pte & PTE_PRESENT)) {
			leaf = make_private(as, vpn, leaf, &ex);
			if (write)
				fault_write(&b, leaf, i);
			else
				fault_read(&b, leaf, i);
			pte = leaf->pte[i];
		}
		uint64_t off = addr & (psize - 1);
		size_t n = psize - off < len ? psize - off : len;
		uint8_t *frame = m->contents && pte_has_frame(pte) ?
			frame_bytes(m, pte_frame(pte)) + off : NULL;
		if (write && frame)
			memcpy(frame, buf, n);
		else if (!write)
			memcpy(buf, frame ? frame : m->zero + off, n);
		buf += n;
		addr += n;
		len -= n;
	}
	batch_end(&b, as);
}

int cf_as_write(cf_as *as, uint64_t addr, const void *src, size_t len, struct cf_fault *fault)
{
	uint64_t first, last;
	int rc = access_args(as, addr, len, src, &first, &last);
	if (rc || len == 0)
		return rc;
	cf_mem *m = as->mem;
	pthread_mutex_lock(&m->lock);
	rc = as->closed ? CF_EBADF : check_range(as, addr, first, last, true, fault);
	if (!rc && frames_needed(as, first, last) > frames_free_locked(m))
		rc = CF_ENOMEM;
	if (!rc)
		rc = node_reserve_locked(m, nodes_needed(as, first, last, false));
	if (!rc)
		copy_range_locked(as, addr, (uint8_t *)src, len, true);	/* only read */
	pthread_mutex_unlock(&m->lock);
	return rc;
}

int cf_as_read(cf_as *as, uint64_t addr, void *dst, size_t len, struct cf_fault *fault)
{
	uint64_t first, last;
	int rc = access_args(as, addr, len, dst, &first, &last);
	if (rc || len == 0)
		return rc;
	cf_mem *m = as->mem;
	pthread_mutex_lock(&m->lock);
	rc = as->closed ? CF_EBADF : check_range(as, addr, first, last, false, fault);
	if (!rc)
		rc = node_reserve_locked(m, nodes_needed(as, first, last, false));
	if (!rc)
		copy_range_locked(as, addr, dst, len, false);
	pthread_mutex_unlock(&m->lock);
	return rc;
}

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
	}
	stream_done();
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
	if (!*leaf && !(*leaf = walk(as, vpn, ex)))
		return CF_SEGV_MAPERR;
	uint64_t pte = (*leaf)->pte[i];
	if (unlikely(!(pte & PTE_MAPPED)))
		return CF_SEGV_MAPERR;
	if (unlikely(!(pte & (write ? PTE_WRITE : PTE_READ))))
		return CF_SEGV_ACCERR;
	if (write) {
		if (pte & PTE_SHARED)
			return CF_OK;
		if (likely(*ex) && (pte & PTE_WRITABLE))
			return CF_OK;
	} else if (pte & PTE_PRESENT) {
		return CF_OK;
	}
	if (!*ex && node_reserve_locked(as->mem, as->mem->levels))
		return CF_ENOMEM;
	struct node *l = make_private(as, vpn, *leaf, ex);
	*leaf = l;
	if (!write) {
		fault_read(b, l, i);
		return CF_OK;
	}
	return fault_write(b, l, i);
}

int cf_as_touch(cf_as *as, const uint64_t *vpns, size_t n, unsigned flags, size_t *done,
		struct cf_fault *fault)
{
	if (!as || !done || !fault || (n && !vpns) || (flags & ~CF_TOUCH_WRITE))
		return CF_EINVAL;
	cf_mem *m = as->mem;
	uint64_t limit = va_pages(m);
	bool write = flags & CF_TOUCH_WRITE;
	struct node *leaf = NULL;
	bool ex = false;
	uint64_t leaf_id = ~0ull;
	size_t k;
	int rc = CF_OK;
	struct batch b;
	pthread_mutex_lock(&m->lock);
	if (as->closed) {
		pthread_mutex_unlock(&m->lock);
		return CF_EBADF;	/* *done untouched: nothing was */
	}
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
	pthread_mutex_unlock(&m->lock);
	*done = k;
	return rc;
}
