package main

// A small harness for end-to-end tests in headless Chromium (chromedp).
//
//	b := newBrowser(t)                        // one Chromium per test
//	a := newPage(t, b, srv.URL+"/", "AB")     // a tab; gives "AB" to the page's #join form or prompt(); waits for io() to connect
//	a.waitPlayers("AB")                       // poll the page until ul#players lists exactly these
//	a.clickAt(200, 200)                       // a real mouse click at viewport coordinates
//	a.waitJS(`document.querySelectorAll('#circles div').length === 1`, "one circle")
//	n := evalJS[int](a, `window.__sockets.length`)
//	a.circles()                               // []drawnCircle: text, centre, width, colour as laid out
//	a.click("header button")                  // click an element's centre
//	a.close()                                 // closes the tab, as a user does: its socket drops
//	a.dropWebSockets(); a.restoreWebSockets() // a network outage for the page's WebSockets
//
// openPage is newPage for pages that do not connect at load. At the end of
// the test each page leaves gracefully (sockets disconnected, no long-poll in
// flight) before its tab closes, then uncaught exceptions fail the test.
//
// Every page runs in its own browser context (its own cookies and storage, like
// a separate browser). Waits poll the page's DOM with a deadline, never sleep.
// Uncaught page exceptions fail the test; console output is printed when a
// test fails. With CI=true a missing Chromium fails the test instead of
// skipping it.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// browserWait bounds each wait and each browser action. Generous because the
// test machine is shared; a passing run takes far less.
const browserWait = 15 * time.Second

// Viewport of every page, so click coordinates mean the same everywhere.
const (
	viewportW = 900
	viewportH = 600
)

// browser is one headless Chromium process, stopped when the test ends.
type browser struct {
	ctx context.Context // chromedp context of the browser's first tab; parent of every page
}

// chromiumPath finds the browser: $CHROME_PATH, else the usual names.
func chromiumPath() string {
	if p := os.Getenv("CHROME_PATH"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// newBrowser starts a headless Chromium with a fresh profile. Without a
// browser the test is skipped, or fails when CI=true.
func newBrowser(t testing.TB) *browser {
	t.Helper()
	path := chromiumPath()
	if path == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium not found (CI=true: browser tests must run; install it with apt-get install chromium)")
		}
		t.Skip("chromium not found; set CHROME_PATH or install chromium to run browser tests")
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Headless,
		chromedp.NoSandbox, // containers and CI run as root
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.WindowSize(viewportW, viewportH),
		// Keep the browser quiet and local: no QUIC, no phoning home.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		// Tabs in the background must keep their timers (socket.io pings).
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
	)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	// The first Run starts the process; it must not carry a timeout (that
	// would stop the browser when it fires), so a watchdog bounds it instead.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()
	select {
	case err := <-started:
		if err != nil {
			t.Fatalf("starting %s: %v", path, err)
		}
	case <-time.After(60 * time.Second):
		cancel()
		t.Fatalf("starting %s: no answer in 60s", path)
	}
	return &browser{ctx: ctx}
}

// page is one tab of a browser.
type page struct {
	t      testing.TB
	ctx    context.Context
	cancel context.CancelFunc
	url    string

	mu      sync.Mutex
	prompts []string                        // messages of the prompt() dialogs answered
	errs    []string                        // uncaught exceptions
	console []string                        // console output, shown when the test fails
	polls   map[network.RequestID]time.Time // long-polling GETs in flight, when sent
}

// socketHook runs before any script of the page. It wraps the global io()
// that the socket.io client bundle defines (UMD: globalThis.io = ...) so the
// test can see every socket the page opens, whatever app.js it runs: the
// shipped one keeps its socket in a closure, a lesson one in a global.
// It only observes: io() itself is the stock client's.
const socketHook = `(() => {
  const sockets = [];
  Object.defineProperty(window, '__sockets', { value: sockets });
  let current;
  Object.defineProperty(window, 'io', {
    configurable: true,
    enumerable: true,
    get() { return current; },
    set(real) {
      if (typeof real !== 'function') { current = real; return; }
      const io = function (...args) {
        const socket = real.apply(this, args);
        sockets.push(socket);
        return socket;
      };
      Object.assign(io, real); // io.Manager, io.Socket, io.connect...
      current = io;
    },
  });
})();`

