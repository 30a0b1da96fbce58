// Package client is the Go client of Skydive's REST API, used by the CLI.
package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	v1 "github.com/skydive-ng/skydive/api/v1"
)

// Client talks to one analyzer (or agent).
type Client struct {
	base string
	http *http.Client
	user string
	pass string
	tls  *tls.Config
}

// Option configures a client.
type Option func(*Client)

// WithAuth sets basic credentials.
func WithAuth(user, pass string) Option { return func(c *Client) { c.user, c.pass = user, pass } }

// WithTLS speaks https (and wss) with tc; an address without a scheme is
// taken as https.
func WithTLS(tc *tls.Config) Option { return func(c *Client) { c.tls = tc } }

// WithHTTPClient sets the HTTP client.
func WithHTTPClient(h *http.Client) Option { return func(c *Client) { c.http = h } }

// New returns a client of the server at addr ("host:port" or a URL).
func New(addr string, opts ...Option) *Client {
	c := &Client{http: &http.Client{Timeout: 60 * time.Second}}
	for _, o := range opts {
		o(c)
	}
	base := addr
	if !strings.Contains(base, "://") {
		if c.tls != nil {
			base = "https://" + base
		} else {
			base = "http://" + base
		}
	}
	c.base = strings.TrimRight(base, "/")
	if c.tls != nil {
		c.http.Transport = &http.Transport{TLSClientConfig: c.tls, Proxy: http.ProxyFromEnvironment}
	}
	return c
}

// Error is a server's refusal: its status and message.
type Error struct {
	Status  int
	Message string
}

func (e *Error) Error() string {
	if e.Message == "" {
		return http.StatusText(e.Status)
	}
	return e.Message
}

// Do sends a request with a JSON body (nil for none) and returns the body.
func (c *Client) Do(ctx context.Context, method, path string, body any, header http.Header) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	if c.user != "" {
		req.SetBasicAuth(c.user, c.pass)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		return nil, &Error{Status: resp.StatusCode, Message: strings.TrimSpace(string(data))}
	}
	return data, nil
}

// Status returns the raw JSON of GET /api/status.
func (c *Client) Status(ctx context.Context) (json.RawMessage, error) {
	return c.Do(ctx, http.MethodGet, "/api/status", nil, nil)
}

// AnalyzerStatus decodes GET /api/status of an analyzer.
func (c *Client) AnalyzerStatus(ctx context.Context) (*v1.AnalyzerStatus, error) {
	b, err := c.Status(ctx)
	if err != nil {
		return nil, err
	}
	var s v1.AnalyzerStatus
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("decode status: %w", err)
	}
	return &s, nil
}

// Query runs a Gremlin query and returns the raw JSON result.
func (c *Client) Query(ctx context.Context, gremlin string) (json.RawMessage, error) {
	return c.Do(ctx, http.MethodPost, "/api/topology", v1.TopologyQuery{GremlinQuery: gremlin}, nil)
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return "cli"
	}
	return h
}

// DoRaw sends a raw body (a pcap stream ...) and returns the answer.
func (c *Client) DoRaw(ctx context.Context, method, path string, body io.Reader, contentType string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", contentType)
	if c.user != "" {
		req.SetBasicAuth(c.user, c.pass)
	}
	hc := *c.http
	hc.Timeout = 0 // large files take their time
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 300 {
		return nil, &Error{Status: resp.StatusCode, Message: strings.TrimSpace(string(data))}
	}
	return data, nil
}
