package realtime

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/zishang520/socket.io/parsers/socket/v3/parser"
	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"
	"github.com/zishang520/socket.io/v3/pkg/utils"

	"github.com/realtime-circles/realtime-circles/server/internal/engineio"
	"github.com/realtime-circles/realtime-circles/server/internal/metrics"
)

// recoveryAdapter is the in-memory adapter with a cheaper broadcast and,
// when window > 0, the library's session-aware adapter's recovery
// (servers/socket/v3 session-aware-adapter.go: same offsets, same replay
// rule). The library's Broadcast copies the encoded packet for every
// recipient (client.go:178 Clone); ours encodes each broadcast once into
// an engineio.Message, whose one WebSocket frame every recipient writes. It plugs in through the library's
// adapter extension point (ServerOptions.SetAdapter), as the Redis adapter
// does, so every emit (io.To(room).Emit) gets it.
type recoveryAdapter struct {
	socket.Adapter // the in-memory adapter: rooms, sids, everything else

	window  time.Duration
	metrics *metrics.Metrics
	stop    chan struct{}
	once    sync.Once

	members members // members.go: each room's sockets, for broadcasts

	mu       sync.Mutex
	sessions map[socket.PrivateSessionId]*socket.SessionWithTimestamp
	replay   *replayBuffer // replay.go: stored once, capped in bytes
}

// recoveryAdapterBuilder is the AdapterConstructor for recoveryAdapter;
// window 0 means recovery is off. The replay buffer holds at most
// boardBytes per board and totalBytes in all.
type recoveryAdapterBuilder struct {
	window                 time.Duration
	metrics                *metrics.Metrics // counts deliveries; nil counts nothing
	boardBytes, totalBytes int
	bytes                  *atomic.Int64 // the buffer's size, for /metrics
}

// sweepInterval is how often expired sessions and replay packets go: the
// library's fixed 60 s would keep them up to a minute past a short window.
func sweepInterval(window time.Duration) time.Duration {
	return min(max(window/2, 100*time.Millisecond), socket.DefaultSessionCleanupInterval)
}

func (b recoveryAdapterBuilder) New(nsp socket.Namespace) socket.Adapter {
	a := &recoveryAdapter{
		Adapter:  socket.MakeAdapter(),
		window:   b.window,
		metrics:  b.metrics,
		stop:     make(chan struct{}),
		sessions: map[socket.PrivateSessionId]*socket.SessionWithTimestamp{},
		replay:   newReplayBuffer(b.boardBytes, b.totalBytes, b.bytes),
	}
	a.Prototype(a)
	a.Construct(nsp)
	if b.window > 0 {
		go a.sweep(sweepInterval(b.window))
	}
	return a
}

// sweep drops expired sessions and packets, as the library's cleanup
// timer does, until Close.
func (a *recoveryAdapter) sweep(every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-a.stop:
			return
		case now := <-t.C:
			threshold := now.Add(-a.window).UnixMilli()
			a.mu.Lock()
			for pid, s := range a.sessions {
				if s.DisconnectedAt < threshold {
					delete(a.sessions, pid)
				}
			}
			a.replay.expire(threshold)
			a.mu.Unlock()
		}
	}
}

func (a *recoveryAdapter) Close() {
	a.once.Do(func() { close(a.stop) })
	a.Adapter.Close()
}

// maxSessions bounds the dropped sessions kept for recovery (~0.5 KB
// each): beyond it a dropped client is not kept, and on its return it
// connects afresh and gets the board, as after the window.
const maxSessions = 50_000

func (a *recoveryAdapter) PersistSession(session *socket.SessionToPersist) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.sessions) >= maxSessions {
		return
	}
	a.sessions[session.Pid] = &socket.SessionWithTimestamp{SessionToPersist: session, DisconnectedAt: time.Now().UnixMilli()}
}

// RestoreSession is the library's (session-aware-adapter.go
// RestoreSession): the session if it has not expired, with the events
// broadcast to its rooms after offset; nil when the offset is unknown,
// which includes a client that missed more than the buffer holds: it
// connects afresh and gets the board, never a partial replay.
func (a *recoveryAdapter) RestoreSession(pid socket.PrivateSessionId, offset string) (*socket.Session, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	session, ok := a.sessions[pid]
	if !ok {
		return nil, nil
	}
	if session.DisconnectedAt+a.window.Milliseconds() < time.Now().UnixMilli() {
		delete(a.sessions, pid)
		return nil, nil
	}
	missed, held := a.replay.since(offset, session.Rooms)
	if !held {
		return nil, nil
	}
	return &socket.Session{SessionToPersist: session.SessionToPersist, MissedPackets: missed}, nil
}

