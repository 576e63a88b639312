"""WebRTC VAD (the `webrtcvad` module of webrtcvad-wheels) on 20 ms int16 frames, energy-gated.

WebRTC's GMM VAD flags the first 3-4 frames after a reset as speech in every mode, because its
noise model has not adapted yet (measured, docs/dsp.md §3.1). We AND its answer with a loose
energy gate (an EnergyClassifier with a small margin): the gate's noise floor starts at the first
frame's level, so those start-up frames fail it, and so does digital silence.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import webrtcvad

from app.core.clock import ENGINE_RATE_HZ, FRAME_SAMPLES
from app.core.vad.energy import EnergyClassifier

# Mode 2 of 0-3: the live default recommended by docs/dsp.md §3.4.
DEFAULT_MODE = 2
# Gate: 3 dB over the noise floor, −60 dBFS absolute. Looser than the energy classifier's own
# 9 dB / −50 dBFS so that the gate removes start-up and silence frames without overruling
# WebRTC's spectral decision on quiet speech (tuned in tests/bench/vad_eval.py).
GATE_MARGIN_DB = 3.0
GATE_ABS_FLOOR_DBFS = -60.0
# int16 full scale: the engine's float32 full scale is 1.0.
_INT16_SCALE = 32768.0


class WebRtcClassifier:
    """webrtcvad.Vad(mode) per 20 ms frame, AND-ed with a loose energy gate."""

    name: str = "webrtc"

    def __init__(
        self,
        mode: int = DEFAULT_MODE,
        *,
        gate_margin_db: float = GATE_MARGIN_DB,
        gate_abs_floor_dbfs: float = GATE_ABS_FLOOR_DBFS,
    ) -> None:
        if mode not in (0, 1, 2, 3):
            raise ValueError(f"webrtc VAD mode must be 0-3, got {mode}")
        if not webrtcvad.valid_rate_and_frame_length(ENGINE_RATE_HZ, FRAME_SAMPLES):
            raise ValueError("webrtcvad rejects the engine's rate/frame length")
        self.mode = mode
        self._gate = EnergyClassifier(
            abs_floor_dbfs=gate_abs_floor_dbfs,
            margin_db=gate_margin_db,
            hysteresis_db=0.0,
            # A gate, not a detector: WebRTC has its own hangover (docs/dsp.md §3.1).
            extend_max_s=0.0,
        )
        self._vad = webrtcvad.Vad(mode)
        # Preallocated scratch: the conversion runs for every frame of the stream.
        self._scaled = np.empty(FRAME_SAMPLES, dtype=np.float32)

    def reset(self) -> None:
        """Start a fresh WebRTC VAD (it has no reset of its own) and a fresh energy gate."""
        self._vad = webrtcvad.Vad(self.mode)
        self._gate.reset()

    def classify(self, frame: npt.NDArray[np.float32], start_sample: int) -> bool:
        """Classify one 20 ms frame; True means speech (WebRTC says so and the gate is open)."""
        if frame.shape != (FRAME_SAMPLES,):
            raise ValueError(f"expected a frame of {FRAME_SAMPLES} samples, got {frame.shape}")
        # Both run on every frame so that both adaptive states see the whole stream.
        return self._decide(frame, self._gate.classify(frame, start_sample))

    def classify_frames(self, frames: npt.NDArray[np.float32], start_sample: int) -> list[bool]:
        """Classify consecutive frames (shape (n, FRAME_SAMPLES)); the decisions of ``classify``.

        The gate's levels come from one matrix product for the whole batch.
        """
        if frames.ndim != 2 or frames.shape[1] != FRAME_SAMPLES:
            raise ValueError(f"expected frames of shape (n, {FRAME_SAMPLES}), got {frames.shape}")
        gates = self._gate.classify_frames(frames, start_sample)
        return [self._decide(frames[i], gate_open) for i, gate_open in enumerate(gates)]

    def _decide(self, frame: npt.NDArray[np.float32], gate_open: bool) -> bool:
        """WebRTC's decision on ``frame`` (it always runs: its state sees every frame) AND gate."""
        scaled = self._scaled
        np.multiply(frame, _INT16_SCALE, out=scaled)
        # minimum/maximum in place: about 3 µs cheaper per frame than np.clip (numpy 2.x).
        np.minimum(scaled, 32767.0, out=scaled)
        np.maximum(scaled, -32768.0, out=scaled)
        pcm = scaled.astype("<i2").tobytes()
        is_speech = bool(self._vad.is_speech(pcm, ENGINE_RATE_HZ))
        return is_speech and gate_open
