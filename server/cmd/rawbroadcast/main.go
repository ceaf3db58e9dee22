// Command rawbroadcast is the floor for the benchmarks: a bare WebSocket
// broadcaster with no protocol beyond what loadgen's clients need to
// connect (the Engine.IO open packet and a CONNECT reply). Each message a
// client sends is framed once and queued to every client; each client's
// writer goroutine writes what is queued in one write. No heartbeats,
// acks, rooms, validation or recovery: what any Socket.IO server here
// costs on top of this is the protocol's.
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"

	"github.com/gorilla/websocket"
)

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "3000"
	}
	h := &hub{clients: map[*client]struct{}{}}
	if err := http.ListenAndServe("127.0.0.1:"+port, h); err != nil {
		fmt.Fprintln(os.Stderr, "rawbroadcast:", err)
		os.Exit(1)
	}
}

type hub struct {
	mu      sync.Mutex
	clients map[*client]struct{}
}

type client struct {
	conn net.Conn
	mu   sync.Mutex
	out  net.Buffers
	wake chan struct{}
}

var upgrader = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}

func (h *hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !websocket.IsWebSocketUpgrade(r) {
		_, _ = fmt.Fprintln(w, "rawbroadcast")
		return
	}
	ws, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c := &client{conn: ws.NetConn(), wake: make(chan struct{}, 1)}
	_ = ws.WriteMessage(websocket.TextMessage, []byte(`0{"sid":"raw","upgrades":[],"pingInterval":600000,"pingTimeout":600000,"maxPayload":1000000}`))
	h.mu.Lock()
	h.clients[c] = struct{}{}
	h.mu.Unlock()
	go c.write()
	defer func() {
		h.mu.Lock()
		delete(h.clients, c)
		h.mu.Unlock()
		close(c.wake)
		_ = ws.Close()
	}()
	for {
		_, msg, err := ws.ReadMessage()
		if err != nil {
			return
		}
		switch {
		case string(msg) == "40":
			c.queue(frame([]byte(`40{"sid":"raw"}`)))
		case len(msg) > 1 && msg[0] == '4' && msg[1] == '2':
			f := frame(msg) // once, for everyone
			h.mu.Lock()
			for other := range h.clients {
				other.queue(f)
			}
			h.mu.Unlock()
		}
	}
}

func (c *client) queue(f []byte) {
	c.mu.Lock()
	c.out = append(c.out, f)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *client) write() {
	for range c.wake {
		c.mu.Lock()
		out := c.out
		c.out = nil
		c.mu.Unlock()
		if _, err := out.WriteTo(c.conn); err != nil {
			return
		}
	}
}

// frame is an unmasked final text frame carrying p.
func frame(p []byte) []byte {
	var b []byte
	switch n := len(p); {
	case n < 126:
		b = append(b, 0x81, byte(n))
	case n <= 0xFFFF:
		b = append(b, 0x81, 126, byte(n>>8), byte(n))
	default:
		b = append(b, 0x81, 127, 0, 0, 0, 0, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(b, p...)
}
