"""Placement policies as small named pieces, over an index of every host's free capacity: a
filter (can this host take the instance now? ``fits``, with a down host and a tenant mask
filtered out beside it), weighers (which of those is best? ``Weigher``: the tightest, the
loosest, the most of the image held), and named presets that put them together (``PRESETS``,
one entry per policy; ``POLICIES`` their names). An unknown name fails with the valid ones.

Owns: the policies' rules, the choice of a host, and the index that makes it cheap. Must not:
change hosts; the cluster allocates on the host chosen and tells the index
(``CapacityIndex.update``).

Two ways to the same choice:

* ``Placement.scan``, the reference: every candidate host's free capacity sits in NumPy arrays
  and one vectorized pass filters and weighs them all (ties to the lower host index). Its cost
  grows with the host count.
* ``Placement.choose``: hosts of one group whose free memory, vCPU, disk, partitions and
  claimed layers are equal are interchangeable for every policy (same filter result, same
  weight), so the index keeps them in one *bucket*, a sorted list of host indexes keyed by
  that state. A bucket's weight for a request depends only on its state, so it is worked out
  once; per request kind and group, an *order* keeps the buckets that fit in the policy's
  order (best first; ties to the lower host index: a heap with lazy removal). Every bucket
  that fills or takes a lower host goes in its group's *log* (``Changes``); an order reads
  the log when it is next asked for, and adds those of the buckets still as they were logged
  (a host's bucket logged and left again before then costs that order nothing); the entries of a
  bucket that empties are left behind (its stamp is new), and a bucket whose lowest host
  leaves keeps its entry, which the order re-keys when it reaches the head. A decision reads
  the head of each group's order: O(log buckets) amortized per change and per decision,
  whatever the host count and however many hosts are part full.
  The arithmetic is the scan's, operation for operation, so the host chosen is the same.
  ``random`` keeps instead, per request kind and group, a *census*: the hosts that fit, as a
  sorted list (``sortedcontainers``), told of every host whose bucket changes whether it fits;
  the k-th host that fits, in index order, is the scan's k-th: O(log hosts) per change and per
  decision. A per-host mask scans.
"""

from __future__ import annotations

import heapq
import itertools
import math
from bisect import bisect_left, insort
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, TypeVar

import numpy as np
from sortedcontainers import SortedList

from sim.model.host import Host
from sim.spec.demand import Demand, Layer

# Orders (or censuses) kept per group (one per kind of request placed lately); the least
# recently used is dropped beyond this many (traces with many instance sizes), and rebuilt if
# asked for again.
_MAX_ORDERS = 64
# An order left unread while its group's log took more changes than the group has buckets,
# plus this many, is dropped and rebuilt when next asked for: the rebuild weighs each bucket
# at most once, no more than reading the log would (a trace's rare instance sizes are asked
# for a few times a day). A census, whose rebuild takes each host, is dropped after more host
# moves than its group has hosts.
_IDLE_SLACK = 64
# Empty buckets (with their cached key prefixes) kept aside per group for when a host returns to
# their state; beyond this many they are forgotten.
_KEEP_EMPTY = 64

# (request, claimed layers) pairs whose image bytes ``Placement._bytes`` remembers; beyond
# this many (images pulled and collected on many hosts) it starts again.
_MAX_LAYER_SETS = 4096

# Candidate sets remembered by ``CapacityIndex.groups_of`` (one per workload is typical).
_COVER_CACHE = 256

# What a bucket's weight is cached as when its hosts cannot take the request.
_NO_FIT = (-1.0, -1.0)

# Buckets' stamps (``Bucket.stamp``): unique across buckets and groups.
_STAMPS = itertools.count(1)

# (free memory, free vCPU, free partitions, free disk, claimed layer keys)
StateKey = tuple[float, float, float, float, frozenset[str]]


# The policies: one filter, a few weighers, and the presets that name them. The filter and the
# tightness measure each come in two forms, the same comparisons and arithmetic: for one host
# (the index's buckets; short-circuit, as it runs a dozen times per request in a trace replay)
# and for arrays of hosts (the scan). A test holds the two forms to each other.


