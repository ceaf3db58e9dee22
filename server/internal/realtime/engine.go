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
	tw := &trackingWriter{ResponseWriter: w}
	s.engine.ServeHTTP(tw, r.WithContext(ctx))
	select {
	case <-released:
		if !tw.wrote {
			w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
			_, _ = w.Write([]byte("1")) // Engine.IO close packet, as Node sends
		}
	default:
	}
}

// trackingWriter records whether the engine wrote a response.
type trackingWriter struct {
	http.ResponseWriter
	mu    sync.Mutex
	wrote bool
}

func (t *trackingWriter) WriteHeader(code int) {
	t.mu.Lock()
	t.wrote = true
	t.mu.Unlock()
	t.ResponseWriter.WriteHeader(code)
}

func (t *trackingWriter) Write(b []byte) (int, error) {
	t.mu.Lock()
	t.wrote = true
	t.mu.Unlock()
	return t.ResponseWriter.Write(b)
}

func (t *trackingWriter) Flush() {
	if f, ok := t.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
