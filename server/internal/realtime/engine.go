package realtime

import (
	"context"
	"net/http"
	"sync"

	"github.com/zishang520/socket.io/servers/engine/v3"
)

// sessions tracks open Engine.IO sessions so a long-polling GET is never
// held after its session is gone. The library drops the close packet for a
// pending poll when it closes a session (ping timeout, oversize body,
// shutdown) and keeps the request until the client gives up; Node answers
// "1" (close) at once, and so do we.
type sessions struct {
	mu     sync.Mutex
	closed map[string]chan struct{} // sid → closed when the session ends
}

func newSessions(eio engine.BaseServer) *sessions {
	ss := &sessions{closed: make(map[string]chan struct{})}
	_ = eio.On("connection", func(args ...any) {
		conn, ok := args[0].(engine.Socket)
		if !ok {
			return
		}
		openGate(conn)
		sid := conn.Id()
		done := make(chan struct{})
		ss.mu.Lock()
		ss.closed[sid] = done
		ss.mu.Unlock()
		_ = conn.Once("close", func(...any) {
			ss.mu.Lock()
			delete(ss.closed, sid)
			ss.mu.Unlock()
			close(done)
		})
	})
	return ss
}

func (ss *sessions) lookup(sid string) (<-chan struct{}, bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ch, ok := ss.closed[sid]
	return ch, ok
}

// serveEngine passes a request to the engine, releasing a long-poll GET
// with a close packet as soon as its session closes.
func (s *Server) serveEngine(w http.ResponseWriter, r *http.Request) {
	sid := r.URL.Query().Get("sid")
	if r.Method != http.MethodGet || sid == "" || r.URL.Query().Get("transport") != "polling" {
		s.engine.ServeHTTP(gateWebSocket(w, r))
		return
	}
	closed, ok := s.sessions.lookup(sid)
	if !ok {
		s.engine.ServeHTTP(w, r) // unknown sid: the engine answers 400
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	released := make(chan struct{})
	go func() {
		select {
		case <-closed:
			close(released)
			cancel()
		case <-ctx.Done():
		}
	}()
	gw := &gateWriter{w: w, header: http.Header{}}
	s.engine.ServeHTTP(gw, r.WithContext(ctx))
	// The engine returns when its request context ends, possibly while its
	// write queue is still writing this response: shut the gate so nothing
	// touches w after this handler returns.
	started := gw.shut()
	select {
	case <-released:
		if !started {
			w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
			_, _ = w.Write([]byte("1")) // Engine.IO close packet, as Node sends
		}
	default:
	}
}

// gateWriter is the engine's ResponseWriter for a long-poll GET. It
// serializes the engine's writes and drops those after shut, because the
// engine may write from its queue goroutine after ServeHTTP returned (a data
// race on w, and a write to a finished response, under -race).
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
