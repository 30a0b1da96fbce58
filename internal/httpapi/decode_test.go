package httpapi

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// shortBody reads as a body cut before its Content-Length.
type shortBody struct{ r io.Reader }

func (b shortBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

func TestDecodeJSONStatuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		body io.Reader
		max  int64
		want int
	}{
		{"ok", strings.NewReader(`{"GremlinQuery": "G.V()"}` + "\n"), 0, 0},
		{"too big", strings.NewReader(`{"GremlinQuery": "` + strings.Repeat("a", 100) + `"}`), 10, http.StatusRequestEntityTooLarge},
		{"too big after the object", strings.NewReader(`{}` + strings.Repeat(" ", 100)), 10, http.StatusRequestEntityTooLarge},
		{"cut inside", shortBody{strings.NewReader(`{"GremlinQuery": "G.V(`)}, 0, http.StatusBadRequest},
		{"cut after", shortBody{strings.NewReader(`{"GremlinQuery": "G.V()"}`)}, 0, http.StatusBadRequest},
		{"empty", strings.NewReader(""), 0, http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/api/topology", tc.body)
			var v struct{ GremlinQuery string }
			err := DecodeJSON(httptest.NewRecorder(), r, tc.max, &v)
			switch {
			case tc.want == 0 && err != nil:
				t.Fatalf("err %v", err)
			case tc.want != 0 && (err == nil || Status(err) != tc.want):
				t.Fatalf("err %v (%d), want %d", err, Status(err), tc.want)
			}
		})
	}
}
