// Package engineio is an Engine.IO server (protocol revisions 4 and 3):
// the handshake, HTTP long-polling, WebSocket, the upgrade between them,
// heartbeats and close, after Node's engine.io 6 (server.ts, socket.ts,
// one file per transport). It plugs in under the zishang520 Socket.IO
// server through that library's engine interfaces
// (socket.Server.Bind(engine.BaseServer)), as Node's socket.io swaps its
// wsEngine, and knows nothing of what runs above it.
//
// What it does differently from the library's engine, and why:
//   - A broadcast is encoded once: SendMessage takes a *Message whose
//     WebSocket frame every recipient writes as is.
//   - Writes are queued per connection and a connection with a backlog
//     writes all of it with one writev; a writer goroutine runs only
//     while something is queued, so an idle WebSocket session costs one
//     goroutine (its reader) and no write buffer.
//   - No per-packet events: Socket.IO hears "data" and "close"; "packet"
//     is emitted for incoming messages only.
package engineio

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/zishang520/socket.io/servers/engine/v3"
	"github.com/zishang520/socket.io/servers/engine/v3/transports"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// Options configures a Server. Zero fields take Node's defaults.
type Options struct {
	PingInterval   time.Duration // 25 s
	PingTimeout    time.Duration // 20 s
	UpgradeTimeout time.Duration // 10 s
	// MaxPayload caps one message or polling body (1 MB).
	MaxPayload int64
	// Transports allowed, of "polling" and "websocket" (both).
	Transports []string
	// AllowEIO3 accepts Engine.IO v3 clients (socket.io-client 2.x).
	AllowEIO3 bool
	// AllowRequest vets a handshake; an error refuses it with 403 and the
	// error's text.
	AllowRequest func(*http.Request) error
	// AllowedOrigins lists page origins besides the server's own that may
	// open sessions ("*": any). Requests without Origin (not from a
	// browser page) always pass.
	AllowedOrigins []string
	// MaxQueue is how many packets may wait for one client before it is
	// dropped as too slow (4096).
	MaxQueue int
	// CompressThreshold: polling payloads this long or longer are
	// compressed when the client accepts gzip or deflate (1024, Node's
	// httpCompression.threshold; negative: never).
	CompressThreshold int
	// OnWrite, if set, sees every text message written to one socket
	// (not shared broadcasts: their sender knows them).
	OnWrite func(sock *Socket, text string)
	Logger  *slog.Logger
}

// Server is an Engine.IO server: an http.Handler for the engine's path,
// and the library's engine.BaseServer for socket.Server.Bind.
type Server struct {
	engine.BaseServer // events ("connection") and the clients map

	opts     Options
	log      *slog.Logger
	flushers *flushers
	count    atomic.Int64
	closed   atomic.Bool
	origins  map[string]bool
	anyOrig  bool
	zip      compressors // polling payloads (compress.go)
}

var _ engine.BaseServer = (*Server)(nil)

// New makes a Server.
func New(opts Options) *Server {
	if opts.PingInterval <= 0 {
		opts.PingInterval = 25 * time.Second
	}
	if opts.PingTimeout <= 0 {
		opts.PingTimeout = 20 * time.Second
	}
	if opts.UpgradeTimeout <= 0 {
		opts.UpgradeTimeout = 10 * time.Second
	}
	if opts.MaxPayload <= 0 {
		opts.MaxPayload = 1e6
	}
	if len(opts.Transports) == 0 {
		opts.Transports = []string{transports.POLLING, transports.WEBSOCKET}
	}
	if opts.MaxQueue <= 0 {
		opts.MaxQueue = 4096
	}
	if opts.CompressThreshold == 0 {
		opts.CompressThreshold = defaultCompressThreshold
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{BaseServer: engine.MakeBaseServer(), opts: opts, log: opts.Logger, origins: map[string]bool{}, flushers: startFlushers()}
	for _, o := range opts.AllowedOrigins {
		s.anyOrig = s.anyOrig || o == "*"
		s.origins[strings.ToLower(strings.TrimRight(o, "/"))] = true
	}
	return s
}

// Protocol errors (Node's Server.errors), answered as {code, message}.
type protocolError struct {
	code    int
	message string
	status  int
}

var (
	errUnknownTransport = protocolError{0, "Transport unknown", http.StatusBadRequest}
	errUnknownSid       = protocolError{1, "Session ID unknown", http.StatusBadRequest}
	errBadHandshake     = protocolError{2, "Bad handshake method", http.StatusBadRequest}
	errBadRequest       = protocolError{3, "Bad request", http.StatusBadRequest}
	errForbidden        = protocolError{4, "Forbidden", http.StatusForbidden}
	errUnsupported      = protocolError{5, "Unsupported protocol version", http.StatusBadRequest}
)

// writeError answers a refused request with Node's {code, message}. For
// FORBIDDEN the message is detail (Node passes allowRequest's message);
// otherwise a non-empty detail goes along as "detail", to say why.
func writeError(w http.ResponseWriter, e protocolError, detail string) {
	body := map[string]any{"code": e.code, "message": e.message}
	if e.code == errForbidden.code && detail != "" {
		body["message"] = detail
	} else if detail != "" {
		body["detail"] = detail
	}
	b, _ := json.Marshal(body)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.status)
	_, _ = w.Write(b)
}

