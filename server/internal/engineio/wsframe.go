package engineio

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
)

// The WebSocket wire (RFC 6455) is ours too: the handshake, and reading
// a client's frames with a small buffer of the connection's own. A
// reader blocked in Read is then a shallow stack (its goroutine's stack
// shrinks to the minimum while idle), and an idle connection holds no
// library connection object or read buffer beyond these bytes.

// Close codes (RFC 6455 7.4.1).
const (
	closeNormal          = 1000
	closeProtocolError   = 1002
	closePolicyViolation = 1008
	closeInvalidData     = 1007
	closeTooBig          = 1009
)

// errUpgrade reports a request that is not a valid WebSocket upgrade.
var errUpgrade = errors.New("not a WebSocket upgrade")

// isUpgrade reports a WebSocket upgrade request (RFC 6455 4.2.1).
func isUpgrade(r *http.Request) bool {
	return headerHas(r.Header, "Connection", "upgrade") && headerHas(r.Header, "Upgrade", "websocket")
}

func headerHas(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// acceptKey is Sec-WebSocket-Accept for a Sec-WebSocket-Key.
func acceptKey(key string) string {
	h := sha1.New()
	h.Write([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// upgradeConn answers a WebSocket handshake and hands back the raw
// connection and any bytes the client sent after its request.
func upgradeConn(w http.ResponseWriter, r *http.Request) (net.Conn, []byte, error) {
	key := r.Header.Get("Sec-WebSocket-Key")

	if r.Method != http.MethodGet || key == "" || r.Header.Get("Sec-WebSocket-Version") != "13" {
		w.Header().Set("Sec-WebSocket-Version", "13")
		writeError(w, errBadRequest, "bad WebSocket handshake")
		return nil, nil, errUpgrade
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		writeError(w, errBadRequest, "connection cannot be upgraded")
		return nil, nil, errUpgrade
	}
	conn, brw, err := hj.Hijack()
	if err != nil {
		return nil, nil, fmt.Errorf("hijack: %w", err)
	}
	// Deadlines the HTTP server set for the request must not cut the
	// WebSocket: heartbeats and the writer's deadline bound it from now.
	_ = conn.SetDeadline(time.Time{})
	var early []byte
	if n := brw.Reader.Buffered(); n > 0 {
		early, _ = brw.Reader.Peek(n)
		early = append([]byte(nil), early...)
	}
	resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
		acceptKey(key) + "\r\n\r\n"
	if _, err := io.WriteString(conn, resp); err != nil {
		_ = conn.Close()
		return nil, nil, fmt.Errorf("writing the handshake: %w", err)
	}
	return conn, early, nil
}

// frameReader reads a client's frames: masked, possibly fragmented, with
// control frames between fragments.
type frameReader struct {
	src  io.Reader // the connection (after any bytes that came early)
	max  int64     // message size limit
	buf  [256]byte
	r, w int
	msg  []byte // fragments so far
	op   byte   // the fragmented message's opcode; 0: none in progress
}

// wsError is a protocol violation, closed with code.
type wsError struct {
	code   int
	reason string
}

func (e *wsError) Error() string { return fmt.Sprintf("websocket %d: %s", e.code, e.reason) }

// fill reads at least n buffered bytes (n ≤ len(buf)).
func (f *frameReader) fill(n int) error {
	if f.w-f.r >= n {
		return nil
	}
	if f.r > 0 {
		f.w = copy(f.buf[:], f.buf[f.r:f.w])
		f.r = 0
	}
	for f.w < n {
		m, err := f.src.Read(f.buf[f.w:])
		f.w += m
		if err != nil && f.w < n {
			return err
		}
	}
	return nil
}

// empty reports whether nothing is buffered: the next read waits for the
// peer.
func (f *frameReader) empty() bool { return f.r == f.w }

// next returns the next message (opText or opBinary) or control frame
// (opPing, opPong, opClose) with its payload.
func (f *frameReader) next() (byte, []byte, error) {
	for {
		if err := f.fill(2); err != nil {
			return 0, nil, err
		}
		b0, b1 := f.buf[f.r], f.buf[f.r+1]
		fin, op, masked := b0&0x80 != 0, b0&0x0f, b1&0x80 != 0
		hdr, n := 2, int64(b1&0x7f)
		switch {
		case b0&0x70 != 0:
			return 0, nil, &wsError{closeProtocolError, "reserved bits set"}
		case !masked:
			return 0, nil, &wsError{closeProtocolError, "unmasked client frame"}
		case n == 126:
			hdr += 2
		case n == 127:
			hdr += 8
		}
		if err := f.fill(hdr + 4); err != nil {
			return 0, nil, err
		}
		switch hdr {
		case 4:
			n = int64(binary.BigEndian.Uint16(f.buf[f.r+2:]))
		case 10:
			n = int64(binary.BigEndian.Uint64(f.buf[f.r+2:]))
		}
		var mask [4]byte
		copy(mask[:], f.buf[f.r+hdr:])
		f.r += hdr + 4

		control := op >= opClose
		switch {
		case control && (!fin || n > 125):
			return 0, nil, &wsError{closeProtocolError, "bad control frame"}
		case control && op > opPong, !control && op > opBinary:
			return 0, nil, &wsError{closeProtocolError, fmt.Sprintf("opcode %d", op)}
		case op == 0 && f.op == 0:
			return 0, nil, &wsError{closeProtocolError, "continuation without a message"}
		case (op == opText || op == opBinary) && f.op != 0:
			return 0, nil, &wsError{closeProtocolError, "new message inside a fragmented one"}
		case n < 0 || !control && int64(len(f.msg))+n > f.max:
			return 0, nil, &wsError{closeTooBig, fmt.Sprintf("message over %d bytes", f.max)}
		}

		payload := make([]byte, n)
		got := copy(payload, f.buf[f.r:f.w])
		f.r += got
		if got < len(payload) {
			if _, err := io.ReadFull(f.src, payload[got:]); err != nil {
				return 0, nil, err
			}
		}
		for i := range payload {
			payload[i] ^= mask[i&3]
		}
		if control {
			return op, payload, nil
		}
		if op != 0 {
			f.op = op
		}
		if !fin {
			f.msg = append(f.msg, payload...)
			continue
		}
		if f.msg != nil {
			payload = append(f.msg, payload...)
			f.msg = nil
		}
		op, f.op = f.op, 0
		if op == opText && !utf8.Valid(payload) {
			return 0, nil, &wsError{closeInvalidData, "text frame is not UTF-8"}
		}
		return op, payload, nil
	}
}
