package config

import (
	"io"
	"log/slog"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestParse(t *testing.T) {
	cfg, err := Parse(nil, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != ":3000" || cfg.LogLevel != slog.LevelInfo || cfg.ShutdownGrace != 25*time.Second || cfg.DrainDelay != 0 {
		t.Errorf("defaults: %+v", cfg)
	}

	cfg, err = Parse(nil, env(map[string]string{"PORT": "5055", "LOG_LEVEL": "debug"}), io.Discard)
	if err != nil || cfg.Addr != ":5055" || cfg.LogLevel != slog.LevelDebug {
		t.Errorf("env: %+v %v", cfg, err)
	}

	cfg, err = Parse([]string{"-addr", "127.0.0.1:9", "-log-level", "warn"}, env(map[string]string{"PORT": "5055"}), io.Discard)
	if err != nil || cfg.Addr != "127.0.0.1:9" || cfg.LogLevel != slog.LevelWarn {
		t.Errorf("flags over env: %+v %v", cfg, err)
	}

	for _, bad := range []map[string]string{{"PORT": "http"}, {"PORT": "70000"}, {"LOG_LEVEL": "loud"}} {
		if _, err := Parse(nil, env(bad), io.Discard); err == nil {
			t.Errorf("Parse(%v) accepted", bad)
		}
	}
	if _, err := Parse([]string{"-nope"}, env(nil), io.Discard); err == nil {
		t.Errorf("unknown flag accepted")
	}
	if cfg, err := Parse([]string{"-drain-delay", "5s"}, env(nil), io.Discard); err != nil || cfg.DrainDelay != 5*time.Second {
		t.Errorf("-drain-delay 5s: %+v %v", cfg, err)
	}
	if _, err := Parse([]string{"-drain-delay", "-1s"}, env(nil), io.Discard); err == nil {
		t.Errorf("negative -drain-delay accepted")
	}
}

// Issue 11's limits: Node-like HTTP defaults, the memory caps, and
// refusals of values that would switch a cap off by accident.
func TestParseLimits(t *testing.T) {
	cfg, err := Parse(nil, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTPIdleTimeout != 5*time.Second || cfg.HTTPBodyTimeout != 10*time.Second || cfg.MaxConns != 0 ||
		cfg.MaxBoards != DefaultMaxBoards || cfg.MaxCircles != DefaultMaxCircles || cfg.BoardIdleTTL != time.Hour ||
		cfg.ReplayBoardBytes != 256<<10 || cfg.ReplayBytes != 32<<20 || cfg.MetricsToken != "" || cfg.MetricsAddr != "" {
		t.Errorf("defaults: %+v", cfg)
	}
	cfg, err = Parse([]string{"-max-boards", "7"}, env(map[string]string{"MAX_CONNS": "100", "BOARD_IDLE_TTL": "30m", "METRICS_TOKEN": "t", "MAX_BOARDS": "9"}), io.Discard)
	if err != nil || cfg.MaxConns != 100 || cfg.BoardIdleTTL != 30*time.Minute || cfg.MetricsToken != "t" || cfg.MaxBoards != 7 {
		t.Errorf("env and flags: %+v %v", cfg, err)
	}
	for _, bad := range []map[string]string{{"MAX_BOARDS": "0"}, {"MAX_CONNS": "-1"}, {"BOARD_IDLE_TTL": "soon"}, {"REPLAY_BYTES": "10"}} {
		if _, err := Parse(nil, env(bad), io.Discard); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}
