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
	// BoardIdleTTL (BOARD_IDLE_TTL) is how long a board nobody uses keeps
	// its keys in Redis; 0: cluster.DefaultBoardIdleTTL.
	BoardIdleTTL time.Duration
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
	// LibraryBroadcast keeps the library's own adapters (and so its
	// per-recipient broadcast) instead of ours (RELAY_PATH=library; for
	// benchmarks).
	LibraryBroadcast bool
}

// Parse reads args (without the program name) and getenv.
func Parse(args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	port := getenv("PORT")
	if port == "" {
		port = "3000"
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return Config{}, fmt.Errorf("PORT=%q: want a port number", port)
	}
	var cfg Config
	var level string
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Addr, "addr", ":"+port, "listen address (env PORT sets the port)")
	fs.StringVar(&cfg.Dir, "dir", getenv("ASSETS_DIR"), "directory holding views/ and public/ (env ASSETS_DIR; default: ./ if present, else the embedded copy)")
	fs.StringVar(&level, "log-level", or(getenv("LOG_LEVEL"), "info"), "debug, info, warn or error (env LOG_LEVEL)")
	fs.DurationVar(&cfg.ShutdownGrace, "shutdown-grace", 25*time.Second, "how long shutdown waits before closing connections")
	fs.DurationVar(&cfg.DrainDelay, "drain-delay", 0, "on shutdown, keep serving this long with /healthz answering 503 before closing connections")
	fs.StringVar(&cfg.RedisURL, "redis-url", getenv("REDIS_URL"), "Redis URL, redis://, rediss:// or redis-sentinel://host:port[,host:port]/primary, to run several nodes as one (env REDIS_URL)")
	fs.BoolVar(&cfg.RedisTLSVerify, "redis-tls-verify", getenv("REDIS_TLS_VERIFY") == "true", "verify the rediss:// server certificate (env REDIS_TLS_VERIFY=true)")
	fs.StringVar(&cfg.NodeID, "node-id", getenv("NODE_ID"), "this node's name in the cluster (env NODE_ID; default hostname-pid-random)")
	idleTTL := time.Duration(0)
	if v := getenv("BOARD_IDLE_TTL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return Config{}, fmt.Errorf("BOARD_IDLE_TTL=%q: want a duration such as 1h", v)
		}
		idleTTL = d
	}
	fs.DurationVar(&cfg.BoardIdleTTL, "board-idle-ttl", idleTTL, "how long an unused board's keys stay in Redis (env BOARD_IDLE_TTL; default 1h)")
	fs.DurationVar(&cfg.RecoveryWindow, "recovery-window", 2*time.Minute, "how long a dropped client can recover its session; negative: off")
	fs.DurationVar(&cfg.PresenceGrace, "presence-grace", 10*time.Second, "how long a dropped player stays in the list while it may recover (at most the recovery window)")
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
	cfg.LibraryBroadcast = getenv("RELAY_PATH") == "library"
	cfg.TrustProxy = getenv("TRUST_PROXY") == "true" || getenv("TRUST_PROXY") == "" && getenv("DYNO") != ""
	for _, o := range strings.Split(getenv("ALLOWED_ORIGINS"), ",") {
		if o = strings.TrimSpace(o); o != "" {
			cfg.AllowedOrigins = append(cfg.AllowedOrigins, strings.TrimSuffix(o, "/"))
		}
	}
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
	return cfg, nil
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
