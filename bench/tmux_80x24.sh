#!/usr/bin/env bash
# The real TUI in a real terminal: `fleet-tui demo` in tmux at 80x24 (NO_COLOR, keyboard only).
# Measures the time until every simulated Pi is on screen, then the bytes the app writes to the
# terminal over a fixed window, normal vs --low-bandwidth (the baseline is the normal run in
# this same script). Usage: bench/tmux_80x24.sh [DEVICES] [SECONDS]. Needs tmux.
set -euo pipefail
cd "$(dirname "$0")/.."
DEVICES=${1:-12}
WINDOW=${2:-10}
PY=${PY:-.venv/bin/python}
if ! command -v tmux >/dev/null; then echo "tmux not installed: skipped"; exit 0; fi
SOCK="fleet-bench-$$"
TMP=$(mktemp -d)
cleanup() { tmux -L "$SOCK" kill-server 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT

run() {  # $1 = name, $2 = extra global flags; prints "seconds_to_rows bytes"
    local name=$1 flags=$2 out="$TMP/$1.out" start now bytes
    : > "$out"
    tmux -L "$SOCK" -f /dev/null new-session -d -x 80 -y 24 -s "$name" \
        "NO_COLOR=1 XDG_CONFIG_HOME=$TMP/cfg XDG_STATE_HOME=$TMP/state $PY -m fleet_tui.cli $flags --db $TMP/$name.db demo --devices $DEVICES"
    tmux -L "$SOCK" pipe-pane -t "$name" -o "cat >> $out"
    start=$(date +%s.%N)
    for _ in $(seq 1 600); do  # at most 60 s
        if tmux -L "$SOCK" capture-pane -p -t "$name" | grep -q "$DEVICES/$DEVICES shown" &&
           [ "$(tmux -L "$SOCK" capture-pane -p -t "$name" | grep -c '°C')" -ge "$DEVICES" ]; then
            break
        fi
        sleep 0.1
    done
    now=$(date +%s.%N)
    local before after
    before=$(stat -c %s "$out")
    sleep "$WINDOW"
    after=$(stat -c %s "$out")
    bytes=$((after - before))
    tmux -L "$SOCK" capture-pane -p -t "$name" > "$TMP/$name.screen"
    tmux -L "$SOCK" send-keys -t "$name" q
    for _ in $(seq 1 100); do tmux -L "$SOCK" has-session -t "$name" 2>/dev/null || break; sleep 0.1; done
    echo "$(echo "$now - $start" | bc) $bytes"
}

read -r t_normal b_normal < <(run normal "")
read -r t_low b_low < <(run low "--low-bandwidth")
printf 'fleet-tui demo --devices %s in tmux 80x24, NO_COLOR, %ss window\n' "$DEVICES" "$WINDOW"
printf '  %-34s %12s %14s %8s\n' "mode" "rows shown s" "bytes/s out" "ratio"
printf '  %-34s %12.2f %14d %8s\n' "normal (baseline)" "$t_normal" $((b_normal / WINDOW)) "1.00"
ratio=$(echo "scale=2; $b_low / ($b_normal + 1)" | bc)
printf '  %-34s %12.2f %14d %8s\n' "--low-bandwidth" "$t_low" $((b_low / WINDOW)) "$ratio"
echo "last screen of the normal run:"
sed 's/^/  | /' "$TMP/normal.screen"
