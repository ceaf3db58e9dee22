package engineio_test

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zishang520/socket.io/parsers/engine/v3/packet"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// v4: packets in one payload are separated by U+001E; a POST is answered
// 200 "ok" (text/html), a poll with text/plain; charset=UTF-8.
func TestPollingPayloadV4(t *testing.T) {
	h := start(t, opts())
	p, _, _ := h.openPolling(t, "4", "")
	r := h.do(t, http.MethodPost, p.q(), strings.NewReader("4a\x1e4b\x1e4é😀"), nil)
	if r.status != 200 || string(r.body) != "ok" || r.header.Get("Content-Type") != "text/html" {
		t.Fatalf("post: %s, Content-Type %q", r, r.header.Get("Content-Type"))
	}
	for _, want := range []string{"a", "b", "é😀"} {
		if got := h.nextData(t); got != want {
			t.Fatalf("data %#v, want %q", got, want)
		}
	}
	r = h.do(t, http.MethodGet, p.q(), nil, nil)
	if string(r.body) != "4a\x1e4b\x1e4é😀" || r.header.Get("Content-Type") != "text/plain; charset=UTF-8" {
		t.Fatalf("poll: %s, Content-Type %q", r, r.header.Get("Content-Type"))
	}
}

// v3: each packet is prefixed with its length in UTF-16 code units (a
// JavaScript string's length): a character outside the BMP counts 2.
func TestPollingPayloadV3UTF16(t *testing.T) {
	h := start(t, opts())
	t.Run("both ways", func(t *testing.T) {
		p, _, _ := h.openPolling(t, "3", "")
		// "4é😀" is 1+1+2 = 4 units (7 bytes).
		p.post(t, "4:4é😀2:4a")
		if got := h.nextData(t); got != "é😀" {
			t.Fatalf("data %#v", got)
		}
		if got := h.nextData(t); got != "a" {
			t.Fatalf("data %#v", got)
		}
		r := h.do(t, http.MethodGet, p.q(), nil, nil)
		if string(r.body) != "4:4é😀2:4a" {
			t.Fatalf("poll: %s", r)
		}
	})
	t.Run("bytes are not units", func(t *testing.T) {
		p, _, sock := h.openPolling(t, "3", "")
		r := h.do(t, http.MethodPost, p.q(), strings.NewReader("7:4é😀"), nil)
		if r.status != 400 {
			t.Fatalf("byte-counted length: %s", r)
		}
		h.waitClose(t, sock.Id())
	})
}

// v4 sends binary in polling payloads as "b" and base64; the listener
// gets bytes, and bytes go out the same way.
func TestPollingBinaryV4Base64(t *testing.T) {
	h := start(t, opts())
	p, _, _ := h.openPolling(t, "4", "")
	p.send(t, "bAQID", "4text")
	if b, ok := h.nextData(t).(*types.BytesBuffer); !ok || !bytes.Equal(b.Bytes(), []byte{1, 2, 3}) {
		t.Fatal("binary data not bytes 1 2 3")
	}
	if got := h.nextData(t); got != "text" {
		t.Fatalf("data %#v", got)
	}
	if got := p.get(t); !slices.Equal(got, []string{"bAQID", "4text"}) {
		t.Fatalf("poll %q", got)
	}
	// Base64 that starts with "4" (bytes E0 01 02): v3 writes "b4" and
	// base64, v4 "b" alone, so v4 keeps the 4.
	p.send(t, "b4AEC")
	if b, ok := h.nextData(t).(*types.BytesBuffer); !ok || !bytes.Equal(b.Bytes(), []byte{0xE0, 1, 2}) {
		t.Fatal("binary data not bytes E0 01 02")
	}
	if got := p.get(t); !slices.Equal(got, []string{"b4AEC"}) {
		t.Fatalf("poll %q", got)
	}
}

