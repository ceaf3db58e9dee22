package engineio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/zishang520/socket.io/servers/engine/v3/transports"
)

// wsTransport is the WebSocket transport. Reading runs in one goroutine
// per connection, the only one an idle connection has (wsframe.go).
// Frames are built once (a broadcast's frame is shared by every
// recipient) and a writer goroutine, started only while something is
// queued, writes all that is queued with one writev.
type wsTransport struct {
	transports.Transport // the library's base: what is not ours

	sock *Socket
	conn net.Conn
	fr   frameReader

	raw syscall.RawConn // for writes that never wait; nil: not a socket

	rest net.Buffers // what a flusher could not write, for the writer goroutine

	// Under sock.mu:
	writing bool     // a flusher or the writer goroutine has the writes
	behind  bool     // the socket buffer was full: the writer goroutine has a backlog
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

func newWSTransport(sock *Socket, conn net.Conn, early []byte) *wsTransport {
	t := &wsTransport{Transport: transports.MakeTransport(), sock: sock, conn: conn}
	if sc, ok := conn.(syscall.Conn); ok {
		t.raw, _ = sc.SyscallConn()
	}
	t.fr = frameReader{src: conn, max: sock.srv.opts.MaxPayload}
	if len(early) > 0 {
		t.fr.src = io.MultiReader(bytes.NewReader(early), conn)
	}
	t.Transport.SetSid(sock.id)
	return t
}

func (t *wsTransport) Name() string          { return transports.WEBSOCKET }
func (t *wsTransport) HandlesUpgrades() bool { return true }
func (t *wsTransport) Protocol() int         { return t.sock.protocol }
func (t *wsTransport) Sid() string           { return t.sock.id }

// Writable reports whether a message would go out without waiting: the
// client is not behind (no backlog waiting on a full socket buffer) and
// only a few packets are queued for the next flush. The library drops
// volatile messages (cursors) when it is false; a packet queued a moment
// ago that a flusher is about to write does not make a client busy.
func (t *wsTransport) Writable() bool {
	s := t.sock
	s.mu.Lock()
	defer s.mu.Unlock()
	return !t.behind && !t.done && len(s.out) < writableQueue
}

// writableQueue is how many queued packets still count as writable.
const writableQueue = 16

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

// kick has the queued frames written (sock.mu held): by a flusher, or
// by a writer goroutine of the connection's own if no flusher can take it.
func (t *wsTransport) kick() {
	if t.writing || t.done {
		return
	}
	t.writing = true
	if t.raw == nil || !t.sock.srv.flushers.offer(t) {
		go t.writeLoop()
	}
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
	t.closeWith(closeNormal, "")
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

// scratchPool holds the writers' space for frames of their own.
var scratchPool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// collect takes what is queued and frames it: shared frames as they are,
// the writer's own into scratch. With nothing queued it releases the
// writes (closing the connection after a close frame) and reports false.
func (t *wsTransport) collect(bufs net.Buffers, scratch *[]byte) (net.Buffers, bool) {
	s := t.sock
	s.mu.Lock()
	var batch []packet
	if s.transport == t {
		batch = s.take()
	}
	ctl := t.ctl
	t.ctl = nil
	if len(batch) == 0 && len(ctl) == 0 {
		t.writing, t.behind = false, false
		closeNow := t.closing && !t.done
		t.done = t.done || closeNow
		s.mu.Unlock()
		if closeNow {
			_ = t.conn.Close()
		}
		return bufs, false
	}
	s.mu.Unlock()

	// Frames of our own go in scratch first (appending may move it),
	// then bufs points at scratch's pieces and the shared frames in
	// their order.
	b := (*scratch)[:0]
	for _, p := range batch {
		if p.msg == nil {
			b = t.appendPacket(b, p)
		}
	}
	bufs = bufs[:0]
	start := 0
	for _, p := range batch {
		if p.msg != nil {
			bufs = append(bufs, p.msg.wsFrame())
			continue
		}
		end := start + frameLen(p, t.sock.protocol)
		bufs = append(bufs, b[start:end])
		start = end
	}
	bufs = append(bufs, ctl...)
	*scratch = b
	s.recycle(batch)
	return bufs, true
}

// frameLen is the length of appendPacket's frame for p.
func frameLen(p packet, protocol int) int {
	n := len(p.text) + 1
	if p.bin != nil {
		n = len(p.bin)
		if protocol == 3 {
			n++
		}
	}
	return frameHeaderLen(n) + n
}

// flush writes what is queued without ever waiting (a flusher's work:
// flush.go). A connection that cannot take it all now gets a writer
// goroutine of its own for the rest.
func (t *wsTransport) flush(bufs net.Buffers, scratch *[]byte, w *nowWriter) net.Buffers {
	for range maxFlushRounds {
		var ok bool
		if bufs, ok = t.collect(bufs, scratch); !ok {
			return bufs
		}
		rest, err := w.write(t.raw, bufs)
		if err != nil {
			t.writeFailed(err)
			return bufs
		}
		if len(rest) > 0 {
			t.rest = rest
			s := t.sock
			s.mu.Lock()
			t.behind = true
			s.mu.Unlock()
			go t.writeLoop()
			return bufs
		}
	}
	go t.writeLoop() // still busy: let the others have the flusher
	return bufs
}

// maxFlushRounds bounds one connection's turn on a flusher.
const maxFlushRounds = 4

// writeLoop writes, waiting as long as it must (up to writeTimeout per
// write), until nothing is queued; it runs only while a connection has a
// backlog.
func (t *wsTransport) writeLoop() {
	scratch := scratchPool.Get().(*[]byte)
	defer scratchPool.Put(scratch)
	lastDeadline := time.Time{}
	var bufs net.Buffers
	for {
		if t.rest != nil {
			bufs, t.rest = t.rest, nil
		} else {
			var ok bool
			if bufs, ok = t.collect(bufs, scratch); !ok {
				return
			}
		}
		now := time.Now()
		if now.Sub(lastDeadline) > time.Second {
			// Moving the deadline is cheap, not free: once a second.
			_ = t.conn.SetWriteDeadline(now.Add(writeTimeout))
			lastDeadline = now
		}
		var err error
		if t.raw != nil {
			err = writeAll(t.raw, bufs)
		} else {
			_, err = bufs.WriteTo(t.conn)
		}
		if err != nil {
			t.writeFailed(err)
			return
		}
	}
}

// writeFailed ends a connection whose write failed.
func (t *wsTransport) writeFailed(err error) {
	s := t.sock
	s.mu.Lock()
	t.writing, t.done = false, true
	s.mu.Unlock()
	_ = t.conn.Close()
	// Not inline: a flusher must not wait for the close listeners.
	go s.onTransportError(t, err)
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
		op, data, err := t.fr.next()
		if err != nil {
			var we *wsError
			if errors.As(err, &we) {
				t.fail(we.code, we.reason)
				return
			}
			t.ended(err)
			return
		}
		var p packet
		switch op {
		case opPing:
			s.mu.Lock()
			t.sendControl(appendFrame(nil, opPong, 0, string(data), nil))
			s.mu.Unlock()
			continue
		case opPong:
			continue
		case opClose:
			// Answer with the client's code (or 1000) and end.
			code := closeNormal
			if len(data) >= 2 {
				code = int(binary.BigEndian.Uint16(data))
			}
			s.mu.Lock()
			t.closeWith(code, "")
			s.mu.Unlock()
			s.onTransportClose(t)
			return
		case opBinary:
			if s.protocol == 3 {
				if len(data) == 0 || data[0] != typeMessage-'0' {
					t.fail(closeProtocolError, "binary frame without a message type")
					return
				}
				data = data[1:]
			}
			p = packet{typ: typeMessage, bin: data}
		default:
			if p, err = decodeText(string(data), s.protocol); err != nil {
				t.fail(closeProtocolError, err.Error())
				return
			}
		}
		s.onPacket(t, p)
		if t.fr.empty() {
			// Wait for the next frame on a fresh goroutine: handling a
			// packet runs deep into the Socket.IO layer and grows this
			// stack to 4 KB or more, and the collector never shrinks a
			// stack below 4 KB once it has grown. A fresh one waits in
			// 2 KB: half the stack of every idle connection.
			go t.readLoop()
			return
		}
	}
}

// ended handles the connection's end without a close frame: an error,
// unless the session was closing.
func (t *wsTransport) ended(err error) {
	s := t.sock
	s.mu.Lock()
	wasClosing := t.closing || t.done
	t.done = true
	writing := t.writing
	s.mu.Unlock()
	if wasClosing {
		s.onTransportClose(t)
	} else {
		s.onTransportError(t, err)
	}
	if !writing {
		_ = t.conn.Close()
	}
}

// fail closes the connection with a close frame saying why, as
// Node does, and the session with it ("parse error", as Node's socket.ts
// names a packet it cannot decode).
func (t *wsTransport) fail(code int, reason string) {
	s := t.sock
	s.mu.Lock()
	t.closeWith(code, reason)
	s.mu.Unlock()
	s.onParseError(t, errors.New(reason))
	// Give the writer closeWait to send the close frame, reading (and
	// dropping) what the client still sends meanwhile.
	_ = t.conn.SetReadDeadline(time.Now().Add(closeWait))
	_, _ = io.Copy(io.Discard, t.conn)
}
