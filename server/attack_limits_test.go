package main

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/realtime-circles/realtime-circles/server/internal/sioclient"
)

// Adversarial rate-limit tests (issue 11): budgets can't be multiplied by
// aliases, made-up names or reconnecting; warnings are sampled.

// ackSays emits with an ack and reports whether the reply says "too many".
func ackSays(t testing.TB, c *sioclient.Client, event string, args ...any) string {
	t.Helper()
	reply, err := c.EmitWithAck(ctxT(t, 5*time.Second), event, args...)
	if err != nil {
		t.Fatalf("%s: %v", event, err)
	}
	if len(reply) == 0 {
		return ""
	}
	return string(reply[0])
}

func limited(reply string) bool { return strings.Contains(reply, "too many") }

// The six clear aliases share one bucket: a burst of 3 lets 3 clears
// through whatever names they use.
func TestAttackClearAliasesShareBucket(t *testing.T) {
	s := startServer(t, map[string]string{"RATE_LIMIT": "0.01", "RATE_BURST": "3"})
	c := dial(t, s, sioclient.Options{})
	passed := 0
	for _, name := range []string{"clear", "clear-display", "clear-circles", "clear-page", "clearCircles", "remove-circle"} {
		if !limited(ackSays(t, c, name)) {
			passed++
		}
	}
	if passed != 3 {
		t.Errorf("%d of 6 clear aliases passed a burst of 3, want 3", passed)
	}
}

// Made-up event names and invalid payloads take tokens from the same
// bucket as add-circle.
func TestAttackInvalidEventsTakeTokens(t *testing.T) {
	s := startServer(t, map[string]string{"RATE_LIMIT": "0.01", "RATE_BURST": "4"})
	c := dial(t, s, sioclient.Options{})
	register(t, c, "IN")
	// Nobody acks an unknown event: sent without one, handled in order.
	_ = c.Emit("no-such-event")
	_ = c.Emit("another-made-up-one")
	if r := ackSays(t, c, "add-circle", "not a circle"); limited(r) {
		t.Fatalf("3rd event of a burst of 4 limited: %s", r)
	}
	if r := ackSays(t, c, "add-circle", map[string]any{"x": 1, "y": 1, "dia": 5, "rgba": "red"}); limited(r) {
		t.Fatalf("4th event of a burst of 4 limited: %s", r)
	}
	if r := ackSays(t, c, "add-circle", map[string]any{"x": 1, "y": 1, "dia": 5, "rgba": "red"}); !limited(r) {
		t.Errorf("5th event after 2 made-up names and an invalid one: %s, want too many", r)
	}
}

// register-player has its own modest limit (burst 5, 1/s).
func TestAttackRegisterLimit(t *testing.T) {
	s := startServer(t, map[string]string{"RATE_LIMIT": "1000", "RATE_BURST": "1000"})
	c := dial(t, s, sioclient.Options{})
	passed := 0
	for i := range 20 {
		if !limited(ackSays(t, c, "register-player", "R"+string(rune('A'+i)))) {
			passed++
		}
	}
	if passed < 5 || passed > 7 {
		t.Errorf("%d of 20 quick register-players passed, want 5 (+ refill)", passed)
	}
}

// A board sends at most one update-player-list per tick: 100 sockets
// registering at once make a watcher receive a handful of lists, the
// last one complete, not a hundred.
func TestAttackRegisterStormCoalesced(t *testing.T) {
	s := startServer(t, map[string]string{"MAX_CONNS_PER_IP": "0"})
	watcher := dial(t, s, sioclient.Options{Auth: map[string]any{"board": "storm"}})
	const n = 100
	clients := make([]*sioclient.Client, n)
	for i := range clients {
		clients[i] = dial(t, s, sioclient.Options{Auth: map[string]any{"board": "storm"}})
	}
	start := time.Now()
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Go(func() { _ = c.Emit("register-player", "S"+string(rune('A'+i%26))) })
	}
	wg.Wait()
	lists := 0
	for {
		var list []string
		if err := next(t, watcher, "update-player-list").Decode(0, &list); err != nil {
			t.Fatal(err)
		}
		lists++
		if len(list) == n {
			break
		}
	}
	elapsed := time.Since(start)
	ticks := int(elapsed/(33*time.Millisecond)) + 2
	t.Logf("%d registrations → %d player lists in %v", n, lists, elapsed)
	if lists > ticks || lists >= n/2 {
		t.Errorf("%d player lists for %d registrations in %v, want ≤ one per tick (%d)", lists, n, elapsed, ticks)
	}
}

// A kicked flooder reconnecting at once (same address, same initials)
// does not get a fresh budget; a classmate behind the same NAT keeps its own.
func TestAttackStickyKick(t *testing.T) {
	s := startServer(t, map[string]string{"RATE_LIMIT": "20", "RATE_BURST": "40", "TRUST_PROXY": "true"})
	nat := sioclient.Options{Header: http.Header{"X-Forwarded-For": {"203.0.113.50"}}}
	flooder := dial(t, s, nat)
	register(t, flooder, "FL")
	for i := range 3000 {
		if flooder.Emit("add-circle", map[string]any{"x": i % 100, "y": 1, "dia": 5, "rgba": "red"}) != nil {
			break
		}
	}
	select {
	case <-flooder.Done():
	case <-ctxT(t, 10*time.Second).Done():
		t.Fatal("the flooder was not disconnected")
	}
	again := dial(t, s, nat)
	register(t, again, "FL")
	if r := ackSays(t, again, "add-circle", map[string]any{"x": 1, "y": 1, "dia": 5, "rgba": "red"}); !limited(r) {
		t.Errorf("kicked client back at once: add-circle %s, want too many (no fresh budget)", r)
	}
	classmate := dial(t, s, nat)
	register(t, classmate, "CL")
	for i := range 10 {
		if r := ackSays(t, classmate, "add-circle", map[string]any{"x": i, "y": 1, "dia": 5, "rgba": "red"}); limited(r) {
			t.Fatalf("classmate behind the same NAT limited at its %d. circle: %s", i+1, r)
		}
	}
}

// 50 sockets sending invalid payloads within the rate limit log at most
// warnEvery (5) warnings each per minute, then a count.
func TestAttackInvalidFloodLogSampled(t *testing.T) {
	s := startServer(t, map[string]string{"RATE_LIMIT": "1000", "RATE_BURST": "1000", "MAX_CONNS_PER_IP": "0"})
	const n, each = 50, 40
	var wg sync.WaitGroup
	for range n {
		c := dial(t, s, sioclient.Options{})
		wg.Go(func() {
			for range each - 1 {
				_ = c.Emit("add-circle", "<img src=x onerror=alert(1)>")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, _ = c.EmitWithAck(ctx, "add-circle", "bad") // in order: all handled
			c.Close()
		})
	}
	wg.Wait()
	logs := s.logs.String()
	lines := strings.Count(logs, "event rejected")
	t.Logf("%d invalid events → %d 'event rejected' lines", n*each, lines)
	if lines > n*5 {
		t.Errorf("%d 'event rejected' lines for %d sockets, want ≤ %d (5 per socket per minute)", lines, n, n*5)
	}
	// The rest is counted when each socket goes.
	ctx := ctxT(t, 10*time.Second)
	for strings.Count(s.logs.String(), "warnings suppressed") < n {
		if ctx.Err() != nil {
			t.Fatalf("%d 'warnings suppressed' lines, want %d", strings.Count(s.logs.String(), "warnings suppressed"), n)
		}
		time.Sleep(20 * time.Millisecond) // polling for the disconnects, not asserting
	}
}
