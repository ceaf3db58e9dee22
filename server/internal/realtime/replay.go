package realtime

import (
	"slices"
	"strings"
	"sync/atomic"

	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// replayBuffer holds the broadcasts a recovering client may have missed,
// capped in bytes per board and in total, oldest dropped first. Each
// broadcast is stored once whatever rooms and aliases it reaches:
//   - a circle is stored once, as the add-circle to the board's lesson
//     room, and replayed to batch pages as well (their page takes
//     add-circle too); the per-tick "circles" packet is not stored but
//     carries the offset of the board's latest entry, which it completes;
//   - a run of argument-less events to the same rooms (the six clear
//     aliases of one clear) is one entry holding names and offsets.
//
// Dropping only ever removes a board's oldest entries, so a client whose
// offset is still held missed nothing that is gone; a client whose offset
// is gone gets no recovery, and so a fresh connection and the board.
// Not safe for concurrent use: the adapter's mu guards it.
type replayBuffer struct {
	perBoard, total int

	bytes  int
	gauge  *atomic.Int64 // bytes, for /metrics (read without mu)
	boards map[string]*boardLog
	order  []*replayEntry // every live entry in emit order, plus dropped ones not yet passed
	stale  int            // dropped entries still in order
}

type boardLog struct {
	entries []*replayEntry // emit order; entries[head:] are live
	head    int
	bytes   int
}

type replayEntry struct {
	board   string
	at      int64 // ms
	rooms   []socket.Room
	except  []socket.Room
	data    []any    // an ordinary packet's data, offset last; nil for a run
	names   []string // a run's event names …
	ids     []string // … and offsets (one offset for an ordinary packet)
	size    int
	dropped bool
}

// Byte estimates: what an entry costs beyond its encoded text (its
// decoded data, the slices and the entry itself).
const (
	entryOverhead = 256
	runItemCost   = 64
)

func newReplayBuffer(perBoard, total int, gauge *atomic.Int64) *replayBuffer {
	if gauge == nil {
		gauge = new(atomic.Int64)
	}
	return &replayBuffer{perBoard: perBoard, total: total, boards: map[string]*boardLog{}, gauge: gauge}
}

// boardOfRooms is the board a broadcast's rooms belong to ("" for none).
func boardOfRooms(rooms []socket.Room) string {
	for _, r := range rooms {
		if name, ok := strings.CutPrefix(string(r), "board:"); ok {
			name = strings.TrimSuffix(strings.TrimSuffix(name, ":each"), ":batch")
			return name
		}
	}
	return ""
}

// replayRooms are the rooms whose members a stored broadcast is replayed
// to: an add-circle to a board's lesson room reaches its batch pages too.
func replayRooms(rooms []socket.Room) []socket.Room {
	out := slices.Clone(rooms)
	for _, r := range rooms {
		if name, ok := strings.CutSuffix(string(r), ":each"); ok {
			out = append(out, socket.Room(name+":batch"))
		}
	}
	return out
}

// keys are a room set's rooms, sorted, so equal sets compare equal.
func keys(s *types.Set[socket.Room]) []socket.Room {
	if s == nil {
		return nil
	}
	k := s.Keys()
	slices.Sort(k)
	return k
}

// latest is the offset of a board's newest entry ("" when it has none).
func (b *replayBuffer) latest(board string) string {
	log := b.boards[board]
	if log == nil || log.head == len(log.entries) {
		return ""
	}
	e := log.entries[len(log.entries)-1]
	return e.ids[len(e.ids)-1]
}

// add stores one broadcast: data (offset last, id), sent to rooms except
// except at ms, encodedLen bytes on the wire.
func (b *replayBuffer) add(data []any, id string, rooms, except []socket.Room, at int64, encodedLen int) {
	board := boardOfRooms(rooms)
	log := b.boards[board]
	if log == nil {
		log = &boardLog{}
		b.boards[board] = log
	}
	if len(data) == 2 { // the name and the offset: argument-less
		name, _ := data[0].(string)
		if n := len(log.entries); n > log.head {
			last := log.entries[n-1]
			if last.data == nil && !slices.Contains(last.names, name) && slices.Equal(last.except, except) && slices.Equal(last.rooms, replayRooms(rooms)) {
				last.names = append(last.names, name)
				last.ids = append(last.ids, id)
				last.size += runItemCost
				log.bytes += runItemCost
				b.bytes += runItemCost
				b.trim(log)
				b.gauge.Store(int64(b.bytes))
				return
			}
		}
		e := &replayEntry{board: board, at: at, rooms: replayRooms(rooms), except: except, names: []string{name}, ids: []string{id}, size: entryOverhead + runItemCost}
		b.push(log, e)
		return
	}
	e := &replayEntry{board: board, at: at, rooms: replayRooms(rooms), except: except, data: data, ids: []string{id}, size: entryOverhead + 2*encodedLen}
	b.push(log, e)
}

func (b *replayBuffer) push(log *boardLog, e *replayEntry) {
	log.entries = append(log.entries, e)
	log.bytes += e.size
	b.bytes += e.size
	b.order = append(b.order, e)
	b.trim(log)
	b.gauge.Store(int64(b.bytes))
}

// trim drops the oldest entries of log while it is over the per-board
// cap, then the oldest of all while the buffer is over the total cap.
func (b *replayBuffer) trim(log *boardLog) {
	for log.bytes > b.perBoard && log.head < len(log.entries)-1 {
		b.drop(log)
	}
	for b.bytes > b.total && len(b.order) > 0 {
		b.dropOldest()
	}
}

// drop removes log's oldest entry.
func (b *replayBuffer) drop(log *boardLog) {
	e := log.entries[log.head]
	log.entries[log.head] = nil
	log.head++
	log.bytes -= e.size
	b.bytes -= e.size
	e.dropped, e.data = true, nil
	b.stale++
	if log.head == len(log.entries) {
		delete(b.boards, e.board)
	} else if log.head > len(log.entries)/2 {
		log.entries = append([]*replayEntry(nil), log.entries[log.head:]...)
		log.head = 0
	}
	if b.stale > len(b.order)/2 {
		b.order = slices.DeleteFunc(b.order, func(e *replayEntry) bool { return e.dropped })
		b.stale = 0
	}
}

// dropOldest removes the oldest live entry of all.
func (b *replayBuffer) dropOldest() {
	b.popDropped()
	if len(b.order) > 0 {
		b.drop(b.boards[b.order[0].board])
		b.popDropped()
	}
}

// popDropped takes dropped entries off the front of order.
func (b *replayBuffer) popDropped() {
	for len(b.order) > 0 && b.order[0].dropped {
		b.order[0] = nil
		b.order = b.order[1:]
		b.stale--
	}
}

// expire drops entries emitted before threshold (ms).
func (b *replayBuffer) expire(threshold int64) {
	for {
		b.popDropped()
		if len(b.order) == 0 || b.order[0].at >= threshold {
			break
		}
		b.drop(b.boards[b.order[0].board])
	}
	b.order = append(b.order[:0:0], b.order...) // let the old array go
	b.gauge.Store(int64(b.bytes))
}

// since returns what a session in rooms missed after offset, and false
// when offset is not held (expired, dropped, or never stored).
func (b *replayBuffer) since(offset string, rooms *types.Set[socket.Room]) ([]any, bool) {
	log := b.boards[boardOfRooms(rooms.Keys())]
	if log == nil {
		return nil, false
	}
	live := log.entries[log.head:]
	at, pos := -1, -1
	for i := len(live) - 1; i >= 0 && at < 0; i-- {
		if j := slices.Index(live[i].ids, offset); j >= 0 {
			at, pos = i, j
		}
	}
	if at < 0 {
		return nil, false
	}
	var missed []any
	for i := at; i < len(live); i++ {
		e := live[i]
		if !e.reaches(rooms) {
			continue
		}
		if e.data != nil {
			if i > at {
				missed = append(missed, e.data)
			}
			continue
		}
		from := 0
		if i == at {
			from = pos + 1
		}
		for k := from; k < len(e.ids); k++ {
			missed = append(missed, []any{e.names[k], e.ids[k]})
		}
	}
	return missed, true
}

// reaches is the library's shouldIncludePacket: the session was in one of
// the entry's rooms (or it went to everyone) and in none it excluded.
func (e *replayEntry) reaches(rooms *types.Set[socket.Room]) bool {
	included := len(e.rooms) == 0
	for _, room := range rooms.Keys() {
		if slices.Contains(e.except, room) {
			return false
		}
		if !included && slices.Contains(e.rooms, room) {
			included = true
		}
	}
	return included
}
