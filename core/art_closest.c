/*
 * art_closest.c -- the n keys closest to a query (art.h): fuzzy searches
 * of growing bound, each finding only what the ones before could not.
 *
 * A level searches with bound hi the keys at distances lo..hi, the keys
 * nearer than lo being known from the levels before (fewer than n of
 * them, or the search would have stopped).  While hi = lo, the level's
 * keys all have the same distance and arrive in key order, so it stops as
 * soon as the n best are complete: the ones from before, then the first
 * of its own.  Past SINGLE_STEPS the bound doubles instead, so that a
 * query far from every key takes a logarithmic number of levels; such a
 * level keeps its keys of distance lo..hi, sorts them by (distance, key)
 * and keeps the n best whenever it holds max(n, 64) more than n, and at
 * its end, so that memory stays O(n) whatever the tree.
 */
#include "art.h"

#include <string.h>

#include "art_internal.h"

/* Levels that raise the bound by one before it starts doubling. */
#define SINGLE_STEPS 8

int art_closest_init(art_closest *c, art_tree *t, const uint8_t *query,
                     size_t len, size_t n, uint32_t max_distance, int flags)
{
    memset(c, 0, sizeof(*c));
    c->tree = t;
    c->n = n;
    c->max_distance = max_distance < ART_FUZZY_MAX_DISTANCE
                          ? max_distance
                          : ART_FUZZY_MAX_DISTANCE;
    c->flags = flags;
    c->slice = ART_FUZZY_SLICE;
    c->query = art__malloc(t, len ? len : 1);
    if (c->query == NULL)
        return ART_ENOMEM;
    if (len)
        memcpy(c->query, query, len);
    c->qlen = len;
    return ART_OK;
}

void art_closest_free(art_closest *c)
{
    if (c->walking)
        art_fuzzy_free(&c->walk);
    c->walking = 0;
    art__free(c->query);
    art__free(c->hits);
    art__free(c->keys);
    c->query = NULL;
    c->hits = NULL;
    c->keys = NULL;
    c->nhits = c->hits_cap = c->keys_len = c->keys_cap = 0;
}

const uint8_t *art_closest_key(const art_closest *c, size_t i, size_t *len)
{
    *len = c->hits[i].key_len;
    return c->keys + c->hits[i].key_at;
}

/* Orders hits by distance, then key. */
static int hit_cmp(const art_closest *c, const art_closest_hit *a,
                   const art_closest_hit *b)
{
    if (a->distance != b->distance)
        return a->distance < b->distance ? -1 : 1;
    size_t n = a->key_len < b->key_len ? a->key_len : b->key_len;
    int r = n ? memcmp(c->keys + a->key_at, c->keys + b->key_at, n) : 0;
    if (r)
        return r;
    return a->key_len < b->key_len ? -1 : a->key_len > b->key_len;
}

/* Moves hit i down the max-heap hits[0..n) to its place. */
static void sift_down(art_closest *c, size_t i, size_t n)
{
    art_closest_hit *h = c->hits;
    for (;;) {
        size_t big = i, l = 2 * i + 1, r = l + 1;
        if (l < n && hit_cmp(c, &h[l], &h[big]) > 0)
            big = l;
        if (r < n && hit_cmp(c, &h[r], &h[big]) > 0)
            big = r;
        if (big == i)
            return;
        art_closest_hit tmp = h[i];
        h[i] = h[big];
        h[big] = tmp;
        i = big;
    }
}

/* Sorts the hits (heapsort: no recursion), keeps the n best and moves
   their keys into a buffer of their own.  ART_OK or ART_ENOMEM (the hits
   are then sorted and the n best kept, their keys where they were). */
static int keep_best(art_closest *c)
{
    art_closest_hit *h = c->hits;
    size_t n = c->nhits;
    for (size_t i = n / 2; i-- > 0;)
        sift_down(c, i, n);
    for (size_t end = n; end > 1; end--) {
        art_closest_hit tmp = h[0];
        h[0] = h[end - 1];
        h[end - 1] = tmp;
        sift_down(c, 0, end - 1);
    }
    if (c->nhits > c->n)
        c->nhits = c->n;
    size_t bytes = 0;
    for (size_t i = 0; i < c->nhits; i++)
        bytes += h[i].key_len;
    if (bytes == c->keys_len)
        return ART_OK; /* nothing was dropped */
    uint8_t *keys = art__malloc(c->tree, bytes + 1);
    if (keys == NULL)
        return ART_ENOMEM;
    size_t at = 0;
    for (size_t i = 0; i < c->nhits; i++) {
        if (h[i].key_len)
            memcpy(keys + at, c->keys + h[i].key_at, h[i].key_len);
        h[i].key_at = at;
        at += h[i].key_len;
    }
    art__free(c->keys);
    c->keys = keys;
    c->keys_cap = bytes + 1;
    c->keys_len = bytes;
    return ART_OK;
}

