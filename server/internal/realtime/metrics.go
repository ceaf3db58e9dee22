package realtime

import (
	"encoding/json"
	"fmt"
	"strings"

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
		_ = so.On("disconnect", func(...any) { m.Disconnected() })
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
			// The encoded packet is a buffer; String reads without consuming.
			if str, ok := p.Data.(fmt.Stringer); ok {
				if name := eventName(str.String()); name != "" {
					m.EventOut(name)
				}
			}
		})
	})
}

// eventName extracts the event name of an encoded Socket.IO EVENT packet:
// 2[/nsp,][ackid]["name",...].
func eventName(p string) string {
	if !strings.HasPrefix(p, "2") {
		return ""
	}
	i := strings.IndexByte(p, '[')
	if i < 0 {
		return ""
	}
	dec := json.NewDecoder(strings.NewReader(p[i:]))
	if _, err := dec.Token(); err != nil {
		return ""
	}
	tok, err := dec.Token()
	if err != nil {
		return ""
	}
	name, _ := tok.(string)
	return name
}

// KnownEvents are the event names metrics label by name.
func KnownEvents() []string {
	return append([]string{"register-player", "add-circle", "update-player-list", "error-message"}, ClearEvents...)
}
