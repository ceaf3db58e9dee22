package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/realtime-circles/realtime-circles/server/internal/board"
	"github.com/realtime-circles/realtime-circles/server/internal/sioclient"
)

func dial(t testing.TB, s *testServer, opts sioclient.Options) *sioclient.Client {
	t.Helper()
	c, err := sioclient.Dial(ctxT(t, 10*time.Second), s.URL, opts)
	if err != nil {
		t.Fatalf("dial %s: %v", opts.Transport, err)
	}
	t.Cleanup(c.Close)
	return c
}

func next(t testing.TB, c *sioclient.Client, event string) sioclient.Event {
	t.Helper()
	ev, err := c.Next(ctxT(t, 10*time.Second), event)
	if err != nil {
		t.Fatalf("client %s: %v", c.ID, err)
	}
	return ev
}

func players(t testing.TB, c *sioclient.Client) []string {
	t.Helper()
	var list []string
	if err := next(t, c, "update-player-list").Decode(0, &list); err != nil {
		t.Fatalf("decoding player list: %v", err)
	}
	return list
}

// waitPlayers reads player-list updates until one equals want.
func waitPlayers(t testing.TB, c *sioclient.Client, want ...string) {
	t.Helper()
	for {
		got := players(t, c)
		if strings.Join(got, ",") == strings.Join(want, ",") {
			return
		}
	}
}

func register(t testing.TB, c *sioclient.Client, initials string) {
	t.Helper()
	reply, err := c.EmitWithAck(ctxT(t, 10*time.Second), "register-player", initials)
	if err != nil {
		t.Fatalf("register-player: %v", err)
	}
	if !strings.Contains(string(reply[0]), `"ok":true`) {
		t.Fatalf("register-player %q: ack %s", initials, reply[0])
	}
}

var transports = []sioclient.Transport{sioclient.WebSocket, sioclient.Polling, sioclient.Upgrade}

