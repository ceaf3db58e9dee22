package engineio_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// Over WebSocket each packet is one frame: text packets a text frame of
// the type digit and data; a binary message a binary frame, raw in v4 and
// prefixed with its type byte (4) in v3.
func TestWebSocketMessages(t *testing.T) {
	h := start(t, opts())
	eachVersion(t, func(t *testing.T, eio string) {
		c, _, _ := h.openWS(t, eio)
		writeText(t, c, "4héllo 😀")
		if got := h.nextData(t); got != "héllo 😀" {
			t.Fatalf("data %#v", got)
		}
		expectText(t, c, "4héllo 😀")

		frame := []byte{1, 2, 3}
		if eio == "3" {
			frame = []byte{4, 1, 2, 3}
		}
		if err := c.WriteMessage(websocket.BinaryMessage, frame); err != nil {
			t.Fatal(err)
		}
		if b, ok := h.nextData(t).(*types.BytesBuffer); !ok || !bytes.Equal(b.Bytes(), []byte{1, 2, 3}) {
			t.Fatal("binary data not bytes 1 2 3")
		}
		kind, got := read(t, c)
		if kind != websocket.BinaryMessage || !bytes.Equal(got, frame) {
			t.Fatalf("frame type %d %x, want binary %x", kind, got, frame)
		}
		// A text frame may carry base64 binary too ("b" in v4, "b4" in v3).
		b64 := map[string]string{"4": "b4AEC", "3": "b44AEC"}[eio]
		writeText(t, c, b64)
		if b, ok := h.nextData(t).(*types.BytesBuffer); !ok || !bytes.Equal(b.Bytes(), []byte{0xE0, 1, 2}) {
			t.Fatal("base64 data not bytes E0 01 02")
		}
		want := map[string][]byte{"4": {0xE0, 1, 2}, "3": {4, 0xE0, 1, 2}}[eio]
		if kind, got := read(t, c); kind != websocket.BinaryMessage || !bytes.Equal(got, want) {
			t.Fatalf("frame type %d %x, want binary %x", kind, got, want)
		}
		// An empty binary message is a message too.
		empty := []byte{}
		if eio == "3" {
			empty = []byte{4}
		}
		if err := c.WriteMessage(websocket.BinaryMessage, empty); err != nil {
			t.Fatal(err)
		}
		if b, ok := h.nextData(t).(*types.BytesBuffer); !ok || b.Len() != 0 {
			t.Fatal("empty binary data not empty bytes")
		}
		if kind, got := read(t, c); kind != websocket.BinaryMessage || !bytes.Equal(got, empty) {
			t.Fatalf("frame type %d %x, want binary %x", kind, got, empty)
		}
	})
}

// A frame over maxPayload closes the connection with 1009 (message too
// big) and the session; one of exactly maxPayload passes.
func TestWebSocketMaxPayload(t *testing.T) {
	o := opts()
	o.MaxPayload = 100
	h := start(t, o)
	eachVersion(t, func(t *testing.T, eio string) {
		c, _, sock := h.openWS(t, eio)
		at := "4" + strings.Repeat("x", 99)
		writeText(t, c, at)
		expectText(t, c, at)
		writeText(t, c, at+"x")
		if code := readClose(t, c); code != websocket.CloseMessageTooBig {
			t.Fatalf("close code %d, want %d", code, websocket.CloseMessageTooBig)
		}
		h.waitClose(t, sock.Id())
	})
}

// What is not an Engine.IO packet closes the connection with a close
// frame (a bare TCP close reads as 1006 in a browser) and the session
// with "parse error", as Node does.
func TestWebSocketInvalidPacket(t *testing.T) {
	h := start(t, opts())
	cases := []struct {
		eio   string
		name  string
		kind  int
		frame []byte
	}{
		{"4", "unknown type", websocket.TextMessage, []byte("9x")},
		{"4", "empty text", websocket.TextMessage, []byte("")},
		{"4", "bad base64", websocket.TextMessage, []byte("b!!notbase64")},
		{"3", "unknown type", websocket.TextMessage, []byte("x")},
		{"3", "binary without type", websocket.BinaryMessage, []byte{1, 2, 3}},
		{"3", "empty binary", websocket.BinaryMessage, []byte{}},
	}
	for _, tc := range cases {
		t.Run("v"+tc.eio+"/"+tc.name, func(t *testing.T) {
			c, _, sock := h.openWS(t, tc.eio)
			if err := c.WriteMessage(tc.kind, tc.frame); err != nil {
				t.Fatal(err)
			}
			if code := readClose(t, c); code == websocket.CloseAbnormalClosure {
				t.Fatal("closed without a close frame")
			}
			if reason := h.waitClose(t, sock.Id()); reason != "parse error" {
				t.Errorf("close reason %q, want parse error", reason)
			}
		})
	}
}

// Heartbeats go one way: a v4 client's ping, or a v3 client's pong, is a
// transport error (Node: invalid heartbeat direction), closed with a close
// frame.
func TestWebSocketHeartbeatDirection(t *testing.T) {
	h := start(t, opts())
	for eio, pkt := range map[string]string{"4": "2", "3": "3"} {
		t.Run("v"+eio, func(t *testing.T) {
			c, _, sock := h.openWS(t, eio)
			writeText(t, c, pkt)
			if code := readClose(t, c); code == websocket.CloseAbnormalClosure {
				t.Fatal("closed without a close frame")
			}
			if reason := h.waitClose(t, sock.Id()); reason != "transport error" {
				t.Errorf("close reason %q", reason)
			}
		})
	}
}
