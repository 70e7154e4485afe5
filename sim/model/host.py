"""A container host at run time: free capacity, its layer store, start slots, CPU and disk.

Owns: bookkeeping of what is allocated on one host and which layers it holds. Must not:
decide where instances go (``placement``) or drive lifecycles (``lifecycle``).
"""

from __future__ import annotations

import math
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import simpy

from sim.model.sharing import BatchShare, SharedCapacity
from sim.spec.config import HostGroup, LazyPull
from sim.spec.demand import Demand, Layer

if TYPE_CHECKING:
    from sim.model.roster import Stoppable
    from sim.recorder import InstanceRecord


class Slots:
    """A host's start slots: ``capacity`` start-ups at once, more wait first come, first
    served: ``slot = slots.request()``, then wait for ``slot.event`` unless ``slot.granted``,
    and ``slot.give_back()`` when done (or to withdraw a request still waiting). The behaviour
    of ``simpy.Resource``, without the events nobody needs: a request granted at once is
    granted without one (and is the slots themselves: no object per request), and a release
    schedules the grant of the next waiter only when there is one."""

    def __init__(self, env: simpy.Environment, capacity: int) -> None:
        self.env = env
        self.capacity = capacity
        self.users = 0
        self.waiting: deque[SlotRequest] = deque()

    # what ``request`` returns for a slot granted at once is the slots themselves: nobody
    # waits, so there is nothing to remember but where to give the slot back
    granted = True
    event = None

    def request(self) -> Slots | SlotRequest:
        """A request for a slot: ``granted`` now, or with an ``event`` that fires once it
        is; ``give_back`` returns the slot (or withdraws the request)."""
        if not self.waiting and self.users < self.capacity:
            self.users += 1
            return self  # granted at once
        return SlotRequest(self)

    def give_back(self) -> None:
        """Give back a slot granted at once (``request`` returned the slots)."""
        self.release(True)

    def grant(self, _event: simpy.Event | None = None) -> None:
        """Grant the first waiter a slot if one is free (one at a time, as SimPy does)."""
        if self.waiting and self.users < self.capacity:
            self.users += 1
            request = self.waiting.popleft()
            request.granted = True
            assert request.event is not None
            request.event.succeed()

    def release(self, granted: bool) -> None:
        """Give back a slot (``granted``: the request held one; else it has left the queue) and,
        when anyone waits, schedule ``grant`` to run after what is due now."""
        if granted:
            self.users -= 1
        if self.waiting:  # granted when this release is processed, after what is due now
            event = simpy.Event(self.env)
            event.callbacks.append(self.grant)
            event.succeed()


class SlotRequest:
    """A request for one of a host's start slots (see ``Slots``): ``event`` (made only for a
    request that has to wait) fires when it is granted."""

    __slots__ = ("event", "granted", "slots")

    def __init__(self, slots: Slots) -> None:
        """A request that waits (``Slots.request`` grants one at once without it)."""
        self.slots = slots
        self.granted = False
        self.event: simpy.Event | None = simpy.Event(slots.env)
        slots.waiting.append(self)
        slots.grant()

    def give_back(self) -> None:
        """Give the slot back, or withdraw the request if it is still waiting."""
        if not self.granted:
            self.slots.waiting.remove(self)
        self.slots.release(self.granted)


@dataclass
class LayerFetch:
    """A layer being brought to a host: downloaded, then extracted. Shared by every instance
    on the host that needs it meanwhile. ``startable``, on a host that pulls lazily: fires
    when the layer's share a start-up needs first has arrived (``sim.model.lazypull``)."""

    downloaded: simpy.Event
    ready: simpy.Event
    startable: simpy.Event | None = None


@dataclass(slots=True)
class Resident:
    """An instance on a host that a fault or a rollout may have to interrupt: its request,
    its attempt's record and, for a batch job, the job's id on the host's ``BatchShare``."""

    request: Stoppable
    rec: InstanceRecord
    job: int | None = None


