package engineio

import (
	"errors"
	"net"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/zishang520/socket.io/servers/engine/v3/transports"
)

// wsTransport is the WebSocket transport. Reading runs in one goroutine
// per connection, the only one an idle connection has. Writing is ours, not gorilla's: frames are
// built once (a broadcast's frame is shared by every recipient) and a
// writer goroutine, started only while something is queued, writes all
// that is queued with one writev. gorilla only reads, and answers the
// client's pings and close frames, each in one write of its own, which
// the connection keeps whole.
type wsTransport struct {
	transports.Transport // the library's base: what is not ours

	sock *Socket
	ws   *websocket.Conn
	conn net.Conn

	// Under sock.mu:
	writing bool     // a writer goroutine is running
	ctl     [][]byte // control frames and the probe's pong, after the data
	closing bool     // a close frame is queued: close after writing it
	done    bool     // the connection is closed
}

// writeTimeout bounds one write: a peer that reads nothing for this long
// is gone. closeWait bounds writing the close frame.
const (
	writeTimeout = 10 * time.Second
	closeWait    = time.Second
)

func newWSTransport(sock *Socket, ws *websocket.Conn) *wsTransport {
	t := &wsTransport{Transport: transports.MakeTransport(), sock: sock, ws: ws, conn: ws.NetConn()}
	t.Transport.SetSid(sock.id)
	return t
}

func (t *wsTransport) Name() string          { return transports.WEBSOCKET }
func (t *wsTransport) HandlesUpgrades() bool { return true }
func (t *wsTransport) Protocol() int         { return t.sock.protocol }
func (t *wsTransport) Sid() string           { return t.sock.id }

// Writable reports an idle writer and nothing queued.
func (t *wsTransport) Writable() bool {
	s := t.sock
	s.mu.Lock()
	defer s.mu.Unlock()
	return !t.writing && !t.done && len(s.out) == 0
}

// ReadyState is open until the close frame is queued.
func (t *wsTransport) ReadyState() string {
	s := t.sock
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case t.done:
		return "closed"
	case t.closing:
		return "closing"
	}
	return "open"
}

// kick starts the writer if it is not running (sock.mu held).
func (t *wsTransport) kick() {
	if t.writing || t.done {
		return
	}
	t.writing = true
	go t.writeLoop()
}

// sendControl queues a frame to go after the queued data (sock.mu held).
func (t *wsTransport) sendControl(frame []byte) {
	if t.closing || t.done {
		return
	}
	t.ctl = append(t.ctl, frame)
	t.kick()
}

// close queues a close frame after what is queued; the writer closes the
// connection once it is written (sock.mu held).
func (t *wsTransport) close(bool) bool {
	t.closeWith(websocket.CloseNormalClosure, "")
	return true
}

func (t *wsTransport) closeWith(code int, reason string) {
	if t.closing || t.done {
		return
	}
	t.ctl = append(t.ctl, appendCloseFrame(nil, code, reason))
	t.closing = true
	t.kick()
}

// bufs pools the scratch space of the writer's own frames.
var scratchPool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// writeLoop writes until nothing is queued, then ends.
func (t *wsTransport) writeLoop() {
	s := t.sock
	scratch := scratchPool.Get().(*[]byte)
	defer scratchPool.Put(scratch)
	var bufs net.Buffers
	var ends []int
	lastDeadline := time.Time{}
	for {
		s.mu.Lock()
		var batch []packet
		if s.transport == t {
			batch = s.take()
		}
		ctl := t.ctl
		t.ctl = nil
		closeAfter := t.closing
		if len(batch) == 0 && len(ctl) == 0 {
			t.writing = false
			if closeAfter && !t.done {
				t.done = true
				s.mu.Unlock()
				_ = t.conn.Close()
				return
			}
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()

		// Frames of our own go in scratch first (appending may move it),
		// then bufs points at scratch's pieces and the shared frames in
		// their order.
		b := (*scratch)[:0]
		ends = ends[:0]
		for _, p := range batch {
			if p.msg == nil {
				b = t.appendPacket(b, p)
			}
			ends = append(ends, len(b))
		}
		bufs = bufs[:0]
		start := 0
		for i, p := range batch {
			if p.msg != nil {
				bufs = append(bufs, p.msg.wsFrame())
				continue
			}
			bufs = append(bufs, b[start:ends[i]])
			start = ends[i]
		}
		bufs = append(bufs, ctl...)
		*scratch = b
		s.recycle(batch)

		now := time.Now()
		if closeAfter {
			_ = t.conn.SetWriteDeadline(now.Add(closeWait))
			lastDeadline = time.Time{}
		} else if now.Sub(lastDeadline) > time.Second {
			// Moving the deadline is cheap, not free: once a second.
			_ = t.conn.SetWriteDeadline(now.Add(writeTimeout))
			lastDeadline = now
		}
		if _, err := bufs.WriteTo(t.conn); err != nil {
			s.mu.Lock()
			t.writing, t.done = false, true
			s.mu.Unlock()
			_ = t.conn.Close()
			s.onTransportError(t, err)
			return
		}
	}
}

// appendPacket appends p's frame: text packets are a text frame of the
// type digit and data; a binary message is a binary frame, prefixed with
// its type byte in v3.
func (t *wsTransport) appendPacket(b []byte, p packet) []byte {
	if p.bin != nil {
		if t.sock.protocol == 3 {
			return appendFrame(b, opBinary, typeMessage-'0', "", p.bin)
		}
		return appendFrame(b, opBinary, 0, "", p.bin)
	}
	return appendFrame(b, opText, p.typ, p.text, nil)
}

// readLoop reads frames until the connection ends.
func (t *wsTransport) readLoop() {
	s := t.sock
	for {
		kind, data, err := t.ws.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			s.mu.Lock()
			wasClosing := t.closing || t.done
			s.mu.Unlock()
			switch {
			case wasClosing:
				s.onTransportClose(t)
			case errors.As(err, &ce) && (ce.Code == websocket.CloseNormalClosure || ce.Code == websocket.CloseGoingAway):
				s.onTransportClose(t)
			default:
				s.onTransportError(t, err)
			}
			s.mu.Lock()
			t.done = true
			writing := t.writing
			s.mu.Unlock()
			if !writing {
				_ = t.conn.Close()
			}
			return
		}
		var p packet
		if kind == websocket.BinaryMessage {
			if s.protocol == 3 {
				if len(data) == 0 || data[0] != typeMessage-'0' {
					t.protocolError("binary frame without a message type")
					return
				}
				data = data[1:]
			}
			p = packet{typ: typeMessage, bin: data}
		} else if p, err = decodeText(string(data), s.protocol); err != nil {
			t.protocolError(err.Error())
			return
		}
		s.onPacket(t, p)
	}
}

// protocolError closes the connection with a close frame saying why, as
// Node does, and the session with it.
func (t *wsTransport) protocolError(reason string) {
	s := t.sock
	s.mu.Lock()
	t.closeWith(websocket.CloseProtocolError, reason)
	s.mu.Unlock()
	s.onParseError(t, errors.New(reason))
	// Wait for the writer to send the close frame and close.
	_ = t.conn.SetReadDeadline(time.Now().Add(closeWait))
	for {
		if _, _, err := t.ws.NextReader(); err != nil {
			break
		}
	}
}
