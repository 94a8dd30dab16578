/*
 * frozen.c -- FrozenTreeMap: a read-only map over a file written by
 * save(), served from the file's pages.  FrozenTreeMap() (its __new__ is
 * in src/blart/_persist.py) maps the file and calls _open once, which
 * checks the header, checksum, flags and every node (art_file_open_nodes)
 * without building anything; the tree then lives in the mapping (t->base
 * set) and its values are references into the file, decoded by value_get
 * on each access (values.c).
 *
 * It has the read-only methods of every map (queries.c) and the slots it
 * shares with TreeMap (map.c); here are its own: opening, closing, repr,
 * path and key_type.  Pickling it (by path) is __reduce__ in _persist.py.
 */
#include "_blart.h"

/*
 * Calls obj.close(), ignoring its failure.  Error paths call it with an
 * exception set, which must survive the call.
 */
static void close_keeping_error(PyObject *obj)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyObject *r = PyObject_CallMethod(obj, "close", NULL);
    if (r == NULL)
        PyErr_Clear();
    Py_XDECREF(r);
    PyErr_Restore(type, value, tb);
}

static void frozen_free(struct frozen_file *f)
{
    if (f == NULL)
        return;
    if (f->view.obj)
        PyBuffer_Release(&f->view);
    if (f->mmap)
        close_keeping_error(f->mmap); /* unmaps now, not when freed */
    Py_XDECREF(f->mmap);
    Py_XDECREF(f->path);
    PyMem_Free(f);
}

typedef struct {
    const struct frozen_file *file;
    const char *why;
} check_ctx;

static int check_value_cb(uint64_t ref, void *ctx)
{
    check_ctx *cc = ctx;
    uint64_t len;
    return blart_check_ref(cc->file, ref, &len, &cc->why) < 0;
}

/*
 * FrozenTreeMap's nodes: a read-only tree over the file's pages, checked
 * but for the UTF-8 of keys (a bad key is met only when the key is made:
 * FormatError from key_new).
 */
static int open_frozen_nodes(blart_state *st, struct frozen_file *f,
                             const art_file_header *h, const uint8_t *nodes,
                             PyObject *path, art_tree *t)
{
    check_ctx cc = {f, NULL};
    const char *why = NULL;
    int r = art_file_open_nodes(t, h, nodes, 0, check_value_cb, &cc, &why);
    if (r != ART_OK)
        blart_file_error(st, r, cc.why ? cc.why : why, path);
    return r == ART_OK ? 0 : -1;
}

/*
 * Opens the tree of the file mapped by mm into *t.  Returns the file (to
 * be freed with frozen_free after art_file_close(t)) and its key kind in
 * *bytes_keys, or NULL with an exception; the file then closes mm.
 */
static struct frozen_file *frozen_open(blart_state *st, PyObject *mm,
                                       PyObject *path, int allow_pickle,
                                       art_tree *t, int *bytes_keys)
{
    struct frozen_file *f = PyMem_Calloc(1, sizeof(*f));
    if (f == NULL) {
        PyErr_NoMemory();
        close_keeping_error(mm);
        return NULL;
    }
    f->allow_pickle = allow_pickle;
    Py_INCREF(mm);
    f->mmap = mm;
    Py_INCREF(path);
    f->path = path;
    if (PyObject_GetBuffer(f->mmap, &f->view, PyBUF_SIMPLE) < 0)
        goto fail;
    const uint8_t *data = f->view.buf;
    size_t len = (size_t)f->view.len;
    art_file_header h;
    const char *why = NULL;
    if (art_file_read_header(data, len, &h, &why) != ART_OK)
        goto bad;
    if (art_file_checksum(data, len) != h.checksum) {
        why = "checksum mismatch: the file is damaged";
        goto bad;
    }
    if (blart_check_sections(st, f, &h,
                             data + ART_FILE_HEADER_SIZE + h.nodes_size,
                             f->path) < 0 ||
        open_frozen_nodes(st, f, &h, data + ART_FILE_HEADER_SIZE, f->path, t) <
            0)
        goto fail;
    *bytes_keys = !(h.flags & FLAG_STR_KEYS);
    return f;
bad:
    PyErr_Format(st->FormatError, "%R is not a valid blart file: %s", f->path,
                 why);
fail:
    frozen_free(f);
    return NULL;
}

PyDoc_STRVAR(open_doc,
             "_open($cls, mapping, path, allow_pickle, /)\n--\n\n"
             "A FrozenTreeMap over the file mapped by mapping (an mmap.mmap, "
             "which\nit closes when it is freed, or at once on an error); "
             "path names\nthe file (used by FrozenTreeMap(), which maps "
             "it).");

static PyObject *frozen_open_method(PyTypeObject *type, PyObject *const *args,
                                    Py_ssize_t nargs)
{
    int flag, bytes_keys;
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "_open expected 3 arguments");
        return NULL;
    }
    if (blart_as_flag(args[2], "allow_pickle", &flag) < 0)
        return NULL;
    blart_state *st = blart_state_of_type(type);
    if (st == NULL)
        return NULL;
    art_tree ft;
    struct frozen_file *f =
        frozen_open(st, args[0], args[1], flag, &ft, &bytes_keys);
    if (f == NULL)
        return NULL;
    MapObject *m = blart_map_alloc(type, st, bytes_keys);
    if (m == NULL) {
        art_file_close(&ft);
        frozen_free(f);
        return NULL;
    }
    m->tree = ft;
    m->file = f;
    return (PyObject *)m;
}

