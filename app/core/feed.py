"""The caller's audio on its way to the analysis: gathered, resampled, mixed, kept, scanned.

``CallerFeed`` owns everything between ``Call.feed`` and the frame judge: small device blocks
gathered before the DSP runs, the stream resampler to 16 kHz, in-band key tones mixed into the
audio they were pressed in, the buffer addressed by absolute sample index (the analysis reads it
``LOOKAHEAD_SAMPLES`` behind the feed, a recording reads it from its last commit), in-band DTMF
detection with the spans of the tones it heard, and the stretches with no media at all. It
decides nothing about operations (docs/architecture.md §3 "app/core").
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from app.core.clock import ENGINE_RATE_HZ
from app.core.dsp.dtmf import DtmfDetector, DtmfTone
from app.core.dsp.resample import StreamResampler, to_mono_float32

FloatArray = npt.NDArray[np.float32]

# DTMF block at 8 kHz is 102 samples = 12.75 ms; frames within one block of a tone are masked
# from the VAD (docs/dsp.md §3.4: WebRTC VAD flags DTMF as speech).
DTMF_MASK_MARGIN_SAMPLES = 204


class AudioBuffer:
    """Growing buffer of engine samples addressed by absolute sample index."""

    def __init__(self) -> None:
        self._data = np.zeros(1 << 16, dtype=np.float32)
        self._base = 0  # absolute index of _data[0]
        self._len = 0

    @property
    def end(self) -> int:
        return self._base + self._len

    def append(self, x: FloatArray) -> None:
        need = self._len + len(x)
        if need > len(self._data):
            grown = np.zeros(max(need, 2 * len(self._data)), dtype=np.float32)
            grown[: self._len] = self._data[: self._len]
            self._data = grown
        self._data[self._len : need] = x
        self._len = need

    def view(self, start: int, end: int) -> FloatArray:
        return self._data[start - self._base : end - self._base]

    def drop_before(self, index: int) -> None:
        drop = min(index - self._base, self._len)
        if drop <= 0:
            return
        if drop > (1 << 15):  # compact only in big steps: the copy is O(len)
            self._data[: self._len - drop] = self._data[drop : self._len]
            self._base += drop
            self._len -= drop


class CallerFeed:
    """The caller's audio at 16 kHz by absolute sample index, with its tones and gaps."""

    def __init__(self, *, in_band_detection: bool, on_key_tone: Callable[[DtmfTone], None]) -> None:
        """``on_key_tone(tone)``: an in-band key tone started (called while appending)."""
        self.audio = AudioBuffer()
        self.fed = 0  # samples appended so far: the stamp of any input given now
        # In-band tones heard: (start, end or None while it lasts); the VAD ignores them.
        self.tone_spans: list[tuple[int, int | None]] = []
        # Stretches with no media from the caller: (start, end), contiguous pieces merged.
        self.no_media: list[tuple[int, int]] = []
        self.pending_rate_hz = ENGINE_RATE_HZ
        # How much audio to gather before the DSP runs (see ``gather``); a live session sets
        # less, as its drain already hands over whole batches (app/session/live.py).
        self.gather_ms = 50
        self._pending: list[FloatArray] = []
        self._pending_samples = 0
        self._resampler: StreamResampler | None = None
        self._inject: list[tuple[int, FloatArray]] = []  # tones to mix into upcoming audio
        self._dtmf = DtmfDetector(ENGINE_RATE_HZ) if in_band_detection else None
        self._on_key_tone = on_key_tone

    def gather(self, samples: npt.ArrayLike) -> bool:
        """Keep a block at ``pending_rate_hz``; True once enough is gathered to process."""
        block = to_mono_float32(samples)
        self._pending.append(block.copy() if block.base is not None else block)
        self._pending_samples += len(block)
        # Small device blocks are gathered to ~50 ms before the DSP runs: per-call overhead of
        # resampler, detector and frame loop, not arithmetic, is what costs at 10-20 ms blocks.
        return self._pending_samples * 1000 >= self.gather_ms * self.pending_rate_hz

    def process_gathered(self) -> bool:
        """Resample and append the gathered blocks; False if there were none."""
        if not self._pending:
            return False
        rate_hz = self.pending_rate_hz
        block = self._pending[0] if len(self._pending) == 1 else np.concatenate(self._pending)
        self._pending = []
        self._pending_samples = 0
        if self._resampler is None or self._resampler.in_rate_hz != rate_hz:
            if self._resampler is not None:
                self._append(self._resampler.flush())
            self._resampler = StreamResampler(rate_hz)
        self._append(self._resampler.process(block))
        return True

    def flush_resampler(self) -> None:
        """End of input: append what the resampler still holds."""
        if self._resampler is not None:
            self._append(self._resampler.flush())

    def add_gap(self, n_samples: int) -> None:
        """``n_samples`` of time with no media: silence in the buffer, a no-media stretch."""
        end = self.fed + n_samples
        # A live feed reports a gap block by block: contiguous pieces are one gap, so that the
        # media timeout sees its whole length (a replay feeds it at once and merges the same).
        start = (
            self.no_media.pop()[0]
            if self.no_media and self.no_media[-1][1] == self.fed
            else self.fed
        )
        self.no_media.append((start, end))
        self._append(np.zeros(n_samples, dtype=np.float32), mix=False)

    def inject(self, at: int, tone: FloatArray) -> None:
        """Mix ``tone`` into the audio from sample ``at`` on (an in-band key press)."""
        self._inject.append((at, tone))

    def masked(self, a: int, b: int) -> bool:
        """Whether the frame [a, b) touches a key tone (with margin) or a no-media stretch."""
        for start, end in self.tone_spans:
            lo = start - DTMF_MASK_MARGIN_SAMPLES
            hi = (end if end is not None else self.fed) + DTMF_MASK_MARGIN_SAMPLES
            if a < hi and b > lo:
                return True
        return any(a < end and b > start for start, end in self.no_media)

    def forget_before(self, horizon: int) -> None:
        """Drop tone spans and gaps that ended before ``horizon`` (nothing looks back so far)."""
        self.tone_spans = [s for s in self.tone_spans if s[1] is None or s[1] > horizon]
        self.no_media = [s for s in self.no_media if s[1] > horizon]

    def _append(self, x: FloatArray, *, mix: bool = True) -> None:
        if len(x) == 0:
            return
        start = self.fed
        x = np.array(x, dtype=np.float32, copy=True)
        if mix and self._inject:
            keep = []
            for at, tone in self._inject:
                lo = max(at, start)
                hi = min(at + len(tone), start + len(x))
                if hi > lo:
                    x[lo - start : hi - start] += tone[lo - at : hi - at]
                if at + len(tone) > start + len(x):
                    keep.append((at, tone))
            self._inject = keep
        self.audio.append(x)
        self.fed += len(x)
        if self._dtmf is not None:
            for detected in self._dtmf.process(x):
                self._on_tone(detected)

    def _on_tone(self, tone: DtmfTone) -> None:
        if tone.end_sample is None:
            self.tone_spans.append((tone.start_sample, None))
            self._on_key_tone(tone)
        else:
            for i in range(len(self.tone_spans) - 1, -1, -1):
                start, end = self.tone_spans[i]
                if end is None and start == tone.start_sample:
                    self.tone_spans[i] = (start, tone.end_sample)
                    break
