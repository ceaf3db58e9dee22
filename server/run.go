package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	realtimecircles "github.com/realtime-circles/realtime-circles"
	"github.com/realtime-circles/realtime-circles/server/internal/config"
	"github.com/realtime-circles/realtime-circles/server/internal/metrics"
	"github.com/realtime-circles/realtime-circles/server/internal/realtime"
	"github.com/realtime-circles/realtime-circles/server/internal/web"
	"github.com/realtime-circles/realtime-circles/server/internal/wsdemo"
)

// run starts the server and blocks until ctx is cancelled, then drains.
// Tests call it directly to start the real server.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	cfg, err := config.Parse(args[1:], getenv, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return nil // -h printed the usage
	}
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stdout, &slog.HandlerOptions{Level: cfg.LogLevel}))

	views, public, onDisk, err := pageFiles(cfg.Dir)
	if err != nil {
		return err
	}
	if err := startPprof(ctx, cfg.PprofAddr, log); err != nil {
		return err
	}
	m := metrics.New(realtime.ReceivedEvents(), realtime.SentEvents())
	rtOpts := realtime.Options{Logger: log, Metrics: m, PingInterval: cfg.PingInterval, PingTimeout: cfg.PingTimeout, ConnectTimeout: cfg.ConnectTimeout, Limits: cfg.Limits, RecoveryWindow: cfg.RecoveryWindow, PresenceGrace: cfg.PresenceGrace, CursorMode: cfg.CursorMode}
	member, err := joinCluster(cfg, log, m, &rtOpts)
	if err != nil {
		return err
	}
	rt := realtime.New(rtOpts)
	member.start(rt)
	defer member.close(log)
	demo := wsdemo.New(log, wsdemo.Options{Rate: cfg.WSRate, QueueLen: cfg.WSQueue, PingInterval: cfg.WSPingInterval, MaxPerIP: cfg.MaxConnsPerIP, TrustProxy: cfg.TrustProxy})
	defer demo.Close()
	handler, err := web.NewHandler(web.Config{
		Logger:      log,
		Views:       views,
		Public:      public,
		ReloadViews: onDisk,
		SocketIO:    rt.Handler(),
		Health:      member.health,
		Metrics:     m.Handler(),
		WSDemo:      demo,

		MetricsToken: cfg.MetricsToken,
		BoardOpen:    rt.CanOpenBoard,
	})
	if err != nil {
		return fmt.Errorf("building routes: %w", err)
	}

	nofile, err := raiseFileLimit()
	if err != nil {
		return err
	}
	maxConns := cfg.MaxConns
	if maxConns == 0 {
		maxConns = maxConnsFor(nofile)
	}
	if err := serveMetrics(ctx, cfg.MetricsAddr, m.Handler(), cfg.HTTPIdleTimeout, log); err != nil {
		return err
	}
	raw, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", cfg.Addr, err)
	}
	ln := &capListener{Listener: raw, max: int64(maxConns), log: log}
	srv := newHTTPServer(bodyDeadline(handler, cfg.HTTPBodyTimeout), cfg.HTTPIdleTimeout, log)
	log.Info("listening", "addr", ln.Addr().String(), "page_files", map[bool]string{true: "disk", false: "embedded"}[onDisk],
		"max_conns", maxConns, "nofile", nofile)

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	select {
	case err := <-serveErr:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}

	log.Info("shutting down", "grace", cfg.ShutdownGrace, "drain_delay", cfg.DrainDelay)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.DrainDelay+cfg.ShutdownGrace)
	defer cancel()
	member.drain(shutdownCtx, log)
	// /healthz now answers 503; keep serving while a balancer notices.
	time.Sleep(cfg.DrainDelay)
	// Socket.IO first: it tells clients to go (so they reconnect elsewhere)
	// and releases the long-polling requests Shutdown would wait for.
	if err := rt.Close(); err != nil {
		log.Error("closing socket.io", "err", err)
	}
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutting down http: %w", err)
	}
	log.Info("stopped")
	return nil
}

// pageFiles finds views/ and public/: in dir if given, else in the working
// directory if it has them (a checkout, a Heroku slug), else the copy
// embedded at build time.
func pageFiles(dir string) (views, public fs.FS, onDisk bool, err error) {
	candidate := dir
	if candidate == "" {
		candidate = "."
	}
	if isDir(filepath.Join(candidate, "views")) && isDir(filepath.Join(candidate, "public")) {
		return os.DirFS(filepath.Join(candidate, "views")), os.DirFS(filepath.Join(candidate, "public")), true, nil
	}
	if dir != "" {
		return nil, nil, false, fmt.Errorf("-dir %s: no views/ and public/ there", dir)
	}
	views, _ = fs.Sub(realtimecircles.Files, "views")
	public, _ = fs.Sub(realtimecircles.Files, "public")
	return views, public, false, nil
}

func isDir(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.IsDir()
}
