/* internal.h - private structures of the C core: frames, page-table nodes,
 * address spaces, the PTE bit layout.
 *
 * Page tables are radix trees of 512-entry nodes, as on x86-64. Nodes are
 * reference counted and shared between address spaces after fork (only the
 * root is copied); a node with ref > 1 is read-only to everyone and is copied
 * ("unshared") on the first path that must change it.
 */
#ifndef COWFAST_INTERNAL_H
#define COWFAST_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "cowfast.h"

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
/* For the per-page fault path: inlined, its state stays in registers. */
#define hot_inline inline __attribute__((always_inline))

#ifdef CF_DEBUG
#include <stdio.h>
#include <stdlib.h>
#define CF_ASSERT(x)                                                              \
	do {                                                                      \
		if (!(x)) {                                                       \
			fprintf(stderr, "%s:%d: CF_ASSERT(%s)\n", __FILE__, __LINE__, #x); \
			abort();                                                  \
		}                                                                 \
	} while (0)
#else
#define CF_ASSERT(x) ((void)0)
#endif

#define NODE_BITS 9
#define NODE_ENTRIES (1u << NODE_BITS)
#define NODE_MASK (NODE_ENTRIES - 1)

/*
 * A page-table entry. 0 means unmapped. Frame number in the high 32 bits.
 * WRITABLE is the hardware W bit: a write needs no fault. EXCL is Linux's
 * PageAnonExclusive: this space may make the page writable without asking
 * (reuse). Both are cleared in every copy when a leaf is unshared, which is
 * the lazy form of fork's write-protect of parent and child.
 */
#define PTE_MAPPED (1ull << 0)
#define PTE_PROT_SHIFT 1		/* R, W, X = bits 1..3, mmap.PROT_* << 1 */
#define PTE_READ (1ull << 1)
#define PTE_WRITE (1ull << 2)
#define PTE_EXEC (1ull << 3)
#define PTE_SHARED (1ull << 4)
#define PTE_PRESENT (1ull << 5)
#define PTE_ZERO (1ull << 6)		/* present, maps the shared zero frame */
#define PTE_WRITABLE (1ull << 7)
#define PTE_EXCL (1ull << 8)
#define PTE_FRAME_SHIFT 32

static inline uint32_t pte_frame(uint64_t pte) { return (uint32_t)(pte >> PTE_FRAME_SHIFT); }
static inline uint64_t pte_make(uint64_t flags, uint32_t frame)
{
	return flags | ((uint64_t)frame << PTE_FRAME_SHIFT);
}
/* Holds a reference on a frame: present and not the zero frame. */
static inline bool pte_has_frame(uint64_t pte)
{
	return (pte & (PTE_PRESENT | PTE_ZERO)) == PTE_PRESENT;
}

/* 16 bytes of header per 4 KiB of entries: with a 4-byte frame refcount,
 * 12.03 bytes of metadata a resident page. Scratch for the stats and check
 * passes lives in side arrays indexed by @idx, not here. */
struct node {
	uint32_t ref;		/* parent entries pointing here (1 for a root)  */
	uint16_t used;		/* non-empty entries                            */
	uint8_t level;		/* 0 = leaf                                     */
	uint8_t wp;		/* write-protect pending: see node_settle()     */
	uint32_t mark;		/* pass number of the last stats/check visit    */
	uint32_t idx;		/* position in that pass's node array           */
	union {
		uint64_t pte[NODE_ENTRIES];
		struct node *child[NODE_ENTRIES];
	};
};

struct cf_mem {
	pthread_mutex_t lock;
	uint32_t refs;		/* Python's handle + one per live cf_as (under lock) */
	uint32_t page_shift;
	uint32_t levels;	/* radix levels covering CF_VA_BITS                  */
	unsigned flags;
	uint64_t nframes;
	uint32_t *ref;		/* per frame: refcount (0: free)                      */
	uint32_t *stack;	/* freed frames, LIFO: the last freed is cache-hot   */
	uint64_t top, stack_peak;	/* entries on the stack, and at most         */
	uint64_t fresh;		/* frames [fresh, nframes) never used yet            */
	uint64_t used;
	uint8_t *contents;	/* nframes << page_shift bytes, or NULL              */
	uint8_t *zero;		/* one zeroed page: the zero frame's contents        */
	struct node *node_cache;	/* freed nodes, linked through child[0]      */
	uint64_t node_cached, nodes;
	uint64_t gen;		/* bumped by every change that can move statistics   */
	uint32_t pass;		/* stats/check visit number, for node marks          */
	struct cf_as *spaces;	/* every live address space (for stats and check)   */
	struct tracker *trackers;	/* spaces whose stats are kept incrementally */
	struct cf_as_stats total;	/* fault counters summed over every space    */
};

/*
 * A mapping: Linux's VMA. Pages [start, end) with one protection, private or
 * shared. WRITTEN is the anon_vma: set by the first write fault of a private
 * region, it decides whether fork copies the region's entries
 * (vma_needs_copy()). ACCOUNT is VM_ACCOUNT (private and ever writable),
 * which Linux compares before merging neighbours.
 */
#define REGION_SHARED 1
#define REGION_WRITTEN 2
#define REGION_ACCOUNT 4

/* shm.c: the backing object of a shared mapping (Linux's shmem file). */
struct shm {
	uint32_t refs;		/* regions, in every space, that map it (under lock) */
	uint32_t levels;	/* of its radix tree of frames                       */
	uint32_t mark;		/* check pass that counted it                        */
	void *root;
};
struct shm *shm_new(uint64_t npages);
uint32_t shm_lookup(const struct shm *o, uint64_t idx);
int shm_slot(struct shm *o, uint64_t idx, uint32_t **slot);
void shm_put_locked(cf_mem *m, struct shm *o);
void shm_count_frames(const struct shm *o, uint32_t *count);

struct region {
	uint64_t start, end;	/* page numbers */
	struct shm *shm;	/* shared: the backing object, else NULL */
	uint64_t pgoff;		/* shared: the object's page at @start */
	uint8_t prot;		/* CF_PROT_* */
	uint8_t flags;		/* REGION_* */
};
/* The page of a shared region's object that holds page @vpn. */
static inline uint64_t region_pgoff(const struct region *r, uint64_t vpn)
{
	return r->pgoff + (vpn - r->start);
}

struct cf_as {
	cf_mem *mem;
	struct node *root;
	struct region *rg;		/* sorted, disjoint, neighbours merged when compatible */
	uint32_t nrg, rgcap;
	unsigned flags;
	bool closed;			/* cf_as_close() ran: root is an empty node (under lock) */
	struct cf_as *prev, *next;	/* in mem->spaces */
	uint64_t stats_gen;		/* mem->gen when cached was computed */
	struct cf_as_stats cached;	/* rss, uss, shared, pss_fx          */
	struct tracker *tracker;	/* cf_as_stats_incremental()'s state, or NULL */
	uint64_t minor_faults, cow_copies, zero_fills, reuses;
	uint64_t rss, hwm;		/* resident pages now and at most (VmRSS, VmHWM) */
	uint64_t shmem;			/* of rss, pages of shared mappings (RssShmem)   */
};

static inline void rss_add(cf_as *as, uint64_t pages)
{
	as->rss += pages;
	if (as->rss > as->hwm)
		as->hwm = as->rss;
}

/* frames.c; the per-page pair is inline: it is most of a copy-on-write fault */
uint64_t frames_free_locked(const cf_mem *m);
void frames_reset_if_idle_locked(cf_mem *m);

/*
 * The one frame allocator. Take a free frame with refcount 1: the most
 * recently freed one (cache-hot), else a never-used one; *recycled tells
 * whether its bytes may be stale. @top and @fresh are the free stack's and
 * the never-used frames' cursors: m's own, or a fault batch's copies of them
 * (fault.h), which stay in registers. The caller counts mem->used.
 * Returns 0 or CF_ENOMEM with nothing changed.
 */
static hot_inline int frame_take(cf_mem *m, uint64_t *top, uint64_t *fresh, uint32_t *out,
				 bool *recycled)
{
	uint32_t f;
	if (*top) {
		f = m->stack[--*top];
		*recycled = true;
	} else if (likely(*fresh < m->nframes)) {
		f = (uint32_t)(*fresh)++;
		*recycled = false;
	} else {
		return CF_ENOMEM;
	}
	m->ref[f] = 1;
	*out = f;
	return CF_OK;
}

static inline int frame_alloc_locked(cf_mem *m, uint32_t *out, bool *recycled)
{
	int rc = frame_take(m, &m->top, &m->fresh, out, recycled);
	m->used += !rc;
	return rc;
}

void frame_fill(cf_mem *m, uint32_t dst, uint32_t src, bool stream);	/* frames.c */
void frame_copy_done(void);

/* Drop a reference on frame @f; the last one pushes it on the free stack. */
static inline void frame_put_locked(cf_mem *m, uint32_t f)
{
	CF_ASSERT(f < m->fresh && m->ref[f] > 0);
	if (--m->ref[f] == 0) {
		m->stack[m->top++] = f;
		if (m->top > m->stack_peak)
			m->stack_peak = m->top;
		m->used--;
	}
}
static inline uint8_t *frame_bytes(const cf_mem *m, uint32_t f)
{
	return m->contents + ((uint64_t)f << m->page_shift);
}
void mem_put(cf_mem *m);

/* pagetable.c */
struct node *node_alloc_locked(cf_mem *m, uint8_t level);
void node_put_locked(cf_mem *m, struct node *n);
int node_reserve_locked(cf_mem *m, uint64_t n);
struct node *walk(const cf_as *as, uint64_t vpn, bool *exclusive);
bool path_shared(const cf_as *as, uint64_t vpn);
struct node *walk_alloc_locked(cf_as *as, uint64_t vpn);
struct node *walk_alloc_to_locked(cf_as *as, uint64_t vpn, uint32_t level);
struct node *node_take_locked(cf_mem *m);
uint64_t nodes_needed(const cf_as *as, uint64_t first, uint64_t last, bool create);
void node_cache_trim_locked(cf_mem *m);
void node_give_back_locked(const cf_mem *m, uint64_t freed);
static inline unsigned node_index(uint64_t vpn, uint32_t level)
{
	return (unsigned)(vpn >> (NODE_BITS * level)) & NODE_MASK;
}
void range_unmap_locked(cf_as *as, uint64_t first, uint64_t last);
uint64_t next_leaf(const cf_as *as, uint64_t vpn, uint64_t last);	/* aspace.c */
void node_free_locked(cf_mem *m, struct node *n);

/* region.c */
uint32_t region_index(const cf_as *as, uint64_t vpn);	/* first region ending after @vpn */
static inline struct region *region_find(const cf_as *as, uint64_t vpn)
{
	uint32_t k = region_index(as, vpn);
	return k < as->nrg && as->rg[k].start <= vpn ? &as->rg[k] : NULL;
}
static inline uint64_t region_pte(const struct region *r)
{
	return PTE_MAPPED | ((uint64_t)r->prot << PTE_PROT_SHIFT) |
	       ((r->flags & REGION_SHARED) ? PTE_SHARED : 0);
}
int region_reserve(cf_as *as, uint32_t extra);
uint64_t region_hole(const cf_as *as, uint64_t first, uint64_t last);
void region_carve_locked(cf_as *as, uint64_t first, uint64_t last);
void region_add_locked(cf_as *as, uint64_t first, uint64_t last, unsigned prot, struct shm *shm);
void region_protect_locked(cf_as *as, uint64_t first, uint64_t last, unsigned prot);
int region_copy(cf_as *to, const cf_as *from);
void region_free_locked(cf_as *as);

/* fault.c */
int touch_locked(cf_as *as, const uint64_t *vpns, size_t n, bool write, size_t *done,
		 struct cf_fault *fault);

/* stats.c */
void stats_refresh_locked(cf_mem *m);	/* on success every as->stats_gen == m->gen */

/* aspace.c */
static inline uint64_t va_pages(const cf_mem *m) { return 1ull << (CF_VA_BITS - m->page_shift); }

/* track.c: the log of leaf positions (vpn >> NODE_BITS) whose frames or
 * mapcounts changed, for incremental statistics */
bool track_leaf_locked(cf_mem *m, uint64_t pos);
void track_range_locked(const cf_as *as, uint64_t first, uint64_t last);
void track_close_locked(cf_as *as);
/* Page @vpn of some space is about to change: log it (nothing without trackers). */
static inline void track_vpn_locked(cf_mem *m, uint64_t vpn)
{
	if (unlikely(m->trackers))
		track_leaf_locked(m, vpn >> NODE_BITS);
}

#endif
