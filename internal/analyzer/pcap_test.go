package analyzer

import (
	"bytes"
	"encoding/binary"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/skydive-ng/skydive/internal/flowstore"
)

// POST /api/pcap: what the sender must fix is a 400 saying why, and keeps
// nothing; a good trace is accepted.
func TestPcapUpload(t *testing.T) {
	good, err := os.ReadFile("../flow/testdata/dns.pcap")
	if err != nil {
		t.Fatal(err)
	}
	huge := append([]byte{}, good...)
	binary.LittleEndian.PutUint32(huge[24+8:], 0x7fffffff)
	for _, tc := range []struct {
		name string
		body []byte
		code int
		says string
	}{
		{"bad magic", []byte("hello, world"), http.StatusBadRequest, "not a pcap"},
		{"bad header", good[:12], http.StatusBadRequest, "pcap header"},
		{"bad record", huge, http.StatusBadRequest, "packet 1"},
		{"truncated record", good[:len(good)-7], http.StatusBadRequest, "cut short"},
		{"good", good, http.StatusAccepted, `"Flows"`},
	} {
		store, imported := flowstore.NewMemory(flowstore.MemoryOptions{}), flowstore.NewMemory(flowstore.MemoryOptions{})
		rec := httptest.NewRecorder()
		pcapHandler(store, imported)(rec, httptest.NewRequest(http.MethodPost, "/api/pcap", bytes.NewReader(tc.body)))
		if rec.Code != tc.code || !strings.Contains(rec.Body.String(), tc.says) {
			t.Errorf("%s: %d %q, want %d saying %q", tc.name, rec.Code, rec.Body.String(), tc.code, tc.says)
		}
	}
}
