package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/realtime-circles/realtime-circles/server/internal/board"
	"github.com/realtime-circles/realtime-circles/server/internal/sioclient"
)

// Adversarial memory tests (issue 11): the recovery replay buffer and the
// boards stay under their caps whatever hostile clients send, and an
// honest pair of clients keeps playing meanwhile.

// honest is a sender and a watcher on one board: the sender draws n
// circles, one every gap, and the watcher checks they all arrive, in
// order; latencies are from emit to arrival.
type honest struct {
	done      chan error
	latencies []time.Duration
}

func startHonest(t testing.TB, s *testServer, boardName string, n int, gap time.Duration) *honest {
	t.Helper()
	opts := sioclient.Options{Auth: map[string]any{"board": boardName}}
	sender, watcher := dial(t, s, opts), dial(t, s, opts)
	register(t, sender, "HO")
	h := &honest{done: make(chan error, 1)}
	sent := make([]time.Time, n)
	var mu sync.Mutex
	go func() {
		for i := range n {
			mu.Lock()
			sent[i] = time.Now()
			mu.Unlock()
			if err := sender.Emit("add-circle", map[string]any{"x": i, "y": 7, "dia": 7, "rgba": "blue"}); err != nil {
				return
			}
			time.Sleep(gap) // pacing the honest sender, not asserting
		}
	}()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		for i := 0; i < n; {
			ev, err := watcher.Next(ctx, "add-circle")
			if err != nil {
				h.done <- fmt.Errorf("honest watcher after %d of %d circles: %w", i, n, err)
				return
			}
			var c board.Circle
			if err := ev.Decode(0, &c); err != nil {
				h.done <- err
				return
			}
			if c.Initials != "HO" {
				continue
			}
			if int(c.X) != i {
				h.done <- fmt.Errorf("honest circle %d arrived as the %d.", int(c.X), i)
				return
			}
			mu.Lock()
			h.latencies = append(h.latencies, time.Since(sent[i]))
			mu.Unlock()
			i++
		}
		h.done <- nil
	}()
	return h
}

// wait returns the honest clients' p99 latency, failing the test if a
// circle was lost or out of order or p99 is over bound.
func (h *honest) wait(t testing.TB, bound time.Duration) time.Duration {
	t.Helper()
	if err := <-h.done; err != nil {
		t.Fatal(err)
	}
	slices.Sort(h.latencies)
	p99 := h.latencies[len(h.latencies)*99/100]
	t.Logf("honest client: %d circles, all in order, p50 %v p99 %v", len(h.latencies), h.latencies[len(h.latencies)/2], p99)
	if p99 > bound {
		t.Errorf("honest client p99 %v, want ≤ %v", p99, bound)
	}
	return p99
}

// gauge reads one /metrics value.
func gauge(t testing.TB, s *testServer, name string) float64 {
	t.Helper()
	_, body := getMetrics(t, s)
	for line := range strings.Lines(body) {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatalf("%s %q: %v", name, v, err)
			}
			return f
		}
	}
	t.Fatalf("/metrics has no %s", name)
	return 0
}

// backToBaseline waits for goroutines and heap to come back near a
// baseline after clients went (they unwind asynchronously).
func backToBaseline(t testing.TB, baseG int, baseHeap uint64, clients int) {
	t.Helper()
	allowG := baseG + 10 + clients/10 // the library's lost ClearInterval stops (TestChurnSoak)
	allowHeap := baseHeap + 16<<20 + uint64(clients)*libraryLeakPerClient
	deadline := time.Now().Add(20 * time.Second)
	for {
		g, heap := settle()
		if g <= allowG && heap <= allowHeap {
			t.Logf("after: goroutines %d → %d, heap %d → %d KB", baseG, g, baseHeap>>10, heap>>10)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("goroutines %d (baseline %d, allowed %d), heap %d MB (baseline %d MB, allowed %d MB)",
				g, baseG, allowG, heap>>20, baseHeap>>20, allowHeap>>20)
		}
		time.Sleep(200 * time.Millisecond) // polling for the unwind, not asserting
	}
}

