package realtime

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/gorilla/websocket"
	"github.com/zishang520/socket.io/servers/engine/v3"
	"github.com/zishang520/socket.io/servers/engine/v3/transports"
	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// This file works around defects of zishang520/socket.io v3.0.2 at the
// HTTP and event level, without touching the library:
//
//   - The websocket transport reads from the connection as soon as it is
//     created (transports/websocket.go:59), before anyone listens: a
//     client's CONNECT sent right after the open packet is emitted before
//     Socket.IO's "data" listener exists (base-server.go:340 writes the
//     open packet, :350 emits "connection", client.go:74 listens) and is
//     dropped, so the client never gets its CONNECT reply; an upgrade probe
//     is dropped the same way (server.go onWebSocket → socket.go
//     MaybeUpgrade listens last) and the upgrade stalls for 10 s. We hold
//     the hijacked connection's reads until the engine has returned from
//     the request, by which time the listeners are in place.
//   - The CONNECT reply is written (namespace.go:342 _onconnect) before the
//     client records the namespace (client.go:115-116 in the callback): a
//     client's first event can arrive in between and the library closes
//     the session as "invalid state" (client.go:212-214). We hold a
//     session's packets after its CONNECT until the namespace join is done.
//   - When a polling session closes, the close packet for the pending GET
//     is dropped (polling.go:418 closes the write queue before :436 queues
//     the packet) and the GET is held until the client gives up. We answer
//     it with the close packet, as Node does.
//   - An invalid polling body is accepted with 200 and the session stays
//     open; we answer 400 and close the session.

// holdLimit bounds how long a session's packets wait for its namespace
// join (a CONNECT to an unknown namespace never joins).
const holdLimit = 2 * time.Second

// session is what we track of one open Engine.IO session.
type session struct {
	closed  chan struct{} // closed when the session ends
	joined  chan struct{} // closed when the socket joined the namespace
	join    sync.Once
	packets atomic.Int64 // Socket.IO packets received
	gaveUp  atomic.Bool  // a hold timed out: stop holding
}

func (s *session) markJoined() { s.join.Do(func() { close(s.joined) }) }

// sessions tracks open Engine.IO sessions by id.
type sessions struct {
	mu   sync.Mutex
	byID map[string]*session
}

func newSessions(io *socket.Server) *sessions {
	ss := &sessions{byID: make(map[string]*session)}
	eio := io.Engine()
	// Our "connection" listener must run before Socket.IO's, so that our
	// "data" listener on each session runs (and can hold) before Socket.IO
	// decodes the packet. Reordered once, before any request is served.
	others := eio.Listeners("connection")
	eio.RemoveAllListeners("connection")
	_ = eio.On("connection", ss.onConnection)
	_ = eio.On("connection", others...)

	_ = io.Of("/", nil).On("connection", func(args ...any) {
		so, ok := args[0].(*socket.Socket)
		if !ok {
			return
		}
		conn := so.Conn()
		if st, ok := ss.lookup(conn.Id()); ok {
			st.markJoined()
		}
		_ = so.On("disconnect", func(...any) { finishClose(conn) })
	})
	return ss
}

func (ss *sessions) onConnection(args ...any) {
	conn, ok := args[0].(engine.Socket)
	if !ok {
		return
	}
	sid := conn.Id()
	st := &session{closed: make(chan struct{}), joined: make(chan struct{})}
	if conn.Protocol() == 3 {
		// EIO3 clients join "/" implicitly: there is no CONNECT packet to
		// let through first.
		st.packets.Store(1)
	}
	ss.mu.Lock()
	ss.byID[sid] = st
	ss.mu.Unlock()
	if c := wsConnOf(conn.Request()); c != nil {
		c.cork(conn.Transport())
	}
	_ = conn.On("data", func(...any) { st.hold() })
	_ = conn.Once("close", func(...any) {
		ss.mu.Lock()
		delete(ss.byID, sid)
		ss.mu.Unlock()
		close(st.closed)
	})
}

