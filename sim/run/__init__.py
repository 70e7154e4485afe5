"""Running: one run on its own SimPy environment (``execute``), its results collected
(``collect``), the run store, and many runs on local processes or Dask (``runner``).

Must not: define statistics (``sim.analysis``) or write result files (``sim.present``).
"""
