"""The DTMF detector against the Q.24 (AT&T) receiver battery, synthesised Mitel-style.

Every signal is built with fixed seeds; tone onsets fall at random positions relative to the
detector's blocks and each tone starts at a random phase, so the "random onset" conditions of
the Mitel tests are covered without any randomness between runs.
"""

from __future__ import annotations

import difflib

import numpy as np
import pytest

from app.core.dsp.dtmf import (
    DTMF_KEYS,
    DtmfDetector,
    DtmfTone,
    dtmf_sequence,
    dtmf_tone,
)
from app.core.dsp.levels import dbm0_to_peak
from tests.core.dsp.dtmf_helpers import (
    BLOCK_16K_SAMPLES,
    RATE_HZ,
    Burst,
    detect,
    keys_of,
    random_keys,
    random_phases,
    silence,
    starts,
    tone_train,
    white_noise,
)

ALL_KEYS_TWICE = DTMF_KEYS * 2


def assert_one_detection_per_burst(tones: list[DtmfTone], bursts: list[Burst]) -> None:
    """Each burst detected exactly once, as its own key, starting within one block of it."""
    found = starts(tones)
    assert keys_of(found) == "".join(b.key for b in bursts)
    for tone, burst in zip(found, bursts, strict=True):
        assert abs(tone.start_sample - burst.start) <= BLOCK_16K_SAMPLES


# --- Mitel test 2: decode ----------------------------------------------------------------------


def test_decodes_every_key_ten_times_at_50_ms_on_50_ms_off() -> None:
    keys = DTMF_KEYS * 10
    x = np.concatenate([silence(333), dtmf_sequence(keys, on_s=0.05, off_s=0.05), silence(2000)])
    tones = detect(x)
    assert keys_of(tones) == keys
    # Every start has its end, with the same key and start, and they alternate in order.
    assert len(tones) == 2 * len(keys)
    for start, end in zip(tones[0::2], tones[1::2], strict=True):
        assert start.end_sample is None and end.end_sample is not None
        assert (end.key, end.start_sample) == (start.key, start.start_sample)
    for i, tone in enumerate(starts(tones)):
        onset = 333 + i * 1600  # 50 ms + 50 ms at 16 kHz
        assert abs(tone.start_sample - onset) <= BLOCK_16K_SAMPLES


# --- Mitel test 3: frequency tolerance (Q.24 AT&T: operate ±1.5 %, non-operate ±3.5 %) -------


@pytest.mark.parametrize(
    ("low_pct", "high_pct"),
    [
        (1.5, 1.5), (-1.5, -1.5), (1.5, -1.5), (-1.5, 1.5),  # both tones off
        (1.5, 0.0), (-1.5, 0.0), (0.0, 1.5), (0.0, -1.5),  # one tone off
    ],
)  # fmt: skip
def test_detects_frequency_offsets_of_1_5_percent(low_pct: float, high_pct: float) -> None:
    rng = np.random.default_rng(1000 + int(10 * low_pct) + int(100 * high_pct))
    x, bursts = tone_train(
        ALL_KEYS_TWICE, 0.1, rng, low_offset_pct=low_pct, high_offset_pct=high_pct
    )
    assert_one_detection_per_burst(detect(x), bursts)


@pytest.mark.parametrize(
    ("low_pct", "high_pct"),
    [
        (3.5, 3.5), (-3.5, -3.5), (3.5, -3.5), (-3.5, 3.5),  # both tones off
        (3.5, 0.0), (-3.5, 0.0), (0.0, 3.5), (0.0, -3.5),  # one tone off
    ],
)  # fmt: skip
def test_rejects_frequency_offsets_of_3_5_percent(low_pct: float, high_pct: float) -> None:
    rng = np.random.default_rng(2000 + int(10 * low_pct) + int(100 * high_pct))
    x, _ = tone_train(ALL_KEYS_TWICE, 0.1, rng, low_offset_pct=low_pct, high_offset_pct=high_pct)
    assert detect(x) == []


def test_low_tone_3_5_percent_off_is_rejected_although_its_hertz_error_is_accepted_high() -> None:
    # 697 Hz − 3.5 % is 24.4 Hz off: the same distance in hertz as 1633 Hz − 1.5 % (24.5 Hz),
    # which must be accepted. Only a check in percent can tell them apart.
    rng = np.random.default_rng(7)
    rejected, _ = tone_train("1" * 20, 0.1, rng, low_offset_pct=-3.5)
    accepted, bursts = tone_train("A" * 20, 0.1, rng, high_offset_pct=-1.5)
    assert detect(rejected) == []
    assert_one_detection_per_burst(detect(accepted), bursts)


# --- Mitel test 4: twist (Q.24 AT&T: high group up to 8 dB weaker or 4 dB stronger) ----------


