// Package cluster lets several server processes act as one through Redis:
// a board.Store whose players and circles live in Redis, the Socket.IO
// Redis adapter that carries room emits between nodes, a heartbeat per
// node, and the reaper that drops a dead node's players.
//
// Each node also keeps its own players in memory. Redis is never the only
// copy of who is connected here: while Redis is down the node serves its
// own clients from memory, and when Redis returns (or lost its data) the
// node writes its players back, so the list is rebuilt from every node.
package cluster

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	sioredis "github.com/zishang520/socket.io/adapters/redis/v3"
	sioadapter "github.com/zishang520/socket.io/adapters/redis/v3/adapter"
	"github.com/zishang520/socket.io/servers/socket/v3"

	"github.com/realtime-circles/realtime-circles/server/internal/board"
)

// Options configures a Node.
type Options struct {
	// URL is redis://[:password@]host:port[/db] or rediss:// for TLS.
	URL string
	// TLSVerify checks the server certificate of a rediss:// URL. Hosted
	// Redis (Heroku) uses self-signed certificates, so it is off by default.
	TLSVerify bool
	// NodeID names this process in Redis; default hostname-pid-random.
	NodeID string
	Logger *slog.Logger
	// Prefix starts every key and channel this package uses.
	Prefix string
	// Heartbeat is how often the node refreshes its heartbeat key and
	// reaps dead nodes; HeartbeatTTL is how long the key outlives a node.
	// A dead node's players are gone within HeartbeatTTL + Heartbeat.
	Heartbeat, HeartbeatTTL time.Duration
	// OnRedisError is called for every failed Redis call (metrics).
	OnRedisError func(error)
}

// Hooks are how the node reaches the Socket.IO side, which is built after
// it (the adapter must exist before the Socket.IO server).
type Hooks struct {
	// SendPlayers emits a board's player list, read from the store, to
	// this node's own clients on that board.
	SendPlayers func(board string)
	// LocalBoards lists the boards this node has clients on.
	LocalBoards func() []string
}

// Node is one process's membership of the cluster. It implements
// board.Store. Create it with New, start it with Run, stop it with Close.
type Node struct {
	id     string
	log    *slog.Logger
	opts   Options
	rdb    *redis.Client
	sio    *sioredis.RedisClient
	ctx    context.Context // lives until Close
	cancel context.CancelFunc

	// mu serialises store calls and rebuilds, so a rebuild never writes
	// back a player that a concurrent Leave just removed.
	mu       sync.Mutex
	local    map[string]map[string]localPlayer // board → socket id → player (this node's only)
	seen     *board.Memory                     // circles, for serving late joiners while Redis is down
	dirty    bool                              // a write failed: Redis may lack local changes
	draining bool                              // shutting down: players stay out of Redis
	wg       sync.WaitGroup

	up     atomic.Bool
	errMu  sync.Mutex
	lastEr time.Time // last adapter error, to slow the adapter's retry loop

	hooksMu sync.Mutex
	hooks   Hooks
	resend  map[string]*time.Timer // board → pending SendPlayers
	last    map[string]origin      // board → last change seen
}

type localPlayer struct {
	initials string
	score    float64 // join time (µs, Redis clock) to keep join order on re-assert
}

type origin struct {
	node string
	at   time.Time
}

