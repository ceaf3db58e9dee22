package realtime

import (
	"fmt"
	"io"
	"time"

	"github.com/zishang520/socket.io/parsers/engine/v3/packet"
	"github.com/zishang520/socket.io/servers/socket/v3"

	"github.com/realtime-circles/realtime-circles/server/internal/board"
)

// DefaultRecoveryWindow is how long a client whose connection dropped can
// come back with its socket id, rooms and missed events.
const DefaultRecoveryWindow = 2 * time.Minute

// DefaultPresenceGrace is how long a dropped player of a client that
// asked for a grace (wantsGrace) stays in the list waiting to recover, so
// a blip of a few seconds does not show as leaving and re-joining. A client
// that comes back later still recovers its events and joins the list again.
const DefaultPresenceGrace = 10 * time.Second

// wantsGrace reads the handshake's auth {presenceGrace: true}. Only such
// clients keep their player through a dropped connection: to the server a
// lesson-style page whose tab closed looks like a network blip (the
// transport just closes), and the class must see it leave at once, as on
// Node. The shipped page opts in and says goodbye on pagehide.
func wantsGrace(so *socket.Socket) bool {
	g, _ := so.Handshake().Auth["presenceGrace"].(bool)
	return g
}

// PlayerIDEvent tells a socket its player's public id, {id}: the id its
// cursor has in cursors and cursor-leave. Sent when it connects.
const PlayerIDEvent = "player-id"

var errCursorNotRegistered = fmt.Errorf("%w cursor: register-player first", board.ErrInvalid)

// attachPresence wires the events beyond the lesson: live cursors and the
// seeds' spy and mouse demos. Lesson clients never send them.
func (s *Server) attachPresence(io *socket.Server, so *socket.Socket, me *player) {
	// The page tells its own cursor from the others' by this id. An
	// object, not a string: a client granted a recovery pid takes a
	// trailing string argument for the recovery offset.
	_ = so.Emit(PlayerIDEvent, map[string]string{"id": me.id})
	so.On("cursor", func(args ...any) {
		args, ack := splitAck(args)
		p, err := board.ParsePoint(args)
		if err == nil && me.initials == "" {
			err = errCursorNotRegistered
		}
		if err != nil {
			s.reject(so, "cursor", ack, err)
			return
		}
		s.cursors.Move(me.board, Cursor{ID: me.id, Initials: me.initials, Color: cursorColour(me.id), X: p.X, Y: p.Y})
		ok(ack)
	})

	// spy (the seed's socket.broadcast.emit('spy', {x, y})) and mouse (the
	// p5 drawing seed): relayed to the rest of the board as reliably as
	// there. Not volatile: a dropped mouse point is a gap in someone's line;
	// the batched, volatile way is "cursor".
	for _, name := range []string{"spy", "mouse"} {
		so.On(name, func(args ...any) {
			args, ack := splitAck(args)
			p, err := board.ParsePoint(args)
			if err != nil {
				s.reject(so, name, ack, err)
				return
			}
			_ = io.To(room(me.board)).Except(socket.Room(so.Id())).Emit(name, p)
			ok(ack)
		})
	}
}

// emitToBoard is the cursor hub's way out: always a broadcast operator,
// never a socket's flags, so it is safe from the hub's goroutine.
func (s *Server) emitToBoard(boardName, event string, volatile bool, data any) {
	s.emitTo(room(boardName), event, volatile, data)
}

// emitTo broadcasts to a room; a volatile event is dropped for a client
// whose transport is busy.
func (s *Server) emitTo(r socket.Room, event string, volatile bool, data any) {
	op := s.io.To(r)
	if volatile {
		op = op.Volatile()
	}
	_ = op.Emit(event, data)
}

// sendBoard gives a joining socket the board's circles. Under boardMu, so
// no add-circle or clear is ordered between the snapshot and the send.
func (s *Server) sendBoard(so *socket.Socket, boardName string) {
	s.boardMu.Lock()
	defer s.boardMu.Unlock()
	ctx, cancel := s.ctx()
	defer cancel()
	circles, err := s.store.Circles(ctx, boardName)
	if err != nil {
		s.log.Error("reading board", "board", boardName, "err", err)
		return
	}
	if len(circles) > board.MaxCircles {
		circles = circles[len(circles)-board.MaxCircles:]
	}
	if circles == nil {
		circles = []board.Circle{} // an array, never null, whatever the store
	}
	_ = so.Emit("board", circles)
}

