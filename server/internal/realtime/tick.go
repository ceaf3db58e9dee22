package realtime

import (
	"time"

	"github.com/zishang520/socket.io/servers/socket/v3"

	"github.com/realtime-circles/realtime-circles/server/internal/board"
)

// Batch clients (the shipped page announces auth {batch: true}) receive a
// board's new circles once per tick as one "circles" event holding an
// array, instead of one add-circle per click: a hall of 1000 pages at 1000
// clicks/s is a million add-circle packets a second, but only 30 packets
// per page per second batched. Lesson clients keep one add-circle per event.
//
// The tick's cursor moves ride in the same packet, as the event's second
// argument: "circles"(circles, cursors). A tick with moves but no circles
// sends "cursors"(cursors), volatile, as lesson clients always get them,
// so a busy page skips a tick of cursors rather than queue it.
//
// Each board has two rooms besides the board room (which everyone is in,
// for player lists and clears): one per delivery mode. Both are plain
// rooms, so a cluster adapter carries them: every node batches the circles
// drawn and the cursors moved on it and broadcasts its own batch.

// sweepEvery is how often boards idle past their TTL are looked for.
const sweepEvery = time.Second

// BatchEvent is the event batch clients receive each tick.
const BatchEvent = "circles"

func eachRoom(boardName string) socket.Room  { return socket.Room("board:" + boardName + ":each") }
func batchRoom(boardName string) socket.Room { return socket.Room("board:" + boardName + ":batch") }

// wantsBatch reads the client's handshake auth.
func wantsBatch(so *socket.Socket) bool {
	b, _ := so.Handshake().Auth["batch"].(bool)
	return b
}

// joinBoard puts a socket in its board's rooms.
func (s *Server) joinBoard(so *socket.Socket, boardName string) {
	mode := eachRoom(boardName)
	if wantsBatch(so) {
		mode = batchRoom(boardName)
	}
	so.Join(room(boardName), mode)
}

// batchCircle queues a stored circle for the board's batch clients' next
// tick (lesson clients got it at once). The caller holds boardMu.
func (s *Server) batchCircle(boardName string, c board.Circle) {
	s.batch[boardName] = append(s.batch[boardName], c)
}

// flushBoard sends a board's pending circles to its batch clients. Called
// before a clear, so a batch client never sees a circle that was drawn
// before the clear arrive after it. The caller holds boardMu.
func (s *Server) flushBoard(boardName string) {
	circles := s.batch[boardName]
	if len(circles) == 0 {
		return
	}
	delete(s.batch, boardName)
	_ = s.io.To(batchRoom(boardName)).Emit(BatchEvent, circles)
}

// tick sends every board's circles and cursors each interval until stop
// is closed. Both in one place, so a tick is one packet per batch client.
func (s *Server) tick(interval time.Duration, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(interval)
	defer t.Stop()
	var lastSweep time.Time
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			if s.keeper != nil && now.Sub(lastSweep) >= sweepEvery {
				lastSweep = now
				s.keeper.Sweep(now) // boards idle past BoardIdleTTL
			}
			s.boardMu.Lock()
			s.sendPlayerLists()
			s.cursors.flush(s.sendTick)
			s.boardMu.Unlock()
		}
	}
}

// sendTick sends one tick: each board's pending circles with its cursor
// batch to batch clients, and the cursor batch alone to everyone else.
// The caller holds boardMu.
func (s *Server) sendTick(cursors map[string]cursorBatch) {
	for name, cb := range cursors {
		if _, drawn := s.batch[name]; !drawn {
			s.emitTo(room(name), "cursors", cb.volatile, cb.cursors) // everyone, batch pages too
		}
	}
	for name, circles := range s.batch {
		delete(s.batch, name)
		cb, moved := cursors[name]
		if !moved {
			_ = s.io.To(batchRoom(name)).Emit(BatchEvent, circles)
			continue
		}
		_ = s.io.To(batchRoom(name)).Emit(BatchEvent, circles, cb.cursors)
		s.emitTo(eachRoom(name), "cursors", cb.volatile, cb.cursors)
	}
}

// queuePlayerList keeps a board's latest player list for the next tick: a
// board sends at most one update-player-list per tick, the latest, however
// many players register or leave in it (a hundred sockets registering at
// their limit would otherwise send every page hundreds of lists a second).
// The caller holds boardMu.
func (s *Server) queuePlayerList(boardName string, list []string) {
	s.lists[boardName] = list
}

// sendPlayerLists sends the lists queued since the last tick. The caller
// holds boardMu.
func (s *Server) sendPlayerLists() {
	for name, list := range s.lists {
		delete(s.lists, name)
		_ = s.io.To(room(name)).Emit("update-player-list", list)
	}
}
