// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// flows.c: the kernel half of Skydive's ebpf capture. Attached with TCX on
// the ingress and the egress of one interface, it counts every Ethernet
// frame carrying IPv4 or IPv6 in the "flows" per-CPU LRU hash, one entry per
// direction of a conversation: MACs, addresses, protocol, TCP/UDP ports or
// ICMP type/code/identifier as the frame carries them. The agent reads the
// map every second and hands each entry's new packets to its flow table as
// a flow.Record: the table merges the two directions into one flow, A being
// the side whose first packet came first, exactly as for the packets an
// afpacket capture reads.
//
// Tunnels (VXLAN, Geneve, GRE, IP in IP ...) are keyed on their OUTER
// headers only: parsing every encapsulation in the kernel is what the
// packet captures do in userspace. IPv6 extension headers are not walked
// (the next header after the fixed header is the protocol), IPv4 fragments
// other than the first are counted without ports, non-IP frames (ARP ...)
// are counted in stats[STAT_SKIPPED] only.
//
// Build: make bpf (clang -O2 -g -target bpf -mcpu=v3); the object is
// committed and embedded, so that go build needs no clang.

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/types.h>

// What libbpf's bpf_helpers.h would give, kept here so that make bpf needs
// clang and the kernel UAPI headers only.
#define SEC(name) __attribute__((section(name), used))
#define __uint(name, val) int(*name)[val]
#define __type(name, val) typeof(val) *name
#define INLINE static inline __attribute__((always_inline))

static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)BPF_FUNC_map_lookup_elem;
static long (*bpf_map_update_elem)(void *map, const void *key, const void *value, __u64 flags) =
	(void *)BPF_FUNC_map_update_elem;
static __u64 (*bpf_ktime_get_ns)(void) = (void *)BPF_FUNC_ktime_get_ns;
static __u64 (*bpf_ktime_get_coarse_ns)(void) = (void *)BPF_FUNC_ktime_get_coarse_ns;
static long (*bpf_skb_load_bytes)(const void *skb, __u32 offset, void *to, __u32 len) =
	(void *)BPF_FUNC_skb_load_bytes;

// TCX_NEXT: let the next program (or the stack) decide; the capture only
// watches.
#define TCX_NEXT -1

#define ETH_HLEN_ 14
#define PROTO_ICMPV6 58
#define KEY_NO_PORTS 1 // a non-first IPv4 fragment: no transport header

// flow_key and flow_value are mirrored by flowKey and flowValue in
// internal/capture/ebpf/ebpf.go: change both together.
struct flow_key {
	__u8 src_mac[6];
	__u8 dst_mac[6];
	__u8 src_ip[16]; // IPv4 in the first 4 bytes
	__u8 dst_ip[16];
	__u16 src_port; // host order
	__u16 dst_port;
	__u16 icmp_id; // echo identifier (ICMPv6: echo only)
	__u8 ip_version; // 4 or 6
	__u8 proto;      // IP protocol number
	__u8 icmp_type;
	__u8 icmp_code;
	__u8 flags; // KEY_*
	__u8 pad;
};

struct flow_value {
	__u64 packets;
	__u64 bytes; // frames with their Ethernet header, as afpacket counts
	__u64 first_ns; // bpf_ktime_get_ns (CLOCK_MONOTONIC)
	__u64 last_ns;  // bpf_ktime_get_coarse_ns (the same clock, at the last tick)
	__u32 tcp_flags; // OR of the TCP flags seen
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct flow_key);
	__type(value, struct flow_value);
} flows SEC(".maps");

enum {
	STAT_PACKETS = 0, // frames seen
	STAT_SKIPPED = 1, // not IP, or too short to parse
	STAT_FAILED = 2,  // a new entry could not be stored
	STAT_MAX = 3,
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

INLINE void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);
	if (v)
		*v += 1; // per CPU: no atomic needed
}

struct ipv4_hdr {
	__u8 ihl_version;
	__u8 tos;
	__u16 tot_len;
	__u16 id;
	__u16 frag_off;
	__u8 ttl;
	__u8 protocol;
	__u16 check;
	__u8 saddr[4];
	__u8 daddr[4];
};

struct ipv6_hdr {
	__u32 vtc_flow;
	__u16 payload_len;
	__u8 nexthdr;
	__u8 hop_limit;
	__u8 saddr[16];
	__u8 daddr[16];
};

// HDR_MAX bytes of the frame are copied at once: Ethernet, IPv6 and the
// first 14 bytes of TCP (IPv4 without options takes 48). One
// bpf_skb_load_bytes (rather than direct packet access: headers may lie
// beyond the linear part of the skb) instead of one per header: each call
// costs about 45 ns (BenchmarkCaptureAtRate).
#define HDR_MAX 72
#define L4_V4 (ETH_HLEN_ + 20)
#define L4_V6 (ETH_HLEN_ + 40)

