"""Presentation: how metrics are shown, the charts, the HTML report and the result files.

Must not: import SimPy or the model (it reads results only).
"""
