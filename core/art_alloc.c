/*
 * art_alloc.c -- the core's memory: the count of live blocks, the slab
 * allocator that nodes and leaves come from, large blocks, and the block
 * a loaded file hands over.  The only file that knows the layout of a
 * tree's allocator state (art_tree.alloc in art.h); art_internal.h is its
 * interface to the rest of the core.
 */
/* madvise() under -std=c11; a feature macro is reserved by design. */
#if defined(__linux__) && !defined(_DEFAULT_SOURCE)
#define _DEFAULT_SOURCE /* NOLINT(bugprone-reserved-identifier) */
#endif
#include "art.h"

#include <stdlib.h>
#include <string.h>

#include "art_internal.h"

#if defined(__linux__)
#include <sys/mman.h>
#endif

/* ------------------------------------------------------------------ */
/* Counted blocks                                                      */
/* ------------------------------------------------------------------ */

/*
 * Every block the library allocates is counted, so that tests can prove
 * that nothing leaks (art_live_allocations).  Atomic where C11 atomics
 * exist, since trees on different threads share the counter.
 */
#if !defined(__STDC_NO_ATOMICS__)
#include <stdatomic.h>
static atomic_size_t live_allocations;
#define COUNT_ALLOC()                                                          \
    atomic_fetch_add_explicit(&live_allocations, 1, memory_order_relaxed)
#define COUNT_FREE()                                                           \
    atomic_fetch_sub_explicit(&live_allocations, 1, memory_order_relaxed)
#define LIVE_ALLOCATIONS()                                                     \
    atomic_load_explicit(&live_allocations, memory_order_relaxed)
#else
static size_t live_allocations;
#define COUNT_ALLOC()      (live_allocations++)
#define COUNT_FREE()       (live_allocations--)
#define LIVE_ALLOCATIONS() (live_allocations)
#endif

size_t art_live_allocations(void)
{
    return LIVE_ALLOCATIONS();
}

void *art__malloc(art_tree *t, size_t size)
{
    if (t->fail_countdown > 0 && --t->fail_countdown == 0)
        return NULL;
    void *p = malloc(size);
    if (p)
        COUNT_ALLOC();
    return p;
}

void art__free(void *p)
{
    if (p) {
        COUNT_FREE();
        free(p);
    }
}

/*
 * A large block filled at once (a loaded file's nodes).  On Linux it is
 * aligned to 2 MiB and offered to transparent huge pages: the kernel then
 * maps it 2 MiB at a time instead of faulting it in 4 KiB at a time (70 MB
 * in 3 ms instead of 25 ms on the benchmark machine), and walks over it
 * miss less in the TLB.  Freed with free() like any other block.
 */
#define HUGE_PAGE ((size_t)2 << 20)