INLINE int account(struct __sk_buff *skb)
{
	struct flow_key k = {};
	__u8 h[HDR_MAX] = {};
	__u8 opt_l4[14] = {}; // the transport header after IPv4 options
	__u8 *l4;
	__u32 l4off, avail; // transport header offset, bytes of it in h or opt_l4
	__u32 tcp_flags = 0;
	__u32 hdr_len = 0; // headers copied into each GSO segment

	count(STAT_PACKETS);
	__u32 n = skb->len;
	if (n > HDR_MAX)
		n = HDR_MAX;
	if (n < ETH_HLEN_ || bpf_skb_load_bytes(skb, 0, h, n) < 0)
		goto skip;
	__builtin_memcpy(k.dst_mac, h, 6);
	__builtin_memcpy(k.src_mac, h + 6, 6);
	__u16 etype = (__u16)h[12] << 8 | h[13];

	if (etype == ETH_P_IP) {
		struct ipv4_hdr *ip = (void *)(h + ETH_HLEN_);
		if (n < L4_V4 || (ip->ihl_version >> 4) != 4 || (ip->ihl_version & 0xf) < 5)
			goto skip;
		k.ip_version = 4;
		k.proto = ip->protocol;
		__builtin_memcpy(k.src_ip, ip->saddr, 4);
		__builtin_memcpy(k.dst_ip, ip->daddr, 4);
		if (ip->frag_off & __builtin_bswap16(0x1fff)) {
			k.flags = KEY_NO_PORTS;
			goto store;
		}
		l4off = ETH_HLEN_ + (ip->ihl_version & 0xf) * 4;
		if (l4off == L4_V4) {
			l4 = h + L4_V4;
			avail = n - L4_V4;
		} else {
			l4 = opt_l4;
			avail = 0;
			if (bpf_skb_load_bytes(skb, l4off, opt_l4, 8) == 0)
				avail = 8;
			if (bpf_skb_load_bytes(skb, l4off, opt_l4, 14) == 0)
				avail = 14;
		}
	} else if (etype == ETH_P_IPV6) {
		struct ipv6_hdr *ip6 = (void *)(h + ETH_HLEN_);
		if (n < L4_V6)
			goto skip;
		k.ip_version = 6;
		k.proto = ip6->nexthdr;
		__builtin_memcpy(k.src_ip, ip6->saddr, 16);
		__builtin_memcpy(k.dst_ip, ip6->daddr, 16);
		l4off = L4_V6;
		l4 = h + L4_V6;
		avail = n - L4_V6;
	} else {
		goto skip;
	}

	switch (k.proto) {
	case IPPROTO_TCP:
		if (avail >= 14) {
			k.src_port = (__u16)l4[0] << 8 | l4[1];
			k.dst_port = (__u16)l4[2] << 8 | l4[3];
			tcp_flags = l4[13];
			hdr_len = l4off + (l4[12] >> 4) * 4;
		}
		break;
	case IPPROTO_UDP:
		if (avail >= 8) {
			k.src_port = (__u16)l4[0] << 8 | l4[1];
			k.dst_port = (__u16)l4[2] << 8 | l4[3];
			hdr_len = l4off + 8;
		}
		break;
	case IPPROTO_ICMP:
	case PROTO_ICMPV6:
		if (avail >= 6) {
			k.icmp_type = l4[0];
			k.icmp_code = l4[1];
			// ICMPv4 keys every message on bytes 4-5 (gopacket's Id);
			// ICMPv6 only its echoes (128, 129).
			if (k.proto == IPPROTO_ICMP || l4[0] == 128 || l4[0] == 129)
				k.icmp_id = (__u16)l4[4] << 8 | l4[5];
		}
		break;
	}

store:;
	// A GSO skb (TCP always builds them, whatever ethtool says: the
	// segmentation comes after the egress hook; GRO makes them on ingress)
	// is counted as the segments the wire carries, each with a copy of the
	// headers, as a packet capture sees them.
	__u64 packets = 1, bytes = skb->len;
	__u32 segs = skb->gso_segs;
	if (segs > 1 && hdr_len > 0) {
		packets = segs;
		bytes += (__u64)(segs - 1) * hdr_len;
	}
	// The map is per CPU: no atomic operation, no cache line shared
	// between CPUs; the agent adds the CPUs' values up. A program does not
	// migrate while it runs, and ingress (softirq) cannot interrupt egress
	// (which runs with bottom halves off) on a CPU.
	struct flow_value *v = bpf_map_lookup_elem(&flows, &k);
	if (!v) {
		__u64 now = bpf_ktime_get_ns();
		struct flow_value nv = {
			.packets = packets, .bytes = bytes, .first_ns = now, .last_ns = now, .tcp_flags = tcp_flags};
		if (bpf_map_update_elem(&flows, &k, &nv, BPF_NOEXIST) == 0)
			return TCX_NEXT;
		// Another CPU made the entry meanwhile: this CPU's slot is zero.
		v = bpf_map_lookup_elem(&flows, &k);
		if (!v) {
			count(STAT_FAILED);
			return TCX_NEXT;
		}
	}
	// The first packet's time is read from the precise clock, the others'
	// from the coarse one (CLOCK_MONOTONIC at the last tick, 4 ms at
	// HZ=250): a precise read costs about 140 ns in a VM, a third of the
	// program (BenchmarkCaptureAtRate).
	if (v->first_ns == 0)
		v->first_ns = bpf_ktime_get_ns();
	__u64 now = bpf_ktime_get_coarse_ns();
	if (now > v->last_ns)
		v->last_ns = now;
	if (v->first_ns > v->last_ns)
		v->last_ns = v->first_ns;
	v->packets += packets;
	v->bytes += bytes;
	v->tcp_flags |= tcp_flags;
	return TCX_NEXT;

skip:
	count(STAT_SKIPPED);
	return TCX_NEXT;
}

SEC("tcx/ingress")
int skydive_ingress(struct __sk_buff *skb)
{
	return account(skb);
}

SEC("tcx/egress")
int skydive_egress(struct __sk_buff *skb)
{
	return account(skb);
}

char __license[] SEC("license") = "Dual BSD/GPL";
