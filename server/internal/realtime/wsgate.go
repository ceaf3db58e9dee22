package realtime

import (
	"bufio"
	"context"
	"net"
	"net/http"

	"github.com/zishang520/socket.io/servers/engine/v3"
)

// The library sends a new WebSocket session's open packet, and already
// reads the connection, before Socket.IO attaches its "data" listener in
// the engine's "connection" event (engine/v3 base-server.go Handshake:
// NewSocket → onOpen sends "open"; transports/websocket.go Construct
// starts the read loop; socket/v3 client.go setup attaches "data" later).
// A client that answers "40" within that window loses its CONNECT and
// waits for its connect timeout. Node is single-threaded and cannot race.
// The gate holds the first read of a new WebSocket until the "connection"
// event has run (or the upgrade request has ended).
type gateKey struct{}

// gateWebSocket prepares a new-session WebSocket request: reads from the
// hijacked connection wait for openGate.
func gateWebSocket(w http.ResponseWriter, r *http.Request) (http.ResponseWriter, *http.Request) {
	if r.URL.Query().Get("transport") != "websocket" || r.URL.Query().Get("sid") != "" {
		return w, r
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		return w, r
	}
	gate := make(chan struct{})
	r = r.WithContext(context.WithValue(r.Context(), gateKey{}, gate))
	return &gatedWriter{ResponseWriter: w, hj: hj, gate: gate, done: r.Context().Done()}, r
}

// openGate runs in the engine's "connection" event, after Socket.IO's.
func openGate(conn engine.Socket) {
	req := conn.Request()
	if req == nil || req.Request() == nil {
		return
	}
	if gate, ok := req.Request().Context().Value(gateKey{}).(chan struct{}); ok {
		select {
		case <-gate:
		default:
			close(gate)
		}
	}
}

type gatedWriter struct {
	http.ResponseWriter
	hj   http.Hijacker
	gate chan struct{}
	done <-chan struct{}
}

func (g *gatedWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := g.hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	if brw.Reader.Buffered() > 0 {
		return c, brw, nil // the upgrader refuses this anyway
	}
	gc := &gatedConn{Conn: c, gate: g.gate, done: g.done}
	return gc, bufio.NewReadWriter(bufio.NewReader(gc), brw.Writer), nil
}

type gatedConn struct {
	net.Conn
	gate <-chan struct{}
	done <-chan struct{}
}

func (c *gatedConn) Read(p []byte) (int, error) {
	select {
	case <-c.gate:
	case <-c.done:
	}
	return c.Conn.Read(p)
}
