package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// testServer is the real server, started through run() on a free port.
type testServer struct {
	URL  string // http://127.0.0.1:port
	Port int
	stop context.CancelFunc
	done chan error
	once sync.Once
	logs *syncBuffer
}

// startServer runs the server with the given environment until the test ends.
func startServer(t testing.TB, env map[string]string, args ...string) *testServer {
	t.Helper()
	port := freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	s := &testServer{
		URL:  "http://127.0.0.1:" + strconv.Itoa(port),
		Port: port,
		stop: cancel,
		done: make(chan error, 1),
		logs: &syncBuffer{},
	}
	getenv := func(k string) string {
		if v, set := env[k]; set || k != "METRICS_TOKEN" {
			return v
		}
		return testMetricsToken // tests read /metrics on the public port
	}
	argv := append([]string{"server", "-addr", "127.0.0.1:" + strconv.Itoa(port), "-dir", ".."}, args...)
	go func() { s.done <- run(ctx, argv, getenv, s.logs) }()
	t.Cleanup(func() {
		s.Stop(t)
		if t.Failed() {
			s.dumpWarnings(t)
		}
	})
	s.waitReady(t)
	return s
}

// Stop shuts the server down and fails the test if run returned an error.
// A test may stop a server early; the cleanup's second Stop is a no-op.
func (s *testServer) Stop(t testing.TB) {
	t.Helper()
	s.once.Do(func() { s.stopOnce(t) })
}

func (s *testServer) stopOnce(t testing.TB) {
	t.Helper()
	s.stop()
	select {
	case err, ok := <-s.done:
		if !ok {
			return
		}
		if err != nil {
			t.Errorf("run: %v", err)
		}
		close(s.done)
	case <-time.After(30 * time.Second):
		t.Errorf("server did not stop within 30s")
	}
}

// dumpWarnings prints the server's warnings and errors, which say why a
// connection was closed or an event refused.
func (s *testServer) dumpWarnings(t testing.TB) {
	t.Helper()
	n := 0
	for _, line := range strings.Split(s.logs.String(), "\n") {
		if strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") {
			if n++; n <= 40 {
				t.Log("server: " + line)
			}
		}
	}
	if n > 40 {
		t.Logf("server: … %d more warnings", n-40)
	}
}

func (s *testServer) waitReady(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-s.done:
			t.Fatalf("server exited early: %v\n%s", err, s.logs.String())
		default:
		}
		resp, err := http.Get(s.URL + "/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond) // polling for readiness, not asserting
	}
	t.Fatalf("server not ready in 20s\n%s", s.logs.String())
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// syncBuffer collects the server's log output safely across goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *syncBuffer) Contains(s string) bool {
	return bytes.Contains([]byte(b.String()), []byte(s))
}

// testMetricsToken is METRICS_TOKEN in tests that do not set their own.
const testMetricsToken = "test-metrics-token"

// getMetrics reads /metrics with the test token.
func getMetrics(t testing.TB, s *testServer) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.URL+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testMetricsToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
