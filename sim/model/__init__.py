"""The SimPy model: hosts, the registry, placement and instance lifecycles.

Nothing here reads files or YAML, computes statistics or draws charts. ``kernel`` alone
touches SimPy's internals; ``build.build`` is the one place a scenario becomes runtime
objects.
"""
