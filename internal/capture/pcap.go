package capture

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcap"
	"github.com/skydive-ng/skydive/internal/nsexec"
)

type pcapSource struct {
	h      *pcap.Handle
	lt     layers.LinkType
	mu     sync.Mutex
	closed bool
}

// openPcap activates a libpcap handle inside the namespace and sets the
// filter (libpcap attaches it in the kernel and drains what was queued
// before).
func openPcap(spec Spec, target Target) (*pcapSource, error) {
	var h *pcap.Handle
	err := nsexec.Do(target.NsPath, func() error {
		in, err := pcap.NewInactiveHandle(target.IfName)
		if err != nil {
			return fmt.Errorf("pcap: %w", err)
		}
		defer in.CleanUp()
		if err := in.SetSnapLen(spec.HeaderSize); err != nil {
			return fmt.Errorf("pcap snaplen: %w", err)
		}
		if err := in.SetPromisc(spec.Promiscuous); err != nil {
			return fmt.Errorf("pcap promiscuous mode: %w", err)
		}
		if err := in.SetTimeout(pollTimeout); err != nil {
			return fmt.Errorf("pcap timeout: %w", err)
		}
		if err := in.SetImmediateMode(true); err != nil {
			return fmt.Errorf("pcap immediate mode: %w", err)
		}
		if h, err = in.Activate(); err != nil {
			return fmt.Errorf("pcap activate %s: %w", target.IfName, err)
		}
		if spec.BPFFilter != "" {
			if err := h.SetBPFFilter(spec.BPFFilter); err != nil {
				return &ValidationError{Field: "BPFFilter", Err: err}
			}
		}
		return nil
	})
	if err != nil {
		if h != nil {
			h.Close()
		}
		return nil, err
	}
	return &pcapSource{h: h, lt: h.LinkType()}, nil
}

func (p *pcapSource) run(ctx context.Context, in *intake) error {
	for ctx.Err() == nil {
		data, ci, err := p.h.ZeroCopyReadPacketData()
		switch {
		case err == nil:
			in.packet(data, ci, p.lt)
		case errors.Is(err, pcap.NextErrorTimeoutExpired):
			in.flush()
		default:
			return fmt.Errorf("reading packets: %w", err)
		}
	}
	return nil
}

func (p *pcapSource) stats() (Stats, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return Stats{}, false
	}
	st, err := p.h.Stats()
	if err != nil {
		return Stats{}, false
	}
	return Stats{PacketsReceived: int64(st.PacketsReceived), PacketsDropped: int64(st.PacketsDropped),
		PacketsIfDropped: int64(st.PacketsIfDropped)}, true
}

func (p *pcapSource) close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		p.closed = true
		p.h.Close()
	}
	return nil
}
