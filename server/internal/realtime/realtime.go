// Package realtime is the Socket.IO side of the app: it attaches the
// lesson's events (add-circle, clear, register-player, update-player-list)
// to a zishang520 Socket.IO server and keeps boards in a board.Store.
package realtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zishang520/socket.io/servers/socket/v3"

	"github.com/realtime-circles/realtime-circles/server/internal/board"
	"github.com/realtime-circles/realtime-circles/server/internal/config"
	"github.com/realtime-circles/realtime-circles/server/internal/engineio"
	"github.com/realtime-circles/realtime-circles/server/internal/metrics"
)

// ClearEvents are the names students give the "clear" event in their
// code-alongs. Each is accepted and relayed under the name it came with.
var ClearEvents = []string{"clear", "clear-display", "clear-circles", "clear-page", "clearCircles", "remove-circle"}

// Options configures a Server. The zero value is usable.
type Options struct {
	Logger *slog.Logger
	Store  board.Store // defaults to an in-memory store
	// MaxHTTPBufferSize caps one Engine.IO message or polling body.
	MaxHTTPBufferSize int64
	// StoreTimeout bounds each store call made for one event.
	StoreTimeout time.Duration
	// Adapter carries emits between nodes (the cluster's Redis adapter);
	// nil keeps the library's in-memory adapter.
	Adapter socket.AdapterConstructor
	Metrics *metrics.Metrics // nil counts nothing
	// RecoveryWindow is how long a dropped client may recover its state
	// (0: DefaultRecoveryWindow; negative: recovery off).
	RecoveryWindow time.Duration
	// PresenceGrace is how long a dropped player stays listed while its
	// client may recover (0: DefaultPresenceGrace; capped at RecoveryWindow).
	PresenceGrace time.Duration
	// CursorMode is CursorsBatched (default) or CursorsNaive.
	CursorMode string
	// Limits on clients; zero fields take defaultLimits.
	Limits config.Limits
	// PingInterval and PingTimeout are Engine.IO's heartbeat (25 s and
	// 20 s by default, as Node's).
	PingInterval, PingTimeout time.Duration
	// ConnectTimeout is how long a session may stay without joining a
	// namespace (0: Socket.IO's 45 s).
	ConnectTimeout time.Duration
}

// DefaultMaxHTTPBufferSize fits the largest legitimate message (a board of
// circles from a client is never sent; an add-circle is ~100 bytes) with
// generous room, and keeps a hostile client's single message small.
const DefaultMaxHTTPBufferSize = 16 << 10

// Server is one node's Socket.IO endpoint. Create it with New.
type Server struct {
	io       *socket.Server
	eio      *engineio.Server
	sessions *sessions
	store    board.Store
	log      *slog.Logger
	opts     Options
	cursors  *cursorHub
	recovery time.Duration // 0 when off
	limits   config.Limits
	perIP    *perIP
	kicked   *kicked // limits.go: kicked clients in their cool-down
	// keeper is the store when it keeps boards within caps (boards.go).
	keeper     boardKeeper
	boardWarns warnSampler // "boards full" refusals, sampled
	// replayBytes is the recovery replay buffer's size (recovery.go).
	replayBytes atomic.Int64
	stopTick    chan struct{}
	tickDone    chan struct{}

	// boardMu serialises "change the store, then tell everyone" per node, so
	// every client sees board and player-list changes in the store's order
	// (two registrations must not deliver their lists newest-first).
	boardMu sync.Mutex
	pending map[socket.SocketId]pendingLeave // dropped players awaiting recovery; boardMu
	closing bool                             // boardMu
	batch   map[string][]board.Circle        // per board, circles batch clients have not had yet (under boardMu)
	lists   map[string][]string              // per board, the player list for the next tick (under boardMu)
}

