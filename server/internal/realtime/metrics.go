package realtime

import (
	"bytes"
	"io"

	"github.com/zishang520/socket.io/parsers/engine/v3/packet"
	"github.com/zishang520/socket.io/servers/engine/v3"
	"github.com/zishang520/socket.io/servers/socket/v3"
)

// instrument counts clients and events for /metrics. Outgoing events are
// counted per delivery at the Engine.IO socket, because broadcasts (local
// or from other nodes through the adapter) never pass a socket's Emit.
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
	_ = s.io.Engine().On("connection", func(args ...any) {
		conn, ok := args[0].(engine.Socket)
		if !ok {
			return
		}
		_ = conn.On("packetCreate", func(args ...any) {
			p, ok := first(args).(*packet.Packet)
			if !ok || p.Type != packet.MESSAGE {
				return
			}
			// Neither way of reading consumes the packet: a buffer's
			// Bytes, or a reader's ReadAt (broadcasts: recovery.go).
			var head []byte
			switch d := p.Data.(type) {
			case interface{ Bytes() []byte }:
				head = d.Bytes()
			case io.ReaderAt:
				var buf [64]byte // long names count as "other"
				n, _ := d.ReadAt(buf[:], 0)
				head = buf[:n]
			}
			if name := eventName(head); name != nil {
				m.EventOut(name)
			}
		})
	})
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