/* Appends the key at the walk's position with its distance. */
static int add_hit(art_closest *c)
{
    const art_cursor *cur = &c->walk.cursor;
    if (art__grow(c->tree, (void **)&c->hits, &c->hits_cap, c->nhits + 1,
                  sizeof(art_closest_hit)) < 0)
        return ART_ENOMEM;
    /* One byte more than the keys need: the buffer exists even when every
       key is empty. */
    if (cur->key_len >= SIZE_MAX - c->keys_len ||
        art__grow(c->tree, (void **)&c->keys, &c->keys_cap,
                  c->keys_len + cur->key_len + 1, 1) < 0)
        return ART_ENOMEM;
    art_closest_hit *h = &c->hits[c->nhits++];
    h->key_at = c->keys_len;
    h->key_len = cur->key_len;
    h->distance = c->walk.distance;
    h->value = NULL;
    if (cur->key_len)
        memcpy(c->keys + c->keys_len, cur->key, cur->key_len);
    c->keys_len += cur->key_len;
    return ART_OK;
}

/* Starts the level after the one that ended with bound c->hi. */
static int next_level(art_closest *c)
{
    uint32_t lo = c->started ? c->hi + 1 : 0, hi = lo;
    if (lo >= SINGLE_STEPS)
        hi = lo > c->max_distance / 2 ? c->max_distance : 2 * lo;
    if (hi > c->max_distance)
        hi = c->max_distance;
    if (c->walking)
        art_fuzzy_free(&c->walk);
    c->walking = 0;
    int r = art_fuzzy_init(&c->walk, c->tree, c->query, c->qlen, hi, c->flags);
    if (r < 0) {
        art_fuzzy_free(&c->walk);
        return r;
    }
    c->walk.slice = c->slice;
    c->walking = 1;
    c->started = 1;
    c->lo = lo;
    c->hi = hi;
    c->before = c->nhits;
    return ART_OK;
}

/* Forgets everything found: the tree changed between two calls. */
static void restart(art_closest *c)
{
    if (c->walking)
        art_fuzzy_free(&c->walk);
    c->walking = c->started = 0;
    c->nhits = c->keys_len = c->found = 0;
}

/* The last step: the values of the keys kept, as the tree holds them. */
static int finish(art_closest *c)
{
    if (c->walking)
        art_fuzzy_free(&c->walk);
    c->walking = 0;
    for (size_t i = 0; i < c->nhits; i++) {
        size_t len;
        const uint8_t *k = art_closest_key(c, i, &len);
        c->hits[i].value = art_search(c->tree, k, len);
    }
    c->done = 1;
    return ART_OK;
}

int art_closest_run(art_closest *c)
{
    if (c->done)
        return ART_OK;
    if (c->started && c->version != c->tree->version)
        restart(c);
    c->version = c->tree->version;
    if (c->n == 0 || c->tree->size == 0)
        return finish(c);
    if (!c->started) {
        int r = next_level(c);
        if (r < 0)
            return r;
    }
    for (;;) {
        int r = art_fuzzy_next(&c->walk);
        if (r == ART_EAGAIN || r == ART_ENOMEM)
            return r;
        if (r == 1) {
            if (c->walk.distance < c->lo)
                continue; /* found by a level before */
            c->found++;
            if ((r = add_hit(c)) < 0)
                return r;
            if (c->lo == c->hi) {
                if (c->nhits == c->n)
                    return finish(c);
            } else if (c->nhits > c->n &&
                       c->nhits - c->n >= (c->n > 64 ? c->n : 64) &&
                       (r = keep_best(c)) < 0) {
                return r; /* more than n to spare (never with n >= size) */
            }
            continue;
        }
        /* The level is done: every key within hi is known. */
        if (c->lo != c->hi && (r = keep_best(c)) < 0)
            return r;
        c->found += c->before; /* keys nearer than lo, counted again */
        if (c->nhits >= c->n || c->hi >= c->max_distance ||
            c->found >= c->tree->size)
            return finish(c);
        c->found = 0;
        if ((r = next_level(c)) < 0)
            return r;
    }
}
