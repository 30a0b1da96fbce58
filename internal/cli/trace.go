package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/skydive-ng/skydive/internal/gremlin/flowsteps"
)

// newTraceCommand traces flows hop by hop (the Trace() step): by TrackingID
// or by the two addresses, optionally in a time context, and can start the
// captures the trace needs along the topology path.
func newTraceCommand(cf *clientFlags) *cobra.Command {
	var (
		trackingID, src, dst, at string
		startCaptures, asJSON    bool
	)
	cmd := &cobra.Command{
		Use:   "trace",
		Short: "Trace a flow hop by hop and locate where its packets are lost",
		Long: `Trace a flow through every capture that saw it, in path order, with its
packets and bytes in each direction at each hop, the losses between
consecutive hops (and what lies between them), and why the answer may be
incomplete. Across a tunnel the hop shows the outer flow that carried it.

  skydive client trace --flow <TrackingID>
  skydive client trace --src 192.168.10.5 --dst 192.168.10.6
  skydive client trace --src 192.168.10.5 --dst 192.168.10.6 --capture`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			query, err := traceQuery(trackingID, src, dst, at)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if startCaptures {
				if src == "" || dst == "" {
					return errors.New("--capture needs --src and --dst: the captures go on the path between them")
				}
				return captureTracePath(cmd, cf, src, dst)
			}
			b, err := cf.client().Query(cmd.Context(), query)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(out, b)
			}
			var traces []flowsteps.Trace
			if err := json.Unmarshal(b, &traces); err != nil {
				return fmt.Errorf("trace answer: %w", err)
			}
			if len(traces) == 0 {
				fmt.Fprintln(out, "no flow matches: is a capture running on the path? (--capture starts them)")
				return nil
			}
			return writeTraces(out, traces)
		},
	}
	f := cmd.Flags()
	f.StringVar(&trackingID, "flow", "", "TrackingID of the flow to trace")
	f.StringVar(&src, "src", "", "one end's IP address (with --dst, instead of --flow)")
	f.StringVar(&dst, "dst", "", "the other end's IP address")
	f.StringVar(&at, "at", "", "time context, as G.At() takes it: '-1m', a date, a Unix time")
	f.BoolVar(&startCaptures, "capture", false, "start captures on the interfaces of the path between --src and --dst")
	f.BoolVar(&asJSON, "json", false, "print the JSON answer")
	return cmd
}

// traceQuery is the Gremlin query of a trace request.
func traceQuery(trackingID, src, dst, at string) (string, error) {
	g := "G"
	if at != "" {
		g = fmt.Sprintf("G.At(%s)", quote(at))
	}
	switch {
	case trackingID != "" && (src != "" || dst != ""):
		return "", errors.New("--flow and --src/--dst exclude each other")
	case trackingID != "":
		return fmt.Sprintf("%s.Flows().Has('TrackingID', %s).Trace()", g, quote(trackingID)), nil
	case src == "" || dst == "":
		return "", errors.New("give --flow <TrackingID>, or both --src and --dst")
	}
	for _, a := range []string{src, dst} {
		if _, err := netip.ParseAddr(a); err != nil {
			return "", fmt.Errorf("--src/--dst: %q is not an IP address", a)
		}
	}
	return fmt.Sprintf("%s.Flows().Has('Network', %s).Has('Network', %s).Trace()", g, quote(src), quote(dst)), nil
}

// quote makes a Gremlin string literal.
func quote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

func writeTraces(w io.Writer, traces []flowsteps.Trace) error {
	for i, t := range traces {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "flow %s\n", t.TrackingID)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "HOP\tHOST\tINTERFACE\tAB PACKETS\tAB BYTES\tBA PACKETS\tBA BYTES\tTUNNEL")
		for j, h := range t.Hops {
			tunnel := ""
			if h.Tunnel != nil {
				tunnel = fmt.Sprintf("%s > %s", h.Tunnel.A, h.Tunnel.B)
				if h.Tunnel.ID != 0 {
					tunnel += fmt.Sprintf(" id %d", h.Tunnel.ID)
				}
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%d\t%d\t%d\t%s\n", j+1, h.Host, h.Name, h.AB.Packets, h.AB.Bytes, h.BA.Packets, h.BA.Bytes, tunnel)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if len(t.Loss) == 0 && len(t.Hops) > 1 {
			fmt.Fprintln(w, "no loss between the hops")
		}
		for _, l := range t.Loss {
			fmt.Fprintf(w, "LOSS %s: %d of %d packets lost between %s on %s and %s on %s", l.Direction, l.Lost, l.Of, l.From, l.FromHost, l.To, l.ToHost)
			if len(l.Via) > 0 {
				fmt.Fprintf(w, ", via %s", strings.Join(l.Via, ", "))
			}
			fmt.Fprintln(w)
		}
		for _, why := range t.Incomplete {
			fmt.Fprintln(w, "incomplete:", why)
		}
	}
	return nil
}

