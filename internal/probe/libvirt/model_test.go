package libvirt

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	golibvirt "github.com/digitalocean/go-libvirt"
)

func TestStateName(t *testing.T) {
	for _, tc := range []struct {
		in   golibvirt.DomainState
		want string
	}{
		{golibvirt.DomainNostate, StateUndefined},
		{golibvirt.DomainRunning, StateUp},
		{golibvirt.DomainBlocked, StateBlocked},
		{golibvirt.DomainPaused, StatePaused},
		{golibvirt.DomainShutdown, StateDown},
		{golibvirt.DomainShutoff, StateDown},
		{golibvirt.DomainCrashed, StateCrashed},
		{golibvirt.DomainPmsuspended, StatePMSuspended},
		{golibvirt.DomainState(42), StateUndefined},
	} {
		if got := stateName(tc.in); got != tc.want {
			t.Errorf("stateName(%d) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestParseDomainXML(t *testing.T) {
	for _, tc := range []struct {
		file       string
		name, uuid string
		ifaces     []iface
		err        string
	}{
		{file: "running.xml", name: "vm1", uuid: "a3e88110-d9a6-46f7-b20b-f83a21e84334", ifaces: []iface{
			{Target: "vnet0", MAC: "52:54:00:6b:3c:58", Type: "bridge", Alias: "net0", BusType: "pci", BusInfo: "0000:01:00.0"},
			{Target: "tap-vm1", MAC: "52:54:00:12:34:56", Type: "ethernet", Alias: "ua-tap", BusType: "ccw"},
		}},
		// Inactive qemu domains lose their generated target devices.
		{file: "inactive.xml", name: "vm2", uuid: "5e1e7a5c-1d2b-4c1f-9b3e-0a6e5b1c2d3e"},
		{file: "broken.xml", err: "domain XML"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			name, uuid, ifaces, err := parseDomainXML(b)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if name != tc.name || uuid != tc.uuid || !reflect.DeepEqual(ifaces, tc.ifaces) {
				t.Errorf("got %s %s %+v\nwant %s %s %+v", name, uuid, ifaces, tc.name, tc.uuid, tc.ifaces)
			}
		})
	}
}

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		in, err string
	}{
		{in: ""},
		{in: "qemu:///system"},
		{in: "qemu:///session"},
		{in: "test:///default"},
		{in: "test+unix:///default?socket=/tmp/x/libvirt-sock"},
		{in: "qemu+tcp://hv1:16509/system"},
		{in: "qemu+ssh://root@hv1/system"},
		{in: "qemu", err: "no known driver"},
		{in: "qemu://hv1", err: "names no path"},
		{in: "qemu:system", err: "not a hierarchical"},
		{in: "/var/run/libvirt/libvirt-sock", err: "no known driver"},
		{in: "qemu+carrier:///system", err: "no known driver"},
		{in: "qemu+unix://hv1/system", err: "names a host"},
		{in: "test+unix:///default?socket=rel/sock", err: "relative socket"},
		{in: "qemu://[::1/system", err: "agent.topology.libvirt.url"},
	} {
		_, err := parseURL(tc.in)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%q: %v", tc.in, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "agent.topology.libvirt.url")):
			t.Errorf("%q: err %v, want %q naming agent.topology.libvirt.url", tc.in, err, tc.err)
		}
	}
}

func TestUUIDString(t *testing.T) {
	u := golibvirt.UUID{0xa3, 0xe8, 0x81, 0x10, 0xd9, 0xa6, 0x46, 0xf7, 0xb2, 0x0b, 0xf8, 0x3a, 0x21, 0xe8, 0x43, 0x34}
	if got := uuidString(u); got != "a3e88110-d9a6-46f7-b20b-f83a21e84334" {
		t.Errorf("got %s", got)
	}
}

func TestClaim(t *testing.T) {
	tap := []iface{{Target: "tap0"}}
	for _, tc := range []struct {
		name    string
		domains []*domain
		want    string
	}{
		{"active wins over stopped", []*domain{{UUID: "1", Name: "a", State: StateDown, Ifaces: tap}, {UUID: "2", Name: "b", State: StatePaused, Ifaces: tap}}, "b"},
		{"then by name", []*domain{{UUID: "2", Name: "b", State: StateUp, Ifaces: tap}, {UUID: "1", Name: "a", State: StateUp, Ifaces: tap}}, "a"},
		{"stopped alone keeps it", []*domain{{UUID: "1", Name: "a", State: StateDown, Ifaces: tap}}, "a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := map[string]*domain{}
			for _, d := range tc.domains {
				m[d.UUID] = d
			}
			if got := claim(m)["tap0"]; got == nil || got.Name != tc.want {
				t.Errorf("got %+v, want %s", got, tc.want)
			}
		})
	}
}