// New connects lazily: it succeeds while Redis is down, and the node
// starts serving its own clients until Redis is reachable.
func New(opts Options) (*Node, error) {
	ro, err := redis.ParseURL(opts.URL)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	if ro.TLSConfig != nil && !opts.TLSVerify {
		ro.TLSConfig.InsecureSkipVerify = true //nolint:gosec // hosted Redis uses self-signed certificates; REDIS_TLS_VERIFY=true checks them
	}
	if ro.TLSConfig != nil {
		ro.TLSConfig.MinVersion = tls.VersionTLS12
	}
	// Fail fast: a store call waits on Redis while holding the board lock,
	// and an emit publishes before delivering locally.
	ro.DialTimeout = 2 * time.Second
	ro.ReadTimeout = 2 * time.Second
	ro.WriteTimeout = 2 * time.Second
	ro.MaxRetries = 1
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Prefix == "" {
		opts.Prefix = "rc:"
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = time.Second
	}
	if opts.HeartbeatTTL <= 0 {
		opts.HeartbeatTTL = 5 * time.Second
	}
	if opts.NodeID == "" {
		opts.NodeID = defaultNodeID()
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &Node{
		id:     opts.NodeID,
		log:    opts.Logger.With("node", opts.NodeID),
		opts:   opts,
		rdb:    redis.NewClient(ro),
		ctx:    ctx,
		cancel: cancel,
		local:  make(map[string]map[string]localPlayer),
		seen:   board.NewMemory(),
		resend: make(map[string]*time.Timer),
		last:   make(map[string]origin),
	}
	n.up.Store(true) // until a call fails, so the first failure is logged
	n.dirty = true   // first heartbeat asserts (no players yet) and cleans up after a previous run
	n.sio = sioredis.NewRedisClient(ctx, n.rdb)
	_ = n.sio.On("error", n.adapterError)
	return n, nil
}

func defaultNodeID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "node"
	}
	var b [3]byte
	_, _ = rand.Read(b[:])
	return host + "-" + strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(b[:])
}

// ID is the node's name in Redis.
func (n *Node) ID() string { return n.id }

// RedisUp reports whether the last Redis call succeeded.
func (n *Node) RedisUp() bool { return n.up.Load() }

// Adapter is the Socket.IO adapter to give the server: the classic Redis
// adapter, which carries single-room emits to the other nodes, encoding
// payloads with their JSON field names (see wireParser).
func (n *Node) Adapter() socket.AdapterConstructor {
	opts := sioadapter.DefaultRedisAdapterOptions()
	opts.SetParser(wireParser{})
	return &sioadapter.RedisAdapterBuilder{Redis: n.sio, Opts: opts}
}

// adapterError handles errors the adapter reports. Its subscribe loops
// retry at once after a failed receive, and go-redis fails at once while
// Redis refuses connections, so this listener (called synchronously from
// that loop) paces it: without the pause a down Redis costs a core.
func (n *Node) adapterError(args ...any) {
	var err error
	if len(args) > 0 {
		err, _ = args[0].(error)
	}
	if err == nil {
		err = fmt.Errorf("adapter error %v", args)
	}
	n.failed("adapter", err)
	n.errMu.Lock()
	recent := time.Since(n.lastEr) < 100*time.Millisecond
	n.lastEr = time.Now()
	n.errMu.Unlock()
	if recent && n.ctx.Err() == nil {
		select {
		case <-time.After(200 * time.Millisecond):
		case <-n.ctx.Done():
		}
	}
}

// failed records a Redis failure: counts it, and logs the first one of an outage.
func (n *Node) failed(op string, err error) {
	if errors.Is(err, context.Canceled) && n.ctx.Err() != nil {
		return // shutting down
	}
	if n.opts.OnRedisError != nil {
		n.opts.OnRedisError(err)
	}
	if n.up.Swap(false) {
		n.log.Warn("redis down: serving this node's clients only until it returns", "op", op, "err", err)
	} else {
		n.log.Debug("redis call failed", "op", op, "err", err)
	}
}

// SetHooks connects the node to the Socket.IO server.
func (n *Node) SetHooks(h Hooks) {
	n.hooksMu.Lock()
	defer n.hooksMu.Unlock()
	n.hooks = h
}

// Close stops the loops and disconnects from Redis. Call Drain first.
func (n *Node) Close() error {
	n.hooksMu.Lock()
	for _, t := range n.resend {
		t.Stop()
	}
	n.hooksMu.Unlock()
	n.cancel()
	n.wg.Wait()
	if err := n.rdb.Close(); err != nil {
		return fmt.Errorf("closing redis client: %w", err)
	}
	return nil
}

func (n *Node) key(parts ...string) string {
	k := n.opts.Prefix
	for i, p := range parts {
		if i > 0 {
			k += ":"
		}
		k += p
	}
	return k
}