@pytest.mark.parametrize(
    ("low_dbm0", "high_dbm0"),
    [(-6.0, -14.0), (-17.0, -25.0), (-10.0, -6.0), (-25.0, -21.0)],
    ids=["normal-8dB", "normal-8dB-quiet", "reverse-4dB", "reverse-4dB-quiet"],
)
def test_detects_twist_at_the_q24_limits(low_dbm0: float, high_dbm0: float) -> None:
    rng = np.random.default_rng(int(-10 * low_dbm0 - high_dbm0))
    x, bursts = tone_train(DTMF_KEYS * 3, 0.1, rng, low_dbm0=low_dbm0, high_dbm0=high_dbm0)
    assert_one_detection_per_burst(detect(x), bursts)


@pytest.mark.parametrize(
    ("low_dbm0", "high_dbm0"),
    [(-6.0, -18.0), (-12.0, -4.0)],
    ids=["normal-12dB", "reverse-8dB"],
)
def test_rejects_twist_well_beyond_the_limits(low_dbm0: float, high_dbm0: float) -> None:
    rng = np.random.default_rng(31)
    x, _ = tone_train(DTMF_KEYS * 3, 0.1, rng, low_dbm0=low_dbm0, high_dbm0=high_dbm0)
    assert detect(x) == []


def test_twist_limits_are_parameters() -> None:
    rng = np.random.default_rng(32)
    x, bursts = tone_train(DTMF_KEYS, 0.1, rng, low_dbm0=-6.0, high_dbm0=-13.0)  # 7 dB normal
    assert_one_detection_per_burst(detect(x), bursts)
    assert detect(x, DtmfDetector(normal_twist_db=4.0)) == []


# --- Mitel test 5: dynamic range (Q.24 AT&T: operate 0 to −25 dBm0, non-operate < −55 dBm0) ---


@pytest.mark.parametrize("level_dbm0", [0.0, -5.0, -10.0, -15.0, -20.0, -25.0])
def test_detects_levels_from_0_to_minus_25_dbm0_per_tone(level_dbm0: float) -> None:
    rng = np.random.default_rng(int(100 - level_dbm0))
    x, bursts = tone_train(ALL_KEYS_TWICE, 0.1, rng, low_dbm0=level_dbm0, high_dbm0=level_dbm0)
    assert_one_detection_per_burst(detect(x), bursts)


@pytest.mark.parametrize("level_dbm0", [-45.0, -55.0, -60.0])
def test_rejects_tones_below_the_level_floor(level_dbm0: float) -> None:
    rng = np.random.default_rng(int(200 - level_dbm0))
    x, _ = tone_train(ALL_KEYS_TWICE, 0.1, rng, low_dbm0=level_dbm0, high_dbm0=level_dbm0)
    assert detect(x) == []


def test_detects_full_level_tones_even_when_clipped_to_full_scale() -> None:
    rng = np.random.default_rng(5)
    x, bursts = tone_train(DTMF_KEYS, 0.1, rng, low_dbm0=0.0, high_dbm0=0.0)
    assert np.max(np.abs(x)) > 1.3
    assert_one_detection_per_burst(detect(np.clip(x, -1.0, 1.0)), bursts)


def test_level_floor_is_a_parameter() -> None:
    rng = np.random.default_rng(6)
    x, bursts = tone_train(DTMF_KEYS, 0.1, rng, low_dbm0=-30.0, high_dbm0=-30.0)
    assert_one_detection_per_burst(detect(x), bursts)
    assert detect(x, DtmfDetector(min_level_dbm0=-28.0)) == []


# --- Mitel test 6: guard time (Q.24 AT&T: operate ≥ 40 ms, non-operate ≤ 23 ms) --------------


@pytest.mark.parametrize("ramp_s", [0.0, 0.003], ids=["hard-edged", "3ms-ramps"])
def test_detects_every_40_ms_tone_at_random_onsets(ramp_s: float) -> None:
    rng = np.random.default_rng(40 + int(ramp_s * 1000))
    x, bursts = tone_train(random_keys(rng, 240), 0.040, rng, ramp_s=ramp_s)
    assert_one_detection_per_burst(detect(x), bursts)


@pytest.mark.parametrize("ramp_s", [0.0, 0.003], ids=["hard-edged", "3ms-ramps"])
def test_rejects_every_23_ms_burst_at_random_onsets(ramp_s: float) -> None:
    rng = np.random.default_rng(23 + int(ramp_s * 1000))
    x, bursts = tone_train(random_keys(rng, 240), 0.023, rng, ramp_s=ramp_s)
    assert len(bursts) == 240
    assert detect(x) == []


