package httpapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/skydive-ng/skydive/internal/resource"
)

func TestStatus(t *testing.T) {
	notFound := resource.NotFound("thing not found")
	for _, tc := range []struct {
		name string
		err  error
		code int
	}{
		{"plain", errors.New("boom"), http.StatusInternalServerError},
		{"invalid", resource.Invalidf("Name: required"), http.StatusBadRequest},
		{"invalid wrapped", fmt.Errorf("create: %w", resource.Invalidf("Name: required")), http.StatusBadRequest},
		{"not found", fmt.Errorf("%w: abc", notFound), http.StatusNotFound},
		{"conflict", fmt.Errorf("%w: abc", resource.Conflict("duplicate thing")), http.StatusConflict},
		{"status error", WithStatus(http.StatusGatewayTimeout, errors.New("slow")), http.StatusGatewayTimeout},
		{"bad request", BadRequest(errors.New("bad")), http.StatusBadRequest},
		{"status error wins over kind", WithStatus(http.StatusServiceUnavailable, resource.Invalidf("x")), http.StatusServiceUnavailable},
		{"canceled", fmt.Errorf("query: %w", context.Canceled), http.StatusServiceUnavailable},
		{"deadline", context.DeadlineExceeded, http.StatusServiceUnavailable},
		{"kind wins over deadline", resource.Invalid(fmt.Errorf("Query: %w", context.DeadlineExceeded)), http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Status(tc.err); got != tc.code {
				t.Errorf("Status(%v) = %d, want %d", tc.err, got, tc.code)
			}
			rec := httptest.NewRecorder()
			s := &Server{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
			s.WriteError(rec, tc.err)
			if rec.Code != tc.code || strings.TrimSpace(rec.Body.String()) != tc.err.Error() {
				t.Errorf("WriteError: %d %q, want %d %q", rec.Code, rec.Body.String(), tc.code, tc.err.Error())
			}
		})
	}
}
