/*
 * update.c -- filling a map from another: update(), the constructor's
 * arguments (as dict's: a mapping, an iterable of pairs, keywords), and
 * the | and |= operators.
 *
 * A map of the same key kind is copied without making key objects; a dict
 * is walked directly; anything else goes through the mapping protocol.
 * Items applied before an error stay applied, as in dict.update.
 *
 * An empty map filled from a batch in key order is built at once instead
 * (blart_map_build): a dict, or a list or tuple of pairs, whose keys are
 * exactly str (TreeMap) or bytes (BytesTreeMap) and strictly ascending;
 * fromkeys() does the same with a list or tuple of keys.  The keys go to
 * art_build_add() in the batch's order; the first key that is not after
 * the one before, or not of the exact type, ends the attempt: what was
 * made is dropped, the map is still empty, and the items go in one at a
 * time as before (so a batch out of order costs a few keys' work, and
 * one sorted but for its end costs a build more).  Nothing in the
 * attempt runs Python code: exact str and bytes give their bytes without
 * it, the values are only referenced (each gets its reference once the
 * tree is linked), so the batch cannot change under it.
 */
#include "_blart.h"

/* The bytes of key when it is exactly the map's key type, else 0 (no
   exception: the batch goes in one item at a time). */
static int batch_key(MapObject *m, PyObject *key, keybuf *kb)
{
    if (m->bytes_keys ? !PyBytes_CheckExact(key) : !PyUnicode_CheckExact(key))
        return 0;
    return key_get(m, key, kb) < 0 ? -1 : 1;
}

/* Item i of a batch: of a dict (*pos is PyDict_Next's position), of a
   sequence of pairs, or of a sequence of keys all mapped to value.
   Borrowed references; 0 at the end or for an item that is not a pair. */
static int batch_item(PyObject *src, PyObject *value, Py_ssize_t i,
                      Py_ssize_t *pos, PyObject **k, PyObject **v)
{
    if (PyDict_CheckExact(src))
        return PyDict_Next(src, pos, k, v);
    if (i >= PySequence_Fast_GET_SIZE(src))
        return 0;
    PyObject *item = PySequence_Fast_GET_ITEM(src, i);
    if (value) {
        *k = item;
        *v = value;
        return 1;
    }
    if (!(PyTuple_CheckExact(item) || PyList_CheckExact(item)) ||
        PySequence_Fast_GET_SIZE(item) != 2)
        return 0;
    *k = PySequence_Fast_GET_ITEM(item, 0);
    *v = PySequence_Fast_GET_ITEM(item, 1);
    return 1;
}

int blart_map_build(MapObject *m, PyObject *src, PyObject *value)
{
    Py_ssize_t n;
    if (PyDict_CheckExact(src) && value == NULL)
        n = PyDict_GET_SIZE(src);
    else if (PyList_CheckExact(src) || PyTuple_CheckExact(src))
        n = PySequence_Fast_GET_SIZE(src);
    else
        return 0;
    if (m->tree.size || m->saving || n < 2)
        return 0;
    art_builder b;
    art_build_init(&b, &m->tree);
    Py_ssize_t pos = 0, i;
    PyObject *k, *v;
    for (i = 0; i < n; i++) {
        keybuf kb;
        if (!batch_item(src, value, i, &pos, &k, &v))
            break;
        int r = batch_key(m, k, &kb);
        if (r <= 0) {
            if (r < 0) {
                art_build_abort(&b);
                return -1;
            }
            break;
        }
        r = art_build_add(&b, kb.p, kb.n, v);
        key_release(&kb);
        if (r < 0) {
            if (r == ART_ENOMEM) {
                art_build_abort(&b);
                PyErr_NoMemory();
                return -1;
            }
            break; /* out of order (or too long: the slow path says so) */
        }
    }
    if (i < n) {
        art_build_abort(&b);
        return 0;
    }
    if (art_build_finish(&b) < 0) {
        art_build_abort(&b);
        PyErr_NoMemory();
        return -1;
    }
    pos = 0;
    for (i = 0; i < n && batch_item(src, value, i, &pos, &k, &v); i++)
        Py_INCREF(v);
    m->state->builds++;
    return 1;
}

static int update_from_pairs(MapObject *m, PyObject *seq)
{
    PyObject *it = PyObject_GetIter(seq);
    if (it == NULL)
        return -1;
    PyObject *item;
    Py_ssize_t i = 0;
    while ((item = PyIter_Next(it)) != NULL) {
        PyObject *fast = PySequence_Fast(item, "");
        if (fast == NULL) {
            if (PyErr_ExceptionMatches(PyExc_TypeError))
                PyErr_Format(PyExc_TypeError,
                             "cannot convert %s update sequence element "
                             "#%zd to a sequence",
                             map_kind_name(m), i);
            Py_DECREF(item);
            goto error;
        }
        Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
        if (n != 2) {
            PyErr_Format(PyExc_ValueError,
                         "%s update sequence element #%zd has length %zd; "
                         "2 is required",
                         map_kind_name(m), i, n);
            Py_DECREF(fast);
            Py_DECREF(item);
            goto error;
        }
        PyObject *k = PySequence_Fast_GET_ITEM(fast, 0);
        PyObject *v = PySequence_Fast_GET_ITEM(fast, 1);
        Py_INCREF(k);
        Py_INCREF(v);
        int r = blart_map_set(m, k, v);
        Py_DECREF(k);
        Py_DECREF(v);
        Py_DECREF(fast);
        Py_DECREF(item);
        if (r < 0)
            goto error;
        i++;
    }
    if (PyErr_Occurred())
        goto error;
    Py_DECREF(it);
    return 0;
error:
    Py_DECREF(it);
    return -1;
}

