package engineio_test

import (
	"bytes"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/realtime-circles/realtime-circles/server/internal/engineio"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// Over WebSocket each packet is one frame: text packets a text frame of
// the type digit and data; a binary message a binary frame, raw in v4 and
// prefixed with its type byte (4) in v3.
func TestWebSocketMessages(t *testing.T) {
	h := start(t, opts())
	eachVersion(t, func(t *testing.T, eio string) {
		c, _, _ := h.openWS(t, eio)
		writeText(t, c, "4héllo 😀")
		if got := h.nextData(t); got != "héllo 😀" {
			t.Fatalf("data %#v", got)
		}
		expectText(t, c, "4héllo 😀")

		frame := []byte{1, 2, 3}
		if eio == "3" {
			frame = []byte{4, 1, 2, 3}
		}
		if err := c.WriteMessage(websocket.BinaryMessage, frame); err != nil {
			t.Fatal(err)
		}
		if b, ok := h.nextData(t).(*types.BytesBuffer); !ok || !bytes.Equal(b.Bytes(), []byte{1, 2, 3}) {
			t.Fatal("binary data not bytes 1 2 3")
		}
		kind, got := read(t, c)
		if kind != websocket.BinaryMessage || !bytes.Equal(got, frame) {
			t.Fatalf("frame type %d %x, want binary %x", kind, got, frame)
		}
		// A text frame may carry base64 binary too ("b" in v4, "b4" in v3).
		b64 := map[string]string{"4": "b4AEC", "3": "b44AEC"}[eio]
		writeText(t, c, b64)
		if b, ok := h.nextData(t).(*types.BytesBuffer); !ok || !bytes.Equal(b.Bytes(), []byte{0xE0, 1, 2}) {
			t.Fatal("base64 data not bytes E0 01 02")
		}
		want := map[string][]byte{"4": {0xE0, 1, 2}, "3": {4, 0xE0, 1, 2}}[eio]
		if kind, got := read(t, c); kind != websocket.BinaryMessage || !bytes.Equal(got, want) {
			t.Fatalf("frame type %d %x, want binary %x", kind, got, want)
		}
		// An empty binary message is a message too.
		empty := []byte{}
		if eio == "3" {
			empty = []byte{4}
		}
		if err := c.WriteMessage(websocket.BinaryMessage, empty); err != nil {
			t.Fatal(err)
		}
		if b, ok := h.nextData(t).(*types.BytesBuffer); !ok || b.Len() != 0 {
			t.Fatal("empty binary data not empty bytes")
		}
		if kind, got := read(t, c); kind != websocket.BinaryMessage || !bytes.Equal(got, empty) {
			t.Fatalf("frame type %d %x, want binary %x", kind, got, empty)
		}
	})
}

// A frame over maxPayload closes the connection with 1009 (message too
// big) and the session; one of exactly maxPayload passes.
func TestWebSocketMaxPayload(t *testing.T) {
	o := opts()
	o.MaxPayload = 100
	h := start(t, o)
	eachVersion(t, func(t *testing.T, eio string) {
		c, _, sock := h.openWS(t, eio)
		at := "4" + strings.Repeat("x", 99)
		writeText(t, c, at)
		expectText(t, c, at)
		writeText(t, c, at+"x")
		if code := readClose(t, c); code != websocket.CloseMessageTooBig {
			t.Fatalf("close code %d, want %d", code, websocket.CloseMessageTooBig)
		}
		h.waitClose(t, sock.Id())
	})
}

// What is not an Engine.IO packet closes the connection with a close
// frame (a bare TCP close reads as 1006 in a browser) and the session
// with "parse error", as Node does.
func TestWebSocketInvalidPacket(t *testing.T) {
	h := start(t, opts())
	cases := []struct {
		eio   string
		name  string
		kind  int
		frame []byte
	}{
		{"4", "unknown type", websocket.TextMessage, []byte("9x")},
		{"4", "empty text", websocket.TextMessage, []byte("")},
		{"4", "bad base64", websocket.TextMessage, []byte("b!!notbase64")},
		{"3", "unknown type", websocket.TextMessage, []byte("x")},
		{"3", "binary without type", websocket.BinaryMessage, []byte{1, 2, 3}},
		{"3", "empty binary", websocket.BinaryMessage, []byte{}},
	}
	for _, tc := range cases {
		t.Run("v"+tc.eio+"/"+tc.name, func(t *testing.T) {
			c, _, sock := h.openWS(t, tc.eio)
			if err := c.WriteMessage(tc.kind, tc.frame); err != nil {
				t.Fatal(err)
			}
			if code := readClose(t, c); code == websocket.CloseAbnormalClosure {
				t.Fatal("closed without a close frame")
			}
			if reason := h.waitClose(t, sock.Id()); reason != "parse error" {
				t.Errorf("close reason %q, want parse error", reason)
			}
		})
	}
}

// Heartbeats go one way: a v4 client's ping, or a v3 client's pong, is a
// transport error (Node: invalid heartbeat direction), closed with a close
// frame.
func TestWebSocketHeartbeatDirection(t *testing.T) {
	h := start(t, opts())
	for eio, pkt := range map[string]string{"4": "2", "3": "3"} {
		t.Run("v"+eio, func(t *testing.T) {
			c, _, sock := h.openWS(t, eio)
			writeText(t, c, pkt)
			if code := readClose(t, c); code == websocket.CloseAbnormalClosure {
				t.Fatal("closed without a close frame")
			}
			if reason := h.waitClose(t, sock.Id()); reason != "transport error" {
				t.Errorf("close reason %q", reason)
			}
		})
	}
}

// An idle WebSocket connection waits in one goroutine with the smallest
// stack, 2 KB, even after handling a message grew its stack: the runtime
// never shrinks a stack below 4 KB once it has grown, so the reader waits
// for the next frame on a fresh goroutine.
//
// It measures in a fresh process of this test binary: a process that has
// run other tests keeps the stacks of their ended goroutines, and new
// goroutines reuse them without a change in the stack memory counted.
func TestIdleReaderStackSmall(t *testing.T) {
	if os.Getenv(stackChild) == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestIdleReaderStackSmall$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), stackChild+"=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("measuring process: %v\n%s", err, out)
		}
		t.Logf("measuring process:\n%s", out)
		return
	}
	const conns = 200
	handled := make(chan struct{}, conns)
	srv := engineio.New(opts())
	srv.On("connection", func(a ...any) {
		a[0].(*engineio.Socket).On("data", func(...any) {
			growStack(32) // as deep as a Socket.IO event handler, and more
			handled <- struct{}{}
		})
	})
	hs := httptest.NewServer(srv)
	t.Cleanup(func() { srv.Close(); hs.CloseClientConnections(); hs.Close() })
	url := "ws" + strings.TrimPrefix(hs.URL, "http") + "/engine.io/?EIO=4&transport=websocket"

	g0, stack0 := idleStacks()
	for range conns {
		c, _, err := (&websocket.Dialer{HandshakeTimeout: wait}).Dial(url, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		readText(t, c) // the open packet
		writeText(t, c, "4grow")
	}
	for range conns {
		select {
		case <-handled:
		case <-time.After(wait):
			t.Fatal("a message was not handled")
		}
	}
	g, stack := idleStacks()
	perConn := float64(stack-stack0) / conns / 1024
	t.Logf("%d idle connections: %.2f goroutines, %.2f KB of stack each", conns, float64(g-g0)/conns, perConn)
	if g-g0 > conns+conns/10 {
		t.Errorf("%d goroutines for %d idle connections, want one each", g-g0, conns)
	}
	if fresh := freshStack(conns); perConn > 1.5*fresh {
		t.Errorf("%.2f KB of stack per idle connection, want a fresh goroutine's %.2f", perConn, fresh)
	}
}

