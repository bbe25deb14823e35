/* region.c - the mappings of an address space (Linux's VMAs): a sorted array
 * of disjoint page ranges, each with one protection, private or shared. map,
 * unmap and protect change regions in O(log regions) plus a move of the
 * array's tail; page-table entries are built on the first fault, from the
 * region (fault.c). Neighbours are merged when Linux would merge them
 * (vma_merge(): same flags, adjacent), so cf_as_regions() lists what
 * /proc/PID/maps shows.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Index of the first region whose end is after @vpn (nrg if none). */
uint32_t region_index(const cf_as *as, uint64_t vpn)
{
	uint32_t lo = 0, hi = as->nrg;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (as->rg[mid].end <= vpn)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Room for @extra more regions, so that the change that follows cannot fail. */
int region_reserve(cf_as *as, uint32_t extra)
{
	if (as->nrg + extra <= as->rgcap)
		return CF_OK;
	uint32_t cap = as->rgcap ? as->rgcap : 4;
	while (cap < as->nrg + extra)
		cap *= 2;
	struct region *rg = realloc(as->rg, cap * sizeof(*rg));
	if (!rg)
		return CF_ENOMEM;
	as->rg = rg;
	as->rgcap = cap;
	return CF_OK;
}

/* The first page of [first, last] in no region, or UINT64_MAX. */
uint64_t region_hole(const cf_as *as, uint64_t first, uint64_t last)
{
	uint64_t vpn = first;
	for (uint32_t k = region_index(as, first); vpn <= last; k++) {
		if (k >= as->nrg || as->rg[k].start > vpn)
			return vpn;
		if (as->rg[k].end > last)
			return UINT64_MAX;
		vpn = as->rg[k].end;
	}
	return UINT64_MAX;
}

static void region_insert_at(cf_as *as, uint32_t k, struct region r)
{
	memmove(&as->rg[k + 1], &as->rg[k], (as->nrg - k) * sizeof(r));
	as->rg[k] = r;
	as->nrg++;
}

/* Remove @count regions from @k, dropping their references on objects. */
static void region_remove_at(cf_as *as, uint32_t k, uint32_t count)
{
	for (uint32_t j = k; j < k + count; j++)
		if (as->rg[j].shm)
			shm_put_locked(as->mem, as->rg[j].shm);
	if (count)	/* as->rg may be NULL: memmove's arguments must not be */
		memmove(&as->rg[k], &as->rg[k + count], (as->nrg - k - count) * sizeof(as->rg[0]));
	as->nrg -= count;
}

/* Split the region containing @vpn (if any) so that one starts at @vpn
 * (Linux split_vma()). Preconditions: room for one more region. */
static void region_split(cf_as *as, uint64_t vpn)
{
	uint32_t k = region_index(as, vpn);
	if (k >= as->nrg || as->rg[k].start >= vpn)
		return;
	struct region tail = as->rg[k];
	tail.start = vpn;
	tail.pgoff = region_pgoff(&as->rg[k], vpn);
	if (tail.shm)
		tail.shm->refs++;
	as->rg[k].end = vpn;
	region_insert_at(as, k + 1, tail);
}

/* Remove pages [first, last] from the regions (munmap's part). Preconditions:
 * room for one more region (a hole in the middle of one splits it). */
void region_carve_locked(cf_as *as, uint64_t first, uint64_t last)
{
	region_split(as, first);
	if (last + 1 < va_pages(as->mem))
		region_split(as, last + 1);
	uint32_t lo = region_index(as, first), hi = lo;
	while (hi < as->nrg && as->rg[hi].end <= last + 1)
		hi++;
	region_remove_at(as, lo, hi - lo);
}

/* Whether private writable regions of @as are charged to the commit (VM_ACCOUNT):
 * not in a page cache (CF_AS_UNACCOUNTED), whose text is written at load and
 * whose forks would otherwise inherit a text region counted as committed. */
static bool accounts(const cf_as *as)
{
	return !(as->flags & CF_AS_UNACCOUNTED);
}

/* Whether Linux would merge adjacent regions @a and @b into one VMA:
 * same flags (protection, sharing, VM_ACCOUNT) and, shared, the same file at
 * consecutive offsets (pieces of one mapping, which mprotect split). Two
 * private regions that were both written are taken to have one anon_vma
 * (docs/engine.md). */
static bool mergeable(const struct region *a, const struct region *b)
{
	return a->end == b->start && a->prot == b->prot && a->shm == b->shm &&
	       (!a->shm || b->pgoff == region_pgoff(a, a->end)) &&
	       ((a->flags ^ b->flags) & ~REGION_WRITTEN) == 0;
}

/* Merge compatible neighbours among regions [lo - 1, hi + 1]. */
static void region_merge(cf_as *as, uint32_t lo, uint32_t hi)
{
	uint32_t k = lo ? lo : 1;
	while (k < as->nrg && k <= hi + 1) {
		if (mergeable(&as->rg[k - 1], &as->rg[k])) {
			as->rg[k - 1].end = as->rg[k].end;
			as->rg[k - 1].flags |= as->rg[k].flags & REGION_WRITTEN;
			region_remove_at(as, k, 1);
			hi = hi ? hi - 1 : 0;
		} else {
			k++;
		}
	}
}

/* A new region over pages [first, last], which no region covers (mmap's
 * part, after the carve); shared when @shm (whose reference it takes) is
 * given. Preconditions: room for one more region. */
void region_add_locked(cf_as *as, uint64_t first, uint64_t last, unsigned prot, struct shm *shm)
{
	struct region r = {
		.start = first,
		.end = last + 1,
		.shm = shm,
		.prot = (uint8_t)prot,
		.flags = shm ? REGION_SHARED : (prot & CF_PROT_WRITE) && accounts(as) ? REGION_ACCOUNT : 0,
	};
	uint32_t k = region_index(as, first);
	region_insert_at(as, k, r);
	region_merge(as, k, k);
}

/* Set the protection of pages [first, last], all in regions (mprotect's
 * part: split at both ends, change, merge; Linux mprotect_fixup(), which
 * sets VM_ACCOUNT when a private region becomes writable and clears it when
 * one never written stops being writable).
 * Preconditions: room for two more regions. */
void region_protect_locked(cf_as *as, uint64_t first, uint64_t last, unsigned prot)
{
	region_split(as, first);
	if (last + 1 < va_pages(as->mem))
		region_split(as, last + 1);
	uint32_t lo = region_index(as, first), hi = lo;
	for (; hi < as->nrg && as->rg[hi].start <= last; hi++) {
		struct region *r = &as->rg[hi];
		r->prot = (uint8_t)prot;
		if (r->flags & REGION_SHARED)
			continue;
		if ((prot & CF_PROT_WRITE) && accounts(as))
			r->flags |= REGION_ACCOUNT;
		else if (!(r->flags & REGION_WRITTEN))	/* nothing to account yet */
			r->flags &= (uint8_t)~REGION_ACCOUNT;
	}
	region_merge(as, lo, hi ? hi - 1 : 0);
}

/* @to's regions become a copy of @from's (fork's dup_mmap()). */
int region_copy(cf_as *to, const cf_as *from)
{
	int rc = region_reserve(to, from->nrg);
	if (rc)
		return rc;
	if (from->nrg)
		memcpy(to->rg, from->rg, from->nrg * sizeof(*to->rg));
	to->nrg = from->nrg;
	for (uint32_t k = 0; k < to->nrg; k++)
		if (to->rg[k].shm)
			to->rg[k].shm->refs++;
	return CF_OK;
}

void region_free_locked(cf_as *as)
{
	region_remove_at(as, 0, as->nrg);
	free(as->rg);
	as->rg = NULL;
	as->nrg = as->rgcap = 0;
}

/* Resident pages of @as's shared mappings (Linux's RssShmem), into *@out. */
int cf_as_shmem(cf_as *as, uint64_t *out)
{
	if (!as || !out)
		return CF_EINVAL;
	pthread_mutex_lock(&as->mem->lock);
	int rc = as->closed ? CF_EBADF : CF_OK;
	if (!rc)
		*out = as->shmem;
	pthread_mutex_unlock(&as->mem->lock);
	return rc;
}

/* The regions of @as as rows (/proc/PID/maps): up to @cap rows into @out,
 * and how many there are into *@count. */
int cf_as_regions(cf_as *as, struct cf_region *out, size_t cap, size_t *count)
{
	if (!as || !count || (cap && !out))
		return CF_EINVAL;
	cf_mem *m = as->mem;
	pthread_mutex_lock(&m->lock);
	int rc = as->closed ? CF_EBADF : CF_OK;
	if (!rc) {
		for (uint32_t k = 0; k < as->nrg && k < cap; k++) {
			const struct region *r = &as->rg[k];
			out[k] = (struct cf_region){
				.start = r->start << m->page_shift,
				.end = r->end << m->page_shift,
				.prot = r->prot,
				.flags = ((r->flags & REGION_SHARED) ? CF_REGION_SHARED : 0) |
					 ((r->flags & REGION_WRITTEN) ? CF_REGION_WRITTEN : 0),
			};
		}
		*count = as->nrg;
	}
	pthread_mutex_unlock(&m->lock);
	return rc;
}

/* Pages of regions within [@addr, @addr + @len) (@len rounded up to pages,
 * clamped to the space): mapped, private, and of those accounted (VM_ACCOUNT:
 * what the kernel charged to the commit), into *@out. The kernel's commit
 * reads this before munmap, MAP_FIXED, mprotect, fork and exit, so that the
 * regions stay the one record of what is charged. */
int cf_as_span(cf_as *as, uint64_t addr, uint64_t len, struct cf_span *out)
{
	if (!as || !out || (addr & ((1ull << as->mem->page_shift) - 1)))
		return CF_EINVAL;
	cf_mem *m = as->mem;
	uint64_t mask = (1ull << m->page_shift) - 1;
	uint64_t first = addr >> m->page_shift, end = va_pages(m);
	uint64_t pages = (len >> m->page_shift) + ((len & mask) != 0);
	if (first < end && pages < end - first)
		end = first + pages;
	struct cf_span s = {0, 0, 0};
	pthread_mutex_lock(&m->lock);
	int rc = as->closed ? CF_EBADF : CF_OK;
	for (uint32_t k = rc ? as->nrg : region_index(as, first);
	     k < as->nrg && as->rg[k].start < end; k++) {
		const struct region *r = &as->rg[k];
		uint64_t n = (r->end < end ? r->end : end) - (r->start > first ? r->start : first);
		s.mapped += n;
		if (!(r->flags & REGION_SHARED))
			s.private_pages += n;
		if (r->flags & REGION_ACCOUNT)
			s.committed += n;
	}
	pthread_mutex_unlock(&m->lock);
	if (!rc)
		*out = s;
	return rc;
}

/* The highest @len bytes that end at or below @below, start at or above
 * @floor and meet no region (Linux unmapped_area_topdown()), their address
 * into *@out; CF_ENOMEM when there is no such hole. */
int cf_as_unmapped_area(cf_as *as, uint64_t below, uint64_t len, uint64_t floor, uint64_t *out)
{
	if (!as || !out)
		return CF_EINVAL;
	cf_mem *m = as->mem;
	uint64_t mask = (1ull << m->page_shift) - 1;
	if ((below & mask) || (floor & mask) || (len & mask) || len == 0)
		return CF_EINVAL;
	uint64_t end = below >> m->page_shift, n = len >> m->page_shift, low = floor >> m->page_shift;
	if (end > va_pages(m))
		end = va_pages(m);
	pthread_mutex_lock(&m->lock);
	int rc = as->closed ? CF_EBADF : CF_OK;
	uint32_t k = rc ? 0 : region_index(as, end);	/* regions [0, k) end at or below @end */
	if (!rc && k < as->nrg && as->rg[k].start < end)
		end = as->rg[k].start;
	while (!rc) {
		if (end < n || end - n < low) {
			rc = CF_ENOMEM;
		} else if (k == 0 || as->rg[k - 1].end <= end - n) {
			*out = (end - n) << m->page_shift;
			break;
		} else {
			end = as->rg[--k].start;
		}
	}
	pthread_mutex_unlock(&m->lock);
	return rc;
}
