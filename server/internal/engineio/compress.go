package engineio

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// Polling responses are compressed as Node's engine.io does by default
// (its httpCompression option, polling.ts doWrite): a payload of at least
// the threshold (1 KB) that carries a message not sent with
// Compress(false) goes out as gzip or deflate, whichever the client's
// Accept-Encoding prefers. WebSocket frames are not compressed: Node's
// perMessageDeflate is off by default too.

// defaultCompressThreshold is Node's httpCompression.threshold.
const defaultCompressThreshold = 1024

// compressors pools the encoders: a flate encoder allocates about 800 KB.
type compressors struct {
	gzip, deflate sync.Pool
}

// resetWriter is a *gzip.Writer or a *zlib.Writer.
type resetWriter interface {
	io.WriteCloser
	Reset(io.Writer)
}

// compressPoll compresses a poll's body if it is long enough and the
// client takes gzip or deflate, setting Content-Encoding in h.
func (s *Server) compressPoll(h http.Header, r *http.Request, body []byte) []byte {
	if threshold := s.opts.CompressThreshold; threshold < 0 || len(body) < threshold {
		return body
	}
	enc := negotiateEncoding(r.Header.Get("Accept-Encoding"))
	if enc == "" {
		return body
	}
	z, err := s.zip.compress(enc, body)
	if err != nil {
		s.log.Warn("compressing a poll", "err", err)
		return body
	}
	h.Set("Content-Encoding", enc)
	return z
}

// compress encodes body with enc ("gzip" or "deflate": zlib, as Node's
// zlib.createDeflate).
func (c *compressors) compress(enc string, body []byte) ([]byte, error) {
	pool, fresh := &c.gzip, func(w io.Writer) resetWriter { return gzip.NewWriter(w) }
	if enc == "deflate" {
		pool, fresh = &c.deflate, func(w io.Writer) resetWriter { return zlib.NewWriter(w) }
	}
	var out bytes.Buffer
	out.Grow(len(body) / 3)
	zw, ok := pool.Get().(resetWriter)
	if ok {
		zw.Reset(&out)
	} else {
		zw = fresh(&out)
	}
	defer pool.Put(zw)
	if _, err := zw.Write(body); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// shouldCompress reports whether a payload of these packets may be
// compressed: one of its messages allows it (pings and noops carry no
// compress flag in Node, so they never do).
func shouldCompress(ps []packet) bool {
	for _, p := range ps {
		if p.typ == typeMessage && !p.plain {
			return true
		}
	}
	return false
}

// negotiateEncoding picks "gzip" or "deflate" from an Accept-Encoding
// header, "" if the client takes neither: the highest quality wins, gzip
// on a tie (Node's accepts(req).encodings(["gzip", "deflate"])).
func negotiateEncoding(accept string) string {
	gzipQ, deflateQ, starQ := -1.0, -1.0, 0.0 // -1: not named
	for _, part := range strings.Split(accept, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		name = strings.ToLower(strings.TrimSpace(name))
		weight := 1.0
		for _, p := range strings.Split(params, ";") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(p), "q="); ok {
				if f, err := strconv.ParseFloat(v, 64); err == nil {
					weight = f
				}
			}
		}
		switch name {
		case "gzip":
			gzipQ = weight
		case "deflate":
			deflateQ = weight
		case "*":
			starQ = weight
		}
	}
	if gzipQ < 0 {
		gzipQ = starQ
	}
	if deflateQ < 0 {
		deflateQ = starQ
	}
	switch {
	case gzipQ > 0 && gzipQ >= deflateQ:
		return "gzip"
	case deflateQ > 0:
		return "deflate"
	}
	return ""
}
