/*
 * queries.c -- the methods that only read, which every map type has,
 * FrozenTreeMap included: get, is_empty, the views (keys, values, items),
 * __reversed__, and the ordered queries (first, last, floor, ceiling,
 * lower, higher, get_prefix, prefix_iter, prefixes, longest_prefix,
 * range), stats and _validate.  Their table, blart_read_methods, is
 * added to each map type by module.c; it holds finditer too, whose code
 * is in scan.c, and fuzzy_search and closest, in fuzzy.c.
 *
 * A query that yields many pairs is an iterator (iter.c) given a start
 * and a stop here; one that finds a single pair seeks a cursor and
 * returns.  The methods that change a map, pop_first and pop_last among
 * them, are in map.c.
 */
#include "_blart.h"

PyDoc_STRVAR(get_doc, "get($self, key, /, default=None)\n--\n\n"
                      "Return the value for key if key is in the map, else "
                      "default.");

static PyObject *map_get(MapObject *m, PyObject *const *args, Py_ssize_t nargs,
                         PyObject *kwnames)
{
    PyObject *key, *dflt = Py_None;
    if (blart_parse_key_default("get", args, nargs, kwnames, &key, &dflt) < 0)
        return NULL;
    PyObject *v = blart_map_lookup(m, key);
    if (v == NULL && !PyErr_Occurred()) {
        v = dflt;
        Py_INCREF(v);
    }
    return v;
}

PyDoc_STRVAR(is_empty_doc, "is_empty($self, /)\n--\n\n"
                           "Return True if the map has no keys.");

static PyObject *map_is_empty(MapObject *m, PyObject *Py_UNUSED(ignored))
{
    return PyBool_FromLong(m->tree.size == 0);
}

PyDoc_STRVAR(reversed_doc, "__reversed__($self, /)\n--\n\n"
                           "Iterate over the keys in descending order.");

static PyObject *map_reversed(MapObject *m, PyObject *Py_UNUSED(ignored))
{
    return (PyObject *)blart_iter_new(m, YIELD_KEYS, 1);
}

PyDoc_STRVAR(keys_doc, "keys($self, /)\n--\n\n"
                       "A live, set-like view of the keys, in key order.");
PyDoc_STRVAR(values_doc, "values($self, /)\n--\n\n"
                         "A live view of the values, in key order.");
PyDoc_STRVAR(items_doc, "items($self, /)\n--\n\n"
                        "A live, set-like view of the (key, value) pairs, "
                        "in key order.");

static PyObject *map_keys(MapObject *m, PyObject *Py_UNUSED(ignored))
{
    return blart_view_new(m, m->state->KeysView_Type);
}

static PyObject *map_values(MapObject *m, PyObject *Py_UNUSED(ignored))
{
    return blart_view_new(m, m->state->ValuesView_Type);
}

static PyObject *map_items(MapObject *m, PyObject *Py_UNUSED(ignored))
{
    return blart_view_new(m, m->state->ItemsView_Type);
}

