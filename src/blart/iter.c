/*
 * iter.c -- TreeMapIterator: one iterator type over an art_cursor behind
 * every iteration (keys, values, items, reversed, prefix_iter, range,
 * fuzzy_search, prefixes), each a different start, stop test and yield
 * kind (IterObject, _blart.h).  The queries that make one and set its
 * start and stop are in queries.c; the views that make one, in views.c.
 *
 * Weakly consistent: after the map changed, the cursor re-seeks past the
 * last key yielded (art.h), so an iterator never holds a stale pointer.
 */
#include "_blart.h"

IterObject *blart_iter_new(MapObject *m, int yield, int reverse)
{
    IterObject *it = PyObject_GC_New(IterObject, m->state->Iter_Type);
    if (it == NULL)
        return NULL;
    Py_INCREF(m);
    it->map = m;
    memset(&it->walk, 0, sizeof(it->walk));
    art_cursor_init(&it->walk.cursor, &m->tree);
    it->yield = yield;
    it->reverse = reverse;
    it->state = ITER_FRESH;
    it->busy = 0;
    it->start = START_EDGE;
    it->start_mode = ART_SEEK_GE;
    it->stop = STOP_NONE;
    it->stop_inclusive = 0;
    it->start_key = it->stop_key = NULL;
    it->start_len = it->stop_len = 0;
    it->prefix_min = it->prefix_len = 0;
    it->prefix_value = NULL;
    it->pair = NULL;
    PyObject_GC_Track(it);
    return it;
}

/* Whether the key the cursor reached lies beyond the iteration's end. */
static int past_stop(IterObject *it)
{
    const art_cursor *c = &it->walk.cursor;
    if (it->stop == STOP_PREFIX)
        return c->key_len < it->stop_len ||
               /* The key before had the prefix; changed_from says whether
                  this one may differ from it within the prefix. */
               (c->changed_from < it->stop_len &&
                memcmp(c->key, it->stop_key, it->stop_len) != 0);
    int cmp = art_key_compare(c->key, c->key_len, it->stop_key, it->stop_len);
    if (cmp == 0)
        return !it->stop_inclusive;
    return it->reverse ? cmp < 0 : cmp > 0;
}

static void iter_finish(IterObject *it)
{
    it->state = ITER_DONE;
    art_fuzzy_free(&it->walk);
}

/* Moves to the next key to yield: 1, 0 when exhausted, -1 on error. */
static int iter_step(IterObject *it)
{
    art_cursor *c = &it->walk.cursor;
    int r;
    if (it->state == ITER_DONE)
        return 0;
    if (it->yield == YIELD_PREFIXES) {
        it->prefix_value =
            art_prefix_at_least(&it->map->tree, it->start_key, it->start_len,
                                it->prefix_min, &it->prefix_len);
        if (it->prefix_value == NULL) {
            iter_finish(it);
            return 0;
        }
        it->state = ITER_RUNNING;
        it->prefix_min = it->prefix_len + 1;
        return 1;
    }
    if (it->yield == YIELD_FUZZY) {
        /* A long walk comes back in slices: signals are seen in between
           (a KeyboardInterrupt leaves the map and the iterator as they
           were, and the walk can go on). */
        while ((r = art_fuzzy_next(&it->walk)) == ART_EAGAIN)
            if (PyErr_CheckSignals() < 0)
                return -1;
    } else if (it->state == ITER_RUNNING)
        r = it->reverse ? art_cursor_prev(c) : art_cursor_next(c);
    else if (it->start == START_SEEK)
        r = art_cursor_seek(c, it->start_key, it->start_len, it->start_mode);
    else
        r = it->reverse ? art_cursor_last(c) : art_cursor_first(c);
    it->state = ITER_RUNNING;
    if (r > 0 && it->stop != STOP_NONE && past_stop(it))
        r = 0;
    if (r <= 0) {
        iter_finish(it);
        if (r < 0) {
            PyErr_NoMemory();
            return -1;
        }
    }
    return r;
}

