/*
 * test_random.c -- the randomized differential test: long seeded runs
 * of mixed operations against the model.
 * Part of the test_art binary (test_art.c runs it); see test_art.h.
 */
#include "test_art.h"

/* ------------------------------------------------------------------ */
/* Randomized differential test                                        */
/* ------------------------------------------------------------------ */

typedef struct {
    const rconf_t *cf;
    art_tree t;
    model m;
    long step;
    uintptr_t vnext;
    int draining, cycles;
    /* A cursor that keeps stepping while the tree changes under it. */
    art_cursor pc;
    uint8_t pck[RKEY_MAX];
    size_t pclen;
    int pc_on;
    /* A cursor for seeks and skips. */
    art_cursor sc;
    /* A fuzzy search that keeps going while the tree changes. */
    art_fuzzy fz;
    int fz_on, fz_any, fz_flags;
    uint32_t fz_d;
    uint32_t fzq[RKEY_MAX];
    size_t fzqn;
    uint8_t fzk[RKEY_MAX];
    size_t fzklen;
} rstate_t;

static void r_mutate(rstate_t *st)
{
    model *m = &st->m;
    uint8_t k[RKEY_MAX];
    size_t klen;
    int ins, r;
    void *old = VAL(777777), *want;
    const int fault = st->step % 7 == 6;

    if (!st->draining && m->n >= st->cf->fill_to) {
        st->draining = 1;
    } else if (st->draining &&
               m->n <= (st->cycles % 2 ? 0 : st->cf->fill_to / 10)) {
        st->draining = 0;
        st->cycles++;
    }
    ins = (int)rnd_below(100) < (st->draining ? 30 : 70);
    if (m->n && rnd_below(100) < (ins ? 20u : 80u)) {
        const model_entry *e = &m->a[rnd_below(m->n)];
        klen = e->len;
        memcpy(k, e->key, klen);
    } else {
        klen = gen_key(st->cf, st->cf->max_syms, k);
    }
    if (ins) {
        void *v = VAL(st->vnext++);
        if (fault) {
            mut_t op;
            op.is_delete = 0;
            op.key = k;
            op.len = klen;
            op.val = v;
            r = mutate_sweep(&st->t, m, &op, 1, NULL);
            old = op.old;
        } else {
            r = art_insert(&st->t, k, klen, v, &old);
        }
        want = model_put(m, k, klen, v);
        CHECK(r == (want ? 0 : 1));
        CHECK(old == want);
    } else {
        if (fault) {
            mut_t op;
            op.is_delete = 1;
            op.key = k;
            op.len = klen;
            op.val = NULL;
            r = mutate_sweep(&st->t, m, &op, 1, NULL);
            old = op.old;
        } else {
            r = art_delete(&st->t, k, klen, &old);
        }
        want = model_del(m, k, klen);
        CHECK(r == (want ? 1 : 0));
        if (want)
            CHECK(old == want);
    }
    if (g_test_failures)
        dump_key(ins ? "inserted" : "deleted", k, klen);
}

static void r_lookup(rstate_t *st)
{
    uint8_t k[RKEY_MAX];
    size_t klen = gen_key(st->cf, st->cf->max_syms + 1, k);
    model_entry *e;
    void **slot;

    if (st->m.n && rnd_below(2)) {
        e = &st->m.a[rnd_below(st->m.n)];
        klen = e->len;
        memcpy(k, e->key, klen);
    }
    e = model_find(&st->m, k, klen);
    CHECK(art_search(&st->t, k, klen) == (e ? e->val : NULL));
    slot = art_search_slot(&st->t, k, klen);
    if (!e) {
        CHECK(slot == NULL);
    } else if (CHECK(slot != NULL) && CHECK(*slot == e->val) &&
               rnd_below(8) == 0) {
        *slot = e->val = VAL(st->vnext++);
        CHECK(art_search(&st->t, k, klen) == e->val);
    }
}

