#!/usr/bin/env bash
# virtual_audio.sh — a virtual microphone and speaker for CallSim's live-audio tests.
#
# The CI machine has no sound card and cannot load kernel modules (no snd-aloop), so the
# devices live in user space: one PulseAudio daemon with two null sinks.
#
#   vmic_feed   null sink    play a WAV into it (`feed`) and it comes out of ...
#   vmic        source       ... the default input (a mono remap of vmic_feed.monitor)
#   vspeaker    null sink    the default output; record vspeaker.monitor (`capture`)
#
# PortAudio (sounddevice) reaches the daemon through ALSA's "pulse"/"default" PCMs, which the
# libasound2-plugins package provides. ALSA decides what "default" means when PortAudio
# initialises, so START THIS BEFORE THE PYTHON PROCESS IMPORTS sounddevice.
#
# Usage: virtual_audio.sh start|stop|status|feed FILE|capture OUT.wav SECONDS|env
#
# Environment: CALLSIM_VA_DIR (state folder, default /tmp/callsim-virtual-audio),
#              CALLSIM_VA_SOCKET (default /run/pulse/native, libpulse's system-wide fallback,
#              so every client finds the daemon without PULSE_SERVER), CALLSIM_VA_RATE (48000).
set -euo pipefail

STATE_DIR=${CALLSIM_VA_DIR:-/tmp/callsim-virtual-audio}
SOCKET=${CALLSIM_VA_SOCKET:-/run/pulse/native}
RATE=${CALLSIM_VA_RATE:-48000}
PIDFILE=$STATE_DIR/pulseaudio.pid
LOGFILE=$STATE_DIR/pulseaudio.log
export PULSE_SERVER="unix:$SOCKET"

say() { printf 'virtual_audio: %s\n' "$*" >&2; }

missing_tools() {
    local t missing=()
    for t in pulseaudio pactl paplay parecord; do
        command -v "$t" >/dev/null || missing+=("$t")
    done
    compgen -G '/usr/lib/*/alsa-lib/libasound_module_pcm_pulse.so' >/dev/null ||
        missing+=("ALSA pulse plugin (libasound2-plugins)")
    compgen -G '/usr/lib/*/libportaudio.so.2' >/dev/null || missing+=("libportaudio2")
    printf '%s\n' "${missing[@]}"
}

daemon_alive() {
    [ -s "$PIDFILE" ] || return 1
    local pid
    pid=$(<"$PIDFILE")
    [ -r "/proc/$pid/comm" ] && [ "$(<"/proc/$pid/comm")" = pulseaudio ] &&
        ! grep -q '^State:[[:space:]]*Z' "/proc/$pid/status" 2>/dev/null
}

# Ready means: both sinks, the mic source and both keep-alive loopbacks exist.
devices_ready() {
    local sinks sources modules
    sinks=$(pactl list short sinks 2>/dev/null) || return 1
    sources=$(pactl list short sources 2>/dev/null) || return 1
    modules=$(pactl list short modules 2>/dev/null) || return 1
    grep -qw vspeaker <<<"$sinks" && grep -qw vmic_feed <<<"$sinks" &&
        grep -qP '^\d+\s+vmic\s' <<<"$sources" &&
        [ "$(grep -c module-loopback <<<"$modules")" -ge 2 ]
}

write_config() {
    # Why the loopbacks and the suspend/resume: an idle null sink renders in 2 s blocks, so a
    # recorder would get nothing for ~2 s. A 20 ms loopback attached to each sink keeps it in
    # low-latency mode, and one suspend/resume restarts its clock at that latency (measured:
    # first input callback after 0.01 s instead of 1.8 s).
    cat >"$STATE_DIR/callsim.pa" <<EOF
load-module module-native-protocol-unix socket=$SOCKET auth-anonymous=1
load-module module-null-sink sink_name=vspeaker rate=$RATE channels=2 sink_properties=device.description=CallSimSpeaker
load-module module-null-sink sink_name=vmic_feed rate=$RATE channels=2 sink_properties=device.description=CallSimMicFeed
load-module module-remap-source master=vmic_feed.monitor source_name=vmic rate=$RATE channels=1 channel_map=mono source_properties=device.description=CallSimMic
load-module module-null-source source_name=callsim_keepalive rate=$RATE channels=1 description=KeepAlive
load-module module-loopback source=callsim_keepalive sink=vmic_feed latency_msec=20 source_dont_move=true sink_dont_move=true
load-module module-loopback source=callsim_keepalive sink=vspeaker latency_msec=20 source_dont_move=true sink_dont_move=true
set-default-sink vspeaker
set-default-source vmic
suspend-sink vmic_feed 1
suspend-sink vmic_feed 0
suspend-sink vspeaker 1
suspend-sink vspeaker 0
EOF
}

