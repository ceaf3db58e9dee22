package main

import (
	"fmt"
	"sync"
	"testing"

	"github.com/realtime-circles/realtime-circles/server/internal/sioclient"
)

// Library defect: Volatile()/Timeout() on a socket set flags shared by every
// goroutine emitting on that socket, so setting them from two goroutines
// races. We only ever use broadcast operators (io.To(room).Volatile()),
// built per emit. This drives volatile cursor batches (from the cursor
// hub's goroutine) and reliable add-circle relays (from many sockets'
// handler goroutines) at the same board at once: under -race any shared
// per-emit state would be reported, and every client still ends up seeing
// every other player's last position.
func TestConcurrentVolatileAndReliableEmits(t *testing.T) {
	s := startServer(t, nil)
	const n, moves = 6, 40
	clients := make([]*sioclient.Client, n)
	ids := map[*sioclient.Client]string{}
	for i := range clients {
		clients[i] = dial(t, s, sioclient.Options{Auth: map[string]any{"board": "vol"}})
		ids[clients[i]] = publicID(t, clients[i])
		register(t, clients[i], fmt.Sprintf("P%d", i))
	}
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for m := 1; m <= moves; m++ {
				_ = c.Emit("cursor", map[string]any{"x": m, "y": i})
				if m%10 == 0 {
					_ = c.Emit("add-circle", map[string]any{"x": m, "y": i, "dia": 5, "rgba": "red"})
				}
			}
		}()
	}
	wg.Wait()

	for _, c := range clients {
		// Every other player's cursor reaches its last position: a volatile
		// batch may be skipped, but the settle re-send is reliable.
		seen := map[string]float64{}
		for done := 0; done < n-1; {
			var batch []cursor
			if err := next(t, c, "cursors").Decode(0, &batch); err != nil {
				t.Fatal(err)
			}
			for _, cur := range batch {
				if cur.ID != ids[c] && seen[cur.ID] != moves && cur.X == moves {
					done++
				}
				seen[cur.ID] = cur.X
			}
		}
		for range n * moves / 10 {
			next(t, c, "add-circle")
		}
	}
}
