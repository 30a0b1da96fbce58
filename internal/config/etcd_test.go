package config

import (
	"strings"
	"testing"
)

func TestEtcd(t *testing.T) {
	c, err := Load(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := c.Etcd
	if c.ClusterMode() || e.Embedded || e.Listen != "127.0.0.1:12379" || e.DataDir != "/var/lib/skydive/etcd" ||
		e.Name != c.HostID || e.ClientTimeout != 5 || e.MaxWALFiles != 5 || e.MaxSnapFiles != 5 {
		t.Fatalf("etcd defaults %+v (cluster mode %v)", e, c.ClusterMode())
	}
	c, err = Load([]string{write(t, "host_id: an1\netcd:\n  embedded: true\n  peers:\n    an1: http://10.0.0.1:12380\n    an2: http://10.0.0.2:12380\n")}, nil)
	if err != nil || !c.ClusterMode() || c.Etcd.Name != "an1" || len(c.Etcd.Peers) != 2 {
		t.Fatalf("embedded: %+v %v", c, err)
	}
	c, err = Load(nil, []string{"SKYDIVE_ETCD_SERVERS=http://e1:2379,e2:2379"})
	if err != nil || !c.ClusterMode() || strings.Join(c.Etcd.Servers, " ") != "http://e1:2379 e2:2379" {
		t.Fatalf("servers from the environment: %+v %v", c, err)
	}
	for yaml, want := range map[string]string{
		"etcd:\n  servers: [nohost]\n":          "etcd.servers[0]",
		"etcd:\n  servers: [ftp://e:1]\n":       "etcd.servers[0]",
		"etcd:\n  listen: nope\n":               "etcd.listen",
		"etcd:\n  peers: {a: 10.0.0.1:12380}\n": "etcd.peers.a",
		"etcd:\n  client_timeout: -1\n":         "etcd.client_timeout",
		"etcd:\n  unknown: 1\n":                 "unknown",
	} {
		if _, err := Load([]string{write(t, yaml)}, nil); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error naming %s", yaml, err, want)
		}
	}
}
