package completeness

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestGaps(t *testing.T) {
	clock := time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)
	tr := New(func() time.Time { return clock })
	at := func(s int) time.Time { return time.Date(2026, 12, 7, 6, 0, s, 0, time.UTC) }
	set := func(s int) { clock = at(s) }

	set(10)
	tr.AgentDisconnected("compute-1")
	set(20)
	tr.AgentConnected("compute-1")
	set(30)
	tr.AgentDisconnected("compute-2") // not back
	set(40)
	tr.StoreFailed(3, errors.New("disk full"))
	set(45)
	tr.sampleDrops(0)
	set(50)
	tr.sampleDrops(7)
	set(60)

	cases := []struct {
		from, to int
		hosts    []string
		want     []string
	}{
		{0, 5, nil, nil},
		{0, 15, nil, []string{"agent compute-1 was disconnected from 2026-12-07T06:00:10.000Z to 2026-12-07T06:00:20.000Z"}},
		{21, 29, nil, nil},
		{21, 35, []string{"compute-1"}, nil},
		{21, 35, []string{"compute-2"}, []string{"agent compute-2 disconnected at 2026-12-07T06:00:30.000Z and has not come back"}},
		{55, 60, []string{"compute-2"}, []string{"agent compute-2 disconnected"}},
		{39, 41, []string{"controller"}, []string{"the flow store dropped 3 flow updates at 2026-12-07T06:00:40.000Z (disk full)"}},
		{46, 52, []string{"controller"}, []string{"the flow store dropped 7 flow updates at 2026-12-07T06:00:50.000Z (its write queue was full)"}},
	}
	for _, c := range cases {
		got := tr.Gaps(at(c.from), at(c.to), c.hosts)
		if len(got) != len(c.want) {
			t.Errorf("[%d,%d] %v: %q, want %q", c.from, c.to, c.hosts, got, c.want)
			continue
		}
		for i, w := range c.want {
			if !strings.HasPrefix(got[i], w) {
				t.Errorf("[%d,%d] %v: %q, want prefix %q", c.from, c.to, c.hosts, got[i], w)
			}
		}
	}
	// A day later the closed outage is forgotten, the open one is not.
	clock = clock.Add(25 * time.Hour)
	tr.AgentDisconnected("controller")
	var hosts []string
	for _, o := range tr.outages {
		hosts = append(hosts, o.host)
	}
	if !slices.Equal(hosts, []string{"compute-2", "controller"}) {
		t.Errorf("outages kept: %v", hosts)
	}
}
