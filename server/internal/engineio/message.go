package engineio

import (
	"encoding/binary"
	"sync"
)

// Message is one Engine.IO message encoded once for many recipients: a
// broadcast. Each WebSocket recipient writes the same frame bytes; a
// polling recipient encodes it into its payload. Create it with
// NewMessage and hand it to every recipient's SendMessage.
type Message struct {
	text string // the message's data (a Socket.IO packet)

	once  sync.Once
	frame []byte // WebSocket text frame of '4'+text, built on first use
}

// NewMessage wraps a text message (a Socket.IO packet such as
// `42["add-circle",{…}]`) for SendMessage.
func NewMessage(text string) *Message { return &Message{text: text} }

// Text is the message's data.
func (m *Message) Text() string { return m.text }

// wsFrame is the WebSocket frame carrying the message, shared: callers
// must not modify it.
func (m *Message) wsFrame() []byte {
	m.once.Do(func() {
		m.frame = appendFrame(make([]byte, 0, frameHeaderLen(len(m.text)+1)+len(m.text)+1), opText, typeMessage, m.text, nil)
	})
	return m.frame
}

// WebSocket opcodes (RFC 6455 5.2).
const (
	opText   = 1
	opBinary = 2
	opClose  = 8
	opPing   = 9
	opPong   = 10
)

func frameHeaderLen(n int) int {
	switch {
	case n < 126:
		return 2
	case n <= 0xFFFF:
		return 4
	default:
		return 10
	}
}

// appendFrame appends one unmasked, final server frame whose payload is
// prefix (if non-zero), then text, then bin.
func appendFrame(b []byte, op byte, prefix byte, text string, bin []byte) []byte {
	n := len(text) + len(bin)
	if prefix != 0 {
		n++
	}
	b = append(b, 0x80|op)
	switch {
	case n < 126:
		b = append(b, byte(n))
	case n <= 0xFFFF:
		b = append(b, 126, 0, 0)
		binary.BigEndian.PutUint16(b[len(b)-2:], uint16(n))
	default:
		b = append(b, 127, 0, 0, 0, 0, 0, 0, 0, 0)
		binary.BigEndian.PutUint64(b[len(b)-8:], uint64(n))
	}
	if prefix != 0 {
		b = append(b, prefix)
	}
	b = append(b, text...)
	return append(b, bin...)
}

// appendCloseFrame appends a close frame with a status code and reason.
func appendCloseFrame(b []byte, code int, reason string) []byte {
	var c [2]byte
	binary.BigEndian.PutUint16(c[:], uint16(code))
	if len(reason) > 123 {
		reason = reason[:123]
	}
	return appendFrame(b, opClose, 0, string(c[:])+reason, nil)
}
