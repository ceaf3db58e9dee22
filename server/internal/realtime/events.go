package realtime

import (
	"sync"
	"sync/atomic"

	"github.com/zishang520/socket.io/servers/socket/v3"

	"github.com/realtime-circles/realtime-circles/server/internal/board"
)

// player is what a socket carries between events.
type player struct {
	board    string
	initials string
	id       string      // public id (newPublicID): what other clients see, never the socket id
	grace    bool        // asked for a presence grace in the handshake (wantsGrace)
	saidBye  atomic.Bool // sent DISCONNECT: leaves at once, never waits to recover
	warns    warnSampler // limits.go: this socket's warnings, sampled
}

// room is the Socket.IO room of a board. Every emit goes to a room rather
// than to everyone, so boards stay apart and the Redis adapter (which only
// carries room broadcasts across nodes) reaches every node.
func room(boardName string) socket.Room { return socket.Room("board:" + boardName) }

// attach wires the lesson's events. It reads like the lesson's io.js on
// purpose: io.On("connection"), socket.On("add-circle"), io.Emit.
func (s *Server) attach(io *socket.Server) {
	io.Use(s.chooseBoard)
	io.On("connection", func(args ...any) {
		socket := args[0].(*socket.Socket)
		me := socket.Data().(*player) // set by chooseBoard, or restored on recovery
		socket.Use(s.limitEvents(socket, me))
		everyone := io.To(room(me.board))
		if socket.Recovered() {
			s.recovered(socket, me)
		} else {
			s.sendBoard(socket, me.board) // chooseBoard joined it
		}
		s.attachPresence(io, socket, me)
		watchBye(socket, me)

		socket.On("register-player", func(args ...any) {
			args, ack := splitAck(args)
			initials, err := board.ParseInitials(first(args))
			if err != nil {
				s.reject(socket, "register-player", ack, err)
				return
			}
			s.boardMu.Lock()
			defer s.boardMu.Unlock()
			ctx, cancel := s.ctx()
			defer cancel()
			list, err := s.store.Join(ctx, me.board, board.Player{ID: string(socket.Id()), Initials: initials})
			if err != nil {
				s.reject(socket, "register-player", ack, err)
				return
			}
			me.initials = initials
			s.queuePlayerList(me.board, list)
			ok(ack)
		})

		socket.On("add-circle", func(args ...any) {
			args, ack := splitAck(args)
			circle, err := board.ParseCircle(first(args))
			if err == nil && me.initials != "" {
				circle.Initials = me.initials // the server, not the client, says who drew it
			}
			if err == nil && circle.Initials == "" {
				err = errNotRegistered
			}
			if err != nil {
				s.reject(socket, "add-circle", ack, err)
				return
			}
			s.boardMu.Lock()
			defer s.boardMu.Unlock()
			ctx, cancel := s.ctx()
			defer cancel()
			if me.initials == "" {
				err = s.notSomeoneElses(ctx, me.board, circle.Initials)
			}
			if err == nil {
				err = s.store.AddCircle(ctx, me.board, circle)
			}
			if err != nil {
				s.reject(socket, "add-circle", ack, err)
				return
			}
			_ = io.To(eachRoom(me.board)).Emit("add-circle", circle) // lesson clients: one event each
			s.batchCircle(me.board, circle)
			ok(ack)
		})

		for _, name := range ClearEvents {
			socket.On(name, func(args ...any) {
				_, ack := splitAck(args)
				s.boardMu.Lock()
				defer s.boardMu.Unlock()
				ctx, cancel := s.ctx()
				defer cancel()
				if err := s.store.Clear(ctx, me.board); err != nil {
					s.reject(socket, name, ack, err)
					return
				}
				// Relayed under the name received, then under the other names,
				// so a class mixing clients that listen for different names
				// still clears together. Arguments are dropped: clients ignore
				// them, and relaying them would hand a sender's payload to
				// every page.
				s.flushBoard(me.board)
				_ = everyone.Emit(name)
				for _, alias := range ClearEvents {
					if alias != name {
						_ = everyone.Emit(alias)
					}
				}
				ok(ack)
			})
		}

		socket.On("disconnect", onlyOnce(func(args ...any) {
			reason, _ := first(args).(string)
			me.flushWarnings(s.log, socket.Id())
			s.leave(socket, me, reason)
		}))
	})
}

// onlyOnce wraps a "disconnect" listener so it runs once per socket. The
// library can emit "disconnect" twice for one socket: _onclose checks
// Connected (socket.go:573) and clears it only after the close work
// (:590), so two closing paths (the client's disconnect packet and its
// transport closing) both get through.
func onlyOnce(fn func(args ...any)) func(args ...any) {
	var once sync.Once
	return func(args ...any) { once.Do(func() { fn(args...) }) }
}