// leave runs on disconnect. The cursor goes at once. A socket that asked
// for a presence grace and may recover (a dropped connection of a client
// that speaks recovery) keeps its player entry for the grace, so the others
// do not see it leave and re-join; anything else leaves now, whatever the
// reason, as on Node. A client that recovers later is listed again.
func (s *Server) leave(so *socket.Socket, me *player, reason string) {
	id := so.Id()
	s.cursors.Leave(me.board, me.id)
	s.boardMu.Lock()
	defer s.boardMu.Unlock()
	if me.grace && s.recovery > 0 && !s.closing && !me.saidBye.Load() && socket.RECOVERABLE_DISCONNECT_REASONS.Has(reason) &&
		so.Conn().Protocol() == 4 && me.initials != "" {
		var t *time.Timer
		t = time.AfterFunc(s.opts.PresenceGrace, func() {
			s.boardMu.Lock()
			defer s.boardMu.Unlock()
			if s.pending[id].timer != t {
				return // recovered, or the server is closing
			}
			delete(s.pending, id)
			s.removePlayer(me.board, id)
		})
		s.pending[id] = pendingLeave{timer: t, board: me.board}
		return
	}
	s.removePlayer(me.board, id)
}

// recovered runs when a dropped socket comes back with its state. Its
// player never left, unless the grace ran out just before: then it joins
// again under its old initials.
func (s *Server) recovered(so *socket.Socket, me *player) {
	_ = s.holdBoard(so, me.board, true) // recovery skips chooseBoard
	s.boardMu.Lock()
	defer s.boardMu.Unlock()
	id := so.Id()
	me.saidBye.Store(false)
	if p, ok := s.pending[id]; ok {
		p.timer.Stop()
		delete(s.pending, id)
		return
	}
	if me.initials == "" {
		return
	}
	ctx, cancel := s.ctx()
	defer cancel()
	list, err := s.store.Join(ctx, me.board, board.Player{ID: string(id), Initials: me.initials})
	if err != nil {
		s.log.Error("re-adding recovered player", "socket", id, "err", err)
		return
	}
	s.queuePlayerList(me.board, list)
}

// removePlayer drops a player and tells its board. Caller holds boardMu.
func (s *Server) removePlayer(boardName string, id socket.SocketId) {
	ctx, cancel := s.ctx()
	defer cancel()
	list, removed, err := s.store.Leave(ctx, boardName, string(id))
	if err != nil {
		s.log.Error("removing player", "socket", id, "err", err)
		return
	}
	if removed {
		s.queuePlayerList(boardName, list)
	}
}

// pendingLeave is a dropped player waiting to recover.
type pendingLeave struct {
	timer *time.Timer
	board string
}

// closeLeaves makes every later disconnect leave at once and removes, now,
// every player still waiting to recover: the server is going away and its
// clients will join wherever they reconnect.
func (s *Server) closeLeaves() {
	s.boardMu.Lock()
	defer s.boardMu.Unlock()
	s.closing = true
	for id, p := range s.pending {
		p.timer.Stop()
		delete(s.pending, id)
		s.removePlayer(p.board, id)
	}
}

// watchBye marks a player that sends a Socket.IO DISCONNECT ("41"). The
// library queues packets for the socket but closes it at once when the
// transport closes, so a DISCONNECT followed by the connection closing
// (what socket.disconnect() does in a browser) reaches the disconnect
// handler as "transport close", which looks recoverable. The Engine.IO
// "packet" event runs in arrival order, before the close, and lets us
// peek at the message without consuming it.
func watchBye(so *socket.Socket, me *player) {
	_ = so.Conn().On("packet", func(args ...any) {
		p, _ := first(args).(*packet.Packet)
		if p == nil || p.Type != packet.MESSAGE {
			return
		}
		if isDisconnect(p.Data) {
			me.saidBye.Store(true)
		}
	})
}

// isDisconnect reports whether an Engine.IO message body is the Socket.IO
// DISCONNECT packet of the main namespace, without reading it.
func isDisconnect(data any) bool {
	var head []byte
	switch d := data.(type) {
	case interface{ Bytes() []byte }:
		head = d.Bytes()
	case io.ReaderAt:
		buf := make([]byte, 2)
		n, _ := d.ReadAt(buf, 0)
		head = buf[:n]
	case string:
		head = []byte(d)
	}
	return string(head) == "1"
}