static void r_seek(rstate_t *st)
{
    uint8_t k[RKEY_MAX];
    size_t klen = gen_target(st->cf, k), i;
    int mode, r;

    for (mode = ART_SEEK_GE; mode <= ART_SEEK_LT; mode++) {
        r = art_cursor_seek(&st->sc, k, klen, (art_seek_mode)mode);
        i = model_seek(&st->m, k, klen, (art_seek_mode)mode);
        if (!cursor_on(&st->sc, r, &st->m, i)) {
            dump_key("seek target", k, klen);
            return;
        }
        if (r != 1)
            continue;
        CHECK(st->sc.changed_from == 0);
        if (rnd_below(2))
            cursor_on(&st->sc, art_cursor_next(&st->sc), &st->m, i + 1);
        else
            cursor_on(&st->sc, art_cursor_prev(&st->sc), &st->m,
                      i ? i - 1 : st->m.n);
    }
}

static void r_skip(rstate_t *st)
{
    const model *m = &st->m;
    size_t i, j, n;
    int r;

    if (m->n == 0)
        return;
    i = rnd_below(m->n);
    if (i > 0 && rnd_below(2)) {
        /* arrive by a step rather than a seek */
        r = art_cursor_seek(&st->sc, m->a[i - 1].key, m->a[i - 1].len,
                            ART_SEEK_GE);
        if (!cursor_on(&st->sc, r, m, i - 1))
            return;
        r = art_cursor_next(&st->sc);
    } else {
        r = art_cursor_seek(&st->sc, m->a[i].key, m->a[i].len, ART_SEEK_GE);
    }
    if (!cursor_on(&st->sc, r, m, i))
        return;
    n = rnd_below(m->a[i].len + 1);
    r = art_cursor_skip(&st->sc, n);
    for (j = i + 1; j < m->n &&
                    model_starts_with(m->a[j].key, m->a[j].len, m->a[i].key, n);
         j++)
        ;
    if (!cursor_on(&st->sc, r, m, j)) {
        dump_key("skipped from", m->a[i].key, m->a[i].len);
        if (verbose())
            fprintf(stderr, "    n = %zu\n", n);
    }
}

static void r_prefix(rstate_t *st)
{
    uint8_t q[RKEY_MAX];
    size_t qlen = gen_key(st->cf, st->cf->max_syms + 2, q);
    size_t min_len = rnd_below(qlen + 2), l, fl = 12345;
    const model_entry *e = NULL;
    void *v;

    for (l = min_len; l <= qlen && !e; l++)
        e = model_find(&st->m, q, l);
    v = art_prefix_at_least(&st->t, q, qlen, min_len, &fl);
    if (e)
        CHECK(v == e->val && fl == e->len);
    else
        CHECK(v == NULL);

    e = NULL;
    for (l = qlen + 1; l-- > 0 && !e;)
        e = model_find(&st->m, q, l);
    fl = 12345;
    v = art_longest_prefix(&st->t, q, qlen, &fl);
    if (e)
        CHECK(v == e->val && fl == e->len);
    else
        CHECK(v == NULL);
    if (g_test_failures) {
        dump_key("prefix query", q, qlen);
        if (verbose())
            fprintf(stderr, "    min_len %zu\n", min_len);
    }
}

/* Weak consistency: whatever happened since, a step lands on the nearest
   key beyond the cursor's previous key. */
static void r_persistent_cursor(rstate_t *st)
{
    const model *m = &st->m;
    size_t want;
    int r, fwd = (int)rnd_below(2);

    if (rnd_below(40) == 0) {
        uint8_t k[RKEY_MAX];
        size_t klen = gen_target(st->cf, k);
        r = art_cursor_seek(&st->pc, k, klen, ART_SEEK_GE);
        want = model_seek(m, k, klen, ART_SEEK_GE);
    } else {
        if (!st->pc_on)
            want = fwd ? 0 : (m->n ? m->n - 1 : m->n);
        else
            want = model_seek(m, st->pck, st->pclen,
                              fwd ? ART_SEEK_GT : ART_SEEK_LT);
        r = fwd ? art_cursor_next(&st->pc) : art_cursor_prev(&st->pc);
    }
    if (!cursor_on(&st->pc, r, m, want)) {
        if (st->pc_on)
            dump_key(fwd ? "stepped forward from" : "stepped back from",
                     st->pck, st->pclen);
        return;
    }
    if (r == 1) {
        if (st->pc_on)
            CHECK(st->pc.changed_from <=
                  common_len(st->pck, st->pclen, st->pc.key, st->pc.key_len));
        st->pclen = st->pc.key_len;
        copy_key(st->pck, st->pc.key, st->pclen);
    }
    st->pc_on = r == 1;
}

