"""Lazy pulling, a what-if on Windows: a start-up begins before its image has arrived.

No Windows runtime pulls lazily today (AKS artifact streaming takes Linux images only); the
built-in ``containerd-lazy`` runtime and any runtime with ``lazy_pull: {start_at, slowdown}``
ask what it would change. The model, on a host whose runtime pulls lazily:

- Each missing layer of a container image downloads as it would otherwise (one download per
  layer, sharing the network as every download does), but its first ``start_at`` of
  compressed bytes is marked: the files a start-up reads, which a lazy image format fetches
  first (eStargz puts a layer's prioritised files at its head and prefetches them). Once that
  share of every missing layer has arrived, the start-up may begin: the record's ``pulled`` is
  then (the pull phase is slot to enough to start), and so is ``extracted`` (the start-up does
  not wait for extraction: that phase takes no time).
- The rest streams meanwhile, and each layer is still extracted as the runtime extracts it
  (its disk write and, at the runtime's rate, one core, after its download), in the
  background, processor-shared with the start-ups: that stands for the lazy snapshotter
  materialising what it fetches, a cautious choice for want of a Windows one to measure. A
  layer joins the host's store when it is extracted, as without lazy pulling; a later start-up
  that joins it in progress may begin once its share has arrived.
- A create, boot or app-start phase that begins while any layer the start-up lacked is still
  downloading takes ``slowdown`` times longer (its reads of what has not arrived wait for the
  network); one that begins after the last byte has arrived does not. The stretch is decided
  when a phase begins, not while it runs.
- A VM's template (written whole, never unpacked) is never pulled lazily.

Owns: a lazy layer's download in two parts, the event after which a start-up may begin, and
how much a phase beginning now is stretched. Must not: decide the order of a request's steps
(``lifecycle``), share the network (``sharing``) or extract (``registry``).
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import TYPE_CHECKING, Any

import simpy

if TYPE_CHECKING:
    from sim.model.host import Host, LayerFetch
    from sim.model.sharing import Link
    from sim.spec.demand import Layer

Process = Generator[simpy.Event, Any, None]


def start_share(env: simpy.Environment, joined: LayerFetch | None) -> simpy.Event | None:
    """The ``startable`` event of a new lazy fetch: its own, or, where it extracts its own
    copy of a download in progress (``joined``: a runtime that duplicates concurrent pulls),
    that download's (None if that one is not lazy: its copy is needed whole)."""
    return env.event() if joined is None else joined.startable


def download(link: Link, layer: Layer, fetch: LayerFetch, start_at: float) -> Process:
    """A lazy layer's download on ``link``: the share a start-up needs first, then (once
    ``fetch.startable`` has fired) the rest, one after the other on the same link."""
    assert fetch.startable is not None
    head = start_at * layer.download
    yield link.run(head)
    fetch.startable.succeed()
    rest = layer.download - head
    if rest > 0:
        yield link.run(rest)


def startable(fetch: LayerFetch) -> simpy.Event:
    """The event after which a start-up may begin as far as ``fetch``'s layer goes: its share
    has arrived, or, for a layer not pulled lazily, it is ready."""
    return fetch.startable if fetch.startable is not None else fetch.ready


def stretch(host: Host, fetches: Sequence[LayerFetch]) -> float:
    """How many times longer a start-up phase beginning now on ``host`` takes: the runtime's
    slowdown while any of ``fetches`` (the layers the start-up lacked) is still downloading,
    else 1."""
    lazy = host.lazy_pull
    if lazy is None or all(fetch.downloaded.triggered for fetch in fetches):
        return 1.0
    return lazy.slowdown
