"""Discrete-event simulator of Windows container hosts: process isolation, Hyper-V isolation,
VMs."""

__version__ = "0.1.0"