/* The fuzzy search's variants, each half of the time. */
static int variant_flags(void)
{
    return (rnd_below(2) ? ART_FUZZY_TRANSPOSE : 0) |
           (rnd_below(2) ? ART_FUZZY_PREFIX : 0);
}

static void r_persistent_fuzzy(rstate_t *st)
{
    const model *m = &st->m;
    uint32_t dist = 0;
    size_t want;
    int r;

    if (!st->fz_on) {
        uint8_t q[RKEY_MAX];
        size_t qlen;
        if (st->step % 11 != 0)
            return;
        qlen = gen_key(st->cf, st->cf->max_syms + 1, q);
        st->fz_d = (uint32_t)rnd_below(st->cf->max_d + 1);
        st->fz_flags = (st->cf->utf8 && rnd_below(4) != 0) | variant_flags();
        st->fzqn =
            model_symbols(q, qlen, st->fz_flags & ART_FUZZY_UTF8, st->fzq);
        if (!CHECK(art_fuzzy_init(&st->fz, &st->t, q, qlen, st->fz_d,
                                  st->fz_flags) == ART_OK))
            return;
        st->fz_on = 1;
        st->fz_any = 0;
        return;
    }
    want = st->fz_any ? model_seek(m, st->fzk, st->fzklen, ART_SEEK_GT) : 0;
    want = model_next_match(m, want, st->fzq, st->fzqn, st->fz_d, st->fz_flags,
                            &dist);
    r = art_fuzzy_next(&st->fz);
    if (want == m->n) {
        CHECK(r == 0);
        art_fuzzy_free(&st->fz);
        st->fz_on = 0;
        return;
    }
    if (!CHECK(r == 1) ||
        !CHECK(model_key_eq(st->fz.cursor.key, st->fz.cursor.key_len,
                            m->a[want].key, m->a[want].len)) ||
        !CHECK(st->fz.distance == dist)) {
        if (r == 1)
            dump_key("fuzzy found", st->fz.cursor.key, st->fz.cursor.key_len);
        dump_key("expected", m->a[want].key, m->a[want].len);
        return;
    }
    st->fz_any = 1;
    st->fzklen = st->fz.cursor.key_len;
    copy_key(st->fzk, st->fz.cursor.key, st->fzklen);
}

static void r_fuzzy_full(rstate_t *st)
{
    uint8_t q[RKEY_MAX];
    size_t qlen = gen_key(st->cf, st->cf->max_syms + 1, q);
    int flags = (st->cf->utf8 && rnd_below(4) != 0) | variant_flags();
    /* Now and then a bound beyond any key: every key matches. */
    uint32_t d = rnd_below(16) == 0 ? UINT32_MAX
                                    : (uint32_t)rnd_below(st->cf->max_d + 1);
    fuzzy_matches(&st->t, &st->m, q, qlen, d, flags);
}

/* Allocation failures in the operations that do not change the tree. */
static void r_fault_other(rstate_t *st)
{
    uint8_t k[RKEY_MAX];
    size_t klen;
    switch ((st->step / 7) % 3) {
    case 0:
        klen = gen_target(st->cf, k);
        seek_sweep(&st->t, &st->m, k, klen, (art_seek_mode)rnd_below(4));
        break;
    case 1:
        klen = gen_key(st->cf, st->cf->max_syms, k);
        fuzzy_init_sweep(&st->t, &st->m, k, klen,
                         (uint32_t)rnd_below(st->cf->max_d + 1),
                         (st->cf->utf8 && rnd_below(2)) | variant_flags());
        break;
    default:
        if (st->m.n <= 60)
            copy_sweep(&st->t, &st->m);
        else
            copy_once(&st->t, &st->m, 1 + (long)rnd_below(st->m.n * 2));
        break;
    }
}

