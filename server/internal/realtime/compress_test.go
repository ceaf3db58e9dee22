package realtime

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// A broadcast keeps its Compress flag down to the engine, as in Node: a
// long poll carrying it is gzipped unless it was emitted with
// Compress(false). Our adapter shares one engine message among the
// recipients, which carries no flag; Compress(false) takes the library's
// path, which hands the flag on.
func TestBroadcastCompressFlag(t *testing.T) {
	s := testServer(t)
	url := serve(t, s) + "/socket.io/?EIO=4&transport=polling"
	nsp := s.io.Of("/compress-test", nil) // no handlers: CONNECT is all it sends

	open := poll(t, http.MethodGet, url, "", "identity")
	var hs struct{ Sid string }
	if err := json.Unmarshal([]byte(strings.TrimPrefix(open.body, "0")), &hs); err != nil {
		t.Fatalf("handshake %q: %v", open.body, err)
	}
	url += "&sid=" + hs.Sid
	poll(t, http.MethodPost, url, "40/compress-test,", "identity")
	if r := poll(t, http.MethodGet, url, "", "identity"); !strings.HasPrefix(r.body, "40/compress-test,") {
		t.Fatalf("CONNECT reply %q", r.body)
	}

	big := strings.Repeat("circle ", 300)
	for _, c := range []struct {
		compress bool
		want     string
	}{{false, ""}, {true, "gzip"}} {
		if err := nsp.Compress(c.compress).Emit("big", big); err != nil {
			t.Fatal(err)
		}
		r := poll(t, http.MethodGet, url, "", "gzip")
		if r.encoding != c.want {
			t.Errorf("Compress(%v): Content-Encoding %q, want %q", c.compress, r.encoding, c.want)
		}
		// (A recovery offset may follow the argument.)
		if want := `42/compress-test,["big","` + big + `"`; !strings.HasPrefix(r.body, want) {
			t.Errorf("Compress(%v): payload %.60q…", c.compress, r.body)
		}
	}
}

type polled struct{ body, encoding string }

// poll sends one polling request with an explicit Accept-Encoding (so the
// client does not decompress on its own) and returns the decoded body.
func poll(t *testing.T, method, url, body, accept string) polled {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept-Encoding", accept)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("%s: %d %q %v", method, res.StatusCode, b, err)
	}
	enc := res.Header.Get("Content-Encoding")
	if enc == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err == nil {
			b, err = io.ReadAll(zr)
		}
		if err != nil {
			t.Fatalf("gunzip: %v", err)
		}
	}
	return polled{string(b), enc}
}
