package realtime

import (
	"context"
	"testing"
	"time"

	"github.com/zishang520/socket.io/servers/socket/v3"

	"github.com/realtime-circles/realtime-circles/server/internal/sioclient"
)

// A broadcast reaches exactly a room's members as they join and leave,
// though each room's list is kept between broadcasts (members.go).
func TestBroadcastFollowsJoinsAndLeaves(t *testing.T) {
	s := testServer(t)
	connected := make(chan *socket.Socket, 1)
	s.io.Use(func(so *socket.Socket, next func(*socket.ExtendedError)) {
		connected <- so
		next(nil)
	})
	url := serve(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dial := func() (*sioclient.Client, *socket.Socket) {
		c, err := sioclient.Dial(ctx, url, sioclient.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		return c, <-connected
	}
	expect := func(who string, c *sioclient.Client, want ...int) {
		t.Helper()
		for _, w := range want {
			ev, err := c.Next(ctx, "n")
			if err != nil {
				t.Fatalf("%s: %v", who, err)
			}
			var got int
			if err := ev.Decode(0, &got); err != nil || got != w {
				t.Fatalf("%s got %d (%v), want %d", who, got, err, w)
			}
		}
	}
	emit := func(to string, n int) {
		t.Helper()
		if to == "" {
			s.io.Emit("n", n)
		} else if err := s.io.To(socket.Room(to)).Emit("n", n); err != nil {
			t.Fatal(err)
		}
	}

	a, sa := dial()
	sa.Join("r")
	emit("r", 1) // keeps r's list: {a}
	expect("a", a, 1)

	b, sb := dial()
	sb.Join("r")
	emit("r", 2)
	expect("a", a, 2)
	expect("b", b, 2)

	sa.Leave("r")
	emit("r", 3)
	emit("", 4)       // keeps everyone's list: {a, b}
	expect("a", a, 4) // in order: 3 never came
	expect("b", b, 3, 4)

	c, _ := dial()
	emit("", 5)
	expect("a", a, 5)
	expect("b", b, 5)
	expect("c", c, 5)

	b.Close() // everyone's list held b: the others still get what follows
	emit("r", 6)
	emit("", 7)
	expect("a", a, 7)
	expect("c", c, 7)
}