// The lesson's flow over every transport: register, add-circle to everyone
// (sender included), clear, player list on register and on leave.
func TestLessonEvents(t *testing.T) {
	s := startServer(t, nil)
	for _, tr := range transports {
		t.Run(string(tr), func(t *testing.T) {
			a := dial(t, s, sioclient.Options{Transport: tr})
			b := dial(t, s, sioclient.Options{Transport: tr})

			emit := func(c *sioclient.Client, event string, args ...any) {
				t.Helper()
				if err := c.Emit(event, args...); err != nil {
					t.Fatalf("%s: %v", event, err) // say why, rather than wait for what never comes
				}
			}
			emit(a, "register-player", "ab")
			waitPlayers(t, a, "AB")
			emit(b, "register-player", map[string]any{"initials": "cd"})
			waitPlayers(t, a, "AB", "CD")
			waitPlayers(t, b, "AB", "CD")

			emit(a, "add-circle", map[string]any{"initials": "AB", "x": 10, "y": 20, "dia": 30, "rgba": "rgba(1,2,3,0.5)", "extra": "<b>"})
			for _, c := range []*sioclient.Client{a, b} {
				var got map[string]any
				if err := next(t, c, "add-circle").Decode(0, &got); err != nil {
					t.Fatal(err)
				}
				want := map[string]any{"initials": "AB", "x": 10.0, "y": 20.0, "dia": 30.0, "rgba": "rgba(1,2,3,0.5)"}
				if !equalJSON(got, want) {
					t.Errorf("add-circle = %v, want %v", got, want)
				}
			}

			emit(b, "clear")
			next(t, a, "clear")
			next(t, b, "clear")

			// b leaves at once (no grace asked for): the list comes now,
			// never after a grace runs out.
			b.Close()
			waitPlayers(t, a, "AB")
		})
	}
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// Every alias of clear is relayed under its own name, with or without
// arguments, and the arguments never reach other pages.
func TestClearAliases(t *testing.T) {
	s := startServer(t, nil)
	a := dial(t, s, sioclient.Options{})
	b := dial(t, s, sioclient.Options{})
	for _, name := range []string{"clear", "clear-display", "clear-circles", "clear-page", "clearCircles", "remove-circle"} {
		if err := a.Emit(name, "<img src=x onerror=alert(1)>"); err != nil {
			t.Fatal(err)
		}
		for _, c := range []*sioclient.Client{a, b} {
			ev := next(t, c, name)
			if len(ev.Args) != 0 {
				t.Errorf("%s relayed with args %s", name, ev.Args)
			}
		}
	}
}

// The same initials twice are two players; the list follows join order.
// A dropped player of a client that did not ask for the presence grace
// leaves at once, as on Node.
func TestDuplicateInitialsAndLeave(t *testing.T) {
	s := startServer(t, nil, "-recovery-window", "300ms")
	a := dial(t, s, sioclient.Options{})
	b := dial(t, s, sioclient.Options{})
	c := dial(t, s, sioclient.Options{})
	register(t, a, "ZZ")
	register(t, b, "ZZ")
	register(t, c, "q1")
	waitPlayers(t, c, "ZZ", "ZZ", "Q1")
	b.Drop() // network failure, not a polite disconnect
	waitPlayers(t, c, "ZZ", "Q1")
}

// The server stamps the sender's registered initials on its circles.
func TestCircleInitialsAreTheSenders(t *testing.T) {
	s := startServer(t, nil)
	a := dial(t, s, sioclient.Options{})
	register(t, a, "ab")
	a.Emit("add-circle", map[string]any{"initials": "XY", "x": 1, "y": 1, "dia": 10, "rgba": "red"})
	var got board.Circle
	if err := next(t, a, "add-circle").Decode(0, &got); err != nil {
		t.Fatal(err)
	}
	if got.Initials != "AB" {
		t.Errorf("initials = %q, want the registered AB", got.Initials)
	}
}

// A socket that never registered may not draw with the initials of a
// player registered on the board; with initials nobody has, it may (a
// client that sends its initials with each circle).
func TestUnregisteredCannotImpersonate(t *testing.T) {
	s := startServer(t, nil)
	a := dial(t, s, sioclient.Options{})
	x := dial(t, s, sioclient.Options{})
	register(t, a, "ab")
	ack := func(c *sioclient.Client, initials string) string {
		t.Helper()
		reply, err := c.EmitWithAck(ctxT(t, 5*time.Second), "add-circle",
			map[string]any{"initials": initials, "x": 1, "y": 1, "dia": 10, "rgba": "red"})
		if err != nil {
			t.Fatal(err)
		}
		return string(reply[0])
	}
	if got := ack(x, "ab"); !strings.Contains(got, "registered player") {
		t.Errorf("unregistered socket drawing as AB: ack %s", got)
	}
	if got := ack(x, "zz"); got != `{"ok":true}` {
		t.Errorf("unregistered socket with its own initials: ack %s", got)
	}
	if got := ack(a, "ab"); got != `{"ok":true}` {
		t.Errorf("the registered AB: ack %s", got)
	}
	for _, want := range []string{"ZZ", "AB"} { // never x's AB
		var c board.Circle
		if err := next(t, a, "add-circle").Decode(0, &c); err != nil || c.Initials != want {
			t.Fatalf("circle %+v (%v), want %s's", c, err, want)
		}
	}
}

// Rejected input gets an ack error when asked, else an error-message event,
// and is never relayed.
func TestRejectedInput(t *testing.T) {
	s := startServer(t, nil)
	a := dial(t, s, sioclient.Options{})
	b := dial(t, s, sioclient.Options{})
	register(t, a, "AB")

	bad := []struct {
		event string
		arg   any
		want  string
	}{
		{"register-player", "<img src=x onerror=alert(1)>", "initials"},
		{"register-player", "ABCD", "initials"},
		{"register-player", 42, "initials"},
		{"register-player", nil, "initials"},
		{"add-circle", "circle", "circle"},
		{"add-circle", map[string]any{"x": 1, "y": 1, "dia": 10, "rgba": "red;background:url(//evil)"}, "rgba"},
		{"add-circle", map[string]any{"x": 1, "y": 1, "dia": 10, "rgba": "<script>"}, "rgba"},
		{"add-circle", map[string]any{"x": 1, "y": 1, "dia": 10, "rgba": "rgba(9,9,9,0)"}, "transparent"},
		{"add-circle", map[string]any{"x": 1, "y": 1, "dia": 10, "rgba": "rgb(1/2/3)"}, "rgba"},
		{"add-circle", map[string]any{"x": -5, "y": 1, "dia": 10, "rgba": "red"}, "circle.x"},
		{"add-circle", map[string]any{"x": 1, "y": 1e9, "dia": 10, "rgba": "red"}, "circle.y"},
		{"add-circle", map[string]any{"x": 1, "y": 1, "dia": 0, "rgba": "red"}, "circle.dia"},
		{"add-circle", map[string]any{"x": "1", "y": 1, "dia": 10, "rgba": "red"}, "circle.x"},
		{"add-circle", map[string]any{"y": 1, "dia": 10, "rgba": "red"}, "circle.x"},
	}
	for _, tc := range bad {
		reply, err := a.EmitWithAck(ctxT(t, 5*time.Second), tc.event, tc.arg)
		if err != nil {
			t.Fatalf("%s(%v): %v", tc.event, tc.arg, err)
		}
		var ack struct {
			OK    bool   `json:"ok"`
			Error string `json:"error"`
		}
		if err := json.Unmarshal(reply[0], &ack); err != nil || ack.OK || !strings.Contains(ack.Error, tc.want) {
			t.Errorf("%s(%v): ack %s, want an error about %q", tc.event, tc.arg, reply[0], tc.want)
		}
		if strings.Contains(ack.Error, "<") {
			t.Errorf("%s: error echoes markup: %q", tc.event, ack.Error)
		}
	}

	// Without an ack: an error-message event to the sender only.
	a.Emit("add-circle", map[string]any{"x": 1, "y": 1, "dia": 10, "rgba": "javascript:alert(1)"})
	var msg struct{ Event, Error string }
	if err := next(t, a, "error-message").Decode(0, &msg); err != nil {
		t.Fatal(err)
	}
	if msg.Event != "add-circle" || !strings.Contains(msg.Error, "rgba") {
		t.Errorf("error-message = %+v", msg)
	}

	// Nothing bad was relayed: the next circle b sees is the good one.
	a.Emit("add-circle", map[string]any{"x": 1, "y": 2, "dia": 3, "rgba": "#abc"})
	var got board.Circle
	if err := next(t, b, "add-circle").Decode(0, &got); err != nil {
		t.Fatal(err)
	}
	if got.RGBA != "#abc" {
		t.Errorf("b first saw %+v, want the valid circle", got)
	}
	if !s.logs.Contains("event rejected") {
		t.Errorf("no log line for rejected events")
	}
}

// A burst of 1000 io.Emits reaches every client complete and in order
// (the library's v2.5.0 lost most of them and reordered the rest).
func TestBurstOrder(t *testing.T) {
	s := startServer(t, map[string]string{"RATE_LIMIT": "0"}) // a burst well over the per-socket limit
	const n = 1000
	var clients []*sioclient.Client
	for _, tr := range transports {
		clients = append(clients, dial(t, s, sioclient.Options{Transport: tr}))
	}
	sender := clients[0]
	register(t, sender, "BU")
	go func() {
		for i := range n {
			_ = sender.Emit("add-circle", map[string]any{"x": i, "y": 0, "dia": 1, "rgba": "red"})
		}
	}()
	for _, c := range clients {
		for i := range n {
			var got board.Circle
			if err := next(t, c, "add-circle").Decode(0, &got); err != nil {
				t.Fatal(err)
			}
			if int(got.X) != i {
				t.Fatalf("client %s: circle %d has x=%v: out of order or lost", c.ID, i, got.X)
			}
		}
	}
}

// socket.io-client 2.x (Engine.IO v3) connects and plays.
func TestEIO3Client(t *testing.T) {
	s := startServer(t, nil)
	for _, tr := range []sioclient.Transport{sioclient.WebSocket, sioclient.Polling} {
		t.Run(string(tr), func(t *testing.T) {
			old := dial(t, s, sioclient.Options{EIO: 3, Transport: tr})
			cur := dial(t, s, sioclient.Options{})
			old.Emit("register-player", "v2")
			waitPlayers(t, cur, "V2")
			old.Emit("add-circle", map[string]any{"x": 5, "y": 5, "dia": 5, "rgba": "blue"})
			next(t, cur, "add-circle")
			next(t, old, "add-circle")
			old.Close()
			waitPlayers(t, cur)
		})
	}
}