// wsHook runs before any script of the page. It wraps WebSocket so a test
// can cut the page's connections and refuse new ones (they go to a closed
// port), as a network outage does, then let them through again. Otherwise
// the page gets the browser's own WebSocket objects.
const wsHook = `(() => {
  const W = window.WebSocket;
  let open = [], offline = false;
  function H(url, protocols) {
    if (offline) url = 'ws://127.0.0.1:9/';
    const s = protocols === undefined ? new W(url) : new W(url, protocols);
    open = open.filter(o => o.readyState < W.CLOSING);
    open.push(s);
    return s;
  }
  H.prototype = W.prototype;
  Object.assign(H, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 });
  window.WebSocket = H;
  Object.defineProperty(window, '__dropWebSockets', { value: () => { offline = true; open.forEach(s => s.close()); open = []; } });
  Object.defineProperty(window, '__restoreWebSockets', { value: () => { offline = false; } });
})();`

// newPage opens url in a new tab of b, answers the page's prompt() dialogs
// with initials, and waits until every socket the page opened with io() is
// connected. Pass initials "" for a page that never prompts (any prompt
// then gets an empty answer). The tab closes when the test ends.
func newPage(t testing.TB, b *browser, url, initials string) *page {
	t.Helper()
	p := openPage(t, b, url, initials)
	p.waitJS(`window.__sockets.length > 0 && window.__sockets.every(s => s.connected)`, "the page's socket to connect")
	return p
}

// openPage is newPage without the wait for a connected socket, for pages
// that do not call io() at load.
func openPage(t testing.TB, b *browser, url, initials string) *page {
	t.Helper()
	p := &page{t: t, url: url, polls: map[network.RequestID]time.Time{}}
	p.ctx, p.cancel = chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(func() {
		if t.Failed() {
			p.dump()
		}
		p.leave()
		p.close()
		for _, e := range p.exceptions() {
			t.Errorf("%s: uncaught exception: %s", url, e)
		}
	})
	// Listen opens the tab. One listener sees its events in order (Events
	// iterators would reorder events of different types). Not the
	// WithListener option: with it, chromedp v0.23.0 stopped answering
	// commands after the page's prompt() was handled.
	if err := chromedp.Listen(p.ctx, func(ev any) { p.onEvent(ev, initials) }); err != nil {
		t.Fatalf("opening a tab: %v", err)
	}
	p.do("opening "+url,
		chromedp.EmulateViewport(viewportW, viewportH),
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			for _, hook := range []string{wsHook, socketHook} {
				if _, err := chromedp.Call(ctx, cdppage.AddScriptToEvaluateOnNewDocument,
					cdppage.AddScriptToEvaluateOnNewDocumentParams{Source: hook}); err != nil {
					return err
				}
			}
			return nil
		}),
		chromedp.Navigate(url),
	)
	if initials != "" {
		// The shipped page asks in a form (#join); lesson pages prompt().
		js, _ := json.Marshal(initials)
		evalJS[bool](p, `(f => !!f && (f.elements.initials.value = `+string(js)+`, f.requestSubmit(), true))(document.getElementById('join'))`)
	}
	return p
}

