"""How a scenario value is shown in a one-line error message (model and expectations alike)."""

from __future__ import annotations


def show_value(value: object) -> str:
    """A short, one-line, always printable rendering of a scenario value for an error message."""
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 63:
        # repr() of a TOML hex literal of 20 000 bits would raise (int max str digits).
        return f"an integer of {value.bit_length()} bits"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
