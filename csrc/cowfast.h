/* cowfast.h - the C core's public API.
 *
 * Physical frames with reference counts, radix page tables whose nodes are
 * shared between address spaces after fork, and copy-on-write fault handling.
 *
 * Every function returns CF_OK (0) or a negative errno (CF_E*), checks every
 * argument before touching any state, and on failure leaves all state as it
 * was (bulk calls report how far they got through *done). Out-parameters are
 * written only on success; a struct cf_fault only on CF_EFAULT.
 */
#ifndef COWFAST_H
#define COWFAST_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cf_mem cf_mem;	/* physical memory: frames, refcounts, one lock */
typedef struct cf_as cf_as;	/* one address space: a radix page table        */

enum cf_status {
	CF_OK = 0,
	CF_EINVAL = -EINVAL,	/* bad argument: NULL handle, unaligned, overflow, bad flags */
	CF_ENOMEM = -ENOMEM,	/* no free frame (or no host memory for a page-table node)  */
	CF_EFAULT = -EFAULT,	/* access not allowed; details in struct cf_fault            */
	CF_EBADF = -EBADF,	/* the address space was closed (cf_as_close)                */
};

#define CF_PROT_READ 1		/* == mmap.PROT_READ  */
#define CF_PROT_WRITE 2		/* == mmap.PROT_WRITE */
#define CF_PROT_EXEC 4		/* == mmap.PROT_EXEC  */
#define CF_MAP_SHARED 1		/* cf_as_map flag: never copied on write, populated at map */
#define CF_SEGV_MAPERR 1	/* == siginfo si_code: address not mapped       */
#define CF_SEGV_ACCERR 2	/* == siginfo si_code: protection forbids access */
#define CF_MEM_CONTENTS 1	/* cf_mem_new flag: keep the frames' bytes       */
#define CF_AS_UNACCOUNTED 1	/* cf_as_new flag: a page cache, not a mapper    */
#define CF_TOUCH_WRITE 1	/* cf_as_touch flag: write access (else read)    */
#define CF_PSS_SHIFT 32		/* pss_fx = pages << CF_PSS_SHIFT (fs/proc/task_mmu.c) */
#define CF_VA_BITS 48		/* virtual address space of every cf_as          */
#define CF_MAX_FRAMES 2147483647u
#define CF_CHECK_MSG 256	/* size of cf_mem_check's message buffer         */

/* cf_as_pagemap's word per page: 0 = unmapped; else MAPPED, the protection
 * (CF_PROT_* << CF_PAGE_PROT_SHIFT), SHARED (a MAP_SHARED page), PRESENT
 * (touched), ZERO (present on the shared zero frame) and, when present and not
 * ZERO, the frame number from bit CF_PAGE_FRAME_SHIFT. */
#define CF_PAGE_MAPPED 1
#define CF_PAGE_PROT_SHIFT 1
#define CF_PAGE_SHARED 16
#define CF_PAGE_PRESENT 32
#define CF_PAGE_ZERO 64
#define CF_PAGE_FRAME_SHIFT 32

struct cf_fault {
	uint64_t addr;		/* first faulting byte of the access */
	int32_t code;		/* CF_SEGV_MAPERR or CF_SEGV_ACCERR  */
};

struct cf_mem_stats {
	uint64_t frames, used, free;
	uint64_t minor_faults, cow_copies, zero_fills, reuses;	/* totals, every space ever */
	uint64_t nodes;			/* page-table nodes alive             */
	uint64_t metadata_bytes;	/* nodes + refcounts of frames in use */
	uint64_t node_cache_bytes;	/* freed nodes kept for reuse         */
};

struct cf_as_counters {
	uint64_t rss, peak_rss;	/* resident pages now and at most (VmRSS, VmHWM) */
	uint64_t minor_faults, cow_copies, zero_fills, reuses;
};

struct cf_as_stats {
	uint64_t rss, uss, shared;
	uint64_t pss_fx;	/* sum over resident pages of (1 << CF_PSS_SHIFT) / mapcount */
	uint64_t minor_faults, cow_copies, zero_fills, reuses;
};

int cf_mem_new(uint64_t nframes, uint32_t page_size, unsigned flags, cf_mem **out);
void cf_mem_free(cf_mem *m);	/* drops the caller's reference; NULL is a no-op */
int cf_mem_stats(cf_mem *m, struct cf_mem_stats *out);
int cf_mem_check(cf_mem *m, char *msg, size_t msglen, uint64_t *problems);

int cf_as_new(cf_mem *m, unsigned flags, cf_as **out);	/* takes a reference on m */
int cf_as_fork(cf_as *parent, cf_as **child);
/*
 * Lifetimes. A handle stays valid until cf_as_free(), whatever other threads
 * do: cf_as_close() releases the space's frames and page tables under the
 * lock and marks it closed (every later call on it returns CF_EBADF), but the
 * struct and its reference on m live until cf_as_free(), which the owner calls
 * once no call can be in flight (Python: when the last reference to the cffi
 * handle dies). So close() racing any call is a call before or after it.
 */
