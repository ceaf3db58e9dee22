package realtime

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/zishang520/socket.io/servers/engine/v3"
	"github.com/zishang520/socket.io/servers/socket/v3"
	"golang.org/x/time/rate"

	"github.com/realtime-circles/realtime-circles/server/internal/config"
	"github.com/realtime-circles/realtime-circles/server/internal/engineio"
)

// defaultLimits are used for zero fields of Options.Limits.
var defaultLimits = config.Limits{RateLimit: 20, RateBurst: 40, MaxConnsPerIP: 300, SendQueueMax: 4096, BatchTick: 33 * time.Millisecond}

// floodWindow is how long dropped events are remembered: a client that has
// more than floodKick(burst) events dropped within it is disconnected.
const floodWindow = 10 * time.Second

func floodKick(burst int) int { return max(100, 2*burst) }

func withDefaults(l config.Limits) config.Limits {
	d := defaultLimits
	if l.RateLimit == 0 && l.RateBurst == 0 {
		l.RateLimit = d.RateLimit // a zero Limits means "defaults"; config sets both
	}
	if l.RateBurst <= 0 {
		l.RateBurst = d.RateBurst
	}
	if l.SendQueueMax <= 0 {
		l.SendQueueMax = d.SendQueueMax
	}
	if l.BatchTick <= 0 {
		l.BatchTick = d.BatchTick
	}
	if l.ReplayBoardBytes <= 0 {
		l.ReplayBoardBytes = config.DefaultReplayBoardBytes
	}
	if l.ReplayBytes < l.ReplayBoardBytes {
		l.ReplayBytes = max(config.DefaultReplayBytes, l.ReplayBoardBytes)
	}
	if l.MaxBoards <= 0 {
		l.MaxBoards = config.DefaultMaxBoards
	}
	if l.MaxCircles <= 0 {
		l.MaxCircles = config.DefaultMaxCircles
	}
	if l.BoardIdleTTL <= 0 {
		l.BoardIdleTTL = config.DefaultBoardIdleTTL
	}
	return l
}

// Buckets. Every event a socket sends takes a token from exactly one of
// its buckets, valid or not, so neither invalid payloads nor made-up event
// names nor the six clear aliases multiply a socket's budget:
//   - "clear": all of ClearEvents (one click of CLEAR is one clear);
//   - "register-player": its own modest limit, since each one makes the
//     whole board receive a player list;
//   - "cursor", "spy", "mouse": pointer events, pointerRateFactor larger;
//   - "": add-circle and every other name.
func bucketOf(event string) string {
	switch {
	case clearEvents[event]:
		return "clear"
	case event == "register-player" || pointerEvents[event]:
		return event
	}
	return ""
}

// registerRate and registerBurst bound register-player per socket: a page
// registers once per connection, a student retyping initials a few times.
const (
	registerRate  = 1
	registerBurst = 5
)

// kickCooldown is how long a kicked client's address and initials are
// remembered: a socket from that address with those initials starts with
// empty buckets, one step from being kicked again, so reconnecting does
// not buy a fresh budget. Classmates behind the same NAT (same address,
// other initials) keep theirs.
const kickCooldown = time.Minute

// maxKicked bounds the kicked-clients table (entries expire anyway).
const maxKicked = 10000

// kicked remembers kicked clients by address and initials.
type kicked struct {
	mu    sync.Mutex
	until map[string]time.Time
}

func kickKey(ip, initials string) string { return ip + "\x00" + initials }

func (k *kicked) add(key string, now time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.until) >= maxKicked {
		for key, t := range k.until {
			if now.After(t) {
				delete(k.until, key)
			}
		}
		if len(k.until) >= maxKicked {
			return
		}
	}
	k.until[key] = now.Add(kickCooldown)
}

func (k *kicked) has(key string, now time.Time) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	t, ok := k.until[key]
	if ok && now.After(t) {
		delete(k.until, key)
		return false
	}
	return ok
}

