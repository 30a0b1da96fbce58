package cli

import (
	"net/http"

	"github.com/spf13/cobra"

	v1 "github.com/skydive-ng/skydive/api/v1"
)

func newInjectionCommand(cf *clientFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "injection", Aliases: []string{"inject-packet"}, Short: "Inject packets (the generator)"}
	var p v1.PacketInjection
	create := &cobra.Command{
		Use:   "create",
		Short: "Send packets from the interfaces a Gremlin query selects",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cf.create(cmd, "injectpacket", &p)
		},
	}
	f := create.Flags()
	f.StringVar(&p.Src, "src", "", "Gremlin query of the source interfaces (required)")
	f.StringVar(&p.Dst, "dst", "", "Gremlin query of the destination interface")
	f.StringVar(&p.SrcIP, "src-ip", "", "source IP (default: the source node's)")
	f.StringVar(&p.DstIP, "dst-ip", "", "destination IP (default: the destination node's)")
	f.StringVar(&p.SrcMAC, "src-mac", "", "source MAC")
	f.StringVar(&p.DstMAC, "dst-mac", "", "destination MAC")
	f.Uint16Var(&p.SrcPort, "src-port", 0, "source port (TCP/UDP)")
	f.Uint16Var(&p.DstPort, "dst-port", 0, "destination port (TCP/UDP)")
	f.StringVar(&p.Type, "type", "icmp4", "icmp4, icmp6, tcp4, tcp6, udp4, udp6")
	f.StringVar(&p.Payload, "payload", "", "payload")
	f.Uint16Var(&p.ICMPID, "id", 0, "ICMP identifier")
	f.StringVar(&p.Mode, "mode", "unique", "unique or random")
	f.Int64Var(&p.IncrementPayload, "inc-payload", 0, "bytes added to the payload at each packet")
	f.Uint64Var(&p.Count, "count", 1, "packets to send")
	f.Uint64Var(&p.Interval, "interval", 0, "milliseconds between packets")
	f.Uint8Var(&p.TTL, "ttl", 64, "IP TTL")
	list := &cobra.Command{Use: "list", Short: "List running injections", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := cf.client().Do(cmd.Context(), http.MethodGet, "/api/injectpacket", nil, nil)
			if err != nil {
				return err
			}
			return printJSON(cmd.OutOrStdout(), b)
		}}
	get := &cobra.Command{Use: "get ID", Short: "Show an injection", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := cf.client().Do(cmd.Context(), http.MethodGet, "/api/injectpacket/"+args[0], nil, nil)
			if err != nil {
				return err
			}
			return printJSON(cmd.OutOrStdout(), b)
		}}
	del := &cobra.Command{Use: "delete ID...", Short: "Forget injections", Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, id := range args {
				if _, err := cf.client().Do(cmd.Context(), http.MethodDelete, "/api/injectpacket/"+id, nil, nil); err != nil {
					return err
				}
			}
			return nil
		}}
	cmd.AddCommand(create, list, get, del)
	return cmd
}
