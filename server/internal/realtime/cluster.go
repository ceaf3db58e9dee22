package realtime

import (
	"strings"

	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"

	"github.com/realtime-circles/realtime-circles/server/internal/board"
)

// SendPlayers emits a board's player list, read from the store, to this
// node's own clients on that board. The cluster calls it when the lists
// other nodes emitted may have reached clients out of order, or a dead
// node's players were removed.
func (s *Server) SendPlayers(boardName string) {
	if _, ok := s.io.Sockets().Adapter().Rooms().Load(room(boardName)); !ok {
		return // no client of this board here
	}
	s.boardMu.Lock()
	defer s.boardMu.Unlock()
	ctx, cancel := s.ctx()
	defer cancel()
	list, err := s.store.Players(ctx, boardName)
	if err != nil {
		s.log.Error("reading player list", "board", boardName, "err", err)
		return
	}
	_ = s.io.Local().To(room(boardName)).Emit("update-player-list", list)
}

// LocalBoards lists the boards this node has clients on. A board's
// sub-rooms (board:<b>:each, :batch) share its prefix but are not boards:
// re-sending "main:each"'s (empty) list put [] on every lesson page.
func (s *Server) LocalBoards() []string {
	var out []string
	s.io.Sockets().Adapter().Rooms().Range(func(r socket.Room, _ *types.Set[socket.SocketId]) bool {
		if b, ok := strings.CutPrefix(string(r), string(room(""))); ok && board.ValidName(b) {
			out = append(out, b)
		}
		return true
	})
	return out
}
