package engineio_test

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/realtime-circles/realtime-circles/server/internal/engineio"
)

// receiver reads one client's messages, whatever its transport.
type receiver interface {
	next(t *testing.T) string
}

type wsReceiver struct{ c *websocket.Conn }

func (r wsReceiver) next(t *testing.T) string { t.Helper(); return readText(t, r.c) }

type pollReceiver struct {
	p       *poller
	pending []string
}

func (r *pollReceiver) next(t *testing.T) string {
	t.Helper()
	for len(r.pending) == 0 {
		r.pending = r.p.get(t)
	}
	s := r.pending[0]
	r.pending = r.pending[1:]
	return s
}

// SendMessage: one shared message to many sockets arrives once at each,
// in order with what else each is sent, over every transport and version.
func TestSendMessage(t *testing.T) {
	h := start(t, opts())
	type client struct {
		name string
		recv receiver
		sock *engineio.Socket
	}
	var clients []client
	for _, eio := range []string{"4", "3"} {
		c, _, sock := h.openWS(t, eio)
		clients = append(clients, client{"websocket v" + eio, wsReceiver{c}, sock})
		p, _, psock := h.openPolling(t, eio, "")
		clients = append(clients, client{"polling v" + eio, &pollReceiver{p: p}, psock})
	}
	m1 := engineio.NewMessage(`2["add-circle",{"x":1}]`)
	m2 := engineio.NewMessage(`2["clear"]`)
	for i, c := range clients {
		c.sock.Write(strings.NewReader(fmt.Sprint("own", i)), nil, nil)
		if !c.sock.SendMessage(m1) {
			t.Fatalf("%s: SendMessage refused", c.name)
		}
		c.sock.Write(strings.NewReader("between"), nil, nil)
		c.sock.SendMessage(m2)
		c.sock.Write(strings.NewReader("end"), nil, nil)
	}
	for i, c := range clients {
		want := []string{fmt.Sprint("4own", i), "4" + m1.Text(), "4between", "4" + m2.Text(), "4end"}
		var got []string
		for range want {
			got = append(got, c.recv.next(t))
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s got %q, want %q", c.name, got, want)
		}
		// Nothing more: the next message is the next one sent.
		c.sock.Write(strings.NewReader("after"), nil, nil)
		if got := c.recv.next(t); got != "4after" {
			t.Errorf("%s: %q after the sequence", c.name, got)
		}
	}
	// A closed socket takes no more.
	clients[0].sock.Close(true)
	h.waitClose(t, clients[0].sock.Id())
	if clients[0].sock.SendMessage(m1) {
		t.Error("SendMessage to a closed socket accepted")
	}
}

// A client that stops reading is dropped once MaxQueue packets wait for
// it; sending to it never blocks, and other clients get all theirs.
func TestSlowConsumerDropped(t *testing.T) {
	o := opts()
	o.MaxQueue = 16
	h := startEcho(t, o, false)
	_, _, slow := h.openWS(t, "4") // never read again
	fastConn, _, fast := h.openWS(t, "4")
	got := make(chan string, 1024)
	go func() {
		for {
			_ = fastConn.SetReadDeadline(time.Now().Add(2 * wait))
			_, b, err := fastConn.ReadMessage()
			if err != nil {
				close(got)
				return
			}
			got <- string(b)
		}
	}()

	// Both get every message; the loop goes on once the fast client has
	// read it, so only a client that reads nothing falls behind.
	big := engineio.NewMessage(strings.Repeat("x", 256<<10))
	var slowest time.Duration
	sends := 0
	for dropped := false; !dropped; sends++ {
		if sends == 10000 {
			t.Fatal("a client that reads nothing was never dropped")
		}
		begin := time.Now()
		dropped = !slow.SendMessage(big)
		if !fast.SendMessage(big) {
			t.Fatalf("the reading client was dropped after %d messages", sends)
		}
		slowest = max(slowest, time.Since(begin))
		select {
		case s, ok := <-got:
			if !ok || s != "4"+big.Text() {
				t.Fatalf("fast client: message %d missing or wrong (%d bytes)", sends, len(s))
			}
		case <-time.After(wait):
			t.Fatalf("fast client did not get message %d while the slow one lags", sends)
		}
	}
	t.Logf("dropped after %d messages of 256 KiB; slowest send %v", sends, slowest)
	if sends <= o.MaxQueue {
		t.Errorf("dropped after %d messages, before %d could queue", sends, o.MaxQueue)
	}
	if slowest > time.Second {
		t.Errorf("a send took %v: sends block on a slow client", slowest)
	}
	if reason := h.waitClose(t, slow.Id()); reason != "transport error" {
		t.Errorf("slow client's close reason %q", reason)
	}
	fast.Write(strings.NewReader("done"), nil, nil)
	if s := <-got; s != "4done" {
		t.Fatalf("fast client got %q, want 4done", s)
	}
	h.assertOpen(t, fast.Id())
}

// writeSyscalls is this process's count of write(2)-family calls so far.
func writeSyscalls(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		t.Fatalf("reading write syscalls: %v", err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "syscw: "); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				t.Fatalf("syscw %q: %v", v, err)
			}
			return n
		}
	}
	t.Fatalf("no syscw in /proc/self/io:\n%s", b)
	return 0
}

// A connection with a backlog writes it with few writev calls, not one
// write per message: here a client reads nothing until 2000 messages of
// 8 KB are queued for it, then everything arrives, in order.
func TestBacklogWrittenTogether(t *testing.T) {
	o := opts()
	o.MaxQueue = 10000
	h := startEcho(t, o, false)
	c, _, sock := h.openWS(t, "4")
	if !sock.Writable() {
		t.Fatal("a fresh WebSocket session is not writable")
	}
	const n = 2000
	body := strings.Repeat("x", 8<<10)
	before := writeSyscalls(t)
	for i := range n {
		if !sock.SendMessage(engineio.NewMessage(fmt.Sprintf("%05d%s", i, body))) {
			t.Fatalf("message %d refused", i)
		}
	}
	// 16 MB cannot all be in the socket buffers: the client is behind,
	// and volatile messages would be dropped for it.
	if sock.Writable() {
		t.Error("a session with a 16 MB backlog reports writable")
	}
	for i := range n {
		_, b := read(t, c)
		if want := fmt.Sprintf("4%05d", i); !strings.HasPrefix(string(b), want) || len(b) != len(body)+6 {
			t.Fatalf("message %d: %.10q (%d bytes), want %s…", i, b, len(b), want)
		}
	}
	writes := writeSyscalls(t) - before
	t.Logf("%d messages of 8 KB in %d write calls (%.1f per call)", n, writes, float64(n)/float64(max(writes, 1)))
	if writes*4 > n {
		t.Errorf("%d write calls for %d queued messages: a backlog is not written together", writes, n)
	}
}
