package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Adversarial /ws demo tests (issue 11).

func dialWSFrom(s *testServer, h http.Header) (*websocket.Conn, *http.Response, error) {
	if h == nil {
		h = http.Header{}
	}
	h.Set("Origin", s.URL)
	return websocket.DefaultDialer.Dial(strings.Replace(s.URL, "http", "ws", 1)+"/ws", h)
}

// drain reads c until it closes, in the background.
func drain(c *websocket.Conn) {
	go func() {
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	}()
}

// closeCode reads c until the server closes it and returns the code: -1
// for a reset, -2 when it was still open after within.
func closeCode(c *websocket.Conn, within time.Duration) int {
	_ = c.SetReadDeadline(time.Now().Add(within))
	for {
		_, _, err := c.ReadMessage()
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return -2
		}
		if err != nil {
			return -1
		}
	}
}

// A client sending thousands of messages a second to 50 listeners is
// closed with 1008 at the rate limit; an honest client still gets every
// one of its own echoes, in order.
func TestAttackWSFlood(t *testing.T) {
	s := startServer(t, map[string]string{"MAX_CONNS_PER_IP": "0"})
	for range 50 {
		drain(dialWS(t, s))
	}
	flooder := dialWS(t, s)
	honest := dialWS(t, s)
	_ = honest.WriteJSON(map[string]any{"x": 0, "y": 0})
	me := readWS(t, honest).Sender

	go func() {
		for range 5000 {
			if flooder.WriteMessage(websocket.TextMessage, []byte(`{"x":1,"y":1}`)) != nil {
				break
			}
		}
	}()
	const n = 50
	sent := make([]time.Time, n+1)
	var mu sync.Mutex
	go func() {
		for i := 1; i <= n; i++ {
			mu.Lock()
			sent[i] = time.Now()
			mu.Unlock()
			_ = honest.WriteJSON(map[string]any{"x": i, "y": 0})
			time.Sleep(20 * time.Millisecond) // pacing the honest client, not asserting
		}
	}()
	var lat []time.Duration
	for want := 1; want <= n; {
		m := readWS(t, honest)
		if m.Sender != me {
			continue
		}
		if int(m.X) != want {
			t.Fatalf("honest echo %v arrived as the %d.", m.X, want)
		}
		mu.Lock()
		lat = append(lat, time.Since(sent[want]))
		mu.Unlock()
		want++
	}
	slices.Sort(lat)
	t.Logf("honest /ws client: %d echoes in order, p50 %v p99 %v", n, lat[n/2], lat[n*99/100])
	if p99 := lat[n*99/100]; p99 > honestP99Bound {
		t.Errorf("honest p99 %v, want ≤ %v", p99, honestP99Bound)
	}
	deadline := time.After(20 * time.Second)
	for !s.logs.Contains("closing a flooding connection") {
		select {
		case <-deadline:
			t.Fatal("the /ws flooder was not closed")
		case <-time.After(20 * time.Millisecond): // polling the log, not asserting
		}
	}
	// The flooder's reads end in the close frame 1008 (after the echoes
	// queued for it), or, when it had also stopped reading long enough to
	// be dropped as slow, in 1006 or a reset.
	if code := closeCode(flooder, 20*time.Second); code == -2 {
		t.Error("the flooder's connection is still open")
	}
}

// /ws connections per address are capped (MAX_CONNS_PER_IP; behind a
// trusted proxy, by X-Forwarded-For).
func TestAttackWSPerAddress(t *testing.T) {
	s := startServer(t, map[string]string{"MAX_CONNS_PER_IP": "3", "TRUST_PROXY": "true"})
	from := func(ip string) http.Header { return http.Header{"X-Forwarded-For": {ip}} }
	var open []*websocket.Conn
	for range 3 {
		c, _, err := dialWSFrom(s, from("203.0.113.20"))
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, c)
		t.Cleanup(func() { c.Close() })
	}
	if c, resp, err := dialWSFrom(s, from("203.0.113.20")); err == nil {
		c.Close()
		t.Error("a 4th /ws connection from one address was accepted")
	} else if resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("4th /ws connection: %v, want HTTP 429", err)
	}
	c, _, err := dialWSFrom(s, from("203.0.113.21"))
	if err != nil {
		t.Fatalf("another address: %v", err)
	}
	c.Close()
	// A slot frees when one leaves.
	open[0].Close()
	ctx := ctxT(t, 10*time.Second)
	for {
		c, _, err := dialWSFrom(s, from("203.0.113.20"))
		if err == nil {
			c.Close()
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("no slot after a client left: %v", err)
		}
		time.Sleep(20 * time.Millisecond) // polling for the slot, not asserting
	}
}

// A /ws peer that never answers pings is closed after two intervals.
func TestAttackWSNoPong(t *testing.T) {
	s := startServer(t, nil, "-ws-ping-interval", "200ms")
	c := dialWS(t, s)
	c.SetPingHandler(func(string) error { return nil }) // never pong
	start := time.Now()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		if _, _, err := c.ReadMessage(); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("a peer that never pongs was not closed within 10s")
			}
			break
		}
	}
	t.Logf("closed after %v", time.Since(start))
}

// A /ws client that stops reading is dropped once its queue is full; the
// sender keeps going.
func TestAttackWSSlowConsumer(t *testing.T) {
	s := startServer(t, nil, "-ws-queue", "16", "-ws-rate", "1000000")
	d := websocket.Dialer{NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		nd := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
			return c.Control(func(fd uintptr) {
				_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
			})
		}}
		return nd.DialContext(ctx, network, addr)
	}}
	stalled, _, err := d.Dial(strings.Replace(s.URL, "http", "ws", 1)+"/ws", http.Header{"Origin": {s.URL}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stalled.Close() })
	sender := dialWS(t, s)
	// In rounds the sender keeps up with (its own queue stays short), so
	// the only client that can fall 16 behind is the stalled one.
	deadline := time.Now().Add(30 * time.Second)
	for round := 0; !s.logs.Contains("dropping a slow client"); round++ {
		if time.Now().After(deadline) {
			t.Fatalf("a client that never reads was not dropped after %d rounds", round)
		}
		for range 8 {
			if err := sender.WriteMessage(websocket.TextMessage, []byte(`{"x":1,"y":1}`)); err != nil {
				t.Fatalf("sender: %v", err)
			}
		}
		for range 8 {
			readWS(t, sender)
		}
	}
	// The sender is still served.
	_ = sender.WriteJSON(map[string]any{"x": 2, "y": 2})
	for readWS(t, sender).X != 2 {
	}
	if n := strings.Count(s.logs.String(), "dropping a slow client"); n != 1 {
		t.Errorf("%d clients dropped as slow, want the stalled one", n)
	}
}