// 50 sockets, each on its own board, send all six clear aliases and a
// circle as fast as they can (no rate limit: the caps must hold on their
// own). The replay buffer stays within REPLAY_BYTES, heap after a GC
// within the ceiling, and the honest pair gets every circle in order.
func TestAttackReplayFlood(t *testing.T) {
	const replayBytes = 1 << 20
	s := startServer(t, map[string]string{"RATE_LIMIT": "0", "MAX_CONNS_PER_IP": "0",
		"REPLAY_BOARD_BYTES": strconv.Itoa(64 << 10), "REPLAY_BYTES": strconv.Itoa(replayBytes)})
	warm := dial(t, s, sioclient.Options{})
	register(t, warm, "WA")
	warm.Close()
	baseG, baseHeap := settle()

	h := startHonest(t, s, "honest", 100, 10*time.Millisecond)
	const attackers, rounds = 50, 60
	var wg sync.WaitGroup
	aliases := []string{"clear", "clear-display", "clear-circles", "clear-page", "clearCircles", "remove-circle"}
	for i := range attackers {
		c, err := sioclient.Dial(ctxT(t, 10*time.Second), s.URL, sioclient.Options{Auth: map[string]any{"board": fmt.Sprintf("atk-%d", i)}})
		if err != nil {
			t.Fatal(err)
		}
		register(t, c, "AT")
		wg.Go(func() {
			defer c.Close()
			for r := range rounds {
				for _, a := range aliases {
					_ = c.Emit(a, strings.Repeat("x", 100))
				}
				_ = c.Emit("add-circle", map[string]any{"x": r, "y": 1, "dia": 5, "rgba": "red"})
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_, _ = c.EmitWithAck(ctx, "clear") // all of this socket's events handled
		})
	}
	wg.Wait()
	h.wait(t, 2*time.Second)
	if got := gauge(t, s, "circles_replay_bytes"); got > replayBytes || got == 0 {
		t.Errorf("circles_replay_bytes %v, want (0, %d]", got, replayBytes)
	}
	_, heap := settle()
	t.Logf("heap after the flood, after a GC: %d → %d KB", baseHeap>>10, heap>>10)
	if ceiling := baseHeap + 2*replayBytes + 32<<20; heap > ceiling {
		t.Errorf("heap %d MB after a GC, want ≤ %d MB", heap>>20, ceiling>>20)
	}
	backToBaseline(t, baseG+4, baseHeap+2*replayBytes, attackers) // the honest pair stays
}

// A client that missed more than its board's replay buffer holds gets
// no partial replay: it connects afresh and gets the board. One that
// missed less recovers (TestRecoveryMissesNothing).
func TestRecoveryOverflowGetsBoard(t *testing.T) {
	s := startServer(t, map[string]string{"RATE_LIMIT": "0", "REPLAY_BOARD_BYTES": strconv.Itoa(16 << 10)})
	opts := sioclient.Options{Auth: map[string]any{"board": "over"}}
	a, b := dial(t, s, opts), dial(t, s, opts)
	register(t, a, "AA")
	register(t, b, "BB")
	b.Emit("add-circle", circle(0))
	next(t, a, "add-circle") // a has an offset now
	a.Drop()
	const missed = 200 // ~500 bytes each with overhead: 100 KB > 16 KB
	for i := 1; i <= missed; i++ {
		b.Emit("add-circle", circle(float64(i)))
	}
	for range missed {
		next(t, b, "add-circle")
	}
	a2 := dial(t, s, sioclient.Options{Auth: mergeAuth(map[string]any{"board": "over"}, a.RecoveryAuth())})
	if a2.Recovered {
		t.Fatal("recovered with a partial replay after missing more than the buffer holds")
	}
	got := boardOf(t, a2)
	if len(got) != missed+1 || got[len(got)-1].X != missed {
		t.Errorf("board after overflow: %d circles, want %d ending at x=%d", len(got), missed+1, missed)
	}
}
