/*
 * art.c -- adaptive radix tree; see art.h for the design and the contract.
 *
 * Layout (art_layout.h).  A child pointer is a tagged uintptr_t: low bit 1
 * for a leaf, 0 for an inner node (every block is 8-byte aligned, so the
 * bit is free).  An inner node is an 8-byte header, then its prefix padded
 * to 8 bytes, then the body of its kind, then a value slot if a key ends
 * there; keeping the prefix next to the header means a lookup
 * reads the header, the prefix and (for Node4/16) the key bytes from the
 * same cache line or two.  A leaf is its value, its suffix length and the
 * suffix bytes, 12 bytes plus the suffix.
 */
/* madvise() under -std=c11; a feature macro is reserved by design. */
#if defined(__linux__) && !defined(_DEFAULT_SOURCE)
#define _DEFAULT_SOURCE /* NOLINT(bugprone-reserved-identifier) */
#endif
#include "art.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "art_layout.h"

#if defined(__linux__)
#include <sys/mman.h>
#endif

/* ------------------------------------------------------------------ */
/* Allocation                                                          */
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

static void *tree_malloc(art_tree *t, size_t size)
{
    if (t->fail_countdown > 0 && --t->fail_countdown == 0)
        return NULL;
    void *p = malloc(size);
    if (p)
        COUNT_ALLOC();
    return p;
}

static void tree_free(void *p)
{
    if (p) {
        COUNT_FREE();
        free(p);
    }
}

void *art__malloc(art_tree *t, size_t size)
{
    return tree_malloc(t, size);
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
    return tree_malloc(t, size);
}

void art__free(void *p)
{
    tree_free(p);
}

/*
 * Slab allocation of nodes and leaves.  Most blocks are small (a Node4 is
 * 56 bytes plus its prefix, a leaf 12 plus its suffix) and malloc would
 * add a header and round each to 16 bytes: about a fifth of the tree's
 * memory on URL-like keys.  Blocks of up to SLAB_MAX bytes are carved
 * from pages owned by the tree instead, with one free list per 8-byte
 * size class; a block's size is always known from its contents, so no
 * header is stored.  Pages grow from 1 KiB to 64 KiB, so small trees stay
 * small, and are released when the tree becomes empty.  Larger blocks
 * (Node48/256, long leaves) come from malloc directly.
 */
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

#define SLAB_MAX      512
#define SLAB_MIN_PAGE 1024
#define SLAB_MAX_PAGE ((size_t)64 * 1024)
#define SLAB_HEADER   16 /* a page starts with its link and size */

static void *block_alloc(art_tree *t, size_t size)
{
    if (size > SLAB_MAX) {
        void *p = tree_malloc(t, size);
        if (p)
            t->reserved += size;
        return p;
    }
    if (t->fail_countdown > 0 && --t->fail_countdown == 0)
        return NULL;
    size_t cls = size / 8 - 1;
    void *p = t->slab_free[cls];
    if (p) {
        UNPOISON(p, size);
        memcpy(&t->slab_free[cls], p, sizeof(void *));
        return p;
    }
    if ((size_t)(t->slab_end - t->slab_next) < size) {
        size_t page = t->slab_page_size ? t->slab_page_size : SLAB_MIN_PAGE;
        uint8_t *pg = malloc(page);
        if (pg == NULL)
            return NULL;
        COUNT_ALLOC();
        /* Page header: the link to the previous page, then the size. */
        memcpy(pg, &t->slab_pages, sizeof(void *));
        memcpy(pg + sizeof(void *), &page, sizeof(size_t));
        t->slab_pages = pg;
        t->slab_next = pg + SLAB_HEADER;
        t->slab_end = pg + page;
        t->reserved += page;
        if (page < SLAB_MAX_PAGE)
            t->slab_page_size = page * 2;
        POISON(t->slab_next, page - SLAB_HEADER);
    }
    p = t->slab_next;
    t->slab_next += size;
    UNPOISON(p, size);
    return p;
}

/* Whether p lies in the block taken over from a file (art_file_load). */
static inline int in_arena(const void *arena, size_t size, const void *p)
{
    return (uintptr_t)p - (uintptr_t)arena < size;
}

static void block_free(art_tree *t, void *p, size_t size)
{
    if (size > SLAB_MAX) {
        if (in_arena(t->arena, t->arena_size, p)) {
            /* Part of one large block: given back with it. */
            POISON(p, size);
            return;
        }
        t->reserved -= size;
        tree_free(p);
        return;
    }
    size_t cls = size / 8 - 1;
    memcpy(p, &t->slab_free[cls], sizeof(void *));
    t->slab_free[cls] = p;
    POISON(p, size);
}

/* Releases every page; no block carved from them may be in use. */
static void free_pages(uint8_t *pg, void *arena, size_t arena_size)
{
    while (pg) {
        uint8_t *next;
        size_t page;
        memcpy(&next, pg, sizeof(void *));
        memcpy(&page, pg + sizeof(void *), sizeof(size_t));
        UNPOISON(pg, page);
        (void)page;
        tree_free(pg);
        pg = next;
    }
    if (arena) {
        UNPOISON(arena, arena_size);
        (void)arena_size;
        tree_free(arena);
    }
}

static void slab_release(art_tree *t)
{
    free_pages(t->slab_pages, t->arena, t->arena_size);
    t->arena = NULL;
    t->arena_size = 0;
    memset(t->slab_free, 0, sizeof(t->slab_free));
    t->slab_pages = NULL;
    t->slab_next = t->slab_end = NULL;
    t->slab_page_size = 0;
    t->reserved = 0;
}

/* A node of kind type with room for cap children (Node4/16; ignored for
   Node48/256), a value slot holding value when value is not NULL or slot
   is set, the given prefix, and no children. */
static art_node *alloc_node(art_tree *t, int type, int cap, int slot,
                            void *value, const uint8_t *prefix,
                            size_t prefix_len)
{
    int shape = (type > ART_NODE16 ? 0 : cap) | (slot || value ? NODE_SLOT : 0);
    size_t size = node_size(type, shape, prefix_len);
    art_node *n = block_alloc(t, size);
    if (n == NULL)
        return NULL;
    /* Zeroed so that unused key bytes and slots are defined (the SIMD
       search loads all 16 key bytes of a Node16). */
    memset(n, 0, size);
    n->type = (uint8_t)type;
    n->shape = (uint8_t)shape;
    n->prefix_len = (uint32_t)prefix_len;
    if (shape & NODE_SLOT)
        *node_slot(n) = value;
    if (prefix_len)
        memcpy(node_prefix(n), prefix, prefix_len);
    t->bytes += size;
    return n;
}

static void free_node(art_tree *t, art_node *n)
{
    size_t size = node_bytes(n);
    t->bytes -= size;
    block_free(t, n, size);
}

/* A leaf whose suffix is a[0..na) followed by b[0..nb). */
static art_leaf *alloc_leaf(art_tree *t, const uint8_t *a, size_t na,
                            const uint8_t *b, size_t nb, void *value)
{
    size_t size = leaf_size(na + nb);
    art_leaf *l = block_alloc(t, size);
    if (l == NULL)
        return NULL;
    l->value = value;
    l->len = (uint32_t)(na + nb);
    if (na)
        memcpy(l->suffix, a, na);
    if (nb)
        memcpy(l->suffix + na, b, nb);
    t->bytes += size;
    return l;
}

static void free_leaf(art_tree *t, art_leaf *l)
{
    size_t size = leaf_size(l->len);
    t->bytes -= size;
    block_free(t, l, size);
}

/*
 * Keeps the walk stack deep enough for the tree after one more key of
 * length len is added by a split.  A path of k inner nodes needs at least
 * k + 1 keys (each node holds a key off the path) and a key of length at
 * least k - 1 (each step down consumes a child byte), so
 * min(size, max_key_len + 1) bounds the depth without measuring it.
 */
static int reserve_walk(art_tree *t, size_t len)
{
    size_t longest = len > t->max_key_len ? len : t->max_key_len;
    size_t need = t->size + 1;
    if (longest + 1 < need)
        need = longest + 1;
    if (need <= t->walk_cap)
        return ART_OK;
    size_t cap = t->walk_cap ? t->walk_cap * 2 : 16;
    if (cap < need)
        cap = need;
    if (cap > SIZE_MAX / sizeof(art_walk_frame))
        return ART_ENOMEM;
    art_walk_frame *w = tree_malloc(t, cap * sizeof(*w));
    if (w == NULL)
        return ART_ENOMEM;
    tree_free(t->walk);
    t->walk = w;
    t->walk_cap = cap;
    return ART_OK;
}

/* ------------------------------------------------------------------ */
/* Children                                                            */
/* ------------------------------------------------------------------ */

