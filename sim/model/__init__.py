"""The SimPy model: hosts, the registry, placement and instance lifecycles.

Nothing here reads files or YAML, computes statistics or draws charts.
"""
