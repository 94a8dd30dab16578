/*
 * load.c -- TreeMap.load and BytesTreeMap.load: a file read into a new,
 * ordinary map.  The file is read, not mapped, through its readinto: the
 * nodes section goes straight into the block that becomes the tree's
 * memory (art_file_load), the values section into a buffer its values
 * are decoded from (values.c).  load() (src/blart/_persist.py) opens the
 * file and calls _load once.  Not here: writing (save.c), a file served
 * in place (frozen.c).
 *
 * Load has two stages that each run on a second thread beside the
 * caller's, one after the other (the first is joined before the second
 * starts), so at most one thread of load's own runs at a time:
 *
 *   1. The checksum (sum_job).  The caller's thread reads the file in
 *      chunks of at most 4 MB and publishes how many bytes it has read
 *      (ready); the thread sums them right behind it.  If the reading
 *      fails, the caller sets abandon and the thread stops where it is.
 *   2. The nodes (load_job), once the checksum matched.  The thread runs
 *      art_file_load's one pass, which checks the nodes and makes the
 *      tree, and publishes each value slot once the node holding it has
 *      passed its checks (slots[], published); the caller's thread, which
 *      holds the GIL, decodes the values into the slots right behind it.
 *      If a value fails to decode, the caller sets stop and the pass ends
 *      at its next slot.  Not used when the file holds pickles: unpickling
 *      runs any code, which might fork.
 *
 * The protocol is the same for both (progress, below): the producer only
 * ever raises its counter, with a release store, and raises a finished or
 * failed flag the same way; the consumer reads them with acquire loads
 * and consumes up to the counter.  When it has caught up, the consumer
 * waits for "counter past what I consumed, or the flag set": it yields a
 * while, then sleeps on a condition variable; the producer, after each
 * publication it announces (each chunk read; every SLOTS_PER_WAKE slots;
 * the end of the pass), wakes it if it sleeps.  A fence on each side
 * makes a lost wake-up impossible.  Neither thread touches a Python
 * object, and each is joined before the memory it uses is freed.  Where
 * no thread can start, each stage runs on the caller's thread instead:
 * the pass first and then the decoding, the reading and then the sum.
 */
#include "_blart.h"

#if !defined(_WIN32) && !defined(__STDC_NO_ATOMICS__)
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#define BLART_THREADS 1
#endif

/*
 * load's nodes, read into a block of their own: art_file_load checks them
 * (with the UTF-8 of every key of a str file: a loaded map must be sound)
 * and makes them an ordinary tree in one pass, handing out each value
 * slot once the node or leaf holding it has passed every check.  The
 * values are decoded here, into the slots.  The pass needs no Python and
 * the decoding needs nothing else, so the pass runs on a second thread
 * while this one, holding the GIL, decodes the values right behind it:
 * for a million int values that is 22 and 15 ms of work in about 22.
 * Where no thread starts, the pass runs first and the decoding after.
 */
#ifdef BLART_THREADS
#define SHARED(type)   _Atomic(type)
#define READ_SHARED(x) atomic_load_explicit(&(x), memory_order_acquire)
#define WRITE_SHARED(x, v)                                                     \
    atomic_store_explicit(&(x), (v), memory_order_release)
#else
#define SHARED(type)       type
#define READ_SHARED(x)     (x)
#define WRITE_SHARED(x, v) ((x) = (v))
#endif

/*
 * How one thread waits for another's progress: it yields a while (the
 * other is usually just ahead), then sleeps until woken, so a thread
 * waiting on a slow disk or on a busy CPU spends none.  The waiter says
 * it sleeps and then tests its condition, under the lock; the other
 * thread makes progress visible and then tests whether anyone sleeps.
 * A full fence sits between the store and the load on each side, so at
 * least one of them sees the other's store: no wake-up is lost.
 */
#ifdef BLART_THREADS
typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    SHARED(int) sleeping;
} progress;

/* 0, or -1 when it cannot be made (then no second thread may start). */
static int progress_init(progress *p)
{
    WRITE_SHARED(p->sleeping, 0);
    if (pthread_mutex_init(&p->lock, NULL) != 0)
        return -1;
    if (pthread_cond_init(&p->cond, NULL) != 0) {
        pthread_mutex_destroy(&p->lock);
        return -1;
    }
    return 0;
}

static void progress_destroy(progress *p)
{
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->lock);
}

/* Called after progress was published: wakes the waiter if it sleeps. */
static void progress_made(progress *p)
{
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&p->sleeping, memory_order_relaxed)) {
        pthread_mutex_lock(&p->lock);
        pthread_cond_signal(&p->cond);
        pthread_mutex_unlock(&p->lock);
    }
}

