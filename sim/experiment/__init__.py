"""Experiments as data: the pure expansion of a loaded scenario into runs (sweep points ×
variants × replications), each run's identity, and the named random streams.

Must not: import SimPy or the model, run anything, or write files.
"""
