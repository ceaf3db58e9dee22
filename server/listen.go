package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// HTTP limits, like Node's defaults or stricter (docs/limits.md).
const (
	// headerTimeout bounds reading a request's headers (Node: 60 s).
	headerTimeout = 10 * time.Second
	// maxHeaderBytes makes net/http answer 431 above 16 KiB of headers, as
	// Node does: net/http allows MaxHeaderBytes plus 4096 bytes of slack.
	maxHeaderBytes = 16<<10 - 4096
	// fdReserve is kept free of client connections for files, Redis and
	// the listener itself when MAX_CONNS is derived.
	fdReserve = 64
)

// newHTTPServer is the app's http.Server with its timeouts and caps.
// idleTimeout closes a keep-alive connection with no request in flight
// (Node: keepAliveTimeout 5 s).
func newHTTPServer(h http.Handler, idleTimeout time.Duration, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: headerTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
}

// raiseFileLimit lifts the soft RLIMIT_NOFILE to the hard limit where
// allowed (Go's runtime does this too since 1.19; doing it here makes it
// explicit and logged) and returns the soft limit now in force.
func raiseFileLimit() (uint64, error) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, fmt.Errorf("reading RLIMIT_NOFILE: %w", err)
	}
	if rl.Cur < rl.Max {
		raised := rl
		raised.Cur = rl.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised); err == nil {
			rl = raised
		}
	}
	return rl.Cur, nil
}

// maxConnsFor derives MAX_CONNS from the descriptor limit.
func maxConnsFor(nofile uint64) int {
	return int(max(int64(nofile)-fdReserve, 16))
}

// capListener closes connections accepted beyond max at once, so a flood
// of connections from many addresses ends in refusals rather than in
// accept4: too many open files (Node: server.maxConnections).
type capListener struct {
	net.Listener
	max     int64
	open    atomic.Int64
	refused atomic.Int64
	log     *slog.Logger
}

func (l *capListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.open.Add(1) > l.max {
			l.open.Add(-1)
			_ = c.Close()
			if n := l.refused.Add(1); n == 1 || n%1000 == 0 {
				l.log.Warn("connection refused: node at MAX_CONNS", "max", l.max, "refused", n)
			}
			continue
		}
		return &countedConn{Conn: c, l: l}, nil
	}
}

type countedConn struct {
	net.Conn
	l    *capListener
	once sync.Once
}

var _ syscall.Conn = (*countedConn)(nil)

// SyscallConn keeps the socket's descriptor reachable through the
// wrapper: the engine writes a backlog with writev on it.
func (c *countedConn) SyscallConn() (syscall.RawConn, error) {
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return nil, errors.New("not a socket")
	}
	return sc.SyscallConn()
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.l.open.Add(-1) })
	return c.Conn.Close()
}

// bodyDeadline gives a request with a body bodyTimeout to send it, so a
// client trickling a polling POST a byte at a time does not hold a
// connection (and a goroutine) for ever. Requests without a body (long
// polls, WebSocket upgrades) are left alone: a read deadline there would
// end a long poll.
// (Node: requestTimeout, 300 s for the whole request.)
func bodyDeadline(next http.Handler, bodyTimeout time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength != 0 && r.Body != http.NoBody {
			_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(bodyTimeout))
		}
		next.ServeHTTP(w, r)
	})
}

// serveMetrics serves /metrics alone, without a token, on addr (when
// set) until ctx ends: for a scraper on a private network or loopback.
func serveMetrics(ctx context.Context, addr string, h http.Handler, idle time.Duration, log *slog.Logger) error {
	if addr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics listener on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	srv := newHTTPServer(mux, idle, log)
	go func() { _ = srv.Serve(ln) }()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	log.Info("metrics listening", "addr", ln.Addr().String())
	return nil
}