/* A PyMem copy of kb's bytes (never NULL on success, even when empty). */
static uint8_t *copy_key_bytes(const keybuf *kb)
{
    uint8_t *p = PyMem_Malloc(kb->n ? kb->n : 1);
    if (p == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    if (kb->n)
        memcpy(p, kb->p, kb->n);
    return p;
}

/* (key, value) of the cursor's position, or None when r == 0. */
static PyObject *cursor_item(MapObject *m, art_cursor *c, int r)
{
    if (r < 0)
        return PyErr_NoMemory();
    if (r == 0)
        Py_RETURN_NONE;
    PyObject *v = value_get(m, art_cursor_value(c));
    if (v == NULL)
        return NULL;
    PyObject *k = blart_key_new(m, c->key, c->key_len);
    if (k == NULL) {
        Py_DECREF(v);
        return NULL;
    }
    PyObject *res = PyTuple_New(2);
    if (res == NULL) {
        Py_DECREF(k);
        Py_DECREF(v);
        return NULL;
    }
    PyTuple_SET_ITEM(res, 0, k);
    PyTuple_SET_ITEM(res, 1, v);
    return res;
}

PyDoc_STRVAR(first_doc, "first($self, /)\n--\n\n"
                        "Return the (key, value) pair with the smallest key, "
                        "or None if empty.\n\n"
                        ">>> TreeMap({'b': 2, 'a': 1}).first()\n"
                        "('a', 1)");
PyDoc_STRVAR(last_doc, "last($self, /)\n--\n\n"
                       "Return the (key, value) pair with the largest key, "
                       "or None if empty.\n\n"
                       ">>> TreeMap({'b': 2, 'a': 1}).last()\n"
                       "('b', 2)");
static PyObject *map_first(MapObject *m, PyObject *Py_UNUSED(ignored))
{
    return blart_edge_or_none(m, 0, 0);
}
static PyObject *map_last(MapObject *m, PyObject *Py_UNUSED(ignored))
{
    return blart_edge_or_none(m, 1, 0);
}
/* One seek, returning the pair found or None. */
static PyObject *seek_item(MapObject *m, PyObject *key, art_seek_mode mode)
{
    keybuf kb;
    if (key_get(m, key, &kb) < 0)
        return NULL;
    art_cursor c;
    art_cursor_init(&c, &m->tree);
    int r = art_cursor_seek(&c, kb.p, kb.n, mode);
    /* The pair is made while the tree is as the seek left it: releasing
       the key's buffer afterwards may run code that changes the map. */
    PyObject *res = cursor_item(m, &c, r);
    key_release(&kb);
    art_cursor_free(&c);
    return res;
}

PyDoc_STRVAR(floor_doc, "floor($self, key, /)\n--\n\n"
                        "The pair with the largest key <= key, or None.\n\n"
                        ">>> TreeMap({'a': 1, 'c': 3}).floor('b')\n"
                        "('a', 1)");
PyDoc_STRVAR(ceiling_doc, "ceiling($self, key, /)\n--\n\n"
                          "The pair with the smallest key >= key, or None.\n\n"
                          ">>> TreeMap({'a': 1, 'c': 3}).ceiling('b')\n"
                          "('c', 3)");
PyDoc_STRVAR(lower_doc, "lower($self, key, /)\n--\n\n"
                        "The pair with the largest key < key, or None.\n\n"
                        ">>> TreeMap({'a': 1, 'c': 3}).lower('c')\n"
                        "('a', 1)");
PyDoc_STRVAR(higher_doc, "higher($self, key, /)\n--\n\n"
                         "The pair with the smallest key > key, or None.\n\n"
                         ">>> TreeMap({'a': 1, 'c': 3}).higher('a')\n"
                         "('c', 3)");

static PyObject *map_floor(MapObject *m, PyObject *key)
{
    return seek_item(m, key, ART_SEEK_LE);
}
static PyObject *map_ceiling(MapObject *m, PyObject *key)
{
    return seek_item(m, key, ART_SEEK_GE);
}
static PyObject *map_lower(MapObject *m, PyObject *key)
{
    return seek_item(m, key, ART_SEEK_LT);
}
static PyObject *map_higher(MapObject *m, PyObject *key)
{
    return seek_item(m, key, ART_SEEK_GT);
}

PyDoc_STRVAR(get_prefix_doc,
             "get_prefix($self, prefix, /)\n--\n\n"
             "The pair with the smallest key starting with prefix, or None.\n\n"
             ">>> TreeMap({'apple': 1, 'apricot': 2}).get_prefix('ap')\n"
             "('apple', 1)");

static PyObject *map_get_prefix(MapObject *m, PyObject *prefix)
{
    keybuf kb;
    if (key_get(m, prefix, &kb) < 0)
        return NULL;
    art_cursor c;
    art_cursor_init(&c, &m->tree);
    int r = art_cursor_seek(&c, kb.p, kb.n, ART_SEEK_GE);
    if (r > 0 && (c.key_len < kb.n || (kb.n && memcmp(c.key, kb.p, kb.n) != 0)))
        r = 0;
    PyObject *res = cursor_item(m, &c, r);
    key_release(&kb);
    art_cursor_free(&c);
    return res;
}

PyDoc_STRVAR(prefix_iter_doc,
             "prefix_iter($self, prefix, *, reverse=False)\n--\n\n"
             "Iterate over the (key, value) pairs whose key starts with "
             "prefix,\nin ascending key order (descending if reverse).  The "
             "empty prefix\nmatches every key.  Costs O(len(prefix)) to "
             "start, then O(1)\namortised per pair.\n\n"
             ">>> m = TreeMap({'app': 0, 'apple': 1, 'banana': 2})\n"
             ">>> list(m.prefix_iter('app'))\n"
             "[('app', 0), ('apple', 1)]");

static PyObject *map_prefix_iter(MapObject *m, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"prefix", "reverse", NULL};
    PyObject *prefix, *rev = Py_False;
    int reverse = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|$O:prefix_iter", kwlist,
                                     &prefix, &rev) ||
        blart_as_flag(rev, "reverse", &reverse) < 0)
        return NULL;
    keybuf kb;
    if (key_get(m, prefix, &kb) < 0)
        return NULL;
    IterObject *it = blart_iter_new(m, YIELD_ITEMS, reverse);
    if (it == NULL)
        goto error;
    it->stop = STOP_PREFIX;
    it->stop_len = kb.n;
    if ((it->stop_key = copy_key_bytes(&kb)) == NULL)
        goto error;
    if (!reverse) {
        it->start = START_SEEK;
        it->start_mode = ART_SEEK_GE;
        it->start_len = kb.n;
        if ((it->start_key = copy_key_bytes(&kb)) == NULL)
            goto error;
    } else {
        /* The last key with the prefix is the last one below the
           prefix's successor: drop trailing 0xFF bytes, add one to the
           last byte.  No successor (empty or all 0xFF): start at the end. */
        size_t n = kb.n;
        while (n > 0 && kb.p[n - 1] == 0xFF)
            n--;
        if (n > 0) {
            if ((it->start_key = copy_key_bytes(&kb)) == NULL)
                goto error;
            it->start_key[n - 1]++;
            it->start_len = n;
            it->start = START_SEEK;
            it->start_mode = ART_SEEK_LT;
        }
    }
    key_release(&kb);
    return (PyObject *)it;
