#!/usr/bin/env python3
"""Writes the synthetic traces of internal/flow/testdata with scapy.

The pcaps it writes are committed, so the Go tests need no Python; run it
again only to change or add a trace, then rewrite the goldens and the fuzz
seeds (see ../README.md, Tests):

    apt-get install python3-scapy   # or: pip install scapy (2.5 or later)
    cd internal/flow/testdata && python3 gen_traces.py

The output is deterministic (fixed timestamps, addresses, ids and ports).
Addresses are documentation ranges (RFC 5737, RFC 3849) and private VM
networks; nothing is sent anywhere.

Trace classes:

- raw-ip-linktype{12,14,101}.pcap: IPv4 and IPv6 without any link header,
  under the three "raw IP" link types (12: DLT_RAW of most systems, 14:
  DLT_RAW of OpenBSD, 101: LINKTYPE_RAW); the IP version nibble tells v4
  from v6. raw-ipv4-linktype228.pcap (LINKTYPE_IPV4) has the IPv4 packets,
  raw-ipv6-linktype229.pcap (LINKTYPE_IPV6) the IPv6 ones. Each has an ICMP
  echo request and reply, a DNS query and answer over UDP, and a small TCP
  connection (handshake, one segment each way, FIN exchange).
- loop-linktype12-openbsd.pcap: the same IPv4 and IPv6 packets behind the
  4-byte BSD loopback header (address family in network byte order: 2 for
  IPv4, 24 for IPv6), as OpenBSD writes its DLT_LOOP, whose number there is
  12, DLT_RAW elsewhere.
- vxlan-same-src-port.pcap: a ping between two VMs through two VXLAN VTEPs
  (VNI 42), both directions with the same UDP source port (Linux hashes the
  inner flow symmetrically); vxlan-other-src-port.pcap: the same with the
  reply from another UDP source port. Both to 4789.
- mplsoudp-51234.pcap (the Contrail vRouter's port, opencontrail.mpls_udp_port)
  and mplsoudp-6635.pcap (RFC 7510): MPLS over UDP between two compute nodes,
  one ping per payload kind after the label stack: an Ethernet frame (L2
  virtual network), IPv4 and IPv6 (L3). Each direction has its own label
  and UDP source port, as the vRouter sends them; the IPv4 request has a
  two-label stack. In the 51234 trace the Ethernet VM's MAC starts with 0x4a
  and in the 6635 trace with 0x6a, so the first nibble after the labels
  looks like IPv4 / IPv6 and only the length check tells Ethernet. In the
  6635 trace the IPv6 ping crosses an IPv6 underlay.
"""

import struct

from scapy.all import IP, UDP, TCP, ICMP, Ether, Raw, wrpcap
from scapy.layers.dns import DNS, DNSQR, DNSRR
from scapy.layers.inet6 import IPv6, ICMPv6EchoRequest, ICMPv6EchoReply
from scapy.layers.vxlan import VXLAN
from scapy.contrib.mpls import MPLS

T0 = 1700000000.0  # 2023-11-14T22:13:20Z


def stamp(pkts, start=T0, step=0.001):
    """Gives the packets increasing, fixed timestamps."""
    for i, p in enumerate(pkts):
        p.time = start + i * step
    return pkts


def write(name, pkts, linktype):
    wrpcap(name, stamp(pkts), linktype=linktype)


# --- raw IP (no link layer) -------------------------------------------------

def ping4(src, dst, ident, seq):
    return [IP(src=src, dst=dst, id=seq) / ICMP(type=8, id=ident, seq=seq) / Raw(b"skydive-ping-v4"),
            IP(src=dst, dst=src, id=1000 + seq) / ICMP(type=0, id=ident, seq=seq) / Raw(b"skydive-ping-v4")]


def ping6(src, dst, ident, seq):
    return [IPv6(src=src, dst=dst) / ICMPv6EchoRequest(id=ident, seq=seq, data=b"skydive-ping-v6"),
            IPv6(src=dst, dst=src) / ICMPv6EchoReply(id=ident, seq=seq, data=b"skydive-ping-v6")]


def dns(ipc, cli, srv, sport):
    q = DNS(id=0x5d1e, rd=1, qd=DNSQR(qname="example.org", qtype="A"))
    a = DNS(id=0x5d1e, qr=1, rd=1, ra=1, qd=DNSQR(qname="example.org", qtype="A"),
            an=DNSRR(rrname="example.org", type="A", ttl=300, rdata="192.0.2.80"))
    return [ipc(src=cli, dst=srv) / UDP(sport=sport, dport=53) / q,
            ipc(src=srv, dst=cli) / UDP(sport=53, dport=sport) / a]


def tcp(ipc, cli, srv, sport, dport=8080):
    c, s = 1000, 5000  # initial sequence numbers
    C = lambda **kw: ipc(src=cli, dst=srv) / TCP(sport=sport, dport=dport, **kw)
    S = lambda **kw: ipc(src=srv, dst=cli) / TCP(sport=dport, dport=sport, **kw)
    return [
        C(flags="S", seq=c),
        S(flags="SA", seq=s, ack=c + 1),
        C(flags="A", seq=c + 1, ack=s + 1),
        C(flags="PA", seq=c + 1, ack=s + 1) / Raw(b"hello"),
        S(flags="PA", seq=s + 1, ack=c + 6) / Raw(b"world!"),
        C(flags="FA", seq=c + 6, ack=s + 7),
        S(flags="FA", seq=s + 7, ack=c + 7),
        C(flags="A", seq=c + 7, ack=s + 8),
    ]


