package main

// The shipped page as a newcomer meets it (issue 10), in headless Chromium.

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/realtime-circles/realtime-circles/server/internal/board"
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

// colourCases are strings a student's client might send as a circle's
// colour: CSS Color 4 forms, what browsers clamp, what they ignore, and
// the fully transparent.
var colourCases = []string{
	// Valid and visible.
	"red", "RebeccaPurple", "#abc", "#abcd", "#a1b2c3", "#A1B2C3D4", "rgba(255,0,0,0.5)", "rgb(1, 2, 3)",
	"RGB(1,2,3)", "rgb(1 2 3 / 50%)", "rgb(1 2 3/.5)", "hsl(120deg 50% 50%)", "hsla(120, 50%, 50%, .3)",
	"rgb(300, -5, 0)", "rgba(1,2,3,5)", "rgb(10% 20% 30%)", "rgb(10% 20 30%)", "rgb(10%, 20%, 30%)",
	"hsl(1turn 50% 50%)", "hsl(0.5rad, 50%, 50%)", "hsl(100grad 50% 50%)", "hsl(120 50 50)", "hwb(120 10% 10%)",
	"lab(50% 40 59.5)", "lch(52.2% 72.2 50)", "oklab(59% 0.1 0.1 / 0.5)", "oklch(60% 0.15 50)",
	"color(srgb 1 0 0)", "color(display-p3 1 0.5 0 / .5)", "rgb(none 2 3)", "rgb(1e2, 0, 0)", "rgb(+1, 2, 3)",
	"rgb(.5, 2, 3)", "rgba(1,2,3,50%)", "hsl(-120, 150%, -5%)",
	// Not colours to a browser.
	"", "#ab", "#abcde", "#ggg", "redd", "rgb(1,2)", "rgb(1,2,3,4,5)", "rgb(a,b,c)", "rgba(1,2,3,0.5);x:y",
	"expression(alert(1))", "url(x)", "rgb(NaN,1,1)", "var(--x)", "rgb(1/2/3)", "rgb (1,2,3)", "rgb(1, 2 3)",
	"rgb(1,2,3 / 1)", "rgb(1 2 3, 1)", "rgb(1., 2, 3)", "rgb(1, 2%, 3)", "hsl(120, 50, 50)", "rgb(none, 2, 3)",
	"color(foo 1 2 3)", "rgb(0x10, 0, 0)", "rgb(inf, 0, 0)", "rgb(1 2 3 /)", "hwb(120, 10%, 10%)", "rgb(1 2)",
	// Fully transparent.
	"transparent", "#0000", "#00000000", "rgba(0,0,0,0)", "rgb(1 2 3 / 0%)", "rgba(1,2,3,-1)",
	"hsl(1 2% 3% / none)", "rgb(1 2 3 / none)",
}

// The server accepts exactly the colours Chromium draws something with:
// CSS.supports says it is a colour, and a canvas filled with it has a
// pixel that is not fully transparent.
func TestBrowserColoursAgreeWithChromium(t *testing.T) {
	s := logsOnFailure(t, startServer(t, nil))
	b := newBrowser(t)
	pg := openPage(t, b, s.URL+"/ws-demo.html", "")
	list, _ := json.Marshal(colourCases)
	visible := evalJS[[]bool](pg, `(() => {
	  const ctx = Object.assign(document.createElement('canvas'), {width: 1, height: 1}).getContext('2d');
	  return `+string(list)+`.map(c => {
	    if (!CSS.supports('color', c)) return false;
	    ctx.clearRect(0, 0, 1, 1);
	    ctx.fillStyle = 'rgba(0, 0, 0, 0)'; // kept when c does not parse (var(), ...)
	    ctx.fillStyle = c;
	    ctx.fillRect(0, 0, 1, 1);
	    return ctx.getImageData(0, 0, 1, 1).data[3] > 0;
	  });
	})()`)
	for i, c := range colourCases {
		if got := board.ValidColour(c); got != visible[i] {
			t.Errorf("ValidColour(%q) = %v; Chromium draws it: %v", c, got, visible[i])
		}
	}
}

// A newcomer's page: no 404 for the favicon, a hint on the empty board
// (any app.js: it is the page's CSS), and circles big and opaque enough
// to see.
func TestBrowserNewcomerPage(t *testing.T) {
	s := logsOnFailure(t, startServer(t, nil))
	code, body := httpDo(t, http.MethodGet, s.URL+"/favicon.ico", nil)
	if code != http.StatusOK || !strings.HasPrefix(body, "\x00\x00\x01\x00") {
		t.Errorf("/favicon.ico: HTTP %d, %d bytes, want an icon", code, len(body))
	}
	b := newBrowser(t)
	pg := newPage(t, b, s.URL+"/", "NC")
	pg.waitPlayers("NC")
	hint := `(h => !!h && getComputedStyle(h).display !== 'none' && h.getBoundingClientRect().width > 0)(document.getElementById('hint'))`
	if !evalJS[bool](pg, hint) {
		t.Errorf("no hint on the empty board")
	}
	const clicks = 12
	for i := range clicks {
		pg.clickAt(float64(120+50*i), float64(150+20*(i%5)))
	}
	pg.waitCircles(clicks)
	if evalJS[bool](pg, hint) {
		t.Errorf("the hint stays on a board with circles")
	}
	for _, c := range pg.circles() {
		alpha := 1.0
		if strings.HasPrefix(c.Colour, "rgba(") {
			f := strings.Split(strings.TrimSuffix(c.Colour, ")"), ",")
			alpha, _ = strconv.ParseFloat(strings.TrimSpace(f[3]), 64)
		}
		if c.Width < 20 || alpha < 0.5 {
			t.Errorf("circle %+v: want at least 20 px wide and alpha 0.5", c)
		}
	}
	pg.click("header button")
	pg.waitCircles(0)
	pg.waitJS(hint, "the hint back on the cleared board")
}

// The shipped page asks initials in a small form in the page, never with
// prompt(): the page draws at once (a headless screenshot does not hang),
// clicks before joining draw nothing, and the initials given play.
func TestBrowserInitialsForm(t *testing.T) {
	s := logsOnFailure(t, startServer(t, nil))
	b := newBrowser(t)
	watcher := dialPeer(t, s)
	pg := newPage(t, b, s.URL+"/", "") // no answer: the form stays
	pg.waitJS(`(f => !!f && f.getBoundingClientRect().width > 0)(document.getElementById('join'))`, "the initials form")
	pg.clickAt(300, 400)
	if got := pg.promptsAnswered(); len(got) != 0 {
		t.Errorf("the shipped page used prompt(): %q", got)
	}
	evalJS[bool](pg, `(f => (f.elements.initials.value = 'q7', f.requestSubmit(), true))(document.getElementById('join'))`)
	pg.waitPlayers("Q7")
	waitPlayers(t, watcher, "Q7")
	pg.waitJS(`!document.getElementById('join')`, "the form gone")
	pg.clickAt(300, 400)
	pg.waitCircles(1)
	var c board.Circle
	if err := next(t, watcher, "add-circle").Decode(0, &c); err != nil || c.Initials != "Q7" {
		t.Errorf("first circle %+v (%v): want Q7's, and none before joining", c, err)
	}
}
