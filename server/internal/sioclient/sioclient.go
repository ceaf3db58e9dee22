// Package sioclient is a small, real Socket.IO protocol client (Engine.IO
// v4 and v3, over WebSocket or long-polling, with the polling→WebSocket
// upgrade) for tests and the load generator. It speaks the wire protocol
// itself so tests see exactly what the server sends.
package sioclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Transport names the Engine.IO transport a client uses.
type Transport string

const (
	WebSocket Transport = "websocket"
	Polling   Transport = "polling"
	// Upgrade starts on polling and upgrades to WebSocket, as the stock
	// browser client does by default.
	Upgrade Transport = "upgrade"
)

// Options for Dial. The zero value dials Engine.IO v4 over WebSocket.
type Options struct {
	Transport Transport
	EIO       int            // 4 (default) or 3 (socket.io-client 2.x)
	Auth      map[string]any // CONNECT payload (EIO 4 only)
	Query     url.Values     // extra handshake query parameters
	Header    http.Header    // extra handshake headers (Origin, Cookie, ...)
	// OnEvent, when set, receives every event instead of the per-event
	// queues (the load generator uses it to avoid buffering). It runs on
	// the read goroutine: keep it quick.
	OnEvent func(name string, args []json.RawMessage)
	// OnRawEvent, when set, receives each EVENT packet without an ack id
	// as its undecoded JSON array (`["name",arg,...]`), skipping all JSON
	// decoding (WebSocket only). The slice is reused after the call
	// returns. It runs on the read goroutine: keep it quick.
	OnRawEvent func(array []byte)
}

// Event is one received event.
type Event struct {
	Name string
	Args []json.RawMessage
	// Offset is the connection-state-recovery offset the server appended
	// as the last argument (removed from Args), when recovery is on.
	Offset string
}

// Decode unmarshals argument i into v.
func (e Event) Decode(i int, v any) error {
	if i >= len(e.Args) {
		return fmt.Errorf("event %s has %d args, want index %d", e.Name, len(e.Args), i)
	}
	return json.Unmarshal(e.Args[i], v)
}

// Client is one Socket.IO connection to the default namespace.
type Client struct {
	ID  string // the Socket.IO socket id from the CONNECT reply
	SID string // the Engine.IO session id
	// PID is the private session id of connection state recovery, from
	// the CONNECT reply ("" when the server has recovery off).
	PID string
	// Recovered is true when the server restored the session named by
	// Options.Auth's pid (same socket id, missed events replayed).
	Recovered bool

	opts     Options
	base     url.URL // http://host/socket.io/
	http     *http.Client
	pingIntv time.Duration

	writeMu sync.Mutex
	ws      *websocket.Conn // nil while polling

	frozen atomic.Bool // Freeze: no more pongs, pings or polls

	mu        sync.Mutex
	queues    map[string][]Event
	notify    chan struct{} // closed and replaced whenever an event arrives
	acks      map[uint64]chan []json.RawMessage
	nextAck   uint64
	connect   chan error // CONNECT reply
	early     []Event    // events before the CONNECT reply (replayed missed events)
	connected bool
	offset    string // last recovery offset received
	err       error  // why the connection ended
	done      chan struct{}
	stopPoll  chan struct{} // closed to stop the polling loop (upgrade)
	pollDone  chan struct{}
	// abortPoll cancels the poll loop's request in flight (Drop), as a
	// closed tab aborts its long-poll.
	pollCtx   context.Context
	abortPoll context.CancelFunc
	pollSent  time.Time // when the poll loop's request in flight was sent (mu)
}

// PollHeld reports how long the poll loop's GET has been in flight (0 when
// none is): a long one is held by the server, waiting for something to send.
func (c *Client) PollHeld() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pollSent.IsZero() {
		return 0
	}
	return time.Since(c.pollSent)
}

// ErrClosed is returned for operations on a closed client.
var ErrClosed = errors.New("sioclient: connection closed")