static void frozen_dealloc(MapObject *m)
{
    PyTypeObject *tp = Py_TYPE(m);
    if (tp->tp_flags & Py_TPFLAGS_HAVE_GC)
        PyObject_GC_UnTrack(m);
    if (m->weakreflist)
        PyObject_ClearWeakRefs((PyObject *)m);
    art_file_close(&m->tree);
    frozen_free(m->file);
    tp->tp_free((PyObject *)m);
    Py_DECREF(tp);
}

static PyObject *frozen_repr(MapObject *m)
{
    return PyUnicode_FromFormat("%s(%R)", blart_short_name(Py_TYPE(m)),
                                m->file->path);
}

static PyObject *frozen_get_path(MapObject *m, void *closure)
{
    (void)closure;
    Py_INCREF(m->file->path);
    return m->file->path;
}

static PyObject *frozen_get_key_type(MapObject *m, void *closure)
{
    (void)closure;
    PyObject *t =
        m->bytes_keys ? (PyObject *)&PyBytes_Type : (PyObject *)&PyUnicode_Type;
    Py_INCREF(t);
    return t;
}

static PyObject *frozen_get_allow_pickle(MapObject *m, void *closure)
{
    (void)closure;
    return PyBool_FromLong(m->file->allow_pickle);
}

static PyObject *frozen_sizeof(MapObject *m, PyObject *Py_UNUSED(ignored))
{
    size_t n = (size_t)Py_TYPE(m)->tp_basicsize + sizeof(struct frozen_file) +
               m->tree.walk_cap * sizeof(art_walk_frame);
    return PyLong_FromSize_t(n);
}

PyDoc_STRVAR(
    frozentreemap_doc,
    "FrozenTreeMap(path, *, allow_pickle=False)\n--\n\n"
    "A read-only mapping over a file written by TreeMap.save() or\n"
    "BytesTreeMap.save(), served straight from the file's pages: opening\n"
    "maps the file and checks it (checksum and structure) without building\n"
    "anything, so processes that open the same file share its memory.\n\n"
    "Keys are str or bytes as in the file (see key_type).  Supports\n"
    "lookups, iteration in key order, the views and every query of\n"
    "TreeMap; nothing changes it.  A file holding pickled values is\n"
    "refused (ValueError) unless allow_pickle is true.  A damaged file\n"
    "raises blart.FormatError, at open or at the access that meets the\n"
    "fault.  Pickling a FrozenTreeMap pickles its path.\n\n"
    "Never truncate or rewrite in place a file a FrozenTreeMap has open\n"
    "(cp onto it, open(path, 'wb')): replace it with save() or a rename.\n"
    "The map reads the file's pages as they are now: a truncated file\n"
    "kills the process (SIGBUS) at the next access to the lost pages, and\n"
    "rewritten bytes can send a read anywhere (SIGSEGV).");

PyDoc_STRVAR(path_doc, "The absolute path of the file.");
PyDoc_STRVAR(key_type_doc, "str or bytes: the type of the keys.");

static PyObject *frozen_get_state(MapObject *m, void *closure)
{
    (void)closure;
    return blart_instance_state((PyObject *)m);
}

static PyGetSetDef frozen_getset[] = {
    {"path", (getter)frozen_get_path, NULL, path_doc, NULL},
    {"key_type", (getter)frozen_get_key_type, NULL, key_type_doc, NULL},
    {"_allow_pickle", (getter)frozen_get_allow_pickle, NULL,
     "Whether the map was opened with allow_pickle (for pickling it).", NULL},
    {"_state", (getter)frozen_get_state, NULL,
     "A subclass instance's attributes, as pickling carries them.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef frozen_methods[] = {
    {"_open", (PyCFunction)(void (*)(void))frozen_open_method,
     METH_FASTCALL | METH_CLASS, open_doc},
    {"__sizeof__", (PyCFunction)frozen_sizeof, METH_NOARGS, blart_sizeof_doc},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot frozentreemap_slots[] = {
    {Py_tp_doc, (void *)frozentreemap_doc},
    {Py_tp_dealloc, frozen_dealloc},
    {Py_tp_repr, frozen_repr},
    {Py_tp_iter, blart_map_iter},
    {Py_tp_richcompare, blart_map_richcompare},
    {Py_tp_hash, PyObject_HashNotImplemented},
    {Py_tp_methods, frozen_methods},
    {Py_tp_members, blart_map_members},
    {Py_tp_getset, frozen_getset},
    {Py_mp_length, blart_map_length},
    {Py_mp_subscript, blart_map_subscript},
    {Py_sq_contains, blart_map_contains},
    {0, NULL},
};

#ifdef Py_TPFLAGS_MAPPING
#define FROZEN_FLAGS                                                           \
    (Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_MAPPING)
#else
#define FROZEN_FLAGS (Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE)
#endif

PyType_Spec blart_frozen_spec = {"blart.FrozenTreeMap", sizeof(MapObject), 0,
                                 FROZEN_FLAGS, frozentreemap_slots};
