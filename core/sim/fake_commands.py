"""The fake commands of a simulated Pi: shell scripts that act only inside its tree.

``bin/`` goes first on PATH for every command of the simulated Pi, so it holds only
Pi-specific tools (vcgencmd, sudo, pinctrl). ``sim/sudo-bin/`` holds what the fake ``sudo``
may run; none of them touches anything outside the tree.
"""

from __future__ import annotations

from pathlib import Path

from fleet_tui.core.sim.tree_writes import write_executable

VCGENCMD_SCRIPT = r"""#!/bin/sh
# Fake vcgencmd (fleet-tui simulator): prints real-format output from files in this tree.
ROOT=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
S="$ROOT/sim/vcgencmd"
if [ -f "$S/fail" ]; then
    echo "VCHI initialization failed" >&2
    exit 1
fi
case "$1" in
    measure_temp)
        t=$(cat "$ROOT/sys/class/thermal/thermal_zone0/temp") || exit 1
        t=$(( (t + 50) / 100 ))
        printf "temp=%d.%d'C\n" $(( t / 10 )) $(( t % 10 )) ;;
    get_throttled) cat "$S/get_throttled" ;;
    measure_volts)
        case "${2:-core}" in
            core) cat "$S/measure_volts_core" ;;
            *) echo "volt=1.1000V" ;;
        esac ;;
    pmic_read_adc)
        if [ -f "$S/pmic_read_adc" ]; then
            cat "$S/pmic_read_adc"
        else
            echo 'error=1 error_msg="Command not registered"'
            exit 1
        fi ;;
    version) printf 'Mar 17 2024 10:50:39 \nCopyright (c) 2012 Broadcom\nversion simulated (release) (embedded)\n' ;;
    *) echo 'error=1 error_msg="Command not registered"'; exit 1 ;;
esac
"""

# Fake sudo: only "sudo -n CMD ..." is supported; runs CMD from this tree's sim/sudo-bin/
# (fakes of reboot, poweroff, tee, rm, pinctrl), never a host command. sim/sudo_denied makes
# it answer like a sudo without a NOPASSWD rule.
SUDO_SCRIPT = r"""#!/bin/sh
ROOT=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
if [ "$1" != "-n" ]; then echo "sudo: a password is required" >&2; exit 1; fi
shift
if [ -f "$ROOT/sim/sudo_denied" ]; then echo "sudo: a password is required" >&2; exit 1; fi
CMD=$1; shift
case "$CMD" in
    */*) ;;
    *) CMD="$ROOT/sim/sudo-bin/$CMD" ;;
esac
case "$CMD" in
    "$ROOT"/*) exec "$CMD" "$@" ;;
    *) echo "sudo: $CMD: command not allowed in the simulator" >&2; exit 1 ;;
esac
"""

# reboot / poweroff / shutdown / systemctl: record the request instead of doing it.
REQUEST_SCRIPT = r"""#!/bin/sh
ROOT=$(CDPATH= cd -- "$(dirname -- "$0")/../.." && pwd)
echo "$(basename "$0") $*" >> "$ROOT/sim/requests"
"""

# tee restricted to this tree (the agent writes sysfs files through "sudo -n tee").
TEE_SCRIPT = r"""#!/bin/sh
ROOT=$(CDPATH= cd -- "$(dirname -- "$0")/../.." && pwd)
for f in "$@"; do
    case "$f" in
        "$ROOT"/*) ;;
        *) echo "tee: $f: outside the simulated Pi" >&2; exit 1 ;;
    esac
done
for t in /usr/bin/tee /bin/tee; do [ -x "$t" ] && exec "$t" "$@"; done
echo "tee: not found" >&2
exit 127
"""

RM_SCRIPT = r"""#!/bin/sh
ROOT=$(CDPATH= cd -- "$(dirname -- "$0")/../.." && pwd)
for f in "$@"; do
    case "$f" in
        -f) ;;
        "$ROOT"/*) [ -e "$f" ] && /bin/rm -f -- "$f" ;;
        *) echo "rm: $f: outside the simulated Pi" >&2; exit 1 ;;
    esac
done
exit 0
"""

# install / mv / cp / sha256sum restricted to this tree (config files outside the home go
# through "sudo -n install|mv|cp|sha256sum"); install's -o/-g are recorded in sim/owners, not applied (the
# simulator runs as the test user, who cannot chown).
TREE_FILE_SCRIPT = r"""#!/bin/sh
ROOT=$(CDPATH= cd -- "$(dirname -- "$0")/../.." && pwd)
NAME=$(basename "$0")
for a in "$@"; do
    case "$a" in
        /*) case "$a" in
                "$ROOT"/*) ;;
                *) echo "$NAME: $a: outside the simulated Pi" >&2; exit 1 ;;
            esac ;;
    esac
done
if [ "$NAME" = install ]; then
    owner=""
    n=$#
    i=0
    while [ $i -lt $n ]; do
        a=$1; shift; i=$((i + 1))
        case "$a" in
            -o|-g) owner="$owner $a $1"; shift; i=$((i + 1)) ;;
            *) set -- "$@" "$a" ;;
        esac
    done
    [ -n "$owner" ] && eval "last=\${$#}" && echo "$last$owner" >> "$ROOT/sim/owners"
fi
for d in /usr/bin /bin; do [ -x "$d/$NAME" ] && exec "$d/$NAME" "$@"; done
echo "$NAME: not found" >&2
exit 127
"""

# pinctrl subset: "pinctrl set N op dh|dl" and "pinctrl get N"; state kept in sim/gpio/N.
PINCTRL_SCRIPT = r"""#!/bin/sh
ROOT=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
G="$ROOT/sim/gpio"
mkdir -p "$G"
case "$1" in
    set)
        pin=$2; shift 2
        level=""
        for a in "$@"; do
            case "$a" in dh) level=hi ;; dl) level=lo ;; esac
        done
        [ -n "$level" ] && echo "$level" > "$G/$pin" ;;
    get)
        pin=$2
        level=$(cat "$G/$pin" 2>/dev/null || echo lo)
        echo "$pin: op -- pn | $level // GPIO$pin = output" ;;
    *) echo "pinctrl: unsupported in the simulator" >&2; exit 1 ;;
esac
"""


def install_fake_commands(root: Path) -> None:
    """Write the fake commands into ``root/bin`` and ``root/sim/sudo-bin``."""
    bin_ = root / "bin"
    write_executable(bin_ / "vcgencmd", VCGENCMD_SCRIPT)
    write_executable(bin_ / "sudo", SUDO_SCRIPT)
    write_executable(bin_ / "pinctrl", PINCTRL_SCRIPT)
    sbin = root / "sim/sudo-bin"
    write_executable(sbin / "tee", TEE_SCRIPT)
    write_executable(sbin / "rm", RM_SCRIPT)
    for name in ("install", "mv", "cp", "sha256sum"):
        write_executable(sbin / name, TREE_FILE_SCRIPT)
    # One directory deeper than bin/, so the tree's root is one more ".." away.
    write_executable(
        sbin / "pinctrl",
        PINCTRL_SCRIPT.replace('$(dirname -- "$0")/..', '$(dirname -- "$0")/../..'),
    )
    for name in ("reboot", "poweroff", "shutdown", "systemctl"):
        write_executable(sbin / name, REQUEST_SCRIPT)
