/*
 * art_build.c -- a tree from keys in ascending order, made bottom up in
 * one pass (art_build_* in art.h).
 *
 * The keys arrive sorted, so the tree grows along its right edge.  The
 * nodes on the path of the previous key are open: levels[] holds each
 * one's depth (the byte its children branch on) and its value, and
 * children[] the subtrees already made below them, in key order.  The
 * previous key's own leaf is not made yet (`up`): where it hangs depends
 * on the next key.  A new key that shares l bytes with the previous one
 * closes every open node deeper than l, innermost first: `up` is made
 * and hung in the node, and the node, now complete, becomes `up` itself.
 * What is left over hangs at depth l, in the open node there or in a new
 * one.  A node is made once, knowing its children: its kind and size
 * follow from their count as inserts would have grown it, its prefix is
 * the previous key's bytes between its parent's depth and its own.
 * Children are made before their parents, in key order, so the blocks
 * lie in the order a walk visits them.  No recursion: levels[] is as deep
 * as the longest shared prefix, children[] holds at most 256 entries a
 * level.
 */
#include "art.h"

#include <string.h>

#include "art_internal.h"

void art_build_init(art_builder *b, art_tree *t)
{
    memset(b, 0, sizeof(*b));
    b->tree = t;
}

/*
 * With buckets: makes `up`, a node whose prefix would be prefix[0..plen),
 * one bucket instead when all its keys fit one (a subtree fits only if
 * each of its own subtrees does, so its children are then leaves and
 * buckets), as an insert would have kept them: the tree's shape does not
 * depend on the order of inserts.  Returns 1 with the bucket in *ref and
 * the children freed, 0 when they do not fit (the caller makes the node),
 * or ART_ENOMEM.
 */
static int make_bucket(art_builder *b, const uint8_t *prefix, size_t plen,
                       uintptr_t *ref)
{
    art_tree *t = b->tree;
    const art_build_level *u = &b->up;
    const art_build_child *ch = b->children + u->first;
    size_t c = b->nchildren - u->first, count = u->value != NULL, len;
    size_t bytes = u->value ? plen : 0, most = art__bucket_max_suffix(t);
    if (u->value && plen > most)
        return 0;
    for (size_t i = 0; i < c; i++) {
        if (IS_LEAF(ch[i].ref)) {
            len = plen + 1 + AS_LEAF(ch[i].ref)->len;
            if (len > most)
                return 0;
            count++;
            bytes += len;
        } else if (is_bucket(ch[i].ref)) {
            const art_bucket *bk = AS_BUCKET(ch[i].ref);
            for (unsigned j = 0; j < bk->count; j++) {
                art_bucket_suffix(bk, j, &len);
                if (plen + 1 + len > most)
                    return 0;
            }
            count += bk->count;
            bytes += bk->count * (plen + 1) + bk->key_bytes;
        } else {
            return 0;
        }
        if (count > t->bucket_keys || bytes > t->bucket_bytes)
            return 0;
    }
    /* Each child's suffixes get prefix + its byte in front. */
    uint8_t *heads = art__malloc(t, c * (plen + 1));
    art_bucket_entry *e = art__malloc(t, count * sizeof *e);
    art_bucket *made = NULL;
    if (heads && e) {
        size_t n = 0;
        if (u->value)
            e[n++] = (art_bucket_entry){prefix, plen, NULL, 0, u->value};
        for (size_t i = 0; i < c; i++) {
            uint8_t *h = heads + i * (plen + 1);
            if (plen)
                memcpy(h, prefix, plen);
            h[plen] = ch[i].byte;
            if (IS_LEAF(ch[i].ref)) {
                art_leaf *l = AS_LEAF(ch[i].ref);
                e[n++] = (art_bucket_entry){h, plen + 1, l->suffix, l->len,
                                            l->value};
                continue;
            }
            art_bucket *bk = AS_BUCKET(ch[i].ref);
            art__bucket_entries(bk, h, plen + 1, e + n);
            n += bk->count;
        }
        art_bucket_alloc a = art__bucket_alloc(t);
        made = art_bucket_make(&a, e, count);
    }
    art__free(heads);
    art__free(e);
    if (made == NULL)
        return ART_ENOMEM;
    for (size_t i = 0; i < c; i++)
        art__free_subtree(t, ch[i].ref);
    b->nchildren = u->first;
    *ref = TAG_NODE(made);
    return 1;
}

/*
 * Makes `up`, whose own bytes start at key[from] (its parent branches on
 * key[from - 1]; from is 0 for the root), and stores its reference in
 * *ref.  A node takes its children off the end of children[].
 */