error:
    Py_XDECREF(it);
    key_release(&kb);
    return NULL;
}

PyDoc_STRVAR(range_doc,
             "range($self, start=None, stop=None, *, inclusive=(True, False), "
             "reverse=False)\n--\n\n"
             "Iterate over the (key, value) pairs with start <= key < stop, "
             "in\nascending key order (descending if reverse).  None leaves a "
             "side\nunbounded; inclusive says whether each bound is included. "
             " start > stop\ngives an empty iterator.\n\n"
             ">>> m = TreeMap.fromkeys('abcde', 0)\n"
             ">>> [k for k, _ in m.range('b', 'd')]\n"
             "['b', 'c']");

static PyObject *map_range(MapObject *m, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"start", "stop", "inclusive", "reverse", NULL};
    PyObject *start = Py_None, *stop = Py_None, *inclusive = NULL;
    PyObject *rev = Py_False;
    int reverse = 0, inc[2] = {1, 0};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|OO$OO:range", kwlist, &start,
                                     &stop, &inclusive, &rev) ||
        blart_as_flag(rev, "reverse", &reverse) < 0)
        return NULL;
    if (inclusive) {
        if (!PyTuple_Check(inclusive) || PyTuple_GET_SIZE(inclusive) != 2) {
            PyErr_Format(PyExc_TypeError,
                         "inclusive must be a tuple of two bools, not %.200s",
                         Py_TYPE(inclusive)->tp_name);
            return NULL;
        }
        for (int i = 0; i < 2; i++)
            if (blart_as_flag(PyTuple_GET_ITEM(inclusive, i),
                              i ? "inclusive[1]" : "inclusive[0]", &inc[i]) < 0)
                return NULL;
    }
    keybuf lo, hi;
    int have_lo = start != Py_None, have_hi = stop != Py_None;
    if (have_lo && key_get(m, start, &lo) < 0)
        return NULL;
    if (have_hi && key_get(m, stop, &hi) < 0) {
        if (have_lo)
            key_release(&lo);
        return NULL;
    }
    IterObject *it = blart_iter_new(m, YIELD_ITEMS, reverse);
    if (it == NULL)
        goto error;
    /* Walking forward, start from the low bound and stop at the high
       one; backward, the other way round. */
    keybuf *from = reverse ? (have_hi ? &hi : NULL) : (have_lo ? &lo : NULL);
    keybuf *to = reverse ? (have_lo ? &lo : NULL) : (have_hi ? &hi : NULL);
    int from_inc = reverse ? inc[1] : inc[0];
    if (from) {
        it->start = START_SEEK;
        it->start_mode = reverse ? (from_inc ? ART_SEEK_LE : ART_SEEK_LT)
                                 : (from_inc ? ART_SEEK_GE : ART_SEEK_GT);
        it->start_len = from->n;
        if ((it->start_key = copy_key_bytes(from)) == NULL)
            goto error;
    }
    if (to) {
        it->stop = STOP_BOUND;
        it->stop_inclusive = reverse ? inc[0] : inc[1];
        it->stop_len = to->n;
        if ((it->stop_key = copy_key_bytes(to)) == NULL)
            goto error;
    }
    if (have_lo)
        key_release(&lo);
    if (have_hi)
        key_release(&hi);
    return (PyObject *)it;
