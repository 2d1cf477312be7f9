/* The chunk layout: the only code that knows where the bytes of a chunk are.
 *
 * A chunk starts with two machine words: prev_size (valid only while the
 * physically previous chunk is free) and size (with three flag bits in its
 * low end).  The user pointer is chunk + 16.  A free chunk keeps its list
 * links in the first user words; a chunk in a large bin also keeps the
 * size skip-list links.  Everything else reads and writes chunks through the
 * accessors below. */
#ifndef PMALLOC_CHUNK_H
#define PMALLOC_CHUNK_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

/* The integrity checks of issue #15 (the chunk state and the size tag
 * below, the list-link ranges and the fast-bin canary, bins.h) compile
 * out with -DPM_CHUNK_CHECKS=0, only so that `make bench` can measure
 * what they cost (libpmalloc_nochecks, never installed nor tested). */
#ifndef PM_CHUNK_CHECKS
#define PM_CHUNK_CHECKS 1
#endif

#define PM_SIZE_SZ      ((size_t)sizeof(size_t))
#define PM_ALIGNMENT    ((size_t)16)
#define PM_ALIGN_MASK   (PM_ALIGNMENT - 1)
#define PM_CHUNK_HDR    (2 * PM_SIZE_SZ)
#define PM_MINSIZE      ((size_t)32)

#define PM_PREV_INUSE     ((size_t)0x1)
#define PM_IS_MMAPPED     ((size_t)0x2)
#define PM_NON_MAIN_ARENA ((size_t)0x4)
#define PM_SIZE_BITS      (PM_PREV_INUSE | PM_IS_MMAPPED | PM_NON_MAIN_ARENA)

/* A chunk's size lies in the size word's low 48 bits (PM_SIZE_FIELD_BITS);
 * the 16 above hold its owner's two bits and its size tag (below).
 * Requests above this fail with ENOMEM: the model's bound is PTRDIFF_MAX;
 * ours keeps every chunk, a mapped one's page rounding included, within
 * the size field (no system maps 256 TiB for one block anyway). */
#define PM_SIZE_FIELD_BITS 48
#define PM_MAX_REQUEST  (((size_t)1 << PM_SIZE_FIELD_BITS) - ((size_t)1 << 32))

struct pm_chunk {
    size_t prev_size;
    size_t size;
    struct pm_chunk *fd;
    struct pm_chunk *bk;
    struct pm_chunk *fd_nextsize;
    struct pm_chunk *bk_nextsize;
};
typedef struct pm_chunk mchunk;
/* The header is two words, and the user area of a free chunk holds both
 * list links: the smallest chunk is a header and the links. */
_Static_assert(PM_CHUNK_HDR == offsetof(struct pm_chunk, fd), "user data starts after two words");
_Static_assert(PM_MINSIZE >= offsetof(struct pm_chunk, fd_nextsize), "a minimal chunk holds fd and bk");
_Static_assert((PM_MINSIZE & PM_ALIGN_MASK) == 0 && (PM_ALIGNMENT & PM_ALIGN_MASK) == 0, "sizes are aligned");
_Static_assert(PM_SIZE_BITS < PM_ALIGNMENT, "the flag bits lie below the alignment");

/* The size word's byte 6 (bits 48..55) belongs to whoever holds the
 * chunk: the thread that owns a live block, or the cache, remote-free
 * list, fast bin or bin that holds it free.  Its low byte belongs to the
 * arena's lock holder, who rewrites PREV_INUSE when the chunk's
 * predecessor changes state, even while another thread holds the chunk.
 * Each side changes only its own bits, with one-byte read-modify-writes,
 * so neither loses the other's update (two whole-word ones would).
 * Whole-word writes (chunk_set_head) go only to chunks no other thread
 * can reach: free in the arena, or being cut from it, under its lock.
 *
 * PM_HELD_FREE: a chunk in a thread cache, a remote-free list, a fast bin
 * or a bin carries this bit, set as it enters, cleared as it is handed
 * out, so a free or realloc of it is refused whichever thread's cache or
 * which bin holds it and whatever a write after free did to its user
 * area.  (Cached, remote and fast-bin chunks look in use to their heap:
 * their successor's PREV_INUSE is set; a binned chunk's is clear too.)
 * PM_SAMPLED_CHUNK: a live block the allocation profile follows (prof.h).
 * Free's fast path reads the size with both bits in, so it leaves such a
 * chunk, whose size is then out of every range, to the slow path. */
