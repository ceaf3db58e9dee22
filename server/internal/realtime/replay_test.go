package realtime

import (
	"fmt"
	"testing"

	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

func roomsOf(rs ...socket.Room) *types.Set[socket.Room] { return types.NewSet(rs...) }

// The six clear aliases of one clear are one entry, replayed as six
// events with their own offsets; a circle to the lesson room is replayed
// to batch pages too.
func TestReplayStoredOnce(t *testing.T) {
	b := newReplayBuffer(1<<20, 1<<20, nil)
	b.add([]any{"add-circle", "c", "id0"}, "id0", []socket.Room{eachRoom("x")}, nil, 1, 50)
	for i, name := range ClearEvents {
		id := fmt.Sprint("clr", i)
		b.add([]any{name, id}, id, []socket.Room{room("x")}, nil, 2, 20)
	}
	b.add([]any{"add-circle", "d", "id9"}, "id9", []socket.Room{eachRoom("x")}, nil, 3, 50)
	if n := len(b.order); n != 3 {
		t.Fatalf("%d entries for a circle, a clear's six aliases and a circle, want 3", n)
	}
	missed, ok := b.since("clr2", roomsOf(room("x"), batchRoom("x")))
	if !ok || len(missed) != 4 {
		t.Fatalf("since the 3rd alias: %v %v, want the 3 other aliases and the circle", missed, ok)
	}
	if got := missed[0].([]any); got[0] != ClearEvents[3] || got[1] != "clr3" {
		t.Errorf("first missed %v", got)
	}
	if _, ok := b.since("nope", roomsOf(room("x"))); ok {
		t.Error("an unknown offset was found")
	}
}

// Per board and in total, the oldest go first; an offset that went is
// not found (the client gets the board instead).
func TestReplayCaps(t *testing.T) {
	const per = 10 * (entryOverhead + 200)
	b := newReplayBuffer(per, 3*per, nil)
	for i := range 100 {
		for _, bd := range []string{"a", "b", "c", "d"} {
			id := fmt.Sprint(bd, i)
			b.add([]any{"add-circle", i, id}, id, []socket.Room{eachRoom(bd)}, nil, int64(i), 100)
		}
		if b.bytes > 3*per {
			t.Fatalf("%d bytes held, cap %d", b.bytes, 3*per)
		}
		for name, log := range b.boards {
			if log.bytes > per {
				t.Fatalf("board %s holds %d bytes, cap %d", name, log.bytes, per)
			}
		}
	}
	if _, ok := b.since("a0", roomsOf(room("a"))); ok {
		t.Error("the oldest offset survived the caps")
	}
	if missed, ok := b.since("d98", roomsOf(eachRoom("d"))); !ok || len(missed) != 1 {
		t.Errorf("since d98: %v %v, want d99", missed, ok)
	}
	b.expire(1000)
	if b.bytes != 0 || len(b.boards) != 0 || len(b.order) != 0 {
		t.Errorf("after expiry: %d bytes, %d boards, %d entries", b.bytes, len(b.boards), len(b.order))
	}
}
