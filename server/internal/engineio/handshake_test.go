package engineio_test

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// The open packet carries sid, upgrades (["websocket"] from polling,
// [] from WebSocket: nothing to upgrade to), pingInterval, pingTimeout and
// maxPayload; a polling answer is text/plain; charset=UTF-8.
func TestHandshakeFields(t *testing.T) {
	o := opts()
	o.PingInterval, o.PingTimeout, o.MaxPayload = 1234*time.Millisecond, 5678*time.Millisecond, 4321
	h := start(t, o)
	check := func(t *testing.T, hf handshakeFields, upgrades []string) {
		t.Helper()
		if len(hf.Sid) < 16 {
			t.Errorf("sid %q: too short to be unguessable", hf.Sid)
		}
		if !slices.Equal(hf.Upgrades, upgrades) {
			t.Errorf("upgrades %q, want %q", hf.Upgrades, upgrades)
		}
		if hf.PingInterval != 1234 || hf.PingTimeout != 5678 || hf.MaxPayload != 4321 {
			t.Errorf("pingInterval %d pingTimeout %d maxPayload %d, want 1234 5678 4321", hf.PingInterval, hf.PingTimeout, hf.MaxPayload)
		}
	}
	eachVersion(t, func(t *testing.T, eio string) {
		t.Run("polling", func(t *testing.T) {
			r := h.do(t, http.MethodGet, "EIO="+eio+"&transport=polling", nil, nil)
			if r.status != http.StatusOK {
				t.Fatalf("handshake: %s", r)
			}
			if ct := r.header.Get("Content-Type"); ct != "text/plain; charset=UTF-8" {
				t.Errorf("Content-Type %q", ct)
			}
			pkts := decode(t, eio, r)
			if len(pkts) != 1 {
				t.Fatalf("handshake payload %q: want the open packet alone", pkts)
			}
			hf := parseOpen(t, pkts[0])
			check(t, hf, []string{"websocket"})
			sock := h.sock(t)
			if sock.Id() != hf.Sid || sock.Protocol() != int(eio[0]-'0') || sock.Transport().Name() != "polling" {
				t.Errorf("socket %s protocol %d transport %s", sock.Id(), sock.Protocol(), sock.Transport().Name())
			}
			// The session answers under its sid.
			p := &poller{h: h, eio: eio, sid: hf.Sid}
			p.send(t, "4hi")
			if got := p.get(t); !slices.Equal(got, []string{"4hi"}) {
				t.Fatalf("echo %q", got)
			}
		})
		t.Run("websocket", func(t *testing.T) {
			c, hf, sock := h.openWS(t, eio)
			check(t, hf, []string{})
			if sock.Id() != hf.Sid || sock.Transport().Name() != "websocket" {
				t.Errorf("socket %s transport %s", sock.Id(), sock.Transport().Name())
			}
			writeText(t, c, "4hi")
			expectText(t, c, "4hi")
		})
	})
	t.Run("polling only", func(t *testing.T) {
		o := opts()
		o.Transports = []string{"polling"}
		h := start(t, o)
		_, hf, _ := h.openPolling(t, "4", "")
		if len(hf.Upgrades) != 0 {
			t.Fatalf("upgrades %q with WebSocket disabled", hf.Upgrades)
		}
	})
	t.Run("sids differ", func(t *testing.T) {
		_, a, _ := h.openPolling(t, "4", "")
		_, b, _ := h.openPolling(t, "4", "")
		if a.Sid == b.Sid {
			t.Fatalf("two sessions share sid %q", a.Sid)
		}
	})
}

// startRefusing starts a server whose AllowRequest refuses ?deny=1, and
// one without EIO3.
func startRefusing(t *testing.T) (refusing, noEIO3 *harness) {
	o := opts()
	o.AllowRequest = func(r *http.Request) error {
		if r.URL.Query().Get("deny") != "" {
			return errors.New("no entry")
		}
		return nil
	}
	n := opts()
	n.AllowEIO3 = false
	return start(t, o), start(t, n)
}

