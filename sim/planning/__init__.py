"""Capacity planning: analytic density and packing, and the search for the smallest host count
that meets every SLO.

Must not: print or write files.
"""
