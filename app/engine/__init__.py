"""Runs engines: one core ``Call`` per ``EngineHost`` (on its own thread, or on an ``EnginePool``
shared by many calls), and the process-wide BLAS limit.

A layer of its own between the adapters (audio, server, scenario) and the core: both the local
Graph endpoint and the desktop session run their calls here, and a host has what the core must
not have, threads and a wall-clock deadline for prompt loading (docs/architecture.md §1).
"""
