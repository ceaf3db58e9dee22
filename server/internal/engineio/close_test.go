package engineio_test

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gorilla/websocket"
)

// A client's close packet closes the session ("transport close"); its
// sid is unknown afterwards.
func TestClientClose(t *testing.T) {
	h := start(t, opts())
	eachVersion(t, func(t *testing.T, eio string) {
		t.Run("polling", func(t *testing.T) {
			p, _, sock := h.openPolling(t, eio, "")
			p.send(t, "1")
			if reason := h.waitClose(t, sock.Id()); reason != "transport close" {
				t.Fatalf("close reason %q", reason)
			}
			assertError(t, h.do(t, http.MethodGet, p.q(), nil, nil), 400, 1, "Session ID unknown")
		})
		t.Run("websocket", func(t *testing.T) {
			c, _, sock := h.openWS(t, eio)
			writeText(t, c, "1")
			if reason := h.waitClose(t, sock.Id()); reason != "transport close" {
				t.Fatalf("close reason %q", reason)
			}
			if code := readClose(t, c); code == websocket.CloseAbnormalClosure {
				t.Error("closed without a close frame")
			}
		})
		t.Run("websocket close frame", func(t *testing.T) {
			c, _, sock := h.openWS(t, eio)
			msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
			if err := c.WriteMessage(websocket.CloseMessage, msg); err != nil {
				t.Fatal(err)
			}
			if reason := h.waitClose(t, sock.Id()); reason != "transport close" {
				t.Fatalf("close reason %q", reason)
			}
		})
	})
}

// The server closing a session: what is queued goes first, then the
// close packet; a waiting poll gets it at once, otherwise the next poll
// collects it; Close(true) discards, and the sid is unknown at once.
func TestServerClose(t *testing.T) {
	h := start(t, opts())
	eachVersion(t, func(t *testing.T, eio string) {
		t.Run("waiting poll", func(t *testing.T) {
			p, _, sock := h.openPolling(t, eio, "")
			waiting := p.pollAsync()
			waitPending(t, sock)
			sock.Close(false)
			r := await(t, waiting)
			if got := decode(t, eio, r); r.status != 200 || !slices.Equal(got, []string{"1"}) {
				t.Fatalf("waiting poll: %s", r)
			}
			if reason := h.waitClose(t, sock.Id()); reason != "forced close" {
				t.Errorf("close reason %q", reason)
			}
			assertError(t, h.do(t, http.MethodGet, p.q(), nil, nil), 400, 1, "Session ID unknown")
		})
		t.Run("queued then close packet", func(t *testing.T) {
			p, _, sock := h.openPolling(t, eio, "")
			sock.Write(strings.NewReader("m1"), nil, nil)
			sock.Write(strings.NewReader("m2"), nil, nil)
			sock.Close(false)
			if got := p.get(t); !slices.Equal(got, []string{"4m1", "4m2", "1"}) {
				t.Fatalf("poll %q, want the queued messages then the close packet", got)
			}
			if reason := h.waitClose(t, sock.Id()); reason != "forced close" {
				t.Errorf("close reason %q", reason)
			}
		})
		t.Run("discard", func(t *testing.T) {
			p, _, sock := h.openPolling(t, eio, "")
			sock.Close(true)
			h.waitClose(t, sock.Id())
			assertError(t, h.do(t, http.MethodGet, p.q(), nil, nil), 400, 1, "Session ID unknown")
		})
		t.Run("websocket queued then close frame", func(t *testing.T) {
			c, _, sock := h.openWS(t, eio)
			sock.Write(strings.NewReader("m1"), nil, nil)
			sock.Write(strings.NewReader("m2"), nil, nil)
			sock.Close(false)
			expectText(t, c, "4m1")
			expectText(t, c, "4m2")
			if code := readClose(t, c); code == websocket.CloseAbnormalClosure {
				t.Error("closed without a close frame")
			}
			h.waitClose(t, sock.Id())
		})
		t.Run("server shutdown", func(t *testing.T) {
			h := start(t, opts())
			p, _, sock := h.openPolling(t, eio, "")
			waiting := p.pollAsync()
			waitPending(t, sock)
			c, _, wsock := h.openWS(t, eio)
			h.srv.Close()
			r := await(t, waiting)
			if got := decode(t, eio, r); r.status != 200 || !slices.Equal(got, []string{"1"}) {
				t.Fatalf("waiting poll: %s", r)
			}
			if code := readClose(t, c); code == websocket.CloseAbnormalClosure {
				t.Error("closed without a close frame")
			}
			h.waitClose(t, sock.Id())
			h.waitClose(t, wsock.Id())
			assertError(t, h.do(t, http.MethodGet, "EIO="+eio+"&transport=polling", nil, nil), 403, 4, "server shutting down")
		})
	})
}

// A poll racing the client's close packet gets a valid answer, a noop or
// the close packet (or, if it comes after the session ended, 400 unknown
// sid), and is never held or answered empty.
func TestPollRacingClose(t *testing.T) {
	h := start(t, opts())
	eachVersion(t, func(t *testing.T, eio string) {
		t.Run("waiting", func(t *testing.T) {
			for range 10 {
				p, _, sock := h.openPolling(t, eio, "")
				waiting := p.pollAsync()
				waitPending(t, sock)
				p.send(t, "1")
				r := await(t, waiting)
				got := decode(t, eio, r)
				if r.status != 200 || !slices.Equal(got, []string{"6"}) && !slices.Equal(got, []string{"1"}) {
					t.Fatalf("waiting poll: %s", r)
				}
				if reason := h.waitClose(t, sock.Id()); reason != "transport close" {
					t.Fatalf("close reason %q", reason)
				}
			}
		})
		t.Run("concurrent", func(t *testing.T) {
			for range 20 {
				p, _, sock := h.openPolling(t, eio, "")
				var wg sync.WaitGroup
				var post result
				wg.Add(1)
				go func() {
					defer wg.Done()
					post.reply, post.err = h.try(http.MethodPost, p.q(), strings.NewReader(encode(eio, "1")), nil)
				}()
				r := await(t, p.pollAsync())
				wg.Wait()
				if post.err != nil || post.status != 200 {
					t.Fatalf("close POST: %v %s", post.err, post.reply)
				}
				switch r.status {
				case 200:
					got := decode(t, eio, r)
					if !slices.Equal(got, []string{"6"}) && !slices.Equal(got, []string{"1"}) {
						t.Fatalf("poll racing the close: %q", got)
					}
				case 400:
					assertError(t, r, 400, 1, "Session ID unknown")
				default:
					t.Fatalf("poll racing the close: %s", r)
				}
				h.waitClose(t, sock.Id())
			}
		})
	})
}