error:
    Py_XDECREF(it);
    if (have_lo)
        key_release(&lo);
    if (have_hi)
        key_release(&hi);
    return NULL;
}

PyDoc_STRVAR(prefixes_doc,
             "prefixes($self, key, /)\n--\n\n"
             "Iterate over the (k, v) pairs whose key k is a prefix of key "
             "(key\nitself included), shortest first.\n\n"
             ">>> m = TreeMap({'/': 0, '/api': 1, '/api/users': 2})\n"
             ">>> [k for k, _ in m.prefixes('/api/users/7')]\n"
             "['/', '/api', '/api/users']");

static PyObject *map_prefixes(MapObject *m, PyObject *key)
{
    keybuf kb;
    if (key_get(m, key, &kb) < 0)
        return NULL;
    IterObject *it = blart_iter_new(m, YIELD_PREFIXES, 0);
    if (it && (it->start_key = copy_key_bytes(&kb)) == NULL)
        Py_CLEAR(it);
    if (it)
        it->start_len = kb.n;
    key_release(&kb);
    return (PyObject *)it;
}

PyDoc_STRVAR(longest_prefix_doc,
             "longest_prefix($self, key, /)\n--\n\n"
             "The (k, v) pair whose key k is the longest prefix of key (key "
             "itself\nincluded), or None.\n\n"
             ">>> m = TreeMap({'/': 0, '/api': 1})\n"
             ">>> m.longest_prefix('/api/users')\n"
             "('/api', 1)");

static PyObject *map_longest_prefix(MapObject *m, PyObject *key)
{
    keybuf kb;
    size_t n = 0;
    if (key_get(m, key, &kb) < 0)
        return NULL;
    PyObject *res = NULL;
    void *raw = art_longest_prefix(&m->tree, kb.p, kb.n, &n);
    if (raw == NULL) {
        res = Py_None;
        Py_INCREF(res);
    } else {
        PyObject *v = value_get(m, raw);
        PyObject *k = v ? blart_key_new(m, kb.p, n) : NULL;
        if (k)
            res = PyTuple_Pack(2, k, v);
        Py_XDECREF(k);
        Py_XDECREF(v);
    }
    key_release(&kb);
    return res;
}

PyDoc_STRVAR(stats_doc,
             "stats($self, /)\n--\n\n"
             "Shape of the tree: a dict with the number of inner nodes of "
             "each\nkind ('node4', 'node16', 'node48', 'node256'), 'leaves', "
             "'buckets'\nand 'bucket_keys' (the keys they hold), "
             "'bucket_spare' (bytes of their\nroom to grow not in use), "
             "'node_values' (keys ending at an\ninner node), 'max_depth' and "
             "'mean_depth' (inner nodes above a key),\n'bytes' in live "
             "nodes, buckets and leaves, and 'reserved' (the memory\nthe "
             "tree holds for them, free slab space included).");

