package engineio

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	enginepacket "github.com/zishang520/socket.io/parsers/engine/v3/packet"
	"github.com/zishang520/socket.io/servers/engine/v3"
	"github.com/zishang520/socket.io/servers/engine/v3/transports"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// Socket states, as Node's engine.io names them (the Socket.IO layer
// compares ReadyState with "open").
const (
	stateOpening = "opening"
	stateOpen    = "open"
	stateClosing = "closing"
	stateClosed  = "closed"
)

// transport is what a Socket writes through: polling or WebSocket.
type transport interface {
	transports.Transport
	// kick tells the transport that the socket has packets queued
	// (s.mu held): write them now, or when a poll comes.
	kick()
	// close ends the transport (s.mu held): a waiting poll gets the close
	// packet, a WebSocket its close frame after what is queued. It
	// reports whether the transport is closed now; if not, the socket
	// closes when the client collects the close packet (a polling client
	// between two polls).
	close(discard bool) bool
}

// Socket is one Engine.IO session: Node's engine.io socket.ts state
// machine (open, heartbeats, upgrade, close) over one transport at a time.
// It implements the library's engine.Socket, which is what its Socket.IO
// layer reads and writes.
type Socket struct {
	types.EventEmitter

	srv      *Server
	id       string
	protocol int
	req      *types.HttpContext // a trimmed copy of the first request
	remote   string

	state atomic.Pointer[string]

	mu        sync.Mutex
	transport transport
	probe     *wsTransport // a WebSocket being upgraded to; nil otherwise
	probed    bool         // the probe answered: release polls at once
	upgraded  bool
	dropped   bool     // over MaxQueue: closing, nothing more is queued
	out       []packet // waiting for the transport
	spare     []packet // out's previous array, for reuse

	hbTimer    *time.Timer
	hbGen      uint64 // invalidates a timer that fired late
	awaitPong  bool
	closeTimer *time.Timer // a polling close waiting for the next poll
	upTimer    *time.Timer // upgrade timeout
}

var _ engine.Socket = (*Socket)(nil)

func newSocket(srv *Server, id string, protocol int, req *types.HttpContext, remote string) *Socket {
	s := &Socket{EventEmitter: types.NewEventEmitter(), srv: srv, id: id, protocol: protocol, req: req, remote: remote}
	st := stateOpening
	s.state.Store(&st)
	return s
}

// Id is the session id.
func (s *Socket) Id() string { return s.id }

// Protocol is the Engine.IO revision, 3 or 4.
func (s *Socket) Protocol() int { return s.protocol }

// Request is a copy of the handshake request: method, URL, headers, remote
// address, TLS state.
func (s *Socket) Request() *types.HttpContext { return s.req }

// RemoteAddress is the handshake's peer address.
func (s *Socket) RemoteAddress() string { return s.remote }

// ReadyState is opening, open, closing or closed.
func (s *Socket) ReadyState() string { return *s.state.Load() }

// SetReadyState is part of engine.Socket; the state is the socket's own.
func (s *Socket) SetReadyState(st string) { s.state.Store(&st) }

// Transport is the current transport.
func (s *Socket) Transport() transports.Transport {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.transport
}

// Upgraded reports whether the session moved to WebSocket.
func (s *Socket) Upgraded() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.upgraded
}

// Upgrading reports whether a WebSocket probe is in progress.
func (s *Socket) Upgrading() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.probe != nil
}

// Construct is part of engine.Socket; Sockets are made by the Server.
func (s *Socket) Construct(string, engine.BaseServer, transports.Transport, *types.HttpContext, int) {
	panic("engineio: sockets are created by the server")
}

// MaybeUpgrade is part of engine.Socket; upgrades start from the Server.
func (s *Socket) MaybeUpgrade(t transports.Transport) {
	if ws, ok := t.(*wsTransport); ok {
		s.maybeUpgrade(ws)
	}
}

// Send queues a message; see Write.
func (s *Socket) Send(data io.Reader, opts *enginepacket.Options, cb engine.SendCallback) engine.Socket {
	return s.Write(data, opts, cb)
}

