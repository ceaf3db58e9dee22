package realtime

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/zishang520/socket.io/servers/socket/v3"

	"github.com/realtime-circles/realtime-circles/server/internal/sioclient"
)

// A client is in its board's rooms by the time its CONNECT reply is
// written. The library writes that reply before it runs the "connection"
// handlers, on the socket's own goroutine: had the board been joined in
// a handler, a circle drawn in between would miss a client that counts
// as connected (Node runs the reply and the handlers in one tick).
func TestOnBoardWhenConnected(t *testing.T) {
	s := testServer(t)
	// "connect" fires after the reply is written and before "connection".
	rooms := make(chan []socket.Room, 1)
	s.io.Of("/", nil).On("connect", func(args ...any) {
		rooms <- args[0].(*socket.Socket).Rooms().Keys()
	})
	url := serve(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	for _, batch := range []bool{false, true} {
		c, err := sioclient.Dial(ctx, url, sioclient.Options{Auth: map[string]any{"board": "hall", "batch": batch}})
		if err != nil {
			t.Fatal(err)
		}
		got := <-rooms
		c.Close()
		mode := eachRoom("hall")
		if batch {
			mode = batchRoom("hall")
		}
		for _, want := range []socket.Room{room("hall"), mode} {
			if !slices.Contains(got, want) {
				t.Errorf("batch %v: rooms at CONNECT %v, want %s among them", batch, got, want)
			}
		}
	}
}