/* Address of the slot for byte c, or NULL when there is no such child. */
static ART_HOT_INLINE uintptr_t *find_child(art_node *n, uint8_t c)
{
    switch (n->type) {
    case ART_NODE4: {
        uint8_t *keys = small_keys(n);
        for (int i = 0; i < n->num_children; i++)
            if (keys[i] == c)
                return &small_children(n)[i];
        return NULL;
    }
    case ART_NODE16: {
        /* At either size the 16 bytes loaded lie inside the node (a
           Node16 of 8 has its children after its keys); the mask keeps
           only the keys in use. */
        uint8_t *keys = small_keys(n);
#ifdef ART_SSE2
        __m128i cmp = _mm_cmpeq_epi8(_mm_set1_epi8((char)c),
                                     _mm_loadu_si128((const __m128i *)keys));
        uint32_t mask =
            (uint32_t)_mm_movemask_epi8(cmp) & ((1u << n->num_children) - 1u);
        return mask ? &small_children(n)[ctz32(mask)] : NULL;
#else
        for (int i = 0; i < n->num_children; i++)
            if (keys[i] == c)
                return &small_children(n)[i];
        return NULL;
#endif
    }
    case ART_NODE48: {
        uint8_t i = n48_index(n)[c];
        return i ? &n48_children(n)[i - 1] : NULL;
    }
    default: {
        uintptr_t *slot = &n256_children(n)[c];
        return *slot ? slot : NULL;
    }
    }
}

/*
 * The child with the smallest byte >= from (from may be 256), or -1.
 * Stores the child in *out.
 */
static int child_ge(art_node *n, int from, uintptr_t *out)
{
    if (from > 255)
        return -1;
    if (from < 0)
        from = 0;
    switch (n->type) {
    case ART_NODE4:
    case ART_NODE16: {
        uint8_t *keys = small_keys(n);
        for (int i = 0; i < n->num_children; i++)
            if (keys[i] >= from) {
                *out = small_children(n)[i];
                return keys[i];
            }
        return -1;
    }
    case ART_NODE48: {
        uint8_t *index = n48_index(n);
        for (int b = from; b < 256; b++)
            if (index[b]) {
                *out = n48_children(n)[index[b] - 1];
                return b;
            }
        return -1;
    }
    default: {
        uintptr_t *ch = n256_children(n);
        for (int b = from; b < 256; b++)
            if (ch[b]) {
                *out = ch[b];
                return b;
            }
        return -1;
    }
    }
}

/* The child with the largest byte <= from (from may be -1), or -1. */
static int child_le(art_node *n, int from, uintptr_t *out)
{
    if (from < 0)
        return -1;
    if (from > 255)
        from = 255;
    switch (n->type) {
    case ART_NODE4:
    case ART_NODE16: {
        uint8_t *keys = small_keys(n);
        for (int i = n->num_children - 1; i >= 0; i--)
            if (keys[i] <= from) {
                *out = small_children(n)[i];
                return keys[i];
            }
        return -1;
    }
    case ART_NODE48: {
        uint8_t *index = n48_index(n);
        for (int b = from; b >= 0; b--)
            if (index[b]) {
                *out = n48_children(n)[index[b] - 1];
                return b;
            }
        return -1;
    }
    default: {
        uintptr_t *ch = n256_children(n);
        for (int b = from; b >= 0; b--)
            if (ch[b]) {
                *out = ch[b];
                return b;
            }
        return -1;
    }
    }
}

/*
 * Cursor walks visit siblings one after another, and in a tree built in
 * random order each sibling is a cache miss somewhere else in memory.
 * The children of a small node are all fetched when the walk enters it
 * (push_node); in a wide node, stepping to child b fetches the next
 * PREFETCH_AHEAD children in the walk's direction, which overlaps those
 * misses with the caller's work on the current key.
 */
#define PREFETCH_AHEAD 4

static void prefetch_siblings(art_node *n, int b, int forward, uintptr_t base)
{
    int step = forward ? 1 : -1, found = 0;
    if (n->type == ART_NODE48) {
        uint8_t *index = n48_index(n);
        for (int j = b + step; j >= 0 && j < 256 && found < PREFETCH_AHEAD &&
                               (j - b) * step <= 32;
             j += step)
            if (index[j]) {
                ART_PREFETCH((n48_children(n)[index[j] - 1] & ~(uintptr_t)1) +
                             base);
                found++;
            }
    } else if (n->type == ART_NODE256) {
        uintptr_t *ch = n256_children(n);
        for (int j = b + step; j >= 0 && j < 256 && found < PREFETCH_AHEAD &&
                               (j - b) * step <= 32;
             j += step)
            if (ch[j]) {
                ART_PREFETCH((ch[j] & ~(uintptr_t)1) + base);
                found++;
            }
    }
}

/* Adds child for byte c; n has room and no child for c. */
static void add_child(art_node *n, uint8_t c, uintptr_t child)
{
    switch (n->type) {
    case ART_NODE4:
    case ART_NODE16: {
        uint8_t *keys = small_keys(n);
        uintptr_t *ch = small_children(n);
        int i = 0;
        while (i < n->num_children && keys[i] < c)
            i++;
        int tail = n->num_children - i;
        memmove(keys + i + 1, keys + i, (size_t)tail);
        memmove(ch + i + 1, ch + i, (size_t)tail * sizeof(*ch));
        keys[i] = c;
        ch[i] = child;
        break;
    }
    case ART_NODE48: {
        uintptr_t *ch = n48_children(n);
        int slot = 0;
        while (ch[slot])
            slot++;
        ch[slot] = child;
        n48_index(n)[c] = (uint8_t)(slot + 1);
        break;
    }
    default:
        n256_children(n)[c] = child;
        break;
    }
    n->num_children++;
}

/* Removes the child for byte c, which exists. */
static void remove_child(art_node *n, uint8_t c)
{
    switch (n->type) {
    case ART_NODE4:
    case ART_NODE16: {
        uint8_t *keys = small_keys(n);
        uintptr_t *ch = small_children(n);
        int i = 0;
        while (keys[i] != c)
            i++;
        int tail = n->num_children - i - 1;
        memmove(keys + i, keys + i + 1, (size_t)tail);
        memmove(ch + i, ch + i + 1, (size_t)tail * sizeof(*ch));
        keys[n->num_children - 1] = 0;
        ch[n->num_children - 1] = 0;
        break;
    }
    case ART_NODE48: {
        uint8_t *index = n48_index(n);
        n48_children(n)[index[c] - 1] = 0;
        index[c] = 0;
        break;
    }
    default:
        n256_children(n)[c] = 0;
        break;
    }
    n->num_children--;
}

/*
 * A new node of kind `type` and size cap (see alloc_node) with the given
 * prefix and n's value and children, leaving out the child for byte
 * `skip` (-1 keeps all).  It has a value slot when n has a value or slot
 * is set.  n is not modified.  The new node must have room for the
 * children kept.
 */
static art_node *rebuild_node(art_tree *t, art_node *n, int type, int cap,
                              int slot, const uint8_t *prefix,
                              size_t prefix_len, int skip)
{
    art_node *m =
        alloc_node(t, type, cap, slot, node_value(n), prefix, prefix_len);
    if (m == NULL)
        return NULL;
    if (n->type <= ART_NODE16 && type <= ART_NODE16) {
        /* Small to small, the common case (a Node4 growing, a prefix
           changing): the keys stay sorted, copy them in order. */
        const uint8_t *keys = small_keys(n);
        const uintptr_t *ch = small_children(n);
        int j = 0;
        for (int i = 0; i < n->num_children; i++)
            if (keys[i] != skip) {
                small_keys(m)[j] = keys[i];
                small_children(m)[j++] = ch[i];
            }
        m->num_children = (uint16_t)j;
        return m;
    }
    uintptr_t child;
    for (int b = child_ge(n, 0, &child); b >= 0; b = child_ge(n, b + 1, &child))
        if (b != skip)
            add_child(m, (uint8_t)b, child);
    return m;
}

/* ------------------------------------------------------------------ */
/* Tree lifetime                                                       */
/* ------------------------------------------------------------------ */

void art_tree_init(art_tree *t)
{
    memset(t, 0, sizeof(*t));
}

/* What clear frees once it has let go of the tree. */
typedef struct cleared {
    uint8_t *pages;
    void *arena;
    size_t arena_size;
} cleared;

/* Frees a block at clear time: pages and the arena go all at once
   afterwards. */
static void clear_block(const cleared *c, void *p, size_t size)
{
    if (size > SLAB_MAX && !in_arena(c->arena, c->arena_size, p))
        tree_free(p);
}