def test_pause_of_40_ms_separates_repeated_digits() -> None:
    x = np.concatenate([silence(500), dtmf_sequence("5555", on_s=0.05, off_s=0.04), silence(2000)])
    assert keys_of(detect(x)) == "5555"


# --- Q.24: interruptions of up to 10 ms must not split a digit --------------------------------


@pytest.mark.parametrize("gap_ms", [2, 5, 10])
def test_bridges_interruptions_up_to_10_ms(gap_ms: int) -> None:
    rng = np.random.default_rng(gap_ms)
    gap = gap_ms * RATE_HZ // 1000
    for key in DTMF_KEYS:
        phases = random_phases(rng)
        # A dropout in a running oscillator (phase continuous) ...
        held = dtmf_tone(key, 0.12, phase_rad=phases, ramp_s=0.0)
        cut = int(rng.integers(500, 1000))
        held[cut : cut + gap] = 0.0
        # ... and two bursts whose phases do not line up (a re-keyed generator).
        rekeyed = np.concatenate(
            [dtmf_tone(key, 0.06, ramp_s=0.0), silence(gap), dtmf_tone(key, 0.06, phase_rad=phases)]
        )
        for signal in (held, rekeyed):
            onset = int(rng.integers(800, 1200))
            tones = detect(np.concatenate([silence(onset), signal, silence(3000)]))
            assert keys_of(tones) == key
            assert len(tones) == 2  # one start, one end


# --- Mitel test 7: noise (spandsp/Asterisk summary of AT&T: S/N ≥ 15 dB) --------------------


def test_detects_99_percent_of_digits_in_white_noise_at_15_db_snr() -> None:
    rng = np.random.default_rng(15)
    keys = random_keys(rng, 300)
    tones = dtmf_sequence(keys, on_s=0.05, off_s=0.05)
    # SNR per Q.24 practice: both tones together (−9 and −7 dBm0) vs noise in the 0-4 kHz band.
    signal_power = (dbm0_to_peak(-9.0) ** 2 + dbm0_to_peak(-7.0) ** 2) / 2
    x = white_noise(rng, tones.size + 8000, signal_power / 10 ** (15 / 10))
    x[4000 : 4000 + tones.size] += tones
    got = keys_of(detect(x))
    matcher = difflib.SequenceMatcher(None, keys, got, autojunk=False)
    matched = sum(block.size for block in matcher.get_matching_blocks())
    assert matched >= 0.99 * len(keys)
    assert len(got) == matched  # and no extra (split or invented) digits


# --- timing: back-dated start, detection delay, end ----------------------------------------


def test_start_end_and_decision_times() -> None:
    rng = np.random.default_rng(99)
    delays, start_errors, end_errors = [], [], []
    for key in random_keys(rng, 200):
        duration_s = float(rng.uniform(0.04, 0.3))
        onset = int(rng.integers(1000, 1400))
        tone = dtmf_tone(key, duration_s, phase_rad=random_phases(rng))
        d = DtmfDetector()
        events = d.process(np.concatenate([silence(onset), tone, silence(3000)]))
        assert [e.end_sample is None for e in events] == [True, False]
        start, end = events
        assert end.end_sample is not None
        delays.append(start.decided_at - onset)
        start_errors.append(start.start_sample - onset)
        end_errors.append(end.end_sample - (onset + tone.size))
        assert start.decided_at <= end.decided_at <= d.position_samples
        assert end.end_sample < end.decided_at
    # Back-dating within one 12.75 ms block of the truth (starts and ends).
    assert max(np.abs(start_errors)) <= BLOCK_16K_SAMPLES
    assert max(np.abs(end_errors)) <= BLOCK_16K_SAMPLES
    # Decided within the 40 ms a minimum-length tone lasts (docs/dsp.md §5).
    assert max(delays) <= 0.040 * RATE_HZ
    assert min(delays) >= 0.0235 * RATE_HZ  # two 12.75 ms blocks of evidence, never less


def test_events_come_out_in_the_call_that_completes_their_input() -> None:
    rng = np.random.default_rng(3)
    x, _ = tone_train(random_keys(rng, 30), 0.06, rng)
    d = DtmfDetector()
    decided: list[int] = []
    for lo in range(0, x.size, 320):
        before = d.position_samples
        for tone in d.process(x[lo : lo + 320]):
            assert before < tone.decided_at <= d.position_samples
            decided.append(tone.decided_at)
    assert len(decided) == 60
    assert decided == sorted(decided)


def test_active_reports_the_key_while_it_is_on() -> None:
    d = DtmfDetector()
    assert d.active() is None
    d.process(silence(1000))
    events = d.process(dtmf_tone("#", 0.2))
    assert keys_of(events) == "#" and d.active() == "#"
    events = d.process(silence(1600))
    assert [e.end_sample is not None for e in events] == [True] and d.active() is None
    assert d.position_samples == 1000 + 3200 + 1600