PyObject *blart_iter_next(IterObject *it)
{
    if (it->busy) {
        PyErr_SetString(PyExc_RuntimeError, "iterator already executing");
        return NULL;
    }
    it->busy = 1;
    PyObject *res = NULL;
    if (iter_step(it) <= 0)
        goto done;
    art_cursor *c = &it->walk.cursor;
    MapObject *m = it->map;
    const uint8_t *kp = c->key;
    size_t kn = c->key_len;
    void *raw;
    if (it->yield == YIELD_PREFIXES) {
        kp = it->start_key;
        kn = it->prefix_len;
        raw = it->prefix_value;
    } else {
        raw = art_cursor_value(c);
    }
    if (it->yield == YIELD_KEYS) {
        res = blart_key_new(m, kp, kn);
        goto done;
    }
    /* Own the value before making objects: the GC may run finalizers. */
    PyObject *v = value_get(m, raw);
    if (v == NULL)
        goto done;
    if (it->yield == YIELD_VALUES) {
        res = v;
        goto done;
    }
    unsigned long distance = it->walk.distance;
    PyObject *k = blart_key_new(m, kp, kn);
    if (k == NULL) {
        Py_DECREF(v);
        goto done;
    }
    if (it->yield != YIELD_FUZZY) {
        res = it->pair;
        if (res && Py_REFCNT(res) == 1) {
            /* Nobody kept the last pair: reuse it, as dict's items
               iterator does, instead of allocating a tuple per item. */
            PyObject *old_k = PyTuple_GET_ITEM(res, 0);
            PyObject *old_v = PyTuple_GET_ITEM(res, 1);
            PyTuple_SET_ITEM(res, 0, k);
            PyTuple_SET_ITEM(res, 1, v);
#if PY_VERSION_HEX >= 0x030E0000
            /* 3.14 caches a tuple's hash in the tuple: the old pair's
               would make the new one a stranger to every set and dict. */
            ((PyTupleObject *)res)->ob_hash = -1;
#endif
            Py_INCREF(res);
            /* The GC may have untracked it while it held only atoms. */
            if (!PyObject_GC_IsTracked(res))
                PyObject_GC_Track(res);
            Py_DECREF(old_k);
            Py_DECREF(old_v);
            goto done;
        }
        res = PyTuple_New(2);
        if (res) {
            PyTuple_SET_ITEM(res, 0, k);
            PyTuple_SET_ITEM(res, 1, v);
            Py_INCREF(res);
            Py_XSETREF(it->pair, res);
            goto done;
        }
    } else {
        PyObject *d = PyLong_FromUnsignedLong(distance);
        res = d ? PyTuple_New(3) : NULL;
        if (res) {
            PyTuple_SET_ITEM(res, 0, k);
            PyTuple_SET_ITEM(res, 1, v);
            PyTuple_SET_ITEM(res, 2, d);
            goto done;
        }
        Py_XDECREF(d);
    }
    Py_DECREF(k);
    Py_DECREF(v);
done:
    it->busy = 0;
    return res;
}

/*
 * Iterators and views never drop their map in tp_clear: every reference
 * cycle through the map runs through a map, whose tp_clear breaks it, so
 * their map pointer is never NULL while they live.  An iterator's cached
 * pair can close a cycle of its own (pair -> value -> iterator), which
 * iter_clear breaks.
 */
static int iter_clear(IterObject *it)
{
    Py_CLEAR(it->pair);
    return 0;
}

static int iter_traverse(IterObject *it, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(it));
    Py_VISIT(it->map);
    Py_VISIT(it->pair);
    return 0;
}

static void iter_dealloc(IterObject *it)
{
    PyTypeObject *tp = Py_TYPE(it);
    PyObject_GC_UnTrack(it);
    art_fuzzy_free(&it->walk);
    PyMem_Free(it->start_key);
    PyMem_Free(it->stop_key);
    Py_CLEAR(it->pair);
    Py_CLEAR(it->map);
    PyObject_GC_Del(it);
    Py_DECREF(tp);
}

static PyType_Slot iter_slots[] = {
    {Py_tp_doc, "Iterator over a TreeMap or BytesTreeMap, in key order.\n\n"
                "Weakly consistent: after the map changes, it continues with "
                "the\nsmallest key greater than the last one yielded (the "
                "largest\nsmaller one when reversed)."},
    {Py_tp_iter, PyObject_SelfIter},
    {Py_tp_iternext, blart_iter_next},
    {Py_tp_traverse, iter_traverse},
    {Py_tp_clear, iter_clear},
    {Py_tp_dealloc, iter_dealloc},
    {0, NULL},
};

PyType_Spec blart_iter_spec = {
    .name = "blart.TreeMapIterator",
    .basicsize = sizeof(IterObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC
#ifdef Py_TPFLAGS_DISALLOW_INSTANTIATION
             | Py_TPFLAGS_DISALLOW_INSTANTIATION
#endif
#ifdef Py_TPFLAGS_IMMUTABLETYPE
             | Py_TPFLAGS_IMMUTABLETYPE
#endif
    ,
    .slots = iter_slots,
};
