package testutil

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestEventually(t *testing.T) {
	n := 0
	Eventually(t, time.Second, "third call", func() error {
		if n++; n < 3 {
			return errors.New("not yet")
		}
		return nil
	})
	if n != 3 {
		t.Fatalf("cond called %d times, want 3", n)
	}
	if out := Sh(t, "echo", "hi"); out != "hi\n" {
		t.Fatalf("Sh answered %q", out)
	}
}

// TestAppendClientFrame: gorilla's server reads AppendClientFrame's frames
// of every length class as the payloads written.
func TestAppendClientFrame(t *testing.T) {
	payloads := [][]byte{[]byte("x"), bytes.Repeat([]byte("a"), 125), bytes.Repeat([]byte("b"), 126), bytes.Repeat([]byte("c"), 70000)}
	got := make(chan []byte, len(payloads))
	upgrader := websocket.Upgrader{}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			_, m, err := c.ReadMessage()
			if err != nil {
				close(got)
				return
			}
			got <- m
		}
	}))
	defer hs.Close()
	var raw net.Conn
	d := websocket.Dialer{NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		raw = conn
		return conn, err
	}}
	c, _, err := d.Dial(strings.Replace(hs.URL, "http", "ws", 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var frames []byte
	for i, p := range payloads {
		frames = AppendClientFrame(frames, p, uint32(i*0x9e3779b9))
	}
	if _, err := raw.Write(frames); err != nil {
		t.Fatal(err)
	}
	for i, p := range payloads {
		select {
		case m := <-got:
			if !bytes.Equal(m, p) {
				t.Fatalf("frame %d: %d bytes read, want %d", i, len(m), len(p))
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("frame %d not read", i)
		}
	}
}