void *art__malloc_big(art_tree *t, size_t size)
{
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (size >= HUGE_PAGE && size <= SIZE_MAX - HUGE_PAGE) {
        if (t->fail_countdown > 0 && --t->fail_countdown == 0)
            return NULL;
        size_t rounded = (size + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
        void *p = aligned_alloc(HUGE_PAGE, rounded);
        if (p == NULL)
            return NULL;
        COUNT_ALLOC();
        (void)madvise(p, rounded, MADV_HUGEPAGE); /* only advice */
        return p;
    }
#endif
    return art__malloc(t, size);
}

int art__grow_slow(art_tree *t, void **buf, size_t *cap, size_t need,
                   size_t elem)
{
    size_t n = *cap ? *cap : 32;
    while (n < need) {
        if (n > SIZE_MAX / 2 / elem)
            return ART_ENOMEM;
        n *= 2;
    }
    void *p = art__malloc(t, n * elem);
    if (p == NULL)
        return ART_ENOMEM;
    if (*cap)
        memcpy(p, *buf, *cap * elem);
    art__free(*buf);
    *buf = p;
    *cap = n;
    return ART_OK;
}

/* ------------------------------------------------------------------ */
/* Slabs                                                               */
/* ------------------------------------------------------------------ */

/*
 * Slab allocation of nodes and leaves.  Most blocks are small (a Node4 is
 * 56 bytes plus its prefix, a leaf 12 plus its suffix) and malloc would
 * add a header and round each to 16 bytes: about a fifth of the tree's
 * memory on URL-like keys.  Blocks of up to ART_SLAB_MAX bytes are carved
 * from pages owned by the tree instead, with one free list per 8-byte
 * size class; a block's size is always known from its contents, so no
 * header is stored.  Pages grow from 1 KiB to 64 KiB, so small trees stay
 * small, and are released when the tree becomes empty.  Larger blocks
 * (Node48/256, long leaves) come from malloc directly.
 */
typedef struct art_slab {
    void *free[ART_SLAB_MAX / 8]; /* per size class, a free list */
    void *pages;                  /* singly linked list of pages */
    uint8_t *next, *end;          /* unused space of the newest page */
    size_t page_size;             /* size of the next page to allocate */
    /* One block of nodes and leaves taken over from a file by
       art_file_load(), freed with the pages; NULL otherwise. */
    void *arena;
    size_t arena_size;
} art_slab;

/* art.h sizes the state without knowing its layout. */
_Static_assert(sizeof(art_slab) <= sizeof(art_alloc),
               "art_alloc too small for the slab state");
_Static_assert(_Alignof(art_slab) <= _Alignof(art_alloc),
               "art_alloc not aligned for the slab state");

/* Every access to the state goes through this type, never through the
   placeholder members of art_alloc. */
static inline art_slab *slab_of(art_tree *t)
{
    return (art_slab *)(void *)&t->alloc;
}

/*
 * Under AddressSanitizer, free slab blocks and the uncarved rest of a page
 * are poisoned, so that a use after free inside a page is reported as it
 * would be for a malloc'd block.
 */
#if defined(__SANITIZE_ADDRESS__)
#define ART_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ART_ASAN 1
#endif
#endif
#ifdef ART_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n)   ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n)   ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define SLAB_MIN_PAGE 1024
#define SLAB_MAX_PAGE ((size_t)64 * 1024)
#define SLAB_HEADER   16 /* a page starts with its link and size */

void *art__heap_block_alloc(art_tree *t, size_t size)
{
    void *p = art__malloc(t, size);
    if (p)
        t->reserved += size;
    return p;
}

void art__heap_block_free(art_tree *t, void *p, size_t size)
{
    art_slab *s = slab_of(t);
    if (art__in_arena(s->arena, s->arena_size, p)) {
        /* Part of one large block: given back with it. */
        POISON(p, size);
        return;
    }
    t->reserved -= size;
    art__free(p);
}

void *art__block_alloc(art_tree *t, size_t size)
{
    if (size > ART_SLAB_MAX)
        return art__heap_block_alloc(t, size);
    if (t->fail_countdown > 0 && --t->fail_countdown == 0)
        return NULL;
    art_slab *s = slab_of(t);
    size_t cls = size / 8 - 1;
    void *p = s->free[cls];
    if (p) {
        UNPOISON(p, size);
        memcpy(&s->free[cls], p, sizeof(void *));
        return p;
    }
    if ((size_t)(s->end - s->next) < size) {
        size_t page = s->page_size ? s->page_size : SLAB_MIN_PAGE;
        uint8_t *pg = malloc(page);
        if (pg == NULL)
            return NULL;
        COUNT_ALLOC();
        /* Page header: the link to the previous page, then the size. */
        memcpy(pg, &s->pages, sizeof(void *));
        memcpy(pg + sizeof(void *), &page, sizeof(size_t));
        s->pages = pg;
        s->next = pg + SLAB_HEADER;
        s->end = pg + page;
        t->reserved += page;
        if (page < SLAB_MAX_PAGE)
            s->page_size = page * 2;
        POISON(s->next, page - SLAB_HEADER);
    }
    p = s->next;
    s->next += size;
    UNPOISON(p, size);
    return p;
}

void art__block_free(art_tree *t, void *p, size_t size)
{
    art_slab *s = slab_of(t);
    if (size > ART_SLAB_MAX) {
        art__heap_block_free(t, p, size);
        return;
    }
    size_t cls = size / 8 - 1;
    memcpy(p, &s->free[cls], sizeof(void *));
    s->free[cls] = p;
    POISON(p, size);
}

/* Releases every page and the arena; no block carved from them may be in
   use. */
static void free_pages(uint8_t *pg, void *arena, size_t arena_size)
{
    while (pg) {
        uint8_t *next;
        size_t page;
        memcpy(&next, pg, sizeof(void *));
        memcpy(&page, pg + sizeof(void *), sizeof(size_t));
        UNPOISON(pg, page);
        (void)page;
        art__free(pg);
        pg = next;
    }
    if (arena) {
        UNPOISON(arena, arena_size);
        (void)arena_size;
        art__free(arena);
    }
}

void art__alloc_release(art_tree *t)
{
    art_slab *s = slab_of(t);
    free_pages(s->pages, s->arena, s->arena_size);
    memset(s, 0, sizeof(*s));
    t->reserved = 0;
}

void art__alloc_detach(art_tree *t, art_detached *d)
{
    art_slab *s = slab_of(t);
    d->pages = s->pages;
    d->arena = s->arena;
    d->arena_size = s->arena_size;
    memset(s, 0, sizeof(*s));
    t->reserved = 0;
}

void art__alloc_free_detached(const art_detached *d)
{
    free_pages(d->pages, d->arena, d->arena_size);
}

void art__alloc_adopt(art_tree *t, void *block, size_t size)
{
    art_slab *s = slab_of(t);
    s->arena = block;
    s->arena_size = size;
    t->reserved = size;
}
