package engineio_test

// The protocol tests speak the wire by hand, from the Engine.IO protocol
// document (socketio/engine.io-protocol, revisions 3 and 4): net/http for
// polling, gorilla/websocket for WebSocket, against a real server with an
// echo listener. Where the document leaves a case open they expect what
// Node's engine.io 6 answers.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/gorilla/websocket"
	"github.com/realtime-circles/realtime-circles/server/internal/engineio"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// wait bounds every wait for an answer or an event: generous, for -race on
// a shared machine. A request that gets no answer within it is hung.
const wait = 5 * time.Second

// harness is a server under test with an echo listener: every message a
// client sends comes back to it, text as text and binary as binary.
type harness struct {
	srv    *engineio.Server
	hs     *httptest.Server
	client *http.Client

	socks    chan *engineio.Socket
	data     chan any // every "data" event's argument
	mu       sync.Mutex
	closes   map[string]chan string // sid → "close" reason
	upgrades map[string]chan struct{}
}

// opts are the tests' defaults: heartbeats far longer than a test, so
// only the heartbeat tests see them.
func opts() engineio.Options {
	return engineio.Options{PingInterval: 20 * time.Second, PingTimeout: 10 * time.Second, AllowEIO3: true}
}

func start(t *testing.T, o engineio.Options) *harness { return startEcho(t, o, true) }

func startEcho(t *testing.T, o engineio.Options, echo bool) *harness {
	t.Helper()
	h := &harness{
		socks:    make(chan *engineio.Socket, 64),
		data:     make(chan any, 1024),
		closes:   map[string]chan string{},
		upgrades: map[string]chan struct{}{},
	}
	h.srv = engineio.New(o)
	h.srv.On("connection", func(a ...any) {
		sock := a[0].(*engineio.Socket)
		closed, upgraded := make(chan string, 1), make(chan struct{})
		h.mu.Lock()
		h.closes[sock.Id()], h.upgrades[sock.Id()] = closed, upgraded
		h.mu.Unlock()
		sock.On("data", func(d ...any) {
			select {
			case h.data <- d[0]:
			default:
			}
			if !echo {
				return
			}
			switch v := d[0].(type) {
			case string:
				sock.Write(strings.NewReader(v), nil, nil)
			case *types.BytesBuffer:
				sock.Write(bytes.NewReader(append([]byte(nil), v.Bytes()...)), nil, nil)
			}
		})
		var once sync.Once
		sock.On("close", func(r ...any) {
			reason, _ := r[0].(string)
			once.Do(func() { closed <- reason })
		})
		sock.On("upgrade", func(...any) { close(upgraded) })
		h.socks <- sock
	})
	h.hs = httptest.NewServer(h.srv)
	h.client = &http.Client{Timeout: wait, Transport: &http.Transport{MaxConnsPerHost: 0, MaxIdleConnsPerHost: 16}}
	t.Cleanup(func() {
		h.srv.Close()
		h.client.CloseIdleConnections()
		h.hs.CloseClientConnections()
		h.hs.Close()
	})
	return h
}

// sock is the session the last handshake opened.
func (h *harness) sock(t *testing.T) *engineio.Socket {
	t.Helper()
	select {
	case s := <-h.socks:
		return s
	case <-time.After(wait):
		t.Fatal("no connection event")
		return nil
	}
}

func (h *harness) closeCh(sid string) chan string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closes[sid]
}

// waitClose waits for sid's "close" event and returns its reason.
func (h *harness) waitClose(t *testing.T, sid string) string {
	t.Helper()
	select {
	case r := <-h.closeCh(sid):
		h.closeCh(sid) <- r // keep it for a second look
		return r
	case <-time.After(wait):
		t.Fatalf("session %s not closed within %v", sid, wait)
		return ""
	}
}

// assertOpen fails if sid's "close" event has fired.
func (h *harness) assertOpen(t *testing.T, sid string) {
	t.Helper()
	select {
	case r := <-h.closeCh(sid):
		t.Fatalf("session %s closed: %q", sid, r)
	default:
	}
}

