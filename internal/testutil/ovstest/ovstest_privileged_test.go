//go:build privileged

package ovstest

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"testing"
)

// TestStopLeavesNoTapDevice: the userspace datapath's bridges are tap
// devices that outlive ovs-vswitchd unless Stop deletes them.
func TestStopLeavesNoTapDevice(t *testing.T) {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	br := "ot" + hex.EncodeToString(b)
	ovs := Start(t)
	ovs.Vsctl("add-br", br, "--", "set", "bridge", br, "datapath_type=netdev")
	ovs.Vsctl("add-port", br, br+"i", "--", "set", "interface", br+"i", "type=internal")
	for _, name := range []string{br, br + "i"} {
		if _, err := net.InterfaceByName(name); err != nil {
			t.Fatalf("%s: not made by the datapath: %v", name, err)
		}
	}
	ovs.Stop()
	for _, name := range []string{br, br + "i"} {
		if _, err := net.InterfaceByName(name); err == nil {
			t.Errorf("%s is still there after Stop", name)
		}
	}
}
