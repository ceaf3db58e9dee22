package realtime

import (
	"cmp"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"sync"
)

// Cursor is one player's pointer as the page draws it. A batch entry
// carries Initials and Color only when a page may not know them yet (see
// cursorRefreshTicks), as {id, initials, color, x, y}; otherwise it is the
// array [id, x, y] (MarshalJSON).
type Cursor struct {
	ID       string  `json:"id"` // the player's public id, never a socket id
	Initials string  `json:"initials,omitempty"`
	Color    string  `json:"color,omitempty"` // CSS colour the server assigns
	X        float64 `json:"x"`
	Y        float64 `json:"y"`
}

// MarshalJSON writes a compact entry as [id, x, y]: in a hall's tick
// packet most bytes are cursors, and every byte is copied per recipient.
func (c Cursor) MarshalJSON() ([]byte, error) { return appendCursor(nil, c) }

// cursorList is a tick's cursors. It encodes itself in one buffer:
// encoding/json calls a MarshalJSON per element and checks each result,
// 6000 times a second in a hall.
type cursorList []Cursor

func (l cursorList) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 2+32*len(l))
	b = append(b, '[')
	for i, c := range l {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = appendCursor(b, c); err != nil {
			return nil, err
		}
	}
	return append(b, ']'), nil
}

func appendCursor(b []byte, c Cursor) ([]byte, error) {
	if c.Initials != "" || c.Color != "" {
		type object Cursor // the same fields, without this method
		full, err := json.Marshal(object(c))
		if err != nil {
			return nil, fmt.Errorf("cursor: %w", err)
		}
		return append(b, full...), nil
	}
	b = append(b, '[')
	if plainID(c.ID) { // public ids are base64url: nothing to escape
		b = append(append(append(b, '"'), c.ID...), '"')
	} else {
		id, err := json.Marshal(c.ID)
		if err != nil {
			return nil, fmt.Errorf("cursor id: %w", err)
		}
		b = append(b, id...)
	}
	b = append(b, ',')
	b = strconv.AppendFloat(b, c.X, 'f', -1, 64)
	b = append(b, ',')
	b = strconv.AppendFloat(b, c.Y, 'f', -1, 64)
	return append(b, ']'), nil
}

