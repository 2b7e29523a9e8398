"""Discovery from the agent's host, for when the Pis sit on a jump host's LAN.

``neighbours``: the raw kernel neighbour table (``/proc/net/arp`` and ``ip neigh show``); the
laptop parses it (it is the laptop's job to distrust it). ``browse``: a one-shot mDNS query
for the service types asked (legacy unicast: we send from an ephemeral port, responders
answer us directly, so nothing needs port 5353), answers collected for ``seconds``.

Only the interfaces asked for are used (``interfaces``: IPv4 addresses of this host); with
none given, every interface that is up and has an IPv4 address, loopback excluded. Nothing
is sent anywhere but the mDNS group 224.0.0.251 on those interfaces.
"""

from __future__ import annotations

import fcntl
import os
import select
import shutil
import socket
import struct
import subprocess
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from . import protocol
from .paths import Missing, is_rerooted, read_text
from .protocol import ProtocolError, Request

MDNS_GROUP = "224.0.0.251"
MDNS_PORT = 5353
FIRST_ROUND_S = 1.2  # a quiet browse runs at least this long: the three queries, their answers
DEFAULT_TYPES = ("_ssh._tcp.local.", "_workstation._tcp.local.", "_pifleet._tcp.local.")
MAX_TABLE = 256 * 1024
MAX_PACKET = 9000
MAX_RECORDS = 4096
T_A, T_PTR, T_TXT, T_AAAA, T_SRV = 1, 12, 16, 28, 33
SIOCGIFADDR = 0x8915
SIOCGIFFLAGS = 0x8913
IFF_UP, IFF_LOOPBACK, IFF_MULTICAST = 0x1, 0x8, 0x1000


# --- neighbour table ------------------------------------------------------------------------


