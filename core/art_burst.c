/*
 * art_burst.c -- the tree's side of bucket nodes (art_bucket.h is the
 * container): where bucket blocks come from, the subtree that a run of
 * sorted suffixes makes (a bucket when it fits the tree's limits, else an
 * inner node over smaller runs), which is what an insert that bursts a
 * bucket or meets a leaf builds, and the merge of a one-way inner node
 * into the bucket below it when a delete leaves one.
 *
 * Every function here is all or nothing: it allocates everything first
 * and links nothing into the tree; the caller links the result in and
 * frees what it replaces.  docs/buckets.md says why the limits are what
 * they are.
 */
#include "art.h"

#include <stdint.h>
#include <string.h>

#include "art_internal.h"

/* ------------------------------------------------------------------ */
/* Blocks                                                              */
/* ------------------------------------------------------------------ */

static void *bucket_block_alloc(void *ctx, size_t size)
{
    art_tree *t = ctx;
    void *p = art__heap_block_alloc(t, size);
    if (p)
        t->bytes += size;
    return p;
}

static void bucket_block_free(void *ctx, void *p, size_t size)
{
    art_tree *t = ctx;
    t->bytes -= size;
    art__heap_block_free(t, p, size);
}

art_bucket_alloc art__bucket_alloc(art_tree *t)
{
    art_bucket_alloc a = {bucket_block_alloc, bucket_block_free, t};
    return a;
}

void art__bucket_free(art_tree *t, art_bucket *b)
{
    bucket_block_free(t, b, art_bucket_bytes(b));
}

void art__bucket_entries(const art_bucket *b, const uint8_t *head, size_t hlen,
                         art_bucket_entry *e)
{
    void **values = art_bucket_values((art_bucket *)(uintptr_t)b);
    for (unsigned i = 0; i < b->count; i++) {
        e[i].a = head;
        e[i].na = hlen;
        e[i].b = art_bucket_suffix(b, i, &e[i].nb);
        e[i].value = values[i];
    }
}

/* ------------------------------------------------------------------ */
/* Subtrees from sorted suffixes                                       */
/* ------------------------------------------------------------------ */

/* Whether the suffixes of e[lo..hi) from offset off make one bucket. */
static int fits(const art_tree *t, const art_span *e, size_t lo, size_t hi,
                size_t off)
{
    size_t bytes = 0, most = art__bucket_max_suffix(t);
    if (hi - lo > t->bucket_keys)
        return 0;
    for (size_t i = lo; i < hi; i++) {
        size_t n = e[i].len - off;
        if (n > most || n > t->bucket_bytes - bytes)
            return 0;
        bytes += n;
    }
    return 1;
}

/*
 * Adds a child slot for byte c to n, a node made for these children that
 * are added in ascending order of byte, and returns its address (the slot
 * holds 0 until the child is made).
 */
static uintptr_t *append_slot(art_node *n, uint8_t c)
{
    int i = n->num_children++;
    switch (n->type) {
    case ART_NODE4:
    case ART_NODE16:
        small_keys(n)[i] = c;
        return &small_children(n)[i];
    case ART_NODE48:
        n48_index(n)[c] = (uint8_t)(i + 1);
        return &n48_children(n)[i];
    default:
        return &n256_children(n)[c];
    }
}

/* A run of entries still to be made, and the slot it goes into. */
typedef struct pending {
    uintptr_t *slot;
    size_t lo, hi, off;
} pending;