static void r_foreach(rstate_t *st)
{
    visit_t v;
    v.m = &st->m;
    v.seen = 0;
    v.stop_after = 0;
    v.in_order = 1;
    CHECK(art_foreach(&st->t, visit_in_order, &v) == 0);
    CHECK(v.seen == st->m.n && v.in_order);
}

static void random_test(const rconf_t *cf)
{
    rstate_t *st = xmalloc(sizeof *st);
    tally_t tc = {0, 0};

    memset(st, 0, sizeof *st);
    st->cf = cf;
    st->vnext = 1;
    art_tree_init(&st->t);
    art_cursor_init(&st->pc, &st->t);
    art_cursor_init(&st->sc, &st->t);
    for (st->step = 0; st->step < cf->steps && !g_test_failures; st->step++) {
        const long s = st->step;
        snprintf(g_ctx, sizeof g_ctx, "%s seed=%llu step=%ld", cf->name, g_seed,
                 s);
        r_mutate(st);
        if (!CHECK(valid(&st->t)) || !CHECK(st->t.size == st->m.n))
            break;
        r_lookup(st);
        r_seek(st);
        r_persistent_cursor(st);
        r_persistent_fuzzy(st);
        if (s % 3 == 0) {
            r_skip(st);
            r_prefix(st);
        }
        if (s % cf->fuzzy_every == 0)
            r_fuzzy_full(st);
        if (s % 7 == 3)
            r_fault_other(st);
        if (s % 97 == 0) {
            tree_matches(&st->t, &st->m);
            stats_consistent(&st->t);
        }
        if (s % 499 == 0)
            r_foreach(st);
        if (s % 1999 == 1000)
            copy_once(&st->t, &st->m, 0);
    }
    if (!g_test_failures) {
        g_ctx[0] = '\0';
        CHECK(tree_matches(&st->t, &st->m));
    }
    if (st->fz_on)
        art_fuzzy_free(&st->fz);
    art_cursor_free(&st->pc);
    art_cursor_free(&st->sc);
    art_tree_clear(&st->t, tally_value, &tc);
    CHECK(tc.calls == st->m.n);
    CHECK(tc.sum == model_value_sum(&st->m));
    model_free(&st->m);
    free(st);
}

void test_random_small_alphabet(void)
{
    /* Four symbols, keys up to six long: prefixes collide constantly. */
    const rconf_t cf = {.name = "small",
                        .syms = g_syms_small,
                        .nsyms = 4,
                        .max_syms = 6,
                        .steps = 80000,
                        .fill_to = 250,
                        .max_d = 3,
                        .fuzzy_every = 8};
    random_test(&cf);
}

void test_random_wide_alphabet(void)
{
    /* 64 symbols with three favoured first bytes: every node kind, with
       growth and shrinkage as the tree fills and drains. */
    const rconf_t cf = {.name = "wide",
                        .syms = g_syms_wide,
                        .nsyms = 64,
                        .hot = g_hot_wide,
                        .nhot = 3,
                        .max_syms = 3,
                        .steps = 40000,
                        .fill_to = 1500,
                        .max_d = 2,
                        .fuzzy_every = 40};
    random_test(&cf);
}

void test_random_utf8(void)
{
    const rconf_t cf = {.name = "utf8",
                        .syms = g_syms_utf8,
                        .nsyms = 7,
                        .max_syms = 4,
                        .utf8 = 1,
                        .steps = 50000,
                        .fill_to = 250,
                        .max_d = 3,
                        .fuzzy_every = 8};
    random_test(&cf);
}
