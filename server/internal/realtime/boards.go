package realtime

import (
	"crypto/rand"
	"encoding/base64"
	"net/url"
	"strings"

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

// chooseBoard is a connection middleware: it settles the socket's board
// before the connection handler runs, and refuses an invalid board name
// with a CONNECT_ERROR the client can show.
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
	so.SetData(&player{board: name, id: newPublicID(), grace: wantsGrace(so)})
	next(nil)
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