/* Returns once ready(ctx) is true. */
static void progress_wait(progress *p, int (*ready)(void *), void *ctx)
{
    for (int i = 0; i < 256; i++) {
        if (ready(ctx))
            return;
        sched_yield();
    }
    pthread_mutex_lock(&p->lock);
    atomic_store_explicit(&p->sleeping, 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_seq_cst);
    while (!ready(ctx))
        pthread_cond_wait(&p->cond, &p->lock);
    atomic_store_explicit(&p->sleeping, 0, memory_order_relaxed);
    pthread_mutex_unlock(&p->lock);
}
#endif

typedef struct {
    art_tree *tree; /* the pass's: empty until it succeeds */
    const art_file_header *h;
    void *nodes;
    unsigned options;
    const char *why;
    int result;
    void ***slots;            /* handed out so far, in order */
    SHARED(size_t) published; /* how many */
    SHARED(int) finished;     /* the pass is over: result and why are set */
    SHARED(int) stop;         /* the decoding failed: the pass should stop */
    int threaded;             /* the pass runs on a thread of its own */
#ifdef BLART_THREADS
    pthread_t thread;
    progress pass; /* wakes the decoding when it waits */
    size_t want;   /* the slot the decoding waits for */
#endif
} load_job;

/* The decoding waits a little behind the pass: it is woken every so many
   slots, not at each (a wake-up costs a fence). */
#define SLOTS_PER_WAKE 1024

static int publish_slot(void **slot, void *ctx)
{
    load_job *j = ctx;
    if (READ_SHARED(j->stop))
        return 1;
    /* At most h->count slots come (art.h), and slots has room for them. */
    size_t n = READ_SHARED(j->published);
    j->slots[n] = slot;
    WRITE_SHARED(j->published, n + 1);
#ifdef BLART_THREADS
    if (j->threaded && (n + 1) % SLOTS_PER_WAKE == 0)
        progress_made(&j->pass);
#endif
    return 0;
}

static void *run_pass(void *job)
{
    load_job *j = job;
    j->result = art_file_load(j->tree, j->h, j->nodes, j->options, publish_slot,
                              j, &j->why);
    WRITE_SHARED(j->finished, 1);
#ifdef BLART_THREADS
    if (j->threaded)
        progress_made(&j->pass);
#endif
    return NULL;
}

#ifdef BLART_THREADS
/* Whether the decoding can go on: slot j->want is out or the pass over. */
static int pass_ahead(void *job)
{
    load_job *j = job;
    return READ_SHARED(j->finished) || READ_SHARED(j->published) > j->want;
}
#endif

/* Decodes the slots as the pass hands them out; how many in *decoded.
   Returns 0 once the pass is over and every slot decoded, or -1 when a
   value fails to decode. */
static int decode_slots(load_job *j, blart_state *st,
                        const struct frozen_file *f, size_t *decoded)
{
    size_t i = 0;
    for (;;) {
        int over = READ_SHARED(j->finished);  /* before the count: */
        size_t n = READ_SHARED(j->published); /* then n is final */
        for (; i < n; i++) {
            void **slot = j->slots[i];
            PyObject *v = blart_decode_value(st, f, (uint64_t)(uintptr_t)*slot);
            if (v == NULL) {
                *decoded = i;
                return -1;
            }
            *slot = v;
        }
        if (over)
            break;
#ifdef BLART_THREADS
        j->want = i; /* every slot so far is decoded: wait for the next */
        progress_wait(&j->pass, pass_ahead, j);
#endif
    }
    *decoded = i;
    return 0;
}

/*
 * Makes the nodes at *nodes (h->nodes_size bytes from art_file_buffer)
 * the tree *t with f's values decoded, and the block *t's (*nodes set to
 * NULL).  Returns 0, or -1 with an exception: FormatError, MemoryError or
 * an error a value's decoding raised; *t is then empty and *nodes, unless
 * set to NULL (freed), still the caller's.
 */
