"""The one command line: ``callsim`` (the GUI), ``callsim run``, ``serve``, ``doctor``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2  # a broken scenario or bad arguments (docs/design.md §5)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser; ``serve`` and ``doctor`` get their options only when chosen.

    Why: ``serve``'s options live in ``app.server.cli``, whose import pulls in aiohttp and the
    server (0.3-0.4 s of start-up), and ``app.doctor`` imports urllib and subprocess (0.1 s).
    ``callsim run`` and ``--help`` need neither, so only the chosen subcommand's parser is
    filled in; ``tests/bench/bench_run.py`` measures the start-up against numpy + soundfile.
    """
    parser = argparse.ArgumentParser(
        prog="callsim",
        description="A fake caller and a local Microsoft Graph recordResponse service.",
    )
    sub = parser.add_subparsers(dest="command")
    gui = sub.add_parser("gui", help="open the desktop fake caller (the default)")
    gui.add_argument("--settings", type=Path, help="settings file (default: per-user)")
    run = sub.add_parser("run", help="run a scenario file headless and write its outputs")
    run.add_argument("scenario", type=Path, help="scenario TOML file")
    run.add_argument("--out", type=Path, required=True, help="output folder (created)")
    run.add_argument("--quiet", action="store_true", help="print nothing but errors")
    check = sub.add_parser("check", help="run scenarios and check their [[expect]] entries")
    check.add_argument("paths", type=Path, nargs="+", help="scenario files or folders")
    check.add_argument(
        "-j", "--jobs", type=_positive_int, help="worker processes (default: the CPU count)"
    )
    check.add_argument("--junit", type=Path, help="write JUnit XML here")
    check.add_argument("--out", type=Path, help="keep each scenario's outputs under this folder")
    sweep = sub.add_parser("sweep", help="vary one value of a scenario over a range, find flips")
    sweep.add_argument("scenario", type=Path, help="scenario TOML file")
    sweep.add_argument(
        "--vary",
        required=True,
        help="caller#N.KEY, bot#N.KEY, bot#N.body.KEY, call.KEY, gap:caller#A:caller#B "
        "or prompt:bot#N",
    )
    sweep.add_argument("--from", dest="start", type=float, required=True, help="first value")
    sweep.add_argument("--to", dest="stop", type=float, required=True, help="last value")
    sweep.add_argument("--step", type=float, required=True, help="step between values")
    sweep.add_argument("-j", "--jobs", type=_positive_int, default=1, help="worker processes")
    sweep.add_argument("--csv", type=Path, help="write the outcomes as CSV here")
    sweep.add_argument("--plot", type=Path, help="draw outcome against value as PNG here")
    serve = sub.add_parser("serve", help="serve a local Graph-compatible endpoint")
    if command == "serve":
        from app.server.cli import configure_parser

        configure_parser(serve)
    doctor = sub.add_parser("doctor", help="check what CallSim needs on this machine")
    if command == "doctor":
        from app.doctor import configure_parser as configure_doctor  # urllib, subprocess...

        configure_doctor(doctor)
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if not 1 <= value <= 1024:
        raise argparse.ArgumentTypeError(f"must be 1 .. 1024, got {value}")
    return value


def chosen_command(argv: Sequence[str]) -> str | None:
    """The subcommand named in ``argv`` (its first argument not starting with ``-``), if any.

    The top-level parser has no option that takes a value, so the first positional argument
    is the subcommand, as argparse itself will find it.
    """
    for arg in argv:
        if arg == "--":
            return None
        if not arg.startswith("-"):
            return arg
    return None


def run_command(args: argparse.Namespace) -> int:
    """``callsim run``: one line per operation ending on stdout; exit 2 for a broken scenario."""
    from app.scenario.model import ScenarioError, load_scenario
    from app.scenario.output import seconds
    from app.scenario.runner import run_scenario

    try:
        scenario = load_scenario(args.scenario)
        # Only the endings are kept: memory stays flat however long the scenario runs.
        result = run_scenario(scenario, args.out, keep_events=False)
    except ScenarioError as exc:
        print(f"callsim: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"callsim: error: cannot write outputs: {exc}", file=sys.stderr)
        return EXIT_ERROR
    if not args.quiet:
        for end in result.endings:
            print(
                f"{seconds(end.sample_index):9.3f}s  {end.kind:15s} {end.status:9s} "
                f"{end.code}/{end.subcode} {end.reason}"
            )
        print(f"outputs in {args.out}")
    return EXIT_OK


def sweep_command(args: argparse.Namespace) -> int:
    """``callsim sweep``: the table of outcomes; exit 2 for a bad scenario, range or selector."""
    from app.scenario.model import ScenarioError
    from app.scenario.sweep import PlotUnavailableError, SweepError, run_sweep, values

    try:
        grid = values(args.start, args.stop, args.step)
        run_sweep(
            args.scenario,
            args.vary,
            grid,
            workers=args.jobs,
            csv_path=args.csv,
            plot_path=args.plot,
        )
    except (ScenarioError, SweepError, PlotUnavailableError) as exc:
        print(f"callsim: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"callsim: error: cannot write outputs: {exc}", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``callsim`` console script."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(chosen_command(argv))
    args = parser.parse_args(argv)
    from app.engine.blas import limit_blas_threads

    limit_blas_threads()  # before any engine runs, whatever the subcommand (app/engine/blas.py)
    if args.command == "run":
        return run_command(args)
    if args.command == "check":
        from app.scenario.check import run_check

        code, _ = run_check(args.paths, workers=args.jobs, out_root=args.out, junit=args.junit)
        return code
    if args.command == "sweep":
        return sweep_command(args)
    if args.command == "doctor" and args.probe == "qt":
        # The doctor's Qt probe, in the child it started: only the UI layer imports Qt.
        from app.doctor import emit
        from app.ui.qt_probe import probe_qt

        probe_qt(emit)
        return EXIT_OK
    if args.command == "doctor":
        from app.doctor import doctor_command

        return doctor_command(args)
    if args.command == "serve":
        from app.server.cli import serve_command

        return int(serve_command(args))
    from app.ui.app import run_gui

    return int(run_gui(getattr(args, "settings", None)))


if __name__ == "__main__":
    sys.exit(main())