// v3 binary: without b64 a payload with binary is an octet-stream binary
// payload (both ways); with b64=1 binary is "b4" and base64 in text.
func TestPollingBinaryV3(t *testing.T) {
	h := start(t, opts())
	t.Run("octet-stream", func(t *testing.T) {
		p, _, _ := h.openPolling(t, "3", "")
		body := append(binaryPacket(1, []byte{4, 1, 2, 3}), binaryPacket(0, []byte("4hi"))...)
		r := h.do(t, http.MethodPost, p.q(), bytes.NewReader(body), http.Header{"Content-Type": {"application/octet-stream"}})
		if r.status != 200 || string(r.body) != "ok" {
			t.Fatalf("post: %s", r)
		}
		if b, ok := h.nextData(t).(*types.BytesBuffer); !ok || !bytes.Equal(b.Bytes(), []byte{1, 2, 3}) {
			t.Fatal("binary data not bytes 1 2 3")
		}
		if got := h.nextData(t); got != "hi" {
			t.Fatalf("data %#v", got)
		}
		r = h.do(t, http.MethodGet, p.q(), nil, nil)
		if ct := r.header.Get("Content-Type"); ct != "application/octet-stream" {
			t.Fatalf("Content-Type %q, body %q", ct, r.body)
		}
		if got := decode(t, "3", r); !slices.Equal(got, []string{"bin:04010203", "4hi"}) {
			t.Fatalf("poll %q", got)
		}
		// Text only: a text payload again.
		p.send(t, "4plain")
		if got := h.nextData(t); got != "plain" {
			t.Fatalf("data %#v", got)
		}
		r = h.do(t, http.MethodGet, p.q(), nil, nil)
		if string(r.body) != "6:4plain" {
			t.Fatalf("poll %s", r)
		}
	})
	t.Run("b64", func(t *testing.T) {
		p, _, _ := h.openPolling(t, "3", "&b64=1")
		p.post(t, "6:b4AQID")
		if b, ok := h.nextData(t).(*types.BytesBuffer); !ok || !bytes.Equal(b.Bytes(), []byte{1, 2, 3}) {
			t.Fatal("binary data not bytes 1 2 3")
		}
		r := h.do(t, http.MethodGet, p.q(), nil, nil)
		if string(r.body) != "6:b4AQID" || r.header.Get("Content-Type") != "text/plain; charset=UTF-8" {
			t.Fatalf("poll %s", r)
		}
	})
}

// A v4 client never posts octet-stream (binary is base64): such a POST is
// answered 400 at once, not held, and the session closes.
func TestPollingOctetStreamPostV4(t *testing.T) {
	h := start(t, opts())
	p, _, sock := h.openPolling(t, "4", "")
	begin := time.Now()
	r := h.do(t, http.MethodPost, p.q(), bytes.NewReader([]byte{4, 1, 2, 3}), http.Header{"Content-Type": {"application/octet-stream"}})
	if r.status != 400 {
		t.Fatalf("octet-stream POST: %s", r)
	}
	if d := time.Since(begin); d > 2*time.Second {
		t.Fatalf("answered after %v", d)
	}
	if reason := h.waitClose(t, sock.Id()); reason != "transport error" {
		t.Errorf("close reason %q", reason)
	}
	assertError(t, h.do(t, http.MethodGet, p.q(), nil, nil), 400, 1, "Session ID unknown")
}

// A second GET while one waits: 400, and the session closes; the waiting
// one is answered with the close packet (Node: overlap from client).
func TestPollingOverlappingGet(t *testing.T) {
	eachVersion(t, func(t *testing.T, eio string) {
		h := start(t, opts())
		p, _, sock := h.openPolling(t, eio, "")
		first := p.pollAsync()
		waitPending(t, sock)
		r := h.do(t, http.MethodGet, p.q(), nil, nil)
		if r.status != 400 {
			t.Fatalf("overlapping GET: %s", r)
		}
		r = await(t, first)
		if r.status != 200 {
			t.Fatalf("waiting GET: %s", r)
		}
		if got := decode(t, eio, r); got[len(got)-1] != "1" {
			t.Fatalf("waiting GET got %q, want the close packet", got)
		}
		if reason := h.waitClose(t, sock.Id()); reason != "transport error" {
			t.Errorf("close reason %q", reason)
		}
	})
}

// A body that is not a payload is answered 400 and the session closes
// ("parse error", as Node names it).
func TestPollingInvalidBodies(t *testing.T) {
	cases := map[string][]string{
		"4": {"", "9x", "4a\x1e", "\x1e4a", "4a\x1e\x1e4b", "b!!notbase64"},
		"3": {"", "4a", "5:4é😀", "0:", "2:4a3", "x:4a", "2:9x", "-1:4"},
	}
	h := start(t, opts())
	for _, eio := range []string{"4", "3"} {
		for _, body := range cases[eio] {
			t.Run("v"+eio+"/"+body, func(t *testing.T) {
				p, _, sock := h.openPolling(t, eio, "")
				r := h.do(t, http.MethodPost, p.q(), strings.NewReader(body), nil)
				if r.status != 400 {
					t.Fatalf("body %q: %s", body, r)
				}
				if reason := h.waitClose(t, sock.Id()); reason != "parse error" {
					t.Errorf("close reason %q", reason)
				}
				assertError(t, h.do(t, http.MethodGet, p.q(), nil, nil), 400, 1, "Session ID unknown")
			})
		}
	}
}

