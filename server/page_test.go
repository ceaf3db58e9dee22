package main

import (
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading %s: %v", url, err)
	}
	return resp, string(body)
}

// The lesson's DOM contract, which students' own app.js relies on.
func TestPageContract(t *testing.T) {
	s := startServer(t, nil)
	resp, page := get(t, s.URL+"/")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET / = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{
		`<section id="circles">`,
		`<ul id="players">`,
		`<link rel="stylesheet" href="/stylesheets/style.css">`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if !regexp.MustCompile(`(?s)<header>.*<button[^>]*>.*</button>.*</header>`).MatchString(page) {
		t.Errorf("no button in the header")
	}
	if !regexp.MustCompile(`(?s)<footer>.*<ul id="players">.*</footer>`).MatchString(page) {
		t.Errorf("ul#players is not in the footer")
	}
	sio := strings.Index(page, `<script src="/socket.io/socket.io.js"></script>`)
	app := strings.Index(page, `<script src="/javascripts/app.js"></script>`)
	if sio < 0 || app < 0 || sio > app {
		t.Errorf("scripts: socket.io.js at %d, app.js at %d; want both, socket.io.js first", sio, app)
	}

	for path, ctype := range map[string]string{
		"/javascripts/app.js":     "text/javascript",
		"/stylesheets/style.css":  "text/css",
		"/socket.io/socket.io.js": "application/javascript",
	} {
		resp, body := get(t, s.URL+path)
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), ctype) || body == "" {
			t.Errorf("GET %s = %d %q (%d bytes)", path, resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
		}
	}
	if resp, _ := get(t, s.URL+"/nope.js"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /nope.js = %d, want 404", resp.StatusCode)
	}
}

// Boards have their own pages; names that are not safe are refused, and the
// name reaches the page escaped.
func TestBoardPages(t *testing.T) {
	s := startServer(t, nil)
	resp, page := get(t, s.URL+"/b/room-1")
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `data-board="room-1"`) {
		t.Errorf("GET /b/room-1 = %d, board attribute missing", resp.StatusCode)
	}
	for _, bad := range []string{"/b/%3Cscript%3E", "/b/" + strings.Repeat("x", 33), "/b/a_b"} {
		if resp, body := get(t, s.URL+bad); resp.StatusCode != http.StatusNotFound || strings.Contains(body, "<script>") {
			t.Errorf("GET %s = %d", bad, resp.StatusCode)
		}
	}
}

// The shipped app.js never puts data on the page as markup.
func TestShippedAppAvoidsMarkupSinks(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "public", "javascripts", "app.js"))
	if err != nil {
		t.Fatal(err)
	}
	sinks := regexp.MustCompile(`\.(innerHTML|outerHTML)\s*\+?=|insertAdjacentHTML\(|document\.write\(|\beval\(`)
	if m := sinks.FindString(string(src)); m != "" {
		t.Errorf("public/javascripts/app.js uses %s", m)
	}
}

// Run from a directory without views/ and public/ (the test's own, server/),
// the server falls back to the copy embedded at build time.
func TestEmbeddedPageFiles(t *testing.T) {
	views, public, onDisk, err := pageFiles("")
	if err != nil {
		t.Fatal(err)
	}
	if onDisk {
		t.Fatal("server/ unexpectedly holds views/ and public/")
	}
	for _, f := range []struct {
		fsys fs.FS
		name string
	}{{views, "index.html"}, {public, "javascripts/app.js"}, {public, "stylesheets/style.css"}} {
		if b, err := fs.ReadFile(f.fsys, f.name); err != nil || len(b) == 0 {
			t.Errorf("embedded %s: %v", f.name, err)
		}
	}
	if _, _, _, err := pageFiles(t.TempDir()); err == nil {
		t.Errorf("-dir without views/ and public/ accepted")
	}
}
