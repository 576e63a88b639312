"""Voice activity detection: per-frame classifiers and the endpointer that turns them into edges.

- base.py: the FrameClassifier protocol, make_classifier(name, **options), CLASSIFIER_NAMES and
  DEFAULT_CLASSIFIER (chosen by measurement; the numbers are next to the constant).
- energy.py (default), webrtc.py, silero.py (optional extra `silero`), scripted.py (labels).
- endpointer.py: onset confirmation (200 ms of speech in 300 ms, back-dated) and pauses (100 ms).
The evaluation behind the choices is tests/bench/vad_eval.py
(`uv run python -m tests.bench.vad_eval`).
"""