int art__build_subtree(art_tree *t, const art_span *e, size_t n, uintptr_t *out)
{
    pending first[16], *stack = first;
    size_t sp = 0, cap = sizeof first / sizeof first[0], ents_cap = 0;
    art_bucket_entry *ents = NULL;
    art_bucket_alloc a = art__bucket_alloc(t);
    *out = 0;
    stack[sp++] = (pending){out, 0, n, 0};
    while (sp) {
        pending p = stack[--sp];
        const art_span *f = &e[p.lo];
        if (p.hi - p.lo == 1) {
            art_leaf *l = art__alloc_leaf(t, f->s + p.off, f->len - p.off, NULL,
                                          0, f->value);
            if (l == NULL)
                goto fail;
            *p.slot = TAG_LEAF(l);
            continue;
        }
        if (t->bucket_keys && fits(t, e, p.lo, p.hi, p.off)) {
            size_t count = p.hi - p.lo;
            if (art__grow(t, (void **)&ents, &ents_cap, count, sizeof *ents) <
                0)
                goto fail;
            for (size_t i = 0; i < count; i++)
                ents[i] = (art_bucket_entry){e[p.lo + i].s + p.off,
                                             e[p.lo + i].len - p.off, NULL, 0,
                                             e[p.lo + i].value};
            art_bucket *b = art_bucket_make(&a, ents, count);
            if (b == NULL)
                goto fail;
            *p.slot = TAG_NODE(b);
            continue;
        }
        /* An inner node: the common prefix of the run (that of its first
           and last suffix, as they are sorted), a value slot for the one
           that ends there, a child for each next byte. */
        const art_span *l = &e[p.hi - 1];
        size_t m = common_len(f->s + p.off, f->len - p.off, l->s + p.off,
                              l->len - p.off);
        size_t lo = p.lo, at = p.off + m, groups = 0;
        void *value = NULL;
        if (f->len == at) {
            value = f->value;
            lo++;
        }
        for (size_t i = lo; i < p.hi; i++)
            groups += i == lo || e[i].s[at] != e[i - 1].s[at];
        int type, kcap;
        art__kind_for(groups, &type, &kcap);
        art_node *node =
            art__alloc_node(t, type, kcap, 0, value, f->s + p.off, m);
        if (node == NULL)
            goto fail;
        *p.slot = TAG_NODE(node);
        if (sp + groups > cap) {
            size_t ncap = 2 * (sp + groups);
            pending *s = art__malloc(t, ncap * sizeof *s);
            if (s == NULL)
                goto fail;
            memcpy(s, stack, sp * sizeof *s);
            if (stack != first)
                art__free(stack);
            stack = s;
            cap = ncap;
        }
        /* Pushed last first, so that they are made in key order. */
        size_t top = sp + groups, end = p.hi;
        sp = top;
        for (size_t i = p.hi; i-- > lo;)
            if (i == lo || e[i].s[at] != e[i - 1].s[at]) {
                stack[--top] = (pending){NULL, i, end, at + 1};
                end = i;
            }
        for (size_t g = top; g < sp; g++)
            stack[g].slot = append_slot(node, e[stack[g].lo].s[at]);
        /* Made from the stack's top down: reverse so the first is on top. */
        for (size_t i = top, j = sp - 1; i < j; i++, j--) {
            pending x = stack[i];
            stack[i] = stack[j];
            stack[j] = x;
        }
    }
    if (stack != first)
        art__free(stack);
    art__free(ents);
    return ART_OK;
fail:
    if (stack != first)
        art__free(stack);
    art__free(ents);
    art__free_subtree(t, *out);
    *out = 0;
    return ART_ENOMEM;
}

/* ------------------------------------------------------------------ */
/* Insert below a leaf or into a bucket                                */
/* ------------------------------------------------------------------ */

