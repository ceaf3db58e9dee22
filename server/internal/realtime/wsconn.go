package realtime

import (
	"net"
	"sync"
	"time"

	"github.com/zishang520/socket.io/servers/engine/v3/transports"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// wsConn is the hijacked connection under a WebSocket transport. It does
// two things the library cannot be asked to do:
//
//   - Its reads wait for gate (see engine.go: the hung CONNECT).
//   - Once corked, it gathers the frames of one transport send and writes
//     them with one write(2). The library writes each packet as its own
//     frame through gorilla, one write(2) per packet per client
//     (transports/websocket.go send → write → gorilla Conn.write): under a
//     broadcast, that syscall was 30–45 % of the server's CPU. A send
//     always ends with the transport's "drain" event, which flushes; idle
//     connections hold no buffer.
//
// Until corked (a transport's "drain" listener is in place), writes go
// straight through, so nothing can wait for a flush that never comes.
type wsConn struct {
	net.Conn
	gate <-chan struct{}
	pool *sync.Pool // *[]byte buffers, shared by a server's connections

	mu       sync.Mutex
	corked   bool
	buf      *[]byte // pending frames; nil when empty
	err      error   // the first failed flush: later writes fail with it
	deadline time.Time
}

// maxCork flushes a send early once this much is pending, so a long
// backlog is written in pieces rather than gathered whole.
const maxCork = 64 << 10

func newBufPool() *sync.Pool {
	return &sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}
}

func (c *wsConn) Read(p []byte) (int, error) {
	<-c.gate
	return c.Conn.Read(p)
}

func (c *wsConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return 0, c.err
	}
	if !c.corked {
		return c.Conn.Write(p)
	}
	if c.buf == nil {
		c.buf = c.pool.Get().(*[]byte)
	}
	*c.buf = append(*c.buf, p...)
	// Control frames (close, ping, pong: opcode ≥ 8 with FIN) are written
	// by gorilla outside any transport send: no "drain" follows them.
	if isControlFrame(p) || len(*c.buf) >= maxCork {
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

func isControlFrame(p []byte) bool { return len(p) > 0 && p[0]&0x80 != 0 && p[0]&0x0f >= 8 }

// SetWriteDeadline is called by gorilla before every frame; the deadline
// applies when the frames are flushed.
func (c *wsConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.Equal(c.deadline) {
		return nil
	}
	c.deadline = t
	return c.Conn.SetWriteDeadline(t)
}

// Flush writes the pending frames. A failed write closes the connection,
// so the transport's reader sees the error and the session closes.
func (c *wsConn) Flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	_ = c.flushLocked()
}

func (c *wsConn) flushLocked() error {
	if c.buf == nil {
		return c.err
	}
	_, err := c.Conn.Write(*c.buf)
	*c.buf = (*c.buf)[:0]
	if cap(*c.buf) <= maxCork { // don't keep a backlog-sized buffer around
		c.pool.Put(c.buf)
	}
	c.buf = nil
	if err != nil && c.err == nil {
		c.err = err
		_ = c.Conn.Close()
	}
	return c.err
}

// Close writes what is pending (a close frame, last packets) first, for
// at most closeFlush. The deadline goes on before taking mu: a flush
// stuck on a peer that stopped reading holds mu, and must give up for the
// connection to close (the slow-consumer guard closes exactly those).
func (c *wsConn) Close() error {
	_ = c.Conn.SetWriteDeadline(time.Now().Add(closeFlush))
	c.mu.Lock()
	_ = c.flushLocked()
	c.mu.Unlock()
	return c.Conn.Close()
}

const closeFlush = time.Second

// cork makes t's sends leave c with one write each: t flushes c on
// "drain", which the WebSocket transport emits after every send, errors
// included (transports/websocket.go send's defer).
func (c *wsConn) cork(t transports.Transport) {
	if t == nil || t.Name() != transports.WEBSOCKET {
		return
	}
	_ = t.On("drain", func(...any) { c.Flush() })
	c.mu.Lock()
	c.corked = true
	c.mu.Unlock()
}

// wsConnOf is the wsConn under a WebSocket request's connection, if any.
func wsConnOf(ctx *types.HttpContext) *wsConn {
	if ctx == nil || ctx.Websocket == nil || ctx.Websocket.Conn == nil {
		return nil
	}
	c, _ := ctx.Websocket.NetConn().(*wsConn)
	return c
}
