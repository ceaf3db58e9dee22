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
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"

	"github.com/realtime-circles/realtime-circles/server/internal/board"
)

// Limits.
const (
	// MaxFrame is the largest message accepted: {x, y} needs ~30 bytes.
	MaxFrame  = 512
	writeWait = 5 * time.Second
)

// Options bound what one connection or one address can cost; zero
// fields take the defaults.
type Options struct {
	// Rate and Burst are messages per second a connection may send (a
	// pointer moving sends ~30-60); over them it is closed with 1008.
	Rate  float64
	Burst int
	// MaxPerIP is open /ws connections per client address (0: no limit);
	// TrustProxy counts the address a proxy appends to X-Forwarded-For.
	MaxPerIP   int
	TrustProxy bool
	// QueueLen is how many messages may wait for one client: a client
	// that falls that far behind is dropped (1008) rather than holding
	// up memory for everyone else.
	QueueLen int
	// PingInterval is how often the server pings; a connection that sends
	// nothing, not even a pong, for two intervals is closed.
	PingInterval time.Duration
}

// Defaults.
const (
	DefaultRate         = 60
	DefaultQueueLen     = 256
	DefaultPingInterval = 25 * time.Second
)

func (o Options) withDefaults() Options {
	if o.Rate <= 0 {
		o.Rate = DefaultRate
	}
	if o.Burst <= 0 {
		o.Burst = int(2 * o.Rate)
	}
	if o.QueueLen <= 0 {
		o.QueueLen = DefaultQueueLen
	}
	if o.PingInterval <= 0 {
		o.PingInterval = DefaultPingInterval
	}
	return o
}

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
	opts     Options
	upgrader websocket.Upgrader

	mu      sync.Mutex
	clients map[*client]struct{}
	perIP   map[string]int
	closed  bool
	wg      sync.WaitGroup
}

type client struct {
	conn  *websocket.Conn // nil until the upgrade is done (set under mu)
	id    string
	ip    string
	hue   int
	send  chan []byte
	close chan closeReason // the reason the reader closes with, at most one
	slow  bool             // dropped for not reading: no close handshake
}

type closeReason struct {
	code int
	text string
}

// New returns a hub. Origin checking is gorilla's default: same host only.
func New(log *slog.Logger, opts Options) *Hub {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Hub{log: log, opts: opts.withDefaults(), clients: make(map[*client]struct{}), perIP: map[string]int{}}
}

// clientIP is the address the per-address cap counts: behind a trusted
// proxy the last X-Forwarded-For entry (the one the proxy appended).
func (h *Hub) clientIP(r *http.Request) string {
	if h.opts.TrustProxy {
		if hops := r.Header.Values("X-Forwarded-For"); len(hops) > 0 {
			list := strings.Split(hops[len(hops)-1], ",")
			if last := strings.TrimSpace(list[len(list)-1]); last != "" {
				return last
			}
		}
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

// ServeHTTP upgrades the request and serves the connection.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ip := h.clientIP(r)
	h.mu.Lock()
	full := h.opts.MaxPerIP > 0 && h.perIP[ip] >= h.opts.MaxPerIP
	if !full {
		h.perIP[ip]++ // held from here: concurrent upgrades count
	}
	h.mu.Unlock()
	if full {
		h.log.Warn("ws demo: too many connections", "remote", ip, "max", h.opts.MaxPerIP)
		http.Error(w, "too many connections from your address", http.StatusTooManyRequests)
		return
	}
	id, err := uuid()
	if err != nil {
		h.release(ip)
		h.log.Error("ws demo: making an id", "err", err)
		http.Error(w, "server error", http.StatusInternalServerError)
		return
	}
	// Registered before the upgrade answers, so a message another client
	// sends the moment this one is told it is connected is queued for it.
	c := &client{id: id, ip: ip, hue: hueOf(id), send: make(chan []byte, h.opts.QueueLen), close: make(chan closeReason, 1)}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		h.release(ip)
		http.Error(w, "server shutting down", http.StatusServiceUnavailable)
		return
	}
	h.clients[c] = struct{}{} // from here drop releases the address's slot
	h.mu.Unlock()
	conn, err := h.upgrader.Upgrade(w, r, nil)
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, live := h.clients[c]; err != nil || !live {
		h.drop(c, closeReason{websocket.CloseNormalClosure, ""})
		if conn != nil {
			_ = conn.Close() // dropped while upgrading: slow, or the hub closed
		}
		return // on an error the upgrader answered with an HTTP error
	}
	c.conn = conn
	h.wg.Add(2)
	go h.write(c)
	go h.read(c)
}

func (h *Hub) release(ip string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.perIP[ip]--; h.perIP[ip] <= 0 {
		delete(h.perIP, ip)
	}
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
	if h.perIP[c.ip]--; h.perIP[c.ip] <= 0 {
		delete(h.perIP, c.ip)
	}
	c.close <- why
	close(c.send)
}

func (h *Hub) read(c *client) {
	defer h.wg.Done()
	// Two ping intervals without a message or a pong: the peer is gone
	// (or never reads), and its connection goes.
	wait := 2 * h.opts.PingInterval
	_ = c.conn.SetReadDeadline(time.Now().Add(wait))
	c.conn.SetPongHandler(func(string) error { return c.conn.SetReadDeadline(time.Now().Add(wait)) })
	lim := rate.NewLimiter(rate.Limit(h.opts.Rate), h.opts.Burst)
	for {
		_, r, err := c.conn.NextReader()
		if err == nil {
			_ = c.conn.SetReadDeadline(time.Now().Add(wait))
			if !lim.Allow() {
				h.log.Warn("ws demo: closing a flooding connection", "sender", c.id, "remote", c.ip, "rate", h.opts.Rate)
				h.mu.Lock()
				h.drop(c, closeReason{websocket.ClosePolicyViolation, fmt.Sprintf("too many messages: at most %g per second", h.opts.Rate)})
				h.mu.Unlock()
				return
			}
		}
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

// broadcast queues b for every client; a client whose queue is full is
// dropped: it is not reading, and waiting for it would hold memory.
func (h *Hub) broadcast(b []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.clients {
		select {
		case c.send <- b:
		default:
			h.log.Warn("ws demo: dropping a slow client", "sender", c.id, "remote", c.ip, "queued", h.opts.QueueLen)
			c.slow = true
			h.drop(c, closeReason{websocket.ClosePolicyViolation, "too slow: messages were not read"})
			// Its writer may be blocked writing to a peer that does
			// not read: closing the connection unblocks it.
			if c.conn != nil {
				_ = c.conn.NetConn().Close()
			}
		}
	}
}

func (h *Hub) write(c *client) {
	defer h.wg.Done()
	defer c.conn.Close()
	ping := time.NewTicker(h.opts.PingInterval)
	defer ping.Stop()
	for {
		var b []byte
		var open bool
		select {
		case b, open = <-c.send:
		case <-ping.C:
			if err := c.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeWait)); err != nil {
				_ = c.conn.Close() // unblock the reader; it drops the client
			}
			continue
		}
		if !open {
			break
		}
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
	if c.slow {
		return
	}
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
