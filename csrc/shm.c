/* shm.c - the backing object of a shared mapping (Linux's shmem file behind
 * mmap(MAP_SHARED | MAP_ANONYMOUS)): which frame holds each of its pages. A
 * page gets its frame on the first touch by any space; every space that maps
 * the mapping (fork copies the region, not the entries) faults it in from
 * here, so parent and child find the same frame. The object holds one
 * reference on each frame, and lives while a region refers to it.
 *
 * A radix tree of 512-slot nodes; a leaf slot is frame + 1 (0: no frame yet).
 */
#include <stdlib.h>

#include "internal.h"

#define SHM_BITS 9
#define SHM_SLOTS (1u << SHM_BITS)

union shm_node {
	union shm_node *child[SHM_SLOTS];
	uint32_t frame[SHM_SLOTS];	/* leaves: frame + 1, 0 for none */
};

struct shm *shm_new(uint64_t npages)
{
	struct shm *o = calloc(1, sizeof(*o));
	if (!o)
		return NULL;
	o->refs = 1;
	o->levels = 1;
	while (o->levels < 8 && (npages - 1) >> (SHM_BITS * o->levels))
		o->levels++;
	return o;
}

/* The frame (+ 1) of page @idx, or 0. */
uint32_t shm_lookup(const struct shm *o, uint64_t idx)
{
	const union shm_node *n = o->root;
	for (uint32_t lvl = o->levels - 1; n && lvl > 0; lvl--)
		n = n->child[(idx >> (SHM_BITS * lvl)) & (SHM_SLOTS - 1)];
	return n ? n->frame[idx & (SHM_SLOTS - 1)] : 0;
}

/* The slot of page @idx, its path created: CF_ENOMEM (host memory) leaves
 * only empty nodes behind, which change nothing anyone can see. */
int shm_slot(struct shm *o, uint64_t idx, uint32_t **slot)
{
	union shm_node **np = (union shm_node **)&o->root;
	for (uint32_t lvl = o->levels - 1;; lvl--) {
		if (!*np && !(*np = calloc(1, sizeof(**np))))
			return CF_ENOMEM;
		if (lvl == 0)
			break;
		np = &(*np)->child[(idx >> (SHM_BITS * lvl)) & (SHM_SLOTS - 1)];
	}
	*slot = &(*np)->frame[idx & (SHM_SLOTS - 1)];
	return CF_OK;
}

static void shm_free_node(cf_mem *m, union shm_node *n, uint32_t lvl)
{
	if (!n)
		return;
	for (unsigned i = 0; i < SHM_SLOTS; i++) {
		if (lvl)
			shm_free_node(m, n->child[i], lvl - 1);
		else if (n->frame[i])
			frame_put_locked(m, n->frame[i] - 1);
	}
	free(n);
}

/* Drop a region's reference; the last one gives back every frame. */
void shm_put_locked(cf_mem *m, struct shm *o)
{
	if (--o->refs)
		return;
	shm_free_node(m, o->root, o->levels - 1);
	free(o);
}

static void each_frame(const union shm_node *n, uint32_t lvl, uint32_t *count)
{
	if (!n)
		return;
	for (unsigned i = 0; i < SHM_SLOTS; i++) {
		if (lvl)
			each_frame(n->child[i], lvl - 1, count);
		else if (n->frame[i])
			count[n->frame[i] - 1]++;
	}
}

/* Count the object's hold on each of its frames into @count (check.c). */
void shm_count_frames(const struct shm *o, uint32_t *count)
{
	each_frame(o->root, o->levels - 1, count);
}