func (s *Server) allows(transport string) bool { return slices.Contains(s.opts.Transports, transport) }

// ServeHTTP serves every Engine.IO request (Node's handleRequest and
// handleUpgrade): it verifies, then handshakes, polls, posts or upgrades.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.cors(w, r) {
		return
	}
	q := r.URL.Query()
	transport, sid := q.Get("transport"), q.Get("sid")
	upgrade := isUpgrade(r)
	switch {
	case !s.allows(transport):
		writeError(w, errUnknownTransport, "")
		return
	case upgrade && transport != transports.WEBSOCKET:
		writeError(w, errBadRequest, "upgrade to "+transport)
		return
	case !upgrade && transport == transports.WEBSOCKET:
		// Node: TRANSPORT_HANDSHAKE_ERROR (or a mismatch, with a sid).
		writeError(w, errBadRequest, "websocket without an upgrade")
		return
	}
	if sid == "" {
		s.handshake(w, r, transport, q)
		return
	}
	c, ok := s.Clients().Load(sid)
	sock, _ := c.(*Socket)
	if !ok || sock == nil {
		writeError(w, errUnknownSid, "")
		return
	}
	if upgrade {
		s.upgrade(w, r, sock)
		return
	}
	sock.mu.Lock()
	t, _ := sock.transport.(*pollingTransport)
	sock.mu.Unlock()
	if t == nil || transport != transports.POLLING {
		// Node: TRANSPORT_MISMATCH, e.g. a poll after the upgrade.
		writeError(w, errBadRequest, "transport mismatch")
		return
	}
	switch r.Method {
	case http.MethodGet:
		t.onPoll(w, r)
	case http.MethodPost:
		t.onPost(w, r)
	default:
		writeError(w, errBadRequest, "method "+r.Method)
	}
}

// cors checks the page's origin and answers preflights. A request from a
// page of another site is refused unless AllowedOrigins lists it:
// browsers send cookies with WebSocket upgrades from any page
// (cross-site WebSocket hijacking).
func (s *Server) cors(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	if !s.originAllowed(origin, r.Host) {
		s.log.Warn("origin refused", "origin", origin, "host", r.Host, "remote", r.RemoteAddr)
		writeError(w, errForbidden, "origin not allowed: set ALLOWED_ORIGINS to accept pages from other sites")
		return false
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Allow-Credentials", "true")
	h.Add("Vary", "Origin")
	if r.Method == http.MethodOptions {
		h.Set("Access-Control-Allow-Methods", "GET, POST")
		if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
			h.Set("Access-Control-Allow-Headers", req)
		}
		w.WriteHeader(http.StatusNoContent)
		return false
	}
	return true
}

func (s *Server) originAllowed(origin, host string) bool {
	if s.anyOrig || s.origins[strings.ToLower(origin)] {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, host)
}

