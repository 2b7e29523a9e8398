"""Contents of the fake files that are fixed once the tree is built: cpuinfo, os-release,
MAC addresses and LED triggers, each as the given model shows them."""

from __future__ import annotations

from fleet_tui.core.sim.pi_models import PiModel

LED_TRIGGERS = (
    "none rc-feedback kbd-scrolllock kbd-numlock kbd-capslock kbd-kanalock kbd-shiftlock "
    "kbd-altgrlock kbd-ctrllock kbd-altlock kbd-shiftllock kbd-shiftrlock kbd-ctrlllock "
    "kbd-ctrlrlock timer oneshot heartbeat backlight gpio cpu cpu0 cpu1 cpu2 cpu3 default-on "
    "input panic actpwr mmc1 [mmc0] rfkill-any rfkill-none"
)


def mac_addresses(model: PiModel, serial: str) -> dict[str, str]:
    """eth0 and wlan0 (only wlan0 on a Zero 2 W): the model's OUI, then the serial's tail."""
    tail = (serial[-6:] if len(serial) >= 6 else serial.rjust(6, "0")).lower()
    try:
        n = int(tail, 16)
    except ValueError:
        n = abs(hash(serial)) & 0xFFFFFF
    oui = model.mac_oui.lower()

    def mac(v: int) -> str:
        v &= 0xFFFFFF
        return f"{oui}:{v >> 16:02x}:{(v >> 8) & 0xFF:02x}:{v & 0xFF:02x}"

    if model.key == "zero2w":
        return {"wlan0": mac(n)}
    return {"eth0": mac(n), "wlan0": mac(n + 1)}


def cpuinfo_text(model: PiModel, serial: str) -> str:
    if model.arch == "armv7l":
        block = (
            "model name\t: ARMv7 Processor rev 4 (v7l)\n"
            "BogoMIPS\t: 38.40\n"
            "Features\t: half thumb fastmult vfp edsp neon vfpv3 tls vfpv4 idiva idivt vfpd32 lpae evtstrm crc32 \n"
            "CPU implementer\t: 0x41\nCPU architecture: 7\nCPU variant\t: 0x0\nCPU part\t: 0xd03\nCPU revision\t: 4\n"
        )
    elif model.soc == "BCM2712":
        block = (
            "BogoMIPS\t: 108.00\n"
            "Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp\n"
            "CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x4\nCPU part\t: 0xd0b\nCPU revision\t: 1\n"
        )
    elif model.soc == "BCM2711":
        block = (
            "BogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32 cpuid\n"
            "CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: 0xd08\nCPU revision\t: 3\n"
        )
    else:
        block = (
            "BogoMIPS\t: 38.40\nFeatures\t: fp asimd evtstrm crc32 cpuid\n"
            "CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: 0xd03\nCPU revision\t: 4\n"
        )
    parts = [f"processor\t: {i}\n{block}\n" for i in range(model.cores)]
    tail = ""
    if model.soc != "BCM2712":
        tail += "Hardware\t: BCM2835\n"
    tail += f"Revision\t: {model.revision}\nSerial\t\t: {serial}\nModel\t\t: {model.model_string}\n"
    return "".join(parts) + tail


def os_release_text(model: PiModel) -> str:
    if model.arch == "armv7l":
        return (
            'PRETTY_NAME="Raspbian GNU/Linux 12 (bookworm)"\nNAME="Raspbian GNU/Linux"\n'
            'VERSION_ID="12"\nVERSION="12 (bookworm)"\nVERSION_CODENAME=bookworm\nID=raspbian\n'
            'ID_LIKE=debian\nHOME_URL="http://www.raspbian.org/"\n'
            'SUPPORT_URL="http://www.raspbian.org/RaspbianForums"\n'
            'BUG_REPORT_URL="http://www.raspbian.org/RaspbianBugs"\n'
        )
    return (
        'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\n'
        'VERSION="12 (bookworm)"\nVERSION_CODENAME=bookworm\nID=debian\n'
        'HOME_URL="https://www.debian.org/"\nSUPPORT_URL="https://www.debian.org/support"\n'
        'BUG_REPORT_URL="https://bugs.debian.org/"\n'
    )
