package replicate

import (
	"bytes"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	v1 "github.com/skydive-ng/skydive/api/v1"
	"github.com/skydive-ng/skydive/internal/graph"
)

// readAheadMax bounds the messages prepared ahead and not yet applied.
const readAheadMax = 256

// readAhead reads a connection's frames and prepares them (decodes and
// checks them, see prepare) on a goroutine of its own, ahead of the
// caller, which applies them to the graph in order. Decoding is about a
// third of a graph event's cost: apart from the graph's work, an ingest
// uses both of a small machine's cores.
//
// The caller takes all the messages prepared so far at once (next), so
// that when it is behind one hand-over costs one lock for many messages,
// and a lone message is never held back. next returns nil once the
// stream has ended on a read error, after every message read before it:
// what a publisher sent before closing its connection is applied. onFrame,
// if not nil, is called after each frame is read. The caller must call
// stop when done (the goroutine then ends once the connection is closed).
func readAhead(conn *websocket.Conn, prep func(data []byte) prepared, onFrame func()) *aheadQueue {
	q := &aheadQueue{conn: conn}
	q.ready.L = &q.mu
	q.room.L = &q.mu
	// gorilla answers a close frame at once, from the reading goroutine:
	// ahead of what the frames before it make the caller answer (a
	// publisher's refusals, which `client topology import` reads until the
	// close). The answer waits for them: see stop.
	conn.SetCloseHandler(func(code int, _ string) error {
		q.mu.Lock()
		defer q.mu.Unlock()
		q.closeCode = code
		return nil
	})
	go func() {
		defer q.end()
		var frames frameReader
		for {
			data, err := frames.next(conn)
			if err != nil {
				return
			}
			if onFrame != nil {
				onFrame()
			}
			if !q.put(prep(data)) {
				return
			}
		}
	}()
	return q
}

// aheadQueue is readAhead's queue: the messages prepared, in order.
type aheadQueue struct {
	conn        *websocket.Conn
	closeCode   int // of the peer's close frame (0: none)
	mu          sync.Mutex
	ready, room sync.Cond
	items       []prepared
	spare       []prepared // the last batch taken, once given back
	waiting     bool       // the consumer waits for items
	ended       bool       // no more items will come
	stopped     bool       // the consumer is gone
}

func (q *aheadQueue) put(p prepared) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.items) >= readAheadMax && !q.stopped {
		q.room.Wait()
	}
	if q.stopped {
		return false
	}
	q.items = append(q.items, p)
	if q.waiting {
		q.ready.Signal()
	}
	return true
}

func (q *aheadQueue) end() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.ended = true
	q.ready.Signal()
}

// next returns the messages prepared since the last call, waiting for one
// if there is none; nil once the stream has ended. The batch is the
// caller's until it gives it back with recycle.
func (q *aheadQueue) next() []prepared {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.items) == 0 && !q.ended {
		q.waiting = true
		q.ready.Wait()
		q.waiting = false
	}
	if len(q.items) == 0 {
		return nil
	}
	batch := q.items
	q.items, q.spare = q.spare, nil
	q.room.Signal()
	return batch
}

// recycle gives a batch back once applied, for its storage to be reused.
func (q *aheadQueue) recycle(batch []prepared) {
	clear(batch)
	q.mu.Lock()
	defer q.mu.Unlock()
	q.spare = batch[:0]
}

// stop tells the reading goroutine that the consumer is gone, and answers
// the peer's close frame, if it sent one, as gorilla would have: after
// what the caller wrote for the frames before it.
func (q *aheadQueue) stop() {
	q.mu.Lock()
	q.stopped = true
	q.room.Signal()
	code := q.closeCode
	q.mu.Unlock()
	if code == 0 {
		return
	}
	var msg []byte
	if code != websocket.CloseNoStatusReceived {
		msg = websocket.FormatCloseMessage(code, "")
	}
	_ = q.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
}

// prepareAny is prepare for a source whose frames may be of any namespace
// (agents): messages of other namespaces are passed on with their Obj
// copied, the frame's buffer being reused for the next frame.
func prepareAny(origin string, data []byte, validate bool, edges *graph.EdgeDecoder) prepared {
	msg, err := decodeMessage(data)
	if err != nil {
		return prepared{err: err}
	}
	if msg.Namespace != v1.NamespaceGraph {
		msg.Obj = bytes.Clone(msg.Obj)
		return prepared{msg: msg}
	}
	return prepareDecoded(origin, msg, validate, edges)
}