func (h *harness) waitUpgrade(t *testing.T, sid string) {
	t.Helper()
	h.mu.Lock()
	ch := h.upgrades[sid]
	h.mu.Unlock()
	select {
	case <-ch:
	case <-time.After(wait):
		t.Fatal("no upgrade event")
	}
}

// nextData is the next "data" event's argument.
func (h *harness) nextData(t *testing.T) any {
	t.Helper()
	select {
	case d := <-h.data:
		return d
	case <-time.After(wait):
		t.Fatal("no data event")
		return nil
	}
}

// reply is an HTTP answer, read whole.
type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) String() string { return fmt.Sprintf("%d %q", r.status, r.body) }

// do sends one request to the engine's path with query q.
func (h *harness) do(t *testing.T, method, q string, body io.Reader, header http.Header) reply {
	t.Helper()
	r, err := h.try(method, q, body, header)
	if err != nil {
		t.Fatalf("%s ?%s: %v", method, q, err)
	}
	return r
}

func (h *harness) try(method, q string, body io.Reader, header http.Header) (reply, error) {
	req, err := http.NewRequest(method, h.hs.URL+"/engine.io/?"+q, body)
	if err != nil {
		return reply{}, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := h.client.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return reply{}, err
	}
	return reply{res.StatusCode, res.Header, b}, nil
}

// protocolErr is the server's JSON answer to a refused request.
type protocolErr struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func assertError(t *testing.T, r reply, status, code int, message string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d (%s)", r.status, status, r)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var e protocolErr
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("body %q: %v", r.body, err)
	}
	if e.Code != code || e.Message != message {
		t.Fatalf("error %+v, want {%d %q}", e, code, message)
	}
}

// assertCode checks status and code, whatever the message says.
func assertCode(t *testing.T, r reply, status, code int) {
	t.Helper()
	var e protocolErr
	if err := json.Unmarshal(r.body, &e); err != nil || r.status != status || e.Code != code {
		t.Fatalf("%s, want %d with code %d", r, status, code)
	}
}

// handshakeFields is the open packet's JSON.
type handshakeFields struct {
	Sid          string   `json:"sid"`
	Upgrades     []string `json:"upgrades"`
	PingInterval int64    `json:"pingInterval"`
	PingTimeout  int64    `json:"pingTimeout"`
	MaxPayload   int64    `json:"maxPayload"`
}

func parseOpen(t *testing.T, pkt string) handshakeFields {
	t.Helper()
	if !strings.HasPrefix(pkt, "0") {
		t.Fatalf("first packet %q is not an open packet", pkt)
	}
	var hf handshakeFields
	if err := json.Unmarshal([]byte(pkt[1:]), &hf); err != nil {
		t.Fatalf("open packet %q: %v", pkt, err)
	}
	if hf.Sid == "" || hf.Upgrades == nil {
		t.Fatalf("open packet %q lacks sid or upgrades", pkt)
	}
	return hf
}

// poller is a polling client of one session.
type poller struct {
	h     *harness
	eio   string // "3" or "4"
	sid   string
	extra string // more query, e.g. "&b64=1"
}

func (p *poller) q() string {
	return "EIO=" + p.eio + "&transport=polling&sid=" + p.sid + p.extra
}

// openPolling handshakes over polling.
func (h *harness) openPolling(t *testing.T, eio, extra string) (*poller, handshakeFields, *engineio.Socket) {
	t.Helper()
	r := h.do(t, http.MethodGet, "EIO="+eio+"&transport=polling"+extra, nil, nil)
	if r.status != http.StatusOK {
		t.Fatalf("handshake: %s", r)
	}
	pkts := decode(t, eio, r)
	hf := parseOpen(t, pkts[0])
	return &poller{h: h, eio: eio, sid: hf.Sid, extra: extra}, hf, h.sock(t)
}

