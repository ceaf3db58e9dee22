package main

// End-to-end checks of issue 3 in headless Chromium. The harness here is
// deliberately tiny and prefixed (pb*) so it cannot clash with the shared
// browser harness (branch browser); the lead can move these tests onto it.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

const pbWait = 30 * time.Second

// pbHook runs before the page's scripts: it presets the initials (so no
// prompt), and wraps WebSocket so the test can cut the page's connections
// and refuse new ones, as a network outage does.
const pbHook = `(function () {
  var initials = %q;
  if (initials) sessionStorage.setItem('initials', initials);
  var W = window.WebSocket;
  window.__ws = []; window.__offline = false;
  function H(url, protocols) {
    if (window.__offline) url = 'ws://127.0.0.1:9/';
    var s = protocols === undefined ? new W(url) : new W(url, protocols);
    window.__ws.push(s);
    return s;
  }
  H.prototype = W.prototype;
  H.CONNECTING = 0; H.OPEN = 1; H.CLOSING = 2; H.CLOSED = 3;
  window.WebSocket = H;
  window.__drop = function () {
    window.__offline = true;
    window.__ws.forEach(function (s) { s.close(); });
    window.__ws = [];
  };
  window.__online = function () { window.__offline = false; };
})();`

func pbBrowser(t *testing.T) context.Context {
	t.Helper()
	path := os.Getenv("CHROME_PATH")
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path != "" {
			break
		}
		path, _ = exec.LookPath(name)
	}
	if path == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium not found (CI=true)")
		}
		t.Skip("chromium not found")
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path), chromedp.UserDataDir(t.TempDir()), chromedp.Headless,
		chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.WindowSize(1000, 700),
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("disable-dev-shm-usage", true))
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return ctx
}

type pbPage struct {
	t   *testing.T
	ctx context.Context
	url string
}

// pbOpen opens url in a new browser context (its own storage).
func pbOpen(t *testing.T, browser context.Context, url, initials string) *pbPage {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	p := &pbPage{t: t, ctx: ctx, url: url}
	// The first run creates the tab and binds it to the context it gets:
	// it must be the tab's own context, not one with a timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("opening a tab: %v", err)
	}
	p.do(chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, cdppage.AddScriptToEvaluateOnNewDocument,
			cdppage.AddScriptToEvaluateOnNewDocumentParams{Source: fmt.Sprintf(pbHook, initials)})
		return err
	}), chromedp.Navigate(url))
	return p
}

func (p *pbPage) do(actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, pbWait)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.t.Fatalf("%s: %v", p.url, err)
	}
}

func pbEval[T any](p *pbPage, expr string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, pbWait)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		p.t.Fatalf("%s: %s: %v", p.url, expr, err)
	}
	return v
}

