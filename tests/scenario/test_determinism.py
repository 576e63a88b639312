"""Every example scenario writes the same bytes whatever the BLAS kernel, its threads, numpy's
CPU features or the feed block size (docs/dsp.md §6).

Each environment variant runs all scenarios in one subprocess (tests/scenario/
determinism_driver.py) with a fixed seed, so ids, tokens and dates are reproducible and nothing
needs masking except the output folder itself, which the recording URIs name. Compared bit for
bit: events.jsonl, every WAV, timeline.json, and the raw measurements behind the decisions
(band and broadband levels, DTMF bins and energies, rms_dbfs), which would show a
machine-dependent product long before a decision flips.
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from numpy._core._multiarray_umath import __cpu_features__

ROOT = Path(__file__).resolve().parents[2]

# (name, environment changes, driver arguments). None removes the variable.
Variant = tuple[str, dict[str, str | None], tuple[str, ...]]

REFERENCE: Variant = (
    "haswell-1",
    {"OPENBLAS_CORETYPE": "Haswell", "OPENBLAS_NUM_THREADS": "1"},
    (),
)


def _variants() -> list[Variant]:
    variants: list[Variant] = []
    for core in ("Haswell", "SandyBridge", "Prescott", None):
        for threads in ("1", "2"):
            name = f"{core or 'unset'}-{threads}".lower()
            variants.append(
                (name, {"OPENBLAS_CORETYPE": core, "OPENBLAS_NUM_THREADS": threads}, ())
            )
    # numpy's SIMD dispatch: AVX-512 off, then AVX2/FMA (X86_V3) off too, where this CPU has
    # them (numpy refuses to disable a feature the machine lacks).
    for features in (("AVX512_ICL", "X86_V4"), ("AVX512_ICL", "X86_V4", "X86_V3")):
        if all(__cpu_features__.get(f) for f in features):
            name = "npy-without-" + features[-1].lower()
            variants.append(
                (name, {**REFERENCE[1], "NPY_DISABLE_CPU_FEATURES": " ".join(features)}, ())
            )
    # The WebRTC classifier's energy gate shares the energy VAD's products.
    variants.append(("webrtc-haswell-1", REFERENCE[1], ("--vad", "webrtc")))
    variants.append(
        (
            "webrtc-prescott-2",
            {"OPENBLAS_CORETYPE": "Prescott", "OPENBLAS_NUM_THREADS": "2"},
            ("--vad", "webrtc"),
        )
    )
    return variants


def _run(variant: Variant, out_dir: Path) -> dict[str, bytes]:
    """Run the driver under the variant's environment; return its files, keyed by relative path."""
    name, changes, args = variant
    env = dict(os.environ)
    for key, value in changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    target = out_dir / name
    command = [sys.executable, "-m", "tests.scenario.determinism_driver", str(target), *args]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, f"{name}: {done.stderr}"
    # numpy reports a refused NPY_DISABLE_CPU_FEATURES on stderr; nothing else may print there.
    assert done.stderr == "", f"{name}: {done.stderr}"
    uri = target.resolve().as_uri().encode()
    files = {}
    for path in sorted(target.rglob("*")):
        if path.is_file():
            # The recording URIs name the output folder, which differs per variant by design.
            files[str(path.relative_to(target))] = path.read_bytes().replace(uri, b"OUT")
    return files


def _differences(expected: dict[str, bytes], got: dict[str, bytes], only: str = "") -> list[str]:
    keys = sorted(k for k in set(expected) | set(got) if k.endswith(only))
    return [k for k in keys if expected.get(k) != got.get(k)]


def _run_all(variants: list[Variant], out_dir: Path) -> list[dict[str, bytes]]:
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 1)) as pool:
        return list(pool.map(lambda v: _run(v, out_dir), variants))


@pytest.mark.slow
def test_outputs_are_identical_under_every_blas_and_cpu_variant(tmp_path: Path) -> None:
    variants = [REFERENCE, *(v for v in _variants() if v[0] != REFERENCE[0])]
    results = _run_all(variants, tmp_path)
    reference = results[0]
    # The comparison covers every scenario: each one wrote its events (or its load error).
    stems = {p.stem for p in (ROOT / "resources" / "scenarios").glob("*.toml")}
    written = {k.split("/")[0].removesuffix(".error") for k in reference}
    assert written == stems
    assert any(k.endswith(".wav") for k in reference)
    failures = {}
    for (name, _, args), files in zip(variants[1:], results[1:], strict=True):
        # A --vad variant is compared with the reference run of the same classifier.
        base = next(r for v, r in zip(variants, results, strict=True) if v[2] == args)
        if base is files:
            continue
        diff = _differences(base, files)
        if diff:
            failures[name] = diff
    assert not failures, failures


@pytest.mark.slow
def test_outputs_do_not_depend_on_the_feed_block_size(tmp_path: Path) -> None:
    """441 samples: not a multiple of a 20 ms frame or of a DTMF hop. The calls' events and
    recordings must not change (timeline.json's total duration and the per-block levels do)."""
    variants: list[Variant] = [REFERENCE, ("block-441", REFERENCE[1], ("--feed-block", "441"))]
    reference, other = _run_all(variants, tmp_path)
    assert any(k.endswith(".wav") for k in reference)
    assert _differences(reference, other, ".jsonl") == []
    assert _differences(reference, other, ".wav") == []