// handshake opens a session (Node's handshake): polling answers with the
// open packet; WebSocket upgrades and sends it as the first frame.
func (s *Server) handshake(w http.ResponseWriter, r *http.Request, transport string, q url.Values) {
	if r.Method != http.MethodGet {
		writeError(w, errBadHandshake, "")
		return
	}
	protocol := 0
	switch q.Get("EIO") {
	case "4":
		protocol = 4
	case "3":
		if s.opts.AllowEIO3 {
			protocol = 3
		}
	}
	if protocol == 0 {
		writeError(w, errUnsupported, "")
		return
	}
	if s.closed.Load() {
		writeError(w, errForbidden, "server shutting down")
		return
	}
	if s.opts.AllowRequest != nil {
		if err := s.opts.AllowRequest(r); err != nil {
			writeError(w, errForbidden, err.Error())
			return
		}
	}
	sock := newSocket(s, newID(), protocol, trimmedRequest(r), r.RemoteAddr)
	if transport == transports.POLLING {
		t := newPollingTransport(sock, r)
		sock.open(t)
		s.add(sock)
		t.onPoll(w, r)
		return
	}
	conn, early, err := upgradeConn(w, r)
	if err != nil {
		return // answered
	}
	t := newWSTransport(sock, conn, early)
	sock.open(t)
	s.add(sock)
	sock.mu.Lock()
	t.kick() // the open packet, and what the listeners sent
	sock.mu.Unlock()
	// Read in a goroutine of our own and let the request's go: net/http
	// keeps its connection's buffers (8 KB) and the request for as long as
	// its handler runs, even after the hijack.
	go t.readLoop()
}

// upgrade takes a WebSocket for an open polling session and probes it.
func (s *Server) upgrade(w http.ResponseWriter, r *http.Request, sock *Socket) {
	if sock.Upgrading() || sock.Upgraded() {
		writeError(w, errBadRequest, "already upgrading or upgraded")
		return
	}
	conn, early, err := upgradeConn(w, r)
	if err != nil {
		return // answered
	}
	t := newWSTransport(sock, conn, early)
	if !sock.maybeUpgrade(t) {
		_ = conn.SetWriteDeadline(time.Now().Add(closeWait))
		_, _ = conn.Write(appendCloseFrame(nil, closePolicyViolation, "no upgrade"))
		_ = conn.Close()
		return
	}
	go t.readLoop() // as in handshake
}

func (s *Server) add(sock *Socket) {
	s.Clients().Store(sock.id, sock)
	s.count.Add(1)
	s.Emit("connection", sock)
}

func (s *Server) remove(sock *Socket) {
	if _, ok := s.Clients().LoadAndDelete(sock.id); ok {
		s.count.Add(-1)
	}
}

// ClientsCount is the number of open sessions.
func (s *Server) ClientsCount() uint64 { return uint64(max(s.count.Load(), 0)) }

// Close closes every session (a waiting poll gets the close packet, a
// WebSocket its close frame) and refuses new ones.
func (s *Server) Close() engine.BaseServer {
	s.closed.Store(true)
	s.Clients().Range(func(_ string, c engine.Socket) bool {
		c.Close(true)
		return true
	})
	s.flushers.close() // after the close frames they were given
	return s
}

// newID is a session id as Node's base64id: 15 random bytes, base64url.
func newID() string {
	var b [15]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// trimmedRequest keeps what the Socket.IO layer reads of the handshake
// (headers, URL and query, remote address, TLS) and lets the rest of the
// request go. Its context is already done, so the library's HttpContext
// watcher goroutine ends at once.
func trimmedRequest(r *http.Request) *types.HttpContext {
	u := *r.URL
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := (&http.Request{
		Method:     r.Method,
		URL:        &u,
		Proto:      r.Proto,
		ProtoMajor: r.ProtoMajor,
		ProtoMinor: r.ProtoMinor,
		Header:     r.Header.Clone(),
		Host:       r.Host,
		RemoteAddr: r.RemoteAddr,
		RequestURI: r.RequestURI,
		TLS:        r.TLS,
	}).WithContext(ctx)
	return types.NewHttpContext(nopWriter{}, req)
}

// nopWriter is the trimmed request's response: nobody answers it.
type nopWriter struct{}

func (nopWriter) Header() http.Header         { return http.Header{} }
func (nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (nopWriter) WriteHeader(int)             {}