// hold runs before Socket.IO sees each packet: it lets the first one (the
// CONNECT) through and holds later ones until the namespace join is
// recorded, the session closes, or holdLimit passes.
func (st *session) hold() {
	if st.packets.Add(1) == 1 || st.gaveUp.Load() {
		return
	}
	select {
	case <-st.joined:
		return
	default:
	}
	t := time.NewTimer(holdLimit)
	defer t.Stop()
	select {
	case <-st.joined:
	case <-st.closed:
	case <-t.C:
		st.gaveUp.Store(true)
	}
}

// finishClose completes what the library leaves undone when a session ends:
//   - Socket.IO closes a polling session with Close(false), which waits for
//     the next poll to carry the close packet, but that packet is dropped
//     (polling.go:418), so the session would linger 30 s (polling.go:445).
//   - A WebSocket that drops without a close handshake is closed through
//     OnClose (websocket.go _error → transport.go OnClose), which never
//     reaches DoClose, the only caller of writeQueue.TryClose: the queue's
//     goroutine (queue.go:30) and all it holds would stay forever. DoClose
//     is idempotent for WebSockets; it runs apart because it waits for the
//     queue, and this runs inside the socket's disconnect handlers.
func finishClose(conn engine.Socket) {
	t := conn.Transport()
	switch {
	case t == nil:
	case t.Name() == transports.POLLING && t.ReadyState() == "closing":
		t.OnClose()
	case t.Name() == transports.WEBSOCKET && conn.ReadyState() == "closed":
		go t.DoClose(nil) // TryClose waits for a write stuck on the dead peer
	}
}

func (ss *sessions) lookup(sid string) (*session, bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	st, ok := ss.byID[sid]
	return st, ok
}

// closeSession ends an Engine.IO session (bad input), as Node does.
func (s *Server) closeSession(sid, reason string) {
	if conn, ok := s.io.Engine().Clients().Load(sid); ok {
		s.log.Warn("closing socket.io session", "sid", sid, "reason", reason)
		conn.Close(true) // discard: close now, not after the next poll
		finishClose(conn)
	}
}

// engineHandler is what Handler returns.
type engineHandler struct{ s *Server }

func (h engineHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.s.guarded.ServeHTTP(w, r) }

// CloseSession ends the Engine.IO session sid if it is open (the web layer
// calls it when it refuses a request of that session).
func (h engineHandler) CloseSession(sid, reason string) { h.s.closeSession(sid, reason) }

// serveEngine passes a request to the engine with the workarounds above.
func (s *Server) serveEngine(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	sid := q.Get("sid")
	switch {
	case websocket.IsWebSocketUpgrade(r):
		gw := &gatedWriter{ResponseWriter: w, gate: make(chan struct{}), pool: s.wsBufs}
		defer close(gw.gate) // the engine has attached its listeners
		s.engine.ServeHTTP(gw, r)
		if conn, ok := s.io.Engine().Clients().Load(sid); ok && gw.conn != nil {
			// An upgrade probe: its transport becomes the session's on
			// "upgrade" (a new session's is corked in onConnection).
			_ = conn.Once("upgrade", func(args ...any) {
				if t, ok := args[0].(transports.Transport); ok {
					gw.conn.cork(t)
				}
			})
		}
	case sid != "" && r.Method == http.MethodPost:
		s.servePost(w, r, sid, q.Get("EIO") == "3")
	case r.Method == http.MethodGet && q.Get("transport") == "polling":
		s.servePoll(w, r, sid, q.Get("EIO") == "3")
	default:
		s.engine.ServeHTTP(w, r)
	}
}

// servePost validates a polling body before the engine decodes it.
func (s *Server) servePost(w http.ResponseWriter, r *http.Request, sid string, eio3 bool) {
	if r.Header.Get("Content-Type") == "application/octet-stream" {
		s.postToEngine(w, r, sid) // EIO3 binary payload: the engine checks it
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, s.opts.MaxHTTPBufferSize+1))
	if err == nil && int64(len(body)) > s.opts.MaxHTTPBufferSize {
		err = fmt.Errorf("body over %d bytes", s.opts.MaxHTTPBufferSize)
	}
	if err == nil {
		err = validPayload(string(body), eio3)
	}
	if err != nil {
		s.closeSession(sid, "invalid polling payload: "+err.Error())
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, "invalid Engine.IO payload: "+err.Error())
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	s.postToEngine(w, r, sid)
}

