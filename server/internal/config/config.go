// Package config reads the server's settings from flags and the
// environment. Environment variables win over defaults; flags win over
// both. PORT comes first because Heroku sets it.
package config

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"
)

// Config is every setting of one server process.
type Config struct {
	Addr          string        // listen address, ":" + PORT by default
	Dir           string        // where views/ and public/ live; "" = use the embedded copy if not found in .
	LogLevel      slog.Level    // LOG_LEVEL: debug, info, warn, error
	ShutdownGrace time.Duration // how long SIGTERM waits for clients to go
	// DrainDelay is how long SIGTERM keeps serving, /healthz answering 503,
	// before telling clients to go: time for a balancer to stop sending new ones.
	DrainDelay time.Duration
	// REDIS_URL (redis://, rediss:// or redis-sentinel://) switches on the cluster; empty = one node.
	RedisURL       string
	RedisTLSVerify bool   // REDIS_TLS_VERIFY: check rediss:// certificates (hosted Redis self-signs)
	NodeID         string // NODE_ID: this process's name in the cluster; default hostname-pid-random
	// RecoveryWindow is how long a dropped client can recover its session
	// (and its player waits for it); negative turns recovery off.
	RecoveryWindow time.Duration
	PresenceGrace  time.Duration // how long a dropped player stays listed
	CursorMode     string        // "batched" (default) or "naive" (benchmark baseline)
	// PingInterval and PingTimeout are Engine.IO's heartbeat (0: the defaults).
	PingInterval, PingTimeout time.Duration
	// ConnectTimeout is how long a session may stay without joining a
	// namespace (0: Socket.IO's 45 s).
	ConnectTimeout time.Duration
	Limits
	// PprofAddr, when set, serves net/http/pprof there (loopback only).
	PprofAddr string
	// MaxConns caps open TCP connections on the node (MAX_CONNS; 0 =
	// derived from the descriptor limit at start).
	MaxConns int
	// MetricsToken guards /metrics on the public port (METRICS_TOKEN;
	// empty = /metrics is 404 there); MetricsAddr also serves it on a
	// separate listener (METRICS_ADDR, e.g. 127.0.0.1:9090), no token.
	MetricsToken, MetricsAddr string
	// HTTPIdleTimeout closes idle keep-alive connections (Node: 5 s);
	// HTTPBodyTimeout bounds reading a request body.
	HTTPIdleTimeout, HTTPBodyTimeout time.Duration
	// The /ws demo's limits: messages per second per connection, queued
	// messages before a client is dropped, ping interval (its per-address
	// cap is MaxConnsPerIP).
	WSRate         float64
	WSQueue        int
	WSPingInterval time.Duration
}

// Limits bound what one client or one address can cost the server.
type Limits struct {
	RateLimit      float64  // RATE_LIMIT: events per second per socket (sustained); 0 = unlimited
	RateBurst      int      // RATE_BURST: events a socket may send at once
	MaxConnsPerIP  int      // MAX_CONNS_PER_IP: open sessions per client address; 0 = unlimited
	AllowedOrigins []string // ALLOWED_ORIGINS: extra page origins (scheme://host[:port]); "*" = any
	SendQueueMax   int      // SEND_QUEUE_MAX: packets queued to one client before it is dropped
	// TrustProxy counts clients by the X-Forwarded-For their proxy appends
	// (TRUST_PROXY; on by default on Heroku, where DYNO is set).
	TrustProxy bool
	BatchTick  time.Duration
	// MaxBoards, MaxCircles (all boards together) and BoardIdleTTL bound
	// the boards a node keeps; boards with no socket go first (LRU) and
	// after BoardIdleTTL idle.
	MaxBoards    int           // MAX_BOARDS
	MaxCircles   int           // MAX_CIRCLES
	BoardIdleTTL time.Duration // BOARD_IDLE_TTL
	// ReplayBoardBytes and ReplayBytes cap the recovery replay buffer per
	// board and in total (REPLAY_BOARD_BYTES, REPLAY_BYTES).
	ReplayBoardBytes, ReplayBytes int
	// LibraryBroadcast keeps the library's own adapters (and so its
	// per-recipient broadcast) instead of ours (RELAY_PATH=library; for
	// benchmarks).
	LibraryBroadcast bool
}