// onEvent records the tab's events. It runs on chromedp's reader
// goroutine: it must not block or run commands.
func (p *page) onEvent(ev any, initials string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch ev := ev.(type) {
	case *cdppage.EventJavascriptDialogOpening:
		if ev.Type == cdppage.DialogTypePrompt {
			p.prompts = append(p.prompts, ev.Message)
		} else {
			p.console = append(p.console, fmt.Sprintf("dialog %s: %s", ev.Type, ev.Message))
		}
		// A dialog blocks the page (and Navigate, waiting for load)
		// until answered; answer it from another goroutine.
		go func() {
			_, _ = chromedp.Call(p.ctx, cdppage.HandleJavaScriptDialog,
				cdppage.HandleJavaScriptDialogParams{Accept: true, PromptText: initials})
		}()
	case *runtime.EventExceptionThrown:
		p.errs = append(p.errs, describeException(ev.ExceptionDetails))
	case *runtime.EventConsoleAPICalled:
		var parts []string
		for _, a := range ev.Args {
			if a.Value != nil {
				parts = append(parts, string(a.Value))
			} else {
				parts = append(parts, a.Description)
			}
		}
		p.console = append(p.console, fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(parts, " ")))
	case *network.EventRequestWillBeSent:
		if ev.Request != nil && ev.Request.Method == "GET" && strings.Contains(ev.Request.URL, "transport=polling") {
			p.polls[ev.RequestID] = time.Now()
		}
	case *network.EventLoadingFinished:
		delete(p.polls, ev.RequestID)
	case *network.EventLoadingFailed:
		delete(p.polls, ev.RequestID)
	}
}

// pollsInFlight counts the page's Engine.IO long-polling GETs not yet answered.
func (p *page) pollsInFlight() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.polls)
}

// waitPollHeld waits until one of the page's long-polling GETs has been in
// flight for d: the server holds it (it answers a poll with data at once),
// so the page is idle between events, as a tab mostly is when it closes.
func (p *page) waitPollHeld(d time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(browserWait)
	for time.Now().Before(deadline) {
		p.mu.Lock()
		held := false
		for _, sent := range p.polls {
			held = held || time.Since(sent) >= d
		}
		p.mu.Unlock()
		if held {
			return
		}
		time.Sleep(10 * time.Millisecond) // polling the recorded requests, not asserting
	}
	p.t.Fatalf("%s: no long-poll held for %v", p.url, d)
}

// leave disconnects the page's sockets and waits (briefly, best effort)
// until no long-poll is in flight, so that closing the tab aborts none.
// The teardown uses it because the library races when a client aborts a
// pending poll (see TestBrowser* notes in the report); tests that want a
// user closing the tab call close directly.
func (p *page) leave() {
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(window.__sockets || []).forEach(s => s.disconnect()), true`)); err != nil {
		return // tab already gone
	}
	for p.pollsInFlight() > 0 && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond) // polling a counter, not asserting
	}
}

func describeException(d *runtime.ExceptionDetails) string {
	if d == nil {
		return "?"
	}
	s := d.Text
	if d.Exception != nil && d.Exception.Description != "" {
		s += " " + d.Exception.Description
	}
	return fmt.Sprintf("%s (%s:%d:%d)", s, d.URL, d.LineNumber+1, d.ColumnNumber+1)
}

// do runs actions in the tab with a deadline and fails the test on error.
func (p *page) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, browserWait)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.t.Fatalf("%s: %s: %v", p.url, what, err)
	}
}

// evalJS evaluates a JavaScript expression in the page and decodes its value.
func evalJS[T any](p *page, expr string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, browserWait)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		p.t.Fatalf("%s: evaluating %s: %v", p.url, expr, err)
	}
	return v
}

// waitJS polls the JavaScript expression until it is truthy, or fails the
// test after browserWait, saying what it waited for and what the page shows.
func (p *page) waitJS(expr, what string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, browserWait+5*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr,
		chromedp.WithPollingInterval(25*time.Millisecond),
		chromedp.WithPollingTimeout(browserWait)))
	if err != nil {
		p.t.Fatalf("%s: waiting for %s: %v\npage state: %s", p.url, what, err, p.state())
	}
}

// state summarizes the page for failure messages.
func (p *page) state() string {
	ctx, cancel := context.WithTimeout(p.ctx, 2*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify({
	  players: [...document.querySelectorAll('#players li')].map(li => li.textContent),
	  circles: [...document.querySelectorAll('#circles > *')].map(c => c.textContent),
	  sockets: (window.__sockets || []).map(s => s.connected),
	})`))
	if err != nil {
		return fmt.Sprintf("(unavailable: %v)", err)
	}
	return s
}

