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