// A body over maxPayload is refused 413, whether it says its length or is
// chunked; one of exactly maxPayload passes. An unknown sid is refused
// before its body is read.
func TestPollingMaxPayload(t *testing.T) {
	o := opts()
	o.MaxPayload = 100
	h := start(t, o)
	eachVersion(t, func(t *testing.T, eio string) {
		big := encode(eio, "4"+strings.Repeat("x", 150))
		t.Run("at the limit", func(t *testing.T) {
			p, _, _ := h.openPolling(t, eio, "")
			body := "4" + strings.Repeat("x", 99)
			if eio == "3" {
				body = encode(eio, "4"+strings.Repeat("x", 96)) // "97:4…" is 100 bytes
			}
			if len(body) != 100 {
				t.Fatalf("body of %d bytes", len(body))
			}
			p.post(t, body)
		})
		t.Run("sized", func(t *testing.T) {
			p, _, _ := h.openPolling(t, eio, "")
			r := h.do(t, http.MethodPost, p.q(), strings.NewReader(big), nil)
			if r.status != http.StatusRequestEntityTooLarge {
				t.Fatalf("oversize body: %s", r)
			}
		})
		t.Run("chunked", func(t *testing.T) {
			p, _, _ := h.openPolling(t, eio, "")
			r := h.do(t, http.MethodPost, p.q(), io.MultiReader(strings.NewReader(big)), nil)
			if r.status != http.StatusRequestEntityTooLarge {
				t.Fatalf("oversize chunked body: %s", r)
			}
		})
		t.Run("unknown sid", func(t *testing.T) {
			r := h.do(t, http.MethodPost, "EIO="+eio+"&transport=polling&sid=nope", strings.NewReader(strings.Repeat(big, 100)), nil)
			assertError(t, r, 400, 1, "Session ID unknown")
		})
	})
}

// A poll's payload of 1 KB or more is compressed as Node compresses it
// (httpCompression): gzip or deflate (zlib), whichever Accept-Encoding
// prefers; not when the client takes neither, not below the threshold,
// and not when its messages were sent with Compress(false).
func TestPollingCompression(t *testing.T) {
	h := start(t, opts())
	big := strings.Repeat("circle ", 300)
	eachVersion(t, func(t *testing.T, eio string) {
		p, _, sock := h.openPolling(t, eio, "")
		for _, c := range []struct {
			name, accept, msg string
			opts              *packet.Options
			want              string // Content-Encoding
		}{
			{"gzip", "gzip, deflate, br", big, nil, "gzip"},
			{"deflate", "deflate", big, nil, "deflate"},
			{"preferred", "gzip;q=0.5, deflate", big, nil, "deflate"},
			{"any", "*", big, nil, "gzip"},
			{"neither", "identity", big, nil, ""},
			{"refused", "gzip;q=0", big, nil, ""},
			{"small", "gzip", big[:1000], nil, ""},
			{"compress false", "gzip", big, packet.NewOptions(false), ""},
			{"compress true", "gzip", big, packet.NewOptions(true), "gzip"},
		} {
			sock.Write(strings.NewReader(c.msg), c.opts, nil)
			r := h.do(t, http.MethodGet, p.q(), nil, http.Header{"Accept-Encoding": {c.accept}})
			if got := r.header.Get("Content-Encoding"); got != c.want {
				t.Fatalf("%s: Content-Encoding %q, want %q", c.name, got, c.want)
			}
			if n := r.header.Get("Content-Length"); n != strconv.Itoa(len(r.body)) {
				t.Fatalf("%s: Content-Length %s for %d bytes", c.name, n, len(r.body))
			}
			r.body = inflate(t, c.want, r.body)
			if got := decode(t, eio, r); len(got) != 1 || got[0] != "4"+c.msg {
				t.Fatalf("%s: payload %.40q…, want the message", c.name, got)
			}
		}
	})
}

// inflate undoes a Content-Encoding.
func inflate(t *testing.T, enc string, b []byte) []byte {
	t.Helper()
	var r io.Reader
	var err error
	switch enc {
	case "":
		return b
	case "gzip":
		r, err = gzip.NewReader(bytes.NewReader(b))
	case "deflate":
		r, err = zlib.NewReader(bytes.NewReader(b))
	}
	if err != nil {
		t.Fatalf("%s: %v", enc, err)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("%s: %v", enc, err)
	}
	return out
}
