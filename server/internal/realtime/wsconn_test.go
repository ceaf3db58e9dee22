package realtime

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

// corkedPipe is a corked wsConn whose peer is the other end of a pipe.
func corkedPipe(t *testing.T) (*wsConn, net.Conn) {
	t.Helper()
	ours, peer := net.Pipe()
	t.Cleanup(func() { ours.Close(); peer.Close() })
	open := make(chan struct{})
	close(open)
	c := &wsConn{Conn: ours, gate: open, pool: newBufPool(), corked: true}
	return c, peer
}

// Data frames wait for Flush and leave in one write; a control frame
// takes everything pending with it at once.
func TestWSConnGathers(t *testing.T) {
	c, peer := corkedPipe(t)
	text := func(s string) []byte { return append([]byte{0x81, byte(len(s))}, s...) }
	for _, f := range [][]byte{text("a"), text("bc")} {
		if _, err := c.Write(f); err != nil {
			t.Fatal(err)
		}
	}
	got := make(chan []byte, 2)
	go func() {
		for {
			buf := make([]byte, 64)
			n, err := peer.Read(buf)
			if err != nil {
				return
			}
			got <- buf[:n]
		}
	}()
	c.Flush()
	if b := <-got; !bytes.Equal(b, append(text("a"), text("bc")...)) {
		t.Fatalf("flushed %q: want both frames in one write", b)
	}
	ping := []byte{0x89, 0}
	if _, err := c.Write(text("d")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(ping); err != nil { // no Flush: the control frame writes
		t.Fatal(err)
	}
	if b := <-got; !bytes.Equal(b, append(text("d"), ping...)) {
		t.Fatalf("with a control frame %q: want the pending frame and the ping", b)
	}
}

// A peer that stopped reading holds a flush in write(2); Close still
// returns, and so does the flush, within about closeFlush.
func TestWSConnCloseUnblocksStalledFlush(t *testing.T) {
	c, _ := corkedPipe(t) // nobody reads the peer end
	if _, err := c.Write([]byte{0x81, 1, 'x'}); err != nil {
		t.Fatal(err)
	}
	flushed := make(chan struct{})
	go func() { c.Flush(); close(flushed) }()
	closed := make(chan error, 1)
	go func() { closed <- c.Close() }()
	for _, ch := range []<-chan struct{}{flushed, done(closed)} {
		select {
		case <-ch:
		case <-time.After(closeFlush + 5*time.Second):
			t.Fatal("Close waited on a write to a peer that never reads")
		}
	}
	if _, err := c.Write([]byte{0x81, 1, 'y'}); err == nil {
		t.Error("write after a failed flush succeeded")
	}
	_, err := io.ReadAll(c.Conn)
	if err == nil {
		t.Error("connection still open after Close")
	}
}

func done(ch <-chan error) <-chan struct{} {
	out := make(chan struct{})
	go func() { <-ch; close(out) }()
	return out
}
