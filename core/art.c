/*
 * art.c -- adaptive radix tree; see art.h for the design and the contract.
 *
 * This file holds the tree itself: building and freeing nodes, the tree's
 * lifetime (init, clear, move, copy), lookups, insert and delete.  Memory
 * comes from art_alloc.c; walks (foreach, stats, validate) are in
 * art_walk.c, cursors in art_cursor.c, fuzzy search in art_fuzzy.c.
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
#include "art.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "art_internal.h"

/* ------------------------------------------------------------------ */
/* Nodes and leaves                                                    */
/* ------------------------------------------------------------------ */

/* A node of kind type with room for cap children (Node4/16; ignored for
   Node48/256), a value slot holding value when value is not NULL or slot
   is set, the given prefix, and no children. */
art_node *art__alloc_node(art_tree *t, int type, int cap, int slot, void *value,
                          const uint8_t *prefix, size_t prefix_len)
{
    int shape = (type > ART_NODE16 ? 0 : cap) | (slot || value ? NODE_SLOT : 0);
    size_t size = node_size(type, shape, prefix_len);
    art_node *n = art__block_alloc(t, size);
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
    art__block_free(t, n, size);
}

/* A leaf whose suffix is a[0..na) followed by b[0..nb). */
art_leaf *art__alloc_leaf(art_tree *t, const uint8_t *a, size_t na,
                          const uint8_t *b, size_t nb, void *value)
{
    size_t size = leaf_size(na + nb);
    art_leaf *l = art__block_alloc(t, size);
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
    art__block_free(t, l, size);
}

/*
 * Keeps the walk stack deep enough for the tree after one more key of
 * length len is added by a split.  A path of k inner nodes needs at least
 * k + 1 keys (each node holds a key off the path) and a key of length at
 * least k - 1 (each step down consumes a child byte), so
 * min(size, max_key_len + 1) bounds the depth without measuring it.
 */
int art__reserve_walk(art_tree *t, size_t len)
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
    art_walk_frame *w = art__malloc(t, cap * sizeof(*w));
    if (w == NULL)
        return ART_ENOMEM;
    art__free(t->walk);
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
        art__alloc_node(t, type, cap, slot, node_value(n), prefix, prefix_len);
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

#ifndef ART_DEFAULT_BUCKET_KEYS
#define ART_DEFAULT_BUCKET_KEYS 64
#endif
#ifndef ART_DEFAULT_BUCKET_BYTES
#define ART_DEFAULT_BUCKET_BYTES 2048
#endif

void art_tree_init(art_tree *t)
{
    memset(t, 0, sizeof(*t));
    t->bucket_keys = ART_DEFAULT_BUCKET_KEYS;
    t->bucket_bytes = ART_DEFAULT_BUCKET_BYTES;
}

int art_tree_set_buckets(art_tree *t, unsigned max_keys, size_t max_bytes)
{
    if (t->root != 0 || t->base != 0)
        return ART_EINVAL;
    if (max_keys != 0 &&
        (max_keys < 2 || max_keys > ART_BUCKET_MAX_COUNT || max_bytes < 16 ||
         max_bytes > ART_BUCKET_MAX_KEY_BYTES))
        return ART_EINVAL;
    t->bucket_keys = max_keys;
    t->bucket_bytes = max_keys ? (uint32_t)max_bytes : ART_DEFAULT_BUCKET_BYTES;
    return ART_OK;
}

/*
 * Frees the subtree at root, calling free_value(value, ctx) for each of
 * its values first when free_value is not NULL, and each block with
 * drop(dctx, block, size, heap), heap set for a bucket's.  A depth-first
 * walk that keeps its way back in the nodes it frees (pointer reversal): the
 * slot a walk goes down through holds the parent's parent until it comes back
 * up, and the node's child count, no longer needed, holds the next slot to
 * visit.  No stack, no allocation, and no recursion however deep the tree.  The
 * value of a node is released as the walk enters it.
 */
/* A bucket's values, then its block (for free_subtree). */
static void free_bucket_block(art_bucket *b, art_value_fn free_value, void *ctx,
                              void (*drop)(void *dctx, void *p, size_t size,
                                           int heap),
                              void *dctx)
{
    if (free_value) {
        void **values = art_bucket_values(b);
        for (unsigned i = 0; i < b->count; i++)
            free_value(values[i], ctx);
    }
    drop(dctx, b, art_bucket_bytes(b), 1);
}

