/* frames.c - physical memory: per-frame reference counts, a LIFO stack of
 * freed frames (recycled frames are cache-hot; an array, not a list threaded
 * through the refcounts, so that popping is no chain of dependent loads), the frames' contents in one
 * reserved region, and the memory object's own lifetime.
 * Mirrors xv6 kernel/kalloc.c with reference counts, as the COW lab asks.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "internal.h"

/* Reserve @bytes of zeroed memory that costs no RAM until touched; @huge
 * advises transparent huge pages: fewer first-touch faults where allocation
 * touches (contents, refcounts), but not for the free stack, first touched
 * when a large space is destroyed, where a huge page was measured to stall
 * in compaction (3.7 ms to 12 ms for a 2^20-page destroy). */
static void *reserve(uint64_t bytes, bool huge)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
#ifdef MADV_HUGEPAGE
	if (huge)
		madvise(p, bytes, MADV_HUGEPAGE);	/* one fault a 2 MiB, not a 4 KiB */
#endif
	return p;
}

static int page_size_ok(uint32_t ps)
{
	return ps >= 512 && ps <= (2u << 20) && (ps & (ps - 1)) == 0;
}

int cf_mem_new(uint64_t nframes, uint32_t page_size, unsigned flags, cf_mem **out)
{
	if (!out || nframes == 0 || nframes > CF_MAX_FRAMES || !page_size_ok(page_size) ||
	    (flags & ~CF_MEM_CONTENTS))
		return CF_EINVAL;
	cf_mem *m = calloc(1, sizeof(*m));
	if (!m)
		return CF_ENOMEM;
	m->page_shift = (uint32_t)__builtin_ctz(page_size);
	m->levels = (CF_VA_BITS - m->page_shift + NODE_BITS - 1) / NODE_BITS;
	m->flags = flags;
	m->nframes = nframes;
	m->refs = 1;
	m->ref = reserve(nframes * sizeof(uint32_t), true);
	m->stack = reserve(nframes * sizeof(uint32_t), false);
	m->zero = calloc(1, page_size);
	if (flags & CF_MEM_CONTENTS)
		m->contents = reserve(nframes << m->page_shift, true);
	if (!m->ref || !m->stack || !m->zero || ((flags & CF_MEM_CONTENTS) && !m->contents))
		goto err;
	if (pthread_mutex_init(&m->lock, NULL))
		goto err;
	*out = m;
	return CF_OK;
err:
	if (m->ref)
		munmap(m->ref, nframes * sizeof(uint32_t));
	if (m->stack)
		munmap(m->stack, nframes * sizeof(uint32_t));
	if (m->contents)
		munmap(m->contents, nframes << m->page_shift);
	free(m->zero);
	free(m);
	return CF_ENOMEM;
}

static void mem_destroy(cf_mem *m)
{
	CF_ASSERT(m->spaces == NULL);
	while (m->node_cache) {
		struct node *n = m->node_cache;
		m->node_cache = n->child[0];
		free(n);
	}
	munmap(m->ref, m->nframes * sizeof(uint32_t));
	munmap(m->stack, m->nframes * sizeof(uint32_t));
	if (m->contents)
		munmap(m->contents, m->nframes << m->page_shift);
	free(m->zero);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

/* Drop one reference on @m; the last one frees it (Linux mmput()). */
void mem_put(cf_mem *m)
{
	pthread_mutex_lock(&m->lock);
	bool last = --m->refs == 0;
	pthread_mutex_unlock(&m->lock);
	if (last)
		mem_destroy(m);
}

void cf_mem_free(cf_mem *m)
{
	if (m)
		mem_put(m);
}

/*
 * Copy one frame that will not be read again soon (a bulk copy-on-write):
 * streaming stores skip reading each destination line first, which is how a
 * large memcpy runs at twice the speed of many page-sized ones. Frames are
 * page-aligned. The caller fences (frame_copy_done()) before the bytes are read.
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

void frame_copy_done(void)
{
#ifdef __SSE2__
	_mm_sfence();
#endif
}

/*
 * The one place a frame's bytes are made: a copy of @src (copy-on-write, by
 * the page-at-a-time and the whole-leaf paths alike; @stream for a bulk copy,
 * fenced by frame_copy_done()) or zeros (@src == UINT32_MAX; a recycled frame
 * only: never-used frames are zero already). No-op without contents.
 */
void frame_fill(cf_mem *m, uint32_t dst, uint32_t src, bool stream)
{
	size_t n = (size_t)1 << m->page_shift;
	if (!m->contents)
		return;
	if (src == UINT32_MAX)
		memset(frame_bytes(m, dst), 0, n);
	else if (stream)
		copy_stream(frame_bytes(m, dst), frame_bytes(m, src), n);
	else
		memcpy(frame_bytes(m, dst), frame_bytes(m, src), n);
}

/*
 * When no frame is in use, forget which ever were: the refcounts, the free
 * stack and the contents go back to untouched zeros (their host memory is
 * given back) and allocation restarts at frame 0, as on a new memory. Else
 * a memory whose spaces all exited would hold 8 bytes a frame it once used.
 * Small memories skip it: the memory is little and madvise() costs a call.
 */
#define RESET_MIN_FRAMES (1u << 16)

void frames_reset_if_idle_locked(cf_mem *m)
{
	if (m->used || m->fresh < RESET_MIN_FRAMES)
		return;
	madvise(m->ref, m->fresh * sizeof(uint32_t), MADV_DONTNEED);
	madvise(m->stack, m->stack_peak * sizeof(uint32_t), MADV_DONTNEED);
	if (m->contents)	/* never-used frames must read as zeros */
		madvise(m->contents, m->fresh << m->page_shift, MADV_DONTNEED);
	m->fresh = m->top = m->stack_peak = 0;
}

uint64_t frames_free_locked(const cf_mem *m)
{
	return m->nframes - m->used;
}

int cf_mem_stats(cf_mem *m, struct cf_mem_stats *out)
{
	if (!m || !out)
		return CF_EINVAL;
	pthread_mutex_lock(&m->lock);
	struct cf_mem_stats s = {
		.frames = m->nframes,
		.used = m->used,
		.free = frames_free_locked(m),
		.minor_faults = m->total.minor_faults,
		.cow_copies = m->total.cow_copies,
		.zero_fills = m->total.zero_fills,
		.reuses = m->total.reuses,
		.nodes = m->nodes,
		/* what is touched: nodes, refcounts of frames ever used, the free stack's depth */
		.metadata_bytes = m->nodes * sizeof(struct node) +
				  (m->fresh + m->stack_peak) * sizeof(uint32_t),
		.node_cache_bytes = m->node_cached * sizeof(struct node),
	};
	pthread_mutex_unlock(&m->lock);
	*out = s;
	return CF_OK;
}

int cf_build_sanitized(void)
{
#if defined(__SANITIZE_ADDRESS__)
	return 1;
#else
	return 0;
#endif
}