// Write queues a message: a text one for a *types.StringBuffer or
// *strings.Reader (what the Socket.IO encoder makes), a binary one for any
// other reader. Compress(false) in opts keeps it out of compressed
// polling payloads. The callback is not supported: nothing in the
// Socket.IO layer passes one.
func (s *Socket) Write(data io.Reader, opts *enginepacket.Options, _ engine.SendCallback) engine.Socket {
	p := packet{typ: typeMessage}
	if opts != nil && opts.Compress != nil {
		p.plain = !*opts.Compress
	}
	switch d := data.(type) {
	case *types.StringBuffer:
		p.text = d.String()
	case *strings.Reader:
		b, _ := io.ReadAll(d)
		p.text = string(b)
	case interface{ Bytes() []byte }:
		p.bin = d.Bytes()
		if p.bin == nil {
			p.bin = []byte{}
		}
	default:
		b, _ := io.ReadAll(d)
		p.bin = b
	}
	if p.bin == nil && s.srv.opts.OnWrite != nil {
		s.srv.opts.OnWrite(s, p.text)
	}
	s.send(p)
	return s
}

// SendMessage queues a shared broadcast message. It reports false when the
// socket is closing or closed.
func (s *Socket) SendMessage(m *Message) bool { return s.send(packet{typ: typeMessage, msg: m}) }

// Writable reports whether a message would go out at once (nothing queued,
// the transport ready): volatile messages are dropped otherwise.
func (s *Socket) Writable() bool {
	s.mu.Lock()
	t := s.transport
	s.mu.Unlock()
	return t != nil && t.Writable()
}

// send queues p and tells the transport. A socket whose queue passes
// MaxQueue is a client that stopped reading: it is dropped.
func (s *Socket) send(p packet) bool {
	s.mu.Lock()
	if st := s.ReadyState(); st != stateOpen && st != stateOpening || s.dropped {
		s.mu.Unlock()
		return false
	}
	s.out = append(s.out, p)
	if len(s.out) > s.srv.opts.MaxQueue {
		s.dropped = true
		s.mu.Unlock()
		s.srv.log.Warn("dropping slow client", "sid", s.id, "queued", s.srv.opts.MaxQueue)
		// Not inline: send runs inside broadcasts, whose callers hold
		// locks that the close listeners take.
		go s.onClose("transport error", fmt.Errorf("slow client: over %d packets queued", s.srv.opts.MaxQueue))
		return false
	}
	s.transport.kick()
	s.mu.Unlock()
	return true
}

// take hands the transport everything queued (s.mu held).
func (s *Socket) take() []packet {
	out := s.out
	s.out = s.spare
	s.spare = nil
	return out
}

// recycle gives back a batch's array once written (s.mu not held).
func (s *Socket) recycle(batch []packet) {
	if cap(batch) > 256 {
		return // a backlog's array: let it go
	}
	clear(batch)
	s.mu.Lock()
	if s.spare == nil {
		s.spare = batch[:0]
	}
	s.mu.Unlock()
}

// open sends the handshake and starts the heartbeat (Node's onOpen).
func (s *Socket) open(t transport) {
	upgrades := []string{}
	if t.Name() == transports.POLLING && s.srv.allows(transports.WEBSOCKET) {
		upgrades = []string{transports.WEBSOCKET}
	}
	handshake, _ := json.Marshal(map[string]any{
		"sid":          s.id,
		"upgrades":     upgrades,
		"pingInterval": s.srv.opts.PingInterval.Milliseconds(),
		"pingTimeout":  s.srv.opts.PingTimeout.Milliseconds(),
		"maxPayload":   s.srv.opts.MaxPayload,
	})
	s.mu.Lock()
	s.transport = t
	st := stateOpen
	s.state.Store(&st)
	s.out = append(s.out, packet{typ: typeOpen, text: string(handshake)})
	s.startHeartbeat()
	s.mu.Unlock()
	s.Emit("open")
}

// Heartbeats. v4: the server pings every PingInterval and waits
// PingTimeout for the pong. v3: the client pings, and the session closes
// when no ping came for PingInterval+PingTimeout. One timer does both.
func (s *Socket) startHeartbeat() {
	if s.protocol == 3 {
		s.armHeartbeat(s.srv.opts.PingInterval + s.srv.opts.PingTimeout)
	} else {
		s.armHeartbeat(s.srv.opts.PingInterval)
	}
}