def raw_v4():
    return (ping4("192.0.2.1", "192.0.2.2", 0x1234, 1)
            + dns(IP, "192.0.2.1", "192.0.2.53", 40000)
            + tcp(IP, "192.0.2.1", "192.0.2.2", 40001))


def raw_v6():
    return (ping6("2001:db8::1", "2001:db8::2", 0x4321, 1)
            + dns(IPv6, "2001:db8::1", "2001:db8::53", 40002)
            + tcp(IPv6, "2001:db8::1", "2001:db8::2", 40003))


def raw_traces():
    for lt in (12, 14, 101):
        write("raw-ip-linktype%d.pcap" % lt, raw_v4() + raw_v6(), lt)
    write("raw-ipv4-linktype228.pcap", raw_v4(), 228)
    write("raw-ipv6-linktype229.pcap", raw_v6(), 229)
    # OpenBSD's DLT_LOOP: AF_INET 2, AF_INET6 24, big endian
    loop = [Raw(struct.pack(">I", 24 if IPv6 in p else 2) + bytes(p)) for p in raw_v4() + raw_v6()]
    write("loop-linktype12-openbsd.pcap", loop, 12)


# --- VXLAN between two VTEPs ------------------------------------------------

VTEP1 = ("02:00:00:00:00:01", "198.51.100.1")
VTEP2 = ("02:00:00:00:00:02", "198.51.100.2")
VM1 = ("02:00:00:00:01:01", "10.0.0.1")
VM2 = ("02:00:00:00:01:02", "10.0.0.2")


def vxlan(src, dst, sport, vni, inner):
    return (Ether(src=src[0], dst=dst[0]) / IP(src=src[1], dst=dst[1], id=0) /
            UDP(sport=sport, dport=4789) / VXLAN(flags=0x08, vni=vni) / inner)


def vxlan_trace(name, reply_sport):
    pkts = []
    for seq in (1, 2):
        req = Ether(src=VM1[0], dst=VM2[0]) / IP(src=VM1[1], dst=VM2[1], id=seq) / \
            ICMP(type=8, id=7, seq=seq) / Raw(b"through-vxlan")
        rep = Ether(src=VM2[0], dst=VM1[0]) / IP(src=VM2[1], dst=VM1[1], id=100 + seq) / \
            ICMP(type=0, id=7, seq=seq) / Raw(b"through-vxlan")
        pkts.append(vxlan(VTEP1, VTEP2, 50000, 42, req))
        pkts.append(vxlan(VTEP2, VTEP1, reply_sport, 42, rep))
    write(name, pkts, 1)


# --- MPLS over UDP ----------------------------------------------------------

CN1 = ("02:00:00:00:00:11", "198.51.100.11", "2001:db8:100::11")
CN2 = ("02:00:00:00:00:12", "198.51.100.12", "2001:db8:100::12")


def mplsoudp(src, dst, sport, dport, labels, inner, v6=False):
    stack = None
    for i, label in enumerate(labels):
        m = MPLS(label=label, s=1 if i == len(labels) - 1 else 0, ttl=64)
        stack = m if stack is None else stack / m
    ip = IPv6(src=src[2], dst=dst[2]) if v6 else IP(src=src[1], dst=dst[1], id=0)
    return Ether(src=src[0], dst=dst[0]) / ip / UDP(sport=sport, dport=dport) / stack / inner


def mplsoudp_trace(name, port, vm_mac2, v6_underlay):
    vm1, vm2 = ("02:00:0a:00:00:01", "10.1.0.1"), (vm_mac2, "10.1.0.2")
    eth_req = Ether(src=vm1[0], dst=vm2[0]) / IP(src=vm1[1], dst=vm2[1], id=1) / \
        ICMP(type=8, id=21, seq=1) / Raw(b"l2-vn")
    eth_rep = Ether(src=vm2[0], dst=vm1[0]) / IP(src=vm2[1], dst=vm1[1], id=2) / \
        ICMP(type=0, id=21, seq=1) / Raw(b"l2-vn")
    v4_req = IP(src="10.2.0.1", dst="10.2.0.2", id=3) / ICMP(type=8, id=22, seq=1) / Raw(b"l3-vn")
    v4_rep = IP(src="10.2.0.2", dst="10.2.0.1", id=4) / ICMP(type=0, id=22, seq=1) / Raw(b"l3-vn")
    v6_req = IPv6(src="fd00:2::1", dst="fd00:2::2") / ICMPv6EchoRequest(id=23, seq=1, data=b"l3-vn6")
    v6_rep = IPv6(src="fd00:2::2", dst="fd00:2::1") / ICMPv6EchoReply(id=23, seq=1, data=b"l3-vn6")
    pkts = [
        mplsoudp(CN1, CN2, 49200, port, [30], eth_req),
        mplsoudp(CN2, CN1, 49201, port, [31], eth_rep),
        mplsoudp(CN1, CN2, 49300, port, [16, 40], v4_req),
        mplsoudp(CN2, CN1, 49301, port, [41], v4_rep),
        mplsoudp(CN1, CN2, 49400, port, [50], v6_req, v6=v6_underlay),
        mplsoudp(CN2, CN1, 49401, port, [51], v6_rep, v6=v6_underlay),
    ]
    write(name, pkts, 1)


if __name__ == "__main__":
    raw_traces()
    vxlan_trace("vxlan-same-src-port.pcap", 50000)
    vxlan_trace("vxlan-other-src-port.pcap", 61000)
    mplsoudp_trace("mplsoudp-51234.pcap", 51234, "4a:00:0a:00:00:02", False)
    mplsoudp_trace("mplsoudp-6635.pcap", 6635, "6a:00:0a:00:00:02", True)