// limitEvents is a socket middleware: token buckets per socket on incoming
// events (bucketOf). Over the limit, events are dropped and the sender is
// told (an ack error, or one error-message per flood); a sender that keeps
// flooding is disconnected, and its address and initials are remembered
// for kickCooldown.
//
// A 5000-event burst of add-circle gets RATE_BURST events through (40 by
// default) plus RATE_LIMIT per second while it lasts; after
// floodKick(burst) drops within floodWindow the socket is disconnected.
func (s *Server) limitEvents(so *socket.Socket, me *player) socket.SocketMiddleware {
	if s.limits.RateLimit <= 0 {
		return func(_ []any, next func(error)) { next(nil) }
	}
	kick := floodKick(s.limits.RateBurst)
	var req *http.Request
	if hc := so.Request(); hc != nil {
		req = hc.Request()
	}
	ip := s.perIP.clientIP(req, so.Conn().RemoteAddress())
	var mu sync.Mutex
	buckets := map[string]*rate.Limiter{}
	var dropped int
	var since time.Time
	var checkedKey string
	penalised := false
	newBucket := func(key string) *rate.Limiter {
		switch {
		case key == "register-player":
			return rate.NewLimiter(registerRate, registerBurst)
		case pointerEvents[key]:
			return rate.NewLimiter(rate.Limit(s.limits.RateLimit*pointerRateFactor), int(float64(s.limits.RateBurst)*pointerRateFactor))
		}
		return rate.NewLimiter(rate.Limit(s.limits.RateLimit), s.limits.RateBurst)
	}
	return func(ev []any, next func(error)) {
		name, _ := first(ev).(string)
		key := bucketOf(name)
		now := time.Now()
		mu.Lock()
		// A kicked client back within the cool-down (same address, same
		// initials) gets empty buckets and is one step from the next kick.
		if k := kickKey(ip, me.initials); k != checkedKey {
			checkedKey = k
			switch {
			case s.kicked.has(k, now):
				penalised = true
				for _, b := range []string{"", "clear", "cursor", "spy", "mouse"} {
					lim := newBucket(b)
					lim.AllowN(now, lim.Burst())
					buckets[b] = lim
				}
				dropped, since = kick-1, now
			case penalised:
				// An unregistered socket from a kicked unregistered
				// client's address registered as someone else.
				penalised = false
				clear(buckets)
				dropped = 0
			}
		}
		lim := buckets[key]
		if lim == nil {
			lim = newBucket(key)
			buckets[key] = lim
		}
		if lim.AllowN(now, 1) {
			mu.Unlock()
			next(nil)
			return
		}
		if now.Sub(since) > floodWindow {
			dropped, since = 0, now
		}
		dropped++
		n := dropped
		initials := me.initials
		mu.Unlock()
		limit := s.limits.RateLimit
		if key == "register-player" {
			limit = registerRate
		}
		msg := fmt.Sprintf("too many %s events: at most %g per second, please slow down", name, limit)
		if _, ack := splitAck(ev[min(1, len(ev)):]); ack != nil {
			ack([]any{map[string]any{"ok": false, "error": msg}}, nil)
		} else if n == 1 {
			_ = so.Emit("error-message", map[string]any{"event": name, "error": msg})
		}
		if n == 1 {
			me.warn(s.log, "rate limited", "socket", so.Id(), "event", name)
		}
		if n == kick {
			s.kicked.add(kickKey(ip, initials), now)
			s.log.Warn("disconnecting flooding client", "socket", so.Id(), "remote", ip, "initials", initials, "dropped", n)
			_ = so.Emit("error-message", map[string]any{"event": name, "error": "disconnected: too many events"})
			// Queued behind the handlers of the events let through, which
			// the library runs from the same per-socket queue (socket/v3
			// socket.go dispatch), so those still reach the others.
			so.Enqueue(func() { so.Disconnect(true) })
		}
	}
}

// pointerEvents carry pointer positions: the page sends up to ~30 a second
// while the mouse moves, so their buckets are pointerRateFactor times larger.
var pointerEvents = map[string]bool{"cursor": true, "spy": true, "mouse": true}

const pointerRateFactor = 3

var clearEvents = func() map[string]bool {
	m := map[string]bool{}
	for _, n := range ClearEvents {
		m[n] = true
	}
	return m
}()

