"""Run every example scenario into a folder, reproducibly: the subprocess of test_determinism.

Usage: ``python -m tests.scenario.determinism_driver OUT_DIR [--vad NAME] [--feed-block N]``.
Each scenario runs with a fixed ``seed`` (ids, tokens and error dates come from it, see
app/scenario/runner.py ``seeded_ids``), so two runs of the same engine write the same bytes;
any difference is the engine's numerics. All scenarios run in this one process, so a variant
of the environment (BLAS kernel, threads, numpy CPU features) costs one interpreter start.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np
import numpy.typing as npt

from app.core.clock import FRAME_SAMPLES
from app.core.dsp.dtmf import DtmfDetector
from app.core.dsp.levels import rms_dbfs
from app.core.vad.energy import EnergyClassifier
from app.scenario import runner
from app.scenario.model import Scenario, ScenarioError, load_scenario

SCENARIOS = Path(__file__).resolve().parents[2] / "resources" / "scenarios"
SEED = 20260101


class _RecordingDetector(DtmfDetector):
    """The engine's DTMF detector, keeping every block's bins and energy (the raw numerics)."""

    def __init__(self) -> None:
        super().__init__()
        self.measured: list[npt.NDArray[np.float64]] = []

    def _classify(
        self,
        bins: npt.NDArray[np.float64],
        tone_energy: npt.NDArray[np.float64],
        energy: npt.NDArray[np.float64],
    ) -> npt.NDArray[np.int64] | None:
        self.measured.append(np.hstack((bins, tone_energy, energy[:, None])))
        return super()._classify(bins, tone_energy, energy)


def write_measurements(scenario: Scenario, out_file: Path, block_samples: int) -> None:
    """The raw numbers behind the decisions, for the caller's track fed in the runner's blocks:
    band levels of the energy VAD, broadband levels, the DTMF detector's bins and energies, and
    rms_dbfs per block. Decisions flip only where a value sits at a threshold, so comparing these
    bit for bit catches a machine-dependent product long before an ending changes.
    """
    track = runner.caller_track(scenario)
    band, broadband, detector = (
        EnergyClassifier(),
        EnergyClassifier(band_high_hz=8000.0, band_low_hz=0.0),
        _RecordingDetector(),
    )
    values: list[float] = []
    pending = np.zeros(0, dtype=np.float32)
    for lo in range(0, len(track), block_samples):
        block = track[lo : lo + block_samples]
        detector.process(block)
        values.append(rms_dbfs(block))
        pending = np.concatenate((pending, block))
        whole = len(pending) // FRAME_SAMPLES * FRAME_SAMPLES
        frames = pending[:whole].reshape(-1, FRAME_SAMPLES)
        pending = pending[whole:]
        values += band._powers(frames).tolist() + broadband._powers(frames).tolist()
    for measured in detector.measured:
        values += measured.ravel().tolist()
    out_file.write_text("\n".join(v.hex() for v in values))


def run_all(out_dir: Path, vad: str | None, feed_block_samples: int | None) -> None:
    """Run each scenario of resources/scenarios into out_dir/<name>/ with a fixed seed."""
    if feed_block_samples is not None:
        # The runner feeds the time line in blocks of this many samples (a module setting).
        runner.FEED_BLOCK_SAMPLES = feed_block_samples
    for path in sorted(SCENARIOS.glob("*.toml")):
        try:
            scenario = load_scenario(path)
        except ScenarioError as exc:  # a malformed example is reported, and compared, as such
            (out_dir / f"{path.stem}.error").write_text(str(exc))
            continue
        options = dataclasses.replace(scenario.call, seed=SEED)
        if vad is not None:
            options = dataclasses.replace(options, vad=vad)
        runner.run_scenario(dataclasses.replace(scenario, call=options), out_dir / path.stem)
        write_measurements(
            scenario, out_dir / path.stem / "measurements.txt", runner.FEED_BLOCK_SAMPLES
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--vad", default=None)
    parser.add_argument("--feed-block", type=int, default=None)
    args = parser.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    run_all(args.out_dir, args.vad, args.feed_block)


if __name__ == "__main__":
    main()