// waitPlayers waits until ul#players lists exactly want, in order.
func (p *page) waitPlayers(want ...string) {
	p.t.Helper()
	js, _ := json.Marshal(want)
	p.waitJS(fmt.Sprintf(`JSON.stringify([...document.querySelectorAll('ul#players li')].map(li => li.textContent)) === %q`, js),
		fmt.Sprintf("players %s", js))
}

// drawnCircle is one circle element on the page, as laid out.
type drawnCircle struct {
	Text   string  `json:"text"`
	CX     float64 `json:"cx"` // centre, viewport coordinates
	CY     float64 `json:"cy"`
	Width  float64 `json:"width"`
	Colour string  `json:"colour"` // computed background-color
	Tags   int     `json:"tags"`   // element children (markup inside a circle)
}

// circles returns the circles drawn in section#circles.
func (p *page) circles() []drawnCircle {
	p.t.Helper()
	return evalJS[[]drawnCircle](p, `[...document.querySelectorAll('section#circles > *')].map(el => {
	  const r = el.getBoundingClientRect();
	  return { text: el.textContent, cx: r.left + r.width / 2, cy: r.top + r.height / 2, width: r.width,
	           colour: getComputedStyle(el).backgroundColor, tags: el.children.length };
	})`)
}

// waitCircles waits until section#circles holds exactly n elements.
func (p *page) waitCircles(n int) {
	p.t.Helper()
	p.waitJS(fmt.Sprintf(`document.querySelectorAll('section#circles > *').length === %d`, n),
		fmt.Sprintf("%d circles", n))
}

// clickAt clicks the left mouse button at viewport coordinates (x, y), as a
// user would: the page gets mousedown, mouseup and click with clientX/Y.
func (p *page) clickAt(x, y float64) {
	p.t.Helper()
	p.do(fmt.Sprintf("clicking at %v,%v", x, y), chromedp.MouseClickXY(x, y))
}

// click clicks the centre of the first element matching the CSS selector.
func (p *page) click(selector string) {
	p.t.Helper()
	p.do("clicking "+selector, chromedp.Click(chromedp.CSS(selector), chromedp.NodeVisible))
}

// promptsAnswered returns the messages of the prompt() dialogs answered so far.
func (p *page) promptsAnswered() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.prompts...)
}

func (p *page) exceptions() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.errs...)
}

// screenshot saves a PNG of the viewport to path.
func (p *page) screenshot(path string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, browserWait)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		p.t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		p.t.Fatalf("screenshot: %v", err)
	}
}

// dropWebSockets closes the page's WebSockets and makes new ones fail until
// restoreWebSockets, as a network outage would. (Long-polling requests are
// not cut: pages that prefer websocket reconnect with websocket only.)
func (p *page) dropWebSockets() {
	p.t.Helper()
	evalJS[bool](p, `(window.__dropWebSockets(), true)`)
}

// restoreWebSockets ends dropWebSockets' outage.
func (p *page) restoreWebSockets() {
	p.t.Helper()
	evalJS[bool](p, `(window.__restoreWebSockets(), true)`)
}

// close closes the tab (its sockets disconnect as when a user closes it).
// It is safe to call more than once.
func (p *page) close() {
	p.cancel()
}

func (p *page) dump() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, line := range p.console {
		p.t.Logf("%s %s", p.url, line)
	}
	p.t.Logf("%s prompts answered: %q", p.url, p.prompts)
}
