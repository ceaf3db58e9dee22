package engineio_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/realtime-circles/realtime-circles/server/internal/engineio"
)

// Heartbeat timings: short, with a timeout that a client answering at once
// meets on a loaded machine.
const (
	hbInterval = 100 * time.Millisecond
	hbTimeout  = 300 * time.Millisecond
	hbSlack    = time.Second
)

func hbOpts() engineio.Options {
	o := opts()
	o.PingInterval, o.PingTimeout = hbInterval, hbTimeout
	return o
}

// checkTimeout checks that the session closed for "ping timeout", no
// sooner than the protocol allows after the client's last heartbeat and no
// later than it requires (plus slack).
func checkTimeout(t *testing.T, h *harness, sid string, last time.Time, min, max time.Duration) {
	t.Helper()
	if reason := h.waitClose(t, sid); reason != "ping timeout" {
		t.Fatalf("close reason %q", reason)
	}
	d := time.Since(last)
	if d < min {
		t.Errorf("closed %v after the last heartbeat, before %v", d, min)
	}
	if d > max+hbSlack {
		t.Errorf("closed %v after the last heartbeat, want about %v", d, max)
	}
}

// v4: the server pings every pingInterval; a pong within pingTimeout
// keeps the session; without it the session closes ("ping timeout") and a
// waiting poll is answered with the close packet.
func TestHeartbeatV4(t *testing.T) {
	t.Run("polling", func(t *testing.T) {
		h := start(t, hbOpts())
		p, _, sock := h.openPolling(t, "4", "")
		var lastPong time.Time
		// Rounds spanning more than pingInterval+pingTimeout.
		for range 6 {
			if got := p.get(t); !slices.Equal(got, []string{"2"}) {
				t.Fatalf("poll %q, want a ping", got)
			}
			lastPong = time.Now()
			p.send(t, "3")
		}
		h.assertOpen(t, sock.Id())
		if got := p.get(t); !slices.Equal(got, []string{"2"}) {
			t.Fatalf("poll %q, want a ping", got)
		}
		pinged := time.Now()
		// No pong: the waiting poll gets the close packet.
		if got := p.get(t); !slices.Equal(got, []string{"1"}) {
			t.Fatalf("poll %q, want the close packet", got)
		}
		checkTimeout(t, h, sock.Id(), lastPong, hbInterval+hbTimeout, hbInterval+hbTimeout)
		if d := time.Since(pinged); d > hbTimeout+hbSlack {
			t.Errorf("closed %v after the ping", d)
		}
	})
	t.Run("websocket", func(t *testing.T) {
		h := start(t, hbOpts())
		c, _, sock := h.openWS(t, "4")
		var lastPong time.Time
		for range 6 {
			expectText(t, c, "2")
			lastPong = time.Now()
			writeText(t, c, "3")
		}
		h.assertOpen(t, sock.Id())
		expectText(t, c, "2")
		readClose(t, c)
		checkTimeout(t, h, sock.Id(), lastPong, hbInterval+hbTimeout, hbInterval+hbTimeout)
	})
}

// v3: the client pings and the server answers a pong with the same data;
// no ping for pingInterval+pingTimeout closes the session ("ping timeout").
// The server never pings a v3 client.
func TestHeartbeatV3(t *testing.T) {
	t.Run("polling", func(t *testing.T) {
		h := start(t, hbOpts())
		p, _, sock := h.openPolling(t, "3", "")
		tick := time.NewTicker(hbInterval)
		defer tick.Stop()
		var lastPing time.Time
		for i := range 6 {
			<-tick.C
			lastPing = time.Now()
			p.send(t, fmt.Sprintf("2beat%d", i))
			if got := p.get(t); !slices.Equal(got, []string{fmt.Sprintf("3beat%d", i)}) {
				t.Fatalf("poll %q, want the pong", got)
			}
		}
		h.assertOpen(t, sock.Id())
		if got := p.get(t); !slices.Equal(got, []string{"1"}) {
			t.Fatalf("poll %q, want the close packet", got)
		}
		checkTimeout(t, h, sock.Id(), lastPing, hbInterval+hbTimeout, hbInterval+hbTimeout)
	})
	t.Run("websocket", func(t *testing.T) {
		h := start(t, hbOpts())
		c, _, sock := h.openWS(t, "3")
		tick := time.NewTicker(hbInterval)
		defer tick.Stop()
		var lastPing time.Time
		for i := range 6 {
			<-tick.C
			lastPing = time.Now()
			writeText(t, c, fmt.Sprintf("2beat%d", i))
			expectText(t, c, fmt.Sprintf("3beat%d", i))
		}
		h.assertOpen(t, sock.Id())
		readClose(t, c)
		checkTimeout(t, h, sock.Id(), lastPing, hbInterval+hbTimeout, hbInterval+hbTimeout)
	})
}