// Warnings are sampled per socket: the first warnEvery in a minute are
// logged, then only counted, and the count is logged when the minute is
// over (or the socket goes). A hundred sockets sending invalid payloads
// within the rate limit make a few lines a minute each, not megabytes.
const (
	warnEvery  = 5
	warnWindow = time.Minute
)

type warnSampler struct {
	mu         sync.Mutex
	start      time.Time
	n          int
	suppressed int
}

// warn logs msg at WARN unless this socket has used its share this minute.
func (me *player) warn(log *slog.Logger, msg string, args ...any) { me.warns.warn(log, msg, args...) }

// warn logs msg at WARN unless w's share this minute is used.
func (w *warnSampler) warn(log *slog.Logger, msg string, args ...any) {
	now := time.Now()
	w.mu.Lock()
	var flushed int
	if now.Sub(w.start) > warnWindow {
		flushed = w.suppressed
		w.start, w.n, w.suppressed = now, 0, 0
	}
	w.n++
	logIt := w.n <= warnEvery
	if !logIt {
		w.suppressed++
	}
	w.mu.Unlock()
	if flushed > 0 {
		log.Warn("warnings suppressed", append([]any{"count", flushed, "window", warnWindow}, args[:min(2, len(args))]...)...)
	}
	if logIt {
		log.Warn(msg, args...)
	}
}

// flushWarnings logs the count of a socket's suppressed warnings.
func (me *player) flushWarnings(log *slog.Logger, id socket.SocketId) {
	w := &me.warns
	w.mu.Lock()
	n := w.suppressed
	w.suppressed = 0
	w.mu.Unlock()
	if n > 0 {
		log.Warn("warnings suppressed", "count", n, "socket", id)
	}
}

// perIP counts open Engine.IO sessions per client address.
type perIP struct {
	max        int
	trustProxy bool
	mu         sync.Mutex
	count      map[string]int
}

var errTooManyConns = errors.New("too many connections from your address")

func ipOf(remote string) string {
	if host, _, err := net.SplitHostPort(remote); err == nil {
		return host
	}
	return remote
}

// clientIP is the address a per-address limit counts. Behind a proxy
// (Heroku's router, nginx) every connection comes from the proxy, so with
// TrustProxy the address is the last X-Forwarded-For entry: the one the
// proxy itself appended, which a client cannot forge.
func (p *perIP) clientIP(r *http.Request, peer string) string {
	if p.trustProxy && r != nil {
		if hops := r.Header.Values("X-Forwarded-For"); len(hops) > 0 {
			list := strings.Split(hops[len(hops)-1], ",")
			if last := strings.TrimSpace(list[len(list)-1]); last != "" {
				return last
			}
		}
	}
	return ipOf(peer)
}

// allow is the engine's AllowRequest: it refuses a handshake early when
// the address is already at the limit.
func (p *perIP) allow(r *http.Request) error {
	if p.max <= 0 {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.count[p.clientIP(r, r.RemoteAddr)] >= p.max {
		return errTooManyConns
	}
	return nil
}

// open counts a new session and reports whether it is within the limit
// (concurrent handshakes can all pass allow; this is the exact check).
func (p *perIP) open(ip string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.count[ip]++
	return p.max <= 0 || p.count[ip] <= p.max
}

func (p *perIP) close(ip string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.count[ip]--; p.count[ip] <= 0 {
		delete(p.count, ip)
	}
}

// guardSessions enforces the per-address limit exactly: concurrent
// handshakes can all pass allow, so each new session is counted here and
// the ones past the limit are closed. (Slow consumers are the engine's:
// engineio.Options.MaxQueue.)
func (s *Server) guardSessions(eio *engineio.Server) {
	_ = eio.On("connection", func(args ...any) {
		conn, ok := args[0].(engine.Socket)
		if !ok {
			return
		}
		var req *http.Request
		if hc := conn.Request(); hc != nil {
			req = hc.Request()
		}
		ip := s.perIP.clientIP(req, conn.RemoteAddress())
		within := s.perIP.open(ip)
		_ = conn.Once("close", func(...any) { s.perIP.close(ip) })
		if !within {
			s.log.Warn("too many connections", "remote", ip, "max", s.perIP.max)
			conn.Close(true)
		}
	})
}