// freshStack is the stack of a goroutine that has only waited, in KB:
// 2 KB, or more in a -race build.
func freshStack(n int) float64 {
	_, stack0 := idleStacks()
	var started, ended sync.WaitGroup
	release := make(chan struct{})
	for range n {
		started.Add(1)
		ended.Add(1)
		go func() {
			defer ended.Done()
			started.Done()
			<-release
		}()
	}
	started.Wait()
	_, stack := idleStacks()
	close(release)
	ended.Wait()
	return float64(stack-stack0) / float64(n) / 1024
}

// stackChild is set in the environment of the measuring process.
const stackChild = "ENGINEIO_TEST_STACK_CHILD"

// growStack uses about n × 512 bytes of stack.
//
//go:noinline
func growStack(n int) byte {
	var pad [512]byte
	pad[n%len(pad)] = byte(n)
	if n == 0 {
		return pad[0]
	}
	return growStack(n-1) + pad[n%len(pad)]
}

// idleStacks is the goroutine count and stack memory once the collector
// has shrunk what it can: one halving per cycle, so several cycles.
func idleStacks() (goroutines int, stack uint64) {
	var m runtime.MemStats
	for range 6 {
		runtime.GC()
	}
	runtime.ReadMemStats(&m)
	return runtime.NumGoroutine(), m.StackInuse
}