// armHeartbeat (re)starts the timer (s.mu held).
func (s *Socket) armHeartbeat(d time.Duration) {
	s.hbGen++
	gen := s.hbGen
	if s.hbTimer != nil {
		s.hbTimer.Stop()
	}
	s.hbTimer = time.AfterFunc(d, func() { s.onHeartbeat(gen) })
}

func (s *Socket) onHeartbeat(gen uint64) {
	s.mu.Lock()
	if gen != s.hbGen || s.ReadyState() != stateOpen {
		s.mu.Unlock()
		return
	}
	if s.protocol == 3 || s.awaitPong {
		s.mu.Unlock()
		s.onClose("ping timeout", nil)
		return
	}
	s.awaitPong = true
	s.armHeartbeat(s.srv.opts.PingTimeout)
	s.mu.Unlock()
	s.send(packet{typ: typePing})
}

// onPacket handles a packet that arrived on t.
func (s *Socket) onPacket(t transport, p packet) {
	if s.ReadyState() != stateOpen {
		return
	}
	s.mu.Lock()
	if ws, ok := t.(*wsTransport); ok && ws == s.probe {
		s.mu.Unlock()
		s.onProbePacket(ws, p)
		return
	}
	if t != s.transport {
		s.mu.Unlock()
		return // a discarded transport's late packet
	}
	switch p.typ {
	case typePing:
		if s.protocol != 3 {
			s.mu.Unlock()
			s.onClose("transport error", fmt.Errorf("%w: ping from a v4 client", errInvalidPacket))
			return
		}
		s.armHeartbeat(s.srv.opts.PingInterval + s.srv.opts.PingTimeout)
		s.mu.Unlock()
		s.send(packet{typ: typePong, text: p.text})
		s.Emit("heartbeat")
	case typePong:
		if s.protocol == 3 {
			s.mu.Unlock()
			s.onClose("transport error", fmt.Errorf("%w: pong from a v3 client", errInvalidPacket))
			return
		}
		if s.awaitPong {
			s.awaitPong = false
			s.armHeartbeat(s.srv.opts.PingInterval)
		}
		s.mu.Unlock()
		s.Emit("heartbeat")
	case typeMessage:
		s.mu.Unlock()
		s.emitMessage(p)
	case typeClose:
		s.mu.Unlock()
		s.onClose("transport close", nil)
	default: // open, upgrade, noop: nothing to do
		s.mu.Unlock()
	}
}

// emitMessage hands a message to the listeners: "packet" first (as the
// library's engine does: it lets a listener look before Socket.IO decodes),
// then "data" with a string (text) or a *types.BytesBuffer (binary).
func (s *Socket) emitMessage(p packet) {
	var data any = p.text
	if p.bin != nil {
		data = types.NewBytesBuffer(p.bin)
	}
	if s.ListenerCount("packet") > 0 {
		var r io.Reader = strings.NewReader(p.text)
		if p.bin != nil {
			r = types.NewBytesBuffer(p.bin)
		}
		s.Emit("packet", &enginepacket.Packet{Type: enginepacket.MESSAGE, Data: r})
	}
	s.Emit("data", data)
	s.Emit("message", data)
}

// Close closes the session (Node's socket.close): what is queued still
// goes out unless discard, then the close packet.
func (s *Socket) Close(discard bool) {
	s.mu.Lock()
	if s.ReadyState() != stateOpen {
		s.mu.Unlock()
		return
	}
	st := stateClosing
	s.state.Store(&st)
	if s.probe != nil {
		s.probe.close(true)
		s.probe = nil
	}
	closed := s.transport.close(discard)
	if !closed {
		// A polling client collects the close packet with its next poll;
		// one that never polls again is let go after closeTimeout.
		s.closeTimer = time.AfterFunc(closeTimeout, func() { s.onClose("forced close", nil) })
	}
	s.mu.Unlock()
	if closed {
		s.onClose("forced close", nil)
	}
}

// closeTimeout is how long a closing polling session waits for the poll
// that collects its close packet (Node: 30 s).
const closeTimeout = 30 * time.Second

