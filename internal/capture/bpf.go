package capture

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcap"
	"golang.org/x/net/bpf"
)

// CompileBPF compiles a tcpdump filter expression for Ethernet frames of
// at most snaplen bytes into classic BPF, with libpcap.
func CompileBPF(expr string, snaplen int) ([]bpf.RawInstruction, error) {
	return compileBPF(layers.LinkTypeEthernet, expr, snaplen)
}

func compileBPF(lt layers.LinkType, expr string, snaplen int) ([]bpf.RawInstruction, error) {
	if strings.TrimSpace(expr) == "" {
		return nil, errors.New("empty filter")
	}
	ins, err := pcap.CompileBPFFilter(lt, snaplen, expr)
	if err != nil {
		msg := strings.TrimSpace(err.Error())
		msg = strings.TrimPrefix(msg, "can't parse filter expression: ")
		return nil, fmt.Errorf("%s", msg)
	}
	raw := make([]bpf.RawInstruction, len(ins))
	for i, in := range ins {
		raw[i] = bpf.RawInstruction{Op: in.Code, Jt: in.Jt, Jf: in.Jf, K: in.K}
	}
	return raw, nil
}

// CompileBPFFor compiles a tcpdump filter expression for frames of the
// given link type.
func CompileBPFFor(lt layers.LinkType, expr string, snaplen int) ([]bpf.RawInstruction, error) {
	return compileBPF(lt, expr, snaplen)
}
