/* Chunks served straight from mmap: requests at or above the mmap
 * threshold, and the dynamic threshold that follows what the program
 * frees.
 *
 * Each mapping starts with a small link record that keeps every mmapped
 * chunk on one list, so the heap walker and heapviz can find them and a
 * free can tell a real mapping of ours from a forged header.  The chunk
 * follows; its prev_size is its offset from the mapping's start. */
#include "config.h"

#include "mmap_chunk.h"

#include <errno.h>
#include <string.h>
#include "limit.h"
#include "memcheck.h"
#include "os.h"

#define LINK_SIZE sizeof(struct pm_mmap_link)

static pm_lock_t mmap_lock = PM_LOCK_INITIALIZER(PM_LOCK_RANK_MMAP);
struct pm_mmap_link pm_mmap_list = { &pm_mmap_list, &pm_mmap_list, NULL, 0 };

static size_t mapping_len(mchunk *p) { return chunk_prev_size(p) + chunk_size(p); }

/* Under the mmap lock: the only writer of these counters. */
static void account(long count, long bytes)
{
    __atomic_store_n(&pm_global.n_mmaps, pm_global.n_mmaps + (size_t)count, __ATOMIC_RELAXED);
    pm_global.mmapped_mem += (size_t)bytes;
    if (pm_global.n_mmaps > pm_global.n_mmaps_max)
        pm_global.n_mmaps_max = pm_global.n_mmaps;
    if (pm_global.mmapped_mem > pm_global.max_mmapped_mem)
        pm_global.max_mmapped_mem = pm_global.mmapped_mem;
    pm_account_system(bytes > 0 ? (size_t)bytes : 0, bytes < 0 ? (size_t)-bytes : 0);
}

void *pm_mmap_alloc(size_t nb, size_t alignment)
{
    if (alignment < PM_ALIGNMENT)
        alignment = PM_ALIGNMENT;
    size_t slack = LINK_SIZE + PM_CHUNK_HDR + (alignment - PM_ALIGNMENT);
    size_t page = pm_page_size();
    if (nb > PM_MAX_REQUEST - slack - page) {
        errno = ENOMEM;
        return NULL;
    }
    /* The hardened mode puts an inaccessible page after the block, so an
     * overrun faults at once. */
    size_t guard = pm_opt.hardened ? page : 0;
    size_t len = align_up(nb + slack, page);
    if (pm_limit_check(len + guard) == PM_LIMIT_HARD) {
        errno = ENOMEM;
        return NULL;
    }
    char *map = pm_os_map(len + guard, false);
    if (map == NULL)
        return NULL;
    if (guard != 0 && !pm_os_protect(map + len, guard, false)) {
        pm_os_unmap(map, len + guard);
        return NULL;
    }
    pm_vg_reserve(map, len);
    char *mem = (char *)align_up((uintptr_t)map + LINK_SIZE + PM_CHUNK_HDR, alignment);
    mchunk *p = mem_chunk(mem);
    size_t offset = (size_t)((char *)p - map);
    chunk_set_prev_size(p, offset);
    chunk_set_head(p, (len - offset) | PM_IS_MMAPPED);

    struct pm_mmap_link *l = (struct pm_mmap_link *)map;
    l->chunk = p;
    l->reserved = guard;
    pm_lock(&mmap_lock);
    l->next = pm_mmap_list.next;
    l->prev = &pm_mmap_list;
    pm_mmap_list.next->prev = l;
    pm_mmap_list.next = l;
    account(1, (long)(len + guard));
    pm_unlock(&mmap_lock);
    return mem;
}

/* A mapping header that does not sit on a page boundary, or whose link is
 * not on our list, was not made here. */
static struct pm_mmap_link *checked_link(mchunk *p, const char *check)
{
    uintptr_t map = (uintptr_t)p - chunk_prev_size(p);
    if (PM_UNLIKELY(((map | mapping_len(p)) & (pm_page_size() - 1)) != 0 ||
                    chunk_prev_size(p) < LINK_SIZE))
        pm_corruption(check, chunk_mem(p));
    struct pm_mmap_link *l = (struct pm_mmap_link *)map;
    if (PM_UNLIKELY(l->chunk != p || l->next == l || l->next->prev != l || l->prev->next != l))
        pm_corruption(check, chunk_mem(p));
    return l;
}

/* A size an overflow rewrote (chunk.h, the size tag) must not say how
 * much to unmap or remap. */
static void check_tag(mchunk *p, const char *check)
{
    if (PM_UNLIKELY(!chunk_tag_ok(p)))
        pm_corruption(check, chunk_mem(p));
}