def fits(need: Demand, memory: float, vcpu: float, partitions: float, disk: float,
         missing: float) -> bool:
    """The filter: whether a host with this much free memory, vCPU, partitions and disk can
    take ``need`` and the image bytes it still lacks (``missing``).

    Hosts that are down (after a fault) or hold their group's ``max_instances`` are filtered
    out beside it: a bucket holds such a host's free memory as minus infinity, and the scan
    reads ``CapacityIndex.up``; so are the
    hosts a tenant mask (``allowed``) excludes, which the scan reads.
    """
    return (need.memory <= memory + 1e-6 and need.vcpu <= vcpu + 1e-9
            and need.partition <= partitions and need.disk_private + missing <= disk + 1e-6)


def fits_each(need: Demand, memory: np.ndarray, vcpu: np.ndarray, partitions: np.ndarray,
              disk: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """``fits`` for arrays of hosts: a boolean per host."""
    return ((need.memory <= memory + 1e-6) & (need.vcpu <= vcpu + 1e-9)
            & (need.partition <= partitions) & (need.disk_private + missing <= disk + 1e-6))


def tightness(need: Demand, memory: float, vcpu: float, memory_capacity: float,
              vcpu_capacity: float) -> float:
    """How full a host would be with ``need`` placed on it: the larger of its memory's and its
    vCPU's shares of their capacities (from the free memory and vCPU before)."""
    return max(1.0 - (memory - need.memory) / memory_capacity,
               1.0 - (vcpu - need.vcpu) / vcpu_capacity)


def tightness_each(need: Demand, memory: np.ndarray, vcpu: np.ndarray,
                   memory_capacity: np.ndarray, vcpu_capacity: np.ndarray) -> np.ndarray:
    """``tightness`` for arrays of hosts."""
    return np.maximum(1.0 - (memory - need.memory) / memory_capacity,
                      1.0 - (vcpu - need.vcpu) / vcpu_capacity)


# What a weigher reads of a host that fits (``Placement._weigh`` and ``Placement.scan`` work
# them out; the first gives them in the order of ``MEASURES``)
Measure = Literal["local", "tightness"]
MEASURES: tuple[Measure, ...] = ("local", "tightness")
# A bucket's key in an order (smaller first), from its measures
KeyFunction = Callable[[tuple[float, ...]], tuple[float, ...]]


@dataclass(frozen=True)
class Weigher:
    """How good a host that fits is, by one measure: ``"tightness"`` (see ``tightness``) or
    ``"local"`` (the bytes of the request's image it already holds); ``most`` is whether more
    of it is better."""

    measure: Measure
    most: bool

    def part(self) -> Callable[[tuple[float, ...]], float]:
        """This weigher's part of a bucket's key (smaller first), from its measures."""
        i = MEASURES.index(self.measure)
        return (lambda measured: -measured[i]) if self.most else (lambda measured: measured[i])


TIGHTEST = Weigher("tightness", most=True)  # the fullest after placing: packs hosts
LOOSEST = Weigher("tightness", most=False)  # the emptiest after placing: spreads the load
MOST_LOCAL = Weigher("local", most=True)  # the fewest image bytes to pull


@dataclass(frozen=True)
class Preset:
    """A placement policy: its weighers in turn (each breaks the ties of those before it; the
    lower host index breaks the last ties, and all ties when there is none), or, with
    ``draw``, a host drawn uniformly among those that fit. Every preset uses the one filter
    (``fits``, ``fits_each``)."""

    weighers: tuple[Weigher, ...] = ()
    draw: bool = False

    def key_function(self) -> KeyFunction:
        """The key of a bucket in an order, from its measures (in the order of ``MEASURES``):
        the weighers' parts in turn. It runs once per bucket state and kind of request (a
        trace replay: a dozen times per request), so it is built once, as a plain function:
        with one weigher, without a call per part."""
        if not self.weighers:
            return lambda measured: ()
        if len(self.weighers) == 1:
            (only,) = self.weighers
            i = MEASURES.index(only.measure)
            if only.most:
                return lambda measured: (-measured[i],)
            return lambda measured: (measured[i],)
        parts = [w.part() for w in self.weighers]
        if len(parts) == 2:
            first, second = parts
            return lambda measured: (first(measured), second(measured))
        return lambda measured: tuple([part(measured) for part in parts])

    def pick(self, measures: dict[Measure, np.ndarray]) -> int:
        """The position, among hosts that fit in index order, of the first of the best by the
        weighers, from their ``measures`` (there must be a weigher and a host): each weigher
        but the last keeps only the hosts best by it; the last takes its first best."""
        kept: np.ndarray | None = None  # positions still in the running (None: all)
        for w in self.weighers[:-1]:
            values = measures[w.measure] if kept is None else measures[w.measure][kept]
            best = values == (values.max() if w.most else values.min())
            kept = np.flatnonzero(best) if kept is None else kept[best]
        last = self.weighers[-1]
        values = measures[last.measure] if kept is None else measures[last.measure][kept]
        pick = int(np.argmax(values) if last.most else np.argmin(values))
        return pick if kept is None else int(kept[pick])


# The named presets (the scenario's ``placement``); adding a policy is one entry here (and its
# name in ``sim.spec.config.PlacementName``).
PRESETS: Mapping[str, Preset] = MappingProxyType({
    "first-fit": Preset(),  # the lowest host index that fits
    "best-fit": Preset((TIGHTEST,)),
    "spread": Preset((LOOSEST,)),
    "random": Preset(draw=True),
    "image-locality": Preset((MOST_LOCAL, TIGHTEST)),  # most of the image here, then best fit
})
POLICIES = tuple(PRESETS)


def preset(policy: str) -> Preset:
    """The preset named ``policy``.

    Raises:
        ValueError: no preset has that name (the message lists those that do).
    """
    found = PRESETS.get(policy)
    if found is None:
        raise ValueError(f"unknown placement {policy!r}; one of {', '.join(PRESETS)}")
    return found


@dataclass(eq=False)
class Bucket:
    """Hosts of one group in the same state: ``members`` are their indexes negated, in
    ascending order (the lowest host last: the hosts the policies take first leave from the
    end of the list, in O(1)); ``prefixes`` caches, per request token, the start of the
    bucket's key in the policy's order (see ``Placement._prefix``) or ``_NO_FIT``; ``stamp``
    tells which of its entries in the orders stands."""

    key: StateKey
    members: list[int] = field(default_factory=list)
    prefixes: dict[int, tuple[float, ...]] = field(default_factory=dict)
    stamp: int = 0  # new whenever it fills, empties or takes a lower host (see ``Order``)

    @property
    def first(self) -> int:
        """The lowest host index in the bucket (it must not be empty)."""
        return -self.members[-1]


# A bucket that filled or took a lower host, with its new stamp: (group, bucket)
Watcher = Callable[[int, Bucket], None]
# A host that moved between buckets: (group, host index, bucket before, bucket after)
Mover = Callable[[int, int, Bucket, Bucket], None]


class CapacityIndex:
    """Every host's free memory, vCPU, disk and partitions as arrays, per image chain the bytes
    each host still lacks and already holds (up to date after ``refresh``), and the hosts
    bucketed by state per group (always up to date)."""

    def __init__(self, hosts: list[Host]) -> None:
        self.hosts = hosts
        self.memory = np.array([h.memory_free for h in hosts], dtype=float)
        self.up = np.array([h.placeable for h in hosts], dtype=bool)  # not down, not full
        self.vcpu = np.array([h.vcpu_free for h in hosts], dtype=float)
        self.disk = np.array([h.disk_free for h in hosts], dtype=float)
        self.partitions = np.array([h.partitions_free for h in hosts], dtype=float)
        self.memory_capacity = np.array([h.memory_capacity for h in hosts], dtype=float)
        self.vcpu_capacity = np.array([h.vcpu_capacity for h in hosts], dtype=float)
        self._chains: dict[str, tuple[list[Layer], np.ndarray, np.ndarray]] = {}
        groups = sorted({h.group_index for h in hosts})
        self.group_hosts: dict[int, list[int]] = {g: [] for g in groups}
        self.buckets: dict[int, dict[StateKey, Bucket]] = {g: {} for g in groups}  # non-empty
        self._spare: dict[int, dict[StateKey, Bucket]] = {g: {} for g in groups}  # empty
        start: dict[tuple[int, StateKey], list[int]] = {}  # hosts in index order, by bucket
        for h in hosts:
            start.setdefault((h.group_index, _state(h)), []).append(h.index)
            self.group_hosts[h.group_index].append(h.index)
        where: dict[int, Bucket] = {}
        for (g, key), members in start.items():
            bucket = self.buckets[g][key] = Bucket(key, sorted(-i for i in members),
                                                   stamp=next(_STAMPS))
            where.update(dict.fromkeys(members, bucket))
        self._where = [where[h.index] for h in hosts]  # each host's bucket
        self.cover_cache: dict[int, tuple[Any, list[int] | None]] = {}
        self._stale: set[int] = set()  # hosts changed since the arrays were refreshed
        # told of each bucket that fills or takes a lower host (not of one that empties, nor
        # of one whose lowest host leaves: see ``Order``)
        self.watchers: list[Watcher] = []
        self.movers: list[Mover] = []  # told of each host that changes bucket
        # every group's hosts come after the previous group's (as the cluster builds them):
        # then the hosts of groups taken in group order are in index order
        spans = [(min(ids), max(ids)) for _, ids in sorted(self.group_hosts.items()) if ids]
        self.groups_in_order = all(a[1] < b[0] for a, b in itertools.pairwise(spans))

    def refresh(self) -> None:
        """Bring the arrays up to date with the hosts changed since (every reader of the
        arrays calls it first: a host changes many times between two reads)."""
        hosts = self.hosts
        for i in self._stale:
            host = hosts[i]
            self.memory[i] = host.memory_free
            self.up[i] = host.placeable
            self.vcpu[i] = host.vcpu_free
            self.disk[i] = host.disk_free
            self.partitions[i] = host.partitions_free
            for layers, missing, local in self._chains.values():
                missing[i] = host.missing_bytes(layers)
                local[i] = host.local_bytes(layers)
        self._stale.clear()

    def chain(self, key: str, layers: list[Layer]) -> tuple[np.ndarray, np.ndarray]:
        """(missing bytes, local bytes) of an image chain on every host."""
        self.refresh()
        if key not in self._chains:
            missing = np.array([h.missing_bytes(layers) for h in self.hosts], dtype=float)
            local = np.array([h.local_bytes(layers) for h in self.hosts], dtype=float)
            self._chains[key] = (layers, missing, local)
        _, missing, local = self._chains[key]
        return missing, local

    def update(self, host: Host) -> None:
        """``host``'s free capacity (or the layers it claims) changed: move it to the bucket
        of its new state (and into the arrays at the next ``refresh``)."""
        i = host.index
        self._stale.add(i)
        key = (host.memory_free if host.placeable else -math.inf,  # _state, inline
               host.vcpu_free, host.partitions_free, host.disk_free,
               host.claimed_key or host.claimed_layers())
        left = self._where[i]
        old = left.key
        if key == old:
            return
        g = host.group_index
        group = self.buckets[g]
        members = left.members
        del members[bisect_left(members, -i)]
        if not members:  # emptied: kept aside with its cached prefixes, a few at most
            del group[old]
            spare = self._spare[g]
            if len(spare) >= _KEEP_EMPTY:
                spare.clear()
            spare[old] = left
            left.stamp = next(_STAMPS)  # its entries in the orders no longer stand
        # a bucket whose lowest host left keeps its stamp: its entries in the orders hold a
        # lowest host below its own, and an order re-keys the entry when it reaches the head
        joined = group.get(key)
        if joined is None:  # a bucket kept aside when it emptied, or a new one
            kept: Bucket | None = self._spare[g].pop(key, None)
            joined = group[key] = kept if kept is not None else Bucket(key)
        self._where[i] = joined
        members = joined.members
        before = -members[-1] if members else None
        insort(members, -i)
        if before != -members[-1]:  # filled, or a lower host
            joined.stamp = next(_STAMPS)
            for watch in self.watchers:
                watch(g, joined)
        for move in self.movers:
            move(g, i, left, joined)

    def groups_of(self, candidates: np.ndarray | slice) -> list[int] | None:
        """The groups whose hosts are exactly ``candidates``, or None when the candidates
        split a group (cached per candidates object)."""
        cached = self.cover_cache.get(id(candidates))
        if cached is not None and cached[0] is candidates:
            return cached[1]
        wanted = np.arange(len(self.hosts))[candidates].tolist()
        groups = sorted({self.hosts[i].group_index for i in wanted})
        covered = sorted(i for g in groups for i in self.group_hosts[g])
        result = groups if covered == wanted else None
        if len(self.cover_cache) >= _COVER_CACHE:
            self.cover_cache.clear()
        self.cover_cache[id(candidates)] = (candidates, result)  # holds it, so the id stays its own
        return result


def _state(host: Host) -> StateKey:
    """What the policies see of a host besides its group (as the arrays hold it)."""
    memory = host.memory_free if host.placeable else -math.inf  # down or full: no fit
    return (memory, host.vcpu_free, host.partitions_free, host.disk_free,
            host.claimed_layers())


@dataclass(eq=False)
class Order:
    """The buckets of one group that fit one kind of request, best first under the policy:
    a heap of entries ``(*policy key, lowest host, stamp, bucket)`` (the lowest host breaks
    ties; stamps are unique, so two entries never compare their buckets).

    An entry stands while its stamp is its bucket's: a bucket that fills, empties or takes a
    lower host takes a new stamp (``CapacityIndex.update``), which leaves its entries in every
    order behind at once. Those are dropped when they reach the top, or all at once when the
    heap holds more than twice as many entries as the group has buckets (of which at most one
    entry each stands). A bucket whose lowest host leaves keeps its stamp: its
    standing entry then holds a lowest host below the bucket's, a key that comes no later
    than its own. So when the head stands and holds its bucket's lowest host, no other entry's
    bucket can come before it; when it holds a lower one, it is re-keyed in place and the heap
    read again (``best``)."""

    need: Demand
    chain: list[Layer]
    heap: list[tuple[Any, ...]] = field(default_factory=list)
    read: int = 0  # how far into its group's log (``Changes``) it has read

    def add(self, prefix: tuple[float, ...], bucket: Bucket) -> None:
        """``bucket`` (not empty, with its new stamp) stands in the order under ``prefix``."""
        heapq.heappush(self.heap, (*prefix, -bucket.members[-1], bucket.stamp, bucket))

    def best(self) -> tuple[Any, ...] | None:
        """The standing entry first in the order, with its bucket's lowest host, or None."""
        heap = self.heap
        while heap:
            head = heap[0]  # (*prefix, lowest host, stamp, bucket)
            bucket = head[-1]
            if head[-2] != bucket.stamp:  # left behind
                heapq.heappop(heap)
            elif head[-3] != -bucket.members[-1]:  # its lowest host has left: re-keyed
                heapq.heapreplace(heap, (*head[:-3], -bucket.members[-1], head[-2], bucket))
            else:
                return head
        return None

    def compact(self) -> None:
        """Drop the entries left behind."""
        self.heap = [entry for entry in self.heap if entry[-2] == entry[-1].stamp]
        heapq.heapify(self.heap)


@dataclass(eq=False)
class Changes:
    """One group's log of the buckets that filled or took a lower host, each with the stamp it
    took then: ``entries[k]`` is change ``start + k`` (the changes every order has read are
    cut off the front). An entry whose bucket's stamp has moved on since is stale: the bucket
    emptied (its entries in the orders no longer stand) or was logged again."""

    entries: list[tuple[Bucket, int]] = field(default_factory=list)
    start: int = 0

    @property
    def end(self) -> int:
        """The number of changes logged, read or not."""
        return self.start + len(self.entries)

    def since(self, read: int) -> list[tuple[Bucket, int]]:
        """The changes from change ``read`` on."""
        return self.entries[read - self.start:]

    def cut(self, read: int) -> None:
        """Forget the changes before change ``read`` (every order has read them)."""
        del self.entries[:read - self.start]
        self.start = read


@dataclass(eq=False)
class Census:
    """The hosts of one group that fit one kind of request (``random``), in index order."""

    need: Demand
    chain: list[Layer]
    hosts: SortedList
    unread: int = 0  # the group's host moves since it was last read


class Placement:
    """Chooses a host for an instance under the named policy; ties go to the lower index."""

    def __init__(self, policy: str, rng: np.random.Generator, index: CapacityIndex) -> None:
        self.policy = policy
        self.preset = preset(policy)
        self._key = self.preset.key_function()
        self._reads = {w.measure for w in self.preset.weighers}  # the measures the scan works out
        self.rng = rng
        self.index = index
        self._tokens: dict[tuple[Demand, str], int] = {}
        # the same, by the demand object's identity (holding it, so the id stays its own):
        # a demand's hash is a Python-level call over its fields
        self._token_of: dict[tuple[int, str], tuple[Demand, int]] = {}
        self._orders: dict[int, OrderedDict[int, Order]] = {}  # group -> token -> order
        self._changes: dict[int, Changes] = {}  # group -> the log its orders read
        self._censuses: dict[int, OrderedDict[int, Census]] = {}  # random: group -> token ->
        # per request token and set of claimed layers: the chain's bytes missing and held
        self._layer_bytes: dict[tuple[int, frozenset[str]], tuple[float, float]] = {}
        if self.preset.draw:
            index.movers.append(self._moved)
        else:
            index.watchers.append(self._watch)

    def choose(self, candidates: np.ndarray | slice, need: Demand, chain_key: str,
               chain: list[Layer], allowed: np.ndarray | None = None) -> Host | None:
        """The chosen host among ``candidates`` (host indexes, ascending, or a slice of
        consecutive hosts) that fit now, and, if ``allowed`` (a boolean per host) is given,
        are allowed; None when none does. The same host as ``scan`` chooses.

        Pass the same ``candidates`` object for the same set (the workload's): the index
        recognises it by identity, and works out which host groups it covers only once."""
        ix = self.index
        groups = None
        if allowed is None:
            cover = ix.cover_cache.get(id(candidates))  # ``groups_of``, inline when known
            groups = (cover[1] if cover is not None and cover[0] is candidates
                      else ix.groups_of(candidates))
        if groups is None:
            return self.scan(candidates, need, chain_key, chain, allowed)
        known = self._token_of.get((id(need), chain_key))
        if known is not None and known[0] is need:
            token = known[1]
        else:
            token = self._tokens.setdefault((need, chain_key), len(self._tokens))
            self._token_of[(id(need), chain_key)] = (need, token)
        if self.preset.draw:
            return self._random(groups, token, candidates, need, chain_key, chain)
        best = None
        for g in groups:
            head = self._order(g, token, need, chain).best()
            if head is not None and (best is None or head < best):
                best = head
        return None if best is None else ix.hosts[int(best[-3])]

    def _random(self, groups: list[int], token: int, candidates: np.ndarray | slice,
                need: Demand, chain_key: str, chain: list[Layer]) -> Host | None:
        """A host drawn uniformly among those that fit, as the scan draws it: the k-th that
        fits in index order, from the groups' censuses (``groups`` ascending; the scan if the
        groups' hosts interleave)."""
        if not self.index.groups_in_order:
            return self.scan(candidates, need, chain_key, chain)
        fitting = [self._census(g, token, need, chain).hosts for g in groups]
        total = sum(len(hosts) for hosts in fitting)
        if not total:
            return None
        k = int(self.rng.integers(total))
        for hosts in fitting:
            if k < len(hosts):
                return self.index.hosts[hosts[k]]
            k -= len(hosts)
        raise AssertionError("k is below the total")

    def _census(self, group: int, token: int, need: Demand, chain: list[Layer]) -> Census:
        """The hosts of ``group`` that fit the request ``token`` stands for."""
        census = _recent(self._censuses, group, token)
        if census is None:
            census = _keep(self._censuses, group, token, Census(need, chain, SortedList(
                -i for bucket in self.index.buckets[group].values()
                if self._prefix(bucket, token, need, chain) is not _NO_FIT
                for i in bucket.members)))
        census.unread = 0
        return census

    def _moved(self, group: int, host: int, left: Bucket, joined: Bucket) -> None:
        """Keep the group's censuses in step with a host that changed bucket."""
        censuses = self._censuses.get(group)
        if not censuses:
            return
        idle = len(self.index.group_hosts[group]) + _IDLE_SLACK  # a rebuild's cost, in hosts
        unread = []
        for token, census in censuses.items():
            census.unread += 1
            if census.unread > idle:
                unread.append(token)
                continue
            was = self._prefix(left, token, census.need, census.chain) is not _NO_FIT
            now = self._prefix(joined, token, census.need, census.chain) is not _NO_FIT
            if was and not now:
                census.hosts.remove(host)
            elif now and not was:
                census.hosts.add(host)
        for token in unread:  # rebuilt when asked for again (``_census``)
            del censuses[token]

    def _prefix(self, bucket: Bucket, token: int, need: Demand, chain: list[Layer]
                ) -> tuple[float, ...]:
        """A bucket's key in its order but the lowest host that ends it (smaller is better,
        as the scan prefers), or ``_NO_FIT`` (cached per request token)."""
        prefix = bucket.prefixes.get(token)
        if prefix is None:
            prefix = self._weigh(bucket, need, self._bytes(token, chain, bucket.key[4]))
            if prefix is not _NO_FIT:
                prefix = self._key(prefix)
            bucket.prefixes[token] = prefix
        return prefix

    def _order(self, group: int, token: int, need: Demand, chain: list[Layer]) -> Order:
        """The order of ``group``'s buckets that fit the request ``token`` stands for, up to
        date: the changes logged since it was last read added (``_read``), or, when there are
        more of them than the group has buckets (plus ``_IDLE_SLACK``), built again."""
        changes = self._changes.get(group)
        if changes is None:
            changes = self._changes[group] = Changes()
        order = _recent(self._orders, group, token)
        if order is not None:
            buckets = len(self.index.buckets[group])
            if changes.end - order.read <= buckets + _IDLE_SLACK:
                self._read(order, token, changes, buckets)
                return order
            del self._orders[group][token]
        order = _keep(self._orders, group, token, Order(need, chain, read=changes.end))
        for bucket in self.index.buckets[group].values():
            prefix = self._prefix(bucket, token, need, chain)
            if prefix is not _NO_FIT:
                order.add(prefix, bucket)
        return order

    def _read(self, order: Order, token: int, changes: Changes, buckets: int) -> None:
        """Add to ``order`` the buckets logged since it last read ``changes`` that still stand
        as logged and fit (a new entry each; their older entries no longer stand); its
        group has ``buckets`` buckets."""
        for bucket, stamp in changes.since(order.read):
            if bucket.stamp != stamp:  # emptied, or logged again further on
                continue
            prefix = self._prefix(bucket, token, order.need, order.chain)
            if prefix is _NO_FIT:
                continue
            order.add(prefix, bucket)
            if len(order.heap) > 2 * buckets + 64:  # at most one entry of each stands
                order.compact()
        order.read = changes.end

    def _watch(self, group: int, bucket: Bucket) -> None:
        """Log a bucket that filled or took a lower host, for the group's orders to read when
        next asked for (``_read``). One that emptied is not logged: its entries, left behind,
        are dropped when they reach an order's head or when the order is compacted. The log
        is cut back to what the orders still have to read whenever it holds twice as many
        changes as the group has buckets (plus ``_IDLE_SLACK``): an order further behind
        than half of that is dropped then (it would be rebuilt when next asked for)."""
        orders = self._orders.get(group)
        if not orders:
            return
        changes = self._changes[group]
        changes.entries.append((bucket, bucket.stamp))
        idle = len(self.index.buckets[group]) + _IDLE_SLACK
        if len(changes.entries) > 2 * idle:
            behind = [token for token, order in orders.items()
                      if changes.end - order.read > idle]
            for token in behind:
                del orders[token]
            changes.cut(min((order.read for order in orders.values()), default=changes.end))

    def _bytes(self, token: int, chain: list[Layer], claimed: frozenset[str]
               ) -> tuple[float, float]:
        """(bytes of ``chain`` a host that claims the layers ``claimed`` lacks, bytes it
        holds), worked out once per request token and set of layers: a trace replay weighs a
        dozen buckets per request, and their hosts claim one of a few sets."""
        key = (token, claimed)
        found = self._layer_bytes.get(key)
        if found is None:
            if len(self._layer_bytes) >= _MAX_LAYER_SETS:
                self._layer_bytes.clear()
            found = self._layer_bytes[key] = (
                sum(layer.size for layer in chain if layer.key not in claimed),
                sum(layer.size for layer in chain if layer.key in claimed))
        return found

    def _weigh(self, bucket: Bucket, need: Demand, chain_bytes: tuple[float, float]
               ) -> tuple[float, ...]:
        """The measures of a host in ``bucket`` (local bytes, tightness: as ``MEASURES``
        orders them), or ``_NO_FIT``: the scan's arithmetic on one host, in the same order
        (``chain_bytes``: the request's image bytes the host lacks and holds, ``_bytes``)."""
        memory, vcpu, partitions, disk, _ = bucket.key
        missing, local = chain_bytes
        if not fits(need, memory, vcpu, partitions, disk, missing):
            return _NO_FIT
        host = self.index.hosts[bucket.first]  # its capacities are the bucket's
        tight = tightness(need, memory, vcpu, float(host.memory_capacity),
                          float(host.vcpu_capacity))
        return (float(local), tight)

    def scan(self, candidates: np.ndarray | slice, need: Demand, chain_key: str,
             chain: list[Layer], allowed: np.ndarray | None = None) -> Host | None:
        """The reference choice: filter and weigh every candidate in one vectorized pass."""
        ix = self.index
        missing, local = ix.chain(chain_key, chain)  # refreshes the arrays
        memory = ix.memory[candidates]
        vcpu = ix.vcpu[candidates]
        fit = fits_each(need, memory, vcpu, ix.partitions[candidates], ix.disk[candidates],
                        missing[candidates])
        fit &= ix.up[candidates]  # not down after a fault
        if allowed is not None:  # a tenant mask
            fit &= allowed[candidates]
        where = np.flatnonzero(fit)
        if len(where) == 0:
            return None
        if isinstance(candidates, slice):
            ids = where + (candidates.start or 0)
        else:
            ids = candidates[where]
        preset = self.preset
        if preset.draw:
            return ix.hosts[int(ids[int(self.rng.integers(len(where)))])]
        if not preset.weighers:  # the first that fits
            return ix.hosts[int(ids[0])]
        measures: dict[Measure, np.ndarray] = {}
        if "tightness" in self._reads:
            measures["tightness"] = tightness_each(need, memory[where], vcpu[where],
                                                   ix.memory_capacity[ids],
                                                   ix.vcpu_capacity[ids])
        if "local" in self._reads:
            measures["local"] = local[ids]
        return ix.hosts[int(ids[preset.pick(measures)])]


_T = TypeVar("_T")


def _recent(tables: dict[int, OrderedDict[int, _T]], group: int, token: int) -> _T | None:
    """``group``'s entry for ``token`` among those used lately (then the most recent), or
    None."""
    table = tables.get(group)
    entry = None if table is None else table.get(token)
    if entry is not None:
        table.move_to_end(token)  # type: ignore[union-attr]
    return entry


def _keep(tables: dict[int, OrderedDict[int, _T]], group: int, token: int, entry: _T) -> _T:
    """Keep ``entry`` as ``group``'s most recent for ``token``; the least recently used is
    dropped beyond ``_MAX_ORDERS``."""
    table = tables.get(group)
    if table is None:
        table = tables[group] = OrderedDict()
    table[token] = entry
    if len(table) > _MAX_ORDERS:
        table.popitem(last=False)
    return entry
