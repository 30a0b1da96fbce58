// Package ebpf is the ebpf capture: a BPF program attached with TCX on the
// ingress and the egress of an interface counts the packets and bytes of
// each direction of each conversation in a kernel per-CPU LRU hash
// (bpf/flows.c);
// a Collector reads that map periodically and hands the new packets of
// each entry to a flow table as flow.Records, with their Ethernet
// addresses and ICMP identifiers, so that the table makes the flows an
// afpacket capture of the same frames would (L2 or L3 keys, A the side
// whose first packet came first), without copying any packet to userspace.
//
// Tunnels are keyed on their outer headers only, IPv6 extension headers
// are not walked, non-IP frames are not counted as flows (see bpf/flows.c).
// TCX needs Linux 6.6 or later.
package ebpf

//go:generate clang -O2 -g -target bpf -mcpu=v3 -Wall -I/usr/include/x86_64-linux-gnu -c bpf/flows.c -o bpf/flows.o
//go:generate llvm-strip -g bpf/flows.o

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/skydive-ng/skydive/internal/flow"
	"github.com/skydive-ng/skydive/internal/nsexec"
)

// object is bpf/flows.c compiled by `make bpf` (go generate): committed, so
// that go build needs no clang.
//
//go:embed bpf/flows.o
var object []byte

// flowKey and flowValue mirror struct flow_key and struct flow_value of
// bpf/flows.c (same sizes, no implicit padding).
type flowKey struct {
	SrcMAC, DstMAC [6]byte
	SrcIP, DstIP   [16]byte
	SrcPort        uint16
	DstPort        uint16
	ICMPID         uint16
	IPVersion      uint8
	Proto          uint8
	ICMPType       uint8
	ICMPCode       uint8
	Flags          uint8
	Pad            uint8
}

type flowValue struct {
	Packets  uint64
	Bytes    uint64
	FirstNs  uint64
	LastNs   uint64
	TCPFlags uint32
	Pad      uint32
}

// keyNoPorts is flow_key.flags' KEY_NO_PORTS: a non-first IPv4 fragment.
const keyNoPorts = 1

// Indexes of the stats per-CPU array.
const (
	statPackets = 0
	statSkipped = 1
	statFailed  = 2
)

// IdleDelete is how long an entry of the kernel map may stay without
// packets before the Collector deletes it: the table keeps the flow (its
// own expiry is longer), a later packet makes a new entry whose counts are
// added to the same flow. Without it the map would fill with dead
// conversations until the LRU evicts live ones.
const IdleDelete = 30 * time.Second

// ErrNoInterface is wrapped by Open's error when the interface does not
// exist in the namespace.
var ErrNoInterface = errors.New("no such interface")

// Collector owns the loaded program, its two TCX links and its maps.
type Collector struct {
	log   *slog.Logger
	coll  *ebpf.Collection
	links []link.Link
	flows *ebpf.Map
	stats *ebpf.Map

	mu     sync.Mutex
	closed bool
	// prev holds what was last fed of each kernel entry: the next poll
	// feeds the difference.
	prev map[flowKey]flowValue
}

// Open loads the program and attaches it on the ingress and the egress of
// ifName inside the network namespace nsPath ("" for the caller's). A
// program the kernel refuses is reported with the verifier's error
// (*ebpf.VerifierError, wrapped).
func Open(nsPath, ifName string, log *slog.Logger) (*Collector, error) {
	spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(object))
	if err != nil {
		return nil, fmt.Errorf("reading the embedded ebpf object: %w", err)
	}
	return open(spec, nsPath, ifName, log)
}

