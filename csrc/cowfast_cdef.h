/* What Python may call, in cffi's cdef dialect. "..." lets the C compiler
 * fill every value from cowfast.h, so the two cannot drift apart. */
typedef struct cf_mem cf_mem;
typedef struct cf_as cf_as;

enum cf_status { CF_OK = ..., CF_EINVAL = ..., CF_ENOMEM = ..., CF_EFAULT = ..., CF_EBADF = ... };

#define CF_PROT_READ ...
#define CF_PROT_WRITE ...
#define CF_PROT_EXEC ...
#define CF_MAP_SHARED ...
#define CF_SEGV_MAPERR ...
#define CF_SEGV_ACCERR ...
#define CF_MEM_CONTENTS ...
#define CF_AS_UNACCOUNTED ...
#define CF_TOUCH_WRITE ...
#define CF_PSS_SHIFT ...
#define CF_VA_BITS ...
#define CF_MAX_FRAMES ...
#define CF_CHECK_MSG ...
#define CF_PAGE_MAPPED ...
#define CF_PAGE_PROT_SHIFT ...
#define CF_PAGE_SHARED ...
#define CF_PAGE_PRESENT ...
#define CF_PAGE_ZERO ...
#define CF_PAGE_FRAME_SHIFT ...

struct cf_fault { uint64_t addr; int32_t code; ...; };
struct cf_mem_stats {
	uint64_t frames, used, free;
	uint64_t minor_faults, cow_copies, zero_fills, reuses;
	uint64_t nodes, metadata_bytes, node_cache_bytes;
	...;
};
struct cf_as_counters {
	uint64_t rss, peak_rss;
	uint64_t minor_faults, cow_copies, zero_fills, reuses;
	...;
};
struct cf_as_stats {
	uint64_t rss, uss, shared, pss_fx;
	uint64_t minor_faults, cow_copies, zero_fills, reuses;
	...;
};

int cf_mem_new(uint64_t nframes, uint32_t page_size, unsigned flags, cf_mem **out);
void cf_mem_free(cf_mem *m);
int cf_mem_stats(cf_mem *m, struct cf_mem_stats *out);
int cf_mem_check(cf_mem *m, char *msg, size_t msglen, uint64_t *problems);

int cf_as_new(cf_mem *m, unsigned flags, cf_as **out);
int cf_as_fork(cf_as *parent, cf_as **child);
int cf_as_close(cf_as *as);
void cf_as_free(cf_as *as);
int cf_as_map(cf_as *as, uint64_t addr, uint64_t len, unsigned prot, unsigned flags);
int cf_as_unmap(cf_as *as, uint64_t addr, uint64_t len);
int cf_as_protect(cf_as *as, uint64_t addr, uint64_t len, unsigned prot, struct cf_fault *fault);
int cf_as_read(cf_as *as, uint64_t addr, void *dst, size_t len, struct cf_fault *fault);
int cf_as_write(cf_as *as, uint64_t addr, const void *src, size_t len, struct cf_fault *fault);
int cf_as_touch(cf_as *as, const uint64_t *vpns, size_t n, unsigned flags, size_t *done,
		struct cf_fault *fault);
int cf_as_stats(cf_as *as, struct cf_as_stats *out);
int cf_as_stats_incremental(cf_as *as, struct cf_as_stats *out);
int cf_as_counters(cf_as *as, struct cf_as_counters *out);
int cf_as_pagemap(cf_as *as, uint64_t vpn, uint64_t n, uint64_t *out);
#define CF_REGION_SHARED ...
#define CF_REGION_WRITTEN ...
struct cf_region { uint64_t start, end; uint32_t prot, flags; };
int cf_as_regions(cf_as *as, struct cf_region *out, size_t cap, size_t *count);
int cf_as_shmem(cf_as *as, uint64_t *out);
struct cf_span { uint64_t mapped, private_pages, committed; };
int cf_as_span(cf_as *as, uint64_t addr, uint64_t len, struct cf_span *out);
int cf_as_unmapped_area(cf_as *as, uint64_t below, uint64_t len, uint64_t floor, uint64_t *out);

#define CF_REPLAY_READ ...
#define CF_REPLAY_WRITE ...
#define CF_REPLAY_FORK ...
#define CF_REPLAY_EXIT ...
#define CF_REPLAY_STOP_PROC ...
struct cf_replay {
	cf_mem *mem;
	int64_t *pids;
	cf_as **spaces;
	size_t count, cap;
	uint64_t accesses, runs, changes;
	size_t run_start;
	...;
};
int cf_replay(struct cf_replay *r, const int64_t *pid, const uint8_t *op, const uint64_t *page,
	      size_t n, unsigned flags, size_t *done, struct cf_fault *fault);

int cf_build_sanitized(void);

enum cf_corruption {
	CF_CORRUPT_WRITABLE = ..., CF_CORRUPT_REFCOUNT = ..., CF_CORRUPT_WP = ...,
	CF_CORRUPT_ZERO = ..., CF_CORRUPT_STATS = ..., CF_CORRUPT_OUTSIDE = ...
};
int cf_debug_corrupt(cf_as *as, uint64_t vpn, int kind);
