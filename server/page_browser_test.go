package main

// The shipped page as a newcomer meets it (issue 10), in headless Chromium.

import (
	"testing"
)

// Circles as big as the board never cover the header, the CLEAR button or
// the player list: they stay above every circle and clickable.
func TestBrowserChromeAboveCircles(t *testing.T) {
	s := logsOnFailure(t, startServer(t, nil))
	b := newBrowser(t)
	pg := newPage(t, b, s.URL+"/", "PG")
	pg.waitPlayers("PG")
	peer := dialPeer(t, s)
	register(t, peer, "BG")
	pg.waitPlayers("PG", "BG")
	for _, xy := range [][2]int{{500, 350}, {100, 20}, {800, 580}} {
		if err := peer.Emit("add-circle", map[string]any{"x": xy[0], "y": xy[1], "dia": 1000, "rgba": "black"}); err != nil {
			t.Fatal(err)
		}
	}
	pg.waitCircles(3)
	// Circles ignore the pointer (clicks go to the board); for the check
	// they take it, so elementFromPoint sees whichever is on top.
	evalJS[bool](pg, `(document.head.insertAdjacentHTML('beforeend',
	  '<style>#circles div { pointer-events: auto !important; }</style>'), true)`)
	for _, sel := range []string{"header button", "header h1", "#players li", "#status"} {
		onTop := evalJS[bool](pg, `(() => {
		  const el = document.querySelector(`+"`"+sel+"`"+`);
		  const r = el.getBoundingClientRect();
		  const top = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
		  return el === top || el.contains(top);
		})()`)
		if !onTop {
			t.Errorf("%s is covered by a circle", sel)
		}
	}
	pg.click("header button")
	pg.waitCircles(0)
}