// pathNode is what --capture reads of the nodes of a path.
type pathNode struct {
	Host     string
	Origin   string
	Metadata struct {
		TID, Name, Type string
		VtepDevIndex    int64
	}
}

// capturable are the interface types a capture opens on.
var capturable = map[string]bool{"veth": true, "device": true, "tap": true, "tun": true, "macvlan": true,
	"ipvlan": true, "vlan": true, "bond": true, "bridge": true}

// captureTracePath starts one capture on the interfaces a trace from src to
// dst needs: those of the topology path between the two addresses that
// agents own, and on each host of the path the underlay interfaces of its
// tunnels (VtepDevIndex), where the outer packets go.
func captureTracePath(cmd *cobra.Command, cf *clientFlags, src, dst string) error {
	ctx := cmd.Context()
	c := cf.client()
	out := cmd.OutOrStdout()
	query := func(q string, v any) error {
		b, err := c.Query(ctx, q)
		if err != nil {
			return err
		}
		return json.Unmarshal(b, v)
	}
	var paths [][]pathNode
	if err := query(fmt.Sprintf("G.V().Has('IPV4', IPV4RANGE('%s/32')).ShortestPathTo(Metadata('IPV4', IPV4RANGE('%s/32')))", src, dst), &paths); err != nil {
		return fmt.Errorf("path from %s to %s: %w", src, dst, err)
	}
	if len(paths) == 0 {
		return fmt.Errorf("no topology path from the interface of %s to the one of %s", src, dst)
	}
	var tids, names []string
	add := func(n pathNode, role string) {
		if slices.Contains(tids, n.Metadata.TID) {
			return
		}
		tids = append(tids, n.Metadata.TID)
		names = append(names, n.Metadata.Name+" on "+n.Host+role)
	}
	var hosts []string
	for _, n := range paths[0] {
		if !capturable[n.Metadata.Type] || n.Metadata.TID == "" || !strings.HasPrefix(n.Origin, "agent.") {
			continue
		}
		add(n, "")
		if !slices.Contains(hosts, n.Host) {
			hosts = append(hosts, n.Host)
		}
	}
	if len(hosts) > 1 {
		for _, h := range hosts {
			var tunnels []pathNode
			if err := query(fmt.Sprintf("G.V().Has('Host', %s, 'VtepDevIndex', GT(0))", quote(h)), &tunnels); err != nil {
				return err
			}
			for _, t := range tunnels {
				var under []pathNode
				if err := query(fmt.Sprintf("G.V().Has('Type', 'host', 'Name', %s).Out('IfIndex', %d)", quote(h), t.Metadata.VtepDevIndex), &under); err != nil {
					return err
				}
				for _, u := range under {
					add(u, " (underlay)")
				}
			}
		}
	}
	if len(tids) == 0 {
		return fmt.Errorf("no capturable interface on the path from %s to %s", src, dst)
	}
	quoted := make([]string, len(tids))
	for i, t := range tids {
		quoted[i] = quote(t)
	}
	capture := map[string]any{
		"GremlinQuery": fmt.Sprintf("G.V().Has('TID', Within(%s))", strings.Join(quoted, ", ")),
		"Name":         fmt.Sprintf("trace %s %s", src, dst),
		"Description":  "started by skydive client trace --capture",
		// The two ends' packets and, on the underlays, the tunnels' own.
		"BPFFilter": fmt.Sprintf("(host %s and host %s) or udp port 4789 or udp port 6081 or ip proto 47", src, dst),
	}
	b, err := c.Do(ctx, "POST", "/api/capture", capture, nil)
	if err != nil {
		return err
	}
	var created struct{ UUID string }
	if err := json.Unmarshal(b, &created); err != nil {
		return fmt.Errorf("capture answer: %w", err)
	}
	fmt.Fprintf(out, "capture %s started on %d interfaces:\n", created.UUID, len(tids))
	for _, n := range names {
		fmt.Fprintln(out, " ", n)
	}
	fmt.Fprintf(out, "send traffic between %s and %s, then: skydive client trace --src %s --dst %s\n", src, dst, src, dst)
	return nil
}