// get polls and decodes the payload; the answer must be 200.
func (p *poller) get(t *testing.T) []string {
	t.Helper()
	r := p.h.do(t, http.MethodGet, p.q(), nil, nil)
	if r.status != http.StatusOK {
		t.Fatalf("poll: %s", r)
	}
	return decode(t, p.eio, r)
}

// post sends a text payload; the answer must be 200 "ok".
func (p *poller) post(t *testing.T, payload string) {
	t.Helper()
	r := p.h.do(t, http.MethodPost, p.q(), strings.NewReader(payload), http.Header{"Content-Type": {"text/plain;charset=UTF-8"}})
	if r.status != http.StatusOK || string(r.body) != "ok" {
		t.Fatalf("post %q: %s", payload, r)
	}
}

// send posts packets in the session's payload format.
func (p *poller) send(t *testing.T, pkts ...string) { t.Helper(); p.post(t, encode(p.eio, pkts...)) }

// pollAsync polls in the background.
func (p *poller) pollAsync() <-chan result {
	ch := make(chan result, 1)
	go func() {
		r, err := p.h.try(http.MethodGet, p.q(), nil, nil)
		ch <- result{r, err}
	}()
	return ch
}

type result struct {
	reply
	err error
}

func await(t *testing.T, ch <-chan result) reply {
	t.Helper()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("request: %v", r.err)
		}
		return r.reply
	case <-time.After(wait + time.Second):
		t.Fatal("request not answered")
		return reply{}
	}
}

// waitPending waits until sock's transport holds a waiting poll: the
// transport is writable (engine.Socket's Transport().Writable()).
func waitPending(t *testing.T, sock *engineio.Socket) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !sock.Transport().Writable() {
		if time.Now().After(deadline) {
			t.Fatal("the poll is not waiting")
		}
		time.Sleep(time.Millisecond)
	}
}

// encode makes a text payload: v4 separates packets with U+001E, v3
// prefixes each with its length in UTF-16 code units and a colon.
func encode(eio string, pkts ...string) string {
	if eio == "4" {
		return strings.Join(pkts, "\x1e")
	}
	var b strings.Builder
	for _, p := range pkts {
		b.WriteString(strconv.Itoa(len(utf16.Encode([]rune(p)))))
		b.WriteByte(':')
		b.WriteString(p)
	}
	return b.String()
}

// decode reads a polling answer: a text payload (text/plain; charset=UTF-8)
// or a v3 binary payload (application/octet-stream), whose binary packets
// come back as "bin:" and the packet's bytes in hex.
func decode(t *testing.T, eio string, r reply) []string {
	t.Helper()
	ct := r.header.Get("Content-Type")
	if ct == "application/octet-stream" {
		if eio != "3" {
			t.Fatalf("binary payload in EIO %s", eio)
		}
		pkts, err := decodeBinary(r.body)
		if err != nil {
			t.Fatalf("payload %q: %v", r.body, err)
		}
		return pkts
	}
	if ct != "text/plain; charset=UTF-8" {
		t.Fatalf("Content-Type %q (%s)", ct, r)
	}
	if !utf8.Valid(r.body) {
		t.Fatalf("payload %q not UTF-8", r.body)
	}
	pkts, err := decodeText(eio, string(r.body))
	if err != nil {
		t.Fatalf("payload %q: %v", r.body, err)
	}
	return pkts
}

func decodeText(eio, body string) ([]string, error) {
	if eio == "4" {
		return strings.Split(body, "\x1e"), nil
	}
	var out []string
	for body != "" {
		colon := strings.IndexByte(body, ':')
		if colon < 1 {
			return nil, errors.New("no length")
		}
		n, err := strconv.Atoi(body[:colon])
		if err != nil {
			return nil, err
		}
		units := utf16.Encode([]rune(body[colon+1:]))
		if len(units) < n {
			return nil, errors.New("short packet")
		}
		pkt := string(utf16.Decode(units[:n]))
		out = append(out, pkt)
		body = body[colon+1+len(pkt):]
	}
	return out, nil
}