int art__bucket_insert(art_tree *t, uintptr_t *ref, const uint8_t *s,
                       size_t len, void *value, void **old)
{
    uintptr_t p = *ref;
    art_bucket_alloc a = art__bucket_alloc(t);
    art_span two[2], *spans = two;
    size_t n;
    if (IS_LEAF(p)) {
        art_leaf *l = AS_LEAF(p);
        int cmp = art_key_compare(l->suffix, l->len, s, len);
        if (cmp == 0) {
            if (old)
                *old = l->value;
            l->value = value;
            return 0;
        }
        two[cmp < 0] = (art_span){s, len, value};
        two[cmp > 0] = (art_span){l->suffix, l->len, l->value};
        n = 2;
    } else {
        art_bucket *b = AS_BUCKET(p);
        int exact;
        unsigned i = art_bucket_lower_bound(b, s, len, &exact);
        if (exact) {
            void **slot = &art_bucket_values(b)[i];
            if (old)
                *old = *slot;
            *slot = value;
            return 0;
        }
        if (len <= art__bucket_max_suffix(t)) {
            art_bucket_limits lim = {t->bucket_keys, t->bucket_bytes};
            int r = art_bucket_insert_at(&a, &b, i, s, len, value, &lim);
            if (r == 1)
                *ref = TAG_NODE(b);
            if (r != ART_BUCKET_FULL)
                return r;
        }
        /* Burst: the bucket's suffixes and the new one make a subtree. */
        n = (size_t)b->count + 1;
        spans = art__malloc(t, n * sizeof *spans);
        if (spans == NULL)
            return ART_ENOMEM;
        void **values = art_bucket_values(b);
        for (unsigned j = 0, k = 0; k < n; k++) {
            if (k == i) {
                spans[k] = (art_span){s, len, value};
                continue;
            }
            spans[k].s = art_bucket_suffix(b, j, &spans[k].len);
            spans[k].value = values[j++];
        }
    }
    uintptr_t sub;
    int r = art__build_subtree(t, spans, n, &sub);
    if (spans != two)
        art__free(spans);
    if (r < 0)
        return r;
    *ref = sub;
    if (IS_LEAF(p)) {
        size_t size = leaf_size(AS_LEAF(p)->len);
        t->bytes -= size;
        art__block_free(t, AS_LEAF(p), size);
    } else {
        art__bucket_free(t, AS_BUCKET(p));
    }
    return 1;
}

/* ------------------------------------------------------------------ */
/* Merge                                                               */
/* ------------------------------------------------------------------ */

int art__bucket_prepend(art_tree *t, const uint8_t *prefix, size_t plen,
                        uint8_t byte, const art_bucket *b, uintptr_t *out)
{
    size_t count = b->count, most = art__bucket_max_suffix(t), add = plen + 1;
    size_t longest = 0, len;
    void **values = art_bucket_values((art_bucket *)b);
    for (unsigned i = 0; i < count; i++) {
        art_bucket_suffix(b, i, &len);
        if (len > longest)
            longest = len;
    }
    if (add > most || longest > most - add || b->key_bytes > t->bucket_bytes ||
        count * add > t->bucket_bytes - b->key_bytes) {
        /* Too big for one bucket: the whole keys, built as an insert
           would have left them. */
        if (count > (SIZE_MAX - b->key_bytes) / add)
            return ART_ENOMEM;
        uint8_t *keys = art__malloc(t, count * add + b->key_bytes);
        art_span *spans = art__malloc(t, count * sizeof *spans);
        int r = ART_ENOMEM;
        if (keys && spans) {
            uint8_t *at = keys;
            for (unsigned i = 0; i < count; i++) {
                const uint8_t *s = art_bucket_suffix(b, i, &len);
                spans[i] = (art_span){at, add + len, values[i]};
                memcpy(at, prefix, plen);
                at[plen] = byte;
                if (len)
                    memcpy(at + add, s, len);
                at += add + len;
            }
            r = art__build_subtree(t, spans, count, out);
        }
        art__free(keys);
        art__free(spans);
        return r;
    }
    uint8_t *head = art__malloc(t, add);
    art_bucket_entry *ents = art__malloc(t, count * sizeof *ents);
    art_bucket *nb = NULL;
    if (head && ents) {
        memcpy(head, prefix, plen);
        head[plen] = byte;
        art__bucket_entries(b, head, add, ents);
        art_bucket_alloc a = art__bucket_alloc(t);
        nb = art_bucket_make(&a, ents, count);
    }
    art__free(head);
    art__free(ents);
    if (nb == NULL)
        return ART_ENOMEM;
    *out = TAG_NODE(nb);
    return ART_OK;
}
