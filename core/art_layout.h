/*
 * art_layout.h -- the in-memory (and on-disk) layout of the tree's nodes
 * and leaves, shared by art.c and art_file.c.  Private to the core: not
 * installed, not part of the API in art.h.
 */
#ifndef BLART_ART_LAYOUT_H
#define BLART_ART_LAYOUT_H

#include "art.h"

#include <string.h>

#if defined(__SSE2__) || defined(_M_X64) ||                                    \
    (defined(_M_IX86_FP) && _M_IX86_FP >= 2)
#include <emmintrin.h>
#define ART_SSE2 1
#endif
#if defined(_MSC_VER)
#include <intrin.h>
#endif

/* ------------------------------------------------------------------ */
/* Representation                                                      */
/* ------------------------------------------------------------------ */

typedef struct art_node {
    uint8_t type;
    uint8_t cap; /* Node4/16: room for children (2/4, 8/16); else 0 */
    uint16_t num_children; /* up to 256 */
    uint32_t prefix_len;
    /* Value of the key that ends at this node, right after its prefix;
       NULL when there is none. */
    void *value;
} art_node;

typedef struct art_leaf {
    void *value;
    uint32_t len;     /* suffix length */
    uint8_t suffix[]; /* the key bytes below the parent's child byte */
} art_leaf;

#define IS_LEAF(p)  (((p) & (uintptr_t)1) != 0)
#define AS_LEAF(p)  ((art_leaf *)((p) & ~(uintptr_t)1))
#define AS_NODE(p)  ((art_node *)(p))
#define TAG_LEAF(l) ((uintptr_t)(l) | (uintptr_t)1)
#define TAG_NODE(n) ((uintptr_t)(n))

/*
 * Bodies.  Node4/16: key bytes sorted ascending, keys[i] goes with
 * children[i], entries [0, num_children) used.  Node48: index[b] is 0 or
 * 1 + the slot in children[] of byte b's child; unused slots are 0.
 * Node256: children[b] directly, 0 when absent.
 *
 * Node4 and Node16 come in two sizes each, with room for 2 or 4 and for
 * 8 or 16 children (n->cap): most inner nodes of a large tree of
 * real-world keys branch two ways, and a Node4 with room for two is 16
 * bytes smaller.  A full node grows into the next size up: 2, 4, 8, 16,
 * then Node48 and Node256.
 */
static const size_t body_size[ART_NODE_KINDS] = {
    0, 0,                         /* Node4/16: small_body(cap) */
    256 + 48 * sizeof(uintptr_t), /* index[256], children[48] */
    256 * sizeof(uintptr_t),      /* children[256] */
};
static const int capacity[ART_NODE_KINDS] = {4, 16, 48, 256};
/* The smaller size of Node4 and of Node16. */
static const int small_cap[ART_NODE_KINDS] = {2, 8, 0, 0};
/*
 * Shrink when a removal leaves this many children or fewer.  The gap
 * below the next smaller kind's capacity keeps a node that sits on a
 * boundary from being rebuilt on every insert/delete pair.
 */
static const int shrink_at[ART_NODE_KINDS] = {0, 3, 12, 37};
/* Fewest children a node of each kind holds in a valid tree. */
static const int min_children[ART_NODE_KINDS] = {0, 4, 13, 38};

static inline size_t pad8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

static inline uint8_t *node_prefix(art_node *n)
{
    return (uint8_t *)(n + 1);
}

static inline uint8_t *node_body(art_node *n)
{
    return (uint8_t *)(n + 1) + pad8(n->prefix_len);
}

/* Whether cap is a size the node kind comes in (0 for Node48/256). */
static inline int valid_cap(int type, int cap)
{
    if (type == ART_NODE4 || type == ART_NODE16)
        return cap == small_cap[type] || cap == capacity[type];
    return cap == 0;
}

/* Room for children: n->cap for Node4/16, the kind's capacity else. */
static inline int node_cap(const art_node *n)
{
    return n->type <= ART_NODE16 ? n->cap : capacity[n->type];
}

/* A Node4/16 body with room for cap children: keys, padded, children. */
static inline size_t small_body(int cap)
{
    return pad8((size_t)cap) + (size_t)cap * sizeof(uintptr_t);
}

/* Bytes of a node of this kind and size (cap as in valid_cap). */
static inline size_t node_size(int type, int cap, size_t prefix_len)
{
    return sizeof(art_node) + pad8(prefix_len) +
           (type <= ART_NODE16 ? small_body(cap) : body_size[type]);
}

static inline size_t node_bytes(const art_node *n)
{
    return node_size(n->type, n->cap, n->prefix_len);
}

/* Blocks are multiples of 8 bytes: a leaf's size is rounded up. */
static inline size_t leaf_size(size_t len)
{
    return pad8(offsetof(art_leaf, suffix) + len);
}

static inline uint8_t *n48_index(art_node *n)
{
    return node_body(n);
}
static inline uintptr_t *n48_children(art_node *n)
{
    return (uintptr_t *)(node_body(n) + 256);
}
static inline uintptr_t *n256_children(art_node *n)
{
    return (uintptr_t *)node_body(n);
}

/* Keys and children of a Node4 or Node16 (same shape, different size). */
static inline uint8_t *small_keys(art_node *n)
{
    return node_body(n);
}
static inline uintptr_t *small_children(art_node *n)
{
    return (uintptr_t *)(node_body(n) + pad8(n->cap));
}

#if defined(__GNUC__) || defined(__clang__)
#define ART_PREFETCH(p) __builtin_prefetch((const void *)(p))
#elif defined(ART_SSE2)
#define ART_PREFETCH(p) _mm_prefetch((const char *)(p), _MM_HINT_T0)
#else
#define ART_PREFETCH(p) ((void)0)
#endif

static inline unsigned ctz32(uint32_t x)
{
#if defined(_MSC_VER)
    unsigned long i;
    _BitScanForward(&i, x);
    return (unsigned)i;
#elif defined(__GNUC__) || defined(__clang__)
    return (unsigned)__builtin_ctz(x);
#else
    unsigned i = 0;
    while (!(x & 1u)) {
        x >>= 1;
        i++;
    }
    return i;
#endif
}

/*
 * Iterates over n's children in key order without rescanning: *pos starts
 * at 0; each call stores the next child's byte and the address of its
 * slot and returns 1, or returns 0 when there are no more.
 */
static inline int next_child(art_node *n, int *pos, int *byte, uintptr_t **slot)
{
    int i = *pos;
    switch (n->type) {
    case ART_NODE4:
    case ART_NODE16:
        if (i >= n->num_children)
            return 0;
        *byte = small_keys(n)[i];
        *slot = &small_children(n)[i];
        *pos = i + 1;
        return 1;
    case ART_NODE48: {
        const uint8_t *index = n48_index(n);
        for (; i < 256; i++)
            if (index[i]) {
                *byte = i;
                *slot = &n48_children(n)[index[i] - 1];
                *pos = i + 1;
                return 1;
            }
        *pos = 256;
        return 0;
    }
    default: {
        uintptr_t *ch = n256_children(n);
        for (; i < 256; i++)
            if (ch[i]) {
                *byte = i;
                *slot = &ch[i];
                *pos = i + 1;
                return 1;
            }
        *pos = 256;
        return 0;
    }
    }
}

/* Shared by art.c and art_file.c (defined in art.c). */
void *art__malloc(art_tree *t, size_t size);
void art__free(void *p);
const char *art__check_node(art_node *n);

#endif /* BLART_ART_LAYOUT_H */
