"""The engine speed target, checked as a ratio to a baseline measured in the same run.

The target is ≥ 500x real time on one core for a headless run. Absolute speed varies from
machine to machine, so the check is relative: on the machine where the target was set, a plain
soundfile PCM16 WAV write+read of the same 16 kHz clip ran at ~4900x real time, which makes 500x
a ratio of ~0.10. The engine measured 0.14-0.15 there (670-735x real time).
"""

from __future__ import annotations

import pytest

from app.core.vad.base import DEFAULT_CLASSIFIER
from tests.bench.bench_engine import measure

# 500x real time over a ~4900x baseline, from the measurement above.
MIN_ENGINE_OVER_SOUNDFILE = 0.10


@pytest.mark.slow
def test_headless_engine_speed_against_soundfile_baseline() -> None:
    result = measure("headless", DEFAULT_CLASSIFIER, repeat=3)
    print(result)
    assert result["engine_over_soundfile"] >= MIN_ENGINE_OVER_SOUNDFILE, result
