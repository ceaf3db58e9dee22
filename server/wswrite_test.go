package main

import (
	"bytes"
	"encoding/json"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/realtime-circles/realtime-circles/server/internal/sioclient"
)

// writeSyscalls is this process's write(2) count so far (/proc/self/io).
func writeSyscalls(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		t.Fatalf("reading write syscalls: %v", err)
	}
	for line := range bytes.Lines(b) {
		if v, ok := bytes.CutPrefix(line, []byte("syscw: ")); ok {
			n, err := strconv.Atoi(string(bytes.TrimSpace(v)))
			if err != nil {
				t.Fatalf("syscw %q: %v", v, err)
			}
			return n
		}
	}
	t.Fatalf("no syscw in /proc/self/io:\n%s", b)
	return 0
}

// A burst to many WebSocket clients leaves the server in far fewer
// write(2) calls than packets: the library writes each packet as its own
// write (transports/websocket.go send), and realtime's wsConn gathers one
// transport send's frames into one. Everything still arrives, in order.
func TestBroadcastWritesGathered(t *testing.T) {
	s := startServer(t, map[string]string{"RATE_LIMIT": "0"})
	const receivers, n = 20, 500
	var done atomic.Int64
	all := make(chan struct{})
	for range receivers {
		var got atomic.Int64
		dial(t, s, sioclient.Options{Transport: sioclient.WebSocket, OnEvent: func(name string, args []json.RawMessage) {
			if name != "add-circle" {
				return
			}
			var c struct{ X int64 }
			if err := json.Unmarshal(args[0], &c); err != nil || c.X != got.Load() {
				t.Errorf("circle %s after %d: lost or out of order", args[0], got.Load())
			}
			if got.Add(1) == n && done.Add(1) == receivers {
				close(all)
			}
		}})
	}
	sender := dial(t, s, sioclient.Options{Transport: sioclient.WebSocket})
	register(t, sender, "WR")

	before := writeSyscalls(t)
	for i := range n {
		if err := sender.Emit("add-circle", map[string]any{"x": i, "y": 0, "dia": 1, "rgba": "red"}); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-all:
	case <-time.After(60 * time.Second):
		t.Fatalf("%d of %d receivers got all %d circles", done.Load(), receivers, n)
	}
	// The sender wrote n times itself; the rest is the server's (and the
	// odd ping answer).
	server := writeSyscalls(t) - before - n
	packets := (receivers + 1) * n // the sender gets its own circles too
	t.Logf("%d packets to %d clients in %d write(2) calls (%.1f packets per write)", packets, receivers+1, server, float64(packets)/float64(max(server, 1)))
	if server*2 > packets {
		t.Errorf("%d write(2) calls for %d packets: frames are not gathered", server, packets)
	}
}
