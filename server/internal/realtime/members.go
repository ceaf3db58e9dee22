package realtime

import (
	"sync"

	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// members keeps each room's sockets as a slice, so a broadcast walks a
// slice instead of looking every recipient's id up in the namespace's
// map: those lookups were 5 % of the server's CPU at 100k deliveries/s.
// Any join or leave drops every list (a closed socket is never held
// here); the next broadcast to a room builds its list again, once.
type members struct {
	mu    sync.Mutex
	gen   uint64 // bumped by every change to the adapter's rooms
	lists map[socket.Room][]*socket.Socket
	all   []*socket.Socket // every socket; nil: not built
}

// changed drops the lists; call it after the change, so a list built
// from rooms read before it is never kept.
func (m *members) changed() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gen++
	m.lists, m.all = nil, nil
}

// cached is the list kept for room (or everyone) and the generation a
// new one would be built in.
func (m *members) cached(room socket.Room, everyone bool) ([]*socket.Socket, uint64, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if everyone {
		return m.all, m.gen, m.all != nil
	}
	list, ok := m.lists[room]
	return list, m.gen, ok
}

// keep stores a list built in generation gen, unless the rooms have
// changed since.
func (m *members) keep(gen uint64, room socket.Room, everyone bool, list []*socket.Socket) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if gen != m.gen {
		return
	}
	if list == nil {
		list = []*socket.Socket{}
	}
	if everyone {
		m.all = list
		return
	}
	if m.lists == nil {
		m.lists = map[socket.Room][]*socket.Socket{}
	}
	m.lists[room] = list
}

// AddAll, Del and DelAll are the in-memory adapter's, then mark the lists
// stale.
func (a *recoveryAdapter) AddAll(id socket.SocketId, rooms *types.Set[socket.Room]) {
	a.Adapter.AddAll(id, rooms)
	a.members.changed()
}

func (a *recoveryAdapter) Del(id socket.SocketId, room socket.Room) {
	a.Adapter.Del(id, room)
	a.members.changed()
}

func (a *recoveryAdapter) DelAll(id socket.SocketId) {
	a.Adapter.DelAll(id)
	a.members.changed()
}

// roomSockets is the sockets in room, or every socket when everyone is
// set. A socket that has joined but is not yet in the namespace's map
// (namespace.go:336 stores it just before it joins; a join from
// elsewhere may race) leaves the list unkept, so it is looked for again.
func (a *recoveryAdapter) roomSockets(room socket.Room, everyone bool) []*socket.Socket {
	list, gen, ok := a.members.cached(room, everyone)
	if ok {
		return list
	}
	sockets := a.Nsp().Sockets()
	complete := true
	add := func(id socket.SocketId) {
		if so, ok := sockets.Load(id); ok {
			list = append(list, so)
		} else {
			complete = false
		}
	}
	if everyone {
		a.Sids().Range(func(id socket.SocketId, _ *types.Set[socket.Room]) bool {
			add(id)
			return true
		})
	} else if ids, ok := a.Rooms().Load(room); ok {
		for _, id := range ids.Keys() {
			add(id)
		}
	}
	if complete {
		a.members.keep(gen, room, everyone, list)
	}
	return list
}