void art_tree_clear(art_tree *t, art_value_fn free_value, void *ctx)
{
    /*
     * t is emptied first, so the callbacks may use it (re-entrant code in
     * a binding).  Only what freeing needs is kept, not a copy of the
     * whole tree: deallocators of nested containers nest this call, and
     * its stack frame is paid at every level.
     */
    cleared old = {t->slab_pages, t->arena, t->arena_size};
    uintptr_t root = t->root;
    uint64_t version = t->version;
    long countdown = t->fail_countdown;
    tree_free(t->walk);
    art_tree_init(t);
    t->version = version + 1;
    t->fail_countdown = countdown;
    if (root && IS_LEAF(root)) {
        if (free_value)
            free_value(AS_LEAF(root)->value, ctx);
        clear_block(&old, AS_LEAF(root), leaf_size(AS_LEAF(root)->len));
    } else if (root) {
        /*
         * A depth-first walk that keeps its way back in the nodes it
         * frees (pointer reversal): the slot a walk goes down through
         * holds the parent's parent until it comes back up, and the
         * node's child count, no longer needed, holds the next slot to
         * visit.  No stack, no allocation, and no recursion however deep
         * the tree.  The value of a node is released as the walk enters.
         */
        art_node *n = AS_NODE(root), *up = NULL;
        if (free_value && node_value(n))
            free_value(node_value(n), ctx);
        n->num_children = 0;
        while (n) {
            uintptr_t *slots = node_slots(n);
            int count = node_cap(n), i = n->num_children;
            while (i < count && slots[i] == 0)
                i++; /* empty, or a slot a failed copy did not fill */
            if (i == count) {
                /* Done with n: back up to its parent. */
                art_node *parent = up;
                clear_block(&old, n, node_bytes(n));
                n = parent;
                if (n) {
                    uintptr_t *back = &node_slots(n)[n->num_children - 1];
                    up = (art_node *)*back;
                    *back = 0;
                }
                continue;
            }
            uintptr_t child = slots[i];
            n->num_children = (uint16_t)(i + 1);
            if (IS_LEAF(child)) {
                art_leaf *l = AS_LEAF(child);
                slots[i] = 0;
                if (free_value)
                    free_value(l->value, ctx);
                clear_block(&old, l, leaf_size(l->len));
                continue;
            }
            art_node *c = AS_NODE(child);
            if (free_value && node_value(c))
                free_value(node_value(c), ctx);
            c->num_children = 0;
            slots[i] = (uintptr_t)up;
            up = n;
            n = c;
        }
    }
    free_pages(old.pages, old.arena, old.arena_size);
}

void art_tree_move(art_tree *dst, art_tree *src)
{
    uint64_t version = src->version;
    long countdown = src->fail_countdown;
    /* dst's cursors must see a version they have never seen. */
    uint64_t dst_version =
        (dst->version > version ? dst->version : version) + 1;
    *dst = *src;
    dst->version = dst_version;
    dst->fail_countdown = 0;
    art_tree_init(src);
    src->version = version + 1;
    src->fail_countdown = countdown;
}

/* The slot of byte c in n, whether or not it holds a child. */
static uintptr_t *child_slot(art_node *n, uint8_t c)
{
    switch (n->type) {
    case ART_NODE4:
    case ART_NODE16: {
        uint8_t *keys = small_keys(n);
        for (int i = 0; i < n->num_children; i++)
            if (keys[i] == c)
                return &small_children(n)[i];
        return NULL;
    }
    case ART_NODE48: {
        uint8_t i = n48_index(n)[c];
        return i ? &n48_children(n)[i - 1] : NULL;
    }
    default:
        return &n256_children(n)[c];
    }
}

static art_leaf *clone_leaf(art_tree *t, const art_leaf *l)
{
    return alloc_leaf(t, l->suffix, l->len, NULL, 0, l->value);
}

/* A copy of n with the same key bytes and index but all child slots 0. */
static art_node *clone_node_empty(art_tree *t, art_node *n)
{
    size_t size = node_bytes(n);
    art_node *m = block_alloc(t, size);
    if (m == NULL)
        return NULL;
    memcpy(m, n, size);
    switch (m->type) {
    case ART_NODE4:
    case ART_NODE16:
        memset(small_children(m), 0, (size_t)node_cap(m) * sizeof(uintptr_t));
        break;
    case ART_NODE48:
        memset(n48_children(m), 0, 48 * sizeof(uintptr_t));
        break;
    default:
        memset(n256_children(m), 0, 256 * sizeof(uintptr_t));
        break;
    }
    t->bytes += size;
    return m;
}

/*
 * Gives a freshly cloned (not yet linked) value-holder its value through
 * map; on failure frees the block and returns -1.
 */
static int map_leaf_value(art_tree *t, art_leaf *l, art_map_fn map, void *ctx)
{
    if (map && (l->value = map(l->value, ctx)) == NULL) {
        free_leaf(t, l);
        return -1;
    }
    return 0;
}

static int map_node_value(art_tree *t, art_node *n, art_map_fn map, void *ctx)
{
    void **slot = node_slot(n);
    if (map && slot && *slot && (*slot = map(*slot, ctx)) == NULL) {
        free_node(t, n);
        return -1;
    }
    return 0;
}

int art_tree_copy(art_tree *dst, art_tree *src)
{
    return art_tree_copy_map(dst, src, NULL, NULL, NULL);
}

int art_tree_copy_map(art_tree *dst, art_tree *src, art_map_fn map,
                      art_value_fn free_value, void *ctx)
{
    int err = ART_ENOMEM;
    if (src->root == 0)
        return ART_OK;
    if (IS_LEAF(src->root)) {
        art_leaf *l = clone_leaf(dst, AS_LEAF(src->root));
        if (l == NULL)
            return ART_ENOMEM;
        if (map_leaf_value(dst, l, map, ctx) < 0)
            return ART_ECALLBACK;
        dst->root = TAG_LEAF(l);
    } else {
        /*
         * Walk src with its own stack and mirror each node into dst in
         * dst's stack; the copy is linked top-down, each block once its
         * value is mapped, so a failure leaves a tree (with some empty
         * slots) that art_tree_clear can free.
         */
        /* dst may be empty but not new: keep a walk stack it still has
           when it is deep enough, free it otherwise. */
        if (dst->walk_cap < src->walk_cap) {
            art_walk_frame *w =
                tree_malloc(dst, src->walk_cap * sizeof(art_walk_frame));
            if (w == NULL)
                return ART_ENOMEM;
            tree_free(dst->walk);
            dst->walk = w;
            dst->walk_cap = src->walk_cap;
        }
        art_node *root = clone_node_empty(dst, AS_NODE(src->root));
        if (root == NULL)
            return ART_ENOMEM;
        if (map_node_value(dst, root, map, ctx) < 0)
            return ART_ECALLBACK;
        dst->root = TAG_NODE(root);
        size_t sp = 0;
        src->walk[0].node = src->root;
        src->walk[0].next = 0;
        dst->walk[0].node = dst->root;
        while (1) {
            art_node *sn = AS_NODE(src->walk[sp].node);
            art_node *dn = AS_NODE(dst->walk[sp].node);
            uintptr_t child;
            int b = child_ge(sn, src->walk[sp].next, &child);
            if (b < 0) {
                if (sp == 0)
                    break;
                sp--;
                continue;
            }
            child += src->base;
            src->walk[sp].next = b + 1;
            uintptr_t *slot = child_slot(dn, (uint8_t)b);
            if (IS_LEAF(child)) {
                art_leaf *l = clone_leaf(dst, AS_LEAF(child));
                if (l == NULL)
                    goto fail;
                if (map_leaf_value(dst, l, map, ctx) < 0) {
                    err = ART_ECALLBACK;
                    goto fail;
                }
                *slot = TAG_LEAF(l);
            } else {
                art_node *m = clone_node_empty(dst, AS_NODE(child));
                if (m == NULL)
                    goto fail;
                if (map_node_value(dst, m, map, ctx) < 0) {
                    err = ART_ECALLBACK;
                    goto fail;
                }
                *slot = TAG_NODE(m);
                sp++;
                src->walk[sp].node = child;
                src->walk[sp].next = 0;
                dst->walk[sp].node = TAG_NODE(m);
            }
        }
    }
    dst->size = src->size;
    dst->max_key_len = src->max_key_len;
    dst->version++;
    return ART_OK;
fail:
    art_tree_clear(dst, free_value, ctx);
    return err;
}

/* ------------------------------------------------------------------ */
/* Search                                                              */
/* ------------------------------------------------------------------ */

/*
 * memcmp(a, b, n) == 0, defined for n == 0 with NULL pointers too.  Most
 * prefixes and suffixes compared on a lookup are a few bytes long, where
 * an inline loop of 8-byte words beats a call to memcmp.
 */
static inline int same_bytes(const uint8_t *a, const uint8_t *b, size_t n)
{
    uint64_t x, y;
    uint32_t u, v;
    if (n >= 8) {
        /* Whole words, then the last 8 bytes (overlapping if need be). */
        for (size_t i = 0; i + 8 <= n; i += 8) {
            memcpy(&x, a + i, 8);
            memcpy(&y, b + i, 8);
            if (x != y)
                return 0;
        }
        memcpy(&x, a + n - 8, 8);
        memcpy(&y, b + n - 8, 8);
        return x == y;
    }
    if (n >= 4) {
        memcpy(&u, a, 4);
        memcpy(&v, b, 4);
        if (u != v)
            return 0;
        memcpy(&u, a + n - 4, 4);
        memcpy(&v, b + n - 4, 4);
        return u == v;
    }
    /* 0 to 3 bytes: the first, middle and last cover them all. */
    return n == 0 ||
           (a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1]);
}

static inline size_t common_len(const uint8_t *a, size_t na, const uint8_t *b,
                                size_t nb)
{
    size_t n = na < nb ? na : nb, i = 0;
    while (i < n && a[i] == b[i])
        i++;
    return i;
}

/* An empty key may be given as NULL; offsets from NULL are undefined. */
#define NONNULL_KEY(key) ((key) ? (key) : (const uint8_t *)"")