// postToEngine passes a polling POST to the engine, then releases the
// transport's write queue if the body closed the session. A client's close
// packet closes a polling transport through OnClose (polling.go:230-232),
// so the engine's own Close returns early on the already "closed"
// transport (transport.go:158) and never reaches DoClose, the only caller
// of writeQueue.TryClose (polling.go:419): one parked goroutine
// (queue.go:30) and the transport it holds would stay per closed session.
// It runs after the engine answered: DoClose answers a POST still in
// progress with 429 (polling.go:421-425), and this one is the close's own.
func (s *Server) postToEngine(w http.ResponseWriter, r *http.Request, sid string) {
	conn, ok := s.io.Engine().Clients().Load(sid)
	s.engine.ServeHTTP(w, r)
	if !ok || conn.ReadyState() != "closed" {
		return
	}
	if t := conn.Transport(); t != nil && t.Name() == transports.POLLING && t.ReadyState() == "closed" {
		t.Discard() // DoClose then finishes at once instead of waiting for a poll
		t.DoClose(nil)
	}
}

// errPayload reports a body that is not an Engine.IO payload.
var errPayload = errors.New("not an Engine.IO payload")

// validPayload checks a polling body's framing and packet types: v4
// separates packets with \x1e, v3 prefixes each with its length in UTF-16
// code units and a colon. A packet starts with its type, 0–6, or "b" for
// base64 binary.
func validPayload(body string, eio3 bool) error {
	if body == "" {
		return fmt.Errorf("%w: empty body", errPayload)
	}
	if !eio3 {
		for p := range splitSeq(body, '\x1e') {
			if !validPacket(p) {
				return fmt.Errorf("%w: bad packet %.20q", errPayload, p)
			}
		}
		return nil
	}
	for body != "" {
		colon := 0
		for colon < len(body) && body[colon] >= '0' && body[colon] <= '9' {
			colon++
		}
		if colon == 0 || colon > 9 || colon >= len(body) || body[colon] != ':' {
			return fmt.Errorf("%w: bad length prefix in %.20q", errPayload, body)
		}
		n, _ := strconv.Atoi(body[:colon])
		body = body[colon+1:]
		i, units := 0, 0
		for units < n && i < len(body) {
			r, size := utf8.DecodeRuneInString(body[i:])
			units += utf16.RuneLen(r)
			i += size
		}
		if units != n || !validPacket(body[:i]) {
			return fmt.Errorf("%w: bad packet %.20q", errPayload, body[:i])
		}
		body = body[i:]
	}
	return nil
}

func validPacket(p string) bool {
	return p != "" && (p[0] >= '0' && p[0] <= '6' || p[0] == 'b')
}

func splitSeq(s string, sep byte) func(func(string) bool) {
	return func(yield func(string) bool) {
		for {
			i := bytes.IndexByte([]byte(s), sep)
			if i < 0 {
				yield(s)
				return
			}
			if !yield(s[:i]) {
				return
			}
			s = s[i+1:]
		}
	}
}