#define PM_HELD_FREE ((size_t)1 << PM_SIZE_FIELD_BITS)
#define PM_SAMPLED_CHUNK ((size_t)1 << (PM_SIZE_FIELD_BITS + 1))
#define PM_OWNER_BITS (PM_HELD_FREE | PM_SAMPLED_CHUNK)
/* The size word's top 14 bits: the size tag. */
#define PM_SIZE_TAG_SHIFT (PM_SIZE_FIELD_BITS + 2)
#define PM_SIZE_TAG_BITS (~(size_t)0 << PM_SIZE_TAG_SHIFT)
/* The size, bit 3 (never set in a sound size) included. */
#define PM_SIZE_MASK ((((size_t)1 << PM_SIZE_FIELD_BITS) - 1) & ~PM_SIZE_BITS)
_Static_assert(sizeof(size_t) == 8, "the size word holds a 48-bit size, the owner's bits and a tag");
_Static_assert(PM_MAX_REQUEST + ((size_t)1 << 31) <= PM_HELD_FREE, "no chunk size reaches the owner's bits");
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define PM_SIZE_LOW_BYTE 0
#define PM_SIZE_OWNER_BYTE 6
#else
#define PM_SIZE_LOW_BYTE 7
#define PM_SIZE_OWNER_BYTE 1
#endif
#define PM_OWNER_BYTE_SHIFT 48
_Static_assert((PM_SIZE_BITS >> 8) == 0, "the arena's flags lie in the low byte");
_Static_assert((PM_OWNER_BITS >> PM_OWNER_BYTE_SHIFT) <= 0xff && (PM_OWNER_BITS & ((size_t)0xff << PM_OWNER_BYTE_SHIFT)) == PM_OWNER_BITS,
               "the owner's bits lie in its byte");

/* The secret that keys a chunk's words: the safe-linked list links
 * (bins.h) and the size tag.  init.c sets it once, before the first
 * chunk is made. */
extern uintptr_t pm_chunk_secret __attribute__((visibility("hidden")));

/* The key of the chunk whose user area starts at mem: what safe-linking
 * mixes into a link stored there (slot = mem) and what the size tag is
 * computed with, so the free fast path computes it once for both. */
static inline uintptr_t chunk_key_at(const void *mem) { return ((uintptr_t)mem >> 12) ^ pm_chunk_secret; }

/* The size tag ties a chunk's size to its address, keyed by the secret
 * (issue #15): the top 14 bits of the size times the chunk's key.  An
 * overflow that rewrites a size word, wholly or in its low bytes, leaves
 * a tag that does not match the new size (but for one chance in 2^14),
 * and free and realloc refuse the chunk before its size is trusted.  The
 * key is random in all its bits (the secret is), so the product's top
 * bits depend on every bit of the size; one multiply by a register is
 * what free's fast path pays for it, with the key it computes anyway for
 * the cache's link. */
static inline size_t size_tag(size_t size, uintptr_t key)
{
    return PM_CHUNK_CHECKS ? (size * key) & PM_SIZE_TAG_BITS : 0;
}
/* Whether raw, a size word whose size is size (raw & PM_SIZE_MASK, or
 * that with the owner's bits in), carries the tag of size at key. */
static inline bool size_tag_matches(size_t raw, size_t size, uintptr_t key)
{
    return !PM_CHUNK_CHECKS || ((raw ^ size * key) >> PM_SIZE_TAG_SHIFT) == 0;
}

static inline unsigned char *chunk_size_byte(void *p, size_t which)
{
    return (unsigned char *)&((struct pm_chunk *)p)->size + which;
}
static inline void chunk_set_owner_bit(struct pm_chunk *p, size_t bit)
{
    *chunk_size_byte(p, PM_SIZE_OWNER_BYTE) |= (unsigned char)(bit >> PM_OWNER_BYTE_SHIFT);
}
static inline void chunk_clear_owner_bit(struct pm_chunk *p, size_t bit)
{
    *chunk_size_byte(p, PM_SIZE_OWNER_BYTE) &= (unsigned char)~(bit >> PM_OWNER_BYTE_SHIFT);
}

static inline void *chunk_mem(mchunk *p) { return (char *)p + PM_CHUNK_HDR; }
static inline mchunk *mem_chunk(const void *mem) { return (mchunk *)((char *)mem - PM_CHUNK_HDR); }
static inline mchunk *chunk_at(const void *p, size_t offset) { return (mchunk *)((char *)p + offset); }
static inline mchunk *chunk_before(const void *p, size_t offset) { return (mchunk *)((char *)p - offset); }

/* size and flags */
static inline size_t chunk_raw_size(mchunk *p) { return p->size; }
/* The size and the arena's flags, as the model's size checks read them
 * (a fencepost's 16 | PREV_INUSE passes a "more than a header" test). */