// Parse reads args (without the program name) and getenv. Every setting
// is a flag; -h lists them all with their environment variables, and the
// README's table lists the same (TestReadmeMatchesFlags).
func Parse(args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	var cfg Config
	var level, origins, relay string
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Addr, "addr", "", "listen address (env PORT: listen on :PORT; default :3000)")
	fs.StringVar(&cfg.Dir, "dir", getenv("ASSETS_DIR"), "directory holding views/ and public/ (env ASSETS_DIR; default: ./ if present, else the embedded copy)")
	fs.StringVar(&level, "log-level", or(getenv("LOG_LEVEL"), "info"), "debug, info, warn or error (env LOG_LEVEL)")
	fs.DurationVar(&cfg.ShutdownGrace, "shutdown-grace", 25*time.Second, "on SIGTERM/SIGINT: Socket.IO closes (clients are told), then HTTP drains within this")
	fs.DurationVar(&cfg.DrainDelay, "drain-delay", 0, "on shutdown, keep serving this long with /healthz answering 503 before closing connections")
	fs.StringVar(&cfg.RedisURL, "redis-url", getenv("REDIS_URL"), "Redis URL, redis://, rediss:// or redis-sentinel://host:port[,host:port]/primary, to run several nodes as one (env REDIS_URL)")
	fs.StringVar(&origins, "allowed-origins", getenv("ALLOWED_ORIGINS"), "extra page origins allowed to open Socket.IO, comma-separated, or * (env ALLOWED_ORIGINS; default same origin only)")
	fs.StringVar(&relay, "relay-path", or(getenv("RELAY_PATH"), "ours"), "broadcast path: ours, or library (the library's adapters, for benchmarks) (env RELAY_PATH)")
	fs.StringVar(&cfg.NodeID, "node-id", getenv("NODE_ID"), "this node's name in the cluster (env NODE_ID; default hostname-pid-random)")
	fs.DurationVar(&cfg.RecoveryWindow, "recovery-window", 2*time.Minute, "how long a dropped client can recover its session; negative: off")
	fs.DurationVar(&cfg.PresenceGrace, "presence-grace", 10*time.Second, "how long a dropped player of a client that asks for it (auth {presenceGrace: true}) stays listed while it may recover (at most the recovery window)")
	fs.StringVar(&cfg.CursorMode, "cursor-mode", "batched", "live cursor fan-out: batched or naive (benchmark baseline)")
	fs.StringVar(&cfg.PprofAddr, "pprof", getenv("PPROF_ADDR"), "serve net/http/pprof on this loopback address, e.g. 127.0.0.1:6060 (env PPROF_ADDR)")
	var err error
	if cfg.RateLimit, err = envFloat(getenv, "RATE_LIMIT", 20); err != nil {
		return Config{}, err
	}
	if cfg.RateBurst, err = envInt(getenv, "RATE_BURST", 40); err != nil {
		return Config{}, err
	}
	if cfg.MaxConnsPerIP, err = envInt(getenv, "MAX_CONNS_PER_IP", 300); err != nil {
		return Config{}, err
	}
	if cfg.SendQueueMax, err = envInt(getenv, "SEND_QUEUE_MAX", 4096); err != nil {
		return Config{}, err
	}
	if cfg.TrustProxy, err = envBool(getenv, "TRUST_PROXY", getenv("DYNO") != ""); err != nil {
		return Config{}, err
	}
	if cfg.RedisTLSVerify, err = envBool(getenv, "REDIS_TLS_VERIFY", false); err != nil {
		return Config{}, err
	}
	for _, v := range []struct {
		key string
		p   *int
		def int
	}{
		{"MAX_CONNS", &cfg.MaxConns, 0},
		{"MAX_BOARDS", &cfg.MaxBoards, DefaultMaxBoards},
		{"MAX_CIRCLES", &cfg.MaxCircles, DefaultMaxCircles},
		{"REPLAY_BOARD_BYTES", &cfg.ReplayBoardBytes, DefaultReplayBoardBytes},
		{"REPLAY_BYTES", &cfg.ReplayBytes, DefaultReplayBytes},
	} {
		if *v.p, err = envInt(getenv, v.key, v.def); err != nil {
			return Config{}, err
		}
	}
	if cfg.BoardIdleTTL, err = envDuration(getenv, "BOARD_IDLE_TTL", DefaultBoardIdleTTL); err != nil {
		return Config{}, err
	}
	fs.IntVar(&cfg.MaxConns, "max-conns", cfg.MaxConns, "open TCP connections on this node; 0 = the soft descriptor limit minus 64 (env MAX_CONNS)")
	fs.IntVar(&cfg.MaxBoards, "max-boards", cfg.MaxBoards, "boards kept on this node; those without sockets are evicted first (env MAX_BOARDS)")
	fs.IntVar(&cfg.MaxCircles, "max-circles", cfg.MaxCircles, "circles kept on all boards together (env MAX_CIRCLES)")
	fs.DurationVar(&cfg.BoardIdleTTL, "board-idle-ttl", cfg.BoardIdleTTL, "a board without sockets is forgotten after this, and its Redis keys expire (env BOARD_IDLE_TTL)")
	fs.IntVar(&cfg.ReplayBoardBytes, "replay-board-bytes", cfg.ReplayBoardBytes, "recovery replay buffer per board, bytes (env REPLAY_BOARD_BYTES)")
	fs.IntVar(&cfg.ReplayBytes, "replay-bytes", cfg.ReplayBytes, "recovery replay buffer on the node, bytes (env REPLAY_BYTES)")
	fs.StringVar(&cfg.MetricsToken, "metrics-token", getenv("METRICS_TOKEN"), "/metrics on the public port needs Authorization: Bearer <token>; unset: 404 (env METRICS_TOKEN, better than the flag, which ps shows)")
	fs.StringVar(&cfg.MetricsAddr, "metrics-addr", getenv("METRICS_ADDR"), "also serve /metrics, without a token, on this address, e.g. 127.0.0.1:9090 (env METRICS_ADDR)")
	fs.DurationVar(&cfg.HTTPIdleTimeout, "http-idle-timeout", 5*time.Second, "close a keep-alive connection idle this long")
	fs.DurationVar(&cfg.HTTPBodyTimeout, "http-body-timeout", 10*time.Second, "how long a client may take to send a request body")
	fs.Float64Var(&cfg.WSRate, "ws-rate", 60, "/ws demo: messages per second per connection (burst twice that)")
	fs.IntVar(&cfg.WSQueue, "ws-queue", 256, "/ws demo: messages queued to one client before it is dropped as too slow")
	fs.DurationVar(&cfg.WSPingInterval, "ws-ping-interval", 25*time.Second, "/ws demo: ping interval; silent for two intervals closes a connection")
	fs.BoolVar(&cfg.RedisTLSVerify, "redis-tls-verify", cfg.RedisTLSVerify, "verify the rediss:// server certificate (env REDIS_TLS_VERIFY)")
	fs.Float64Var(&cfg.RateLimit, "rate-limit", cfg.RateLimit, "events per second per socket, sustained; 0 = unlimited (env RATE_LIMIT)")
	fs.IntVar(&cfg.RateBurst, "rate-burst", cfg.RateBurst, "events a socket may send in a burst (env RATE_BURST)")
	fs.IntVar(&cfg.MaxConnsPerIP, "max-conns-per-ip", cfg.MaxConnsPerIP, "open Socket.IO sessions per client address; 0 = unlimited (env MAX_CONNS_PER_IP)")
	fs.IntVar(&cfg.SendQueueMax, "send-queue-max", cfg.SendQueueMax, "packets queued to one client before it is dropped as too slow (env SEND_QUEUE_MAX)")
	fs.BoolVar(&cfg.TrustProxy, "trust-proxy", cfg.TrustProxy, "count clients by X-Forwarded-For (behind Heroku's router or nginx; env TRUST_PROXY, default true when DYNO is set)")
	fs.DurationVar(&cfg.BatchTick, "batch-tick", 33*time.Millisecond, "how often batch clients get the new circles and cursors, and everyone the cursors")
	fs.DurationVar(&cfg.PingInterval, "ping-interval", 0, "Engine.IO ping interval (default 25s)")
	fs.DurationVar(&cfg.PingTimeout, "ping-timeout", 0, "Engine.IO ping timeout (default 20s)")
	fs.DurationVar(&cfg.ConnectTimeout, "connect-timeout", 0, "how long a session may stay without joining a namespace (default 45s)")
	if err := fs.Parse(args); err != nil {
		return Config{}, fmt.Errorf("parsing flags: %w", err)
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected arguments %q: settings are flags (-h lists them)", fs.Args())
	}
	if cfg.Addr == "" { // flags win over the environment: PORT only counts without -addr
		port := or(getenv("PORT"), "3000")
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			return Config{}, fmt.Errorf("PORT=%q: want a port number", port)
		}
		cfg.Addr = ":" + port
	}
	for _, o := range strings.Split(origins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			cfg.AllowedOrigins = append(cfg.AllowedOrigins, strings.TrimSuffix(o, "/"))
		}
	}
	switch relay {
	case "ours":
	case "library":
		cfg.LibraryBroadcast = true
	default:
		return Config{}, fmt.Errorf("-relay-path %q: want ours or library", relay)
	}
	if cfg.DrainDelay < 0 || cfg.ShutdownGrace < 0 {
		return Config{}, fmt.Errorf("-drain-delay %v, -shutdown-grace %v: want ≥ 0", cfg.DrainDelay, cfg.ShutdownGrace)
	}
	if cfg.CursorMode != "batched" && cfg.CursorMode != "naive" {
		return Config{}, fmt.Errorf("-cursor-mode %q: want batched or naive", cfg.CursorMode)
	}
	if err := cfg.LogLevel.UnmarshalText([]byte(level)); err != nil {
		return Config{}, fmt.Errorf("log level %q: %w", level, err)
	}
	if cfg.PprofAddr != "" {
		host, _, err := net.SplitHostPort(cfg.PprofAddr)
		if ip := net.ParseIP(host); err != nil || (host != "localhost" && (ip == nil || !ip.IsLoopback())) {
			return Config{}, fmt.Errorf("pprof address %q: want a loopback host:port such as 127.0.0.1:6060", cfg.PprofAddr)
		}
	}
	if cfg.RateLimit < 0 || cfg.RateBurst < 1 || cfg.MaxConnsPerIP < 0 || cfg.SendQueueMax < 1 || cfg.BatchTick <= 0 {
		return Config{}, fmt.Errorf("limits: rate %g, burst %d, conns per IP %d, send queue %d, batch tick %v: want rate ≥ 0, burst ≥ 1, conns ≥ 0, queue ≥ 1, tick > 0",
			cfg.RateLimit, cfg.RateBurst, cfg.MaxConnsPerIP, cfg.SendQueueMax, cfg.BatchTick)
	}
	if cfg.MaxConns < 0 || cfg.MaxBoards < 1 || cfg.MaxCircles < 1 || cfg.BoardIdleTTL <= 0 || cfg.ReplayBoardBytes < 1 || cfg.ReplayBytes < cfg.ReplayBoardBytes ||
		cfg.HTTPIdleTimeout <= 0 || cfg.HTTPBodyTimeout <= 0 || cfg.WSRate <= 0 || cfg.WSQueue < 1 || cfg.WSPingInterval <= 0 {
		return Config{}, fmt.Errorf("limits: max conns %d, boards %d, circles %d, board idle TTL %v, replay %d per board and %d in all, HTTP idle %v and body %v, ws rate %g, queue %d, ping %v: "+
			"want conns ≥ 0, boards ≥ 1, circles ≥ 1, 1 ≤ per board ≤ in all, rate > 0, queue ≥ 1, durations > 0",
			cfg.MaxConns, cfg.MaxBoards, cfg.MaxCircles, cfg.BoardIdleTTL, cfg.ReplayBoardBytes, cfg.ReplayBytes, cfg.HTTPIdleTimeout, cfg.HTTPBodyTimeout, cfg.WSRate, cfg.WSQueue, cfg.WSPingInterval)
	}
	return cfg, nil
}

