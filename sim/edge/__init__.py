"""The edge: where scenario files and trace files are read and checked, with every problem
reported with its place.

Must not: import SimPy or the model, run anything, or write files.
"""