static void free_subtree(uintptr_t root, art_value_fn free_value, void *ctx,
                         void (*drop)(void *dctx, void *p, size_t size,
                                      int heap),
                         void *dctx)
{
    if (root == 0)
        return;
    if (IS_LEAF(root)) {
        if (free_value)
            free_value(AS_LEAF(root)->value, ctx);
        drop(dctx, AS_LEAF(root), leaf_size(AS_LEAF(root)->len), 0);
        return;
    }
    if (is_bucket(root)) {
        free_bucket_block(AS_BUCKET(root), free_value, ctx, drop, dctx);
        return;
    }
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
            drop(dctx, n, node_bytes(n), 0);
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
            drop(dctx, l, leaf_size(l->len), 0);
            continue;
        }
        if (is_bucket(child)) {
            slots[i] = 0;
            free_bucket_block(AS_BUCKET(child), free_value, ctx, drop, dctx);
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

static void drop_detached(void *dctx, void *p, size_t size, int heap)
{
    art__drop_detached((const art_detached *)dctx, p, size, heap);
}

/* heap: a bucket's block (art__heap_block_alloc), which art_burst.c frees. */
static void drop_block(void *dctx, void *p, size_t size, int heap)
{
    art_tree *t = dctx;
    if (heap) {
        art__bucket_free(t, p);
        return;
    }
    t->bytes -= size;
    art__block_free(t, p, size);
}

void art__free_subtree(art_tree *t, uintptr_t root)
{
    free_subtree(root, NULL, NULL, drop_block, t);
}

void art_tree_clear(art_tree *t, art_value_fn free_value, void *ctx)
{
    /*
     * t is emptied first, so the callbacks may use it (re-entrant code in
     * a binding).  Only what freeing needs is kept, not a copy of the
     * whole tree: deallocators of nested containers nest this call, and
     * its stack frame is paid at every level.
     */
    art_detached old;
    art__alloc_detach(t, &old);
    uintptr_t root = t->root;
    uint64_t version = t->version;
    long countdown = t->fail_countdown;
    uint32_t bkeys = t->bucket_keys, bbytes = t->bucket_bytes;
    art__free(t->walk);
    art_tree_init(t);
    t->version = version + 1;
    t->fail_countdown = countdown;
    t->bucket_keys = bkeys;
    t->bucket_bytes = bbytes;
    free_subtree(root, free_value, ctx, drop_detached, &old);
    art__alloc_free_detached(&old);
}

void art_tree_move(art_tree *dst, art_tree *src)
{
    uint64_t version = src->version;
    long countdown = src->fail_countdown;
    /* dst's cursors must see a version they have never seen. */
    uint64_t dst_version =
        (dst->version > version ? dst->version : version) + 1;
    uint32_t bkeys = src->bucket_keys, bbytes = src->bucket_bytes;
    *dst = *src;
    dst->version = dst_version;
    dst->fail_countdown = 0;
    art_tree_init(src);
    src->version = version + 1;
    src->fail_countdown = countdown;
    src->bucket_keys = bkeys;
    src->bucket_bytes = bbytes;
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
    return art__alloc_leaf(t, l->suffix, l->len, NULL, 0, l->value);
}

/* A copy leaves out the room b keeps to grow, as a built tree has none. */
static art_bucket *clone_bucket(art_tree *t, const art_bucket *b)
{
    art_bucket_alloc a = art__bucket_alloc(t);
    return art_bucket_copy(&a, b);
}

/* A copy of n with the same key bytes and index but all child slots 0. */
static art_node *clone_node_empty(art_tree *t, art_node *n)
{
    size_t size = node_bytes(n);
    art_node *m = art__block_alloc(t, size);
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

int art_tree_copy(art_tree *dst, art_tree *src)
{
    dst->bucket_keys = src->bucket_keys;
    dst->bucket_bytes = src->bucket_bytes;
    if (src->root == 0)
        return ART_OK;
    if (is_bucket(src->root)) {
        art_bucket *b = clone_bucket(dst, AS_BUCKET(src->root));
        if (b == NULL)
            return ART_ENOMEM;
        dst->root = TAG_NODE(b);
    } else if (IS_LEAF(src->root)) {
        art_leaf *l = clone_leaf(dst, AS_LEAF(src->root));
        if (l == NULL)
            return ART_ENOMEM;
        dst->root = TAG_LEAF(l);
    } else {
        /*
         * Walk src with its own stack and mirror each node into dst in
         * dst's stack; the copy is linked top-down, so a failure leaves
         * a tree (with some empty slots) that art_tree_clear can free.
         */
        /* dst may be empty but not new: keep a walk stack it still has
           when it is deep enough, free it otherwise. */
        if (dst->walk_cap < src->walk_cap) {
            art_walk_frame *w =
                art__malloc(dst, src->walk_cap * sizeof(art_walk_frame));
            if (w == NULL)
                return ART_ENOMEM;
            art__free(dst->walk);
            dst->walk = w;
            dst->walk_cap = src->walk_cap;
        }
        art_node *root = clone_node_empty(dst, AS_NODE(src->root));
        if (root == NULL)
            return ART_ENOMEM;
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
                *slot = TAG_LEAF(l);
            } else if (is_bucket(child)) {
                art_bucket *bk = clone_bucket(dst, AS_BUCKET(child));
                if (bk == NULL)
                    goto fail;
                *slot = TAG_NODE(bk);
            } else {
                art_node *m = clone_node_empty(dst, AS_NODE(child));
                if (m == NULL)
                    goto fail;
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
    art_tree_clear(dst, NULL, NULL);
    return ART_ENOMEM;
}

/* ------------------------------------------------------------------ */
/* Search                                                              */

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
        if (n->type == ART_BUCKET_TYPE) {
            art_bucket *b = AS_BUCKET(p);
            int i = art_bucket_find(b, key + d, len - d);
            return i < 0 ? NULL : &art_bucket_values(b)[i];
        }
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

/*
 * The keys of bucket b (its suffixes start at key offset d) that are
 * prefixes of key[0..len), at least min_len long and accepted: the
 * longest, or with !longest the shortest; NULL when none.  They are all
 * in the run of suffixes that start with key[d] (and the empty suffix),
 * in ascending order of length.
 */
static void *bucket_prefix_match(art_bucket *b, const uint8_t *key, size_t len,
                                 size_t d, size_t min_len, int longest,
                                 art_accept_fn accept, void *ctx,
                                 size_t *found_len)
{
    void **values = art_bucket_values(b);
    void *best = NULL;
    size_t rem = len - d, slen;
    unsigned i = 0, n = b->count;
    art_bucket_suffix(b, 0, &slen);
    if (slen == 0) {
        if (d >= min_len && (accept == NULL || accept(ctx, d))) {
            *found_len = d;
            best = values[0];
            if (!longest)
                return best;
        }
        i = 1;
    }
    if (rem == 0)
        return best;
    if (i < n)
        i = art_bucket_lower_bound(b, key + d, 1, NULL);
    for (; i < n; i++) {
        const uint8_t *s = art_bucket_suffix(b, i, &slen);
        if (s[0] != key[d])
            break;
        if (slen > rem || d + slen < min_len || !same_bytes(s, key + d, slen))
            continue;
        if (accept == NULL || accept(ctx, d + slen)) {
            *found_len = d + slen;
            best = values[i];
            if (!longest)
                return best;
        }
    }
    return best;
}

void *art_prefix_match(const art_tree *t, const uint8_t *key, size_t len,
                       size_t min_len, int longest, art_accept_fn accept,
                       void *ctx, size_t *found_len)
{
    key = NONNULL_KEY(key);
    void *best = NULL;
    uintptr_t p = t->root;
    size_t d = 0;
    while (p) {
        if (IS_LEAF(p)) {
            art_leaf *l = AS_LEAF(p);
            if (l->len <= len - d && d + l->len >= min_len &&
                same_bytes(l->suffix, key + d, l->len) &&
                (accept == NULL || accept(ctx, d + l->len))) {
                *found_len = d + l->len;
                return l->value;
            }
            break;
        }
        art_node *n = AS_NODE(p);
        if (n->type == ART_BUCKET_TYPE) {
            void *v = bucket_prefix_match(AS_BUCKET(p), key, len, d, min_len,
                                          longest, accept, ctx, found_len);
            return v ? v : best;
        }
        size_t plen = n->prefix_len;
        if (len - d < plen || !same_bytes(node_prefix(n), key + d, plen))
            break;
        d += plen;
        if (node_value(n) && d >= min_len &&
            (accept == NULL || accept(ctx, d))) {
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
    return art_prefix_match(t, key, len, min_len, 0, NULL, NULL, found_len);
}

void *art_longest_prefix(const art_tree *t, const uint8_t *key, size_t len,
                         size_t *found_len)
{
    return art_prefix_match(t, key, len, 0, 1, NULL, NULL, found_len);
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
            art_leaf *l = art__alloc_leaf(t, key, len, NULL, 0, value);
            if (l == NULL)
                return ART_ENOMEM;
            *ref = TAG_LEAF(l);
            note_new_key(t, len);
            return 1;
        }
        if (t->bucket_keys && (IS_LEAF(p) || is_bucket(p))) {
            /* A leaf meeting a second key makes a bucket of two; a bucket
               takes the key or bursts. */
            if (art__reserve_walk(t, len) < 0)
                return ART_ENOMEM;
            int r = art__bucket_insert(t, ref, key + d, len - d, value, old);
            if (r == 1)
                note_new_key(t, len);
            return r;
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
            if (art__reserve_walk(t, len) < 0)
                return ART_ENOMEM;
            /* One of the two keys may end at the new node. */
            void *nv = rem > m ? NULL : value;
            art_node *n = art__alloc_node(
                t, ART_NODE4, 2, 0, nv ? nv : (l->len > m ? NULL : l->value),
                key + d, m);
            art_leaf *nl = NULL, *ol = NULL;
            if (n == NULL)
                return ART_ENOMEM;
            if (rem > m &&
                (nl = art__alloc_leaf(t, key + d + m + 1, rem - m - 1, NULL, 0,
                                      value)) == NULL)
                goto split_nomem;
            if (l->len > m &&
                (ol = art__alloc_leaf(t, l->suffix + m + 1, l->len - m - 1,
                                      NULL, 0, l->value)) == NULL)
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
            if (art__reserve_walk(t, len) < 0)
                return ART_ENOMEM;
            uint8_t *prefix = node_prefix(n);
            art_node *top = art__alloc_node(t, ART_NODE4, 2, 0,
                                            rem > m ? NULL : value, prefix, m);
            art_node *low = NULL;
            art_leaf *nl = NULL;
            if (top == NULL)
                return ART_ENOMEM;
            low = rebuild_node(t, n, n->type, node_cap(n), 0, prefix + m + 1,
                               plen - m - 1, -1);
            if (low == NULL)
                goto prefix_nomem;
            if (rem > m &&
                (nl = art__alloc_leaf(t, key + d + m + 1, rem - m - 1, NULL, 0,
                                      value)) == NULL)
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
        art_leaf *nl =
            art__alloc_leaf(t, key + d + 1, len - d - 1, NULL, 0, value);
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
        art_leaf *l = art__block_alloc(t, size);
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
    buf = art__malloc(t, total ? total : 1);
    if (buf == NULL)
        return 0;
    memcpy(buf, node_prefix(n), plen);
    buf[plen] = b;
    memcpy(buf + plen + 1, node_prefix(cn), cn->prefix_len);
    art_node *m =
        rebuild_node(t, cn, cn->type, node_cap(cn), 0, buf, total, -1);
    art__free(buf);
    return m ? TAG_NODE(m) : 0;
}

static void free_replaced(art_tree *t, uintptr_t p)
{
    if (IS_LEAF(p))
        free_leaf(t, AS_LEAF(p));
    else if (is_bucket(p))
        art__bucket_free(t, AS_BUCKET(p));
    else
        free_node(t, AS_NODE(p));
}

/*
 * What replaces node n (no value) once it is left with the single child
 * c at byte b: c with n's prefix and b in front of its prefix, its suffix
 * or every suffix of its bucket.  ART_OK with it in *out, or ART_ENOMEM.
 */
static int merge_one(art_tree *t, art_node *n, uint8_t b, uintptr_t c,
                     uintptr_t *out)
{
    if (is_bucket(c))
        return art__bucket_prepend(t, node_prefix(n), n->prefix_len, b,
                                   AS_BUCKET(c), out);
    *out = merge_into_child(t, n, b, c);
    return *out ? ART_OK : ART_ENOMEM;
}

/*
 * Unlinks the child at byte of the node at *parent_ref (the root when
 * parent_ref is NULL), shrinking or merging the node as its new child
 * count requires.  The child itself is not freed.  ART_OK or ART_ENOMEM
 * (nothing changed).
 */
static int unlink_child(art_tree *t, uintptr_t *parent_ref, uint8_t byte)
{
    if (parent_ref == NULL) {
        t->root = 0;
        return ART_OK;
    }
    art_node *parent = AS_NODE(*parent_ref);
    int left = parent->num_children - 1;
    uintptr_t repl = 0, other = 0;
    if (parent->type == ART_NODE4) {
        if (left == 0) {
            /* Only the parent's own key remains: it becomes a leaf whose
               suffix is the parent's prefix. */
            art_leaf *nl =
                art__alloc_leaf(t, node_prefix(parent), parent->prefix_len,
                                NULL, 0, node_value(parent));
            if (nl == NULL)
                return ART_ENOMEM;
            repl = TAG_LEAF(nl);
        } else if (left == 1 && node_value(parent) == NULL) {
            int ob = child_ge(parent, 0, &other);
            if (ob == byte)
                ob = child_ge(parent, ob + 1, &other);
            if (ob < 0)
                return ART_EINVAL; /* not reached: it has two children */
            if (merge_one(t, parent, (uint8_t)ob, other, &repl) < 0)
                return ART_ENOMEM;
            free_replaced(t, other);
        }
    } else if (left <= shrink_at[parent->type]) {
        int type = parent->type - 1;
        art_node *sm =
            rebuild_node(t, parent, type, capacity[type], 0,
                         node_prefix(parent), parent->prefix_len, byte);
        if (sm == NULL)
            return ART_ENOMEM;
        repl = TAG_NODE(sm);
    }
    if (repl) {
        *parent_ref = repl;
        free_node(t, parent);
    } else {
        remove_child(parent, byte);
    }
    return ART_OK;
}

static void note_removed_key(art_tree *t)
{
    t->size--;
    t->version++;
    if (t->size == 0) /* every block is free: give pages back */
        art__alloc_release(t);
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
            if (unlink_child(t, parent_ref, byte) < 0)
                return ART_ENOMEM;
            if (old)
                *old = l->value;
            free_leaf(t, l);
            note_removed_key(t);
            return 1;
        }
        art_node *n = AS_NODE(p);
        if (n->type == ART_BUCKET_TYPE) {
            art_bucket *b = AS_BUCKET(p);
            int i = art_bucket_find(b, key + d, len - d);
            if (i < 0)
                return 0;
            if (b->count == 1) {
                /* Its last key: the bucket goes as a leaf would. */
                if (unlink_child(t, parent_ref, byte) < 0)
                    return ART_ENOMEM;
                if (old)
                    *old = art_bucket_values(b)[0];
                art__bucket_free(t, b);
            } else {
                art_bucket_alloc a = art__bucket_alloc(t);
                if (art_bucket_delete(&a, &b, (unsigned)i, old) < 0)
                    return ART_ENOMEM;
                *ref = TAG_NODE(b);
            }
            note_removed_key(t);
            return 1;
        }
        size_t plen = n->prefix_len;
        if (len - d < plen || !same_bytes(node_prefix(n), key + d, plen))
            return 0;
        d += plen;
        if (d == len) {
            void *v = node_value(n);
            if (v == NULL)
                return 0;
            if (n->num_children == 1) {
                uintptr_t only = 0, repl = 0;
                int b = child_ge(n, 0, &only);
                if (b < 0)
                    return ART_EINVAL; /* not reached: it has one child */
                if (merge_one(t, n, (uint8_t)b, only, &repl) < 0)
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

int art_key_compare(const uint8_t *a, size_t na, const uint8_t *b, size_t nb)
{
    size_t n = na < nb ? na : nb;
    int r = n ? memcmp(a, b, n) : 0;
    if (r)
        return r;
    return na < nb ? -1 : na > nb;
}
