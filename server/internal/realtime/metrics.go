package realtime

import (
	"bytes"

	"github.com/zishang520/socket.io/servers/socket/v3"

	"github.com/realtime-circles/realtime-circles/server/internal/metrics"
)

// instrument counts clients and incoming events for /metrics. Outgoing
// events are counted per delivery where they are written: broadcasts in
// our adapter (recovery.go), the rest by the engine's OnWrite (countOut).
func (s *Server) instrument() {
	m := s.opts.Metrics
	if m == nil {
		return
	}
	s.io.On("connection", func(args ...any) {
		so := args[0].(*socket.Socket)
		m.Connected()
		so.OnAny(func(args ...any) {
			if name, ok := first(args).(string); ok {
				m.EventIn(name)
			}
		})
		_ = so.On("disconnect", onlyOnce(func(...any) { m.Disconnected() }))
	})
}

// countOut counts n deliveries of an encoded Socket.IO packet if it is an
// event; it reads only the packet's first bytes.
func countOut(m *metrics.Metrics, text string, n int) {
	if m == nil || len(text) == 0 || text[0] != '2' {
		return
	}
	head := text[:min(len(text), 64)] // long names count as "other"
	if name := eventName([]byte(head)); name != nil {
		m.EventOutN(name, n)
	}
}

// eventName is the event name of an encoded Socket.IO EVENT packet,
// 2[/nsp,][ackid]["name",...], without copying: it runs once per
// delivered packet. It is nil for other packets and empty (counted as
// "other") for a name it does not read, such as one with escapes.
func eventName(p []byte) []byte {
	if len(p) == 0 || p[0] != '2' {
		return nil
	}
	unread := p[:0]
	i := bytes.IndexByte(p, '[')
	if i < 0 || i+1 >= len(p) || p[i+1] != '"' {
		return unread
	}
	name := p[i+2:]
	end := bytes.IndexByte(name, '"')
	if end < 0 || bytes.IndexByte(name[:end], '\\') >= 0 {
		return unread
	}
	return name[:end]
}

// ReceivedEvents are the event names the server handles from clients:
// metrics label incoming and rejected events by them.
func ReceivedEvents() []string {
	return append([]string{"register-player", "add-circle", "cursor", "spy", "mouse"}, ClearEvents...)
}

// SentEvents are the event names the server emits: metrics label
// deliveries by them.
func SentEvents() []string {
	return append([]string{"add-circle", "update-player-list", "error-message", "board", BatchEvent,
		"cursors", "cursor-leave", PlayerIDEvent, "spy", "mouse"}, ClearEvents...)
}