// open is Open with the collection spec given (a test hands it a program
// the verifier refuses).
func open(spec *ebpf.CollectionSpec, nsPath, ifName string, log *slog.Logger) (*Collector, error) {
	if log == nil {
		log = slog.Default()
	}
	c := &Collector{log: log, prev: map[flowKey]flowValue{}}
	// The interface is looked up and the links made inside the namespace:
	// TCX resolves the ifindex in the caller's network namespace.
	err := nsexec.Do(nsPath, func() error {
		ifi, err := net.InterfaceByName(ifName)
		if err != nil {
			return fmt.Errorf("interface %q: %w (%w)", ifName, ErrNoInterface, err)
		}
		coll, err := ebpf.NewCollection(spec)
		if err != nil {
			var ve *ebpf.VerifierError
			if errors.As(err, &ve) {
				log.Debug("ebpf verifier log", "log", fmt.Sprintf("%+v", ve))
				return fmt.Errorf("the kernel refused the ebpf flow program: %w", err)
			}
			return fmt.Errorf("loading the ebpf flow program: %w", err)
		}
		c.coll, c.flows, c.stats = coll, coll.Maps["flows"], coll.Maps["stats"]
		for _, a := range []struct {
			prog string
			at   ebpf.AttachType
		}{{"skydive_ingress", ebpf.AttachTCXIngress}, {"skydive_egress", ebpf.AttachTCXEgress}} {
			l, err := link.AttachTCX(link.TCXOptions{Interface: ifi.Index, Program: coll.Programs[a.prog], Attach: a.at})
			if err != nil {
				return fmt.Errorf("attaching %s with TCX (Linux 6.6 or later) to %q: %w", a.prog, ifName, err)
			}
			c.links = append(c.links, l)
		}
		return nil
	})
	if err != nil {
		c.release()
		return nil, err
	}
	return c, nil
}

// monotonicOffset is what to add to a bpf_ktime_get_ns time
// (CLOCK_MONOTONIC) to get Unix nanoseconds.
func monotonicOffset() int64 {
	var ts unix.Timespec
	now := time.Now().UnixNano()
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0
	}
	return now - ts.Nano()
}

// Poll reads the kernel map once and feeds the packets counted since the
// previous poll, one flow.Record per direction of a conversation, in the
// order of their first packets (the table takes the source of the first
// record of a conversation as its A side). It returns the number of
// records fed.
func (c *Collector) Poll(feed func(flow.Record)) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, errors.New("ebpf collector closed")
	}
	off := monotonicOffset()
	nowMono := time.Now().UnixNano() - off
	var (
		k      flowKey
		perCPU []flowValue
		recs   []flow.Record
		fed    []flowKey // with their values in next: prev once all is read
		next   []flowValue
		stale  []flowKey
		seen   = make(map[flowKey]struct{}, len(c.prev))
	)
	it := c.flows.Iterate()
	for it.Next(&k, &perCPU) {
		seen[k] = struct{}{}
		v := sum(perCPU)
		p, known := c.prev[k]
		if known && v.FirstNs != p.FirstNs {
			known, p = false, flowValue{} // a new entry under the same key
		}
		if v.Packets > p.Packets {
			start := v.FirstNs
			if known {
				start = max(start, p.LastNs)
			}
			recs = append(recs, record(&k, v.Packets-p.Packets, v.Bytes-p.Bytes, v.TCPFlags, int64(start)+off, int64(v.LastNs)+off))
			fed, next = append(fed, k), append(next, v)
		}
		if int64(nowMono)-int64(v.LastNs) > int64(IdleDelete) {
			stale = append(stale, k)
		}
	}
	if err := it.Err(); err != nil {
		// Nothing fed: the next poll's differences include these.
		return 0, fmt.Errorf("reading the ebpf flow map: %w", err)
	}
	for i, fk := range fed {
		c.prev[fk] = next[i]
	}
	for pk := range c.prev {
		if _, ok := seen[pk]; !ok {
			delete(c.prev, pk) // evicted by the LRU or deleted below at a previous poll
		}
	}
	for _, sk := range stale {
		// A packet counted between the read above and this delete is lost:
		// the entry has been idle for IdleDelete, so that is unlikely.
		if err := c.flows.Delete(&sk); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			return 0, fmt.Errorf("deleting an idle ebpf flow entry: %w", err)
		}
		delete(c.prev, sk)
	}
	slices.SortStableFunc(recs, func(a, b flow.Record) int { return a.Start.Compare(b.Start) })
	for _, r := range recs {
		feed(r)
	}
	return len(recs), nil
}

