"""The desktop session: live capture into a call, saving it, loading it, replaying it.

The composition layer under the UI: it wires the audio adapters, the scenario model and the
engine host together (docs/architecture.md §1). Nothing here imports Qt.
"""