stop_daemon() {
    if daemon_alive; then
        local pid i
        pid=$(<"$PIDFILE")
        kill "$pid" 2>/dev/null || true
        for i in $(seq 1 100); do
            daemon_alive || break
            sleep 0.05
        done
        daemon_alive && kill -9 "$pid" 2>/dev/null || true
        say "stopped (pid $pid)"
    fi
    rm -f "$PIDFILE" "$SOCKET" "$SOCKET.lock"
}

cmd_start() {
    if daemon_alive && devices_ready; then
        say "already running (pid $(<"$PIDFILE"))"
        return 0
    fi
    local missing
    missing=$(missing_tools)
    if [ -n "$missing" ]; then
        say "missing: $(tr '\n' ',' <<<"$missing" | sed 's/,$//')"
        say "install: apt-get install libportaudio2 pulseaudio pulseaudio-utils libasound2-plugins"
        return 1
    fi
    stop_daemon
    mkdir -p "$STATE_DIR" "$(dirname "$SOCKET")"
    rm -f "$LOGFILE"
    write_config
    # -n: ignore the system default.pa; --daemonize=no under setsid so that $! is the daemon.
    # As root PulseAudio warns that it is "not intended to be run as root" and carries on.
    setsid pulseaudio -n --file="$STATE_DIR/callsim.pa" --daemonize=no --exit-idle-time=-1 \
        --use-pid-file=no --disallow-exit=yes --log-target=file:"$LOGFILE" --log-level=notice \
        </dev/null >>"$STATE_DIR/pulseaudio.out" 2>&1 &
    echo $! >"$PIDFILE"
    local i
    for i in $(seq 1 200); do # 10 s at most
        devices_ready && break
        # A module line that fails does not stop the daemon, so look for it in the log.
        if grep -q 'Failed to load module' "$LOGFILE" 2>/dev/null; then
            say "a module failed to load:"
            grep -E '^E' "$LOGFILE" >&2 || true
            stop_daemon
            return 1
        fi
        if ! daemon_alive; then
            say "pulseaudio exited while starting:"
            tail -20 "$LOGFILE" "$STATE_DIR/pulseaudio.out" >&2 2>/dev/null || true
            return 1
        fi
        sleep 0.05
    done
    if ! devices_ready; then
        say "devices not ready after 10 s"
        stop_daemon
        return 1
    fi
    say "started (pid $(<"$PIDFILE")): input vmic, output vspeaker, socket $SOCKET"
}

cmd_status() {
    if daemon_alive && devices_ready; then
        say "running (pid $(<"$PIDFILE"))"
        pactl info | grep -E '^Default (Sink|Source)'
        return 0
    fi
    say "not running"
    return 1
}

cmd_feed() {
    local file=${1:?usage: feed FILE}
    devices_ready || { say "not running"; return 1; }
    # --latency-msec: plain paplay asks for 2 s of latency and would arrive late.
    paplay --latency-msec=20 --device=vmic_feed "$file"
}

cmd_capture() {
    local out=${1:?usage: capture OUT.wav SECONDS} secs=${2:?usage: capture OUT.wav SECONDS}
    devices_ready || { say "not running"; return 1; }
    timeout --signal=INT "$secs" parecord --latency-msec=20 --device=vspeaker.monitor \
        --rate="$RATE" --channels=1 --format=s16le --file-format=wav "$out" || [ $? = 124 ]
}

case "${1:-}" in
start) cmd_start ;;
stop) stop_daemon ;;
status) cmd_status ;;
feed) shift; cmd_feed "$@" ;;
capture) shift; cmd_capture "$@" ;;
env) echo "export PULSE_SERVER=$PULSE_SERVER" ;;
*)
    sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