def test_rolled_keys_without_a_gap_give_two_digits() -> None:
    x = np.concatenate(
        [silence(700), dtmf_tone("1", 0.08, ramp_s=0.0), dtmf_tone("5", 0.08), silence(3000)]
    )
    tones = detect(x)
    assert [(t.key, t.end_sample is None) for t in tones] == [
        ("1", True),
        ("1", False),
        ("5", True),
        ("5", False),
    ]
    first_end = tones[1].end_sample
    assert first_end is not None and first_end <= tones[2].start_sample
    assert abs(tones[2].start_sample - (700 + 1280)) <= BLOCK_16K_SAMPLES


def test_tone_still_on_at_the_end_of_the_stream_has_no_end_yet() -> None:
    d = DtmfDetector()
    tones = d.process(np.concatenate([silence(500), dtmf_tone("7", 0.3)]))
    assert keys_of(tones) == "7" and len(tones) == 1 and d.active() == "7"


# --- robustness and streaming ----------------------------------------------------------------


def test_dc_offset_does_not_hide_or_fake_digits() -> None:
    x = np.concatenate([silence(500), dtmf_sequence(DTMF_KEYS, 0.05, 0.05), silence(2000)])
    assert keys_of(detect(x + np.float32(0.3))) == DTMF_KEYS
    assert detect(np.full(32_000, 0.5, dtype=np.float32)) == []


def test_empty_input_and_tiny_blocks() -> None:
    d = DtmfDetector()
    assert d.process(np.zeros(0, dtype=np.float32)) == []
    assert d.position_samples == 0
    assert d.process(np.zeros(1, dtype=np.float32)) == []
    assert d.position_samples == 1


def test_results_do_not_depend_on_the_block_size() -> None:
    rng = np.random.default_rng(77)
    x, _ = tone_train("159D*#0", 0.05, rng, min_gap_s=0.04, max_gap_s=0.08)
    x = x + white_noise(rng, x.size, 1e-4)
    reference = detect(x)
    assert len(reference) == 14
    for block_samples in (1, 37, 320, 16_000):
        assert detect(x, block_samples=block_samples) == reference
    for seed in range(3):
        chunker = np.random.default_rng(seed)
        d = DtmfDetector()
        got: list[DtmfTone] = []
        lo = 0
        while lo < x.size:
            n = int(chunker.integers(0, 700))
            got += d.process(x[lo : lo + n])
            lo += n
        assert got == reference


def test_deterministic_across_instances() -> None:
    rng = np.random.default_rng(8)
    x, _ = tone_train(random_keys(rng, 20), 0.045, rng)
    x = x + white_noise(rng, x.size, 1e-3)
    assert detect(x) == detect(x)


# --- other sample rates ------------------------------------------------------------------------


@pytest.mark.parametrize("rate_hz", [8_000, 24_000, 48_000])
def test_other_rates_decode_and_back_date_in_their_own_samples(rate_hz: int) -> None:
    rng = np.random.default_rng(rate_hz)
    x, bursts = tone_train(ALL_KEYS_TWICE, 0.05, rng, rate_hz=rate_hz)
    found = starts(detect(x, DtmfDetector(rate_hz)))
    assert keys_of(found) == ALL_KEYS_TWICE
    block = 0.01275 * rate_hz
    for tone, burst in zip(found, bursts, strict=True):
        assert abs(tone.start_sample - burst.start) <= block


@pytest.mark.parametrize("rate_hz", [0, 11_025, 22_050, 44_100])
def test_rates_that_are_not_multiples_of_8_khz_are_refused(rate_hz: int) -> None:
    with pytest.raises(ValueError, match="multiple of 8000"):
        DtmfDetector(rate_hz)


def test_debounce_counts_must_be_positive() -> None:
    with pytest.raises(ValueError):
        DtmfDetector(hits_to_begin=0)
    with pytest.raises(ValueError):
        DtmfDetector(misses_to_end=0)


# --- a long input in one call --------------------------------------------------------------------


def test_a_minute_of_keys_in_one_call() -> None:
    """300 keys in noise, one minute fed at once: every key, in order. (Its speed is a ratio
    benchmark, tests/bench/test_dtmf_speed.py: no ordinary test asserts a time.)"""
    rng = np.random.default_rng(60)
    minute = 60 * RATE_HZ
    keys = random_keys(rng, 300)
    x = np.zeros(minute, dtype=np.float32)
    digits = dtmf_sequence(keys, 0.1, 0.1)
    x[: digits.size] += digits
    x += white_noise(rng, minute, 1e-4)
    assert keys_of(DtmfDetector().process(x)) == keys
