"""Run a command where every packet it sends is seen: a network namespace of its own.

    unshare -n -m --propagation private python tests/netwatch.py --report R.json --seconds 22 \\
        [--stdin TEXT] -- COMMAND...

As the namespace's first process (root inside it) it brings up loopback, routes every IPv4 and
IPv6 address to it (so a connection attempt to any host is a packet on ``lo``, not an instant
"network unreachable" that nothing records), bind-mounts a ``resolv.conf`` naming 127.0.0.1, and
answers DNS there itself (UDP and TCP, NXDOMAIN to every query, each one recorded). A packet
socket on ``lo`` records every IP packet sent. Then it runs COMMAND, holding its stdin open for
``--seconds`` (a process that lingers is ended after ``--seconds`` plus a grace period), and
writes what it saw as JSON: the queries, the packets (protocol, destination, port), the exit
code and the command's output tails. Nothing it runs can reach a real network: there is none.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

ETH_P_ALL, PACKET_OUTGOING = 0x0003, 4
GRACE_S = 120.0


def set_up_network(resolv: str) -> None:
    """Loopback up, default routes into it, our resolver in /etc/resolv.conf (this namespace only)."""
    for cmd in (["ip", "link", "set", "lo", "up"], ["ip", "route", "add", "default", "dev", "lo"],
                ["ip", "-6", "route", "add", "default", "dev", "lo"]):
        subprocess.run(cmd, check=True, capture_output=True)
    subprocess.run(["mount", "--bind", resolv, "/etc/resolv.conf"], check=True, capture_output=True)


def question_name(message: bytes) -> str:
    """The first question's name of a DNS message ("?" when it cannot be read)."""
    labels, i = [], 12
    try:
        while message[i]:
            labels.append(message[i + 1:i + 1 + message[i]].decode("ascii", "replace"))
            i += 1 + message[i]
    except IndexError:
        return "?"
    return ".".join(labels)


def nxdomain(query: bytes) -> bytes:
    """An NXDOMAIN answer to ``query`` (its id and question echoed), so resolvers stop at once."""
    if len(query) < 12:
        return b""
    flags = 0x8183 | (query[2] & 0x01) << 8  # response, recursion available, RCODE 3; RD copied
    return query[:2] + struct.pack(">H", flags) + query[4:6] + b"\0\0\0\0\0\0" + query[12:]


class Watch:
    """The DNS listeners and the packet recorder, on threads until :meth:`stop`."""

    def __init__(self):
        self.queries: list[dict] = []
        self.packets: list[dict] = []
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._sniff, daemon=True)]
        for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
            udp = socket.socket(family, socket.SOCK_DGRAM)
            udp.bind((host, 53))
            tcp = socket.socket(family, socket.SOCK_STREAM)
            tcp.bind((host, 53))
            tcp.listen(8)
            self.threads += [threading.Thread(target=self._udp, args=(udp,), daemon=True),
                             threading.Thread(target=self._tcp, args=(tcp,), daemon=True)]
        self.raw = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self.raw.bind(("lo", 0))
        for t in self.threads:
            t.start()

    def _udp(self, sock: socket.socket) -> None:
        sock.settimeout(0.2)
        while not self.stopping.is_set():
            try:
                message, peer = sock.recvfrom(4096)
            except socket.timeout:
                continue
            self.queries.append({"transport": "udp", "name": question_name(message)})
            sock.sendto(nxdomain(message), peer)

    def _tcp(self, sock: socket.socket) -> None:
        sock.settimeout(0.2)
        while not self.stopping.is_set():
            try:
                conn, _ = sock.accept()
            except socket.timeout:
                continue
            with conn:
                conn.settimeout(2)
                try:
                    message = conn.recv(4096)[2:]
                except OSError:
                    message = b""
                self.queries.append({"transport": "tcp", "name": question_name(message)})
                answer = nxdomain(message)
                conn.sendall(struct.pack(">H", len(answer)) + answer)

    def _sniff(self) -> None:
        self.raw.settimeout(0.2)
        while not self.stopping.is_set():
            try:
                frame, address = self.raw.recvfrom(65535)
            except socket.timeout:
                continue
            if address[2] == PACKET_OUTGOING:  # each loopback packet is also seen arriving
                self.packets.append(describe(frame[14:]))

    def stop(self) -> None:
        self.stopping.set()
        for t in self.threads:
            t.join(timeout=2)


def describe(packet: bytes) -> dict:
    """Protocol, destination and destination port of an IPv4 or IPv6 packet."""
    if packet[:1] and packet[0] >> 4 == 4:
        header = (packet[0] & 0x0F) * 4
        proto, dst = packet[9], socket.inet_ntop(socket.AF_INET, packet[16:20])
    elif packet[:1] and packet[0] >> 4 == 6:
        header, proto, dst = 40, packet[6], socket.inet_ntop(socket.AF_INET6, packet[24:40])
    else:
        return {"proto": "not IP", "dst": "", "port": 0}
    port = struct.unpack(">H", packet[header + 2:header + 4])[0] if proto in (6, 17) else 0
    return {"proto": {6: "tcp", 17: "udp", 1: "icmp", 58: "icmpv6"}.get(proto, str(proto)), "dst": dst, "port": port}


def run(command: list[str], seconds: float, stdin: str | None) -> dict:
    """Run ``command`` for at least ``seconds`` (stdin held open that long); its exit and output."""
    t0 = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(command, stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                                stdout=out, stderr=err)
        if stdin is not None:
            proc.stdin.write(stdin.encode("utf-8"))
            proc.stdin.flush()
        try:
            proc.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            pass
        if stdin is not None:
            proc.stdin.close()
        try:
            rc = proc.wait(timeout=GRACE_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
        out.seek(0)
        err.seek(0)
        return {"rc": rc, "seconds": round(time.monotonic() - t0, 1),
                "stdout": out.read().decode("utf-8", "replace")[-4000:],
                "stderr": err.read().decode("utf-8", "replace")[-4000:]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--report", required=True)
    p.add_argument("--seconds", type=float, default=22.0)
    p.add_argument("--stdin")
    p.add_argument("--no-namespace", action="store_true", help="only run the command (under --strace)")
    p.add_argument("--strace", help="run the command under strace -f -e trace=network, writing this file")
    p.add_argument("command", nargs="+")
    args = p.parse_args(argv)
    command = (["strace", "-f", "-qq", "-e", "trace=network", "-o", args.strace, *args.command] if args.strace
               else args.command)
    if args.no_namespace:
        result = run(command, args.seconds, args.stdin)
        with open(args.report, "w", encoding="utf-8") as fh:
            json.dump({**result, "queries": [], "packets": []}, fh, ensure_ascii=False, indent=1)
        return 0
    with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as f:
        f.write("nameserver 127.0.0.1\nnameserver ::1\noptions timeout:1 attempts:1\n")
    set_up_network(f.name)
    watch = Watch()
    result = run(command, args.seconds, args.stdin)
    time.sleep(1.0)  # anything sent while the command ended
    watch.stop()
    result.update(queries=watch.queries, packets=watch.packets)
    with open(args.report, "w", encoding="utf-8") as fh:
        json.dump(result, fh, ensure_ascii=False, indent=1)
    os.unlink(f.name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
