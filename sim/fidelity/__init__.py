"""The fidelity suite: published measurements and queueing theory reproduced by the simulator,
with the cases (``cases/*.yaml``) and the measured data (``data/``) it compares against.
"""
