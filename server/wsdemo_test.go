package main

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func dialWS(t testing.TB, s *testServer) *websocket.Conn {
	t.Helper()
	url := strings.Replace(s.URL, "http", "ws", 1) + "/ws"
	c, _, err := websocket.DefaultDialer.Dial(url, http.Header{"Origin": {s.URL}})
	if err != nil {
		t.Fatalf("dial /ws: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

type wsMsg struct {
	X, Y   float64
	Sender string
	Color  int
}

func readWS(t testing.TB, c *websocket.Conn) wsMsg {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var m wsMsg
	if err := c.ReadJSON(&m); err != nil {
		t.Fatalf("reading /ws: %v", err)
	}
	return m
}

// Every /ws client, the sender included, gets {x, y} with the sender's
// uuid and hue; each connection keeps its own.
func TestWSDemoRelays(t *testing.T) {
	s := startServer(t, nil)
	a, b := dialWS(t, s), dialWS(t, s)
	if err := a.WriteJSON(map[string]any{"x": 10, "y": 20, "extra": "<b>"}); err != nil {
		t.Fatal(err)
	}
	ma, mb := readWS(t, a), readWS(t, b)
	if ma != mb || ma.X != 10 || ma.Y != 20 || len(ma.Sender) != 36 || ma.Color < 0 || ma.Color > 359 {
		t.Fatalf("a got %+v, b got %+v", ma, mb)
	}
	if err := b.WriteJSON(map[string]any{"x": 1, "y": 2}); err != nil {
		t.Fatal(err)
	}
	ma2, mb2 := readWS(t, a), readWS(t, b)
	if ma2 != mb2 || ma2.Sender == ma.Sender {
		t.Fatalf("b's message %+v / %+v has a's sender %s", ma2, mb2, ma.Sender)
	}
	if err := a.WriteJSON(map[string]any{"x": 3, "y": 4}); err != nil {
		t.Fatal(err)
	}
	if m := readWS(t, b); m.Sender != ma.Sender || m.Color != ma.Color {
		t.Errorf("a's id or colour changed: %+v then %+v", ma, m)
	}
}

// Bad JSON and oversized frames close that connection with a code and a
// reason; the others carry on.
func TestWSDemoRejects(t *testing.T) {
	s := startServer(t, nil)
	for _, tc := range []struct {
		frame string
		code  int
		want  string
	}{
		{"not json", websocket.CloseUnsupportedData, "invalid JSON"},
		{`{"x": "1", "y": 2}`, websocket.CloseUnsupportedData, "want"},
		{`{"x": 1e9, "y": 2}`, websocket.CloseUnsupportedData, "want"},
		{`{"x": 1, "y": 2, "pad": "` + strings.Repeat("a", 600) + `"}`, websocket.CloseMessageTooBig, "too big"},
	} {
		bad, good := dialWS(t, s), dialWS(t, s)
		if err := bad.WriteMessage(websocket.TextMessage, []byte(tc.frame)); err != nil {
			t.Fatal(err)
		}
		_ = bad.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, _, err := bad.ReadMessage()
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != tc.code || !strings.Contains(ce.Text, tc.want) {
			t.Errorf("%.20q: closed with %v, want %d %q", tc.frame, err, tc.code, tc.want)
		}
		if err := good.WriteJSON(map[string]any{"x": 1, "y": 1}); err != nil {
			t.Fatal(err)
		}
		if m := readWS(t, good); m.X != 1 {
			t.Errorf("good client got %+v", m)
		}
	}
}

// Opening /ws in a browser shows the demo's page.
func TestWSDemoPage(t *testing.T) {
	s := startServer(t, nil)
	resp, err := http.Get(s.URL + "/ws")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf [4096]byte
	n, _ := resp.Body.Read(buf[:])
	if resp.StatusCode != 200 || !strings.Contains(string(buf[:n]), "ws-demo.js") {
		t.Errorf("GET /ws: %d %.200s", resp.StatusCode, buf[:n])
	}
}
