/*
 * art_internal.h -- what the core's source files share beyond the node
 * layout (art_layout.h): the allocator's interface (art_alloc.c), the
 * child lookups that updates, walks and cursors all use, the byte
 * helpers of lookups and seeks, and the functions one file provides to
 * another.  Private to the core: not installed, not part of the API.
 *
 *   art.c        the tree: lifetime, copies, lookups, insert, delete
 *   art_alloc.c  live-block count, slabs, large blocks, the file arena
 *   art_walk.c   foreach, stats, validate (and art_file.c's node check)
 *   art_cursor.c cursors
 *   art_fuzzy.c  fuzzy search, on a guarded cursor
 *   art_file.c   the file format: write, open, load
 */
#ifndef BLART_ART_INTERNAL_H
#define BLART_ART_INTERNAL_H

#include "art_bucket.h"
#include "art_layout.h"

/* ------------------------------------------------------------------ */
/* Memory (art_alloc.c)                                                */
/* ------------------------------------------------------------------ */

/* Counted blocks from malloc; each allocation counts against
   t->fail_countdown.  art__free(NULL) does nothing. */
void *art__malloc(art_tree *t, size_t size);
void *art__malloc_big(art_tree *t, size_t size);
void art__free(void *p);

/* Blocks of up to this many bytes come from the tree's slabs. */
#define ART_SLAB_MAX 512

/* A node or leaf of size bytes (a multiple of 8): from the slabs, or
   from malloc when larger than ART_SLAB_MAX (counted in t->reserved
   either way).  art__block_free takes the same size back. */
void *art__block_alloc(art_tree *t, size_t size);
void art__block_free(art_tree *t, void *p, size_t size);

/* A block from malloc whatever its size (counted in t->reserved): for
   buckets, whose sizes change with every copy, so that the slabs' free
   lists do not keep the sizes a tree's buckets have grown out of (1M
   random hex keys: 24 bytes a key).  art__heap_block_free takes it back,
   or leaves it when it lies in an adopted file block. */
void *art__heap_block_alloc(art_tree *t, size_t size);
void art__heap_block_free(art_tree *t, void *p, size_t size);

/* Gives back every page once the tree holds no block (it became empty). */
void art__alloc_release(art_tree *t);

/* Makes block[0..size), a loaded file's nodes, part of t's memory. */
void art__alloc_adopt(art_tree *t, void *block, size_t size);

/*
 * Clearing.  art__alloc_detach() takes the pages and the arena out of t
 * (which then allocates afresh); the caller frees each large block with
 * art__drop_detached() as it walks the old nodes, then everything else
 * at once with art__alloc_free_detached().  Three words, so that nested
 * clears (a value's destructor clearing another tree) stay cheap in
 * stack.
 */
typedef struct art_detached {
    void *pages;
    void *arena;
    size_t arena_size;
} art_detached;

void art__alloc_detach(art_tree *t, art_detached *d);
void art__alloc_free_detached(const art_detached *d);

/* For the few hot loops whose copies with constant arguments must be
   made (a plain call may or may not be inlined). */
#if defined(__GNUC__) || defined(__clang__)
#define ART_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define ART_ALWAYS_INLINE inline
#endif

/* Whether p lies in the block [arena, arena + size). */
static inline int art__in_arena(const void *arena, size_t size, const void *p)
{
    return (uintptr_t)p - (uintptr_t)arena < size;
}

static inline void art__drop_detached(const art_detached *d, void *p,
                                      size_t size, int heap)
{
    if ((heap || size > ART_SLAB_MAX) &&
        !art__in_arena(d->arena, d->arena_size, p))
        art__free(p);
}

/* Grows *buf (*cap elements of size elem) to hold at least need. */
int art__grow_slow(art_tree *t, void **buf, size_t *cap, size_t need,
                   size_t elem);
static inline int art__grow(art_tree *t, void **buf, size_t *cap, size_t need,
                            size_t elem)
{
    return need <= *cap ? ART_OK : art__grow_slow(t, buf, cap, need, elem);
}

/* ------------------------------------------------------------------ */
/* Children and bytes                                                  */
/* ------------------------------------------------------------------ */

/*
 * The child with the smallest byte >= from (from may be 256), or -1.
 * Stores the child in *out.
 */
static inline int child_ge(art_node *n, int from, uintptr_t *out)
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
static inline int child_le(art_node *n, int from, uintptr_t *out)
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

/* ------------------------------------------------------------------ */
/* Between files                                                       */
/* ------------------------------------------------------------------ */