// Dial connects to the Socket.IO server at rawURL (http://host:port),
// completes the namespace CONNECT and returns the connected client.
func Dial(ctx context.Context, rawURL string, opts Options) (*Client, error) {
	if opts.EIO == 0 {
		opts.EIO = 4
	}
	if opts.Transport == "" {
		opts.Transport = WebSocket
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("parsing %q: %w", rawURL, err)
	}
	u.Path = "/socket.io/"
	c := &Client{
		opts:     opts,
		base:     *u,
		http:     &http.Client{Timeout: 60 * time.Second},
		queues:   map[string][]Event{},
		notify:   make(chan struct{}),
		acks:     map[uint64]chan []json.RawMessage{},
		connect:  make(chan error, 1),
		done:     make(chan struct{}),
		stopPoll: make(chan struct{}),
		pollDone: make(chan struct{}),
	}
	c.pollCtx, c.abortPoll = context.WithCancel(context.Background())
	if opts.Transport == WebSocket {
		err = c.openWebSocket(ctx)
	} else {
		err = c.openPolling(ctx)
	}
	if err != nil {
		return nil, err
	}
	if opts.EIO == 4 {
		auth := ""
		if opts.Auth != nil {
			b, _ := json.Marshal(opts.Auth)
			auth = string(b)
		}
		if err := c.send("0" + auth); err != nil {
			c.Close()
			return nil, err
		}
	}
	if opts.Transport == Upgrade {
		if err := c.upgrade(ctx); err != nil {
			c.Close()
			return nil, fmt.Errorf("upgrading session %s to websocket: %w", c.SID, err)
		}
	}
	select {
	case err := <-c.connect:
		if err != nil {
			c.Close()
			return nil, err
		}
		return c, nil
	case <-c.done:
		return nil, fmt.Errorf("session %s: waiting for CONNECT reply: %w", c.SID, c.Err())
	case <-ctx.Done():
		c.Close()
		return nil, fmt.Errorf("session %s: waiting for CONNECT reply: %w", c.SID, ctx.Err())
	}
}

func (c *Client) query(transport string) string {
	q := url.Values{}
	for k, v := range c.opts.Query {
		q[k] = v
	}
	q.Set("EIO", strconv.Itoa(c.opts.EIO))
	q.Set("transport", transport)
	if c.SID != "" {
		q.Set("sid", c.SID)
	}
	return q.Encode()
}

// handshake reads the Engine.IO open packet.
func (c *Client) handshake(pkt string) error {
	if !strings.HasPrefix(pkt, "0") {
		return fmt.Errorf("want an open packet, got %.40q", pkt)
	}
	var open struct {
		SID          string `json:"sid"`
		PingInterval int    `json:"pingInterval"`
	}
	if err := json.Unmarshal([]byte(pkt[1:]), &open); err != nil {
		return fmt.Errorf("decoding open packet: %w", err)
	}
	c.SID = open.SID
	c.pingIntv = time.Duration(open.PingInterval) * time.Millisecond
	return nil
}

func (c *Client) openWebSocket(ctx context.Context) error {
	ws, err := c.dialWebSocket(ctx)
	if err != nil {
		return err
	}
	_, msg, err := ws.ReadMessage()
	if err != nil {
		ws.Close()
		return fmt.Errorf("reading open packet: %w", err)
	}
	if err := c.handshake(string(msg)); err != nil {
		ws.Close()
		return err
	}
	c.ws = ws
	close(c.pollDone)
	go c.readWebSocket()
	c.startHeartbeat()
	return nil
}

func (c *Client) dialWebSocket(ctx context.Context) (*websocket.Conn, error) {
	u := c.base
	u.Scheme = strings.Replace(u.Scheme, "http", "ws", 1)
	u.RawQuery = c.query("websocket")
	d := websocket.Dialer{HandshakeTimeout: 30 * time.Second}
	ws, resp, err := d.DialContext(ctx, u.String(), c.opts.Header)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("dialing websocket: %w (HTTP %d)", err, resp.StatusCode)
		}
		return nil, fmt.Errorf("dialing websocket: %w", err)
	}
	return ws, nil
}

// startHeartbeat sends pings for Engine.IO v3, where the client pings.
func (c *Client) startHeartbeat() {
	if c.opts.EIO != 3 || c.pingIntv <= 0 {
		return
	}
	go func() {
		t := time.NewTicker(c.pingIntv)
		defer t.Stop()
		for {
			select {
			case <-c.done:
				return
			case <-t.C:
				if !c.frozen.Load() {
					_ = c.sendEngine("2")
				}
			}
		}
	}()
}

func (c *Client) readWebSocket() {
	if c.opts.OnRawEvent != nil {
		c.readWebSocketRaw()
		return
	}
	for {
		_, msg, err := c.ws.ReadMessage()
		if err != nil {
			c.fail(fmt.Errorf("websocket read: %w", err))
			return
		}
		c.onEngine(string(msg))
	}
}

// readWebSocketRaw reads into one reused buffer and hands plain events to
// OnRawEvent: the load generator receives up to millions of messages a
// second, and a string per message would cost more than the server's work.
func (c *Client) readWebSocketRaw() {
	var buf bytes.Buffer
	for {
		_, r, err := c.ws.NextReader()
		if err != nil {
			c.fail(fmt.Errorf("websocket read: %w", err))
			return
		}
		buf.Reset()
		if _, err := buf.ReadFrom(r); err != nil {
			c.fail(fmt.Errorf("websocket read: %w", err))
			return
		}
		b := buf.Bytes()
		if len(b) > 2 && b[0] == '4' && b[1] == '2' && b[2] == '[' {
			c.opts.OnRawEvent(b[2:])
			continue
		}
		c.onEngine(string(b))
	}
}

