"""Time-ordered keys: windows, neighbours and retention over a log.

ISO 8601 timestamps written in one format and one time zone sort as text in
the order of time, so a TreeMap keyed by them is a time index.
Run it with ``python examples/range_queries.py``.
"""

from datetime import datetime, timedelta
from itertools import islice

from blart import TreeMap

MESSAGES = ["login alice", "deploy v2.3", "disk 91% full", "backup done", "login bob"]

# A day and a half of events at irregular times, inserted in no particular order.
start = datetime(2024, 3, 1, 18, 0)
log: TreeMap[str] = TreeMap()
for i in reversed(range(40)):
    moment = start + timedelta(minutes=47 * i + (i * i) % 13)
    log[moment.isoformat(timespec="minutes")] = MESSAGES[i % len(MESSAGES)]
print(f"{len(log)} events from {next(iter(log))} to {next(reversed(log))}")

# A window: start included, stop excluded, the way range() works by default.
print("\nbetween 09:00 and 11:00 on March 2:")
for when, message in log.range("2024-03-02T09:00", "2024-03-02T11:00"):
    print(f"  {when}  {message}")

# A whole day is a prefix, or equally the range [day, next day).
day = "2024-03-02"
by_prefix = sum(1 for _ in log.prefix_iter(day))
by_range = sum(1 for _ in log.range(day, "2024-03-03"))
print(f"\nevents on {day}: {by_prefix} by prefix, {by_range} by range")

# Neighbours of an instant with no event of its own...
now = "2024-03-02T10:30"
print(f"\nat {now}:")
print("  latest event at or before (floor):", log.floor(now))
print("  next event at or after (ceiling): ", log.ceiling(now))
# ...and of one with an event: lower() and higher() exclude the key itself.
at = "2024-03-02T10:39"
print(f"at {at}:")
for query in (log.floor, log.lower, log.higher):
    print(f"  {query.__name__}: {query(at)}")

# Backwards from a point in time: the last three events before noon.
before_noon = islice(log.range(stop="2024-03-02T12:00", reverse=True), 3)
print("\nlast 3 events before noon:", [when for when, _ in before_noon])

# inclusive=(include start, include stop): the default is (True, False).
first, last = "2024-03-02T09:50", "2024-03-02T11:17"
for inclusive in [(True, False), (True, True), (False, True)]:
    times = [when[11:] for when, _ in log.range(first, last, inclusive=inclusive)]
    print(f"09:50 to 11:17, inclusive={inclusive}: {times}")

# Retention: drop everything older than a cutoff from the front of the index.
cutoff = "2024-03-02T00:00"
expired = 0
while (oldest := log.first()) is not None and oldest[0] < cutoff:
    log.pop_first()
    expired += 1
print(f"\nexpired {expired} events before {cutoff}; {len(log)} remain, oldest {log.first()}")
