package main

// End-to-end checks of issue 3 (boards, late joiners, network drops,
// cursors, spy/mouse, the /ws demo) in headless Chromium, on the shared
// harness in browser_harness_test.go.

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/realtime-circles/realtime-circles/server/internal/realtime"
	"github.com/realtime-circles/realtime-circles/server/internal/sioclient"
)

// cursorsShown is the number of other players' cursors the page draws.
const cursorsShown = `document.querySelectorAll('#cursors .cursor').length`

func TestBrowserPresence(t *testing.T) {
	s := logsOnFailure(t, startServer(t, nil))
	b := newBrowser(t)

	t.Run("boards isolated, late joiner, share link", func(t *testing.T) {
		iso := newPage(t, b, s.URL+"/b/iso", "AA")
		other := newPage(t, b, s.URL+"/b/other", "BB")
		iso.waitPlayers("AA")
		other.waitPlayers("BB")
		iso.clickAt(200, 200)
		iso.clickAt(300, 300)
		iso.waitCircles(2)
		// A late joiner on the same board sees both; the other board none.
		late := newPage(t, b, s.URL+"/b/iso", "LL")
		late.waitPlayers("AA", "LL")
		late.waitCircles(2)
		if n := len(other.circles()); n != 0 {
			t.Errorf("board other shows %d circles of board iso", n)
		}
		other.waitPlayers("BB")
		if link := evalJS[string](iso, `document.getElementById('share-link').textContent`); link != s.URL+"/b/iso" {
			t.Errorf("share link %q", link)
		}
		if name := evalJS[string](iso, `document.getElementById('board').textContent`); name != "iso" {
			t.Errorf("board name %q", name)
		}
		iso.click("#clear")
		late.waitCircles(0)
	})

	t.Run("network drop of 3s misses nothing and never leaves", func(t *testing.T) {
		a := newPage(t, b, s.URL+"/b/drop", "DA")
		other := newPage(t, b, s.URL+"/b/drop", "DB")
		other.waitPlayers("DA", "DB")
		// other records every player list it ever shows from now on.
		evalJS[bool](other, `(window.__lists = [], new MutationObserver(() => window.__lists.push(
			[...document.querySelectorAll('#players li')].map(l => l.textContent).join(',')))
			.observe(document.getElementById('players'), {childList: true, subtree: true, characterData: true}), true)`)
		a.dropWebSockets()
		a.waitJS(`document.getElementById('status').textContent !== 'connected'`, "a noticing the drop")
		other.clickAt(100, 100)
		other.clickAt(150, 150)
		other.click("#clear")
		other.clickAt(400, 200)
		other.waitCircles(1)
		time.Sleep(3 * time.Second) // the outage itself, not an assertion
		a.restoreWebSockets()
		a.waitJS(`document.getElementById('status').textContent === 'connected'`, "a reconnecting")
		// Only the circle at x=400 (left = 400 - dia/2, dia 10..100).
		a.waitJS(`document.querySelectorAll('#circles div').length === 1 &&
			document.querySelector('#circles div').style.left.startsWith('3')`, "a receiving what it missed")
		other.clickAt(500, 300) // a sync point: a's view of it proves a is live again
		a.waitCircles(2)
		lists := evalJS[[]string](other, `window.__lists`)
		for _, l := range lists {
			if !strings.Contains(l, "DA") {
				t.Errorf("other showed DA leaving: lists %q", lists)
				break
			}
		}
		other.waitPlayers("DA", "DB")
	})

	t.Run("cursors appear, move, vanish on leave", func(t *testing.T) {
		a := newPage(t, b, s.URL+"/b/cur", "CA")
		other := newPage(t, b, s.URL+"/b/cur", "CB")
		other.waitPlayers("CA", "CB")
		a.do("moving the mouse", chromedp.MouseEvent("mouseMoved", 100, 120))
		other.waitJS(`document.querySelector('#cursors .cursor span')?.textContent === 'CA'`, "a's cursor on other")
		// From now on batches mostly carry {id, x, y}: other records every
		// label it shows, which must stay a's initials (kept per id).
		evalJS[bool](other, `(window.__labels = [], new MutationObserver(() => window.__labels.push(
			...[...document.querySelectorAll('#cursors .cursor span')].map(l => l.textContent)))
			.observe(document.getElementById('cursors'), {childList: true, subtree: true, characterData: true}), true)`)
		a.do("moving the mouse", chromedp.MouseEvent("mouseMoved", 600, 400))
		other.waitJS(`document.querySelector('#cursors .cursor').style.transform === 'translate(600px, 400px)'`, "a's cursor moving")
		// A page that joins after a's first full entry gets {id, x, y} for
		// it at first; the settle re-send (or the ~1 s refresh) brings the
		// label, which the page keeps.
		late := newPage(t, b, s.URL+"/b/cur", "CL")
		late.waitPlayers("CA", "CB", "CL")
		a.do("moving the mouse", chromedp.MouseEvent("mouseMoved", 610, 410))
		late.waitJS(`[...document.querySelectorAll('#cursors .cursor')].some(c =>
			c.querySelector('span').textContent === 'CA' && c.style.transform === 'translate(610px, 410px)')`, "a's labelled cursor on a late page")
		late.do("leaving the page", chromedp.Navigate("about:blank"))
		other.waitPlayers("CA", "CB")
		if n := evalJS[int](a, cursorsShown); n != 0 {
			t.Errorf("a shows %d cursors of its own", n)
		}
		// Idle cursors fade (10 s on the page; shortened here) and come back
		// when they move.
		evalJS[bool](other, `window.CURSOR_IDLE_MS = 300, true`)
		a.do("moving the mouse", chromedp.MouseEvent("mouseMoved", 300, 300))
		other.waitJS(`document.querySelector('#cursors .cursor').classList.contains('idle') && getComputedStyle(document.querySelector('#cursors .cursor')).opacity < 1`, "a's idle cursor fading")
		a.do("moving the mouse", chromedp.MouseEvent("mouseMoved", 320, 300))
		other.waitJS(`!document.querySelector('#cursors .cursor').classList.contains('idle')`, "a's cursor awake again")
		if labels := evalJS[[]string](other, `window.__labels`); slices.ContainsFunc(labels, func(l string) bool { return l != "CA" }) {
			t.Errorf("a's cursor label changed on other: %q", labels)
		}
		a.do("leaving the page", chromedp.Navigate("about:blank")) // leaving the page says goodbye
		other.waitJS(cursorsShown+` === 0`, "a's cursor gone")
		other.waitPlayers("CB")
	})

	t.Run("spy and mouse through the stock client", func(t *testing.T) {
		a := newPage(t, b, s.URL+"/b/seeds", "SA")
		other := newPage(t, b, s.URL+"/b/seeds", "SB")
		other.waitPlayers("SA", "SB")
		// A seed's page is io() plus these handlers; the shipped page's
		// socket.io bundle and the same board via ?board= stand in for it.
		for _, p := range []*page{a, other} {
			evalJS[bool](p, `(window.__seed = io({query: {board: 'seeds'}}), window.__got = [],
				__seed.on('spy', d => __got.push(['spy', d])), __seed.on('mouse', d => __got.push(['mouse', d])), true)`)
			p.waitJS(`window.__seed.connected`, "the seed socket")
		}
		evalJS[bool](a, `(__seed.emit('spy', 10, 20), __seed.emit('spy', {x: 30, y: 40}), __seed.emit('mouse', {x: 50, y: 60}), true)`)
		other.waitJS(`JSON.stringify(__got) === JSON.stringify([['spy',{x:10,y:20}],['spy',{x:30,y:40}],['mouse',{x:50,y:60}]])`, "spy and mouse on other")
		if n := evalJS[int](a, `__got.length`); n != 0 {
			t.Errorf("the sender got %d of its own relays", n)
		}
	})

	t.Run("the /ws demo client", func(t *testing.T) {
		a := openPage(t, b, s.URL+"/ws", "")
		other := openPage(t, b, s.URL+"/ws", "")
		for _, p := range []*page{a, other} {
			p.waitJS(`document.getElementById('status').textContent === 'connected'`, "the page's websocket")
		}
		a.do("moving the mouse", chromedp.MouseEvent("mouseMoved", 120, 80))
		for _, p := range []*page{a, other} {
			p.waitJS(`(d => d && d.style.left === '120px' && d.style.top === '80px' && d.style.backgroundColor.startsWith('rgb'))(document.querySelector('.dot'))`, "a's dot")
		}
	})
}