static int make_up(art_builder *b, size_t from, uintptr_t *ref)
{
    art_tree *t = b->tree;
    const uint8_t *key = NONNULL_KEY(b->key); /* NULL while all were empty */
    if (!b->up_is_node) {
        art_leaf *l = art__alloc_leaf(t, key + from, b->key_len - from, NULL, 0,
                                      b->value);
        if (l == NULL)
            return ART_ENOMEM;
        *ref = TAG_LEAF(l);
        return ART_OK;
    }
    const art_build_level *u = &b->up;
    size_t c = b->nchildren - u->first;
    if (t->bucket_keys) {
        int r = make_bucket(b, key + from, u->depth - from, ref);
        if (r != 0)
            return r < 0 ? r : ART_OK;
    }
    int type, cap;
    art__kind_for(c, &type, &cap);
    art_node *n =
        art__alloc_node(t, type, cap, 0, u->value, key + from, u->depth - from);
    if (n == NULL)
        return ART_ENOMEM;
    const art_build_child *ch = b->children + u->first;
    for (size_t i = 0; i < c; i++) {
        switch (type) {
        case ART_NODE4:
        case ART_NODE16:
            small_keys(n)[i] = ch[i].byte;
            small_children(n)[i] = ch[i].ref;
            break;
        case ART_NODE48:
            n48_children(n)[i] = ch[i].ref;
            n48_index(n)[ch[i].byte] = (uint8_t)(i + 1);
            break;
        default:
            n256_children(n)[ch[i].byte] = ch[i].ref;
            break;
        }
    }
    n->num_children = (uint16_t)c;
    b->nchildren = u->first;
    *ref = TAG_NODE(n);
    return ART_OK;
}

/* Hangs `up` in the open node at depth d: as a child, or as its value
   when `up` is the leaf of a key of length d. */
static int hang_up(art_builder *b, art_build_level *at)
{
    size_t d = at->depth;
    if (!b->up_is_node && b->key_len == d) {
        at->value = b->value;
        return ART_OK;
    }
    if (art__grow(b->tree, (void **)&b->children, &b->children_cap,
                  b->nchildren + 1, sizeof(art_build_child)) < 0)
        return ART_ENOMEM;
    uintptr_t ref;
    if (make_up(b, d + 1, &ref) < 0)
        return ART_ENOMEM;
    b->children[b->nchildren].ref = ref;
    b->children[b->nchildren].byte = b->key[d];
    b->nchildren++;
    return ART_OK;
}

/* Closes the innermost open node: `up` hangs in it, and it becomes `up`. */
static int close_level(art_builder *b)
{
    art_build_level *at = &b->levels[b->nlevels - 1];
    if (hang_up(b, at) < 0)
        return ART_ENOMEM;
    b->up = *at;
    b->up_is_node = 1;
    b->nlevels--;
    return ART_OK;
}

int art_build_add(art_builder *b, const uint8_t *key, size_t len, void *value)
{
    art_tree *t = b->tree;
    if (b->failed || value == NULL || len > ART_MAX_KEY_LEN || t->root != 0 ||
        t->base != 0)
        return ART_EINVAL;
    key = NONNULL_KEY(key);
    if (b->count) {
        size_t l = common_len(b->key, b->key_len, key, len);
        if (l == len || (l < b->key_len && key[l] < b->key[l]))
            return ART_EINVAL; /* not after the previous key */
        if (art__grow(t, (void **)&b->key, &b->key_cap, len, 1) < 0)
            goto nomem;
        while (b->nlevels && b->levels[b->nlevels - 1].depth > l)
            if (close_level(b) < 0)
                goto nomem;
        if (b->nlevels == 0 || b->levels[b->nlevels - 1].depth < l) {
            /* The keys so far and this one part at l: a new node there,
               whose first child is what `up` becomes. */
            if (art__grow(t, (void **)&b->levels, &b->levels_cap,
                          b->nlevels + 1, sizeof(art_build_level)) < 0)
                goto nomem;
            art_build_level *at = &b->levels[b->nlevels++];
            at->depth = l;
            at->first = b->up_is_node ? b->up.first : b->nchildren;
            at->value = NULL;
        }
        if (hang_up(b, &b->levels[b->nlevels - 1]) < 0)
            goto nomem;
    } else if (art__grow(t, (void **)&b->key, &b->key_cap, len, 1) < 0) {
        goto nomem;
    }
    if (len)
        memcpy(b->key, key, len);
    b->key_len = len;
    b->value = value;
    b->up_is_node = 0;
    b->count++;
    if (len > b->longest)
        b->longest = len;
    return ART_OK;
nomem:
    b->failed = 1;
    return ART_ENOMEM;
}

static void free_buffers(art_builder *b)
{
    art__free(b->key);
    art__free(b->levels);
    art__free(b->children);
    art_build_init(b, b->tree);
}

int art_build_finish(art_builder *b)
{
    art_tree *t = b->tree;
    if (b->failed)
        return ART_EINVAL;
    if (b->count == 0) {
        free_buffers(b);
        return ART_OK;
    }
    while (b->nlevels)
        if (close_level(b) < 0)
            goto nomem;
    if (make_up(b, 0, &b->root) < 0)
        goto nomem;
    size_t longest = t->max_key_len;
    t->size = b->count;
    if (b->longest > t->max_key_len)
        t->max_key_len = b->longest;
    if (art__reserve_walk(t, 0) < 0) {
        t->size = 0;
        t->max_key_len = longest;
        goto nomem;
    }
    t->root = b->root;
    t->version++;
    free_buffers(b);
    return ART_OK;
nomem:
    b->failed = 1;
    return ART_ENOMEM;
}

void art_build_abort(art_builder *b)
{
    for (size_t i = 0; i < b->nchildren; i++)
        art__free_subtree(b->tree, b->children[i].ref);
    if (b->root)
        art__free_subtree(b->tree, b->root);
    /* The tree was empty when the build began: no block of its pages is
       in use, and they go back as a clear would return them. */
    art__alloc_release(b->tree);
    free_buffers(b);
}
