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
	"net"
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
	// URL is redis://[:password@]host:port[/db], rediss:// for TLS, or
	// redis-sentinel://[:password@]host:port[,host:port…]/primary[/db] for
	// a Sentinel-managed primary (see ParseURL).
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
	// BoardIdleTTL is how long a board's keys outlive its last change
	// (and the last heartbeat of a node with clients on it); default
	// DefaultBoardIdleTTL. Give it the single-node eviction TTL.
	BoardIdleTTL time.Duration
	// CallTimeout bounds each Redis call a client's event waits for; the
	// first one to fail marks Redis down. Default 1 s.
	CallTimeout time.Duration
	// ProbeInterval is how often a node whose Redis is down checks
	// whether it is back; default 100 ms.
	ProbeInterval time.Duration
	// OnRedisError is called for every failed Redis call (metrics).
	OnRedisError func(error)
	// OnDropped is called for each write or cross-node message dropped
	// because Redis was down or the write queue full (metrics).
	OnDropped func()
}

// KeyFormat versions the layout of everything this package keeps in Redis
// (store.go). Change it with any change of keys, values or messages.
const KeyFormat = "v2"

// DefaultBoardIdleTTL is how long an idle board's keys stay in Redis.
const DefaultBoardIdleTTL = time.Hour

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
	addr   string // host:port to probe while Redis is down; "" for Sentinel
	sio    *sioredis.RedisClient
	writes chan writeOp    // publish.go
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

	// up is the circuit breaker: while false, no call waits on Redis
	// (store calls answer locally, writes are dropped) and only the
	// heartbeat loop probes it. Changed under upMu; upCh is closed while up.
	up   atomic.Bool
	upMu sync.Mutex
	upCh chan struct{}
	// wentDown wakes the heartbeat loop when the breaker opens.
	wentDown chan struct{}
	errMu    sync.Mutex
	lastEr   time.Time // last adapter error, to slow the adapter's retry loop

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
	if opts.BoardIdleTTL <= 0 {
		opts.BoardIdleTTL = DefaultBoardIdleTTL
	}
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = time.Second
	}
	if opts.ProbeInterval <= 0 {
		opts.ProbeInterval = 100 * time.Millisecond
	}
	if opts.NodeID == "" {
		opts.NodeID = NewNodeID()
	}
	rdb, addr, err := newClient(opts)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &Node{
		id:       opts.NodeID,
		log:      opts.Logger.With("node", opts.NodeID),
		opts:     opts,
		rdb:      rdb,
		addr:     addr,
		writes:   make(chan writeOp, writeQueue),
		ctx:      ctx,
		cancel:   cancel,
		local:    make(map[string]map[string]localPlayer),
		seen:     board.NewMemory(),
		resend:   make(map[string]*time.Timer),
		last:     make(map[string]origin),
		upCh:     make(chan struct{}),
		wentDown: make(chan struct{}, 1),
	}
	close(n.upCh)
	n.up.Store(true) // until a call fails, so the first failure is logged
	n.dirty = true   // first heartbeat asserts (no players yet) and cleans up after a previous run
	n.sio = sioredis.NewRedisClientWithSub(ctx, publisher{Client: n.rdb, n: n}, n.rdb)
	_ = n.sio.On("error", n.adapterError)
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		n.writer()
	}()
	return n, nil
}