// onClose ends the session once: timers stop, the transport is released
// (a waiting poll answered, a WebSocket closed after its close frame),
// and "close" is emitted with the reason.
func (s *Socket) onClose(reason string, desc error) {
	s.mu.Lock()
	if s.ReadyState() == stateClosed {
		s.mu.Unlock()
		return
	}
	st := stateClosed
	s.state.Store(&st)
	s.hbGen++
	for _, t := range []*time.Timer{s.hbTimer, s.closeTimer, s.upTimer} {
		if t != nil {
			t.Stop()
		}
	}
	if s.probe != nil {
		s.probe.close(true)
		s.probe = nil
	}
	// What is queued stays: a graceful close writes it before the close
	// packet (Node's close waits for the drain).
	if s.transport != nil {
		s.transport.close(false)
	}
	s.mu.Unlock()
	s.srv.remove(s)
	if desc != nil {
		s.srv.log.Debug("engine.io session closed", "sid", s.id, "reason", reason, "err", desc)
	}
	s.Emit("close", reason, desc)
}

// maybeUpgrade starts a WebSocket probe on a polling session (Node's
// socket._maybeUpgrade): the client sends "2probe" and gets "3probe", then
// "5" switches the session over; anything else, or UpgradeTimeout without
// it, abandons the probe.
func (s *Socket) maybeUpgrade(ws *wsTransport) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ReadyState() != stateOpen || s.probe != nil || s.upgraded {
		return false
	}
	s.probe = ws
	s.upTimer = time.AfterFunc(s.srv.opts.UpgradeTimeout, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.probe == ws {
			s.abandonProbeLocked()
		}
	})
	return true
}

func (s *Socket) abandonProbeLocked() {
	if s.upTimer != nil {
		s.upTimer.Stop()
	}
	s.probe.close(true)
	s.probe, s.probed = nil, false
}

func (s *Socket) onProbePacket(ws *wsTransport, p packet) {
	s.mu.Lock()
	if s.probe != ws {
		s.mu.Unlock()
		return
	}
	switch {
	case p.typ == typePing && p.text == "probe":
		ws.sendControl(appendFrame(nil, opText, typePong, "probe", nil))
		// Node polls every 100 ms until the client's poll is released;
		// here the waiting poll (and any that comes) is answered at once.
		s.probed = true
		s.transport.kick()
		s.mu.Unlock()
		s.Emit("upgrading", ws)
	case p.typ == typeUpgrade:
		s.upTimer.Stop()
		old := s.transport
		s.probe, s.probed, s.upgraded = nil, false, true
		s.transport = ws
		old.close(true)
		ws.kick() // what was queued for polling goes now
		closing := s.ReadyState() == stateClosing
		s.mu.Unlock()
		s.Emit("upgrade", ws)
		if closing {
			s.Close(true)
		}
	default:
		s.abandonProbeLocked()
		s.mu.Unlock()
	}
}

// onTransportError closes the session when its transport fails; a failed
// probe only ends the probe.
func (s *Socket) onTransportError(t transport, err error) {
	s.onTransportEnd(t, "transport error", err)
}

// onTransportClose closes the session when its transport closed cleanly.
func (s *Socket) onTransportClose(t transport) { s.onTransportEnd(t, "transport close", nil) }

// onTransportEnd closes the session with reason when t, its transport,
// ended; a probe's end only ends the probe, and a discarded transport's
// changes nothing.
func (s *Socket) onTransportEnd(t transport, reason string, err error) {
	s.mu.Lock()
	if ws, ok := t.(*wsTransport); ok && ws == s.probe {
		s.abandonProbeLocked()
		s.mu.Unlock()
		return
	}
	current := t == s.transport
	s.mu.Unlock()
	if current {
		s.onClose(reason, err)
	}
}

// onParseError closes the session when its transport got what is not
// Engine.IO, with Node's reason ("parse error"); a probe's only ends the
// probe.
func (s *Socket) onParseError(t transport, err error) {
	s.mu.Lock()
	current := t == s.transport
	s.mu.Unlock()
	if !current {
		s.onTransportError(t, err)
		return
	}
	s.onClose("parse error", err)
}
