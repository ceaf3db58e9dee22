package engineio_test

import (
	"net/http"
	"strings"
	"testing"
)

// Pages of the server's own origin and of the allowed origins may open
// sessions, and get Access-Control-Allow-Origin/-Credentials for their
// origin; a preflight is answered 204; a page of any other origin is
// refused 403 (code 4) on both transports. Requests without Origin (not
// from a page) pass.
func TestCORS(t *testing.T) {
	const allowed, foreign = "https://allowed.example", "https://evil.example"
	o := opts()
	o.AllowedOrigins = []string{allowed}
	h := start(t, o)
	origin := func(o string) http.Header { return http.Header{"Origin": {o}} }

	for name, org := range map[string]string{"listed": allowed, "own": h.hs.URL} {
		t.Run("allowed "+name, func(t *testing.T) {
			r := h.do(t, http.MethodGet, "EIO=4&transport=polling", nil, origin(org))
			if r.status != 200 {
				t.Fatalf("handshake: %s", r)
			}
			if got := r.header.Get("Access-Control-Allow-Origin"); got != org {
				t.Errorf("Access-Control-Allow-Origin %q, want %q", got, org)
			}
			if got := r.header.Get("Access-Control-Allow-Credentials"); got != "true" {
				t.Errorf("Access-Control-Allow-Credentials %q", got)
			}
			sid := parseOpen(t, decode(t, "4", r)[0]).Sid
			h.sock(t)
			r = h.do(t, http.MethodPost, "EIO=4&transport=polling&sid="+sid, strings.NewReader("4x"), origin(org))
			if r.status != 200 || r.header.Get("Access-Control-Allow-Origin") != org {
				t.Fatalf("post: %s, ACAO %q", r, r.header.Get("Access-Control-Allow-Origin"))
			}
			c, res, err := h.tryDial("EIO=4&transport=websocket", origin(org))
			if err != nil {
				t.Fatalf("WebSocket from %s: %v", org, err)
			}
			res.Body.Close()
			c.Close()
			h.sock(t)
		})
	}
	t.Run("preflight", func(t *testing.T) {
		hdr := origin(allowed)
		hdr.Set("Access-Control-Request-Method", "POST")
		hdr.Set("Access-Control-Request-Headers", "content-type")
		r := h.do(t, http.MethodOptions, "EIO=4&transport=polling", nil, hdr)
		if r.status != http.StatusNoContent {
			t.Fatalf("preflight: %s", r)
		}
		if got := r.header.Get("Access-Control-Allow-Origin"); got != allowed {
			t.Errorf("Access-Control-Allow-Origin %q", got)
		}
		if got := r.header.Get("Access-Control-Allow-Methods"); !strings.Contains(got, "POST") {
			t.Errorf("Access-Control-Allow-Methods %q", got)
		}
		if got := strings.ToLower(r.header.Get("Access-Control-Allow-Headers")); !strings.Contains(got, "content-type") {
			t.Errorf("Access-Control-Allow-Headers %q", got)
		}
	})
	t.Run("foreign", func(t *testing.T) {
		for _, eio := range []string{"4", "3"} {
			r := h.do(t, http.MethodGet, "EIO="+eio+"&transport=polling", nil, origin(foreign))
			if r.status != 403 || r.header.Get("Access-Control-Allow-Origin") != "" {
				t.Fatalf("foreign handshake: %s, ACAO %q", r, r.header.Get("Access-Control-Allow-Origin"))
			}
			assertCode(t, r, 403, 4)
			if r := h.do(t, http.MethodOptions, "EIO="+eio+"&transport=polling", nil, origin(foreign)); r.status != 403 {
				t.Fatalf("foreign preflight: %s", r)
			}
			c, res, err := h.tryDial("EIO="+eio+"&transport=websocket", origin(foreign))
			if err == nil {
				c.Close()
				t.Fatal("foreign WebSocket upgraded")
			}
			if res == nil || res.StatusCode != 403 {
				t.Fatalf("foreign WebSocket: %v", err)
			}
			// An open session is not reachable from a foreign page either.
			p, _, _ := h.openPolling(t, eio, "")
			if r := h.do(t, http.MethodGet, p.q(), nil, origin(foreign)); r.status != 403 {
				t.Fatalf("foreign poll: %s", r)
			}
		}
		select {
		case s := <-h.socks:
			t.Fatalf("a foreign page opened session %s", s.Id())
		default:
		}
	})
	t.Run("any", func(t *testing.T) {
		o := opts()
		o.AllowedOrigins = []string{"*"}
		h := start(t, o)
		r := h.do(t, http.MethodGet, "EIO=4&transport=polling", nil, origin(foreign))
		if r.status != 200 || r.header.Get("Access-Control-Allow-Origin") != foreign {
			t.Fatalf("with *: %s, ACAO %q", r, r.header.Get("Access-Control-Allow-Origin"))
		}
	})
}