// newClient builds the go-redis client for opts.URL, tuned to fail fast:
// a node must notice an outage in one call, not after a round of retries.
func newClient(opts Options) (*redis.Client, string, error) {
	tune := func(ro *redis.Options) {
		if ro.TLSConfig != nil && !opts.TLSVerify {
			ro.TLSConfig.InsecureSkipVerify = true //nolint:gosec // hosted Redis uses self-signed certificates; REDIS_TLS_VERIFY=true checks them
		}
		if ro.TLSConfig != nil {
			ro.TLSConfig.MinVersion = tls.VersionTLS12
		}
		ro.DialTimeout = opts.CallTimeout
		ro.ReadTimeout = opts.CallTimeout
		ro.WriteTimeout = opts.CallTimeout
		ro.PoolTimeout = opts.CallTimeout
		ro.DialerRetries = 1 // go-redis's default, 5 dials 100 ms apart, held the board lock ~1 s per failed call
		ro.MaxRetries = 1
	}
	if fo, ok, err := parseSentinelURL(opts.URL); ok {
		if err != nil {
			return nil, "", fmt.Errorf("REDIS_URL: %w", err)
		}
		ro := &redis.Options{}
		tune(ro)
		fo.DialTimeout, fo.ReadTimeout, fo.WriteTimeout, fo.PoolTimeout = ro.DialTimeout, ro.ReadTimeout, ro.WriteTimeout, ro.PoolTimeout
		fo.DialerRetries, fo.MaxRetries = ro.DialerRetries, ro.MaxRetries
		return redis.NewFailoverClient(fo), "", nil
	}
	ro, err := redis.ParseURL(opts.URL)
	if err != nil {
		return nil, "", fmt.Errorf("REDIS_URL: %w", err)
	}
	tune(ro)
	return redis.NewClient(ro), ro.Addr, nil
}

// NewNodeID names a process: hostname-pid-random (the default NodeID,
// and a single node's name in /healthz).
func NewNodeID() string {
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
	opts.SetKey(n.key("socket.io")) // versioned like the keys: wireParser is ours
	return &sioadapter.RedisAdapterBuilder{Redis: n.sio, Opts: opts}
}

// adapterError handles errors the adapter reports, called synchronously
// from its subscribe loops, which retry at once. While Redis is down it
// holds the loop until the heartbeat finds Redis back (at most a few
// seconds per call, in case another caller reports through it), so the
// adapter does not redial in a tight loop; otherwise it paces repeats.
func (n *Node) adapterError(args ...any) {
	var err error
	if len(args) > 0 {
		err, _ = args[0].(error)
	}
	if err == nil {
		err = fmt.Errorf("adapter error %v", args)
	}
	n.failed("adapter", err)
	if n.waitUp(3 * time.Second) {
		n.errMu.Lock()
		recent := time.Since(n.lastEr) < 100*time.Millisecond
		n.lastEr = time.Now()
		n.errMu.Unlock()
		if recent {
			n.sleep(200 * time.Millisecond)
		}
	}
}

// sleep waits d or until Close.
func (n *Node) sleep(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-n.ctx.Done():
	}
}

// waitUp waits until Redis is up, at most d (0: no limit), and reports
// whether it is.
func (n *Node) waitUp(d time.Duration) bool {
	n.upMu.Lock()
	ch := n.upCh
	n.upMu.Unlock()
	var limit <-chan time.Time
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		limit = t.C
	}
	select {
	case <-ch:
		return true
	case <-limit:
	case <-n.ctx.Done():
	}
	return false
}

// setUp moves the breaker and reports whether it changed.
func (n *Node) setUp(up bool) bool {
	n.upMu.Lock()
	defer n.upMu.Unlock()
	if n.up.Load() == up {
		return false
	}
	n.up.Store(up)
	if up {
		close(n.upCh)
	} else {
		n.upCh = make(chan struct{})
		select {
		case n.wentDown <- struct{}{}:
		default:
		}
	}
	return true
}

// failed records a Redis failure: counts it, opens the breaker, and logs
// the first failure of an outage (go-redis's own dial errors are not
// logged: see main.go).
func (n *Node) failed(op string, err error) {
	if errors.Is(err, context.Canceled) && n.ctx.Err() != nil {
		return // shutting down
	}
	if n.opts.OnRedisError != nil {
		n.opts.OnRedisError(err)
	}
	if n.setUp(false) {
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
	// Give queued writes (the last circles, the shutdown's emits) a moment
	// to reach Redis before the writer stops.
	for deadline := time.Now().Add(n.opts.CallTimeout); len(n.writes) > 0 && n.up.Load() && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	n.cancel()
	n.wg.Wait()
	// The failover client reports the connections its failover already closed.
	if err := n.rdb.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("closing redis client: %w", err)
	}
	return nil
}

func (n *Node) key(parts ...string) string {
	k := n.opts.Prefix + KeyFormat + ":"
	for i, p := range parts {
		if i > 0 {
			k += ":"
		}
		k += p
	}
	return k
}
