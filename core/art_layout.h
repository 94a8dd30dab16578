/*
 * art_layout.h -- the in-memory (and on-disk) layout of the tree's nodes
 * and leaves, shared by the core's source files.  Private to the core:
 * not installed, not part of the API in art.h.
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

/* For the few functions on every level of every descent, where a call
   would cost more than the body. */
#if defined(__GNUC__) || defined(__clang__)
#define ART_HOT_INLINE inline __attribute__((always_inline))
#else
#define ART_HOT_INLINE inline
#endif

/* ------------------------------------------------------------------ */
/* Representation                                                      */
/* ------------------------------------------------------------------ */

/*
 * An inner node is this 8-byte header, its prefix padded to 8 bytes, its
 * body, then a value slot when the shape says so.  The value slot holds
 * the value of the key that ends at the node (NULL: none); a node gets
 * one only when such a key is inserted, as few do, which saves 8 bytes in
 * most nodes.  It comes last so that the prefix and the body, which every
 * descent reads, sit at offsets that do not depend on it.
 */
typedef struct art_node {
    uint8_t type;
    uint8_t shape;         /* NODE_SLOT, plus for Node4/16 the room for children
                              (2/4, 8/16); see node_cap() */
    uint16_t num_children; /* up to 256 */
    uint32_t prefix_len;
} art_node;

#define NODE_SLOT 0x80 /* shape bit: a value slot ends the node */

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
 * 8 or 16 children (node_cap()): most inner nodes of a large tree of
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

/* Whether shape is one the node kind comes in: room for children among
   the kind's sizes (Node4/16) or 0 (Node48/256), with or without a slot. */
static inline int valid_shape(int type, int shape)
{
    int cap = shape & ~NODE_SLOT;
    if (type == ART_NODE4 || type == ART_NODE16)
        return cap == small_cap[type] || cap == capacity[type];
    return cap == 0;
}

/* Room for children: from the shape for Node4/16, the kind's else. */
static inline int node_cap(const art_node *n)
{
    return n->type <= ART_NODE16 ? (n->shape & ~NODE_SLOT) : capacity[n->type];
}

/* A Node4/16 body with room for cap children: keys, padded, children. */
static inline size_t small_body(int cap)
{
    return pad8((size_t)cap) + (size_t)cap * sizeof(uintptr_t);
}

/* Bytes of a node of this kind and shape (as in valid_shape). */
static inline size_t node_size(int type, int shape, size_t prefix_len)
{
    return sizeof(art_node) + ((shape & NODE_SLOT) ? 8 : 0) + pad8(prefix_len) +
           (type <= ART_NODE16 ? small_body(shape & ~NODE_SLOT)
                               : body_size[type]);
}

static inline size_t node_bytes(const art_node *n)
{
    return node_size(n->type, n->shape, n->prefix_len);
}

/* The value slot, or NULL when the node has none. */
static inline void **node_slot(art_node *n)
{
    if (!(n->shape & NODE_SLOT))
        return NULL;
    return (void **)((uint8_t *)n + node_bytes(n) - sizeof(void *));
}

/* The value of the key ending at n, or NULL. */
static inline void *node_value(art_node *n)
{
    return (n->shape & NODE_SLOT) ? *node_slot(n) : NULL;
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
    /* The keys take 8 bytes, or 16 in a node with room for 16 (the only
       size with bit 4 set). */
    return (uintptr_t *)(node_body(n) + 8 + ((n->shape & 16) >> 1));
}

/* All child slots of n, node_cap(n) of them, in no particular order
   (unused ones are 0). */
static inline uintptr_t *node_slots(art_node *n)
{
    switch (n->type) {
    case ART_NODE4:
    case ART_NODE16:
        return small_children(n);
    case ART_NODE48:
        return n48_children(n);
    default:
        return n256_children(n);
    }
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

#endif /* BLART_ART_LAYOUT_H */