void **art_search_slot(const art_tree *t, const uint8_t *key, size_t len)
{
    key = NONNULL_KEY(key);
    uintptr_t p = t->root;
    size_t d = 0;
    while (p) {
        if (IS_LEAF(p)) {
            art_leaf *l = AS_LEAF(p);
            if (l->len == len - d && same_bytes(l->suffix, key + d, l->len))
                return &l->value;
            return NULL;
        }
        art_node *n = AS_NODE(p);
        size_t plen = n->prefix_len;
        if (len - d < plen || !same_bytes(node_prefix(n), key + d, plen))
            return NULL;
        d += plen;
        if (d == len)
            return node_value(n) ? node_slot(n) : NULL;
        uintptr_t *slot = find_child(n, key[d]);
        if (slot == NULL)
            return NULL;
        p = *slot + t->base;
        d++;
    }
    return NULL;
}

void *art_search(const art_tree *t, const uint8_t *key, size_t len)
{
    void **slot = art_search_slot(t, key, len);
    return slot ? *slot : NULL;
}

/* Shared walk of art_prefix_at_least and art_longest_prefix. */
static void *prefix_walk(const art_tree *t, const uint8_t *key, size_t len,
                         size_t min_len, int longest, size_t *found_len)
{
    key = NONNULL_KEY(key);
    void *best = NULL;
    uintptr_t p = t->root;
    size_t d = 0;
    while (p) {
        if (IS_LEAF(p)) {
            art_leaf *l = AS_LEAF(p);
            if (l->len <= len - d && d + l->len >= min_len &&
                same_bytes(l->suffix, key + d, l->len)) {
                *found_len = d + l->len;
                return l->value;
            }
            break;
        }
        art_node *n = AS_NODE(p);
        size_t plen = n->prefix_len;
        if (len - d < plen || !same_bytes(node_prefix(n), key + d, plen))
            break;
        d += plen;
        if (node_value(n) && d >= min_len) {
            best = node_value(n);
            *found_len = d;
            if (!longest)
                return best;
        }
        if (d == len)
            break;
        uintptr_t *slot = find_child(n, key[d]);
        if (slot == NULL)
            break;
        p = *slot + t->base;
        d++;
    }
    return best;
}

void *art_prefix_at_least(const art_tree *t, const uint8_t *key, size_t len,
                          size_t min_len, size_t *found_len)
{
    return prefix_walk(t, key, len, min_len, 0, found_len);
}

void *art_longest_prefix(const art_tree *t, const uint8_t *key, size_t len,
                         size_t *found_len)
{
    return prefix_walk(t, key, len, 0, 1, found_len);
}

/* ------------------------------------------------------------------ */
/* Insert                                                              */
/* ------------------------------------------------------------------ */

static void note_new_key(art_tree *t, size_t len)
{
    t->size++;
    t->version++;
    if (len > t->max_key_len)
        t->max_key_len = len;
}

int art_insert(art_tree *t, const uint8_t *key, size_t len, void *value,
               void **old)
{
    if (old)
        *old = NULL;
    if (value == NULL || len > ART_MAX_KEY_LEN || t->base != 0)
        return ART_EINVAL;
    key = NONNULL_KEY(key);
    uintptr_t *ref = &t->root;
    size_t d = 0;
    while (1) {
        uintptr_t p = *ref;
        if (p == 0) {
            /* Only the empty tree has an empty slot. */
            art_leaf *l = alloc_leaf(t, key, len, NULL, 0, value);
            if (l == NULL)
                return ART_ENOMEM;
            *ref = TAG_LEAF(l);
            note_new_key(t, len);
            return 1;
        }
        if (IS_LEAF(p)) {
            art_leaf *l = AS_LEAF(p);
            size_t rem = len - d;
            size_t m = common_len(l->suffix, l->len, key + d, rem);
            if (m == l->len && m == rem) {
                if (old)
                    *old = l->value;
                l->value = value;
                return 0;
            }
            /* Split: a Node4 holding the common part as its prefix, with
               the old and new keys below it or in its value slot. */
            if (reserve_walk(t, len) < 0)
                return ART_ENOMEM;
            /* One of the two keys may end at the new node. */
            void *nv = rem > m ? NULL : value;
            art_node *n = alloc_node(t, ART_NODE4, 2, 0,
                                     nv ? nv : (l->len > m ? NULL : l->value),
                                     key + d, m);
            art_leaf *nl = NULL, *ol = NULL;
            if (n == NULL)
                return ART_ENOMEM;
            if (rem > m && (nl = alloc_leaf(t, key + d + m + 1, rem - m - 1,
                                            NULL, 0, value)) == NULL)
                goto split_nomem;
            if (l->len > m &&
                (ol = alloc_leaf(t, l->suffix + m + 1, l->len - m - 1, NULL, 0,
                                 l->value)) == NULL)
                goto split_nomem;
            if (nl)
                add_child(n, key[d + m], TAG_LEAF(nl));
            if (ol)
                add_child(n, l->suffix[m], TAG_LEAF(ol));
            *ref = TAG_NODE(n);
            free_leaf(t, l);
            note_new_key(t, len);
            return 1;
        split_nomem:
            if (nl)
                free_leaf(t, nl);
            free_node(t, n);
            return ART_ENOMEM;
        }
        art_node *n = AS_NODE(p);
        size_t plen = n->prefix_len, rem = len - d;
        size_t m = common_len(node_prefix(n), plen, key + d, rem);
        if (m < plen) {
            /* The key leaves (or ends inside) the prefix: put a Node4 with
               the common part above a copy of n with a shorter prefix. */
            if (reserve_walk(t, len) < 0)
                return ART_ENOMEM;
            uint8_t *prefix = node_prefix(n);
            art_node *top = alloc_node(t, ART_NODE4, 2, 0,
                                       rem > m ? NULL : value, prefix, m);
            art_node *low = NULL;
            art_leaf *nl = NULL;
            if (top == NULL)
                return ART_ENOMEM;
            low = rebuild_node(t, n, n->type, node_cap(n), 0, prefix + m + 1,
                               plen - m - 1, -1);
            if (low == NULL)
                goto prefix_nomem;
            if (rem > m && (nl = alloc_leaf(t, key + d + m + 1, rem - m - 1,
                                            NULL, 0, value)) == NULL)
                goto prefix_nomem;
            add_child(top, prefix[m], TAG_NODE(low));
            if (nl)
                add_child(top, key[d + m], TAG_LEAF(nl));
            *ref = TAG_NODE(top);
            free_node(t, n);
            note_new_key(t, len);
            return 1;
        prefix_nomem:
            if (low)
                free_node(t, low);
            free_node(t, top);
            return ART_ENOMEM;
        }
        d += plen;
        if (d == len) {
            void **vslot = node_slot(n);
            if (vslot && *vslot) {
                if (old)
                    *old = *vslot;
                *vslot = value;
                return 0;
            }
            if (vslot) {
                *vslot = value;
            } else {
                /* The first key to end here: a copy of n with a slot. */
                art_node *g = rebuild_node(t, n, n->type, node_cap(n), 1,
                                           node_prefix(n), n->prefix_len, -1);
                if (g == NULL)
                    return ART_ENOMEM;
                *node_slot(g) = value;
                *ref = TAG_NODE(g);
                free_node(t, n);
            }
            note_new_key(t, len);
            return 1;
        }
        uintptr_t *slot = find_child(n, key[d]);
        if (slot) {
            ref = slot;
            d++;
            continue;
        }
        art_leaf *nl = alloc_leaf(t, key + d + 1, len - d - 1, NULL, 0, value);
        if (nl == NULL)
            return ART_ENOMEM;
        if (n->num_children < node_cap(n)) {
            add_child(n, key[d], TAG_LEAF(nl));
        } else {
            /* The next size up: the larger of the kind, else the next
               kind (at its smaller size). */
            int type = n->type, cap = node_cap(n);
            if (type <= ART_NODE16 && cap < capacity[type]) {
                cap = capacity[type];
            } else {
                type++;
                cap = type <= ART_NODE16 ? small_cap[type] : 0;
            }
            art_node *g = rebuild_node(t, n, type, cap, 0, node_prefix(n),
                                       n->prefix_len, -1);
            if (g == NULL) {
                free_leaf(t, nl);
                return ART_ENOMEM;
            }
            add_child(g, key[d], TAG_LEAF(nl));
            *ref = TAG_NODE(g);
            free_node(t, n);
        }
        note_new_key(t, len);
        return 1;
    }
}

/* ------------------------------------------------------------------ */
/* Delete                                                              */
/* ------------------------------------------------------------------ */

/*
 * What replaces node n (prefix P) once it is left with a single child c
 * at byte b and no value: c with P + b prepended to its prefix or suffix.
 * Returns the tagged replacement, or 0 on allocation failure.
 */
