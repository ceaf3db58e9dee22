package board

import (
	"context"
	"slices"
	"sync"
)

// MaxCircles is how many circles a board keeps for late joiners; older ones
// fall off. Everyone still sees every circle live: the cap only bounds
// memory and the size of the board a newcomer downloads.
const MaxCircles = 500

// Player is one registered socket on a board.
type Player struct {
	ID       string // socket id
	Initials string
}

// Store keeps boards' players and circles. Memory serves one node; the
// cluster package implements it on Redis so several nodes share one board.
type Store interface {
	// Join registers (or re-registers) a player and returns the board's initials in join order.
	Join(ctx context.Context, board string, p Player) ([]string, error)
	// Leave removes a player; removed is false when it was not registered.
	Leave(ctx context.Context, board, id string) (list []string, removed bool, err error)
	Players(ctx context.Context, board string) ([]string, error)
	AddCircle(ctx context.Context, board string, c Circle) error
	Circles(ctx context.Context, board string) ([]Circle, error)
	Clear(ctx context.Context, board string) error
}

// Memory is the single-node Store. The zero value is not usable; call NewMemory.
type Memory struct {
	mu     sync.Mutex
	boards map[string]*memBoard
}

type memBoard struct {
	players []Player // join order, as Object.values(players) gives in the lesson
	circles []Circle // oldest first, at most MaxCircles
}

func NewMemory() *Memory { return &Memory{boards: make(map[string]*memBoard)} }

func (m *Memory) board(name string) *memBoard {
	b := m.boards[name]
	if b == nil {
		b = &memBoard{}
		m.boards[name] = b
	}
	return b
}

// gc drops a board that holds nothing, so boards opened once do not leak.
func (m *Memory) gc(name string) {
	if b := m.boards[name]; b != nil && len(b.players) == 0 && len(b.circles) == 0 {
		delete(m.boards, name)
	}
}

func (m *Memory) Join(_ context.Context, name string, p Player) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b := m.board(name)
	if i := slices.IndexFunc(b.players, func(q Player) bool { return q.ID == p.ID }); i >= 0 {
		b.players[i].Initials = p.Initials
	} else {
		b.players = append(b.players, p)
	}
	return initials(b.players), nil
}

func (m *Memory) Leave(_ context.Context, name, id string) ([]string, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b := m.boards[name]
	if b == nil {
		return []string{}, false, nil
	}
	n := len(b.players)
	b.players = slices.DeleteFunc(b.players, func(q Player) bool { return q.ID == id })
	list := initials(b.players)
	m.gc(name)
	return list, len(list) < n, nil
}

func (m *Memory) Players(_ context.Context, name string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if b := m.boards[name]; b != nil {
		return initials(b.players), nil
	}
	return []string{}, nil
}

func (m *Memory) AddCircle(_ context.Context, name string, c Circle) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	b := m.board(name)
	if len(b.circles) >= MaxCircles {
		// Shift in place rather than reslice so the backing array stays bounded.
		copy(b.circles, b.circles[len(b.circles)-MaxCircles+1:])
		b.circles = b.circles[:MaxCircles-1]
	}
	b.circles = append(b.circles, c)
	return nil
}

func (m *Memory) Circles(_ context.Context, name string) ([]Circle, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if b := m.boards[name]; b != nil {
		return append([]Circle{}, b.circles...), nil // never nil: the board event is an array
	}
	return []Circle{}, nil
}

func (m *Memory) Clear(_ context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if b := m.boards[name]; b != nil {
		b.circles = nil
		m.gc(name)
	}
	return nil
}

// initials lists players' initials; never nil, so it encodes as [] not null.
func initials(ps []Player) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Initials
	}
	return out
}