// The shipped page draws cursors that ride in a tick's "circles" packet
// (the second argument). A protocol client in the batch room sees the
// same broadcast, which tells whether a tick was merged.
func TestBrowserCursorsInTickPacket(t *testing.T) {
	s := logsOnFailure(t, startServer(t, nil, "-batch-tick", "400ms"))
	b := newBrowser(t)
	pg := newPage(t, b, s.URL+"/b/tick", "PG")
	observer := dial(t, s, sioclient.Options{Auth: map[string]any{"board": "tick", "batch": true}})
	mover := dial(t, s, sioclient.Options{Auth: map[string]any{"board": "tick"}})
	register(t, mover, "MV")
	pg.waitPlayers("PG", "MV")
	// The page learns the mover's cursor from a full entry; entries after
	// it are mostly the compact [id, x, y].
	mover.Emit("cursor", map[string]any{"x": 10, "y": 10})
	pg.waitJS(`document.querySelector('#cursors .cursor span')?.textContent === 'MV'`, "the mover's labelled cursor")
	// Every position the page ever draws.
	evalJS[bool](pg, `(window.__moves = [], new MutationObserver(() => window.__moves.push(
		...[...document.querySelectorAll('#cursors .cursor')].map(c => c.style.transform)))
		.observe(document.getElementById('cursors'), {subtree: true, attributes: true, childList: true}), true)`)
	circle := func(x int) {
		mover.Emit("add-circle", map[string]any{"x": x, "y": 50, "dia": 10, "rgba": "red"})
	}
	for x := 101; x <= 105; x++ {
		mover.Emit("cursor", map[string]any{"x": x, "y": 50})
		circle(x)
		if ev := next(t, observer, realtime.BatchEvent); len(ev.Args) == 1 {
			next(t, observer, "cursors") // a tick boundary fell between them
			continue
		}
		// Moving on at once keeps the board from going quiet, so the
		// position at y=50 is never re-sent on its own: the page can only
		// have drawn it from the circles packet. The next circle is a
		// sync point: packets arrive in order.
		mover.Emit("cursor", map[string]any{"x": x, "y": 60})
		circle(x + 1)
		pg.waitCircles(x - 99)
		want := "translate(" + strconv.Itoa(x) + "px, 50px)"
		if moves := evalJS[[]string](pg, `window.__moves`); !slices.Contains(moves, want) {
			t.Errorf("page drew %q, never %s from the circles packet", moves, want)
		}
		return
	}
	t.Fatal("five ticks with a move and a circle, never one packet")
}
