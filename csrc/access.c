/* access.c - the byte access entry points, read and write: check every page,
 * count the frames and nodes needed, then fault and copy (all or nothing).
 * Reads take frames too: the first touch of a shared page allocates it.
 */
#include <string.h>

#include "fault.h"

/* Page @vpn's entry, or what its region will make it (0: unmapped). */
static uint64_t pte_or_region(const cf_as *as, uint64_t vpn, bool *ex)
{
	struct node *leaf = walk(as, vpn, ex);
	uint64_t pte = leaf ? leaf->pte[vpn & NODE_MASK] : 0;
	if (!pte) {
		const struct region *r = region_find(as, vpn);
		pte = r ? region_pte(r) : 0;
	}
	return pte;
}

/* 0 when @as may access page @vpn (write or read), else a CF_SEGV_* code. */
static int access_check(const cf_as *as, uint64_t vpn, bool write)
{
	bool ex;
	if (vpn >= va_pages(as->mem))
		return CF_SEGV_MAPERR;
	uint64_t pte = pte_or_region(as, vpn, &ex);
	if (!(pte & PTE_MAPPED))
		return CF_SEGV_MAPERR;
	return (pte & (write ? PTE_WRITE : PTE_READ)) ? 0 : CF_SEGV_ACCERR;
}

/* Whether a write to mapped, writable page @vpn will take a frame. */
static bool write_needs_frame(const cf_as *as, uint64_t vpn)
{
	bool ex = false;
	uint64_t pte = pte_or_region(as, vpn, &ex);
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

/*
 * Frames an access to pages [first, last] (all allowed) will take into
 * *@need: a write's copies and zero fills, and the first touch anywhere of a
 * shared page this space has no entry for. Makes the object slots those
 * shared pages need first: CF_ENOMEM (no host memory) changes nothing visible.
 */
static int frames_needed(const cf_as *as, uint64_t first, uint64_t last, bool write,
			 uint64_t *need)
{
	*need = 0;
	for (uint64_t vpn = first; vpn <= last; vpn++) {
		bool ex;
		struct node *leaf = walk(as, vpn, &ex);
		const struct region *r = leaf && leaf->pte[vpn & NODE_MASK] ? NULL :
					 region_find(as, vpn);
		uint32_t *slot;
		if (r && r->shm) {
			if (shm_slot(r->shm, region_pgoff(r, vpn), &slot))
				return CF_ENOMEM;
			*need += !*slot;
		} else if (write) {
			*need += write_needs_frame(as, vpn);
		}
	}
	return CF_OK;
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
		bool ex = false;
		struct node *leaf = walk(as, vpn, &ex);
		unsigned i = vpn & NODE_MASK;
		uint64_t pte = pte_or_region(as, vpn, &ex);
		if ((pte & PTE_SHARED) && !(pte & PTE_PRESENT)) {	/* first touch here */
			track_vpn_locked(m, vpn);
			leaf = make_private(as, vpn, leaf, &ex);
			fault_shared(&b, leaf, vpn, batch_region(&b, as, vpn), write);
			pte = leaf->pte[i];
		} else if (write ? !(pte & PTE_SHARED) : !(pte & PTE_PRESENT)) {
			track_vpn_locked(m, vpn);
			leaf = make_private(as, vpn, leaf, &ex);
			pte_materialize(leaf, i, pte);
			if (write && !pte_has_frame(pte))
				mark_written(&b, as, vpn);
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
	uint64_t need = 0;
	rc = as->closed ? CF_EBADF : check_range(as, addr, first, last, true, fault);
	if (!rc)
		rc = frames_needed(as, first, last, true, &need);
	if (!rc && need > frames_free_locked(m))
		rc = CF_ENOMEM;
	if (!rc)
		rc = node_reserve_locked(m, nodes_needed(as, first, last, true));
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
	uint64_t need = 0;
	rc = as->closed ? CF_EBADF : check_range(as, addr, first, last, false, fault);
	if (!rc)
		rc = frames_needed(as, first, last, false, &need);
	if (!rc && need > frames_free_locked(m))
		rc = CF_ENOMEM;
	if (!rc)
		rc = node_reserve_locked(m, nodes_needed(as, first, last, true));
	if (!rc)
		copy_range_locked(as, addr, dst, len, false);
	pthread_mutex_unlock(&m->lock);
	return rc;
}