// Defaults of the memory caps (docs/limits.md adds them up).
const (
	DefaultMaxBoards        = 1000
	DefaultMaxCircles       = 200_000
	DefaultBoardIdleTTL     = time.Hour
	DefaultReplayBoardBytes = 256 << 10
	DefaultReplayBytes      = 32 << 20
	DefaultGCHeadroom       = 64 << 20
)

// GCHeadroom reads GC_HEADROOM: bytes the heap may grow between garbage
// collections however little survives (gcpace; 0 = plain GOGC). It is
// process-wide, like GOGC, so main reads it once, not per server.
func GCHeadroom(getenv func(string) string) (uint64, error) {
	n, err := envInt(getenv, "GC_HEADROOM", DefaultGCHeadroom)
	if err != nil {
		return 0, err
	}
	if n < 0 {
		return 0, fmt.Errorf("GC_HEADROOM=%d: want ≥ 0 bytes", n)
	}
	return uint64(n), nil
}

func envDuration(getenv func(string) string, key string, def time.Duration) (time.Duration, error) {
	v := getenv(key)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%s=%q: want a duration such as 30m", key, v)
	}
	return d, nil
}

func envInt(getenv func(string) string, key string, def int) (int, error) {
	v := getenv(key)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("%s=%q: want a whole number", key, v)
	}
	return n, nil
}

func envBool(getenv func(string) string, key string, def bool) (bool, error) {
	v := getenv(key)
	if v == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%s=%q: want true or false", key, v)
	}
	return b, nil
}

func envFloat(getenv func(string) string, key string, def float64) (float64, error) {
	v := getenv(key)
	if v == "" {
		return def, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return 0, fmt.Errorf("%s=%q: want a number", key, v)
	}
	return f, nil
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