void pm_mmap_free(mchunk *p)
{
    size_t size = chunk_size(p);
    pm_lock(&mmap_lock);
    struct pm_mmap_link *l = checked_link(p, "munmap_chunk(): invalid pointer");
    check_tag(p, "munmap_chunk(): chunk size tag mismatch");
    size_t len = mapping_len(p) + l->reserved;
    l->prev->next = l->next;
    l->next->prev = l->prev;
    account(-1, -(long)len);
    /* A program that frees blocks this large will likely ask for them
     * again: serve those from the heap rather than mapping each one. */
    if (!pm_opt.no_dyn_threshold && size > pm_opt.mmap_threshold && size <= PM_MMAP_THRESHOLD_MAX)
        pm_opt_raise_thresholds(size);
    pm_unlock(&mmap_lock);
    if (!pm_os_unmap(l, len)) {
        /* The kernel refused: keep the mapping on our books rather than
         * lose track of it. */
        pm_lock(&mmap_lock);
        l->next = pm_mmap_list.next;
        l->prev = &pm_mmap_list;
        pm_mmap_list.next->prev = l;
        pm_mmap_list.next = l;
        account(1, (long)len);
        pm_unlock(&mmap_lock);
    }
}

void *pm_mmap_realloc(mchunk *p, size_t nb)
{
    size_t offset = chunk_prev_size(p);
    size_t old_len = mapping_len(p);
    size_t page = pm_page_size();
    if (nb > PM_MAX_REQUEST - offset - page)
        return NULL;
    size_t new_len = align_up(nb + offset + PM_CHUNK_HDR, page);
    if (new_len == old_len) {
        check_tag(p, "mremap_chunk(): chunk size tag mismatch");
        return chunk_mem(p);
    }

    pm_lock(&mmap_lock);
    struct pm_mmap_link *l = checked_link(p, "mremap_chunk(): invalid pointer");
    check_tag(p, "mremap_chunk(): chunk size tag mismatch");
    if (l->reserved != 0) {
        /* a guard page would not follow the block: move it instead */
        pm_unlock(&mmap_lock);
        return NULL;
    }
    struct pm_mmap_link *moved = pm_os_remap(l, old_len, new_len, true);
    if (moved == NULL) {
        pm_unlock(&mmap_lock);
        return NULL;
    }
    mchunk *np = chunk_at(moved, offset);
    chunk_set_head(np, (new_len - offset) | PM_IS_MMAPPED);
    moved->chunk = np;
    moved->prev->next = moved;
    moved->next->prev = moved;
    account(0, (long)new_len - (long)old_len);
    pm_unlock(&mmap_lock);
    return chunk_mem(np);
}

bool pm_mmap_check(pm_problem_fn report, void *ctx)
{
    size_t count = 0, bytes = 0;
    bool ok = true;
    pm_lock(&mmap_lock);
    size_t limit = pm_global.n_mmaps + 1;
    for (struct pm_mmap_link *l = pm_mmap_list.next; l != &pm_mmap_list; l = l->next) {
        if (l->next->prev != l || l->prev->next != l) {
            report(ctx, "mmapped chunk list broken", l);
            ok = false;
            break;
        }
        if (((uintptr_t)l & (pm_page_size() - 1)) != 0) {
            report(ctx, "mmapped chunk mapping not page aligned", l);
            ok = false;
            break;
        }
        if (++count > limit) {
            report(ctx, "mmapped chunk list longer than its count", l);
            ok = false;
            break;
        }
        mchunk *p = l->chunk;
        if ((char *)p < (char *)l + LINK_SIZE || (char *)p - chunk_prev_size(p) != (char *)l ||
            !chunk_is_mmapped(p) || (mapping_len(p) & (pm_page_size() - 1)) != 0) {
            report(ctx, "mmapped chunk header does not match its mapping", l);
            ok = false;
            continue;
        }
        if (!chunk_tag_ok(p)) {
            report(ctx, "mmapped chunk size tag does not match its size", p);
            ok = false;
        }
        bytes += mapping_len(p) + l->reserved;
    }
    if (ok && (count != pm_global.n_mmaps || bytes != pm_global.mmapped_mem)) {
        report(ctx, "mmapped chunk totals disagree with the list", &pm_mmap_list);
        ok = false;
    }
    pm_unlock(&mmap_lock);
    return ok;
}

bool pm_mmap_owns(mchunk *p)
{
    bool found = false;
    pm_lock(&mmap_lock);
    for (struct pm_mmap_link *l = pm_mmap_list.next; l != &pm_mmap_list && !found; l = l->next)
        found = l->chunk == p;
    pm_unlock(&mmap_lock);
    return found;
}

void pm_mmap_lock_all(void) { pm_lock(&mmap_lock); }

void pm_mmap_unlock_all(bool in_fork_child) { pm_lock_after_fork(&mmap_lock, in_fork_child); }
