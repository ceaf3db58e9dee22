package realtime

import (
	"crypto/rand"
	"encoding/base64"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/zishang520/socket.io/servers/socket/v3"

	"github.com/realtime-circles/realtime-circles/server/internal/board"
)

// boardOf picks the board a new socket plays on, in order: the CONNECT
// auth's board (the shipped page sends it), the handshake's ?board= query,
// the handshake request's Referer when it is a /b/<name> page (so a
// lesson-style io() client opened on /b/x lands on x: its first request is
// a polling GET, which carries the Referer), else the default board. An
// invalid name is refused rather than silently mapped elsewhere.
func boardOf(so *socket.Socket) (name string, ok bool) {
	if h := so.Handshake(); h != nil {
		if v, present := h.Auth["board"]; present {
			s, isString := v.(string)
			return s, isString && board.ValidName(s)
		}
	}
	r := so.Request().Request()
	if r == nil {
		return board.Default, true
	}
	if q := r.URL.Query(); q.Has("board") {
		s := q.Get("board")
		return s, board.ValidName(s)
	}
	if ref, err := url.Parse(r.Header.Get("Referer")); err == nil {
		if rest, isBoard := strings.CutPrefix(ref.Path, "/b/"); isBoard && board.ValidName(rest) {
			return rest, true
		}
	}
	return board.Default, true
}

// chooseBoard is a connection middleware: it puts the socket on its board
// before the connection handler runs, and refuses an invalid board name
// with a CONNECT_ERROR the client can show. It is the last middleware, and
// it joins the board's rooms itself: the library writes the CONNECT reply
// before it runs the connection handlers (namespace.go:342-349), so a
// circle drawn in between would miss a client that counts as connected.
// A socket refused after this leaves its rooms (socket.go:596 _cleanup).
func (s *Server) chooseBoard(so *socket.Socket, next func(*socket.ExtendedError)) {
	if _, restored := so.Data().(*player); restored && so.Recovered() {
		next(nil) // keep the recovered board and initials
		return
	}
	name, ok := boardOf(so)
	if !ok {
		s.log.Warn("connection rejected", "reason", "invalid board name")
		next(socket.NewExtendedError("invalid board: a board name is 1–32 letters, digits or '-'", nil))
		return
	}
	if err := s.holdBoard(so, name, false); err != nil {
		s.boardWarns.warn(s.log, "connection rejected", "reason", "boards full", "board", name, "max_boards", s.limits.MaxBoards)
		next(socket.NewExtendedError(err.Error(), nil))
		return
	}
	so.SetData(&player{board: name, id: newPublicID(), grace: wantsGrace(so)})
	s.joinBoard(so, name)
	next(nil)
}

// boardKeeper is a store that keeps boards within caps (board.Memory):
// it is told which boards have connected sockets, which it never evicts.
type boardKeeper interface {
	Open(name string, force bool) error
	Release(name string)
	CanOpen(name string) bool
	Sweep(now time.Time)
	Stats() (boards, circles int)
}

// holdBoard counts so on its board until its connection closes (which
// happens exactly once, whether or not the socket ever connects). A new
// board is refused when the node is full, unless force.
func (s *Server) holdBoard(so *socket.Socket, name string, force bool) error {
	if s.keeper == nil {
		return nil
	}
	if err := s.keeper.Open(name, force); err != nil {
		return err
	}
	var once sync.Once
	release := func(...any) { once.Do(func() { s.keeper.Release(name) }) }
	conn := so.Conn()
	_ = conn.Once("close", release)
	if conn.ReadyState() == "closed" {
		release()
	}
	return nil
}

// CanOpenBoard reports whether a page for board name can play now: the
// board exists or the node has room for it (the web package shows a
// "server full" page otherwise).
func (s *Server) CanOpenBoard(name string) bool {
	return s.keeper == nil || s.keeper.CanOpen(name)
}

// newPublicID is a player's id on the wire to other clients (cursors,
// cursor-leave). Socket ids are not for sharing: for socket.io-client 2.x
// the socket id is the Engine.IO session id, which lets whoever knows it
// post into and read that client's polling session. It lives in the
// socket's data, so a recovered socket keeps it.
func newPublicID() string {
	var b [9]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b[:])
}
