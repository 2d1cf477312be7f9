/* Giving memory back to the system, in one place: malloc_trim calls it,
 * the allocation path does when growth comes near a memory limit
 * (limit.c), and the idle return does it by itself, a bounded step at a
 * time, in arenas no call has used for the decay's delay. */
#include "config.h"

#include "trim.h"

#include "core.h"
#include "os.h"
#include "prof.h"
#include "sysmalloc.h"
#include "tcache.h"

bool pm_trim_all(size_t pad)
{
    bool released = false;
    struct pm_arena *a = &pm_main_arena;
    do {
        pm_lock_arena(a);
        pm_merge_held(a);
        if (a != &pm_main_arena)
            released |= pm_unmap_empty_heaps(a);
        released |= pm_systrim(a, pad);
        released |= pm_discard_free_pages(a);
        pm_unlock(&a->lock);
        a = arena_next(a);
    } while (a != &pm_main_arena);
    return released;
}

void pm_trim_for_limit(void)
{
    struct pm_tcache *t = pm_tcache_get();
    if (t != NULL)
        pm_tcache_release_classes(t);
    pm_trim_all(0);
}

/* The idle return (issue #11).  A program whose calls are all hits in
 * its threads' caches never reaches an arena, so nothing there would
 * ever merge the chunks the caches once spilled into the fast bins, or
 * give their pages back: a thread that freed most of its heap into its
 * cache and went on with a call now and then kept all of it resident.
 * So the caches' hit countdown (prof.h) runs out now and then, and each
 * time the idle return looks at every arena it can lock at once; a
 * thread's slow calls look too, now and then, for the threads that make
 * no hits (all their calls miss, or they only free).  One
 * whose lock no call has taken for the decay's delay gets a step of
 * work: merging PM_IDLE_MERGE_CHUNKS fast chunks, then as many stored
 * ones (bins.h), then, once they are all merged, giving back top beyond
 * the top pad and empty sub-heaps, PM_DECAY_BUDGET bytes at a time, then
 * one pass of the decay (sysmalloc.c).
 * A look does one arena's step; while work is left the next call looks
 * again, so a big heap goes back over many calls, none of which stalls.
 * PMALLOC_DECAY_MS=-1 keeps everything, as it keeps free pages. */
#define PM_IDLE_MERGE_CHUNKS ((size_t)8192)

/* Top beyond top_pad, PM_DECAY_BUDGET bytes of it at a time, and then
 * the empty newest sub-heaps of a thread arena: true if it gave back
 * anything.  Below the trim threshold too: what a large free left of top
 * (pm_free_trim_due) goes back here once the arena has been idle. */
static bool give_back_top_slice(struct pm_arena *a)
{
    size_t top = top_size(a), pad = pm_opt.top_pad;
    if (pm_systrim_worth(a, pad)) {
        if (top - PM_MINSIZE - pad > PM_DECAY_BUDGET)
            pad = top - PM_MINSIZE - PM_DECAY_BUDGET;
        if (pm_systrim(a, pad))
            return true;
    }
    return a != &pm_main_arena && pm_unmap_empty_heaps(a);
}

/* Arena a, locked by the look: true when it has work due that this look
 * left (another arena's step, or its own, took the look's turn). */
static bool idle_step(struct pm_arena *a, unsigned long long now, unsigned long long delay, bool *worked)
{
    /* a remote free is a call into the arena too */
    if (__atomic_load_n(&a->remote_frees, __ATOMIC_RELAXED) != NULL) {
        pm_drain_remote(a);
        a->activity++;
    }
    if (a->activity != a->idle_activity) {
        a->idle_activity = a->activity;
        a->idle_since_ns = now;
        a->idle_resume = (struct pm_decay_resume){0, NULL, 0};
        a->idle_done = false;
        return false;
    }
    if (a->idle_done || now - a->idle_since_ns < delay)
        return false;
    if (*worked)
        return true;
    *worked = true;
    if (a->have_fastchunks) {
        pm_consolidate_some(a, PM_IDLE_MERGE_CHUNKS);
        return true;
    }
    if (a->store_bytes != 0) {
        pm_merge_stores(a, PM_IDLE_MERGE_CHUNKS);
        return true;
    }
    if (give_back_top_slice(a)) {
        /* an older heap's last chunk may have left its bin for top */
        a->idle_resume = (struct pm_decay_resume){0, NULL, 0};
        return true;
    }
    if (!pm_decay_pass(a, &a->idle_resume, true))
        return true;
    a->idle_done = true;
    return false;
}

static bool idle_look(unsigned long long now)
{
    int ms = pm_opt.decay_ms;
    if (ms < 0)
        return false;
    unsigned long long delay = (unsigned long long)ms * 1000000ull;
    bool due = false, worked = false;
    struct pm_arena *a = &pm_main_arena;
    do {
        if (pm_trylock(&a->lock) == 0) {
            due |= idle_step(a, now, delay, &worked);
            pm_unlock(&a->lock);
        }
        a = arena_next(a);
    } while (a != &pm_main_arena);
    return due;
}

/* Memory is going back while thread cache t's owner makes only hits, or
 * only frees: what its cache took on in busier times, chunks all over
 * the heap that keep their pages and cut the free runs around them, goes
 * back too, once until its next slow allocation (their arena then waits
 * the delay again). */
static void release_cache_if_due(struct pm_tcache *t, bool due)
{
    if (due && !t->idle_trimmed) {
        t->idle_trimmed = true;
        pm_tcache_release_classes(t);
    }
}

int64_t pm_trim_idle_look(struct pm_tcache *t)
{
    unsigned long long now = pm_os_now_ns();
    bool due = idle_look(now);
    release_cache_if_due(t, due);
    return pm_tcache_pace(t, now, due);
}

void pm_trim_slow_look(struct pm_tcache *t)
{
    unsigned long long now = pm_os_now_ns();
    if (!t->slow_look_due && now - t->slow_look_ns < PM_LOOK_EVERY_NS)
        return;
    t->slow_look_ns = now;
    t->slow_look_due = idle_look(now);
    release_cache_if_due(t, t->slow_look_due);
}

bool pm_trim_idle_step(void) { return idle_look(pm_os_now_ns()); }
