package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/realtime-circles/realtime-circles/server/internal/board"
	"github.com/realtime-circles/realtime-circles/server/internal/sioclient"
)

// A client bursting 5000 add-circles gets at most RATE_BURST of them to
// others, is told, and is disconnected; the others keep playing.
func TestRateLimitFlood(t *testing.T) {
	s := startServer(t, map[string]string{"RATE_LIMIT": "20", "RATE_BURST": "40"})
	flooder := dial(t, s, sioclient.Options{})
	watcher := dial(t, s, sioclient.Options{})
	other := dial(t, s, sioclient.Options{})
	register(t, flooder, "FL")
	register(t, other, "OK")

	for i := range 5000 {
		if err := flooder.Emit("add-circle", map[string]any{"x": i % 100, "y": 1, "dia": 5, "rgba": "red"}); err != nil {
			break // disconnected mid-burst
		}
	}
	var msg struct{ Event, Error string }
	if err := next(t, flooder, "error-message").Decode(0, &msg); err != nil {
		t.Fatal(err)
	}
	if msg.Event != "add-circle" || !strings.Contains(msg.Error, "too many") {
		t.Errorf("error-message = %+v, want a rate-limit message about add-circle", msg)
	}
	select {
	case <-flooder.Done():
	case <-ctxT(t, 10*time.Second).Done():
		t.Fatal("the flooder was not disconnected")
	}

	// Everything the flooder got through is relayed before the other
	// player's circle, which still arrives.
	if err := other.Emit("add-circle", map[string]any{"x": 7, "y": 7, "dia": 7, "rgba": "blue"}); err != nil {
		t.Fatal(err)
	}
	relayed := 0
	for {
		var c board.Circle
		if err := next(t, watcher, "add-circle").Decode(0, &c); err != nil {
			t.Fatal(err)
		}
		if c.Initials == "OK" {
			break
		}
		relayed++
	}
	// 40 at once, plus 20/s for however long the burst took to process.
	if relayed < 1 || relayed > 60 {
		t.Errorf("%d of 5000 flood circles relayed, want 1–60 (burst 40 + refill)", relayed)
	}
	t.Logf("relayed %d of 5000", relayed)
}

// An ack'd event over the limit is answered with an error, not dropped silently.
func TestRateLimitAck(t *testing.T) {
	s := startServer(t, map[string]string{"RATE_LIMIT": "1", "RATE_BURST": "1"})
	c := dial(t, s, sioclient.Options{})
	register(t, c, "AK")
	var sawLimit bool
	for range 3 {
		reply, err := c.EmitWithAck(ctxT(t, 5*time.Second), "add-circle", map[string]any{"x": 1, "y": 1, "dia": 5, "rgba": "red"})
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(reply[0]), "too many") {
			sawLimit = true
		}
	}
	if !sawLimit {
		t.Error("3 add-circles at 1/s burst 1: no ack said too many")
	}
}

// Pages from other sites cannot open Socket.IO sessions (cross-site
// WebSocket hijacking); the same origin, clients without Origin and
// ALLOWED_ORIGINS can.
func TestOriginCheck(t *testing.T) {
	s := startServer(t, nil)
	evil := http.Header{"Origin": {"http://evil.example"}}
	if c, err := sioclient.Dial(ctxT(t, 5*time.Second), s.URL, sioclient.Options{Header: evil}); err == nil {
		c.Close()
		t.Error("websocket handshake with Origin http://evil.example accepted")
	} else if !strings.Contains(err.Error(), "403") {
		t.Errorf("evil websocket: %v, want HTTP 403", err)
	}
	if c, err := sioclient.Dial(ctxT(t, 5*time.Second), s.URL, sioclient.Options{Header: evil, Transport: sioclient.Polling}); err == nil {
		c.Close()
		t.Error("polling handshake with Origin http://evil.example accepted")
	}
	dial(t, s, sioclient.Options{Header: http.Header{"Origin": {s.URL}}})
	dial(t, s, sioclient.Options{Header: http.Header{"Origin": {s.URL}}, Transport: sioclient.Upgrade})
	dial(t, s, sioclient.Options{})

	wide := startServer(t, map[string]string{"ALLOWED_ORIGINS": "http://evil.example, https://school.example"})
	dial(t, wide, sioclient.Options{Header: evil})
	if c, err := sioclient.Dial(ctxT(t, 5*time.Second), wide.URL, sioclient.Options{Header: http.Header{"Origin": {"http://other.example"}}}); err == nil {
		c.Close()
		t.Error("origin not in ALLOWED_ORIGINS accepted")
	}
}

