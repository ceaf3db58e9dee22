// Package wsdemo is the seeds' plain-WebSocket cursor demo: each browser
// sends {x, y}; the server stamps the sender's id and colour and sends it
// to every connected client, the sender included.
package wsdemo

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/realtime-circles/realtime-circles/server/internal/board"
)

// Limits.
const (
	// MaxFrame is the largest message accepted: {x, y} needs ~30 bytes.
	MaxFrame = 512
	// QueueLen is how many messages wait for one slow client; beyond it
	// that client misses positions (the next one supersedes them) rather
	// than holding up everyone else.
	QueueLen  = 64
	writeWait = 5 * time.Second
)

// Message is what every client receives.
type Message struct {
	X      float64 `json:"x"`
	Y      float64 `json:"y"`
	Sender string  `json:"sender"` // a uuid per connection
	Color  int     `json:"color"`  // a hue, 0–359, per connection
}

// Hub is the /ws endpoint. The zero value is not usable; call New.
type Hub struct {
	log      *slog.Logger
	upgrader websocket.Upgrader

	mu      sync.Mutex
	clients map[*client]struct{}
	closed  bool
	wg      sync.WaitGroup
}

type client struct {
	conn  *websocket.Conn
	id    string
	hue   int
	send  chan []byte
	close chan closeReason // the reason the reader closes with, at most one
}

type closeReason struct {
	code int
	text string
}

// New returns a hub. Origin checking is gorilla's default: same host only.
func New(log *slog.Logger) *Hub {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Hub{log: log, clients: make(map[*client]struct{})}
}

// ServeHTTP upgrades the request and serves the connection.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	conn, err := h.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader answered with an HTTP error
	}
	id, err := uuid()
	if err != nil {
		_ = conn.Close()
		h.log.Error("ws demo: making an id", "err", err)
		return
	}
	c := &client{conn: conn, id: id, hue: hueOf(id), send: make(chan []byte, QueueLen), close: make(chan closeReason, 1)}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		_ = conn.Close()
		return
	}
	h.clients[c] = struct{}{}
	h.wg.Add(2)
	h.mu.Unlock()
	go h.write(c)
	go h.read(c)
}

// Close disconnects everyone and waits for their goroutines.
func (h *Hub) Close() {
	h.mu.Lock()
	h.closed = true
	for c := range h.clients {
		h.drop(c, closeReason{websocket.CloseGoingAway, "server shutting down"})
	}
	h.mu.Unlock()
	h.wg.Wait()
}

// drop removes c and lets its writer send the close frame. Caller holds mu.
func (h *Hub) drop(c *client, why closeReason) {
	if _, ok := h.clients[c]; !ok {
		return
	}
	delete(h.clients, c)
	c.close <- why
	close(c.send)
}

func (h *Hub) read(c *client) {
	defer h.wg.Done()
	for {
		_, r, err := c.conn.NextReader()
		if err != nil {
			h.mu.Lock()
			h.drop(c, closeReason{websocket.CloseNormalClosure, ""})
			h.mu.Unlock()
			return
		}
		msg, why := decode(r)
		if why != nil {
			h.log.Warn("ws demo: closing a connection", "sender", c.id, "reason", why.text)
			h.mu.Lock()
			h.drop(c, *why)
			h.mu.Unlock()
			return
		}
		msg.Sender, msg.Color = c.id, c.hue
		b, _ := json.Marshal(msg)
		h.broadcast(b)
	}
}

// decode reads one frame as {x, y}, refusing oversized or invalid ones.
func decode(r io.Reader) (Message, *closeReason) {
	b, err := io.ReadAll(io.LimitReader(r, MaxFrame+1))
	if err != nil {
		return Message{}, &closeReason{websocket.CloseProtocolError, "read error"}
	}
	if len(b) > MaxFrame {
		return Message{}, &closeReason{websocket.CloseMessageTooBig, fmt.Sprintf("message too big: at most %d bytes", MaxFrame)}
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		return Message{}, &closeReason{websocket.CloseUnsupportedData, "invalid JSON: want {\"x\": number, \"y\": number}"}
	}
	p, err := board.ParsePoint([]any{raw})
	if err != nil {
		return Message{}, &closeReason{websocket.CloseUnsupportedData, "want {\"x\": number, \"y\": number} within [0, 10000]"}
	}
	return Message{X: p.X, Y: p.Y}, nil
}

// broadcast queues b for every client; a client whose queue is full misses it.
func (h *Hub) broadcast(b []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.clients {
		select {
		case c.send <- b:
		default: // slow client: skip, the next position supersedes this one
		}
	}
}

func (h *Hub) write(c *client) {
	defer h.wg.Done()
	defer c.conn.Close()
	for b := range c.send {
		_ = c.conn.SetWriteDeadline(time.Now().Add(writeWait))
		if err := c.conn.WriteMessage(websocket.TextMessage, b); err != nil {
			// Unblock the reader; it drops the client.
			_ = c.conn.Close()
			for range c.send {
			}
			return
		}
	}
	why := <-c.close
	if why.code != websocket.CloseNormalClosure || why.text != "" {
		_ = c.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(why.code, why.text), time.Now().Add(writeWait))
	}
}

func uuid() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("reading random bytes: %w", err)
	}
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
}

func hueOf(id string) int {
	var h uint32 = 2166136261
	for i := 0; i < len(id); i++ {
		h = (h ^ uint32(id[i])) * 16777619
	}
	return int(h % 360)
}
