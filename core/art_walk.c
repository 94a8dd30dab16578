/*
 * art_walk.c -- the walks over a whole tree that need no cursor: foreach,
 * stats and validate, on the tree's own walk stack (art.c keeps it deep
 * enough), so none of them allocates.  art__check_node() serves
 * art_file.c's checks of a file's nodes too.
 */
#include "art.h"

#include <string.h>

#include "art_internal.h"

/* ------------------------------------------------------------------ */
/* Walks: foreach, stats, validate                                     */
/* ------------------------------------------------------------------ */

/*
 * A pre-order walk in key order over the tree's inner nodes and leaves,
 * on the tree's own walk stack, so it never allocates.  Each call reports
 * the next item: an inner node on entry (before its children; depth is
 * its level, 1 for the root), a leaf or a bucket (depth: the inner nodes
 * above it).
 * foreach, stats and validate are all made of it.
 */
enum { WALK_END, WALK_NODE, WALK_LEAF, WALK_BUCKET, WALK_EMPTY, WALK_TOO_DEEP };

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
        if (is_bucket(root))
            return WALK_BUCKET;
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
        if (is_bucket(child))
            return WALK_BUCKET;
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
    while ((e = walk_next(&w, &p, &depth)) == WALK_NODE || e == WALK_LEAF ||
           e == WALK_BUCKET) {
        int r;
        if (e == WALK_BUCKET) {
            art_bucket *b = AS_BUCKET(p);
            for (unsigned i = 0; i < b->count; i++)
                if ((r = visit(art_bucket_values(b)[i], ctx)) != 0)
                    return r;
            continue;
        }
        void *v = e == WALK_LEAF ? AS_LEAF(p)->value : node_value(AS_NODE(p));
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
    while ((e = walk_next(&w, &p, &depth)) == WALK_NODE || e == WALK_LEAF ||
           e == WALK_BUCKET) {
        if (e == WALK_LEAF) {
            out->leaves++;
            depth_sum += (double)depth;
            continue;
        }
        if (e == WALK_BUCKET) {
            const art_bucket *b = AS_BUCKET(p);
            size_t n = b->count;
            out->buckets++;
            out->bucket_keys += n;
            out->bucket_spare +=
                art_bucket_bytes(b) - art_bucket_size(n, b->key_bytes);
            depth_sum += (double)depth * (double)n;
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
    size_t keys = out->leaves + out->node_values + out->bucket_keys;
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

/* A bucket of the tree: the container's invariants, and the tree's
   limits (a bucket is never empty: its last key takes it away). */
static const char *check_bucket(const art_tree *t, const art_bucket *b)
{
    const char *msg = art_bucket_check(b, art_bucket_bytes(b));
    if (msg)
        return msg;
    if (t->bucket_keys == 0)
        return "bucket in a tree without buckets";
    if (b->count == 0)
        return "empty bucket";
    if (b->count > t->bucket_keys || b->key_bytes > t->bucket_bytes)
        return "bucket over the tree's limits";
    for (unsigned i = 0; i < b->count; i++) {
        size_t len;
        art_bucket_suffix(b, i, &len);
        if (len > art__bucket_max_suffix(t))
            return "suffix too long for a bucket";
    }
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
        if (e == WALK_BUCKET) {
            const char *msg = check_bucket(t, AS_BUCKET(p));
            if (msg)
                INVALID(msg);
            keys += AS_BUCKET(p)->count;
            bytes += art_bucket_bytes(AS_BUCKET(p));
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
/* For art_file.c                                                      */
/* ------------------------------------------------------------------ */

const char *art__check_node(art_node *n)
{
    return check_node(n);
}