static int load_nodes(blart_state *st, struct frozen_file *f,
                      const art_file_header *h, uint8_t **nodes, int str_keys,
                      art_tree *t)
{
    load_job j;
    size_t decoded = 0;
    memset(&j, 0, sizeof(j));
    j.tree = t;
    j.h = h;
    j.nodes = *nodes;
    j.options = str_keys ? ART_FILE_UTF8_KEYS : 0;
    WRITE_SHARED(j.published, 0);
    WRITE_SHARED(j.finished, 0);
    WRITE_SHARED(j.stop, 0);
    /* read_header bounds the count by the section's size. */
    j.slots = PyMem_Malloc(h->count ? (size_t)h->count * sizeof(void **) : 1);
    if (j.slots == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    art_tree_init(t);
    art_tree_set_buckets(t, st->bucket_keys, st->bucket_bytes);
#ifdef BLART_THREADS
    /* Not beside unpickling: it runs any code, which might fork. */
    if (!f->has_pickle && progress_init(&j.pass) == 0) {
        j.threaded = 1;
        if (pthread_create(&j.thread, NULL, run_pass, &j) != 0) {
            j.threaded = 0;
            progress_destroy(&j.pass);
        }
    }
#endif
    if (!j.threaded)
        run_pass(&j);
    int ok = decode_slots(&j, st, f, &decoded) == 0;
    if (!ok)
        WRITE_SHARED(j.stop, 1);
#ifdef BLART_THREADS
    if (j.threaded) {
        pthread_join(j.thread, NULL);
        progress_destroy(&j.pass);
    }
#endif
    if (j.result == ART_OK)
        *nodes = NULL; /* t's now */
    if (ok && j.result == ART_OK) {
        PyMem_Free(j.slots);
        return 0;
    }
    /* Give back the values decoded, then the tree, if the pass made one
       (its other slots still hold references: no callback). */
    for (size_t i = 0; i < decoded; i++)
        Py_DECREF((PyObject *)*j.slots[i]);
    PyMem_Free(j.slots);
    art_tree_clear(t, NULL, NULL);
    if (ok)
        blart_file_error(st, j.result, j.why, f->path);
    return -1;
}

const char blart_load_doc[] =
    "_load($cls, file, path, size, allow_pickle, /)\n--\n\n"
    "A new map of this class read from the binary file object file, open\n"
    "at offset 0, through its readinto (used by load(), which opens the\n"
    "file); path names it in errors, size is its size in bytes.";

/*
 * The checksum of a file being loaded: file[64:] (here its nodes, then its
 * values) followed by file[0:56].  A second thread sums the sections as
 * they are read, chunk by chunk: reading 56 MB and summing them take about
 * 7 and 6 ms.  Where no thread starts, sum_finish sums them after.
 */
typedef struct {
    const uint8_t *part[3]; /* nodes, values, the header */
    size_t len[3];          /* part[2] is 56 bytes, known from the start */
    SHARED(size_t) ready;   /* bytes of part[0], then part[1], read so far */
    SHARED(int) abandon;    /* the reading failed */
    uint64_t sum;
    int started;
#ifdef BLART_THREADS
    pthread_t thread;
    progress read; /* wakes the summing when it waits */
    size_t done;   /* bytes summed so far */
#endif
} sum_job;

#ifdef BLART_THREADS
/* Whether the summing can go on: more was read, or the reading failed. */
static int read_ahead(void *job)
{
    sum_job *j = job;
    return READ_SHARED(j->ready) > j->done || READ_SHARED(j->abandon);
}
#endif

static void *run_sum(void *job)
{
    sum_job *j = job;
    art_hash h;
    size_t done = 0, total = j->len[0] + j->len[1];
    art_hash_init(&h);
    while (done < total) {
        size_t ready = READ_SHARED(j->ready);
        if (ready == done) {
            if (READ_SHARED(j->abandon))
                return NULL;
#ifdef BLART_THREADS
            j->done = done; /* the reader is behind */
            progress_wait(&j->read, read_ahead, j);
#endif
            continue;
        }
        while (done < ready) {
            int i = done >= j->len[0];
            size_t off = i ? done - j->len[0] : done;
            size_t n = j->len[i] - off;
            if (n > ready - done)
                n = ready - done;
            art_hash_update(&h, j->part[i] + off, n);
            done += n;
        }
    }
    art_hash_update(&h, j->part[2], j->len[2]);
    j->sum = art_hash_final(&h);
    return NULL;
}

static void sum_start(sum_job *j)
{
    WRITE_SHARED(j->ready, 0);
    WRITE_SHARED(j->abandon, 0);
    j->started = 0;
#ifdef BLART_THREADS
    if (progress_init(&j->read) == 0) {
        j->started = pthread_create(&j->thread, NULL, run_sum, j) == 0;
        if (!j->started)
            progress_destroy(&j->read);
    }
#endif
}

/* Bytes read and counted in ready, or the reading failed. */
static void sum_progress(sum_job *j)
{
#ifdef BLART_THREADS
    if (j->started)
        progress_made(&j->read);
#else
    (void)j;
#endif
}

/* The sum, once every byte has been read. */
static uint64_t sum_finish(sum_job *j)
{
#ifdef BLART_THREADS
    if (j->started) {
        pthread_join(j->thread, NULL);
        progress_destroy(&j->read);
        j->started = 0;
        return j->sum;
    }
#endif
    run_sum(j);
    return j->sum;
}

/* The reading failed: the thread stops where it is. */
static void sum_abandon(sum_job *j)
{
    WRITE_SHARED(j->abandon, 1);
    sum_progress(j);
#ifdef BLART_THREADS
    if (j->started) {
        pthread_join(j->thread, NULL);
        progress_destroy(&j->read);
    }
#endif
    j->started = 0;
}

/* Reads exactly n bytes from the raw file f into p; -1 with an error.
   Each chunk read is counted in sj's ready (when sj is not NULL). */
static int read_exact(blart_state *st, PyObject *f, void *p, size_t n,
                      sum_job *sj)
{
    while (n) {
        /* Chunks small enough for the summing thread to follow closely. */
        Py_ssize_t chunk =
            n > (size_t)4 << 20 ? (Py_ssize_t)4 << 20 : (Py_ssize_t)n;
        PyObject *view = PyMemoryView_FromMemory(p, chunk, PyBUF_WRITE);
        if (view == NULL)
            return -1;
        PyObject *r = PyObject_CallMethod(f, "readinto", "(O)", view);
        Py_DECREF(view);
        if (r == NULL)
            return -1;
        Py_ssize_t got = PyLong_AsSsize_t(r);
        Py_DECREF(r);
        if (got < 0 && PyErr_Occurred())
            return -1;
        if (got <= 0) {
            PyErr_SetString(st->FormatError, "the file is shorter than it "
                                             "says (changed while read?)");
            return -1;
        }
        p = (uint8_t *)p + got;
        n -= (size_t)got;
        if (sj) {
            WRITE_SHARED(sj->ready, READ_SHARED(sj->ready) + (size_t)got);
            sum_progress(sj);
        }
    }
    return 0;
}

PyObject *blart_map_load(PyTypeObject *type, PyObject *const *args,
                         Py_ssize_t nargs)
{
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "_load expected 4 arguments");
        return NULL;
    }
    PyObject *f = args[0], *full = args[1];
    int flag;
    unsigned long long size = PyLong_AsUnsignedLongLong(args[2]);
    if ((size == (unsigned long long)-1 && PyErr_Occurred()) ||
        blart_as_flag(args[3], "allow_pickle", &flag) < 0)
        return NULL;
    blart_state *st = blart_state_of_type(type);
    if (st == NULL)
        return NULL;
    /* The file is read, not mapped: the nodes section goes straight into
       the block that becomes the tree's memory (art_file_load). */
    struct frozen_file ff;
    memset(&ff, 0, sizeof(ff));
    ff.allow_pickle = flag;
    ff.path = full; /* borrowed: named by errors */
    uint8_t head[ART_FILE_HEADER_SIZE];
    uint8_t *nodes = NULL, *values = NULL;
    MapObject *m = NULL;
    art_file_header h;
    art_tree local;
    const char *why = NULL;
    art_tree_init(&local);
    if (read_exact(st, f, head,
                   size < ART_FILE_HEADER_SIZE ? (size_t)size
                                               : ART_FILE_HEADER_SIZE,
                   NULL) < 0)
        goto done;
    if (art_file_read_header(head, size, &h, &why) != ART_OK)
        goto bad;
    nodes = art_file_buffer((size_t)h.nodes_size);
    values = PyMem_Malloc(h.values_size ? (size_t)h.values_size : 1);
    if (nodes == NULL || values == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    sum_job sj;
    memset(&sj, 0, sizeof(sj));
    sj.part[0] = nodes;
    sj.part[1] = values;
    sj.part[2] = head;
    sj.len[0] = (size_t)h.nodes_size;
    sj.len[1] = (size_t)h.values_size;
    sj.len[2] = 56;
    sum_start(&sj);
    if (read_exact(st, f, nodes, (size_t)h.nodes_size, &sj) < 0 ||
        read_exact(st, f, values, (size_t)h.values_size, &sj) < 0) {
        sum_abandon(&sj);
        goto done;
    }
    if (sum_finish(&sj) != h.checksum) {
        why = "checksum mismatch: the file is damaged";
        goto bad;
    }
    /* Only a file known to be undamaged is judged by its flags. */
    if (blart_check_sections(st, &ff, &h, values, full) < 0)
        goto done;
    int str_keys = (h.flags & FLAG_STR_KEYS) != 0;
    if (str_keys == PyType_IsSubtype(type, st->BytesTreeMap_Type)) {
        PyErr_Format(PyExc_ValueError, "%R holds %s keys: open it with %s.load",
                     full, str_keys ? "str" : "bytes",
                     str_keys ? "TreeMap" : "BytesTreeMap");
        goto done;
    }
    /* Into a tree nobody else sees: decoding values runs code. */
    if (load_nodes(st, &ff, &h, &nodes, str_keys, &local) < 0)
        goto done;
    m = blart_map_alloc(type, st, !(h.flags & FLAG_STR_KEYS));
    if (m)
        art_tree_move(&m->tree, &local);
    goto done;
bad:
    PyErr_Format(st->FormatError, "%R is not a valid blart file: %s", full,
                 why);
done:
    art_tree_clear(&local, blart_release_value, NULL);
    art_file_buffer_free(nodes);
    PyMem_Free(values);
    return (PyObject *)m;
}
