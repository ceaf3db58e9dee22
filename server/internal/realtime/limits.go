package realtime

import (
	"errors"
	"fmt"
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
	return l
}

// limitEvents is a socket middleware: token buckets per socket on incoming
// events, one per event name the app handles (so the clear button never
// eats a click's budget; unknown names share one). Over the limit, events
// are dropped and the sender is told (an ack error, or one error-message
// per flood); a sender that keeps flooding is disconnected.
//
// A 5000-event burst of add-circle gets RATE_BURST events through (40 by
// default) plus RATE_LIMIT per second while it lasts; after
// floodKick(burst) drops within floodWindow the socket is disconnected.
func (s *Server) limitEvents(so *socket.Socket) socket.SocketMiddleware {
	if s.limits.RateLimit <= 0 {
		return func(_ []any, next func(error)) { next(nil) }
	}
	kick := floodKick(s.limits.RateBurst)
	var mu sync.Mutex
	buckets := map[string]*rate.Limiter{}
	var dropped int
	var since time.Time
	return func(ev []any, next func(error)) {
		name, _ := first(ev).(string)
		key := name
		if !handledEvents[key] {
			key = ""
		}
		mu.Lock()
		lim := buckets[key]
		if lim == nil {
			factor := 1.0
			if pointerEvents[key] {
				factor = pointerRateFactor
			}
			lim = rate.NewLimiter(rate.Limit(s.limits.RateLimit*factor), int(float64(s.limits.RateBurst)*factor))
			buckets[key] = lim
		}
		if lim.Allow() {
			mu.Unlock()
			next(nil)
			return
		}
		now := time.Now()
		if now.Sub(since) > floodWindow {
			dropped, since = 0, now
		}
		dropped++
		n := dropped
		mu.Unlock()
		msg := fmt.Sprintf("too many %s events: at most %g per second, please slow down", name, s.limits.RateLimit)
		if _, ack := splitAck(ev[min(1, len(ev)):]); ack != nil {
			ack([]any{map[string]any{"ok": false, "error": msg}}, nil)
		} else if n == 1 {
			_ = so.Emit("error-message", map[string]any{"event": name, "error": msg})
		}
		if n == 1 {
			s.log.Warn("rate limited", "socket", so.Id(), "event", name)
		}
		if n == kick {
			s.log.Warn("disconnecting flooding client", "socket", so.Id(), "dropped", n)
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

// handledEvents get a token bucket each; other names share one.
var handledEvents = func() map[string]bool {
	m := map[string]bool{"add-circle": true, "register-player": true, "cursor": true, "spy": true, "mouse": true}
	for _, n := range ClearEvents {
		m[n] = true
	}
	return m
}()

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