// servePoll passes a long-poll GET (or a polling handshake) to the engine
// and answers it with the close packet as soon as its session closes.
//
// It also keeps the response until the library has finished with the
// request: the library closes the request (http-context.go:246) before
// running its cleanup (:248), which clears the transport's current poll
// unconditionally (polling.go:135). Returning earlier lets the client's
// next poll be registered first and then cleared: the next write finds no
// poll and the library closes the session ("polling write error").
func (s *Server) servePoll(w http.ResponseWriter, r *http.Request, sid string, eio3 bool) {
	var st *session
	if sid != "" {
		var ok bool
		if st, ok = s.sessions.lookup(sid); !ok {
			s.engine.ServeHTTP(w, r) // unknown sid: the engine answers 400
			return
		}
	}
	// The engine's request context is ours to cancel: cancelling it while
	// the engine is still setting the poll up races inside the library
	// (polling.go:133 writes ctx.Cleanup, http-context.go:247 reads it), so
	// we cancel only once the poll is set up (it then listens for "close").
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	defer cancel()
	gw := &gateWriter{w: w, header: http.Header{}}
	hc := types.NewHttpContext(gw, r.WithContext(ctx))
	cleaned := make(chan struct{})
	_ = hc.Once("close", func(...any) { close(cleaned) }) // emitted after the cleanup
	const ours = 1                                        // our "close" listener
	var sessionClosed <-chan struct{}
	if st != nil {
		sessionClosed = st.closed
	}
	go func() {
		select {
		case <-sessionClosed:
		case <-r.Context().Done(): // the client went away
		case <-hc.Done():
			return
		}
		// Normally set up long ago; bounded in case this request never
		// becomes the session's poll.
		for i := 0; i < 1000 && hc.ListenerCount("close") <= ours; i++ {
			select {
			case <-hc.Done():
				return
			case <-time.After(time.Millisecond): // the engine is mid-setup
			}
		}
		cancel()
	}()
	s.engine.(interface{ HandleRequest(*types.HttpContext) }).HandleRequest(hc)
	<-cleaned
	// The context can end while the engine's write queue is still writing
	// this response from its own goroutine: shut the gate so nothing
	// touches w once this handler returns.
	if started := gw.shut(); started || hc.IsDone() || st == nil { // the engine answered
		return
	}
	select {
	case <-st.closed:
		pkt := "1" // Engine.IO close packet
		if eio3 {
			pkt = "1:1"
		}
		w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
		w.Header().Set("Content-Length", strconv.Itoa(len(pkt)))
		w.Header().Set("Cache-Control", "no-store")
		_, _ = io.WriteString(w, pkt)
	default:
	}
}

// gateWriter is the engine's ResponseWriter for a long-poll GET. It
// serializes the engine's writes and drops those after shut, because the
// engine may write from its queue goroutine after our handler returned (a
// data race on w, and a write to a finished response).
type gateWriter struct {
	w      http.ResponseWriter
	header http.Header // the engine's headers, copied to w when it writes

	mu      sync.Mutex
	started bool // the engine began a response
	closed  bool
}

func (g *gateWriter) Header() http.Header { return g.header }

func (g *gateWriter) WriteHeader(code int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.writeHeaderLocked(code)
}

func (g *gateWriter) writeHeaderLocked(code int) {
	if g.closed || g.started {
		return
	}
	g.started = true
	for k, v := range g.header {
		g.w.Header()[k] = v
	}
	g.w.WriteHeader(code)
}

func (g *gateWriter) Write(b []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return 0, http.ErrHandlerTimeout
	}
	g.writeHeaderLocked(http.StatusOK)
	return g.w.Write(b)
}

func (g *gateWriter) Flush() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if f, ok := g.w.(http.Flusher); ok && !g.closed {
		f.Flush()
	}
}

// shut stops the engine's writes, waiting for one in progress, and reports
// whether the engine had begun a response.
func (g *gateWriter) shut() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
	return g.started
}

// gatedWriter hands the engine a hijacked connection, a wsConn whose
// reads wait until gate is closed.
type gatedWriter struct {
	http.ResponseWriter
	gate chan struct{}
	pool *sync.Pool
	conn *wsConn
}

func (g *gatedWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := g.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("realtime: response writer cannot be hijacked")
	}
	conn, rw, err := h.Hijack()
	if err != nil {
		return nil, nil, err
	}
	// gorilla reads through its own buffer on this conn (the engine sets a
	// ReadBufferSize), never through rw's reader.
	g.conn = &wsConn{Conn: conn, gate: g.gate, pool: g.pool}
	return g.conn, rw, nil
}
