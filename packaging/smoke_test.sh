#!/usr/bin/env bash
# Smoke-test the built bundle (packaging/build.sh first) the way a user's machine runs it: a
# clean environment without the project's venv or uv on PATH, a throw-away HOME.
#   1. the executable lists every subcommand;
#   2. it runs an example scenario from resources/scenarios/ and gets the promised ending;
#   3. `callsim doctor` exits 0;
#   4. with the system's PortAudio hidden, the bundle uses its own (needs root: unshare);
#   5. the GUI opens a real window on an Xvfb display (xdotool finds it by its title);
#   6. install.sh into a temporary prefix, the installed command works, the desktop entry and
#      metainfo validate, and uninstall.sh leaves the prefix as it found it.
set -euo pipefail
cd "$(dirname "$0")/.."

bundle=$(cd "${1:-dist/callsim}" && pwd)
exe="$bundle/callsim"
WINDOW_TIMEOUT_S=60  # a cold start of the bundle on a busy 2-core machine takes a few seconds
[ -x "$exe" ] || { echo "smoke_test.sh: no bundle at $bundle (run packaging/build.sh)" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/home"
# Only what a desktop session has: no venv, no uv, no PYTHONPATH. The sound server's address is
# kept so that doctor sees the same audio as the user (CI's virtual PulseAudio).
clean=(env -i "HOME=$work/home" "PATH=/usr/local/bin:/usr/bin:/bin" "LANG=C.UTF-8")
[ -n "${PULSE_SERVER:-}" ] && clean+=("PULSE_SERVER=$PULSE_SERVER")
[ -n "${OPENBLAS_CORETYPE:-}" ] && clean+=("OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE")
step() { printf '\n-- %s\n' "$*"; }
fail() { echo "smoke_test.sh: FAILED: $*" >&2; exit 1; }

step "subcommands"
help=$("${clean[@]}" "$exe" --help)
for sub in run serve doctor; do
  grep -q "$sub" <<<"$help" || fail "'callsim --help' does not list '$sub'"
done
echo "ok: run, serve, doctor listed"

step "callsim run resources/scenarios/8514-stop-tone.toml"
out=$("${clean[@]}" "$exe" run resources/scenarios/8514-stop-tone.toml --out "$work/run")
echo "$out"
grep -q "200/8514 stopToneDetected" <<<"$out" || fail "the stop-tone scenario did not end 200/8514"
[ -s "$work/run/events.jsonl" ] || fail "no events.jsonl written"
# The bundle's own copy of the examples (what an installed user has).
# Output captured, not piped into `grep -q`: grep stops at the first match, and the run's next
# write would then fail on a closed pipe (under pipefail, a failure that depends on timing).
out=$("${clean[@]}" "$exe" run "$bundle/_internal/app/_resources/scenarios/8509-max-silence.toml" \
  --out "$work/run2")
grep -q "200/8509" <<<"$out" || fail "the bundled 8509 example did not end 200/8509"
echo "ok: both scenarios ended as promised"

step "callsim doctor"
"${clean[@]}" QT_QPA_PLATFORM=offscreen "$exe" doctor || fail "doctor exited $?"

step "no PortAudio on the system: the bundle's own copy (packaging/rthooks)"
# A private mount namespace hides the system's libportaudio and empties the library cache, as
# on a machine without libportaudio2; needs root (CI is), skipped otherwise.
system_pa=$(ldconfig -p | awk '/libportaudio\.so\.2 /{print $NF; exit}')
if [ -n "$system_pa" ] && unshare -m true 2>/dev/null; then
  : > "$work/empty"
  # shellcheck disable=SC2016  # $@ is expanded by the inner shell
  "${clean[@]}" QT_QPA_PLATFORM=offscreen unshare -m sh -c \
    'mount --bind /dev/null "$1" && mount --bind "$2" /etc/ld.so.cache && shift 2 && exec "$@"' \
    sh "$(readlink -f "$system_pa")" "$work/empty" "$exe" doctor > "$work/doctor-no-pa.txt" || true
  grep "portaudio" "$work/doctor-no-pa.txt"
  grep -q "^ok    portaudio" "$work/doctor-no-pa.txt" || fail "the bundled PortAudio was not used"
else
  echo "skipped: needs root and a system PortAudio to hide"
fi

step "the GUI opens a window under Xvfb"
cat > "$work/gui.sh" <<'INNER'
set -u
"$@" &
app=$!
if ! timeout "$WINDOW_TIMEOUT_S" xdotool search --sync --onlyvisible --name '^CallSim' >/dev/null; then
  echo "no CallSim window within ${WINDOW_TIMEOUT_S} s" >&2; kill "$app" 2>/dev/null; exit 1
fi
title=$(xdotool search --onlyvisible --name '^CallSim' getwindowname | sed -n 1p)
kill -0 "$app" || { echo "the app exited after showing its window" >&2; exit 1; }
echo "window: $title"
kill "$app"; wait "$app" 2>/dev/null || true
INNER
"${clean[@]}" "WINDOW_TIMEOUT_S=$WINDOW_TIMEOUT_S" \
  xvfb-run -a -s "-screen 0 1280x900x24" bash "$work/gui.sh" "$exe" \
  || fail "the bundled GUI did not show its window"

step "install.sh / uninstall.sh into a temporary prefix"
prefix="$work/prefix"
mkdir -p "$prefix"
before=$(cd "$prefix" && find . | sort)
"${clean[@]}" bash "$bundle/install.sh" --prefix "$prefix"
desktop-file-validate "$prefix/share/applications/io.github.callsim.CallSim.desktop"
appstreamcli validate --no-net "$prefix/share/metainfo/io.github.callsim.CallSim.metainfo.xml"
out=$("${clean[@]}" "$prefix/bin/callsim" run resources/scenarios/8510-initial-silence.toml \
  --out "$work/run3")
grep -q "8510" <<<"$out" || fail "the installed callsim did not run a scenario"
"${clean[@]}" bash "$prefix/opt/callsim/uninstall.sh" --prefix "$prefix"
after=$(cd "$prefix" && find . | sort)
[ "$before" = "$after" ] || fail "uninstall left: $(diff <(echo "$before") <(echo "$after") || true)"
echo "ok: installed, ran, validated, removed without a trace"

echo
echo "smoke test passed"
