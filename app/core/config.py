"""How the simulated service behaves: the options of a call (``Call(config)``).

Defaults are the faithful choices (README "Fidelity"); ``app.core.call`` re-exports
``CallConfig`` for its existing importers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from app.core.vad.base import DEFAULT_CLASSIFIER

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class CallConfig:
    """How the simulated service behaves; defaults are the faithful choices (README "Fidelity")."""

    graph_base_url: str = "https://graph.microsoft.com/v1.0"
    vad: str = DEFAULT_CLASSIFIER
    vad_options: Mapping[str, object] = field(default_factory=dict)
    # Beep before recording; None = the synthesised default (resources/beep.wav is the same).
    beep: FloatArray | None = None
    # Resample/downmix prompts that break the WAV mono 16-bit 16 kHz rule instead of failing
    # with 8535 (docs/graph-contract.md §4 [I]); off by default, as the service is strict.
    lenient_prompts: bool = False
    # Caller hangs up mid-recording: the field reports no operation notification at all
    # (docs/graph-contract.md §5.3 item 6 [V S26]); True delivers what was recorded instead.
    hangup_delivers_recording: bool = False
    # No media for this long during an operation fails it with 8513 (docs/graph-contract.md §4 [I]).
    media_timeout_s: float = 2.0
    # Frames right after the beep are not judged as speech: the beep's echo tail
    # (docs/dsp.md §3.4: "+ 150 ms echo tail").
    echo_tail_s: float = 0.15
    # One key press heard both in band and out of band within this window counts once
    # (docs/dsp.md §2.2: "within one digit period (≈ 150 ms)").
    key_merge_window_s: float = 0.15
    in_band_detection: bool = True
    # Include the legacy "resource": "/app/calls/..." next to resourceUrl (docs/graph-contract.md
    # §5.1 [V S27]).
    legacy_resource: bool = True
