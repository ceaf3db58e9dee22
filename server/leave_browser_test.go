package main

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// A student's page written the lesson's way (innerHTML player list,
// prompt(), no disconnect() on unload) whose tab is closed: its player
// leaves the other pages' lists at once, as on Node, over WebSocket and
// over long-polling. Each run uses one of the clear aliases students give
// the event (listened for and emitted by both pages), so every alias is
// played end to end too. The measured time, from the tab's close to the
// other page's list changing, is logged; the bound is generous.
func TestBrowserLessonTabClose(t *testing.T) {
	lesson := string(readFile(t, lessonAppJS))
	if !strings.Contains(lesson, "var socket = io();") || !strings.Contains(lesson, "'clear-display'") {
		t.Fatal("the lesson app.js changed: update the substitutions below")
	}
	b := newBrowser(t)
	runs := []struct{ transport, clear string }{
		{"websocket", "clear-display"}, {"polling", "clear"}, {"websocket", "clear-circles"},
		{"polling", "clearCircles"}, {"websocket", "clear-page"}, {"polling", "remove-circle"},
	}
	for i, run := range runs {
		t.Run(run.transport+"/"+run.clear, func(t *testing.T) {
			js := strings.ReplaceAll(lesson, "'clear-display'", fmt.Sprintf("%q", run.clear))
			if run.transport == "polling" {
				js = strings.Replace(js, "io();", "io({transports: ['polling']});", 1)
			}
			dir := pageDir(t, map[string][]byte{"public/javascripts/app.js": []byte(js)})
			s := logsOnFailure(t, startServer(t, nil, "-dir", dir))
			url := fmt.Sprintf("%s/b/leave%d", s.URL, i)

			other := newPage(t, b, url, "ot")
			other.waitPlayers("OT")
			closer := newPage(t, b, url, "cl")
			other.waitPlayers("OT", "CL")
			closer.waitPlayers("OT", "CL")
			engine := `window.__sockets[0].io.engine.transport.name`
			closer.waitJS(fmt.Sprintf(`%s === %q`, engine, run.transport), "transport "+run.transport)

			closer.clickAt(300, 300)
			other.waitCircles(1)
			closer.click("header button") // emits the alias
			other.waitCircles(0)
			closer.waitCircles(0)

			if run.transport == "polling" {
				// A tab closed while its long-poll is held aborts it; one
				// closed in the instant between two polls has nothing in
				// flight, and leaves at the heartbeat, as on Node.
				closer.waitPollHeld(100 * time.Millisecond)
			}
			// The other page notes when CL leaves its list.
			evalJS[bool](other, `(window.__goneAt = 0, new MutationObserver(() => {
			  if (!window.__goneAt && !document.getElementById('players').textContent.includes('CL')) window.__goneAt = Date.now();
			}).observe(document.getElementById('players'), {childList: true, subtree: true, characterData: true}), true)`)
			closedAt := time.Now()
			closer.close()
			other.waitPlayers("OT")
			took := time.Duration(evalJS[float64](other, `window.__goneAt`)-float64(closedAt.UnixMilli())) * time.Millisecond
			t.Logf("%s: the closed tab's player left the other page after %v", run.transport, took)
			if took > 2*time.Second {
				t.Errorf("%s: player left %v after its tab closed; want at once (< 2 s)", run.transport, took)
			}
		})
	}
}
