package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/zishang520/socket.io/servers/socket/v3"

	"github.com/realtime-circles/realtime-circles/server/internal/web/clientjs"
)

func request(t *testing.T, method, url string, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

// The embedded socket.io-client bundle and its map are served with their
// bytes, type and ETag; revalidation answers 304; HEAD works.
func TestClientBundle(t *testing.T) {
	s := startServer(t, nil)
	for _, tc := range []struct {
		path, contentType string
		body              []byte
	}{
		{"/socket.io/socket.io.js", "application/javascript", clientjs.Script},
		{"/socket.io/socket.io.js.map", "application/json", clientjs.SourceMap},
	} {
		t.Run(tc.path, func(t *testing.T) {
			resp, body := request(t, http.MethodGet, s.URL+tc.path, nil)
			if resp.StatusCode != http.StatusOK || !bytes.Equal(body, tc.body) {
				t.Fatalf("GET: %d, %d bytes, want 200 with the %d embedded bytes", resp.StatusCode, len(body), len(tc.body))
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, tc.contentType) {
				t.Errorf("Content-Type %q, want %s", ct, tc.contentType)
			}
			etag := resp.Header.Get("ETag")
			if !strings.Contains(etag, clientjs.Version) {
				t.Errorf("ETag %q does not name version %s", etag, clientjs.Version)
			}

			resp, body = request(t, http.MethodGet, s.URL+tc.path, map[string]string{"If-None-Match": etag})
			if resp.StatusCode != http.StatusNotModified || len(body) != 0 {
				t.Errorf("revalidation: %d with %d bytes, want 304 and no body", resp.StatusCode, len(body))
			}
			resp, _ = request(t, http.MethodGet, s.URL+tc.path, map[string]string{"If-None-Match": `"other"`})
			if resp.StatusCode != http.StatusOK {
				t.Errorf("stale ETag: %d, want 200", resp.StatusCode)
			}

			resp, body = request(t, http.MethodHead, s.URL+tc.path, nil)
			if resp.StatusCode != http.StatusOK || len(body) != 0 || resp.ContentLength != int64(len(tc.body)) {
				t.Errorf("HEAD: %d, %d bytes, Content-Length %d", resp.StatusCode, len(body), resp.ContentLength)
			}

			resp, _ = request(t, http.MethodPost, s.URL+tc.path, nil)
			if resp.StatusCode != http.StatusMethodNotAllowed {
				t.Errorf("POST: %d, want 405", resp.StatusCode)
			}
		})
	}
}

// The library's own client serving does not work under gin: mounted at
// /socket.io/ it answers socket.io.js with 400 "Transport unknown", which
// is why we embed the bundle. If this test fails, the library fixed it.
func TestLibraryDoesNotServeClientUnderGin(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	io := socket.NewServer(nil, nil) // ServeClient is on by default
	defer io.Close(nil)
	r := gin.New()
	r.Any("/socket.io/*path", gin.WrapH(io.ServeHandler(nil)))
	srv := httptest.NewServer(r)
	defer srv.Close()

	resp, body := request(t, http.MethodGet, srv.URL+"/socket.io/socket.io.js", nil)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "Transport unknown") {
		t.Errorf("library serving socket.io.js: %d %q; the known defect is 400 Transport unknown", resp.StatusCode, body)
	}
}

// /healthz names the node on a single node too, as the README promises:
// NODE_ID when set, else a made-up id.
func TestHealthzNodeSingleNode(t *testing.T) {
	if _, h := getHealth(t, startServer(t, nil)); h.Node == "" || h.Redis != "off" {
		t.Errorf("single node /healthz %+v, want a node id", h)
	}
	if _, h := getHealth(t, startServer(t, map[string]string{"NODE_ID": "class-a"})); h.Node != "class-a" {
		t.Errorf("NODE_ID=class-a: /healthz %+v", h)
	}
}
