package config

import (
	"errors"
	"flag"
	"io"
	"log/slog"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
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

// Flags win over the environment: a bad PORT does not stop a run that
// says where to listen. Leftover arguments are refused, not ignored.
// Booleans from the environment take what strconv.ParseBool takes.
func TestParseEdges(t *testing.T) {
	if cfg, err := Parse([]string{"-addr", ":8080"}, env(map[string]string{"PORT": "web"}), io.Discard); err != nil || cfg.Addr != ":8080" {
		t.Errorf("-addr with PORT=web: %+v %v", cfg, err)
	}
	if _, err := Parse([]string{"-addr", ":8080", "extra"}, env(nil), io.Discard); err == nil {
		t.Errorf("leftover argument accepted")
	}
	if cfg, err := Parse(nil, env(map[string]string{"TRUST_PROXY": "1", "REDIS_TLS_VERIFY": "TRUE"}), io.Discard); err != nil || !cfg.TrustProxy || !cfg.RedisTLSVerify {
		t.Errorf("TRUST_PROXY=1 REDIS_TLS_VERIFY=TRUE: %+v %v", cfg, err)
	}
	if cfg, err := Parse(nil, env(map[string]string{"TRUST_PROXY": "false", "DYNO": "web.1"}), io.Discard); err != nil || cfg.TrustProxy {
		t.Errorf("TRUST_PROXY=false on Heroku: %+v %v", cfg, err)
	}
	if _, err := Parse(nil, env(map[string]string{"TRUST_PROXY": "yes please"}), io.Discard); err == nil {
		t.Errorf("TRUST_PROXY=yes please accepted")
	}
	if cfg, err := Parse([]string{"-allowed-origins", "https://a.example/, https://b.example", "-relay-path", "library"}, env(nil), io.Discard); err != nil ||
		strings.Join(cfg.AllowedOrigins, " ") != "https://a.example https://b.example" || !cfg.LibraryBroadcast {
		t.Errorf("-allowed-origins, -relay-path: %+v %v", cfg, err)
	}
	if _, err := Parse(nil, env(map[string]string{"RELAY_PATH": "fast"}), io.Discard); err == nil {
		t.Errorf("RELAY_PATH=fast accepted")
	}
}

// The README's configuration table lists exactly the flags -h prints, and
// the environment variables -h names.
func TestReadmeMatchesFlags(t *testing.T) {
	var help strings.Builder
	if _, err := Parse([]string{"-h"}, env(nil), &help); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
	hFlags, hEnv := map[string]bool{}, map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^  (-[a-z-]+)`).FindAllStringSubmatch(help.String(), -1) {
		hFlags[m[1]] = true
	}
	for _, m := range regexp.MustCompile(`env ([A-Z][A-Z_]+)`).FindAllStringSubmatch(help.String(), -1) {
		hEnv[m[1]] = true
	}
	readme, err := os.ReadFile("../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(readme), "## Configuration")
	var table []string // the section's first table
	for _, line := range strings.Split(section, "\n") {
		if strings.HasPrefix(line, "|") {
			table = append(table, line)
		} else if len(table) > 0 {
			break
		}
	}
	rFlags, rEnv := map[string]bool{}, map[string]bool{}
	tick := regexp.MustCompile("`([^`]+)`")
	for _, line := range table {
		cols := strings.Split(line, "|")
		if len(cols) < 4 || strings.HasPrefix(strings.TrimSpace(cols[1]), "env") || strings.HasPrefix(cols[1], "---") {
			continue
		}
		for _, m := range tick.FindAllStringSubmatch(cols[1], -1) {
			rEnv[m[1]] = true
		}
		for _, m := range tick.FindAllStringSubmatch(cols[2], -1) {
			rFlags[m[1]] = true
		}
	}
	if !maps.Equal(hFlags, rFlags) {
		t.Errorf("flags: -h %v\nREADME %v", slices.Sorted(maps.Keys(hFlags)), slices.Sorted(maps.Keys(rFlags)))
	}
	if !maps.Equal(hEnv, rEnv) {
		t.Errorf("environment: -h %v\nREADME %v", slices.Sorted(maps.Keys(hEnv)), slices.Sorted(maps.Keys(rEnv)))
	}
}

func TestGCHeadroom(t *testing.T) {
	for _, c := range []struct {
		v    string
		want uint64
		ok   bool
	}{{"", DefaultGCHeadroom, true}, {"0", 0, true}, {"134217728", 128 << 20, true}, {"-1", 0, false}, {"64MiB", 0, false}} {
		got, err := GCHeadroom(env(map[string]string{"GC_HEADROOM": c.v}))
		if got != c.want || (err == nil) != c.ok {
			t.Errorf("GC_HEADROOM=%q: %d, %v; want %d, ok %v", c.v, got, err, c.want, c.ok)
		}
	}
}
