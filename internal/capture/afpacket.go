package capture

import (
	"context"
	"errors"
	"fmt"
	"net"
	"reflect"
	"sync"
	"time"

	"github.com/gopacket/gopacket/afpacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/skydive-ng/skydive/internal/nsexec"
)

// pollTimeout bounds how long a read blocks, so that Stop is prompt.
const pollTimeout = 100 * time.Millisecond

type afPacket struct {
	tp     *afpacket.TPacket
	mu     sync.Mutex
	closed bool
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// openAFPacket opens a TPACKET_V3 ring on the interface inside its
// namespace. The socket is created and bound with protocol 0 (it receives
// nothing), the BPF filter is attached, then the socket is bound again to
// ETH_P_ALL: no packet that the filter rejects can be queued before the
// filter is in place (what libpcap does).
func openAFPacket(spec Spec, target Target) (src *afPacket, err error) {
	var filter []bpf.RawInstruction
	if spec.BPFFilter != "" {
		if filter, err = CompileBPF(spec.BPFFilter, spec.HeaderSize); err != nil {
			return nil, &ValidationError{Field: "BPFFilter", Err: err}
		}
	}
	// Frames of the ring hold one snap length (plus the TPACKET header).
	frame := afpacket.DefaultFrameSize
	if spec.HeaderSize > frame-256 {
		frame = 8192
	}
	var tp *afpacket.TPacket
	err = nsexec.Do(target.NsPath, func() error {
		var err error
		tp, err = afpacket.NewTPacket(
			afpacket.OptInterface(target.IfName),
			afpacket.TPacketVersion3,
			afpacket.OptProtocol(0),
			afpacket.OptFrameSize(frame),
			afpacket.OptBlockSize(frame*128),
			afpacket.OptNumBlocks(16),
			afpacket.OptBlockTimeout(10*time.Millisecond),
			afpacket.OptPollTimeout(pollTimeout),
		)
		if err != nil {
			return fmt.Errorf("opening AF_PACKET socket: %w", err)
		}
		if len(filter) > 0 {
			if err := tp.SetBPF(filter); err != nil {
				return fmt.Errorf("attaching BPF filter: %w", err)
			}
		}
		fd, err := tpacketFD(tp)
		if err != nil {
			return err
		}
		ifi, err := net.InterfaceByName(target.IfName)
		if err != nil {
			return fmt.Errorf("interface %s: %w", target.IfName, err)
		}
		sa := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}
		if err := unix.Bind(fd, sa); err != nil {
			return fmt.Errorf("binding AF_PACKET socket to %s: %w", target.IfName, err)
		}
		if spec.Promiscuous {
			if err := tp.SetPromiscuous(true); err != nil {
				return fmt.Errorf("promiscuous mode: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		if tp != nil {
			tp.Close()
		}
		return nil, err
	}
	return &afPacket{tp: tp}, nil
}

// tpacketFD reads the socket descriptor of a TPacket (gopacket keeps it
// unexported).
func tpacketFD(tp *afpacket.TPacket) (int, error) {
	f := reflect.ValueOf(tp).Elem().FieldByName("fd")
	if !f.IsValid() || f.Kind() != reflect.Int {
		return -1, errors.New("afpacket: socket descriptor not found")
	}
	return int(f.Int()), nil
}

func (a *afPacket) run(ctx context.Context, in *intake) error {
	for ctx.Err() == nil {
		data, ci, err := a.tp.ZeroCopyReadPacketData()
		switch {
		case err == nil:
			in.packet(data, ci, layers.LinkTypeEthernet)
		case errors.Is(err, afpacket.ErrTimeout):
			in.flush()
		case errors.Is(err, unix.EINTR):
		default:
			return fmt.Errorf("reading packets: %w", err)
		}
	}
	return nil
}

func (a *afPacket) stats() (Stats, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return Stats{}, false
	}
	_, v3, err := a.tp.SocketStats()
	if err != nil {
		return Stats{}, false
	}
	return Stats{PacketsReceived: int64(v3.Packets()), PacketsDropped: int64(v3.Drops())}, true
}

func (a *afPacket) close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.closed {
		a.closed = true
		a.tp.Close()
	}
	return nil
}