// decodeBinary reads v3's binary payload: for each packet a 0 (string) or
// 1 (binary) byte, the length's decimal digits one per byte, 0xFF, then
// the packet.
func decodeBinary(b []byte) ([]string, error) {
	var out []string
	for len(b) > 0 {
		kind := b[0]
		end := bytes.IndexByte(b, 0xFF)
		if kind > 1 || end < 2 {
			return nil, errors.New("bad packet header")
		}
		n := 0
		for _, d := range b[1:end] {
			n = n*10 + int(d)
		}
		b = b[end+1:]
		if len(b) < n {
			return nil, errors.New("short packet")
		}
		if kind == 0 {
			out = append(out, string(b[:n]))
		} else {
			out = append(out, fmt.Sprintf("bin:%x", b[:n]))
		}
		b = b[n:]
	}
	return out, nil
}

// binaryPacket is one packet of a v3 binary payload.
func binaryPacket(kind byte, data []byte) []byte {
	b := []byte{kind}
	for _, d := range strconv.Itoa(len(data)) {
		b = append(b, byte(d-'0'))
	}
	b = append(b, 0xFF)
	return append(b, data...)
}

// wsURL is the WebSocket address with query q.
func (h *harness) wsURL(q string) string {
	return "ws" + strings.TrimPrefix(h.hs.URL, "http") + "/engine.io/?" + q
}

// dial opens a WebSocket; it fails the test unless the upgrade succeeds.
func (h *harness) dial(t *testing.T, q string) *websocket.Conn {
	t.Helper()
	c, res, err := h.tryDial(q, nil)
	if err != nil {
		status := 0
		if res != nil {
			status = res.StatusCode
		}
		t.Fatalf("dial ?%s: %v (status %d)", q, err, status)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func (h *harness) tryDial(q string, header http.Header) (*websocket.Conn, *http.Response, error) {
	d := websocket.Dialer{HandshakeTimeout: wait}
	return d.Dial(h.wsURL(q), header)
}

// openWS handshakes over WebSocket: the open packet is the first frame.
func (h *harness) openWS(t *testing.T, eio string) (*websocket.Conn, handshakeFields, *engineio.Socket) {
	t.Helper()
	c := h.dial(t, "EIO="+eio+"&transport=websocket")
	hf := parseOpen(t, readText(t, c))
	return c, hf, h.sock(t)
}

// read is the next data frame.
func read(t *testing.T, c *websocket.Conn) (int, []byte) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(wait))
	kind, b, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return kind, b
}

func readText(t *testing.T, c *websocket.Conn) string {
	t.Helper()
	kind, b := read(t, c)
	if kind != websocket.TextMessage {
		t.Fatalf("frame of type %d (%x), want text", kind, b)
	}
	return string(b)
}

func expectText(t *testing.T, c *websocket.Conn, want string) {
	t.Helper()
	if got := readText(t, c); got != want {
		t.Fatalf("frame %q, want %q", got, want)
	}
}

func writeText(t *testing.T, c *websocket.Conn, s string) {
	t.Helper()
	if err := c.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		t.Fatalf("write %q: %v", s, err)
	}
}

// readClose reads until the connection ends and returns the close frame's
// code; a connection dropped without a close frame is 1006
// (websocket.CloseAbnormalClosure), as a browser reports it.
func readClose(t *testing.T, c *websocket.Conn) int {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(wait))
	for {
		_, _, err := c.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code
		}
		var ne interface{ Timeout() bool }
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("connection still open after %v", wait)
		}
		return websocket.CloseAbnormalClosure
	}
}

func eachVersion(t *testing.T, f func(t *testing.T, eio string)) {
	for _, eio := range []string{"4", "3"} {
		t.Run("v"+eio, func(t *testing.T) { f(t, eio) })
	}
}

func readAll(t *testing.T, res *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("body: %v", err)
	}
	return b
}