/* From another map with the same key kind: no key objects at all. */
static int update_from_map(MapObject *m, MapObject *src)
{
    /* An empty map adds nothing: allowed during a save. */
    if (src->tree.size && refuse_change(m) < 0)
        return -1;
    if (m->tree.size == 0)
        return blart_map_copy_tree(m, src);
    art_cursor c;
    art_cursor_init(&c, &src->tree);
    int r;
    while ((r = art_cursor_next(&c)) > 0) {
        PyObject *v = (PyObject *)art_cursor_value(&c);
        void *old;
        Py_INCREF(v);
        int ir = art_insert(&m->tree, c.key, c.key_len, v, &old);
        if (ir < 0) {
            Py_DECREF(v);
            art_cursor_free(&c);
            return set_error(ir);
        }
        Py_XDECREF((PyObject *)old);
    }
    art_cursor_free(&c);
    return r < 0 ? set_error(r) : 0;
}

static int update_from_dict(MapObject *m, PyObject *d)
{
    Py_ssize_t pos = 0, size = PyDict_GET_SIZE(d);
    PyObject *k, *v;
    while (PyDict_Next(d, &pos, &k, &v)) {
        Py_INCREF(k);
        Py_INCREF(v);
        int r = blart_map_set(m, k, v);
        Py_DECREF(k);
        Py_DECREF(v);
        if (r < 0)
            return -1;
        if (PyDict_GET_SIZE(d) != size) {
            PyErr_SetString(PyExc_RuntimeError,
                            "dictionary changed size during update");
            return -1;
        }
    }
    return 0;
}

static int update_from_keys(MapObject *m, PyObject *src)
{
    PyObject *keys = PyObject_CallMethod(src, "keys", NULL);
    if (keys == NULL)
        return -1;
    PyObject *it = PyObject_GetIter(keys);
    Py_DECREF(keys);
    if (it == NULL)
        return -1;
    PyObject *k;
    while ((k = PyIter_Next(it)) != NULL) {
        PyObject *v = PyObject_GetItem(src, k);
        int r = v ? blart_map_set(m, k, v) : -1;
        Py_XDECREF(v);
        Py_DECREF(k);
        if (r < 0) {
            Py_DECREF(it);
            return -1;
        }
    }
    Py_DECREF(it);
    return PyErr_Occurred() ? -1 : 0;
}

static int map_update_arg(MapObject *m, PyObject *arg)
{
    int built = blart_map_build(m, arg, NULL);
    if (built)
        return built < 0 ? -1 : 0;
    if (PyDict_CheckExact(arg))
        return update_from_dict(m, arg);
    if (is_map(m->state, arg) &&
        ((MapObject *)arg)->bytes_keys == m->bytes_keys)
        return update_from_map(m, (MapObject *)arg);
    /* Like dict.update: anything with keys() is a mapping. */
    PyObject *keys_attr = PyObject_GetAttrString(arg, "keys");
    if (keys_attr) {
        Py_DECREF(keys_attr);
        return update_from_keys(m, arg);
    }
    if (!PyErr_ExceptionMatches(PyExc_AttributeError))
        return -1;
    PyErr_Clear();
    return update_from_pairs(m, arg);
}

int blart_map_update_common(MapObject *m, PyObject *args, PyObject *kwds,
                            const char *fname)
{
    PyObject *arg = Py_None;
    if (!PyArg_UnpackTuple(args, fname, 0, 1, &arg))
        return -1;
    if (arg != Py_None && map_update_arg(m, arg) < 0)
        return -1;
    if (kwds && PyDict_GET_SIZE(kwds) && update_from_dict(m, kwds) < 0)
        return -1;
    return 0;
}

/* The map among a and b (one of them is), or NULL. */
static MapObject *map_operand(PyObject *a, PyObject *b, PyObject **other)
{
    blart_state *st = blart_find_state(Py_TYPE(a));
    if (st && is_map(st, a)) {
        *other = b;
        return (MapObject *)a;
    }
    st = blart_find_state(Py_TYPE(b));
    if (st && is_map(st, b)) {
        *other = a;
        return (MapObject *)b;
    }
    return NULL;
}

/*
 * m | mapping: a copy of m updated from mapping.  mapping | m: a map of
 * m's type holding mapping's items updated from m.  Like dict, both
 * sides must be mappings.
 */
PyObject *blart_map_or(PyObject *a, PyObject *b)
{
    PyObject *other;
    MapObject *m = map_operand(a, b, &other);
    if (m == NULL)
        Py_RETURN_NOTIMPLEMENTED;
    int ok = blart_is_mapping(m->state, other);
    if (ok <= 0) {
        if (ok < 0)
            return NULL;
        Py_RETURN_NOTIMPLEMENTED;
    }
    MapObject *res;
    if ((PyObject *)m == a) {
        res = (MapObject *)blart_map_copy_of(m);
        if (res && map_update_arg(res, other) < 0)
            Py_CLEAR(res);
    } else {
        res = blart_map_alloc(Py_TYPE(m), m->state, m->bytes_keys);
        if (res && (map_update_arg(res, other) < 0 ||
                    map_update_arg(res, (PyObject *)m) < 0))
            Py_CLEAR(res);
    }
    return (PyObject *)res;
}

/* m |= other: update from a mapping or an iterable of pairs. */
PyObject *blart_map_ior(PyObject *a, PyObject *b)
{
    if (map_update_arg((MapObject *)a, b) < 0)
        return NULL;
    Py_INCREF(a);
    return a;
}