// Each refused request gets its HTTP status and {code, message}, as
// Node's engine.io names them.
func TestErrorCodes(t *testing.T) {
	h, h4 := startRefusing(t)
	wsOnly := opts()
	wsOnly.Transports = []string{"websocket"}
	hws := start(t, wsOnly)

	get := func(h *harness, q string) func(t *testing.T) reply {
		return func(t *testing.T) reply { return h.do(t, http.MethodGet, q, nil, nil) }
	}
	post := func(h *harness, q string) func(t *testing.T) reply {
		return func(t *testing.T) reply { return h.do(t, http.MethodPost, q, strings.NewReader("4x"), nil) }
	}
	eachVersion(t, func(t *testing.T, eio string) {
		e := "EIO=" + eio
		_, wsSession, _ := h.openWS(t, eio)
		cases := []struct {
			name    string
			req     func(t *testing.T) reply
			status  int
			code    int
			message string
		}{
			{"0 transport unknown", get(h, e+"&transport=carrier-pigeon"), 400, 0, "Transport unknown"},
			{"0 transport missing", get(h, e), 400, 0, "Transport unknown"},
			{"0 transport disabled", get(hws, e+"&transport=polling"), 400, 0, "Transport unknown"},
			{"1 session unknown GET", get(h, e+"&transport=polling&sid=nope"), 400, 1, "Session ID unknown"},
			{"1 session unknown POST", post(h, e+"&transport=polling&sid=nope"), 400, 1, "Session ID unknown"},
			{"2 handshake by POST", post(h, e+"&transport=polling"), 400, 2, "Bad handshake method"},
			{"3 websocket without upgrade", get(h, e+"&transport=websocket"), 400, 3, "Bad request"},
			{"3 transport mismatch", get(h, e+"&transport=polling&sid="+wsSession.Sid), 400, 3, "Bad request"},
			{"4 allowRequest refuses", get(h, e+"&transport=polling&deny=1"), 403, 4, "no entry"},
			{"5 EIO=99", get(h, "EIO=99&transport=polling"), 400, 5, "Unsupported protocol version"},
			{"5 EIO missing", get(h4, "transport=polling"), 400, 5, "Unsupported protocol version"},
		}
		if eio == "3" {
			cases = append(cases, struct {
				name    string
				req     func(t *testing.T) reply
				status  int
				code    int
				message string
			}{"5 EIO=3 not allowed", get(h4, "EIO=3&transport=polling"), 400, 5, "Unsupported protocol version"})
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) { assertError(t, c.req(t), c.status, c.code, c.message) })
		}
	})
}

// A refused WebSocket handshake is an HTTP answer before the upgrade,
// with the same codes.
func TestErrorCodesWebSocket(t *testing.T) {
	h, h4 := startRefusing(t)
	pollOnly := opts()
	pollOnly.Transports = []string{"polling"}
	hp := start(t, pollOnly)
	eachVersion(t, func(t *testing.T, eio string) {
		e := "EIO=" + eio
		cases := []struct {
			name   string
			h      *harness
			q      string
			status int
			code   int
		}{
			{"0 transport unknown", h, e + "&transport=carrier-pigeon", 400, 0},
			{"0 websocket disabled", hp, e + "&transport=websocket", 400, 0},
			{"1 session unknown", h, e + "&transport=websocket&sid=nope", 400, 1},
			{"3 upgrade to polling", h, e + "&transport=polling", 400, 3},
			{"4 allowRequest refuses", h, e + "&transport=websocket&deny=1", 403, 4},
			{"5 EIO=99", h, "EIO=99&transport=websocket", 400, 5},
			{"5 EIO missing", h4, "transport=websocket", 400, 5},
		}
		if eio == "3" {
			cases = append(cases, struct {
				name   string
				h      *harness
				q      string
				status int
				code   int
			}{"5 EIO=3 not allowed", h4, "EIO=3&transport=websocket", 400, 5})
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				conn, res, err := c.h.tryDial(c.q, nil)
				if err == nil {
					conn.Close()
					t.Fatal("upgraded")
				}
				if res == nil {
					t.Fatalf("no HTTP answer: %v", err)
				}
				defer res.Body.Close()
				r := reply{status: res.StatusCode, header: res.Header}
				r.body = readAll(t, res)
				want := map[int]string{0: "Transport unknown", 1: "Session ID unknown", 3: "Bad request", 4: "no entry", 5: "Unsupported protocol version"}[c.code]
				assertError(t, r, c.status, c.code, want)
			})
		}
	})
}

// A disabled EIO3 is refused by version, not served as v4.
func TestEIO3Disabled(t *testing.T) {
	o := opts()
	o.AllowEIO3 = false
	h := start(t, o)
	if _, hf, sock := h.openPolling(t, "4", ""); sock.Protocol() != 4 || hf.Sid == "" {
		t.Fatal("v4 refused")
	}
	assertError(t, h.do(t, http.MethodGet, "EIO=3&transport=polling", nil, nil), 400, 5, "Unsupported protocol version")
	select {
	case s := <-h.socks:
		t.Fatalf("a refused handshake opened session %s", s.Id())
	default:
	}
}
