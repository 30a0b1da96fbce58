package cli

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"

	v1 "github.com/skydive-ng/skydive/api/v1"
)

func newCaptureCommand(cf *clientFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "capture", Short: "Manage captures"}
	var c v1.Capture
	var node string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a capture on the interfaces a Gremlin query selects",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if node != "" {
				if c.GremlinQuery != "" {
					return fmt.Errorf("--node and --gremlin exclude each other")
				}
				c.GremlinQuery = fmt.Sprintf("G.V().Has('TID', '%s')", node)
			}
			return cf.create(cmd, "capture", &c)
		},
	}
	f := create.Flags()
	f.StringVar(&c.GremlinQuery, "gremlin", "", "Gremlin query of the nodes to capture on")
	f.StringVar(&node, "node", "", "TID of the node to capture on")
	f.StringVar(&c.BPFFilter, "bpf", "", "BPF filter")
	f.StringVar(&c.Name, "name", "", "name")
	f.StringVar(&c.Description, "description", "", "description")
	f.StringVar(&c.Type, "type", "", "capture type: afpacket, pcap, pcapsocket, ebpf, sflow, ovssflow, ovsmirror, netflow, ovsnetflow")
	f.IntVar(&c.Port, "port", 0, "pcapsocket port")
	f.Uint32Var(&c.SamplingRate, "samplingrate", 1, "sampling rate (sFlow)")
	f.Uint32Var(&c.PollingInterval, "pollinginterval", 10, "polling interval (sFlow)")
	f.IntVar(&c.HeaderSize, "header-size", 0, "bytes captured per packet (0: 256)")
	f.IntVar(&c.RawPacketLimit, "rawpacket-limit", 0, "raw packets kept per flow (0..10)")
	f.BoolVar(&c.ExtraTCPMetric, "extra-tcp-metric", false, "TCP metrics")
	f.BoolVar(&c.IPDefrag, "ip-defrag", false, "defragment IPv4")
	f.BoolVar(&c.ReassembleTCP, "reassamble-tcp", false, "reassemble TCP (sic, the original's spelling)")
	f.StringVar(&c.LayerKeyMode, "layer-key-mode", "L2", "flow key from L2 or L3")
	f.StringVar(&c.Target, "target", "", "sFlow/NetFlow target")
	f.StringVar(&c.TargetType, "target-type", "", "target type: netflowv5, erspanv1")

	list := &cobra.Command{
		Use: "list", Short: "List captures", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := cf.client().Do(cmd.Context(), http.MethodGet, "/api/capture", nil, nil)
			if err != nil {
				return err
			}
			return printJSON(cmd.OutOrStdout(), b)
		},
	}
	get := &cobra.Command{
		Use: "get ID", Short: "Show a capture", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := cf.client().Do(cmd.Context(), http.MethodGet, "/api/capture/"+args[0], nil, nil)
			if err != nil {
				return err
			}
			return printJSON(cmd.OutOrStdout(), b)
		},
	}
	del := &cobra.Command{
		Use: "delete ID...", Short: "Delete captures", Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, id := range args {
				if _, err := cf.client().Do(cmd.Context(), http.MethodDelete, "/api/capture/"+id, nil, nil); err != nil {
					return err
				}
			}
			return nil
		},
	}
	cmd.AddCommand(create, list, get, del)
	return cmd
}

// progressReader reports how much of a large upload went.
type progressReader struct {
	r     io.Reader
	total int64
	done  int64
	out   io.Writer
	last  time.Time
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.done += int64(n)
	if time.Since(p.last) > time.Second || (err == io.EOF && p.total > 8<<20) {
		p.last = time.Now()
		fmt.Fprintf(p.out, "\rsent %d/%d MB (%.0f%%)", p.done>>20, p.total>>20, 100*float64(p.done)/float64(max(p.total, 1)))
	}
	return n, err
}

func newPcapClientCommand(cf *clientFlags) *cobra.Command {
	var trace string
	cmd := &cobra.Command{
		Use:   "pcap",
		Short: "Send a pcap file to the analyzer, which makes flows of it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if trace == "" {
				return fmt.Errorf("--trace FILE is required")
			}
			f, err := os.Open(trace)
			if err != nil {
				return err
			}
			defer f.Close()
			st, err := f.Stat()
			if err != nil {
				return err
			}
			pr := &progressReader{r: f, total: st.Size(), out: cmd.ErrOrStderr(), last: time.Now()}
			b, err := cf.client().DoRaw(cmd.Context(), http.MethodPost, "/api/pcap", pr, "application/vnd.tcpdump.pcap")
			if pr.total > 8<<20 {
				fmt.Fprintln(cmd.ErrOrStderr())
			}
			if err != nil {
				return fmt.Errorf("%s: %w", trace, err)
			}
			return printJSON(cmd.OutOrStdout(), bytes.TrimSpace(b))
		},
	}
	cmd.Flags().StringVarP(&trace, "trace", "t", "", "pcap file")
	return cmd
}