def neighbours(req: Request) -> Dict[str, Any]:
    out: Dict[str, Any] = {"proc_arp": "", "ip_neigh": "", "missing": {}}
    try:
        out["proc_arp"] = read_text("/proc/net/arp", MAX_TABLE)
    except Missing as e:
        out["missing"]["proc_arp"] = str(e)
    ip = shutil.which("ip")
    if ip and not is_rerooted():  # re-rooted (simulator): the host's table is not the Pi's
        try:
            done = subprocess.run(
                [ip, "neigh", "show"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=3
            )
            out["ip_neigh"] = done.stdout[:MAX_TABLE].decode("utf-8", "replace")
        except (OSError, subprocess.TimeoutExpired) as e:
            out["missing"]["ip_neigh"] = "ip neigh failed: %s" % e
    else:
        out["missing"]["ip_neigh"] = "no ip command" if not ip else "simulated host"
    return out


# --- interfaces -----------------------------------------------------------------------------


def _ifaddr(sock: socket.socket, name: str) -> Optional[Tuple[str, int]]:
    packed = struct.pack("256s", name.encode()[:15])
    try:
        flags = struct.unpack("H", fcntl.ioctl(sock.fileno(), SIOCGIFFLAGS, packed)[16:18])[0]
        addr = socket.inet_ntoa(fcntl.ioctl(sock.fileno(), SIOCGIFADDR, packed)[20:24])
    except OSError:
        return None
    return addr, flags


def local_ipv4_interfaces() -> List[str]:
    """IPv4 addresses of interfaces that are up, multicast-capable and not loopback."""
    found: List[str] = []
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for _index, name in socket.if_nameindex():
            got = _ifaddr(probe, name)
            if got is None:
                continue
            addr, flags = got
            if flags & IFF_UP and flags & IFF_MULTICAST and not flags & IFF_LOOPBACK:
                found.append(addr)
    finally:
        probe.close()
    return found


# --- DNS wire format ------------------------------------------------------------------------


def encode_name(name: str) -> bytes:
    out = b""
    for label in name.rstrip(".").split("."):
        raw = label.encode("utf-8")
        if not 0 < len(raw) < 64:
            raise ValueError("bad DNS label in %r" % name)
        out += bytes([len(raw)]) + raw
    return out + b"\x00"


def build_query(questions: List[Tuple[str, int]], query_id: int) -> bytes:
    header = struct.pack("!HHHHHH", query_id, 0, len(questions), 0, 0, 0)
    body = b"".join(encode_name(n) + struct.pack("!HH", t, 1) for n, t in questions)
    return header + body


def read_name(data: bytes, offset: int) -> Tuple[str, int]:
    """A possibly compressed name at ``offset``; returns (name, offset after it)."""
    labels: List[str] = []
    end = -1
    jumps = 0
    total = 0
    while True:
        if offset >= len(data):
            raise ValueError("name runs past the packet")
        length = data[offset]
        if length & 0xC0 == 0xC0:
            if offset + 1 >= len(data):
                raise ValueError("truncated pointer")
            if end < 0:
                end = offset + 2
            offset = ((length & 0x3F) << 8) | data[offset + 1]
            jumps += 1
            if jumps > 32:
                raise ValueError("name pointer loop")
            continue
        if length & 0xC0:
            raise ValueError("bad label type")
        offset += 1
        if length == 0:
            break
        label = data[offset : offset + length]
        if len(label) != length:
            raise ValueError("truncated label")
        total += length + 1
        if total > 255:
            raise ValueError("name too long")
        labels.append(label.decode("utf-8", "replace"))
        offset += length
    return ".".join(labels) + ".", (end if end >= 0 else offset)


def parse_packet(data: bytes) -> List[Tuple[str, int, Any]]:
    """Every answer/authority/additional record as (name, type, value); others skipped."""
    if len(data) < 12:
        raise ValueError("short packet")
    _id, flags, qd, an, ns, ar = struct.unpack("!HHHHHH", data[:12])
    if not flags & 0x8000:
        return []  # a query, not a response
    offset = 12
    for _ in range(qd):
        _name, offset = read_name(data, offset)
        offset += 4
    records: List[Tuple[str, int, Any]] = []
    for _ in range(min(an + ns + ar, MAX_RECORDS)):
        name, offset = read_name(data, offset)
        if offset + 10 > len(data):
            raise ValueError("truncated record")
        rtype, _rclass, ttl, rdlen = struct.unpack("!HHIH", data[offset : offset + 10])
        offset += 10
        rdata_at = offset
        offset += rdlen
        if offset > len(data):
            raise ValueError("truncated rdata")
        rdata = data[rdata_at:offset]
        value: Any = None
        if rtype == T_A and rdlen == 4:
            value = socket.inet_ntop(socket.AF_INET, rdata)
        elif rtype == T_AAAA and rdlen == 16:
            value = socket.inet_ntop(socket.AF_INET6, rdata)
        elif rtype == T_PTR:
            value = read_name(data, rdata_at)[0]
        elif rtype == T_SRV and rdlen >= 7:
            _prio, _weight, port = struct.unpack("!HHH", rdata[:6])
            value = (read_name(data, rdata_at + 6)[0], port)
        elif rtype == T_TXT:
            value = _txt(rdata)
        if value is not None:
            records.append((name, rtype, (value, ttl)))
    return records


def _txt(rdata: bytes) -> Dict[str, str]:
    out: Dict[str, str] = {}
    i = 0
    while i < len(rdata) and len(out) < 64:
        n = rdata[i]
        item = rdata[i + 1 : i + 1 + n]
        i += 1 + n
        if not item:
            continue
        key, _, val = item.partition(b"=")
        out[key.decode("utf-8", "replace")[:64]] = val.decode("utf-8", "replace")[:255]
    return out


# --- browse ---------------------------------------------------------------------------------


class _Cache:
    def __init__(self) -> None:
        self.ptr: Dict[str, set] = {}
        self.srv: Dict[str, Tuple[str, int]] = {}
        self.txt: Dict[str, Dict[str, str]] = {}
        self.addr: Dict[str, List[str]] = {}
        self.gone: set = set()

    def add(self, name: str, rtype: int, value: Any, ttl: int) -> bool:
        """Keep one record; True when it told us something new (a quiet browse waits for
        that to stop)."""
        key = name.lower()
        if rtype == T_PTR:
            if ttl == 0:
                new = value.lower() not in self.gone
                self.gone.add(value.lower())
                return new
            known = self.ptr.setdefault(key, set())
            new = value not in known
            known.add(value)
            return new
        if rtype == T_SRV:
            new = self.srv.get(key) != value
            self.srv[key] = value
            return new
        if rtype == T_TXT:
            new = self.txt.get(key) != value
            self.txt[key] = value
            return new
        if rtype in (T_A, T_AAAA):
            addrs = self.addr.setdefault(key, [])
            if value not in addrs and len(addrs) < 16:
                addrs.append(value)
                return True
        return False

    def services(self, types: Tuple[str, ...]) -> List[Dict[str, Any]]:
        out = []
        for kind in types:
            for instance in sorted(self.ptr.get(kind.lower(), ())):
                ikey = instance.lower()
                if ikey in self.gone:
                    continue
                srv = self.srv.get(ikey)
                host, port = srv if srv else (None, None)
                out.append(
                    {
                        "name": instance,
                        "type": kind,
                        "host": host,
                        "port": port,
                        "addresses": list(self.addr.get(host.lower(), [])) if host else [],
                        "txt": self.txt.get(ikey, {}),
                    }
                )
        return out

    def missing(self, types: Tuple[str, ...]) -> List[Tuple[str, int]]:
        questions: List[Tuple[str, int]] = []
        for svc in self.services(types):
            if svc["host"] is None:
                questions += [(svc["name"], T_SRV), (svc["name"], T_TXT)]
            elif not svc["addresses"]:
                questions += [(svc["host"], T_A), (svc["host"], T_AAAA)]
        return questions[:64]


def _types(req: Request) -> Tuple[str, ...]:
    types = req.params.get("types", list(DEFAULT_TYPES))
    if (
        not isinstance(types, list)
        or not types
        or len(types) > 8
        or not all(isinstance(t, str) and t.endswith("._tcp.local.") and len(t) < 64 for t in types)
    ):
        raise ProtocolError(
            protocol.BAD_REQUEST, "'types' must be 1-8 names like '_ssh._tcp.local.'", req.id
        )
    return tuple(types)


def _interfaces(req: Request) -> List[str]:
    given = req.params.get("interfaces")
    if given is None:
        return local_ipv4_interfaces()
    if not isinstance(given, list) or len(given) > 16:
        raise ProtocolError(
            protocol.BAD_REQUEST, "'interfaces' must be a list of IPv4 addresses", req.id
        )
    for addr in given:
        try:
            socket.inet_aton(addr)
        except (OSError, TypeError):
            raise ProtocolError(
                protocol.BAD_REQUEST, "%r is not an IPv4 address" % (addr,), req.id
            ) from None
    return list(given)


def browse(req: Request, clock: Callable[[], float] = time.monotonic) -> Dict[str, Any]:
    """Ask for `types` on the interfaces and collect the answers for `seconds`; with `quiet`,
    stop once the three queries have gone out, FIRST_ROUND_S has passed and nothing new has
    come for `quiet` seconds (the LAN has answered). Says how long it took and why it
    stopped (`quiet` or `timeout`)."""
    seconds = req.params.get("seconds", 2.0)
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, (int, float))
        or not 0.2 <= seconds <= 10
    ):
        raise ProtocolError(protocol.BAD_REQUEST, "'seconds' must be a number in [0.2, 10]", req.id)
    quiet = req.params.get("quiet")
    if quiet is not None and (
        isinstance(quiet, bool) or not isinstance(quiet, (int, float)) or not 0.1 <= quiet <= 10
    ):
        raise ProtocolError(protocol.BAD_REQUEST, "'quiet' must be a number in [0.1, 10]", req.id)
    types = _types(req)
    interfaces = _interfaces(req)
    if not interfaces:
        raise ProtocolError(
            protocol.UNAVAILABLE, "no multicast-capable IPv4 interface is up", req.id
        )
    socks: List[socket.socket] = []
    cache = _Cache()
    errors: Dict[str, str] = {}
    query_id = struct.unpack("!H", os.urandom(2))[0] or 1
    try:
        for addr in interfaces:
            try:
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(addr))
                s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)
                s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
                s.bind((addr, 0))
                s.setblocking(False)
                socks.append(s)
            except OSError as e:
                errors[addr] = e.strerror or str(e)
        if not socks:
            raise ProtocolError(protocol.FAILED, "cannot use any interface: %s" % errors, req.id)
        deadline = clock() + float(seconds)
        sends = [0.0, 0.25, 1.0]  # seconds after start: the PTR query is repeated twice
        start = last_new = clock()
        packets = 0
        stopped = "timeout"
        while True:
            now = clock()
            if now >= deadline:
                break
            if (
                quiet is not None
                and not sends
                and now - start >= FIRST_ROUND_S
                and now - last_new >= quiet
            ):
                stopped = "quiet"
                break
            while sends and now - start >= sends[0]:
                sends.pop(0)
                questions = [(t, T_PTR) for t in types] + cache.missing(types)
                _send(socks, build_query(questions, query_id), errors)
            ready, _, _ = select.select(socks, [], [], min(0.05, max(0.0, deadline - now)))
            for s in ready:
                try:
                    data, _src = s.recvfrom(MAX_PACKET)
                except OSError:
                    continue
                packets += 1
                try:
                    for name, rtype, (value, ttl) in parse_packet(data):
                        if cache.add(name, rtype, value, ttl):
                            last_new = clock()
                except (ValueError, struct.error, IndexError):
                    continue  # a malformed packet is dropped, never fatal
    finally:
        for s in socks:
            s.close()
    return {
        "services": cache.services(types),
        "interfaces": interfaces,
        "packets": packets,
        "errors": errors,
        "elapsed_s": round(clock() - start, 3),
        "stopped": stopped,
    }


def _send(socks: List[socket.socket], packet: bytes, errors: Dict[str, str]) -> None:
    for s in socks:
        try:
            s.sendto(packet, (MDNS_GROUP, MDNS_PORT))
        except OSError as e:
            errors[s.getsockname()[0]] = e.strerror or str(e)


def methods() -> Dict[str, Callable[[Request], Optional[Dict[str, Any]]]]:
    return {"neighbours": neighbours, "browse": browse}
