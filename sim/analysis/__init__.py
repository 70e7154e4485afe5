"""Analysis after the runs: the metrics of one run from its recorded facts, the aggregation of
replications, distribution fits and closed-form queueing theory.

Must not: import SimPy or the model, or write files.
"""
