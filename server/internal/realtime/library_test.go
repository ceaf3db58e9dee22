package realtime

import (
	"context"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zishang520/socket.io/servers/socket/v3"

	"github.com/realtime-circles/realtime-circles/server/internal/sioclient"
)

// testServer is a Server with the default limits, closed when the test
// ends.
func testServer(t *testing.T) *Server {
	t.Helper()
	s := New(Options{Limits: defaultLimits})
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// serve serves s's handler over HTTP until the test ends; it returns the
// URL to dial.
func serve(t *testing.T, s *Server) string {
	t.Helper()
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return srv.URL
}

// churn connects n clients over transport and closes them, with s's
// handler served on a test server.
func churn(t *testing.T, s *Server, n int, transport sioclient.Transport) {
	t.Helper()
	url := serve(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range n {
		c, err := sioclient.Dial(ctx, url, sioclient.Options{Transport: transport})
		if err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		c.Close()
	}
}

// Every socket's task queue is freed after its session closes (the
// library's queue.New finalizer cycle kept every one: library.go).
func TestTaskQueuesFreed(t *testing.T) {
	s := testServer(t)
	var made, freed atomic.Int64
	s.io.Use(func(so *socket.Socket, next func(*socket.ExtendedError)) {
		q := taskQueueOf(so)
		if q == nil {
			t.Error("Socket.taskQueue not found: the library changed; revisit library.go")
		} else {
			made.Add(1)
			runtime.AddCleanup(q, func(*atomic.Int64) { freed.Add(1) }, &freed)
		}
		next(nil)
	})
	const n = 60
	churn(t, s, n, sioclient.WebSocket)
	deadline := time.Now().Add(10 * time.Second)
	for freed.Load() < made.Load() {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d task queues freed after their sessions closed", freed.Load(), made.Load())
		}
		runtime.GC()
		time.Sleep(20 * time.Millisecond) // polling the collector, not asserting
	}
	if made.Load() != n {
		t.Fatalf("%d sockets seen, want %d", made.Load(), n)
	}
}

// No client's connect-timeout goroutine outlives its session (a lost
// ClearTimeout left it waiting forever on a stopped timer: library.go).
func TestConnectTimersReleased(t *testing.T) {
	s := testServer(t)
	if connectTimerOf(&socket.Client{}) != nil {
		t.Fatal("a zero Client has no timer")
	}
	s.io.Use(func(so *socket.Socket, next func(*socket.ExtendedError)) {
		if connectTimerOf(so.Client()) == nil {
			t.Error("Client.connectTimeout not found: the library changed; revisit library.go")
		}
		next(nil)
	})
	const n = 300
	for _, tr := range []sioclient.Transport{sioclient.WebSocket, sioclient.Polling} {
		churn(t, s, n/2, tr)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		left := timerGoroutines()
		if left == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d connect-timeout goroutines left after %d sessions closed", left, n)
		}
		time.Sleep(20 * time.Millisecond) // polling for goroutines to end, not asserting
	}
}

// timerGoroutines counts goroutines waiting in the library's SetTimeout.
func timerGoroutines() int {
	buf := make([]byte, 4<<20)
	buf = buf[:runtime.Stack(buf, true)]
	return strings.Count(string(buf), "pkg/utils.SetTimeout.func1")
}
