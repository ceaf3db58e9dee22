package board

import (
	"container/list"
	"context"
	"errors"
	"slices"
	"sync"
	"time"
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
	// HasPlayer reports whether a player registered with these initials.
	HasPlayer(ctx context.Context, board, initials string) (bool, error)
	AddCircle(ctx context.Context, board string, c Circle) error
	Circles(ctx context.Context, board string) ([]Circle, error)
	Clear(ctx context.Context, board string) error
}

// ErrFull refuses a new board when the node keeps its maximum of boards
// and every one of them has a connected socket.
var ErrFull = errors.New("this server is full: every board it keeps is in use; join an existing board or try again later")

// Limits bound what a Memory keeps: boards with no connected socket (no
// Open without its Release) are evicted, least recently used first, when
// a cap is reached, and after IdleTTL in any case. Boards with sockets
// are never evicted. Zero fields mean no limit.
type Limits struct {
	MaxBoards  int           // boards kept
	MaxCircles int           // circles kept on all boards together
	IdleTTL    time.Duration // how long a board without sockets is kept
}

// Memory is the single-node Store. The zero value is not usable; call NewMemory.
type Memory struct {
	mu      sync.Mutex
	limits  Limits
	boards  map[string]*memBoard
	idle    *list.List // names of boards without sockets, least recently used first
	circles int        // on all boards
}

type memBoard struct {
	players []Player // join order, as Object.values(players) gives in the lesson
	circles []Circle // oldest first, at most MaxCircles
	refs    int      // connected sockets (Open minus Release)
	idleAt  time.Time
	elem    *list.Element // in Memory.idle when refs == 0
}

// NewMemory is a Memory without limits (a cluster node's cache).
func NewMemory() *Memory { return NewMemoryLimited(Limits{}) }

// NewMemoryLimited is a Memory within limits.
func NewMemoryLimited(l Limits) *Memory {
	return &Memory{limits: l, boards: make(map[string]*memBoard), idle: list.New()}
}

func (m *Memory) board(name string) *memBoard {
	b := m.boards[name]
	if b == nil {
		b = &memBoard{idleAt: time.Now()}
		b.elem = m.idle.PushBack(name)
		m.boards[name] = b
	}
	return b
}

// gc drops a board that holds nothing, so boards opened once do not leak.
func (m *Memory) gc(name string) {
	if b := m.boards[name]; b != nil && b.refs == 0 && len(b.players) == 0 && len(b.circles) == 0 {
		m.remove(name)
	}
}

// remove forgets a board without sockets.
func (m *Memory) remove(name string) {
	b := m.boards[name]
	m.circles -= len(b.circles)
	if b.elem != nil {
		m.idle.Remove(b.elem)
	}
	delete(m.boards, name)
}

// evictIdle forgets the least recently used board without sockets; false
// when every board has sockets.
func (m *Memory) evictIdle() bool {
	front := m.idle.Front()
	if front == nil {
		return false
	}
	m.remove(front.Value.(string))
	return true
}

// CanOpen reports whether Open would succeed now.
func (m *Memory) CanOpen(name string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.boards[name] != nil || m.limits.MaxBoards <= 0 || len(m.boards) < m.limits.MaxBoards || m.idle.Len() > 0
}

// Open counts a connected socket on a board, creating it if need be: at
// MaxBoards the least recently used board without sockets makes room, and
// when there is none a new board is refused with ErrFull (unless force:
// a recovering socket's board was live a moment ago).
func (m *Memory) Open(name string, force bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.boards[name] == nil && m.limits.MaxBoards > 0 {
		for len(m.boards) >= m.limits.MaxBoards {
			if !m.evictIdle() {
				if !force {
					return ErrFull
				}
				break
			}
		}
	}
	b := m.board(name)
	if b.refs++; b.elem != nil {
		m.idle.Remove(b.elem)
		b.elem = nil
	}
	return nil
}

// Release undoes an Open: a board left without sockets becomes idle.
func (m *Memory) Release(name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b := m.boards[name]
	if b == nil || b.refs == 0 {
		return
	}
	if b.refs--; b.refs == 0 {
		b.idleAt = time.Now()
		b.elem = m.idle.PushBack(name)
		m.gc(name)
	}
}

// Sweep forgets boards without sockets idle since before now − IdleTTL.
func (m *Memory) Sweep(now time.Time) {
	if m.limits.IdleTTL <= 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for e := m.idle.Front(); e != nil; e = m.idle.Front() {
		name := e.Value.(string)
		if now.Sub(m.boards[name].idleAt) < m.limits.IdleTTL {
			return
		}
		m.remove(name)
	}
}

// Stats are the boards and circles kept.
func (m *Memory) Stats() (boards, circles int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.boards), m.circles
}

// makeRoom keeps the circles within MaxCircles before one is added to
// b: boards without sockets go first (least recently used), then b's own
// oldest circle, then the oldest of the fullest board.
func (m *Memory) makeRoom(name string, b *memBoard) {
	for m.limits.MaxCircles > 0 && m.circles >= m.limits.MaxCircles {
		if m.evictIdleWithCircles(name) {
			continue
		}
		victim := b
		if len(victim.circles) == 0 {
			for _, o := range m.boards {
				if len(o.circles) > len(victim.circles) {
					victim = o
				}
			}
		}
		if len(victim.circles) == 0 {
			return
		}
		victim.circles = slices.Delete(victim.circles, 0, 1)
		m.circles--
	}
}

// evictIdleWithCircles forgets the least recently used board without
// sockets that holds circles, other than keep.
func (m *Memory) evictIdleWithCircles(keep string) bool {
	for e := m.idle.Front(); e != nil; e = e.Next() {
		if name := e.Value.(string); name != keep && len(m.boards[name].circles) > 0 {
			m.remove(name)
			return true
		}
	}
	return false
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

// HasPlayer scans the players without listing them: it runs for every
// circle an unregistered socket draws.
func (m *Memory) HasPlayer(_ context.Context, name, initials string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if b := m.boards[name]; b != nil {
		return slices.ContainsFunc(b.players, func(p Player) bool { return p.Initials == initials }), nil
	}
	return false, nil
}

func (m *Memory) AddCircle(_ context.Context, name string, c Circle) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	b := m.board(name)
	if len(b.circles) >= MaxCircles {
		// Shift in place rather than reslice so the backing array stays bounded.
		m.circles -= len(b.circles) - (MaxCircles - 1)
		copy(b.circles, b.circles[len(b.circles)-MaxCircles+1:])
		b.circles = b.circles[:MaxCircles-1]
	}
	m.makeRoom(name, b)
	b.circles = append(b.circles, c)
	m.circles++
	m.touch(name, b)
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
		m.circles -= len(b.circles)
		b.circles = nil
		m.gc(name)
	}
	return nil
}

// touch marks an idle board used (the most recently used of the idle).
func (m *Memory) touch(name string, b *memBoard) {
	if b.elem != nil {
		b.idleAt = time.Now()
		m.idle.MoveToBack(b.elem)
	}
}

// initials lists players' initials; never nil, so it encodes as [] not null.
func initials(ps []Player) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Initials
	}
	return out
}
