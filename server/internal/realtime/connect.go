package realtime

import (
	"strings"
	"sync"
	"time"

	"github.com/zishang520/socket.io/servers/engine/v3"
	"github.com/zishang520/socket.io/servers/socket/v3"

	"github.com/realtime-circles/realtime-circles/server/internal/engineio"
)

// The library's Socket.IO layer writes a CONNECT's reply
// (namespace.go:342 _onconnect) before its client records the namespace
// (client.go:115-116, in the callback after it): a client's first event
// can be decoded in between and the library closes the session as
// "invalid state" (client.go:212-214). So after a CONNECT, a session's
// other packets wait until the join is recorded. A CONNECT never waits,
// and a CONNECT_ERROR reply (44) ends the wait at once, as does the
// session closing; holdLimit bounds it in any case.
const holdLimit = 2 * time.Second

// session is what we track of one Engine.IO session.
type session struct {
	closed chan struct{} // closed when the session ends

	mu      sync.Mutex
	joining chan struct{} // closed when the pending CONNECT is settled; nil: none pending
}

// connecting marks a CONNECT sent: packets after it wait.
func (st *session) connecting() {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.joining == nil {
		st.joining = make(chan struct{})
	}
}

// settled ends the wait: the socket joined, or its CONNECT was refused.
func (st *session) settled() {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.joining != nil {
		close(st.joining)
		st.joining = nil
	}
}

// hold runs before Socket.IO decodes each packet of the session.
func (st *session) hold(data any) {
	if text, ok := data.(string); ok && isConnect(text) {
		st.connecting()
		return
	}
	st.mu.Lock()
	wait := st.joining
	st.mu.Unlock()
	if wait == nil {
		return
	}
	t := time.NewTimer(holdLimit)
	defer t.Stop()
	select {
	case <-wait:
	case <-st.closed:
	case <-t.C:
		st.settled() // give up: Socket.IO decides what the packet means
	}
}

// isConnect reports a Socket.IO CONNECT packet of the main namespace:
// "0", optionally with an auth payload (v4); another namespace's starts
// "0/".
func isConnect(text string) bool {
	return strings.HasPrefix(text, "0") && !strings.HasPrefix(text, "0/")
}

// sessions tracks open Engine.IO sessions by id.
type sessions struct {
	mu   sync.Mutex
	byID map[string]*session
}

// newSessions listens for the engine's sessions. It must be called before
// Socket.IO binds to the engine: our "data" listener then runs before
// Socket.IO's on every packet.
func newSessions(eio *engineio.Server) *sessions {
	ss := &sessions{byID: make(map[string]*session)}
	_ = eio.On("connection", ss.onConnection)
	return ss
}

// watchJoins settles a session's CONNECT when its socket has joined. It
// must be called after the app's connection handler is attached, so that
// the first event finds the app's listeners.
func (ss *sessions) watchJoins(io *socket.Server) {
	_ = io.Of("/", nil).On("connection", func(args ...any) {
		if so, ok := args[0].(*socket.Socket); ok {
			ss.settle(so.Conn().Id())
		}
	})
}

func (ss *sessions) onConnection(args ...any) {
	conn, ok := args[0].(engine.Socket)
	if !ok {
		return
	}
	sid := conn.Id()
	st := &session{closed: make(chan struct{})}
	if conn.Protocol() == 3 {
		// EIO3 clients join "/" implicitly, with no CONNECT packet.
		st.connecting()
	}
	ss.mu.Lock()
	ss.byID[sid] = st
	ss.mu.Unlock()
	_ = conn.On("data", func(args ...any) { st.hold(first(args)) })
	_ = conn.Once("close", func(...any) {
		ss.mu.Lock()
		delete(ss.byID, sid)
		ss.mu.Unlock()
		close(st.closed)
	})
}

// settle ends session sid's wait for its CONNECT.
func (ss *sessions) settle(sid string) {
	ss.mu.Lock()
	st, ok := ss.byID[sid]
	ss.mu.Unlock()
	if ok {
		st.settled()
	}
}

// onWrite sees the text packets written to one session: a CONNECT_ERROR
// ("44…") settles its CONNECT.
func (ss *sessions) onWrite(sock *engineio.Socket, text string) {
	if strings.HasPrefix(text, "44") {
		ss.settle(sock.Id())
	}
}