static inline size_t chunk_size_and_flags(mchunk *p) { return p->size & (PM_SIZE_MASK | PM_SIZE_BITS); }
static inline size_t chunk_size(mchunk *p) { return p->size & PM_SIZE_MASK; }
/* Whether the chunk's size word carries the tag of its size. */
static inline bool chunk_tag_ok(mchunk *p)
{
    return size_tag_matches(p->size, chunk_size(p), chunk_key_at(chunk_mem(p)));
}
static inline bool chunk_held_free(mchunk *p) { return PM_CHUNK_CHECKS && (p->size & PM_HELD_FREE) != 0; }
static inline void chunk_set_held_free(mchunk *p)
{
    if (PM_CHUNK_CHECKS)
        chunk_set_owner_bit(p, PM_HELD_FREE);
}
static inline void chunk_clear_held_free(mchunk *p)
{
    if (PM_CHUNK_CHECKS)
        chunk_clear_owner_bit(p, PM_HELD_FREE);
}
/* What the heap walker expects of a chunk held free: the mark, unless the
 * checks are compiled out. */
static inline bool chunk_held_mark_ok(mchunk *p) { return !PM_CHUNK_CHECKS || chunk_held_free(p); }
static inline bool chunk_sampled(mchunk *p) { return (p->size & PM_SAMPLED_CHUNK) != 0; }
static inline void chunk_set_sampled(mchunk *p) { chunk_set_owner_bit(p, PM_SAMPLED_CHUNK); }
static inline void chunk_clear_sampled(mchunk *p) { chunk_clear_owner_bit(p, PM_SAMPLED_CHUNK); }
/* Whether the size word, the owner's bits counted in, runs the chunk past
 * the end of the address space: a forged size too big for any chunk has
 * those bits set too, and is an invalid pointer, not a double free or a
 * sampled block (a real chunk lies far below the top of the addresses). */
static inline bool chunk_raw_wraps(mchunk *p)
{
    return (uintptr_t)p > (uintptr_t)0 - (p->size & ~PM_SIZE_BITS);
}
static inline size_t chunk_flags(mchunk *p) { return p->size & PM_SIZE_BITS; }
static inline bool chunk_prev_inuse(mchunk *p) { return (p->size & PM_PREV_INUSE) != 0; }
static inline bool chunk_is_mmapped(mchunk *p) { return (p->size & PM_IS_MMAPPED) != 0; }
static inline bool chunk_non_main(mchunk *p) { return (p->size & PM_NON_MAIN_ARENA) != 0; }
/* A new head: the size, the arena's flags and the size's tag, with the
 * owner's bits clear. */
static inline void chunk_set_head(mchunk *p, size_t size_and_flags)
{
    p->size = size_and_flags | size_tag(size_and_flags & PM_SIZE_MASK, chunk_key_at(chunk_mem(p)));
}
/* A block resized in place by its owner, under its arena's lock: nobody
 * else writes either end of the word meanwhile. */
static inline void chunk_set_size_keep_flags(mchunk *p, size_t size)
{
    p->size = (p->size & (PM_SIZE_BITS | PM_OWNER_BITS)) | size | size_tag(size, chunk_key_at(chunk_mem(p)));
}
static inline void chunk_set_prev_inuse(mchunk *p) { *chunk_size_byte(p, PM_SIZE_LOW_BYTE) |= PM_PREV_INUSE; }
static inline void chunk_clear_prev_inuse(mchunk *p)
{
    *chunk_size_byte(p, PM_SIZE_LOW_BYTE) &= (unsigned char)~PM_PREV_INUSE;
}

/* prev_size: the boundary tag of the previous chunk while that one is free;
 * for an mmapped chunk, the offset of the chunk from its mapping's start. */
static inline size_t chunk_prev_size(mchunk *p) { return p->prev_size; }
static inline void chunk_set_prev_size(mchunk *p, size_t s) { p->prev_size = s; }

/* physical neighbours */
static inline mchunk *chunk_next(mchunk *p) { return chunk_at(p, chunk_size(p)); }
static inline mchunk *chunk_prev(mchunk *p) { return chunk_before(p, p->prev_size); }

/* A chunk's own in-use state lives in the PREV_INUSE bit of its successor. */
static inline bool chunk_inuse(mchunk *p) { return chunk_prev_inuse(chunk_next(p)); }
static inline bool chunk_inuse_at(mchunk *p, size_t offset) { return chunk_prev_inuse(chunk_at(p, offset)); }
static inline void chunk_set_inuse_at(mchunk *p, size_t offset) { chunk_set_prev_inuse(chunk_at(p, offset)); }
static inline void chunk_clear_inuse_at(mchunk *p, size_t offset) { chunk_clear_prev_inuse(chunk_at(p, offset)); }

