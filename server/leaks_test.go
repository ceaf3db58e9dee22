package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/realtime-circles/realtime-circles/server/internal/sioclient"
)

// closePaths are the ways a client leaves; TestChurnSoak runs them all.
var closePaths = []struct {
	name  string
	opts  sioclient.Options
	leave func(*sioclient.Client)
	// frozen: the server notices only at its ping timeout, and the
	// client side is let go after that.
	frozen bool
}{
	{"websocket clean", sioclient.Options{Transport: sioclient.WebSocket}, (*sioclient.Client).CloseClean, false},
	{"websocket 41 then TCP close", sioclient.Options{Transport: sioclient.WebSocket}, (*sioclient.Client).Close, false},
	{"websocket TCP drop", sioclient.Options{Transport: sioclient.WebSocket}, (*sioclient.Client).Drop, false},
	{"websocket ping timeout", sioclient.Options{Transport: sioclient.WebSocket}, (*sioclient.Client).Freeze, true},
	{"polling close", sioclient.Options{Transport: sioclient.Polling}, (*sioclient.Client).Close, false},
	{"polling ping timeout", sioclient.Options{Transport: sioclient.Polling}, (*sioclient.Client).Freeze, true},
	{"upgrade clean", sioclient.Options{Transport: sioclient.Upgrade}, (*sioclient.Client).CloseClean, false},
	{"eio3 websocket drop", sioclient.Options{Transport: sioclient.WebSocket, EIO: 3}, (*sioclient.Client).Drop, false},
	{"eio3 polling close", sioclient.Options{Transport: sioclient.Polling, EIO: 3}, (*sioclient.Client).Close, false},
}

// Rounds of clients connect, register, draw and leave by every close path
// in closePaths. After each round the player list is empty, /metrics
// counts nobody, and goroutines and heap after a GC come back to where
// the first round left them: nothing is kept per client. The heartbeat
// is short so that the ping-timeout paths end quickly. Socket.IO's
// connect timeout keeps its 45 s: no client's timer may outlive its join
// (library.go).
func TestChurnSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("soak")
	}
	args := append([]string{"-recovery-window", "1s", "-ping-interval", "1s", "-ping-timeout", "5s"},
		strings.Fields(os.Getenv("CHURN_ARGS"))...)
	s := startServer(t, map[string]string{"MAX_CONNS_PER_IP": "0"}, args...)
	const rounds, perRound, parallel = 4, 360, 40

	var firstG int
	var firstHeap uint64
	for round := 1; round <= rounds; round++ {
		// A fresh observer each round, and none of the helpers that keep
		// things until the test ends (t.Cleanup): what the test holds
		// would count as the server's.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		observer, err := sioclient.Dial(ctx, s.URL, sioclient.Options{})
		if err != nil {
			t.Fatal(err)
		}
		frozen := churnRound(t, s, round, perRound, parallel)
		for empty := false; !empty; {
			ev, err := observer.Next(ctx, "update-player-list")
			var list []string
			if err == nil {
				err = ev.Decode(0, &list)
			}
			if err != nil {
				t.Fatalf("round %d: waiting for the empty player list: %v", round, err)
			}
			empty = len(list) == 0
		}
		for n := connectedGauge(t, s); n != 1; n = connectedGauge(t, s) { // the observer
			if n < 1 {
				t.Fatalf("round %d: circles_connected_clients %d with only the observer left", round, n)
			}
			time.Sleep(50 * time.Millisecond) // polling for the last disconnects, not asserting
		}
		// The server has dropped the frozen clients: let go of our side.
		for _, c := range frozen {
			c.Drop()
		}
		observer.Close()
		cancel()
		for connectedGauge(t, s) != 0 {
			time.Sleep(50 * time.Millisecond) // polling for the observer's disconnect, not asserting
		}
		// Let the recovery window, the sweeps and the connect timeouts
		// run out before measuring.
		time.Sleep(2500 * time.Millisecond)
		g, heap := settle()
		if round == 1 {
			firstG, firstHeap = g, heap
			t.Logf("round 1: %d goroutines, heap %d KB", g, heap>>10)
			continue
		}
		allowG, allowHeap := firstG+5, firstHeap+1<<20
		deadline := time.Now().Add(15 * time.Second)
		for g > allowG || heap > allowHeap {
			if time.Now().After(deadline) {
				dumpLeak(t)
				t.Fatalf("round %d: %d goroutines (round 1: %d, allowed %d), heap %d KB (round 1: %d KB, allowed %d KB): something is kept per client",
					round, g, firstG, allowG, heap>>10, firstHeap>>10, allowHeap>>10)
			}
			time.Sleep(200 * time.Millisecond) // polling for the unwind, not asserting
			g, heap = settle()
		}
		t.Logf("round %d: %d goroutines, heap %d KB (round 1: %d, %d KB)", round, g, heap>>10, firstG, firstHeap>>10)
	}
	dumpLeak(t)
}

// churnRound runs n clients, parallel at a time, each through one close
// path. It returns the frozen ones, which the server drops at its ping
// timeout.
func churnRound(t *testing.T, s *testServer, round, n, parallel int) []*sioclient.Client {
	t.Helper()
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	var frozenMu sync.Mutex
	var frozen []*sioclient.Client
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			path := closePaths[i%len(closePaths)]
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c, err := sioclient.Dial(ctx, s.URL, path.opts)
			if err != nil {
				errs <- fmt.Errorf("round %d, %s: %w", round, path.name, err)
				return
			}
			if _, err := c.EmitWithAck(ctx, "register-player", "C"+string(rune('A'+i%26))); err != nil {
				errs <- fmt.Errorf("round %d, %s: register: %w", round, path.name, err)
			}
			_ = c.Emit("add-circle", map[string]any{"x": i % 1000, "y": 1, "dia": 5, "rgba": "red"})
			path.leave(c)
			if path.frozen {
				frozenMu.Lock()
				frozen = append(frozen, c)
				frozenMu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return frozen
}

// dumpLeak writes goroutines and a heap profile to CHURN_DUMP, if set.
func dumpLeak(t *testing.T) {
	f := os.Getenv("CHURN_DUMP")
	if f == "" {
		return
	}
	buf := make([]byte, 8<<20)
	n := runtime.Stack(buf, true)
	_ = os.WriteFile(f, buf[:n], 0o644)
	if hf, err := os.Create(f + ".heap"); err == nil {
		_ = pprof.WriteHeapProfile(hf)
		hf.Close()
	}
	t.Logf("goroutines and heap written to %s", f)
}
