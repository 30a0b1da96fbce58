package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	v1 "github.com/skydive-ng/skydive/api/v1"
)

// Publish sends nodes then edges (JSON objects of the API's shape) to the
// publisher endpoint, kept after the connection closes. It returns the
// errors the server reported, one per refused element, as "<ID>: <why>".
func (c *Client) Publish(ctx context.Context, endpoint string, nodes, edges []json.RawMessage) ([]string, error) {
	u, err := url.Parse(c.base)
	if err != nil {
		return nil, err
	}
	u.Scheme = strings.Replace(u.Scheme, "http", "ws", 1)
	u.Path = endpoint
	h := http.Header{}
	h.Set(v1.HeaderClientType, "cli")
	h.Set(v1.HeaderHostID, hostname())
	h.Set("X-Persistence-Policy", "Persistent")
	if c.user != "" {
		req := &http.Request{Header: http.Header{}}
		req.SetBasicAuth(c.user, c.pass)
		h.Set("Authorization", req.Header.Get("Authorization"))
	}
	dialer := websocket.Dialer{HandshakeTimeout: 10 * time.Second, TLSClientConfig: c.tls, Proxy: http.ProxyFromEnvironment}
	conn, resp, err := dialer.DialContext(ctx, u.String(), h)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("%s: %s", u, resp.Status)
		}
		return nil, fmt.Errorf("%s: %w", u, err)
	}
	defer conn.Close()
	send := func(typ string, objs []json.RawMessage) error {
		for _, o := range objs {
			if err := conn.WriteJSON(v1.Message{Namespace: v1.NamespaceGraph, Type: typ, Status: http.StatusOK, Obj: o}); err != nil {
				return fmt.Errorf("send %s: %w", typ, err)
			}
		}
		return nil
	}
	if err := send(v1.NodeAddedMsgType, nodes); err != nil {
		return nil, err
	}
	if err := send(v1.EdgeAddedMsgType, edges); err != nil {
		return nil, err
	}
	// The server answers only refusals; close and collect them.
	_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "done"), time.Now().Add(time.Second))
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var refused []string
	for {
		var msg v1.Message
		if err := conn.ReadJSON(&msg); err != nil {
			// The server's close (or the deadline) ends the answers.
			return refused, nil
		}
		if msg.Type == v1.ErrorMsgType {
			refused = append(refused, refusal(msg.Obj))
		}
	}
}

// refusal reads an Error message's Obj: {"ID","Error"}, or a bare string as
// older analyzers sent.
func refusal(obj json.RawMessage) string {
	var e v1.ElementError
	if json.Unmarshal(obj, &e) == nil && e.Error != "" {
		if e.ID == "" {
			return e.Error
		}
		return e.ID + ": " + e.Error
	}
	var text string
	if json.Unmarshal(obj, &text) == nil {
		return text
	}
	return string(obj)
}
