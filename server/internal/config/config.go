// Package config reads the server's settings from flags and the
// environment. Environment variables win over defaults; flags win over
// both. PORT comes first because Heroku sets it.
package config

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"time"
)

// Config is every setting of one server process.
type Config struct {
	Addr          string        // listen address, ":" + PORT by default
	Dir           string        // where views/ and public/ live; "" = use the embedded copy if not found in .
	LogLevel      slog.Level    // LOG_LEVEL: debug, info, warn, error
	ShutdownGrace time.Duration // how long SIGTERM waits for clients to go
	// REDIS_URL (redis:// or rediss://) switches on the cluster; empty = one node.
	RedisURL       string
	RedisTLSVerify bool   // REDIS_TLS_VERIFY: check rediss:// certificates (hosted Redis self-signs)
	NodeID         string // NODE_ID: this process's name in the cluster; default hostname-pid-random
	// RecoveryWindow is how long a dropped client can recover its session
	// (and its player waits for it); negative turns recovery off.
	RecoveryWindow time.Duration
	PresenceGrace  time.Duration // how long a dropped player stays listed
	CursorMode     string        // "batched" (default) or "naive" (benchmark baseline)
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
	fs.StringVar(&cfg.RedisURL, "redis-url", getenv("REDIS_URL"), "Redis URL, redis:// or rediss://, to run several nodes as one (env REDIS_URL)")
	fs.BoolVar(&cfg.RedisTLSVerify, "redis-tls-verify", getenv("REDIS_TLS_VERIFY") == "true", "verify the rediss:// server certificate (env REDIS_TLS_VERIFY=true)")
	fs.StringVar(&cfg.NodeID, "node-id", getenv("NODE_ID"), "this node's name in the cluster (env NODE_ID; default hostname-pid-random)")
	fs.DurationVar(&cfg.RecoveryWindow, "recovery-window", 2*time.Minute, "how long a dropped client can recover its session; negative: off")
	fs.DurationVar(&cfg.PresenceGrace, "presence-grace", 10*time.Second, "how long a dropped player stays in the list while it may recover (at most the recovery window)")
	fs.StringVar(&cfg.CursorMode, "cursor-mode", "batched", "live cursor fan-out: batched or naive (benchmark baseline)")
	if err := fs.Parse(args); err != nil {
		return Config{}, fmt.Errorf("parsing flags: %w", err)
	}
	if cfg.CursorMode != "batched" && cfg.CursorMode != "naive" {
		return Config{}, fmt.Errorf("-cursor-mode %q: want batched or naive", cfg.CursorMode)
	}
	if err := cfg.LogLevel.UnmarshalText([]byte(level)); err != nil {
		return Config{}, fmt.Errorf("log level %q: %w", level, err)
	}
	return cfg, nil
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