@dataclass(eq=False, slots=True)
class Host:
    """One host of a group, with its capacities and what is allocated on it now."""

    index: int
    name: str
    group_index: int
    spec: HostGroup
    cpu: SharedCapacity
    disk_io: SharedCapacity
    slots: Slots
    memory_free: float = 0.0
    vcpu_free: float = 0.0
    disk_free: float = 0.0
    partitions_free: int = 0
    instances: int = 0
    layers: set[str] = field(default_factory=set)
    claimed: set[str] = field(default_factory=set)
    claimed_key: frozenset[str] | None = None  # ``claimed``, frozen (see claimed_layers)
    fetching: dict[str, LayerFetch] = field(default_factory=dict)
    batch: BatchShare | None = None
    parent: Host | None = None  # the physical host a container-host VM runs in
    children: list[Host] = field(default_factory=list)
    outages: int = 0  # faults being repaired here or on the parent; placeable when 0
    cordons: int = 0  # maintenance drains holding it: up, but nothing new is placed here
    residents: dict[int, Resident] = field(default_factory=dict)  # by attempt id
    kernel_tenants: Counter[str] | None = None  # made when first needed (hosts are many)
    noise: Counter[str] | None = None  # running noisy instances by class, when any
    epoch: int = 0  # crashes so far: work started before the last one is void
    # how its container runtime pulls: core-seconds per extracted byte (None: no CPU, the disk
    # alone bounds extraction), an image's layers one after another, concurrent pulls joined
    extract_cost: float | None = None
    sequential: bool = False
    shared_pulls: bool = True
    lazy_pull: LazyPull | None = None  # start-ups begin before the image has arrived
    pull_tail: Any = None  # with serialized pulls: the event the last pull queued fires
    crashed: Any = None  # an event that fires at the next crash (then replaced)
    back: Any = None  # an event that fires when the host is next up again (then replaced)
    memory_capacity: float = field(init=False, default=0.0)  # set from the group's spec
    vcpu_capacity: float = field(init=False, default=0.0)
    max_instances: float = field(init=False, default=math.inf)  # the group's, or no limit
    next_create: float = 0.0  # with a creation rate: when the next create phase may begin
    os_build: str = field(init=False, default="")  # its Windows build now (an upgrade changes it)

    @property
    def available(self) -> bool:
        """Up: not crashed, not under repair, and its physical host (if any) is up."""
        return self.outages == 0

    @property
    def placeable(self) -> bool:
        """Up, not cordoned, and below its group's ``max_instances``: placement may choose
        it."""
        return self.outages == 0 and self.cordons == 0 and self.instances < self.max_instances

    def create_delay(self, now: float) -> float:
        """With its group's ``creation_rate``: how long a create phase asked for now waits for
        its turn (the turns ``1 / rate`` apart, first come first served), its turn taken;
        0 without one."""
        rate = self.spec.creation_rate
        if rate is None:
            return 0.0
        begin = max(now, self.next_create)
        self.next_create = begin + 1.0 / rate
        return begin - now

    @property
    def physical(self) -> Host:
        """The physical machine this host is, or runs in."""
        return self.parent if self.parent is not None else self

    def __post_init__(self) -> None:
        spec = self.spec
        self.memory_capacity = spec.memory - spec.reserved_memory
        self.vcpu_capacity = spec.cpu_cores * spec.cpu_overcommit
        self.memory_free = self.memory_capacity
        self.vcpu_free = self.vcpu_capacity
        self.disk_free = spec.disk
        self.partitions_free = spec.max_partitions
        if spec.max_instances is not None:
            self.max_instances = spec.max_instances
        self.os_build = spec.os_build

    def missing_bytes(self, chain: list[Layer]) -> float:
        """Disk the image's layers would still need here (layers held or claimed cost nothing)."""
        return sum(layer.size for layer in chain if layer.key not in self.claimed)

    def local_bytes(self, chain: list[Layer]) -> float:
        """Bytes of the image already held or on their way here."""
        return sum(layer.size for layer in chain if layer.key in self.claimed)

    def allocate(self, need: Demand, chain: list[Layer]) -> None:
        """Reserve ``need`` and claim disk for the missing layers."""
        self.claim(chain)
        self.memory_free -= need.memory
        self.vcpu_free -= need.vcpu
        self.disk_free -= need.disk_private
        self.partitions_free -= need.partition
        self.instances += 1

    def release(self, need: Demand) -> None:
        """Give back what ``allocate`` reserved (layers stay in the store)."""
        self.memory_free += need.memory
        self.vcpu_free += need.vcpu
        self.disk_free += need.disk_private
        self.partitions_free += need.partition
        self.instances -= 1

    def claim(self, chain: list[Layer]) -> None:
        """Reserve disk for the layers of ``chain`` not yet held or on their way."""
        for layer in chain:
            if layer.key not in self.claimed:
                self.claimed.add(layer.key)
                self.claimed_key = None
                self.disk_free -= layer.size

    def forget(self, layer: Layer) -> bool:
        """Remove ``layer`` from the store and give back its disk (image garbage collection);
        False if the host did not claim it."""
        if layer.key not in self.claimed:
            return False
        self.claimed.discard(layer.key)
        self.claimed_key = None
        self.layers.discard(layer.key)
        self.disk_free += layer.size
        return True

    def claimed_layers(self) -> frozenset[str]:
        """``claimed`` as a frozenset (made again only after it changes)."""
        if self.claimed_key is None:
            self.claimed_key = frozenset(self.claimed)
        return self.claimed_key

    def preload(self, chain: list[Layer]) -> None:
        """Layers present before the run starts."""
        self.claim(chain)
        self.layers.update(layer.key for layer in chain)