// wait polls expr until truthy (polling the DOM, not asserting on time).
func (p *pbPage) wait(expr, what string) {
	p.t.Helper()
	deadline := time.Now().Add(pbWait)
	for time.Now().Before(deadline) {
		if pbEval[bool](p, "!!("+expr+")") {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.t.Fatalf("%s: timed out waiting for %s; players %q, circles %d", p.url, what,
		pbEval[string](p, `[...document.querySelectorAll('#players li')].map(l => l.textContent).join(',')`),
		pbEval[int](p, `document.querySelectorAll('#circles div').length`))
}

func (p *pbPage) waitPlayers(want ...string) {
	p.t.Helper()
	p.wait(fmt.Sprintf(`[...document.querySelectorAll('#players li')].map(l => l.textContent).join(',') === %q`,
		strings.Join(want, ",")), "players "+strings.Join(want, ","))
}

func (p *pbPage) click(x, y int) {
	p.t.Helper()
	p.do(chromedp.MouseClickXY(float64(x), float64(y)))
}

func (p *pbPage) circles() int {
	return pbEval[int](p, `document.querySelectorAll('#circles div').length`)
}

func TestBrowserPresence(t *testing.T) {
	s := startServer(t, nil)
	browser := pbBrowser(t)

	t.Run("boards isolated, late joiner, share link", func(t *testing.T) {
		a := pbOpen(t, browser, s.URL+"/b/iso", "AA")
		b := pbOpen(t, browser, s.URL+"/b/other", "BB")
		a.waitPlayers("AA")
		b.waitPlayers("BB")
		a.click(200, 200)
		a.click(300, 300)
		a.wait(`document.querySelectorAll('#circles div').length === 2`, "a's two circles")
		// A late joiner on the same board sees both; the other board none.
		late := pbOpen(t, browser, s.URL+"/b/iso", "LL")
		late.waitPlayers("AA", "LL")
		late.wait(`document.querySelectorAll('#circles div').length === 2`, "the board for a late joiner")
		if n := b.circles(); n != 0 {
			t.Errorf("board other shows %d circles of board iso", n)
		}
		b.waitPlayers("BB")
		if link := pbEval[string](a, `document.getElementById('share-link').textContent`); link != s.URL+"/b/iso" {
			t.Errorf("share link %q", link)
		}
		if name := pbEval[string](a, `document.getElementById('board').textContent`); name != "iso" {
			t.Errorf("board name %q", name)
		}
		a.do(chromedp.Click(chromedp.CSS("#clear"), chromedp.NodeVisible))
		late.wait(`document.querySelectorAll('#circles div').length === 0`, "clear on the late joiner")
	})

	t.Run("network drop of 3s misses nothing and never leaves", func(t *testing.T) {
		a := pbOpen(t, browser, s.URL+"/b/drop", "DA")
		b := pbOpen(t, browser, s.URL+"/b/drop", "DB")
		b.waitPlayers("DA", "DB")
		// b records every player list it ever shows from now on.
		pbEval[bool](b, `(window.__lists = [], new MutationObserver(() => window.__lists.push(
			[...document.querySelectorAll('#players li')].map(l => l.textContent).join(',')))
			.observe(document.getElementById('players'), {childList: true, subtree: true, characterData: true}), true)`)
		pbEval[bool](a, `(window.__drop(), true)`)
		a.wait(`document.getElementById('status').textContent !== 'connected'`, "a noticing the drop")
		b.click(100, 100)
		b.click(150, 150)
		b.do(chromedp.Click(chromedp.CSS("#clear"), chromedp.NodeVisible))
		b.click(400, 200)
		b.wait(`document.querySelectorAll('#circles div').length === 1`, "b's board after clear")
		time.Sleep(3 * time.Second) // the outage itself, not an assertion
		pbEval[bool](a, `(window.__online(), true)`)
		a.wait(`document.getElementById('status').textContent === 'connected'`, "a reconnecting")
		a.wait(`document.querySelectorAll('#circles div').length === 1 &&
			document.querySelector('#circles div').style.left.startsWith('3')`, "a receiving what it missed")
		b.click(500, 300) // a sync point: a's view of it proves a is live again
		a.wait(`document.querySelectorAll('#circles div').length === 2`, "a live after recovery")
		lists := pbEval[[]string](b, `window.__lists`)
		for _, l := range lists {
			if !strings.Contains(l, "DA") {
				t.Errorf("b showed DA leaving: lists %q", lists)
				break
			}
		}
		b.waitPlayers("DA", "DB")
	})

	t.Run("cursors appear, move, vanish on leave", func(t *testing.T) {
		a := pbOpen(t, browser, s.URL+"/b/cur", "CA")
		b := pbOpen(t, browser, s.URL+"/b/cur", "CB")
		b.waitPlayers("CA", "CB")
		a.do(chromedp.MouseEvent("mouseMoved", 100, 120))
		b.wait(`document.querySelector('#cursors .cursor span')?.textContent === 'CA'`, "a's cursor on b")
		a.do(chromedp.MouseEvent("mouseMoved", 600, 400))
		b.wait(`document.querySelector('#cursors .cursor').style.transform === 'translate(600px, 400px)'`, "a's cursor moving")
		if n := pbEval[int](a, `document.querySelectorAll('#cursors .cursor').length`); n != 0 {
			t.Errorf("a shows %d cursors of its own", n)
		}
		a.do(chromedp.Navigate("about:blank")) // leaving the page says goodbye
		b.wait(`document.querySelectorAll('#cursors .cursor').length === 0`, "a's cursor gone")
		b.waitPlayers("CB")
	})

	t.Run("spy and mouse through the stock client", func(t *testing.T) {
		a := pbOpen(t, browser, s.URL+"/b/seeds", "SA")
		b := pbOpen(t, browser, s.URL+"/b/seeds", "SB")
		b.waitPlayers("SA", "SB")
		// A seed's page is io() plus these handlers; the shipped page's
		// socket.io bundle and the same board via ?board= stand in for it.
		for _, p := range []*pbPage{a, b} {
			pbEval[bool](p, `(window.__seed = io({query: {board: 'seeds'}}), window.__got = [],
				__seed.on('spy', d => __got.push(['spy', d])), __seed.on('mouse', d => __got.push(['mouse', d])), true)`)
			p.wait(`window.__seed.connected`, "the seed socket")
		}
		pbEval[bool](a, `(__seed.emit('spy', 10, 20), __seed.emit('spy', {x: 30, y: 40}), __seed.emit('mouse', {x: 50, y: 60}), true)`)
		b.wait(`JSON.stringify(__got) === JSON.stringify([['spy',{x:10,y:20}],['spy',{x:30,y:40}],['mouse',{x:50,y:60}]])`, "spy and mouse on b")
		if n := pbEval[int](a, `__got.length`); n != 0 {
			t.Errorf("the sender got %d of its own relays", n)
		}
	})

	t.Run("the /ws demo client", func(t *testing.T) {
		a := pbOpen(t, browser, s.URL+"/ws", "")
		b := pbOpen(t, browser, s.URL+"/ws", "")
		a.wait(`document.getElementById('status').textContent === 'connected'`, "a's websocket")
		b.wait(`document.getElementById('status').textContent === 'connected'`, "b's websocket")
		a.do(chromedp.MouseEvent("mouseMoved", 120, 80))
		for _, p := range []*pbPage{a, b} {
			p.wait(`(d => d && d.style.left === '120px' && d.style.top === '80px' && d.style.backgroundColor.startsWith('rgb'))(document.querySelector('.dot'))`, "a's dot")
		}
	})
}
