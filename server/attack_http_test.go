package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Adversarial HTTP tests (issue 11): each attack of the table,
// bounded in count and time, against 127.0.0.1 only.

// rawConn opens a TCP connection to the test server.
func rawConn(t testing.TB, s *testServer) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(s.URL, "http://"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedByServer waits until the server closes c (a read returns EOF or
// a reset), up to within; it reports how long that took.
func closedByServer(c net.Conn, within time.Duration) (time.Duration, bool) {
	start := time.Now()
	_ = c.SetReadDeadline(start.Add(within))
	_, err := io.Copy(io.Discard, c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return time.Since(start), false
	}
	return time.Since(start), true
}

// Idle keep-alive connections are closed after the idle timeout (Node:
// 5 s); before the fix they stayed open for good.
func TestAttackIdleKeepAlive(t *testing.T) {
	s := startServer(t, nil, "-http-idle-timeout", "1s")
	const n = 100
	conns := make([]net.Conn, n)
	for i := range conns {
		c := rawConn(t, s)
		fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		conns[i] = c
	}
	closed := parallelClosed(conns, 10*time.Second)
	if closed != n {
		t.Fatalf("%d of %d idle keep-alive connections closed within 10s", closed, n)
	}
}

func parallelClosed(conns []net.Conn, within time.Duration) int {
	var wg sync.WaitGroup
	var mu sync.Mutex
	closed := 0
	for _, c := range conns {
		wg.Go(func() {
			if _, ok := closedByServer(c, within); ok {
				mu.Lock()
				closed++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return closed
}

// A polling POST trickling its body a byte at a time is cut off at the
// body deadline; before the fix it held its connection for ever.
func TestAttackSlowBody(t *testing.T) {
	s := startServer(t, nil, "-http-body-timeout", "1s")
	sid := pollingSID(t, s)
	const n = 100
	conns := make([]net.Conn, n)
	for i := range conns {
		c := rawConn(t, s)
		fmt.Fprintf(c, "POST /socket.io/?EIO=4&transport=polling&sid=%s HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 16000\r\n\r\n4", sid)
		conns[i] = c
	}
	if closed := parallelClosed(conns, 10*time.Second); closed != n {
		t.Fatalf("%d of %d slow-body connections closed within 10s", closed, n)
	}
}

func pollingSID(t testing.TB, s *testServer) string {
	t.Helper()
	resp, err := http.Get(s.URL + "/socket.io/?EIO=4&transport=polling")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	open := string(b)
	i := strings.Index(open, `"sid":"`)
	if i < 0 {
		t.Fatalf("open packet %q", open)
	}
	return open[i+7 : i+7+strings.Index(open[i+7:], `"`)]
}

// Headers over 16 KiB get 431, as from Node; before the fix 1 MiB of
// headers was accepted.
func TestAttackHugeHeaders(t *testing.T) {
	s := startServer(t, nil)
	get := func(headerBytes int) int {
		req, _ := http.NewRequest(http.MethodGet, s.URL+"/healthz", nil)
		req.Header.Set("X-Big", strings.Repeat("a", headerBytes))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%d bytes of headers: %v", headerBytes, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get(15 << 10); code != http.StatusOK {
		t.Errorf("15 KiB of headers: %d, want 200", code)
	}
	for _, size := range []int{17 << 10, 1 << 20} {
		if code := get(size); code != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("%d bytes of headers: %d, want 431", size, code)
		}
	}
}

// Long paths are answered 404 or 414, never 500.
func TestAttackLongPaths(t *testing.T) {
	s := startServer(t, nil)
	long := strings.Repeat("a", 300)
	for _, path := range []string{
		"/" + long, "/javascripts/" + long, "/b/" + long, "/" + long + "/x", "/socket.io/" + long,
		"/" + strings.Repeat("a", 9<<10), "/?q=" + strings.Repeat("a", 9<<10),
	} {
		code, _ := httpDo(t, http.MethodGet, s.URL+path, nil)
		if code != http.StatusNotFound && code != http.StatusRequestURITooLong && code != http.StatusRequestHeaderFieldsTooLarge && code != http.StatusBadRequest {
			t.Errorf("GET %.40s… (%d bytes): %d, want 404/414/431", path, len(path), code)
		}
	}
}

// A flood of connections beyond MAX_CONNS is refused at accept (closed at
// once), the node keeps serving, and descriptors return to baseline.
func TestAttackConnFlood(t *testing.T) {
	s := startServer(t, map[string]string{"MAX_CONNS": "40"})
	baseFD := openFDs(t)
	const n = 200
	conns := make([]net.Conn, 0, n)
	for range n {
		c, err := net.DialTimeout("tcp", strings.TrimPrefix(s.URL, "http://"), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	// The server closes every connection beyond the cap at once.
	refused := parallelClosed(conns, time.Second)
	if refused < n-40 {
		t.Errorf("%d of %d connections over MAX_CONNS=40 closed at once, want ≥ %d", refused, n, n-40)
	}
	for _, c := range conns {
		c.Close()
	}
	// Once the flood is gone the node serves again and its descriptors
	// come back (polled: closes are asynchronous).
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, _ := httpDo(t, http.MethodGet, s.URL+"/healthz", nil)
		fd := openFDs(t)
		if code == http.StatusOK && fd <= baseFD+5 {
			t.Logf("descriptors %d → %d, %d refused", baseFD, fd, refused)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the flood: /healthz %d, %d descriptors (baseline %d)", code, fd, baseFD)
		}
		time.Sleep(50 * time.Millisecond) // polling for the closes, not asserting
	}
	if !s.logs.Contains("node at MAX_CONNS") {
		t.Error("no log line for refused connections")
	}
}

func openFDs(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	return len(ents)
}

// /metrics is not public: 404 without METRICS_TOKEN, 401 with a wrong
// token, 200 with the right one; METRICS_ADDR serves it on its own
// listener without a token.
func TestMetricsPrivate(t *testing.T) {
	port := freePort(t)
	open := startServer(t, map[string]string{"METRICS_TOKEN": "", "METRICS_ADDR": "127.0.0.1:" + strconv.Itoa(port)})
	if code, _ := httpDo(t, http.MethodGet, open.URL+"/metrics", nil); code != http.StatusNotFound {
		t.Errorf("/metrics without METRICS_TOKEN: %d, want 404", code)
	}
	code, body := httpDo(t, http.MethodGet, "http://127.0.0.1:"+strconv.Itoa(port)+"/metrics", nil)
	if code != http.StatusOK || !strings.Contains(body, "circles_connected_clients") {
		t.Errorf("METRICS_ADDR /metrics: %d %.80q", code, body)
	}

	s := startServer(t, map[string]string{"METRICS_TOKEN": "sesame"})
	for _, auth := range []string{"", "Bearer wrong", "sesame", "Bearer sesame2"} {
		req, _ := http.NewRequest(http.MethodGet, s.URL+"/metrics", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("/metrics with Authorization %q: %d, want 401", auth, resp.StatusCode)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer sesame")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/metrics with the token: %d", resp.StatusCode)
	}
}
