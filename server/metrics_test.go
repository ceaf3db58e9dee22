package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/realtime-circles/realtime-circles/server/internal/sioclient"
)

// /metrics counts each delivery by event name on a single node too, where
// broadcasts go out through realtime's adapter (one shared copy per
// broadcast, read without being consumed).
func TestMetricsCountDeliveries(t *testing.T) {
	s := startServer(t, nil)
	a := dial(t, s, sioclient.Options{})
	b := dial(t, s, sioclient.Options{})
	register(t, a, "ME")
	a.Emit("add-circle", circle(1))
	next(t, a, "add-circle")
	next(t, b, "add-circle")

	code, body := getMetrics(t, s)
	if code != http.StatusOK {
		t.Fatalf("/metrics %d", code)
	}
	for _, want := range []string{
		`circles_connected_clients 2`,
		`circles_events_in_total{event="add-circle"} 1`,
		`circles_events_out_total{event="add-circle"} 2`,
		`circles_events_out_total{event="board"} 2`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// "in" only has labels for events clients send: the server only
	// sends these, so their "in" series would always be 0.
	for _, sentOnly := range []string{"board", "circles", "cursors", "update-player-list", "cursor-leave", "player-id", "error-message"} {
		if strings.Contains(body, `circles_events_in_total{event="`+sentOnly+`"}`) {
			t.Errorf("/metrics has an in label for %s, which the server only sends", sentOnly)
		}
	}
	if !strings.Contains(body, `circles_events_out_total{event="player-id"}`) {
		t.Errorf("/metrics has no out label for player-id")
	}
}
