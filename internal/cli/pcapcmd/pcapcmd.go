// Package pcapcmd implements "skydive pcap": offline tools on packet
// traces, without any server.
package pcapcmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/skydive-ng/skydive/internal/flow"
)

// NewCommand returns the "pcap" command and its subcommands.
func NewCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "pcap",
		Short: "Work on pcap/pcapng packet traces offline",
	}
	cmd.AddCommand(newFlowsCommand())
	return cmd
}

func newFlowsCommand() *cobra.Command {
	var (
		mode        string
		ipDefrag    bool
		tcpMetric   bool
		extraLayers []string
		nodeTID     string
	)
	cmd := &cobra.Command{
		Use:   "flows FILE",
		Short: "Print the flows of a pcap or pcapng trace as JSON",
		Long: "Decode every packet of a pcap or pcapng trace into flows, as an agent capture would,\n" +
			"and print the list of flows as indented JSON.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			file := args[0]
			keyMode, err := flow.ParseLayerKeyMode(mode)
			if err != nil {
				return err
			}
			extra, err := parseExtraLayers(extraLayers)
			if err != nil {
				return err
			}
			f, err := os.Open(file)
			if err != nil {
				return err // *PathError names the file
			}
			defer f.Close()
			opts := flow.Options{
				LayerKeyMode:   keyMode,
				IPDefrag:       ipDefrag,
				ExtraTCPMetric: tcpMetric,
				ReassembleTCP:  tcpMetric,
				ExtraLayers:    extra,
				NodeTID:        nodeTID,
			}
			if err := writeFlows(cmd.Context(), f, cmd.OutOrStdout(), opts); errors.Is(err, flow.ErrTruncated) {
				// A capture stopped mid-write: its whole packets still tell.
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s: %v\n", file, err)
			} else if err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&mode, "layer-key-mode", "L2", "layers the flow key is computed from: L2 or L3")
	cmd.Flags().BoolVar(&ipDefrag, "ip-defrag", true, "reassemble IPv4 fragments")
	cmd.Flags().BoolVar(&tcpMetric, "tcp-metric", false, "add TCP metrics (SYN/FIN/RST times, out of order segments)")
	cmd.Flags().StringSliceVar(&extraLayers, "extra-layers", nil, "application layers copied into flows: DNS, DHCPv4, VRRP")
	cmd.Flags().StringVar(&nodeTID, "node-tid", "", "NodeTID set in the flows")
	return cmd
}

// writeFlows writes the flows of the pcap or pcapng stream r to w as
// indented JSON (what "pcap flows" prints; its benchmark runs it). A trace
// cut short writes the flows of its whole packets and returns
// ErrTruncated.
func writeFlows(ctx context.Context, r io.Reader, w io.Writer, opts flow.Options) error {
	flows, ferr := flow.FlowsFromPcap(ctx, r, opts)
	if ferr != nil && !errors.Is(ferr, flow.ErrTruncated) {
		return ferr
	}
	if flows == nil {
		flows = []*flow.Flow{}
	}
	// encoding/json's indented bytes, written faster (flow.WriteFlowsJSON)
	if err := flow.WriteFlowsJSON(w, flows); err != nil {
		return err
	}
	return ferr
}

func parseExtraLayers(names []string) (flow.ExtraLayers, error) {
	var e flow.ExtraLayers
	for _, n := range names {
		switch strings.ToUpper(n) {
		case "DNS":
			e |= flow.ExtraDNS
		case "DHCPV4":
			e |= flow.ExtraDHCPv4
		case "VRRP":
			e |= flow.ExtraVRRP
		case "ALL":
			e |= flow.ExtraAll
		default:
			return 0, fmt.Errorf("unknown extra layer %q (want DNS, DHCPv4 or VRRP)", n)
		}
	}
	return e, nil
}
