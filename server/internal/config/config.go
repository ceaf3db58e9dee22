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
	// PingInterval and PingTimeout are Engine.IO's heartbeat (0: the defaults).
	PingInterval, PingTimeout time.Duration
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
	fs.DurationVar(&cfg.PingInterval, "ping-interval", 0, "Engine.IO ping interval (default 25s)")
	fs.DurationVar(&cfg.PingTimeout, "ping-timeout", 0, "Engine.IO ping timeout (default 20s)")
	if err := fs.Parse(args); err != nil {
		return Config{}, fmt.Errorf("parsing flags: %w", err)
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
