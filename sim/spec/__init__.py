"""The scenario format: units, the validated and frozen ``Scenario``, isolation profiles, what
an instance demands of a host, dotted paths and SLOs. Pure data and arithmetic.

Must not: read files (apart from the shipped ``profiles.yaml``), or import anything of the
simulator below this layer (experiments, the model, runs, analysis, planning, presentation).
"""