/* Blocks of a tree (art.c), for the files that build trees (art_build.c).
   art__alloc_node: a node of kind type with room for cap children
   (Node4/16), a value slot holding value when value is not NULL or slot
   is set, the given prefix and no children; art__alloc_leaf: a leaf whose
   suffix is a[0..na) then b[0..nb).  Both count the bytes in t->bytes and
   return NULL when the allocation fails.  art__free_subtree frees every
   block below and at root (values untouched), without recursion.
   art__reserve_walk keeps t's walk stack deep enough for one more key of
   length len. */
art_node *art__alloc_node(art_tree *t, int type, int cap, int slot, void *value,
                          const uint8_t *prefix, size_t prefix_len);
art_leaf *art__alloc_leaf(art_tree *t, const uint8_t *a, size_t na,
                          const uint8_t *b, size_t nb, void *value);
void art__free_subtree(art_tree *t, uintptr_t root);
int art__reserve_walk(art_tree *t, size_t len);

/* Checks one inner node's own fields (art_walk.c; used by art_file.c's
   checks too): NULL, or a static description of what is wrong. */
const char *art__check_node(art_node *n);

/* The kind and size of a node with c children, as inserts grow one. */
static inline void art__kind_for(size_t c, int *type, int *cap)
{
    static const struct {
        size_t most;
        int type, cap;
    } kinds[] = {{2, ART_NODE4, 2},   {4, ART_NODE4, 4},
                 {8, ART_NODE16, 8},  {16, ART_NODE16, 16},
                 {48, ART_NODE48, 0}, {256, ART_NODE256, 0}};
    size_t i = 0;
    while (c > kinds[i].most)
        i++;
    *type = kinds[i].type;
    *cap = kinds[i].cap;
}

/* ------------------------------------------------------------------ */
/* Buckets in the tree (art_burst.c)                                   */
/* ------------------------------------------------------------------ */

/*
 * A bucket hangs where a leaf or an inner node may: an untagged child
 * reference whose kind byte is ART_BUCKET_TYPE.  Every descent tests the
 * kind before it reads a node's prefix.  Trees hold buckets only when
 * t->bucket_keys is not 0 (art_tree_set_buckets).
 */
#define AS_BUCKET(p) ((art_bucket *)(p))

static inline int is_bucket(uintptr_t p)
{
    return !IS_LEAF(p) && AS_NODE(p)->type == ART_BUCKET_TYPE;
}

/* Suffixes longer than this never enter a bucket: they stay leaves, so a
   bucket's block stays small and a huge key copies no neighbour. */
static inline size_t art__bucket_max_suffix(const art_tree *t)
{
    return t->bucket_bytes / 4;
}

/* The tree's allocator for bucket blocks (counted in t->bytes). */
art_bucket_alloc art__bucket_alloc(art_tree *t);
void art__bucket_free(art_tree *t, art_bucket *b);

/* Fills e[0 .. b->count) with b's suffixes, each after head[0..hlen),
   and their values: art_bucket_make's entries for a merge. */
void art__bucket_entries(const art_bucket *b, const uint8_t *head, size_t hlen,
                         art_bucket_entry *e);

/* A suffix with its value: the input of art__build_subtree. */
typedef struct art_span {
    const uint8_t *s;
    size_t len;
    void *value;
} art_span;

/*
 * Makes the subtree of the n >= 1 distinct suffixes e[0..n), in ascending
 * order: a leaf for one, a bucket for a run that fits the tree's limits,
 * else an inner node (the run's common prefix, a value slot for the
 * suffix that ends there) over the runs of each next byte.  Stores the
 * reference in *out.  All or nothing: ART_OK or ART_ENOMEM (nothing
 * left allocated, *out 0).  No recursion.
 */
int art__build_subtree(art_tree *t, const art_span *e, size_t n,
                       uintptr_t *out);

/*
 * Inserts s[0..len) -> value below *ref, a leaf or a bucket, in a tree
 * with buckets: replaces the value of an equal suffix in place (0, the
 * old value in *old), adds the suffix to the bucket (a new block), or
 * replaces *ref by the subtree of its suffixes and s (a burst; a leaf and
 * a new key make a bucket of two) and frees the old block (1).  Returns
 * ART_ENOMEM with the tree unchanged.  The caller counts the new key.
 */
int art__bucket_insert(art_tree *t, uintptr_t *ref, const uint8_t *s,
                       size_t len, void *value, void **old);

/*
 * What replaces a node with no value whose only child, at byte, is the
 * bucket b: b's suffixes, each with prefix[0..plen) and byte in front, as
 * one bucket when they fit the tree's limits, else as the subtree
 * art__build_subtree makes of them.  ART_OK with it in *out, or
 * ART_ENOMEM.  b is not changed.
 */
int art__bucket_prepend(art_tree *t, const uint8_t *prefix, size_t plen,
                        uint8_t byte, const art_bucket *b, uintptr_t *out);

#endif /* BLART_ART_INTERNAL_H */