static PyObject *map_stats(MapObject *m, PyObject *Py_UNUSED(ignored))
{
    art_stats_t st;
    art_stats(&m->tree, &st);
    return Py_BuildValue(
        "{s:n,s:n,s:n,s:n,s:n,s:n,s:n,s:n,s:n,s:n,s:d,s:n,s:n}", "node4",
        (Py_ssize_t)st.nodes[ART_NODE4], "node16",
        (Py_ssize_t)st.nodes[ART_NODE16], "node48",
        (Py_ssize_t)st.nodes[ART_NODE48], "node256",
        (Py_ssize_t)st.nodes[ART_NODE256], "leaves", (Py_ssize_t)st.leaves,
        "buckets", (Py_ssize_t)st.buckets, "bucket_keys",
        (Py_ssize_t)st.bucket_keys, "bucket_spare", (Py_ssize_t)st.bucket_spare,
        "node_values", (Py_ssize_t)st.node_values, "max_depth",
        (Py_ssize_t)st.max_depth, "mean_depth", st.mean_depth, "bytes",
        (Py_ssize_t)st.bytes, "reserved", (Py_ssize_t)m->tree.reserved);
}

static PyObject *map_validate(MapObject *m, PyObject *Py_UNUSED(ignored))
{
    const char *why = NULL;
    if (art_validate(&m->tree, &why) != ART_OK) {
        PyErr_Format(PyExc_AssertionError, "tree invariant broken: %s", why);
        return NULL;
    }
    Py_RETURN_NONE;
}

/*
 * The methods that only read: every map type has them, FrozenTreeMap
 * nothing else (apart from its own __reduce__ and __sizeof__).
 */
PyMethodDef blart_read_methods[] = {
    {"get", (PyCFunction)(void (*)(void))map_get, METH_FASTCALL | METH_KEYWORDS,
     get_doc},
    {"is_empty", (PyCFunction)map_is_empty, METH_NOARGS, is_empty_doc},
    {"keys", (PyCFunction)map_keys, METH_NOARGS, keys_doc},
    {"values", (PyCFunction)map_values, METH_NOARGS, values_doc},
    {"items", (PyCFunction)map_items, METH_NOARGS, items_doc},
    {"__reversed__", (PyCFunction)map_reversed, METH_NOARGS, reversed_doc},
    {"__class_getitem__", Py_GenericAlias, METH_O | METH_CLASS, "See PEP 585."},
    {"first", (PyCFunction)map_first, METH_NOARGS, first_doc},
    {"last", (PyCFunction)map_last, METH_NOARGS, last_doc},
    {"floor", (PyCFunction)map_floor, METH_O, floor_doc},
    {"ceiling", (PyCFunction)map_ceiling, METH_O, ceiling_doc},
    {"lower", (PyCFunction)map_lower, METH_O, lower_doc},
    {"higher", (PyCFunction)map_higher, METH_O, higher_doc},
    {"get_prefix", (PyCFunction)map_get_prefix, METH_O, get_prefix_doc},
    {"prefix_iter", (PyCFunction)(void (*)(void))map_prefix_iter,
     METH_VARARGS | METH_KEYWORDS, prefix_iter_doc},
    {"prefixes", (PyCFunction)map_prefixes, METH_O, prefixes_doc},
    {"finditer", (PyCFunction)(void (*)(void))blart_map_finditer,
     METH_VARARGS | METH_KEYWORDS, blart_finditer_doc},
    {"longest_prefix", (PyCFunction)map_longest_prefix, METH_O,
     longest_prefix_doc},
    {"range", (PyCFunction)(void (*)(void))map_range,
     METH_VARARGS | METH_KEYWORDS, range_doc},
    {"fuzzy_search", (PyCFunction)(void (*)(void))blart_map_fuzzy_search,
     METH_VARARGS | METH_KEYWORDS, blart_fuzzy_search_doc},
    {"closest", (PyCFunction)(void (*)(void))blart_map_closest,
     METH_VARARGS | METH_KEYWORDS, blart_closest_doc},
    {"stats", (PyCFunction)map_stats, METH_NOARGS, stats_doc},
    {"_validate", (PyCFunction)map_validate, METH_NOARGS,
     "Check the tree's invariants; raise AssertionError if one is broken."},
    {NULL, NULL, 0, NULL},
};