func (a *recoveryAdapter) Broadcast(packet *parser.Packet, opts *socket.BroadcastOptions) {
	flags := &socket.BroadcastFlags{}
	if opts != nil && opts.Flags != nil {
		flags = opts.Flags
	}
	var id string
	if a.window > 0 && packet.Type == parser.EVENT && packet.Id == nil && !flags.Volatile {
		// As the library: the offset goes last in the data, so the client
		// knows the last packet it had (session-aware-adapter.go Broadcast).
		data := utils.TryCast[[]any](packet.Data)
		if opts == nil {
			opts = &socket.BroadcastOptions{Rooms: types.NewSet[socket.Room](), Except: types.NewSet[socket.Room]()}
		}
		if name, _ := first(data).(string); name == BatchEvent {
			// Not stored: its circles are (replay.go). It completes the
			// board's latest entry, whose offset it carries.
			a.mu.Lock()
			if last := a.replay.latest(boardOfRooms(keys(opts.Rooms))); last != "" {
				packet.Data = append(data, last)
			}
			a.mu.Unlock()
		} else {
			id = utils.YeastDate()
			packet.Data = append(data, id)
		}
	}

	// The in-memory adapter's Broadcast (adapter.go:149) minus
	// WsPreEncodedFrame.
	nsp := a.Nsp()
	packet.Nsp = nsp.Name()
	encoded := nsp.Server().Encoder().Encode(packet)
	if id != "" {
		size := 1 << 10 // binary attachments: a guess
		if text, ok := onlyText(encoded); ok {
			size = len(text)
		}
		a.mu.Lock()
		a.replay.add(utils.TryCast[[]any](packet.Data), id, keys(opts.Rooms), keys(opts.Except), time.Now().UnixMilli(), size)
		a.mu.Unlock()
	}
	wo := &socket.WriteOptions{}
	wo.PreEncoded = true
	wo.Volatile = flags.Volatile
	wo.Compress = flags.Compress
	write := func(so *socket.Socket) bool { so.Client().WriteToEngine(encoded, wo); return true }
	text, isText := onlyText(encoded)
	if isText && (flags.Compress == nil || *flags.Compress) {
		// One encoded message for every recipient: our engine writes its
		// one WebSocket frame to each (engineio.Message). Compress(false)
		// takes the library's path, which hands the flag to the engine.
		msg := engineio.NewMessage(text)
		write = func(so *socket.Socket) bool {
			conn, ours := so.Conn().(*engineio.Socket)
			if !ours {
				so.Client().WriteToEngine(encoded, wo)
				return true
			}
			if wo.Volatile && !conn.Writable() {
				return false // as WriteToEngine (client.go:172)
			}
			return conn.SendMessage(msg)
		}
	}
	delivered := 0
	a.each(opts, func(so *socket.Socket) {
		if notify := so.NotifyOutgoingListeners(); notify != nil {
			notify(packet)
		}
		if write(so) {
			delivered++
		}
	})
	if isText {
		countOut(a.metrics, text, delivered)
	}
}

// onlyText is a packet encoded as a single text frame (no binary
// attachments), as a string.
func onlyText(encoded []types.BufferInterface) (string, bool) {
	if len(encoded) != 1 {
		return "", false
	}
	sb, ok := encoded[0].(*types.StringBuffer)
	if !ok {
		return "", false
	}
	return sb.String(), true
}

// each calls fn for every connected socket opts selects, once (the
// in-memory adapter's apply, adapter.go:267).
func (a *recoveryAdapter) each(opts *socket.BroadcastOptions, fn func(*socket.Socket)) {
	var except map[socket.SocketId]struct{}
	if opts != nil && opts.Except != nil && opts.Except.Len() > 0 {
		except = map[socket.SocketId]struct{}{}
		for _, room := range opts.Except.Keys() {
			for _, so := range a.roomSockets(room, false) {
				except[so.Id()] = struct{}{}
			}
		}
	}
	send := func(so *socket.Socket) {
		if _, skip := except[so.Id()]; !skip && so.Connected() {
			fn(so)
		}
	}
	if opts == nil || opts.Rooms == nil || opts.Rooms.Len() == 0 {
		for _, so := range a.roomSockets("", true) {
			send(so)
		}
		return
	}
	rooms := opts.Rooms.Keys()
	if len(rooms) == 1 { // the usual case: no duplicates to skip
		for _, so := range a.roomSockets(rooms[0], false) {
			send(so)
		}
		return
	}
	seen := map[*socket.Socket]struct{}{}
	for _, room := range rooms {
		for _, so := range a.roomSockets(room, false) {
			if _, dup := seen[so]; !dup {
				seen[so] = struct{}{}
				send(so)
			}
		}
	}
}