// New builds a Socket.IO server with the app's events attached.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	limits := withDefaults(opts.Limits)
	if opts.Store == nil {
		opts.Store = board.NewMemoryLimited(board.Limits{MaxBoards: limits.MaxBoards, MaxCircles: limits.MaxCircles, IdleTTL: limits.BoardIdleTTL})
	}
	if opts.MaxHTTPBufferSize <= 0 {
		opts.MaxHTTPBufferSize = DefaultMaxHTTPBufferSize
	}
	if opts.StoreTimeout <= 0 {
		opts.StoreTimeout = 5 * time.Second
	}
	if opts.PingInterval <= 0 {
		opts.PingInterval = 25 * time.Second
	}
	if opts.PingTimeout <= 0 {
		opts.PingTimeout = 20 * time.Second
	}
	if opts.RecoveryWindow == 0 {
		opts.RecoveryWindow = DefaultRecoveryWindow
	}
	if opts.PresenceGrace <= 0 || opts.PresenceGrace > opts.RecoveryWindow && opts.RecoveryWindow > 0 {
		opts.PresenceGrace = min(DefaultPresenceGrace, max(opts.RecoveryWindow, 0))
	}
	if opts.CursorMode == "" {
		opts.CursorMode = CursorsBatched
	}
	s := &Server{store: opts.Store, log: opts.Logger, opts: opts, limits: limits,
		pending: make(map[socket.SocketId]pendingLeave), batch: map[string][]board.Circle{}, lists: map[string][]string{}}
	s.kicked = &kicked{until: map[string]time.Time{}}
	s.keeper, _ = opts.Store.(boardKeeper)
	s.perIP = &perIP{max: s.limits.MaxConnsPerIP, trustProxy: s.limits.TrustProxy, count: map[string]int{}}
	s.cursors = newCursorHub(opts.CursorMode, s.emitToBoard)

	// Our engine (package engineio) under the library's Socket.IO layer,
	// bound through its Bind seam as Node's socket.io swaps wsEngine.
	eioOpts := engineio.Options{
		PingInterval:   opts.PingInterval,
		PingTimeout:    opts.PingTimeout,
		MaxPayload:     opts.MaxHTTPBufferSize,
		AllowEIO3:      true, // socket.io-client 2.x, which the lesson pinned
		AllowRequest:   s.perIP.allow,
		AllowedOrigins: s.limits.AllowedOrigins,
		MaxQueue:       s.limits.SendQueueMax,
		Logger:         opts.Logger,
	}
	eioOpts.OnWrite = func(sock *engineio.Socket, text string) {
		s.sessions.onWrite(sock, text)
		countOut(opts.Metrics, text, 1)
	}
	s.eio = engineio.New(eioOpts)
	// Before Socket.IO binds: our "connection" listeners run first, so
	// the CONNECT hold sees each packet before Socket.IO decodes it.
	s.sessions = newSessions(s.eio)
	s.guardSessions(s.eio)

	so := socket.DefaultServerOptions()
	so.SetServeClient(false) // the web package serves the embedded bundle
	if opts.ConnectTimeout > 0 {
		so.SetConnectTimeout(opts.ConnectTimeout)
	}
	if opts.Adapter != nil {
		so.SetAdapter(opts.Adapter)
	}
	ourAdapter := opts.Adapter == nil && !s.limits.LibraryBroadcast
	if opts.RecoveryWindow > 0 {
		s.recovery = opts.RecoveryWindow
		csr := socket.DefaultConnectionStateRecovery()
		csr.SetMaxDisconnectionDuration(opts.RecoveryWindow.Milliseconds())
		// The library sweeps every 60 s whatever the window.
		csr.SetSessionCleanupInterval(sweepInterval(opts.RecoveryWindow))
		// Recovered sockets pass the middlewares too: chooseBoard keeps
		// their board, and releaseLibraryLeaks must see every socket.
		csr.SetSkipMiddlewares(false)
		so.SetConnectionStateRecovery(csr)
	}
	if ourAdapter {
		// recovery.go: encode once per broadcast (and recovery, when on).
		so.SetAdapter(recoveryAdapterBuilder{window: s.recovery, metrics: opts.Metrics,
			boardBytes: s.limits.ReplayBoardBytes, totalBytes: s.limits.ReplayBytes, bytes: &s.replayBytes})
	}
	s.io = socket.NewServer(nil, so)
	s.io.Bind(s.eio)
	s.releaseLibraryLeaks()
	s.attach(s.io)
	s.sessions.watchJoins(s.io)
	s.instrument()
	opts.Metrics.Gauge("circles_replay_bytes", "Bytes held for connection state recovery (capped by REPLAY_BYTES).",
		func() float64 { return float64(s.replayBytes.Load()) })
	if s.keeper != nil {
		opts.Metrics.Gauge("circles_boards", "Boards kept on this node (capped by MAX_BOARDS).",
			func() float64 { n, _ := s.keeper.Stats(); return float64(n) })
		opts.Metrics.Gauge("circles_stored_circles", "Circles kept on all boards of this node (capped by MAX_CIRCLES).",
			func() float64 { _, n := s.keeper.Stats(); return float64(n) })
	}
	s.stopTick, s.tickDone = make(chan struct{}), make(chan struct{})
	go s.tick(s.limits.BatchTick, s.stopTick, s.tickDone)
	return s
}

// Handler serves Engine.IO requests (mount it at /socket.io/).
func (s *Server) Handler() http.Handler { return s.eio }

// Close disconnects every client and stops the engine.
func (s *Server) Close() error {
	s.cursors.Close()
	s.closeLeaves()
	close(s.stopTick)
	<-s.tickDone
	done := make(chan error, 1)
	s.io.Close(func(err error) { done <- err })
	if err := <-done; err != nil {
		return fmt.Errorf("closing socket.io: %w", err)
	}
	return nil
}

// ctx bounds one event's store calls.
func (s *Server) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), s.opts.StoreTimeout)
}

// reply answers the sender: through its ack when it asked for one, else
// with an error-message event. Rejections are logged, never relayed.
func (s *Server) reject(so *socket.Socket, event string, ack socket.Ack, err error) {
	msg := err.Error()
	if !errors.Is(err, board.ErrInvalid) {
		msg = "server error, try again"
	}
	s.opts.Metrics.Rejected(event)
	if me, ok := so.Data().(*player); ok {
		me.warn(s.log, "event rejected", "socket", so.Id(), "event", event, "err", err)
	} else {
		s.log.Warn("event rejected", "event", event, "socket", so.Id(), "err", err)
	}
	if ack != nil {
		ack([]any{map[string]any{"ok": false, "error": msg}}, nil)
		return
	}
	_ = so.Emit("error-message", map[string]any{"event": event, "error": msg})
}

// ok acknowledges a successful event when the client asked for an ack.
func ok(ack socket.Ack) {
	if ack != nil {
		ack([]any{map[string]any{"ok": true}}, nil)
	}
}

// splitAck separates a trailing ack callback from an event's arguments.
func splitAck(args []any) ([]any, socket.Ack) {
	if n := len(args); n > 0 {
		if ack, isAck := args[n-1].(socket.Ack); isAck {
			return args[:n-1], ack
		}
	}
	return args, nil
}

func first(args []any) any {
	if len(args) == 0 {
		return nil
	}
	return args[0]
}