func plainID(id string) bool {
	for i := range len(id) {
		switch c := id[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

// Cursor fan-out modes.
const (
	// CursorsBatched keeps the latest position per player and sends each
	// board's changed cursors once per tick as one volatile event.
	CursorsBatched = "batched"
	// CursorsNaive broadcasts every move at once: the baseline the cursor
	// benchmark compares against.
	CursorsNaive = "naive"
)

// cursorSettleTicks is how many quiet ticks pass before a board's last
// positions are sent once more, reliably: a volatile batch a busy client
// missed would otherwise leave that cursor where it was.
const cursorSettleTicks = 6

// cursorRefreshTicks: every this many ticks (~1 s) a batch carries full
// entries, so pages that joined after a cursor's first full entry —
// including pages on other nodes, whose hub never saw them join — learn
// its initials and colour. Other ticks send {id, x, y} for cursors already
// sent in full: at 200 cursors that is most of the bytes of the hall.
const cursorRefreshTicks = 30

// cursorColour gives a player a stable hue from its public id (a recovered
// socket keeps its id, so it keeps its colour).
func cursorColour(id string) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	return "hsl(" + strconv.Itoa(int(h.Sum32()%360)) + ", 70%, 45%)"
}

// emitFunc sends an event to a board's room.
type emitFunc func(board, event string, volatile bool, data any)

// cursorHub keeps each board's latest cursor moves between ticks. The
// server's tick (tick.go) takes them with flush and sends them with that
// tick's circles; Leave sends cursor-leave at once.
type cursorHub struct {
	mode string
	emit emitFunc

	// emitMu orders batches against cursor-leave, so a batch taken before
	// a leave is never delivered after it (no ghost cursor).
	emitMu sync.Mutex

	mu     sync.Mutex
	boards map[string]*boardCursors
	seen   map[string]map[string]bool // board → ids that showed a cursor → sent in full
	ticks  int                        // flushes so far, for cursorRefreshTicks
	closed bool
}

type boardCursors struct {
	dirty     map[string]Cursor // moved since the last tick
	unsettled map[string]Cursor // moved since the last reliable send
	quiet     int               // ticks without a move
}

func newCursorHub(mode string, emit emitFunc) *cursorHub {
	return &cursorHub{
		mode:   mode,
		emit:   emit,
		boards: make(map[string]*boardCursors),
		seen:   make(map[string]map[string]bool),
	}
}

// Move records a player's latest position.
func (h *cursorHub) Move(board string, c Cursor) {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	if h.seen[board] == nil {
		h.seen[board] = make(map[string]bool)
	}
	if _, ok := h.seen[board][c.ID]; !ok {
		h.seen[board][c.ID] = false
	}
	if h.mode == CursorsNaive {
		h.mu.Unlock()
		h.emit(board, "cursors", true, []Cursor{c})
		return
	}
	b := h.boards[board]
	if b == nil {
		b = &boardCursors{dirty: make(map[string]Cursor), unsettled: make(map[string]Cursor)}
		h.boards[board] = b
	}
	b.dirty[c.ID] = c
	b.unsettled[c.ID] = c
	b.quiet = 0
	h.mu.Unlock()
}

// Leave removes a player's cursor from every page at once.
func (h *cursorHub) Leave(board, id string) {
	h.emitMu.Lock()
	defer h.emitMu.Unlock()
	h.mu.Lock()
	_, shown := h.seen[board][id]
	delete(h.seen[board], id)
	if len(h.seen[board]) == 0 {
		delete(h.seen, board)
	}
	if b := h.boards[board]; b != nil {
		delete(b.dirty, id)
		delete(b.unsettled, id)
	}
	h.mu.Unlock()
	if shown {
		h.emit(board, "cursor-leave", false, map[string]any{"id": id})
	}
}

// Close drops later moves.
func (h *cursorHub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
}

// cursorBatch is one board's cursors for one tick. Volatile batches may be
// dropped for a busy client; the settle re-send may not.
type cursorBatch struct {
	cursors  cursorList
	volatile bool
}

// flush takes one tick's batches, one per board with something to send,
// and hands them to send while no cursor-leave can go out.
func (h *cursorHub) flush(send func(map[string]cursorBatch)) {
	h.emitMu.Lock()
	defer h.emitMu.Unlock()
	h.mu.Lock()
	out := map[string]cursorBatch{}
	h.ticks++
	refresh := h.ticks%cursorRefreshTicks == 0
	for name, b := range h.boards {
		switch {
		case len(b.dirty) > 0:
			out[name] = cursorBatch{h.compact(name, sorted(b.dirty), refresh), true}
			clear(b.dirty)
			b.quiet = 0
		case b.quiet+1 < cursorSettleTicks:
			b.quiet++
		default:
			if len(b.unsettled) > 0 {
				// The reliable re-send stays full: it is rare and it
				// is what a page that missed the volatile ones relies on.
				out[name] = cursorBatch{h.compact(name, sorted(b.unsettled), true), false}
			}
			delete(h.boards, name)
		}
	}
	h.mu.Unlock()
	send(out)
}

// compact strips initials and colour from entries already sent in full on
// this board, unless full is set; it records which ones went full. Under mu.
func (h *cursorHub) compact(board string, cs []Cursor, full bool) []Cursor {
	sent := h.seen[board]
	for i, c := range cs {
		if full || !sent[c.ID] {
			if sent != nil {
				sent[c.ID] = true
			}
			continue
		}
		cs[i] = Cursor{ID: c.ID, X: c.X, Y: c.Y}
	}
	return cs
}

func sorted(m map[string]Cursor) []Cursor {
	out := make([]Cursor, 0, len(m))
	for _, c := range m {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b Cursor) int { return cmp.Compare(a.ID, b.ID) })
	return out
}
