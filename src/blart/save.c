/*
 * save.c -- writing a map to a file object: _dump(file, allow_pickle),
 * which save() (src/blart/_persist.py) calls once, on the temporary file
 * it then syncs and renames over the target.
 *
 * The file is the header (written as zeros first, then again once the
 * checksum is known), the nodes streamed by art_file_write_nodes, and the
 * values section built in memory while the nodes are written (values.c).
 * The map refuses every change meanwhile (MapObject.saving).
 */
#include "_blart.h"

typedef struct {
    PyObject *write; /* the file's bound write method */
    art_hash hash;
    blart_values_out out;
} save_ctx;

static int write_cb(const void *data, size_t n, void *ctx)
{
    save_ctx *sc = ctx;
    art_hash_update(&sc->hash, data, n);
    PyObject *b = PyBytes_FromStringAndSize(data, (Py_ssize_t)n);
    if (b == NULL)
        return -1;
    PyObject *r = PyObject_CallOneArg(sc->write, b);
    Py_DECREF(b);
    Py_XDECREF(r);
    return r == NULL ? -1 : 0;
}

static int encode_cb(void *value, uint64_t *ref, void *ctx)
{
    save_ctx *sc = ctx;
    return blart_encode_value(value, ref, &sc->out);
}

const char blart_dump_doc[] = "_dump($self, file, allow_pickle, /)\n--\n\n"
                              "Write the map to a binary file object open for "
                              "writing at offset 0\n(used by save(), which "
                              "makes the write atomic).";

PyObject *blart_map_dump(MapObject *m, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "_dump expected 2 arguments");
        return NULL;
    }
    if (m->saving) {
        PyErr_Format(PyExc_RuntimeError, "%s is already being saved",
                     blart_short_name(Py_TYPE(m)));
        return NULL;
    }
    save_ctx sc;
    memset(&sc, 0, sizeof(sc));
    sc.out.st = m->state;
    if (blart_as_flag(args[1], "allow_pickle", &sc.out.allow_pickle) < 0)
        return NULL;
    PyObject *file = args[0], *res = NULL;
    art_file_header h;
    memset(&h, 0, sizeof(h));
    sc.write = PyObject_GetAttrString(file, "write");
    if (sc.write == NULL)
        return NULL;
    art_hash_init(&sc.hash);
    uint8_t head[ART_FILE_HEADER_SIZE] = {0};
    m->saving = 1;
    if (blart_values_begin(&sc.out) < 0)
        goto done;
    {
        PyObject *r = PyObject_CallFunction(sc.write, "y#", (const char *)head,
                                            (Py_ssize_t)ART_FILE_HEADER_SIZE);
        if (r == NULL)
            goto done;
        Py_DECREF(r);
    }
    int e = art_file_write_nodes(&m->tree, write_cb, encode_cb, &sc, &h);
    if (e != ART_OK) {
        if (e == ART_ENOMEM && !PyErr_Occurred())
            PyErr_NoMemory();
        else if (e == ART_EINVAL)
            PyErr_SetString(PyExc_OSError,
                            "blart files need a 64-bit little-endian machine");
        goto done;
    }
    if (write_cb(sc.out.values, sc.out.values_len, &sc) < 0)
        goto done;
    h.version = ART_FILE_VERSION;
    h.flags = (m->bytes_keys ? 0 : FLAG_STR_KEYS) |
              (sc.out.has_pickle ? FLAG_PICKLED : 0);
    h.values_size = sc.out.values_len;
    h.checksum = 0;
    art_file_header_encode(&h, head);
    art_hash_update(&sc.hash, head, 56);
    h.checksum = art_hash_final(&sc.hash);
    art_file_header_encode(&h, head);
    {
        PyObject *r = PyObject_CallMethod(file, "seek", "i", 0);
        if (r == NULL)
            goto done;
        Py_DECREF(r);
        r = PyObject_CallMethod(file, "write", "y#", (const char *)head,
                                (Py_ssize_t)ART_FILE_HEADER_SIZE);
        if (r == NULL)
            goto done;
        Py_DECREF(r);
    }
    res = Py_None;
    Py_INCREF(res);
done:
    m->saving = 0;
    Py_XDECREF(sc.write);
    PyMem_Free(sc.out.values);
    return res;
}
