package engineio_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// probe opens a WebSocket for p's session and probes it: "2probe" is
// answered "3probe".
func probe(t *testing.T, p *poller) *websocket.Conn {
	t.Helper()
	c := p.h.dial(t, "EIO="+p.eio+"&transport=websocket&sid="+p.sid)
	writeText(t, c, "2probe")
	expectText(t, c, "3probe")
	return c
}

// The upgrade: the probe is answered, the waiting poll is released with a
// noop so the client can pause polling, "5" moves the session, what was
// queued meanwhile goes over the WebSocket, and polling is over: a GET or
// POST after the upgrade is answered 400.
func TestUpgrade(t *testing.T) {
	h := start(t, opts())
	eachVersion(t, func(t *testing.T, eio string) {
		p, _, sock := h.openPolling(t, eio, "")
		waiting := p.pollAsync()
		waitPending(t, sock)
		c := probe(t, p)
		r := await(t, waiting)
		if got := decode(t, eio, r); r.status != 200 || !slices.Equal(got, []string{"6"}) {
			t.Fatalf("waiting poll after the probe: %s", r)
		}
		sock.Write(strings.NewReader("q1"), nil, nil)
		sock.Write(strings.NewReader("q2"), nil, nil)
		writeText(t, c, "5")
		h.waitUpgrade(t, sock.Id())
		expectText(t, c, "4q1")
		expectText(t, c, "4q2")
		if name := sock.Transport().Name(); name != "websocket" {
			t.Fatalf("transport %q after the upgrade", name)
		}
		writeText(t, c, "4echo")
		expectText(t, c, "4echo")
		assertError(t, h.do(t, http.MethodGet, p.q(), nil, nil), 400, 3, "Bad request")
		assertError(t, h.do(t, http.MethodPost, p.q(), strings.NewReader(encode(eio, "4x")), nil), 400, 3, "Bad request")
		h.assertOpen(t, sock.Id())
		writeText(t, c, "4still")
		expectText(t, c, "4still")
	})
}

// Packets queued around the upgrade arrive exactly once and in order:
// what a poll collected is not sent again over the WebSocket.
func TestUpgradeDeliversQueuedOnce(t *testing.T) {
	h := start(t, opts())
	eachVersion(t, func(t *testing.T, eio string) {
		p, _, sock := h.openPolling(t, eio, "")
		write := func(s string) { sock.Write(strings.NewReader(s), nil, nil) }
		write("m1")
		if got := p.get(t); !slices.Equal(got, []string{"4m1"}) {
			t.Fatalf("poll %q", got)
		}
		c := probe(t, p)
		write("m2")
		if got := p.get(t); !slices.Equal(got, []string{"4m2"}) {
			t.Fatalf("poll during the probe %q", got)
		}
		write("m3")
		write("m4")
		writeText(t, c, "5")
		write("m5")
		for _, want := range []string{"4m3", "4m4", "4m5"} {
			expectText(t, c, want)
		}
		write("m6")
		expectText(t, c, "4m6")
	})
}

// A poll that comes right after "5" is answered at once (a noop before
// the upgrade lands, 400 after), never held; once upgraded, always 400.
func TestUpgradeThenPoll(t *testing.T) {
	h := start(t, opts())
	eachVersion(t, func(t *testing.T, eio string) {
		for range 20 {
			p, _, sock := h.openPolling(t, eio, "")
			c := probe(t, p)
			writeText(t, c, "5")
			begin := time.Now()
			r := h.do(t, http.MethodGet, p.q(), nil, nil)
			if d := time.Since(begin); d > 2*time.Second {
				t.Fatalf("poll after 5 held %v", d)
			}
			switch r.status {
			case 200:
				if got := decode(t, eio, r); !slices.Equal(got, []string{"6"}) {
					t.Fatalf("poll after 5: %q", got)
				}
			case 400:
				assertError(t, r, 400, 3, "Bad request")
			default:
				t.Fatalf("poll after 5: %s", r)
			}
			h.waitUpgrade(t, sock.Id())
			assertError(t, h.do(t, http.MethodGet, p.q(), nil, nil), 400, 3, "Bad request")
			c.Close()
		}
	})
}

// refused reports whether an upgrade attempt was refused: either the
// handshake was answered 400, or the probe was closed unanswered.
func refused(t *testing.T, h *harness, p *poller) {
	t.Helper()
	c, res, err := h.tryDial("EIO="+p.eio+"&transport=websocket&sid="+p.sid, nil)
	if err != nil {
		if res == nil || res.StatusCode != 400 {
			t.Fatalf("second upgrade: %v", err)
		}
		return
	}
	defer c.Close()
	writeText(t, c, "2probe")
	_ = c.SetReadDeadline(time.Now().Add(wait))
	if _, b, err := c.ReadMessage(); err == nil {
		t.Fatalf("second probe answered %q", b)
	}
}

// One upgrade per session: a second WebSocket while probing, or after the
// upgrade, is refused and the first keeps working.
func TestUpgradeSecondAttempt(t *testing.T) {
	h := start(t, opts())
	eachVersion(t, func(t *testing.T, eio string) {
		p, _, sock := h.openPolling(t, eio, "")
		c := probe(t, p)
		refused(t, h, p)
		writeText(t, c, "5")
		h.waitUpgrade(t, sock.Id())
		refused(t, h, p)
		writeText(t, c, "4ok")
		expectText(t, c, "4ok")
		h.assertOpen(t, sock.Id())
	})
}

// A probe not completed within upgradeTimeout, or answered with anything
// but "5", is dropped; the session stays on polling, and may upgrade later.
func TestUpgradeAbandoned(t *testing.T) {
	o := opts()
	o.UpgradeTimeout = 100 * time.Millisecond
	h := start(t, o)
	eachVersion(t, func(t *testing.T, eio string) {
		for _, tc := range []struct {
			name  string
			after func(t *testing.T, c *websocket.Conn)
		}{
			{"timeout after the probe", func(*testing.T, *websocket.Conn) {}},
			{"wrong packet", func(t *testing.T, c *websocket.Conn) { writeText(t, c, "4not an upgrade") }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				p, _, sock := h.openPolling(t, eio, "")
				c := probe(t, p)
				tc.after(t, c)
				readClose(t, c) // the server ends the probe
				h.assertOpen(t, sock.Id())
				if name := sock.Transport().Name(); name != "polling" {
					t.Fatalf("transport %q", name)
				}
				p.send(t, "4still polling")
				if got := p.get(t); !slices.Equal(got, []string{"4still polling"}) {
					t.Fatalf("poll %q", got)
				}
				// A later upgrade goes through.
				c = probe(t, p)
				writeText(t, c, "5")
				h.waitUpgrade(t, sock.Id())
				writeText(t, c, "4up")
				expectText(t, c, "4up")
			})
		}
		t.Run("timeout without a probe", func(t *testing.T) {
			p, _, sock := h.openPolling(t, eio, "")
			c := h.dial(t, "EIO="+eio+"&transport=websocket&sid="+p.sid)
			readClose(t, c)
			h.assertOpen(t, sock.Id())
			p.send(t, "4x")
			if got := p.get(t); !slices.Equal(got, []string{"4x"}) {
				t.Fatalf("poll %q", got)
			}
		})
	})
}
