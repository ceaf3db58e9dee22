package realtime

import (
	"fmt"

	"github.com/realtime-circles/realtime-circles/server/internal/board"
)

var errNotRegistered = fmt.Errorf("%w add-circle: register-player first, or send initials with the circle", board.ErrInvalid)