// onEngine handles one Engine.IO packet.
func (c *Client) onEngine(pkt string) {
	if pkt == "" {
		return
	}
	switch pkt[0] {
	case '2': // ping (EIO 4: the server pings)
		if c.opts.EIO == 4 && !c.frozen.Load() {
			_ = c.sendEngine("3" + pkt[1:])
		}
	case '1':
		c.fail(errors.New("server closed the session"))
	case '4':
		c.onSocketIO(pkt[1:])
	}
}

// onSocketIO handles one Socket.IO packet (the payload of an Engine.IO message).
func (c *Client) onSocketIO(p string) {
	if p == "" {
		return
	}
	typ, rest := p[0], p[1:]
	// A namespace other than "/" would be "/nsp,"; we only use the default.
	switch typ {
	case '0': // CONNECT
		var reply struct {
			SID string `json:"sid"`
			PID string `json:"pid"`
		}
		if rest != "" {
			_ = json.Unmarshal([]byte(rest), &reply)
		}
		if reply.SID == "" { // EIO 3: the socket id is the engine id
			reply.SID = c.SID
		}
		c.ID = reply.SID
		c.mu.Lock()
		c.PID = reply.PID
		prev, _ := c.opts.Auth["pid"].(string)
		c.Recovered = reply.PID != "" && reply.PID == prev
		early := c.early
		c.early = nil
		c.connected = true
		c.mu.Unlock()
		// As the stock client does, events that arrived before the CONNECT
		// reply (a recovered session's missed events) are delivered now.
		for _, ev := range early {
			c.deliver(c.withOffset(ev))
		}
		select {
		case c.connect <- nil:
		default:
		}
	case '4': // CONNECT_ERROR
		select {
		case c.connect <- fmt.Errorf("connect error: %s", rest):
		default:
		}
	case '1': // DISCONNECT
		c.fail(errors.New("server disconnected the socket"))
	case '2': // EVENT
		id, body := cutID(rest)
		_ = id
		var arr []json.RawMessage
		if err := json.Unmarshal([]byte(body), &arr); err != nil || len(arr) == 0 {
			return
		}
		var name string
		if err := json.Unmarshal(arr[0], &name); err != nil {
			return
		}
		ev := Event{Name: name, Args: arr[1:]}
		c.mu.Lock()
		if !c.connected {
			c.early = append(c.early, ev)
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		c.deliver(c.withOffset(ev))
	case '3': // ACK
		id, body := cutID(rest)
		var arr []json.RawMessage
		_ = json.Unmarshal([]byte(body), &arr)
		n, err := strconv.ParseUint(id, 10, 64)
		if err != nil {
			return
		}
		c.mu.Lock()
		ch := c.acks[n]
		delete(c.acks, n)
		c.mu.Unlock()
		if ch != nil {
			ch <- arr
		}
	}
}

// withOffset moves the recovery offset out of an event's arguments. Like
// the stock client, it takes a trailing string argument as the offset
// when the server granted a pid; unlike it, it removes it, so tests see
// the arguments the server's code emitted.
func (c *Client) withOffset(ev Event) Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.PID == "" || len(ev.Args) == 0 {
		return ev
	}
	var off string
	if err := json.Unmarshal(ev.Args[len(ev.Args)-1], &off); err != nil {
		return ev
	}
	ev.Offset = off
	ev.Args = ev.Args[:len(ev.Args)-1]
	c.offset = off
	return ev
}

// RecoveryAuth is the CONNECT auth that asks the server to restore this
// session (pid and the last offset received), as the stock client sends
// on reconnection. Merge it into Options.Auth of the next Dial.
func (c *Client) RecoveryAuth() map[string]any {
	c.mu.Lock()
	defer c.mu.Unlock()
	return map[string]any{"pid": c.PID, "offset": c.offset}
}

func cutID(s string) (id, rest string) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return s[:i], s[i:]
}

func (c *Client) deliver(ev Event) {
	if c.opts.OnEvent != nil {
		c.opts.OnEvent(ev.Name, ev.Args)
		return
	}
	c.mu.Lock()
	c.queues[ev.Name] = append(c.queues[ev.Name], ev)
	close(c.notify)
	c.notify = make(chan struct{})
	c.mu.Unlock()
}