// MAX_CONNS_PER_IP sessions from one address, then refusals until one leaves.
func TestConnLimitPerIP(t *testing.T) {
	s := startServer(t, map[string]string{"MAX_CONNS_PER_IP": "3"})
	var open []*sioclient.Client
	for range 3 {
		open = append(open, dial(t, s, sioclient.Options{}))
	}
	for _, tr := range []sioclient.Transport{sioclient.WebSocket, sioclient.Polling} {
		if c, err := sioclient.Dial(ctxT(t, 5*time.Second), s.URL, sioclient.Options{Transport: tr}); err == nil {
			c.Close()
			t.Errorf("%s: a 4th connection from one address was accepted", tr)
		}
	}
	open[0].Close()
	// The slot frees when the server has processed the disconnect: retry.
	ctx := ctxT(t, 10*time.Second)
	for {
		c, err := sioclient.Dial(ctx, s.URL, sioclient.Options{})
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

// Behind a proxy every connection comes from the proxy's address: with
// TRUST_PROXY the limit counts the address the proxy appends to
// X-Forwarded-For, and a client cannot dodge it by sending its own.
func TestConnLimitBehindProxy(t *testing.T) {
	s := startServer(t, map[string]string{"MAX_CONNS_PER_IP": "2", "TRUST_PROXY": "true"})
	from := func(chain string) sioclient.Options {
		return sioclient.Options{Header: http.Header{"X-Forwarded-For": {chain}}}
	}
	dial(t, s, from("203.0.113.7"))
	dial(t, s, from("198.51.100.1, 203.0.113.7")) // a forged first hop is ignored
	if c, err := sioclient.Dial(ctxT(t, 5*time.Second), s.URL, from("203.0.113.7")); err == nil {
		c.Close()
		t.Errorf("a 3rd connection from 203.0.113.7 was accepted")
	}
	dial(t, s, from("203.0.113.8")) // another client behind the same proxy
	dial(t, s, from("203.0.113.8"))
}

// A WebSocket message over MaxHttpBufferSize (16 KiB) ends that client's
// session; others are unaffected.
func TestOversizeMessage(t *testing.T) {
	s := startServer(t, nil)
	big := dial(t, s, sioclient.Options{})
	other := dial(t, s, sioclient.Options{})
	_ = big.EmitRaw(`2["add-circle","` + strings.Repeat("x", 64<<10) + `"]`)
	select {
	case <-big.Done():
	case <-ctxT(t, 10*time.Second).Done():
		t.Fatal("a 64 KiB message was accepted")
	}
	register(t, other, "OK")
}

// A client that stops reading is dropped once SEND_QUEUE_MAX packets wait
// for it, and the others keep receiving.
func TestSlowConsumerDropped(t *testing.T) {
	for _, tr := range []string{"polling", "websocket"} {
		t.Run(tr, func(t *testing.T) {
			s := startServer(t, map[string]string{"RATE_LIMIT": "0", "SEND_QUEUE_MAX": "1000"})
			t.Cleanup(func() {
				if t.Failed() {
					t.Log(s.logs.String())
				}
			})
			watcher := dial(t, s, sioclient.Options{})
			sender := dial(t, s, sioclient.Options{})
			register(t, sender, "SE")
			waitPlayers(t, watcher, "SE")
			if tr == "polling" {
				stalledPolling(t, s)
			} else {
				stalledWebSocket(t, s)
			}
			waitPlayers(t, watcher, "SE", "ZZ")

			// Send in rounds the watcher keeps up with (so its own queue
			// stays short) until the stalled client's player leaves.
			left := make(chan struct{})
			go func() {
				defer close(left)
				for {
					var list []string
					ev, err := watcher.Next(context.Background(), "update-player-list")
					if err != nil || ev.Decode(0, &list) != nil || strings.Join(list, ",") == "SE" {
						return
					}
				}
			}()
			ctx := ctxT(t, 120*time.Second)
			for round := 0; ; round++ {
				select {
				case <-left:
				case <-ctx.Done():
					t.Fatalf("stalled client not dropped after %d rounds", round)
				default:
					for i := range 50 {
						if err := sender.Emit("add-circle", map[string]any{"x": i, "y": 1, "dia": 5, "rgba": "red"}); err != nil {
							t.Fatalf("sender: %v", err)
						}
					}
					for range 50 {
						next(t, watcher, "add-circle")
					}
					continue
				}
				break
			}
			// The others still get every event.
			_ = sender.Emit("add-circle", map[string]any{"x": 1, "y": 2, "dia": 99, "rgba": "blue"})
			for {
				var c board.Circle
				if err := next(t, watcher, "add-circle").Decode(0, &c); err != nil {
					t.Fatal(err)
				}
				if c.Dia == 99 {
					break
				}
			}
			if !s.logs.Contains("dropping slow client") {
				t.Error("no log line for the dropped client")
			}
		})
	}
}

// stalledPolling opens a polling session, registers "ZZ" and never polls again.
func stalledPolling(t *testing.T, s *testServer) {
	t.Helper()
	get := func(q string) string {
		resp, err := http.Get(s.URL + "/socket.io/?EIO=4&transport=polling" + q)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	open := get("")
	i := strings.Index(open, `"sid":"`)
	if i < 0 {
		t.Fatalf("open packet %q", open)
	}
	sid := open[i+7 : i+7+strings.Index(open[i+7:], `"`)]
	post := func(body string) {
		resp, err := http.Post(s.URL+"/socket.io/?EIO=4&transport=polling&sid="+sid, "text/plain", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	post("40")
	if got := get("&sid=" + sid); !strings.HasPrefix(got, "40") {
		t.Fatalf("connect reply %q", got)
	}
	post(`42["register-player","ZZ"]`)
}

// stalledWebSocket connects with a tiny receive buffer, registers "ZZ" and
// never reads again.
func stalledWebSocket(t *testing.T, s *testServer) {
	t.Helper()
	d := websocket.Dialer{NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		nd := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
			return c.Control(func(fd uintptr) {
				_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
			})
		}}
		return nd.DialContext(ctx, network, addr)
	}}
	ws, _, err := d.Dial(strings.Replace(s.URL, "http", "ws", 1)+"/socket.io/?EIO=4&transport=websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	if _, _, err := ws.ReadMessage(); err != nil { // open packet
		t.Fatal(err)
	}
	_ = ws.WriteMessage(websocket.TextMessage, []byte("40"))
	if _, _, err := ws.ReadMessage(); err != nil { // connect reply
		t.Fatal(err)
	}
	_ = ws.WriteMessage(websocket.TextMessage, []byte(`42["register-player","ZZ"]`))
}

// connectedGauge reads circles_connected_clients from /metrics.
func connectedGauge(t *testing.T, s *testServer) int {
	t.Helper()
	code, body := getMetrics(t, s)
	for line := range strings.Lines(body) {
		if v, ok := strings.CutPrefix(line, "circles_connected_clients "); ok && code == http.StatusOK {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				t.Fatalf("circles_connected_clients %q: %v", v, err)
			}
			return n
		}
	}
	t.Fatalf("/metrics %d without circles_connected_clients", code)
	return 0
}

func settle() (int, uint64) {
	// Two GCs: objects with finalizers or cleanups take a second one to go.
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return runtime.NumGoroutine(), m.HeapAlloc
}
