package main

import (
	"testing"

	"github.com/realtime-circles/realtime-circles/server/internal/board"
	"github.com/realtime-circles/realtime-circles/server/internal/realtime"
	"github.com/realtime-circles/realtime-circles/server/internal/sioclient"
)

// A batch client (the shipped page: auth {batch: true}) gets a tick's
// circles and cursor moves as one packet, "circles"(circles, cursors); a
// lesson client on the same board gets add-circle at once and the cursors
// as their own event; a tick with moves only is a "cursors" event for both.
func TestBatchTickOnePacket(t *testing.T) {
	s := startServer(t, nil, "-batch-tick", "400ms")
	auth := func(batch bool) sioclient.Options {
		return sioclient.Options{Auth: map[string]any{"board": "hall", "batch": batch}}
	}
	page := dial(t, s, auth(true))
	lesson := dial(t, s, auth(false))
	mover := dial(t, s, auth(false))
	moverID := publicID(t, mover)
	register(t, mover, "MV")

	onlyCursor := func(ev sioclient.Event, arg int, x float64) {
		t.Helper()
		var cs []cursor
		if err := ev.Decode(arg, &cs); err != nil || len(cs) != 1 || cs[0].ID != moverID || cs[0].X != x {
			t.Fatalf("cursors %s: want only the mover's at x=%v (%v)", ev.Args[arg], x, err)
		}
	}

	// A move and a circle sent back to back land in one tick, unless a
	// tick boundary falls between them: then try again.
	merged := false
	for x := 1.0; !merged && x <= 5; x++ {
		mover.Emit("cursor", map[string]any{"x": x, "y": 1})
		mover.Emit("add-circle", map[string]any{"x": x, "y": 1, "dia": 5, "rgba": "red"})

		var circles []board.Circle
		ev := next(t, page, realtime.BatchEvent)
		if err := ev.Decode(0, &circles); err != nil || len(circles) != 1 || circles[0].X != x {
			t.Fatalf("page circles %s: want the one at x=%v (%v)", ev.Args, x, err)
		}
		if merged = len(ev.Args) == 2; merged {
			onlyCursor(ev, 1, x)
		} else {
			onlyCursor(next(t, page, "cursors"), 0, x)
		}
		var circle board.Circle
		if err := next(t, lesson, "add-circle").Decode(0, &circle); err != nil || circle.X != x {
			t.Fatalf("lesson add-circle %+v (%v)", circle, err)
		}
		onlyCursor(next(t, lesson, "cursors"), 0, x)
	}
	if !merged {
		t.Fatal("five ticks with a move and a circle, never one packet")
	}

	// A circle alone: one argument. Packets keep their order, so had the
	// page also been sent the merged tick's cursors on their own, they
	// would be queued by now.
	mover.Emit("add-circle", map[string]any{"x": 100, "y": 1, "dia": 5, "rgba": "red"})
	if ev := next(t, page, realtime.BatchEvent); len(ev.Args) != 1 {
		t.Fatalf("circles without moves: %s", ev.Args)
	}
	if n := page.Pending("cursors"); n != 0 {
		t.Fatalf("page got the merged tick's cursors again (%d events)", n)
	}

	// A move alone: a cursors event for everyone.
	mover.Emit("cursor", map[string]any{"x": 200, "y": 1})
	onlyCursor(next(t, page, "cursors"), 0, 200)
	onlyCursor(next(t, lesson, "cursors"), 0, 200)
}
