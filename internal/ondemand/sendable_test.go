package ondemand

import "testing"

func TestSendable(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:6365": "127.0.0.1:6365", "0.0.0.0:6366": "127.0.0.1:6366", "[::]:6367": "[::1]:6367",
		"10.0.0.1:6368": "10.0.0.1:6368", "bad": "bad",
	} {
		if got := sendable(in); got != want {
			t.Errorf("sendable(%q) = %q, want %q", in, got, want)
		}
	}
}