static uintptr_t merge_into_child(art_tree *t, art_node *n, uint8_t b,
                                  uintptr_t c)
{
    size_t plen = n->prefix_len;
    uint8_t *buf;
    if (IS_LEAF(c)) {
        art_leaf *cl = AS_LEAF(c);
        if ((size_t)cl->len + plen + 1 > ART_MAX_KEY_LEN)
            return 0;
        size_t len = plen + 1 + cl->len, size = leaf_size(len);
        art_leaf *l = block_alloc(t, size);
        if (l == NULL)
            return 0;
        l->value = cl->value;
        l->len = (uint32_t)len;
        memcpy(l->suffix, node_prefix(n), plen);
        l->suffix[plen] = b;
        memcpy(l->suffix + plen + 1, cl->suffix, cl->len);
        t->bytes += size;
        return TAG_LEAF(l);
    }
    art_node *cn = AS_NODE(c);
    size_t total = plen + 1 + cn->prefix_len;
    buf = tree_malloc(t, total ? total : 1);
    if (buf == NULL)
        return 0;
    memcpy(buf, node_prefix(n), plen);
    buf[plen] = b;
    memcpy(buf + plen + 1, node_prefix(cn), cn->prefix_len);
    art_node *m =
        rebuild_node(t, cn, cn->type, node_cap(cn), 0, buf, total, -1);
    tree_free(buf);
    return m ? TAG_NODE(m) : 0;
}

static void free_replaced(art_tree *t, uintptr_t p)
{
    if (IS_LEAF(p))
        free_leaf(t, AS_LEAF(p));
    else
        free_node(t, AS_NODE(p));
}

