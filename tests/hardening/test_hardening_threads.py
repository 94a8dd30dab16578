"""Several threads on one map at once (GIL build).

Every single operation runs in C without releasing the GIL, except where it
calls back into Python (releasing a value, comparing values); the values
used here have a ``__del__`` written in Python, so threads also switch in
the middle of inserts, deletes and clears.  A short switch interval makes
switches frequent.

Each writer thread owns a key space (its keys share inner nodes with the
other writers' keys, so nodes grow and shrink under everyone) and keeps a
dict of what it wrote; a set of stable keys is never deleted.  Afterwards
the tree is valid, every writer finds exactly its dict in the map, and
every stable key is there with its value.  Readers check on every pass what
must hold at any moment: iteration strictly ordered, no repeat, no stable
key skipped, queries over the stable keys exact.

Bounded: each thread stops after a fixed number of operations or when the
test's time budget is spent, whichever comes first.  What a test asserts
about the run itself holds by construction, not by the scheduler's luck:
the writers of the first test work in rounds separated by a barrier, so
they interleave at least once per round and always do a minimum number of
rounds whatever the budget; the consumers of a shared iterator drain it
whatever the budget.  The counts reached are printed at the end of the
module (visible with ``pytest -s``).
"""

import pickle
import random
import sys
import threading
import time

import pytest
from blart._blart import _live_allocations
from support import check_consistent

from blart import BytesTreeMap, TreeMap

WRITERS = 4
READERS = 2
OPS_PER_WRITER = 6000
# Writers work in rounds of ROUND_OPS operations each, all of them waiting
# at a barrier before the next round; they stop together, after at least
# MIN_ROUNDS rounds, once the budget is spent (or after OPS_PER_WRITER).
ROUND_OPS = 16
MIN_ROUNDS = 40
PASSES_PER_READER = 150
TIME_BUDGET = 4.0  # seconds per test, a bound; the counts are the goal

FIGURES = {}


@pytest.fixture(scope="module", autouse=True)
def report_figures():
    yield
    lines = [f"  {name}: {count}" for name, count in sorted(FIGURES.items())]
    print("\nthread-stress operations:\n" + "\n".join(lines))


@pytest.fixture(autouse=True)
def fast_switching():
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        yield
    finally:
        sys.setswitchinterval(old)


class Val:
    """A value whose release runs Python code (a possible thread switch)."""

    released = 0

    def __init__(self, tag):
        self.tag = tag

    def __del__(self):
        Val.released += 1
        if Val.released % 8 == 0:
            # Let another thread run while a C operation releases a value.
            time.sleep(0)

    def __repr__(self):
        return f"Val({self.tag!r})"


STABLE_TEXTS = [f"s{i:04d}" for i in range(0, 3000, 7)]