// sum adds up the CPUs' values of an entry (the map is per CPU): the
// earliest first packet, the latest last one.
func sum(perCPU []flowValue) flowValue {
	var v flowValue
	for _, c := range perCPU {
		if c.Packets == 0 {
			continue
		}
		if v.FirstNs == 0 || c.FirstNs < v.FirstNs {
			v.FirstNs = c.FirstNs
		}
		v.LastNs = max(v.LastNs, c.LastNs)
		v.Packets += c.Packets
		v.Bytes += c.Bytes
		v.TCPFlags |= c.TCPFlags
	}
	return v
}

func record(k *flowKey, packets, bytes uint64, tcpFlags uint32, startNs, endNs int64) flow.Record {
	r := flow.Record{
		Link: true, SrcMAC: k.SrcMAC, DstMAC: k.DstMAC,
		Proto: k.Proto, Packets: packets, Bytes: bytes, TCPFlags: uint8(tcpFlags),
		Start: time.Unix(0, startNs), End: time.Unix(0, endNs),
	}
	if k.IPVersion == 4 {
		r.Src, r.Dst = netip.AddrFrom4([4]byte(k.SrcIP[:4])), netip.AddrFrom4([4]byte(k.DstIP[:4]))
	} else {
		r.Src, r.Dst = netip.AddrFrom16(k.SrcIP), netip.AddrFrom16(k.DstIP)
	}
	switch {
	case k.Flags&keyNoPorts != 0:
		r.Proto = 0 // a fragment: an IP flow, its transport unknown
	case k.Proto == flow.ProtoNumICMP || k.Proto == flow.ProtoNumICMPv6:
		// Ports stay 0: type 0 code 0 (an echo reply) would otherwise be
		// read from DstPort, as NetFlow encodes it (Record.ICMPTypeCode).
		r.ICMPType, r.ICMPCode, r.ICMPID = k.ICMPType, k.ICMPCode, k.ICMPID
	default:
		r.SrcPort, r.DstPort = k.SrcPort, k.DstPort
	}
	return r
}

// Stats returns the frames the program saw and those it could not count
// (a new conversation while the map was full and the LRU could not make
// room, which should not happen); non-IP frames are in skipped.
func (c *Collector) Stats() (packets, skipped, failed int64, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, 0, 0, errors.New("ebpf collector closed")
	}
	var out [3]int64
	for i := range out {
		var perCPU []uint64
		if err := c.stats.Lookup(uint32(i), &perCPU); err != nil {
			return 0, 0, 0, fmt.Errorf("reading the ebpf stats: %w", err)
		}
		for _, n := range perCPU {
			out[i] += int64(n)
		}
	}
	return out[statPackets], out[statSkipped], out[statFailed], nil
}

// ProgramRuntime returns the time the kernel spent in the program (both
// directions) and how many times it ran. The kernel counts only while
// statistics are on (ebpf.EnableStats(unix.BPF_STATS_RUN_TIME), as a
// benchmark does): they cost a clock read per run.
func (c *Collector) ProgramRuntime() (time.Duration, uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, 0, errors.New("ebpf collector closed")
	}
	var d time.Duration
	var runs uint64
	for _, name := range []string{"skydive_ingress", "skydive_egress"} {
		st, err := c.coll.Programs[name].Stats()
		if err != nil {
			return 0, 0, fmt.Errorf("ebpf program statistics: %w", err)
		}
		d += st.Runtime
		runs += st.RunCount
	}
	return d, runs, nil
}

// Close detaches the program and frees its maps. It is idempotent.
func (c *Collector) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	return c.release()
}

func (c *Collector) release() error {
	var errs []error
	for _, l := range c.links {
		errs = append(errs, l.Close())
	}
	c.links = nil
	if c.coll != nil {
		c.coll.Close()
		c.coll = nil
	}
	return errors.Join(errs...)
}
