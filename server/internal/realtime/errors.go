package realtime

import (
	"context"
	"fmt"

	"github.com/realtime-circles/realtime-circles/server/internal/board"
)

var errNotRegistered = fmt.Errorf("%w add-circle: register-player first, or send initials with the circle", board.ErrInvalid)

var errSomeoneElses = fmt.Errorf("%w add-circle: those initials belong to a registered player: register-player first", board.ErrInvalid)

// notSomeoneElses refuses a circle from a socket that never registered
// when its initials are a registered player's on the board (as this node's
// store sees it): it would draw in that player's name. Lesson pages
// register first and never get here.
func (s *Server) notSomeoneElses(ctx context.Context, boardName, initials string) error {
	taken, err := s.store.HasPlayer(ctx, boardName, initials)
	if err != nil {
		return fmt.Errorf("reading players: %w", err)
	}
	if taken {
		return errSomeoneElses
	}
	return nil
}