def writer_keys(t):
    # "w" + 2 digits + a character per thread band: each "wNN" node holds
    # children of all four writers (up to 80: Node256 at peak).
    return [f"w{j % 40:02d}" + chr(0x30 + t * 20 + j // 40) for j in range(800)]


def run_threads(targets, budget=TIME_BUDGET):
    errors = []
    start = threading.Barrier(len(targets))
    deadline = [None]

    def wrap(fn):
        def body():
            try:
                start.wait()
                if deadline[0] is None:
                    deadline[0] = time.monotonic() + budget
                fn(lambda: time.monotonic() < deadline[0])
            except BaseException as e:
                errors.append(e)

        return body

    threads = [threading.Thread(target=wrap(fn)) for fn in targets]
    for th in threads:
        th.start()
    for th in threads:
        th.join(budget + 60)
    assert not any(th.is_alive() for th in threads), "a thread is stuck"
    # A thread that fails breaks the writers' barrier: the others' errors
    # then only say so.
    real = [e for e in errors if not isinstance(e, threading.BrokenBarrierError)]
    if errors:
        raise (real or errors)[0]


class Rounds:
    """The writers' rounds: a barrier all of them pass between rounds.

    Each round, every writer does its ROUND_OPS operations before any
    starts the next, so in the order the operations happen each round
    holds operations of all the writers: at least WRITERS - 1 switches
    between writers per round.  Whether to go on is decided once per round
    for all (by the barrier's action), so no writer is left waiting for one
    that stopped.
    """

    def __init__(self):
        self.rounds = 0
        self.go_on = True
        self.in_time = None  # the budget's clock, set by the writers
        # The timeout only turns a bug (a writer that never arrives) into
        # an error instead of a hang.
        self.barrier = threading.Barrier(WRITERS, action=self._decide, timeout=60)

    def _decide(self):
        self.rounds += 1
        more = self.rounds * ROUND_OPS < OPS_PER_WRITER
        self.go_on = more and (self.rounds < MIN_ROUNDS or self.in_time())

    def next_round(self):
        """Waits for the other writers; whether to do another round."""
        self.barrier.wait()
        return self.go_on

    def abort(self):
        self.barrier.abort()


def make_writer(kind, m, t, model, counts, timeline, rounds):
    keys = [kind.k(x) for x in writer_keys(t)]
    rng = random.Random(1000 + t)

    def work(in_time):
        rounds.in_time = in_time
        try:
            n = 0
            while True:
                for _ in range(ROUND_OPS):
                    one_op(n)
                    n += 1
                if not rounds.next_round():
                    break
            counts[f"writer{t}"] = n
        except BaseException:
            rounds.abort()
            raise

    def one_op(n):
        key = rng.choice(keys)
        op = rng.randrange(10)
        if op < 3:
            v = Val((t, n))
            m[key] = v
            model[key] = v
        elif op == 3:
            v = Val((t, n))
            old = m.insert(key, v)
            assert old is model.get(key)
            model[key] = v
        elif op == 4:
            v = Val((t, n))
            got = m.setdefault(key, v)
            model.setdefault(key, v)
            assert got is model[key]
        elif op < 7:
            if key in model:
                del m[key]
                del model[key]
            else:
                with pytest.raises(KeyError):
                    del m[key]
        elif op == 7:
            assert m.pop(key, None) is model.pop(key, None)
        elif op == 8:
            batch = {k: Val((t, n, i)) for i, k in enumerate(rng.sample(keys, 10))}
            m.update(batch)
            model.update(batch)
        else:
            assert m.get(key) is model.get(key)
        timeline.append(t)
        if n % 16 == 15:
            time.sleep(0)  # a switch point between operations too

    return work


def make_reader(kind, m, r, stable, counts):
    k = kind.k
    stable_keys = sorted(stable)
    stable_set = set(stable_keys)
    # Same length: within one edit means at most one differing position.
    fuzzy_expect = [x for x in stable_keys if sum(a != b for a, b in zip(x, k("s0007"))) <= 1]

    def work(in_time):
        n = 0
        while n < PASSES_PER_READER and in_time():
            which = (n + r) % 8
            if which == 0:
                keys = list(m)
                assert all(a < b for a, b in zip(keys, keys[1:]))
                assert stable_set <= set(keys)
            elif which == 1:
                keys = list(reversed(m.keys()))
                assert all(a > b for a, b in zip(keys, keys[1:]))
                assert stable_set <= set(keys)
            elif which == 2:
                got = list(m.prefix_iter(k("s")))
                assert got == [(x, stable[x]) for x in stable_keys]
            elif which == 3:
                got = [x for x, _ in m.range(k("s"), k("t"), reverse=True)]
                assert got == stable_keys[::-1]
            elif which == 4:
                # Writers' keys are 4 symbols long and start with "w": none
                # is within one edit of "s0007"; the stable ones are fixed.
                got = [x for x, _, _ in m.fuzzy_search(k("s0007"), 1)]
                assert got == fuzzy_expect
            elif which == 5:
                c = m.copy()
                c._validate()
                assert all(c[x] is stable[x] for x in stable_keys)
            elif which == 6:
                for x in stable_keys[::25]:
                    assert m.floor(x) == (x, stable[x])
                    assert m.get(x) is stable[x]
                    assert x in m
                assert len(m) >= len(stable_keys)
            else:
                back = pickle.loads(pickle.dumps(m.copy()))
                assert all(back[x].tag == stable[x].tag for x in stable_keys)
            n += 1
        counts[f"reader{r}"] = n

    return work


def check_final(kind, m, stable, models):
    check_consistent(m)
    for x, v in stable.items():
        assert m[x] is v, f"stable key {x!r} lost or changed"
    for t, model in enumerate(models):
        own = {kind.k(x) for x in writer_keys(t)}
        mine = {x: v for x, v in m.items() if x in own}
        assert mine.keys() == model.keys(), f"writer {t}: keys differ"
        assert all(mine[x] is model[x] for x in model), f"writer {t}: values differ"
    everything = set(stable)
    for model in models:
        everything |= model.keys()
    assert set(m) == everything


def test_writers_and_readers_on_one_map(kind):
    stable = {kind.k(x): Val(x) for x in STABLE_TEXTS}
    m = kind.cls(stable)
    models = [{} for _ in range(WRITERS)]
    counts = {}
    timeline = []
    rounds = Rounds()
    targets = [make_writer(kind, m, t, models[t], counts, timeline, rounds) for t in range(WRITERS)]
    targets += [make_reader(kind, m, r, stable, counts) for r in range(READERS)]
    run_threads(targets)
    check_final(kind, m, stable, models)
    total = sum(counts.values())
    FIGURES[f"{kind.name}: writers+readers (ops, passes)"] = total
    # Every writer got well into its work: MIN_ROUNDS rounds at least.
    assert all(counts[f"writer{t}"] >= 500 for t in range(WRITERS)), counts
    # The writers really ran interleaved, not one after the other: at
    # least WRITERS - 1 switches per round.
    switches = sum(a != b for a, b in zip(timeline, timeline[1:]))
    FIGURES[f"{kind.name}: writer thread switches observed"] = switches
    assert switches >= 100, switches


def test_writers_with_clear_and_pop_edges_on_a_second_map(kind):
    """One thread clears and refills a map, another pops from both ends,
    two iterate it: only consistency can be checked, and that the map is
    valid and keeps working afterwards."""
    m = kind.cls({kind.k(f"c{i:04d}"): Val(i) for i in range(500)})
    counts = {}

    def clearer(in_time):
        n = 0
        while n < 300 and in_time():
            m.clear()
            m.update({kind.k(f"c{i:04d}"): Val(i) for i in range(0, 500, 1 + n % 5)})
            n += 1
        counts["clearer"] = n

    def popper(in_time):
        n = 0
        while n < 5000 and in_time():
            item = m.pop_first() if n % 2 else m.pop_last()
            if item is not None:
                assert type(item[0]) is (bytes if kind.is_bytes else str)
            if n % 3 == 0:
                m[kind.k(f"c{n % 500:04d}")] = Val(n)
            n += 1
        counts["popper"] = n

    def iterator(in_time, reverse=False):
        n = 0
        while n < 400 and in_time():
            keys = list(reversed(m) if reverse else m)
            pairs = zip(keys, keys[1:])
            assert all((a > b) if reverse else (a < b) for a, b in pairs)
            n += 1
        counts[f"iterator{int(reverse)}"] = n

    run_threads([clearer, popper, iterator, lambda t: iterator(t, True)])
    check_consistent(m)
    m[kind.k("after")] = 1
    assert m[kind.k("after")] == 1
    check_consistent(m)
    FIGURES[f"{kind.name}: clear/pop/iterate (ops, passes)"] = sum(counts.values())


def test_iterator_shared_between_threads(kind):
    """Four threads pull from one iterator while a fifth changes other
    keys: no key comes out twice, none present throughout is skipped, each
    thread sees increasing keys."""
    stable = [kind.k(f"s{i:05d}") for i in range(20000)]
    m = kind.cls.fromkeys(stable, 0)
    it = iter(m)
    got = [[] for _ in range(4)]
    refused = [0]

    def consumer(i):
        # Not bounded by the budget: the iterator must be drained for the
        # checks below to hold (20000 keys, a second or so).
        def work(in_time):
            while True:
                try:
                    key = next(it)
                except StopIteration:
                    return
                except RuntimeError as e:  # another thread is inside next()
                    assert "already executing" in str(e)
                    refused[0] += 1
                    continue
                got[i].append(key)

        return work

    def mutator(in_time):
        n = 0
        while n < 20000 and in_time():
            key = kind.k(f"s{(n * 7919) % 20000:05d}x")
            m[key] = Val(n)
            if n % 2:
                del m[key]
            n += 1

    run_threads([consumer(i) for i in range(4)] + [mutator], budget=8.0)
    for g in got:
        assert all(a < b for a, b in zip(g, g[1:]))
    everything = [key for g in got for key in g]
    assert len(everything) == len(set(everything)), "a key came out twice"
    assert set(stable) <= set(everything), "a key present throughout was skipped"
    assert all(key in m for key in everything if not key.endswith(kind.k("x")))
    check_consistent(m)
    FIGURES[f"{kind.name}: shared iterator next() calls"] = len(everything) + refused[0]


def test_threads_with_their_own_maps_leave_no_c_allocations():
    """The C library's allocation counter is shared by all trees: threads
    building and dropping maps at once must leave it where it started."""
    import gc

    gc.collect()
    start = _live_allocations()
    counts = {}

    def worker(i):
        def work(in_time):
            n = 0
            while n < 60 and in_time():
                cls = TreeMap if i % 2 else BytesTreeMap
                k = (lambda s: s) if cls is TreeMap else (lambda s: s.encode())
                m = cls({k(f"{i}-{j:04d}"): j for j in range(300)})
                it = m.prefix_iter(k(f"{i}-00"))
                next(it)
                c = m.copy()
                for j in range(0, 300, 2):
                    del c[k(f"{i}-{j:04d}")]
                list(m.fuzzy_search(k(f"{i}-0100"), 1))
                del m, c, it
                n += 1
            counts[i] = n

        return work

    run_threads([worker(i) for i in range(4)])
    gc.collect()
    assert _live_allocations() == start
    FIGURES["own maps per thread (maps built)"] = sum(counts.values())