// Next waits for and removes the oldest unread event with this name.
func (c *Client) Next(ctx context.Context, name string) (Event, error) {
	for {
		c.mu.Lock()
		if q := c.queues[name]; len(q) > 0 {
			ev := q[0]
			c.queues[name] = q[1:]
			c.mu.Unlock()
			return ev, nil
		}
		notify := c.notify
		c.mu.Unlock()
		select {
		case <-notify:
		case <-c.done:
			return Event{}, fmt.Errorf("waiting for %q: %w", name, c.Err())
		case <-ctx.Done():
			return Event{}, fmt.Errorf("waiting for %q: %w", name, ctx.Err())
		}
	}
}

// Pending returns how many unread events with this name are queued.
func (c *Client) Pending(name string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.queues[name])
}

// Emit sends an event.
func (c *Client) Emit(event string, args ...any) error {
	b, err := json.Marshal(append([]any{event}, args...))
	if err != nil {
		return fmt.Errorf("encoding %s: %w", event, err)
	}
	return c.send("2" + string(b))
}

// EmitRaw sends a Socket.IO packet as given, e.g. `2["x"]` (for malformed-input tests).
func (c *Client) EmitRaw(packet string) error { return c.send(packet) }

// EmitWithAck sends an event asking for an ack and waits for it.
func (c *Client) EmitWithAck(ctx context.Context, event string, args ...any) ([]json.RawMessage, error) {
	b, err := json.Marshal(append([]any{event}, args...))
	if err != nil {
		return nil, fmt.Errorf("encoding %s: %w", event, err)
	}
	ch := make(chan []json.RawMessage, 1)
	c.mu.Lock()
	id := c.nextAck
	c.nextAck++
	c.acks[id] = ch
	c.mu.Unlock()
	if err := c.send("2" + strconv.FormatUint(id, 10) + string(b)); err != nil {
		return nil, err
	}
	select {
	case args := <-ch:
		return args, nil
	case <-c.done:
		// An ack read before the server's DISCONNECT is already in ch:
		// select picks among ready cases at random, so look again.
		select {
		case args := <-ch:
			return args, nil
		default:
		}
		return nil, fmt.Errorf("waiting for ack of %s: %w", event, c.Err())
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for ack of %s: %w", event, ctx.Err())
	}
}

// send writes a Socket.IO packet as an Engine.IO message.
func (c *Client) send(p string) error { return c.sendEngine("4" + p) }

func (c *Client) sendEngine(pkt string) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	select {
	case <-c.done:
		return ErrClosed
	default:
	}
	if c.ws != nil {
		if err := c.ws.WriteMessage(websocket.TextMessage, []byte(pkt)); err != nil {
			return fmt.Errorf("websocket write: %w", err)
		}
		return nil
	}
	return c.post(pkt)
}

// Done is closed when the connection ends.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err says why the connection ended (nil while open).
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *Client) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.done:
		return
	default:
	}
	c.err = err
	close(c.done)
}

// Close disconnects the socket and closes the transport.
func (c *Client) Close() {
	select {
	case <-c.done:
		return
	default:
	}
	_ = c.sendEngine("41")
	c.writeMu.Lock()
	ws := c.ws
	c.writeMu.Unlock()
	if ws == nil {
		// Over polling, end the Engine.IO session too, as socket.io-client
		// does; else the server keeps it until the ping timeout.
		_ = c.sendEngine("1")
	}
	c.fail(ErrClosed)
	if ws != nil {
		_ = ws.Close()
	}
}

// Freeze stops the client's side of the heartbeat (and polling) while its
// connection stays open, as a client whose machine went to sleep: the
// server closes the session after its ping timeout.
func (c *Client) Freeze() { c.frozen.Store(true) }

// CloseClean disconnects as socket.io-client does: DISCONNECT, then the
// transport's own goodbye (a WebSocket close frame, or the close packet
// over polling).
func (c *Client) CloseClean() {
	c.writeMu.Lock()
	ws := c.ws
	c.writeMu.Unlock()
	if ws == nil {
		c.Close()
		return
	}
	_ = c.sendEngine("41")
	c.writeMu.Lock()
	_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	c.writeMu.Unlock()
	c.fail(ErrClosed)
	_ = ws.Close()
}

// Drop closes the transport abruptly, without a DISCONNECT, as a network
// failure or a closed tab would: the WebSocket's connection, or the
// long-poll in flight.
func (c *Client) Drop() {
	c.writeMu.Lock()
	ws := c.ws
	c.writeMu.Unlock()
	c.fail(errors.New("dropped"))
	if ws != nil {
		_ = ws.UnderlyingConn().Close()
	}
	c.abortPoll()
}
