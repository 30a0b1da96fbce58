package analyzer

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/skydive-ng/skydive/internal/flow"
)

func TestFallbacks(t *testing.T) {
	mux := http.NewServeMux()
	ok := func(w http.ResponseWriter, _ *http.Request) {}
	mux.HandleFunc("GET /api/status", ok)
	mux.HandleFunc("GET /api/alert/{id}", ok)
	mux.HandleFunc("PATCH /api/alert/{id}", ok)
	mux.HandleFunc("GET /ws/publisher", ok)
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	registerFallbacks(mux)
	h := checkQuery(mux)
	for _, tc := range []struct {
		method, path string
		want         int
		allow        string
	}{
		{"GET", "/api/status", 200, ""},
		{"POST", "/api/status", 405, "GET, HEAD"},
		{"PUT", "/api/alert/x", 405, "GET, HEAD, PATCH"},
		{"FROB", "/ws/publisher", 405, "GET, HEAD"},
		{"PUT", "/api", 404, ""},
		{"GET", "/api/nothing", 404, ""},
		{"GET", "/ws/nothing", 404, ""},
		{"GET", "/index.html", http.StatusTeapot, ""},
		{"GET", "/api/status?a=%zz", 400, ""},
		{"GET", "/api/status?a=b;c", 400, ""},
	} {
		t.Run(fmt.Sprint(tc.method, " ", tc.path), func(t *testing.T) {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(tc.method, tc.path, nil))
			if w.Code != tc.want || w.Header().Get("Allow") != tc.allow {
				t.Fatalf("%d Allow %q, want %d %q: %s", w.Code, w.Header().Get("Allow"), tc.want, tc.allow, w.Body)
			}
		})
	}
}

func TestPcapStatus(t *testing.T) {
	for err, want := range map[error]int{
		fmt.Errorf("x: %w", flow.ErrTruncated): 400,
		flow.ErrNotPcap:                        400,
		context.Canceled:                       503,
		errors.New("disk full"):                500,
	} {
		if got := pcapStatus(err); got != want {
			t.Errorf("%v: %d, want %d", err, got, want)
		}
	}
}