int art_delete(art_tree *t, const uint8_t *key, size_t len, void **old)
{
    uintptr_t *ref = &t->root, *parent_ref = NULL;
    size_t d = 0;
    uint8_t byte = 0; /* child byte of *ref within *parent_ref */
    if (t->base != 0)
        return ART_EINVAL; /* a tree opened from a file is read-only */
    key = NONNULL_KEY(key);
    if (old)
        *old = NULL;
    while (*ref) {
        uintptr_t p = *ref;
        if (IS_LEAF(p)) {
            art_leaf *l = AS_LEAF(p);
            if (l->len != len - d || !same_bytes(l->suffix, key + d, l->len))
                return 0;
            if (parent_ref == NULL) {
                t->root = 0;
            } else {
                art_node *parent = AS_NODE(*parent_ref);
                int left = parent->num_children - 1;
                uintptr_t repl = 0;
                if (parent->type == ART_NODE4) {
                    if (left == 0) {
                        /* Only the parent's own key remains: it becomes a
                           leaf whose suffix is the parent's prefix. */
                        art_leaf *nl = alloc_leaf(t, node_prefix(parent),
                                                  parent->prefix_len, NULL, 0,
                                                  node_value(parent));
                        if (nl == NULL)
                            return ART_ENOMEM;
                        repl = TAG_LEAF(nl);
                    } else if (left == 1 && node_value(parent) == NULL) {
                        uintptr_t other;
                        int ob = child_ge(parent, 0, &other);
                        if (ob == byte)
                            ob = child_ge(parent, ob + 1, &other);
                        repl = merge_into_child(t, parent, (uint8_t)ob, other);
                        if (repl == 0)
                            return ART_ENOMEM;
                        free_replaced(t, other);
                    }
                } else if (left <= shrink_at[parent->type]) {
                    int type = parent->type - 1;
                    art_node *s = rebuild_node(t, parent, type, capacity[type],
                                               0, node_prefix(parent),
                                               parent->prefix_len, byte);
                    if (s == NULL)
                        return ART_ENOMEM;
                    repl = TAG_NODE(s);
                }
                if (repl) {
                    *parent_ref = repl;
                    free_node(t, parent);
                } else {
                    remove_child(parent, byte);
                }
            }
            if (old)
                *old = l->value;
            free_leaf(t, l);
            t->size--;
            t->version++;
            if (t->size == 0)
                slab_release(t); /* every block is free: give pages back */
            return 1;
        }
        art_node *n = AS_NODE(p);
        size_t plen = n->prefix_len;
        if (len - d < plen || !same_bytes(node_prefix(n), key + d, plen))
            return 0;
        d += plen;
        if (d == len) {
            void *v = node_value(n);
            if (v == NULL)
                return 0;
            if (n->num_children == 1) {
                uintptr_t only;
                int b = child_ge(n, 0, &only);
                uintptr_t repl = merge_into_child(t, n, (uint8_t)b, only);
                if (repl == 0)
                    return ART_ENOMEM;
                *ref = repl;
                free_replaced(t, only);
                free_node(t, n);
            } else {
                *node_slot(n) = NULL; /* the slot stays until a rebuild */
            }
            if (old)
                *old = v;
            t->size--;
            t->version++;
            return 1;
        }
        uintptr_t *slot = find_child(n, key[d]);
        if (slot == NULL)
            return 0;
        parent_ref = ref;
        byte = key[d];
        ref = slot;
        d++;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Walks: foreach, stats, validate                                     */
/* ------------------------------------------------------------------ */

/*
 * A pre-order walk in key order over the tree's inner nodes and leaves,
 * on the tree's own walk stack, so it never allocates.  Each call reports
 * the next item: an inner node on entry (before its children; depth is
 * its level, 1 for the root) or a leaf (depth: the inner nodes above it).
 * foreach, stats and validate are all made of it.
 */
enum { WALK_END, WALK_NODE, WALK_LEAF, WALK_EMPTY, WALK_TOO_DEEP };

typedef struct walker {
    const art_tree *t;
    size_t sp; /* top frame of t->walk */
    int state; /* 0: not started, 1: walking, 2: done */
} walker;

static void walk_start(walker *w, const art_tree *t)
{
    w->t = t;
    w->sp = 0;
    w->state = 0;
}

static int walk_next(walker *w, uintptr_t *item, size_t *depth)
{
    const art_tree *t = w->t;
    art_walk_frame *f = t->walk;
    if (w->state == 2)
        return WALK_END;
    if (w->state == 0) {
        uintptr_t root = t->root;
        w->state = 2;
        *item = root;
        *depth = 0;
        if (root == 0)
            return WALK_END;
        if (IS_LEAF(root))
            return WALK_LEAF;
        if (t->walk_cap == 0)
            return WALK_TOO_DEEP;
        w->state = 1;
        f[0].node = root;
        f[0].next = 0;
        *depth = 1;
        return WALK_NODE;
    }
    while (1) {
        uintptr_t child;
        int b = child_ge(AS_NODE(f[w->sp].node), f[w->sp].next, &child);
        if (b < 0) {
            if (w->sp == 0) {
                w->state = 2;
                return WALK_END;
            }
            w->sp--;
            continue;
        }
        f[w->sp].next = b + 1;
        *item = child;
        *depth = w->sp + 1;
        if (child == 0)
            return WALK_EMPTY; /* only in a broken or half-copied tree */
        child += t->base;
        *item = child;
        if (IS_LEAF(child))
            return WALK_LEAF;
        if (w->sp + 1 >= t->walk_cap) {
            w->state = 2;
            return WALK_TOO_DEEP;
        }
        w->sp++;
        f[w->sp].node = child;
        f[w->sp].next = 0;
        *depth = w->sp + 1;
        return WALK_NODE;
    }
}

int art_foreach(const art_tree *t, art_visit_fn visit, void *ctx)
{
    walker w;
    uintptr_t p;
    size_t depth;
    int e;
    walk_start(&w, t);
    while ((e = walk_next(&w, &p, &depth)) == WALK_NODE || e == WALK_LEAF) {
        void *v = e == WALK_LEAF ? AS_LEAF(p)->value : node_value(AS_NODE(p));
        int r;
        if (v && (r = visit(v, ctx)) != 0)
            return r;
    }
    return 0;
}

void art_stats(const art_tree *t, art_stats_t *out)
{
    walker w;
    uintptr_t p;
    size_t depth;
    int e;
    double depth_sum = 0;
    memset(out, 0, sizeof(*out));
    out->bytes = t->bytes;
    walk_start(&w, t);
    while ((e = walk_next(&w, &p, &depth)) == WALK_NODE || e == WALK_LEAF) {
        if (e == WALK_LEAF) {
            out->leaves++;
            depth_sum += (double)depth;
            continue;
        }
        art_node *n = AS_NODE(p);
        out->nodes[n->type]++;
        if (depth > out->max_depth)
            out->max_depth = depth;
        if (node_value(n)) {
            out->node_values++;
            depth_sum += (double)depth;
        }
    }
    size_t keys = out->leaves + out->node_values;
    out->mean_depth = keys ? depth_sum / (double)keys : 0.0;
}

#define INVALID(msg)                                                           \
    do {                                                                       \
        if (why)                                                               \
            *why = msg;                                                        \
        return -1;                                                             \
    } while (0)

/* Checks one inner node's own fields; children are checked by the walk. */
static const char *check_node(art_node *n)
{
    if (n->type >= ART_NODE_KINDS)
        return "inner node of unknown kind";
    if (!valid_shape(n->type, n->shape))
        return "node of a size its kind does not come in";
    int num = n->num_children;
    if (num > node_cap(n))
        return "more children than the node has room for";
    if (num < min_children[n->type])
        return "node should have been shrunk to a smaller kind";
    if (n->type == ART_NODE4) {
        if (num == 0)
            return "node with no children should have become a leaf";
        if (num == 1 && node_value(n) == NULL)
            return "node with one child and no value should have been merged";
    }
    int counted = 0;
    switch (n->type) {
    case ART_NODE4:
    case ART_NODE16: {
        uint8_t *keys = small_keys(n);
        uintptr_t *ch = small_children(n);
        for (int i = 0; i < num; i++) {
            if (i > 0 && keys[i - 1] >= keys[i])
                return "Node4/16 keys not strictly ascending";
            if (ch[i] == 0)
                return "Node4/16 used slot holds no child";
        }
        for (int i = num; i < node_cap(n); i++)
            if (ch[i] != 0)
                return "Node4/16 unused slot holds a child";
        return NULL;
    }
    case ART_NODE48: {
        uint8_t *index = n48_index(n);
        uintptr_t *ch = n48_children(n);
        uint64_t seen = 0;
        for (int b = 0; b < 256; b++) {
            if (!index[b])
                continue;
            int slot = index[b] - 1;
            if (slot >= 48)
                return "Node48 index out of range";
            if (seen & ((uint64_t)1 << slot))
                return "Node48 slot indexed twice";
            seen |= (uint64_t)1 << slot;
            if (ch[slot] == 0)
                return "Node48 index points at an empty slot";
            counted++;
        }
        for (int s = 0; s < 48; s++)
            if (ch[s] && !(seen & ((uint64_t)1 << s)))
                return "Node48 child not reachable from the index";
        break;
    }
    default: {
        uintptr_t *ch = n256_children(n);
        for (int b = 0; b < 256; b++)
            counted += ch[b] != 0;
        break;
    }
    }
    if (counted != num)
        return "child count does not match num_children";
    return NULL;
}

int art_validate(const art_tree *t, const char **why)
{
    walker w;
    uintptr_t p;
    size_t depth, keys = 0, bytes = 0;
    int e;
    walk_start(&w, t);
    while ((e = walk_next(&w, &p, &depth)) != WALK_END) {
        if (e == WALK_EMPTY)
            INVALID("empty child slot");
        if (e == WALK_TOO_DEEP)
            INVALID(t->walk_cap ? "tree deeper than its walk stack"
                                : "walk stack missing");
        if (e == WALK_LEAF) {
            keys++;
            bytes += leaf_size(AS_LEAF(p)->len);
            continue;
        }
        /* Checked on entry, before the walk reads the node's children. */
        art_node *n = AS_NODE(p);
        const char *msg = check_node(n);
        if (msg)
            INVALID(msg);
        bytes += node_bytes(n);
        keys += node_value(n) != NULL;
    }
    if (keys != t->size)
        INVALID("key count does not match size");
    if (bytes != t->bytes)
        INVALID("byte count does not match the nodes and leaves");
    return ART_OK;
}

/* ------------------------------------------------------------------ */
/* Cursors                                                             */
/* ------------------------------------------------------------------ */

void art_cursor_init(art_cursor *c, art_tree *t)
{
    memset(c, 0, sizeof(*c));
    c->tree = t;
    c->version = t->version;
}

void art_cursor_free(art_cursor *c)
{
    tree_free(c->frames);
    tree_free(c->key);
    tree_free(c->scratch);
    c->frames = NULL;
    c->key = c->scratch = NULL;
    c->frames_cap = c->key_cap = c->scratch_cap = 0;
    c->depth = c->key_len = 0;
    c->at = 0;
}

/* Grows *buf to hold at least need elements of size elem. */
static int grow(art_tree *t, void **buf, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return ART_OK;
    size_t n = *cap ? *cap : 32;
    while (n < need) {
        if (n > SIZE_MAX / 2 / elem)
            return ART_ENOMEM;
        n *= 2;
    }
    void *p = tree_malloc(t, n * elem);
    if (p == NULL)
        return ART_ENOMEM;
    if (*cap)
        memcpy(p, *buf, *cap * elem);
    tree_free(*buf);
    *buf = p;
    *cap = n;
    return ART_OK;
}

static int cursor_fail(art_cursor *c)
{
    c->at = 0;
    c->depth = 0;
    return ART_ENOMEM;
}

static int key_append(art_cursor *c, const uint8_t *p, size_t n)
{
    if (c->key_len + n > c->key_cap &&
        grow(c->tree, (void **)&c->key, &c->key_cap, c->key_len + n, 1) < 0)
        return ART_ENOMEM;
    if (n)
        memcpy(c->key + c->key_len, p, n);
    c->key_len += n;
    return ART_OK;
}

/* Appends one byte: a child's, on every step. */
static inline int key_push(art_cursor *c, uint8_t byte)
{
    if (c->key_len < c->key_cap) {
        c->key[c->key_len++] = byte;
        return ART_OK;
    }
    return key_append(c, &byte, 1);
}

static void key_truncate(art_cursor *c, size_t n)
{
    c->key_len = n;
    if (n < c->changed_from)
        c->changed_from = n;
}

/* Pushes inner node n and appends its prefix to the key. */
static int push_node(art_cursor *c, art_node *n)
{
    if (c->depth == c->frames_cap &&
        grow(c->tree, (void **)&c->frames, &c->frames_cap, c->depth + 1,
             sizeof(art_cursor_frame)) < 0)
        return ART_ENOMEM;
    art_cursor_frame *f = &c->frames[c->depth++];
    f->node = n;
    f->depth = c->key_len;
    f->byte = -1;
    f->pos = -1;
    if (n->type <= ART_NODE16) {
        /* A walk visits a small node's children one after another, each
           likely a cache miss somewhere else in memory (more so in a tree
           built in random order): start fetching them all at once. */
        uintptr_t *ch = small_children(n);
        for (int i = 0; i < n->num_children; i++)
            ART_PREFETCH((ch[i] & ~(uintptr_t)1) + c->tree->base);
    }
    return key_append(c, node_prefix(n), n->prefix_len);
}

/*
 * Steps into child p, whose byte is already appended: a leaf becomes the
 * position (1); an inner node is pushed with its prefix (0), for the
 * caller to settle in.  ART_ENOMEM leaves the cursor unpositioned.
 */
static int enter_child(art_cursor *c, uintptr_t p)
{
    if (IS_LEAF(p)) {
        art_leaf *l = AS_LEAF(p);
        if (key_append(c, l->suffix, l->len) < 0)
            return cursor_fail(c);
        c->at = p;
        return 1;
    }
    if (push_node(c, AS_NODE(p)) < 0)
        return cursor_fail(c);
    return 0;
}

/* What settle() returns when a guard passed over everything below the
   node it started from: the caller goes on stepping from there. */
#define PASSED_OVER 2

/*
 * Finds the first child of n at byte >= from that the cursor's guard
 * accepts, and appends its byte to the key (base bytes long before).  The
 * guard may tell it to jump ahead past bytes it would refuse.
 * Returns 1 with *b and *child set, 0 when there is none (the key is back
 * to base bytes), or an error code.
 */
static int child_accepted(art_cursor *c, art_node *n, int from, size_t base,
                          int *b, uintptr_t *child)
{
    if (c->guard == NULL) {
        if ((*b = child_ge(n, from, child)) < 0)
            return 0;
        return key_push(c, (uint8_t)*b) < 0 ? ART_ENOMEM : 1;
    }
    while ((*b = child_ge(n, from, child)) >= 0) {
        if (key_push(c, (uint8_t)*b) < 0)
            return ART_ENOMEM;
        from = *b + 1;
        int g = c->guard(c->guard_ctx, c, &from);
        if (g == 1)
            return 1;
        key_truncate(c, base);
        if (g < 0)
            return g;
        if (from <= *b)
            from = *b + 1;
    }
    *b = -1;
    return 0;
}

/*
 * From the node on top of the stack (pushed, prefix appended), goes down
 * to its smallest key (forward) or its largest (backward).  Returns 1, an
 * error code (the cursor unpositioned), or PASSED_OVER when the guard
 * refused every key below the node (its frame is left with byte 255, so
 * that step() moves on past it).
 */
static int settle(art_cursor *c, int forward)
{
    while (1) {
        art_cursor_frame *f = &c->frames[c->depth - 1];
        art_node *n = f->node;
        uintptr_t child;
        int b;
        if (forward && node_value(n)) {
            f->byte = -1;
            c->at = TAG_NODE(n);
            return 1;
        }
        if (forward) {
            int r = child_accepted(c, n, 0, c->key_len, &b, &child);
            if (r < 0) {
                cursor_fail(c);
                return r;
            }
            if (r == 0) {
                f->byte = 255;
                return PASSED_OVER;
            }
        } else {
            b = child_le(n, 255, &child);
            if (b < 0) {
                f->byte = -1;
                c->at = TAG_NODE(n);
                return 1;
            }
            if (key_push(c, (uint8_t)b) < 0)
                return cursor_fail(c);
        }
        child += c->tree->base;
        f->byte = b;
        /* Unguarded, a small node's first child is at position 0. */
        f->pos = forward && c->guard == NULL && n->type <= ART_NODE16 ? 0 : -1;
        int r = enter_child(c, child);
        if (r != 0)
            return r;
    }
}

/* Goes down from child p (its byte already appended) to an extreme key. */
static int descend(art_cursor *c, uintptr_t p, int forward)
{
    int r = enter_child(c, p);
    return r != 0 ? r : settle(c, forward);
}

/*
 * The position in Node4/16 n of the child after the one frame f is on,
 * when an unguarded forward step can go by position (-1 when it cannot):
 * the common step, without a search of the keys.
 */
static inline int next_pos(const art_cursor *c, const art_cursor_frame *f,
                           art_node *n)
{
    if (c->guard || n->type > ART_NODE16)
        return -1;
    if (f->byte < 0)
        return 0;
    if (f->pos >= 0 && f->pos < n->num_children &&
        small_keys(n)[f->pos] == f->byte)
        return f->pos + 1;
    return -1;
}

/*
 * Moves to the next key (forward) or the previous one from the position
 * recorded in the stack: the top frame's byte says which child (or -1,
 * the value slot) the cursor is in.
 */
static int step(art_cursor *c, int forward)
{
    while (c->depth > 0) {
        art_cursor_frame *f = &c->frames[c->depth - 1];
        art_node *n = f->node;
        size_t base = f->depth + n->prefix_len;
        uintptr_t child;
        int b, pos = -1;
        key_truncate(c, base);
        if (forward && (pos = next_pos(c, f, n)) >= 0) {
            b = -1;
            if (pos < n->num_children) {
                b = small_keys(n)[pos];
                child = small_children(n)[pos];
                if (key_push(c, (uint8_t)b) < 0)
                    return cursor_fail(c);
            }
        } else if (forward) {
            int r = child_accepted(c, n, f->byte + 1, base, &b, &child);
            if (r < 0) {
                cursor_fail(c);
                return r;
            }
        } else {
            if (f->byte < 0) {
                c->depth--;
                continue;
            }
            b = child_le(n, f->byte - 1, &child);
            if (b < 0 && node_value(n)) {
                f->byte = -1;
                c->at = TAG_NODE(n);
                return 1;
            }
            if (b >= 0) {
                if (key_push(c, (uint8_t)b) < 0)
                    return cursor_fail(c);
            }
        }
        if (b >= 0) {
            f->byte = b;
            f->pos = pos;
            child += c->tree->base;
            prefetch_siblings(n, b, forward, c->tree->base);
            int r = descend(c, child, forward);
            if (r != PASSED_OVER)
                return r;
            continue; /* the guard refused all below the child */
        }
        c->depth--;
    }
    c->at = 0;
    return 0;
}

/* Finishes a move that went down with descend() or settle(). */
static int go_on(art_cursor *c, int r, int forward)
{
    return r == PASSED_OVER ? step(c, forward) : r;
}

static void cursor_reset(art_cursor *c)
{
    c->depth = 0;
    c->key_len = 0;
    c->changed_from = 0;
    c->at = 0;
    c->version = c->tree->version;
}

int art_cursor_first(art_cursor *c)
{
    cursor_reset(c);
    if (c->tree->root == 0)
        return 0;
    return go_on(c, descend(c, c->tree->root, 1), 1);
}

int art_cursor_last(art_cursor *c)
{
    cursor_reset(c);
    if (c->tree->root == 0)
        return 0;
    return descend(c, c->tree->root, 0);
}

int art_key_compare(const uint8_t *a, size_t na, const uint8_t *b, size_t nb)
{
    size_t n = na < nb ? na : nb;
    int r = n ? memcmp(a, b, n) : 0;
    if (r)
        return r;
    return na < nb ? -1 : na > nb;
}
int art_cursor_seek(art_cursor *c, const uint8_t *key, size_t len,
                    art_seek_mode mode)
{
    int forward = mode == ART_SEEK_GE || mode == ART_SEEK_GT;
    int strict = mode == ART_SEEK_GT || mode == ART_SEEK_LT;
    key = NONNULL_KEY(key);
    uintptr_t p = c->tree->root;
    size_t d = 0;
    cursor_reset(c);
    if (p == 0)
        return 0;
    while (1) {
        if (IS_LEAF(p)) {
            art_leaf *l = AS_LEAF(p);
            int cmp = art_key_compare(l->suffix, l->len, key + d, len - d);
            if (key_append(c, l->suffix, l->len) < 0)
                return cursor_fail(c);
            c->at = p;
            if (cmp == 0 ? !strict : (forward ? cmp > 0 : cmp < 0))
                return 1;
            return step(c, forward);
        }
        art_node *n = AS_NODE(p);
        size_t plen = n->prefix_len, rem = len - d;
        size_t m = common_len(node_prefix(n), plen, key + d, rem);
        if (push_node(c, n) < 0)
            return cursor_fail(c);
        art_cursor_frame *f = &c->frames[c->depth - 1];
        if (m < plen) {
            /* The target leaves the prefix, or ends inside it (and is
               then smaller than every key below n). */
            int below = m < rem && key[d + m] < node_prefix(n)[m];
            if (m == rem || below) {
                if (forward)
                    return go_on(c, settle(c, 1), 1);
            } else if (!forward) {
                return settle(c, 0);
            }
            c->depth--;
            return step(c, forward);
        }
        d += plen;
        if (d == len) {
            /* The target is n's own key; all else below n is greater. */
            if (node_value(n) && !strict) {
                c->at = TAG_NODE(n);
                return 1;
            }
            if (forward)
                return step(c, 1); /* frame byte -1: first child */
            c->depth--;
            return step(c, 0);
        }
        uint8_t want = key[d];
        uintptr_t child;
        int b = forward ? child_ge(n, want, &child) : child_le(n, want, &child);
        if (b < 0) {
            if (!forward && node_value(n)) {
                c->at = TAG_NODE(n);
                return 1;
            }
            c->depth--;
            return step(c, forward);
        }
        uint8_t byte = (uint8_t)b;
        f->byte = b;
        child += c->tree->base;
        if (key_append(c, &byte, 1) < 0)
            return cursor_fail(c);
        if (b != want)
            return go_on(c, descend(c, child, forward), forward);
        p = child;
        d++;
    }
}

/* Re-seeks from the cursor's own key after the tree changed. */
static int reseek(art_cursor *c, art_seek_mode mode)
{
    size_t len = c->key_len;
    if (grow(c->tree, (void **)&c->scratch, &c->scratch_cap, len ? len : 1, 1) <
        0)
        return cursor_fail(c);
    if (len)
        memcpy(c->scratch, c->key, len);
    return art_cursor_seek(c, c->scratch, len, mode);
}

int art_cursor_next(art_cursor *c)
{
    if (c->at == 0)
        return art_cursor_first(c);
    if (c->version != c->tree->version)
        return reseek(c, ART_SEEK_GT);
    c->changed_from = c->key_len;
    return step(c, 1);
}

int art_cursor_prev(art_cursor *c)
{
    if (c->at == 0)
        return art_cursor_last(c);
    if (c->version != c->tree->version)
        return reseek(c, ART_SEEK_LT);
    c->changed_from = c->key_len;
    return step(c, 0);
}

int art_cursor_skip(art_cursor *c, size_t n)
{
    if (c->at == 0)
        return 0;
    c->changed_from = c->key_len;
    while (c->depth > 0) {
        art_cursor_frame *f = &c->frames[c->depth - 1];
        art_node *node = f->node;
        /* A node whose prefix reaches offset n lies wholly inside the
           skipped range; otherwise the range is the child we are in. */
        if (f->depth + node->prefix_len >= n) {
            c->depth--;
            continue;
        }
        return step(c, 1);
    }
    c->at = 0;
    return 0;
}

void *art_cursor_value(const art_cursor *c)
{
    if (c->at == 0)
        return NULL;
    return IS_LEAF(c->at) ? AS_LEAF(c->at)->value : node_value(AS_NODE(c->at));
}

/* ------------------------------------------------------------------ */
/* Fuzzy search                                                        */
/* ------------------------------------------------------------------ */

/* Length of the UTF-8 sequence a lead byte starts; 1 for stray bytes. */
static inline size_t utf8_len(uint8_t b)
{
    if (b < 0xC0)
        return 1;
    if (b < 0xE0)
        return 2;
    if (b < 0xF0)
        return 3;
    return b < 0xF8 ? 4 : 1;
}

/* Decodes one symbol at s[0..avail): a byte, or a code point (lenient:
   the tree only ever holds what the binding encoded). */
static uint32_t next_symbol(const uint8_t *s, size_t avail, int utf8, size_t *n)
{
    if (!utf8) {
        *n = 1;
        return s[0];
    }
    size_t len = utf8_len(s[0]);
    if (len > avail)
        len = avail;
    uint32_t cp = len == 1 ? s[0] : (uint32_t)(s[0] & (0x7F >> len));
    for (size_t i = 1; i < len; i++)
        cp = (cp << 6) | (uint32_t)(s[i] & 0x3F);
    *n = len;
    return cp;
}

int art_fuzzy_init(art_fuzzy *f, art_tree *t, const uint8_t *query, size_t len,
                   uint32_t max_distance, int utf8)
{
    memset(f, 0, sizeof(*f));
    art_cursor_init(&f->cursor, t);
    f->next_at = SIZE_MAX;
    /* Only keys over a billion symbols long could tell larger bounds
       apart, and this one leaves the band arithmetic room. */
    f->max_distance = max_distance < ART_FUZZY_MAX_DISTANCE
                          ? max_distance
                          : ART_FUZZY_MAX_DISTANCE;
    f->utf8 = utf8;
    if (len >= SIZE_MAX / sizeof(uint32_t) / 2)
        return ART_ENOMEM;
    f->query = tree_malloc(t, (len ? len : 1) * sizeof(uint32_t));
    if (f->query == NULL)
        return ART_ENOMEM;
    for (size_t i = 0, n; i < len; i += n)
        f->query[f->qlen++] = next_symbol(query + i, len - i, utf8, &n);
    size_t width = f->qlen + 2;
    if (grow(t, (void **)&f->rows, &f->rows_cap, width * 8, sizeof(uint32_t)) <
        0) {
        art_fuzzy_free(f);
        return ART_ENOMEM;
    }
    for (size_t j = 0; j <= f->qlen; j++)
        f->rows[j] = (uint32_t)j;
    f->rows[f->qlen + 1] = 0; /* the row's minimum */
    return ART_OK;
}

void art_fuzzy_free(art_fuzzy *f)
{
    art_cursor_free(&f->cursor);
    tree_free(f->query);
    tree_free(f->rows);
    f->query = NULL;
    f->rows = NULL;
    f->rows_cap = 0;
}

/* The columns [lo, hi] of the row for symbol count i that can be within
   max_distance: those within it of the diagonal (lo > hi: none). */
static inline void fuzzy_band(const art_fuzzy *f, uint32_t i, size_t *lo,
                              size_t *hi)
{
    uint32_t dmax = f->max_distance;
    *lo = i > dmax + 1 ? i - dmax : 1;
    *hi = (size_t)i + dmax < f->qlen ? (size_t)i + dmax : f->qlen;
}

/*
 * Brings the rows up to date for the cursor's key up to offset upto: all
 * of it when whole (a stored key, whose last symbol ends with it), else as
 * far as it holds whole symbols.  Returns 1 when every row computed is
 * within reach, or 0 with *cut set when the row after key[0..*cut) is the
 * first out of reach (no key starting with it can match), or ART_ENOMEM.
 */
static int fuzzy_extend(art_fuzzy *f, size_t upto, int whole, size_t *cut)
{
    art_cursor *c = &f->cursor;
    const uint8_t *key = c->key;
    size_t width = f->qlen + 2;
    size_t s =
        f->rows_valid < c->changed_from ? f->rows_valid : c->changed_from;
    if (s > upto)
        s = upto;
    /* Rows are kept at symbol boundaries only: back up to one. */
    if (f->utf8)
        while (s > 0 && s < upto && (key[s] & 0xC0) == 0x80)
            s--;
    c->changed_from = c->key_len;
    f->rows_valid = s;
    if (f->next_at > s)
        f->next_at = SIZE_MAX;
    while (s < upto) {
        size_t n;
        if (!whole && f->utf8 && utf8_len(key[s]) > upto - s)
            break; /* the symbol goes on below: judge it there */
        uint32_t sym = next_symbol(key + s, upto - s, f->utf8, &n);
        size_t had = f->rows_cap;
        if (grow(c->tree, (void **)&f->rows, &f->rows_cap, (s + n + 1) * width,
                 sizeof(uint32_t)) < 0)
            return ART_ENOMEM;
        /* Defined contents, so that a key that is not valid UTF-8 (from a
           damaged file) reads stale rows at worst, never undefined ones. */
        if (f->rows_cap > had)
            memset(f->rows + had, 0, (f->rows_cap - had) * sizeof(uint32_t));
        const uint32_t *prev = f->rows + s * width;
        uint32_t *row = f->rows + (s + n) * width;
        /* Only cells within max_distance of the diagonal can be within
           reach: the row computes the band j in [i - max, i + max] (i is
           the symbol count, held in column 0), and the cells just outside
           it get max + 1, a lower bound of their value that is out of
           reach too.  Cells in reach are exact; the others stay out. */
        uint32_t i = prev[0] + 1, dmax = f->max_distance;
        size_t lo, hi;
        fuzzy_band(f, i, &lo, &hi);
        uint32_t low = row[0] = i;
        if (lo > 1 && lo <= f->qlen + 1) /* (an empty band is out of reach) */
            row[lo - 1] = dmax + 1;
        if (hi < f->qlen)
            row[hi + 1] = dmax + 1;
        for (size_t j = lo; j <= hi; j++) {
            uint32_t best = prev[j - 1] + (f->query[j - 1] != sym);
            if (prev[j] + 1 < best)
                best = prev[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            if (best < low)
                low = best;
        }
        row[f->qlen + 1] = low;
        if (low > f->max_distance) {
            *cut = s + n;
            return 0;
        }
        s += n;
        f->rows_valid = s;
    }
    return 1;
}

/*
 * Works out which bytes a child below key offset p (whose row is current)
 * may start with and still come within reach.  A symbol matching no query
 * symbol in the band gives the same row whatever it is, whose minimum is
 * one more than the least of the row above over the band, or the symbol
 * count: out of reach exactly when the row above has its minimum at
 * max_distance.  Then only bytes of query symbols in the band can do
 * better.  In UTF-8 mode only ASCII bytes are narrowed this way (a lead
 * byte is judged once its symbol is whole).
 */
static void fuzzy_next_bytes(art_fuzzy *f, size_t p)
{
    const uint32_t *prev = f->rows + p * (f->qlen + 2);
    uint32_t i = prev[0] + 1, dmax = f->max_distance;
    f->next_at = p;
    f->narrow = prev[f->qlen + 1] >= dmax;
    if (!f->narrow)
        return;
    size_t lo, hi;
    fuzzy_band(f, i, &lo, &hi);
    memset(f->next_bytes, 0, sizeof(f->next_bytes));
    if (f->utf8) /* bytes 0x80-0xFF */
        memset(f->next_bytes + 4, 0xFF, 4 * sizeof(uint32_t));
    for (size_t j = lo; j <= hi; j++) {
        uint32_t q = f->query[j - 1];
        if (q < 256)
            f->next_bytes[q >> 5] |= UINT32_C(1) << (q & 31);
    }
}

/* The smallest byte >= b in the set, or 256. */
static int next_byte_in(const uint32_t set[8], int b)
{
    while (b < 256) {
        uint32_t w = set[b >> 5] >> (b & 31);
        if (w)
            return b + (int)ctz32(w);
        b = (b | 31) + 1;
    }
    return 256;
}

/*
 * The cursor's guard: judges a child by its byte before the cursor steps
 * into it, which saves touching the nodes below a hopeless byte, and
 * points the cursor at the next byte that could do better.
 */
static int fuzzy_guard(void *ctx, art_cursor *c, int *next)
{
    art_fuzzy *f = ctx;
    size_t cut, p = c->key_len - 1;
    int b = c->key[p], r;
    if (f->rows_valid < p || c->changed_from < p) {
        r = fuzzy_extend(f, p, 0, &cut);
        if (r <= 0) {
            *next = 256; /* out of reach before the byte: so are siblings */
            return r;
        }
    }
    if (f->rows_valid >= p && c->changed_from >= p &&
        (!f->utf8 || (c->key[p] & 0xC0) != 0x80)) {
        /* The row at p is current (a symbol boundary): narrow by it. */
        if (f->next_at != p)
            fuzzy_next_bytes(f, p);
        if (f->narrow && !(f->next_bytes[b >> 5] >> (b & 31) & 1)) {
            *next = next_byte_in(f->next_bytes, b + 1);
            return 0;
        }
    }
    r = fuzzy_extend(f, c->key_len, 0, &cut);
    if (r == 0 && cut < c->key_len)
        *next = 256;
    return r;
}

/*
 * Computes the rows of the key the cursor landed on.  Returns 1 with the
 * distance in f->distance, 0 after skipping a subtree that cannot match
 * (the cursor then sits on the next candidate, or is exhausted), or
 * ART_ENOMEM.
 */
static int fuzzy_rows(art_fuzzy *f)
{
    art_cursor *c = &f->cursor;
    size_t cut;
    int r = fuzzy_extend(f, c->key_len, 1, &cut);
    if (r < 0)
        return r;
    if (r == 0)
        return art_cursor_skip(c, cut) < 0 ? ART_ENOMEM : 0;
    const uint32_t *row = f->rows + c->key_len * (f->qlen + 2);
    /* Column qlen lies in the band only when the key's length in symbols
       (row[0]) is within max_distance of the query's. */
    uint64_t klen = row[0], dmax = f->max_distance;
    f->distance = klen + dmax < f->qlen || f->qlen + dmax < klen
                      ? f->max_distance + 1
                      : row[f->qlen];
    return 1;
}

int art_fuzzy_next(art_fuzzy *f)
{
    art_cursor *c = &f->cursor;
    int r;
    if (!f->started) {
        f->started = 1;
        c->guard = fuzzy_guard;
        c->guard_ctx = f;
        r = art_cursor_first(c);
    } else {
        r = art_cursor_next(c);
    }
    while (r > 0) {
        int k = fuzzy_rows(f);
        if (k < 0)
            return k;
        if (k == 0) {
            r = c->at ? 1 : 0; /* skip already moved the cursor */
            continue;
        }
        if (f->distance <= f->max_distance)
            return 1;
        r = art_cursor_next(c);
    }
    return r;
}

/* ------------------------------------------------------------------ */
/* For art_file.c                                                      */
/* ------------------------------------------------------------------ */

const char *art__check_node(art_node *n)
{
    return check_node(n);
}