/* Writes the boundary tag of a free chunk into its successor's prev_size. */
static inline void chunk_set_foot(mchunk *p, size_t size) { chunk_at(p, size)->prev_size = size; }

/* free-list links */
static inline mchunk *chunk_fd(mchunk *p) { return p->fd; }
static inline mchunk *chunk_bk(mchunk *p) { return p->bk; }
static inline void chunk_set_fd(mchunk *p, mchunk *v) { p->fd = v; }
static inline void chunk_set_bk(mchunk *p, mchunk *v) { p->bk = v; }
static inline mchunk *chunk_fd_nextsize(mchunk *p) { return p->fd_nextsize; }
static inline mchunk *chunk_bk_nextsize(mchunk *p) { return p->bk_nextsize; }
static inline void chunk_set_fd_nextsize(mchunk *p, mchunk *v) { p->fd_nextsize = v; }
static inline void chunk_set_bk_nextsize(mchunk *p, mchunk *v) { p->bk_nextsize = v; }
/* A fast-bin chunk links through fd alone; its bk word holds a canary
 * (bins.h, fast_canary) that a write after free is likely to change. */
static inline uintptr_t chunk_canary(mchunk *p) { return (uintptr_t)p->bk; }
static inline void chunk_set_canary(mchunk *p, uintptr_t v) { p->bk = (mchunk *)v; }
/* Address of the fd word: safe-linking mixes the slot's own address in. */
static inline mchunk **chunk_fd_slot(mchunk *p) { return &p->fd; }

/* sizes */
static inline bool size_aligned(size_t s) { return (s & PM_ALIGN_MASK) == 0; }
static inline bool ptr_aligned(const void *m) { return ((uintptr_t)m & PM_ALIGN_MASK) == 0; }
static inline size_t align_up(size_t v, size_t a) { return (v + a - 1) & ~(a - 1); }
static inline size_t align_down(size_t v, size_t a) { return v & ~(a - 1); }

/* Chunk size for a request: header word plus payload, rounded to the
 * alignment, never below MINSIZE.  The next chunk's prev_size word is lent
 * to the payload while this chunk is in use, so only one word of overhead. */
static inline size_t request_to_size(size_t req)
{
    if (req + PM_SIZE_SZ + PM_ALIGN_MASK < PM_MINSIZE)
        return PM_MINSIZE;
    return (req + PM_SIZE_SZ + PM_ALIGN_MASK) & ~PM_ALIGN_MASK;
}

/* As request_to_size, but false when the request is too large to serve. */
static inline bool checked_request_to_size(size_t req, size_t *out)
{
    if (req > PM_MAX_REQUEST)
        return false;
    *out = request_to_size(req);
    return true;
}

/* Payload bytes a heap chunk of this size gives its user (one word of the
 * successor is lent); an mmapped chunk has no successor to borrow from. */
static inline size_t chunk_usable(mchunk *p)
{
    if (chunk_is_mmapped(p))
        return chunk_size(p) - PM_CHUNK_HDR;
    return chunk_size(p) - PM_SIZE_SZ;
}

/* A free chunk whose whole pages went back to the system (sysmalloc.c's
 * decay) says so in the word after its skip-list links, which lies in the
 * first page and so stays.  The mark is keyed by the chunk's address and
 * size: a word left there by an earlier chunk, or a merge or split that
 * moved either, does not pass for it. */
static inline uintptr_t *chunk_returned_slot(mchunk *p) { return (uintptr_t *)(p + 1); }
static inline uintptr_t chunk_returned_mark(mchunk *p, uintptr_t key)
{
    return (((uintptr_t)p ^ chunk_size(p)) * (uintptr_t)0x9e3779b97f4a7c15ull) ^ key;
}
static inline bool chunk_pages_returned(mchunk *p, uintptr_t key)
{
    return *chunk_returned_slot(p) == chunk_returned_mark(p, key);
}
static inline void chunk_mark_pages_returned(mchunk *p, uintptr_t key) { *chunk_returned_slot(p) = chunk_returned_mark(p, key); }
static inline void chunk_clear_pages_returned(mchunk *p) { *chunk_returned_slot(p) = 0; }
/* the end of what a free chunk keeps when its pages go back */
#define PM_RETURNED_KEEP (sizeof(struct pm_chunk) + sizeof(uintptr_t))

/* The hardened mode keeps a tag in the last word of a block's usable
 * space (for a heap chunk, the successor's prev_size word, which an in-use
 * chunk lends to its user). */
static inline uintptr_t *chunk_tag_slot(mchunk *p)
{
    return (uintptr_t *)((char *)chunk_mem(p) + chunk_usable(p) - PM_SIZE_SZ);
}

#endif