int cf_as_close(cf_as *as);	/* idempotent */
void cf_as_free(cf_as *as);	/* closes if needed, then drops m's reference; NULL: no-op */
int cf_as_map(cf_as *as, uint64_t addr, uint64_t len, unsigned prot, unsigned flags);
int cf_as_unmap(cf_as *as, uint64_t addr, uint64_t len);
int cf_as_protect(cf_as *as, uint64_t addr, uint64_t len, unsigned prot, struct cf_fault *fault);
/* read/write: @fault may be NULL when the caller does not need the address. */
int cf_as_read(cf_as *as, uint64_t addr, void *dst, size_t len, struct cf_fault *fault);
int cf_as_write(cf_as *as, uint64_t addr, const void *src, size_t len, struct cf_fault *fault);
/* A page number beyond the space is an unmapped page (CF_SEGV_MAPERR); its
 * fault->addr wraps when vpn << page_shift does not fit in 64 bits. */
int cf_as_touch(cf_as *as, const uint64_t *vpns, size_t n, unsigned flags, size_t *done,
		struct cf_fault *fault);
int cf_as_stats(cf_as *as, struct cf_as_stats *out);
/* cf_as_stats() of one space at the cost of what changed since its last
 * call (track.c); the first call starts tracking the space until it closes. */
int cf_as_stats_incremental(cf_as *as, struct cf_as_stats *out);
/* What the space keeps as it goes, in O(1); cf_as_stats() may walk page tables. */
int cf_as_counters(cf_as *as, struct cf_as_counters *out);
/* The page words (CF_PAGE_*) of @n pages from page number @vpn (/proc/PID/pagemap). */
int cf_as_pagemap(cf_as *as, uint64_t vpn, uint64_t n, uint64_t *out);

/* A mapping as /proc/PID/maps lists it: bytes [start, end), CF_PROT_*, and
 * CF_REGION_SHARED / CF_REGION_WRITTEN (a private mapping with an anon_vma). */
#define CF_REGION_SHARED 1
#define CF_REGION_WRITTEN 2
struct cf_region {
	uint64_t start, end;
	uint32_t prot, flags;
};
/* Up to @cap regions, ascending, into @out; *count = how many there are. */
int cf_as_regions(cf_as *as, struct cf_region *out, size_t cap, size_t *count);
/* Resident pages of the shared mappings (/proc/PID/status RssShmem). */
int cf_as_shmem(cf_as *as, uint64_t *out);
/* Pages of the regions within a range: mapped, private (not MAP_SHARED) and
 * committed (VM_ACCOUNT: private and ever writable; never in a page cache). */
struct cf_span {
	uint64_t mapped, private_pages, committed;
};
int cf_as_span(cf_as *as, uint64_t addr, uint64_t len, struct cf_span *out);
/* The highest free @len bytes in [@floor, @below) (mmap's top-down search). */
int cf_as_unmapped_area(cf_as *as, uint64_t below, uint64_t len, uint64_t floor, uint64_t *out);

/*
 * Trace replay (replay.c): rows of a trace's pid, op and page columns applied
 * to the spaces of one memory in one call. The caller's table maps pids to
 * spaces; FORK rows add to it and EXIT rows remove from it (the exited space
 * is closed, cf_as_close(); its handle stays the caller's to free).
 */
#define CF_REPLAY_READ 0
#define CF_REPLAY_WRITE 1
#define CF_REPLAY_FORK 2	/* pid forks; the child's pid is in the page column */
#define CF_REPLAY_EXIT 3
#define CF_REPLAY_STOP_PROC 1	/* cf_replay flag: stop at FORK and EXIT rows */

struct cf_replay {
	cf_mem *mem;		/* every space in the table belongs to it          */
	int64_t *pids;		/* ascending; pids[k] is served by spaces[k]        */
	cf_as **spaces;
	size_t count, cap;	/* entries used, and room for FORK rows to add      */
	uint64_t accesses;	/* out: access rows applied                          */
	uint64_t runs;		/* out: runs (rows of one pid and op) completed      */
	uint64_t changes;	/* out: table entries added, replaced or removed     */
	size_t run_start;	/* out, on a fault: first row of the faulting run    */
};

/* Apply rows [0, n) in order; *done rows were applied. Returns CF_OK with
 * *done < n when row *done needs the caller: its pid has no space (or, under
 * CF_REPLAY_STOP_PROC, it is a FORK or EXIT row; or a FORK finds the table
 * full). CF_EFAULT / CF_ENOMEM: row *done faulted, as cf_as_touch() says. */
int cf_replay(struct cf_replay *r, const int64_t *pid, const uint8_t *op, const uint64_t *page,
	      size_t n, unsigned flags, size_t *done, struct cf_fault *fault);

int cf_build_sanitized(void);	/* 1 when built with AddressSanitizer */

/* Corruptions for proving that cf_mem_check() catches each kind (tests only):
 * compiled into the debug (CF_DEBUG, sanitizer) build; elsewhere
 * cf_debug_corrupt() returns CF_EINVAL and changes nothing. */
enum cf_corruption {
	CF_CORRUPT_WRITABLE = 1,	/* set WRITABLE on page @vpn's entry          */
	CF_CORRUPT_REFCOUNT = 2,	/* one more reference on page @vpn's frame    */
	CF_CORRUPT_WP = 3,		/* forget the write-protect owed by @vpn's leaf */
	CF_CORRUPT_ZERO = 4,		/* write a byte into the zero frame           */
	CF_CORRUPT_STATS = 5,		/* one more uss page in @as's cached stats    */
	CF_CORRUPT_OUTSIDE = 6,		/* an entry at page @vpn, outside every region  */
};
int cf_debug_corrupt(cf_as *as, uint64_t vpn, int kind);

#endif
