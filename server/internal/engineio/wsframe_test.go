package engineio

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// clientFrame is a masked client frame (RFC 6455 5.3).
func clientFrame(fin bool, op byte, payload string) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	mask := [4]byte{1, 2, 3, 4}
	var b []byte
	switch n := len(payload); {
	case n < 126:
		b = append(b, b0, 0x80|byte(n))
	case n <= 0xFFFF:
		b = append(b, b0, 0x80|126, byte(n>>8), byte(n))
	default:
		b = append(b, b0, 0x80|127, 0, 0, 0, 0, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	b = append(b, mask[:]...)
	for i := range len(payload) {
		b = append(b, payload[i]^mask[i&3])
	}
	return b
}

func TestFrameReader(t *testing.T) {
	long := string(bytes.Repeat([]byte("x"), 70000))
	type want struct {
		op   byte
		data string
	}
	for _, tc := range []struct {
		name   string
		stream [][]byte
		max    int64
		want   []want
		code   int // the close code of the error after want; 0: io.EOF
	}{
		{"text", [][]byte{clientFrame(true, opText, "4hello")}, 100, []want{{opText, "4hello"}}, 0},
		{"16-bit length", [][]byte{clientFrame(true, opBinary, long[:300])}, 1000, []want{{opBinary, long[:300]}}, 0},
		{"64-bit length", [][]byte{clientFrame(true, opText, long)}, 100000, []want{{opText, long}}, 0},
		{"fragments with a ping between", [][]byte{
			clientFrame(false, opText, "4he"), clientFrame(true, opPing, "p"), clientFrame(false, 0, "ll"), clientFrame(true, 0, "o"),
		}, 100, []want{{opPing, "p"}, {opText, "4hello"}}, 0},
		{"close", [][]byte{clientFrame(true, opClose, "\x03\xe8bye")}, 100, []want{{opClose, "\x03\xe8bye"}}, 0},
		{"over the limit", [][]byte{clientFrame(true, opText, "4"+long[:100])}, 100, nil, closeTooBig},
		{"fragments over the limit", [][]byte{clientFrame(false, opText, long[:60]), clientFrame(true, 0, long[:60])}, 100, nil, closeTooBig},
		{"not UTF-8", [][]byte{clientFrame(true, opText, "4\xff")}, 100, nil, closeInvalidData},
		{"unmasked", [][]byte{{0x81, 0x01, '4'}}, 100, nil, closeProtocolError},
		{"reserved bits", [][]byte{{0xC1, 0x80, 0, 0, 0, 0}}, 100, nil, closeProtocolError},
		{"unknown opcode", [][]byte{clientFrame(true, 3, "")}, 100, nil, closeProtocolError},
		{"fragmented control", [][]byte{clientFrame(false, opPing, "")}, 100, nil, closeProtocolError},
		{"continuation first", [][]byte{clientFrame(true, 0, "x")}, 100, nil, closeProtocolError},
		{"new message mid-fragment", [][]byte{clientFrame(false, opText, "4a"), clientFrame(true, opText, "4b")}, 100, nil, closeProtocolError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fr := frameReader{src: bytes.NewReader(bytes.Join(tc.stream, nil)), max: tc.max}
			for _, w := range tc.want {
				op, data, err := fr.next()
				if err != nil || op != w.op || string(data) != w.data {
					t.Fatalf("next: op %d, %d bytes, %v; want op %d, %d bytes", op, len(data), err, w.op, len(w.data))
				}
			}
			_, _, err := fr.next()
			var we *wsError
			switch {
			case tc.code == 0 && !errors.Is(err, io.EOF):
				t.Fatalf("after the frames: %v, want EOF", err)
			case tc.code != 0 && (!errors.As(err, &we) || we.code != tc.code):
				t.Fatalf("error %v, want close code %d", err, tc.code)
			}
		})
	}
}

// Bytes read one at a time (a slow network) make the same frames.
func TestFrameReaderTrickle(t *testing.T) {
	stream := bytes.Join([][]byte{clientFrame(false, opText, "4ab"), clientFrame(true, 0, "c"), clientFrame(true, opBinary, "\x01\x02")}, nil)
	fr := frameReader{src: &oneByte{stream}, max: 100}
	if op, data, err := fr.next(); err != nil || op != opText || string(data) != "4abc" {
		t.Fatalf("first: %d %q %v", op, data, err)
	}
	if op, data, err := fr.next(); err != nil || op != opBinary || string(data) != "\x01\x02" {
		t.Fatalf("second: %d %q %v", op, data, err)
	}
}

type oneByte struct{ b []byte }

func (r *oneByte) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	p[0] = r.b[0]
	r.b = r.b[1:]
	return 1, nil
}

// A client that sends its first frame right behind its handshake, in the
// same write, has it read (the bytes the HTTP server had buffered).
func TestEarlyFrame(t *testing.T) {
	srv := New(Options{})
	_ = srv.On("connection", func(args ...any) {
		sock := args[0].(*Socket)
		_ = sock.On("data", func(a ...any) { sock.Write(strings.NewReader(a[0].(string)), nil, nil) })
	})
	ts := httptest.NewServer(srv)
	defer ts.Close()
	conn, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	req := "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
	if _, err := conn.Write(append([]byte(req), clientFrame(true, opText, "4early")...)); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Sec-WebSocket-Accept") != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("handshake: %v %v", resp, err)
	}
	var frames []string
	for len(frames) < 2 {
		var hdr [2]byte
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			t.Fatal(err)
		}
		n := int(hdr[1] & 0x7f)
		if n == 126 {
			var ext [2]byte
			_, _ = io.ReadFull(br, ext[:])
			n = int(ext[0])<<8 | int(ext[1])
		}
		data := make([]byte, n)
		if _, err := io.ReadFull(br, data); err != nil {
			t.Fatal(err)
		}
		frames = append(frames, string(data))
	}
	if !strings.HasPrefix(frames[0], "0{") || frames[1] != "4early" {
		t.Fatalf("frames %q, want the open packet then the echo of 4early", frames)
	}
}
