package main

import (
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/realtime-circles/realtime-circles/server/internal/sioclient"
)

// An idle connection costs the server little. A production build, in its
// own process, holds 1000 idle WebSocket clients; its live heap after a
// GC, goroutine stacks and goroutines per connection stay within bounds
// set about a quarter above what it uses, so that a regression fails
// here. The figures against the target come from the benchmark
// (bench/README.md), which measures the same way at 5000 and 10 000.
func TestIdleConnectionCost(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts the server")
	}
	const conns = 1000
	const (
		heapBound      = 32 << 10 // bytes per connection; measured 25.8 KB
		stackBound     = 7 << 10  // 6.0 KB: our reader's 2 KB and the library socket's queue's 4 KB
		goroutineBound = 2.05     // goroutines per connection: those two
	)
	pprof := "127.0.0.1:" + strconv.Itoa(freePort(t))
	p := startProcess(t, buildServer(t), map[string]string{
		"NODE_ID": "idle", "METRICS_TOKEN": testMetricsToken, "PPROF_ADDR": pprof,
		"MAX_CONNS_PER_IP": "0", "RATE_LIMIT": "1000000",
	})
	before := idleCost(t, p.testServer, pprof)

	var wg sync.WaitGroup
	clients := make(chan *sioclient.Client, conns)
	for w := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < conns; i += 20 {
				c, err := sioclient.Dial(ctxT(t, 20*time.Second), p.URL, sioclient.Options{Transport: sioclient.WebSocket})
				if err != nil {
					t.Errorf("client %d: %v", i, err)
					return
				}
				clients <- c
			}
		}()
	}
	wg.Wait()
	close(clients)
	for c := range clients {
		t.Cleanup(c.Close)
	}
	if t.Failed() {
		return
	}
	// Every connection handler has run once the server counts them all.
	deadline := time.Now().Add(20 * time.Second)
	for metricValue(t, p.testServer, "circles_connected_clients") < conns {
		if time.Now().After(deadline) {
			t.Fatalf("circles_connected_clients %v, want %d", metricValue(t, p.testServer, "circles_connected_clients"), conns)
		}
		time.Sleep(20 * time.Millisecond) // polling for the count
	}
	after := idleCost(t, p.testServer, pprof)

	heap := (after.heap - before.heap) / conns
	stack := (after.stack - before.stack) / conns
	goroutines := (after.goroutines - before.goroutines) / conns
	t.Logf("per idle connection: live heap %.1f KB, stacks %.1f KB, %.2f goroutines", heap/1024, stack/1024, goroutines)
	if heap > heapBound {
		t.Errorf("live heap %.1f KB per idle connection, bound %d KB", heap/1024, heapBound>>10)
	}
	if stack > stackBound {
		t.Errorf("goroutine stacks %.1f KB per idle connection, bound %d KB", stack/1024, stackBound>>10)
	}
	if goroutines > goroutineBound {
		t.Errorf("%.2f goroutines per idle connection, bound %.2f", goroutines, goroutineBound)
	}
}

// cost is what a server process holds, from its /metrics.
type cost struct{ heap, stack, goroutines float64 }

// idleCost collects garbage in the server (pprof's heap endpoint runs a
// GC first) and reads its live heap, stacks and goroutines.
func idleCost(t *testing.T, s *testServer, pprof string) cost {
	t.Helper()
	resp, err := http.Get("http://" + pprof + "/debug/pprof/heap?gc=1")
	if err != nil {
		t.Fatalf("forcing a GC: %v", err)
	}
	resp.Body.Close()
	return cost{
		heap:       metricValue(t, s, "go_memstats_heap_alloc_bytes"),
		stack:      metricValue(t, s, "go_memstats_stack_inuse_bytes"),
		goroutines: metricValue(t, s, "go_goroutines"),
	}
}
