package web

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/realtime-circles/realtime-circles/server/internal/web/clientjs"
)

// clientETag changes only when the embedded bundle does.
const clientETag = `"socket.io-client-` + clientjs.Version + `"`

// socketIO routes /socket.io/*: the client bundle, else the engine.
func socketIO(engine http.Handler, maxBody int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		switch c.Param("path") {
		case "/socket.io.js":
			serveBundle(c, "application/javascript; charset=utf-8", clientjs.Script)
			return
		case "/socket.io.js.map":
			serveBundle(c, "application/json; charset=utf-8", clientjs.SourceMap)
			return
		}
		if !bodyFits(c, maxBody) {
			// Node closes a session sent an oversize body; so do we.
			if sc, ok := engine.(sessionCloser); ok && c.Query("sid") != "" {
				sc.CloseSession(c.Query("sid"), "polling body without Content-Length or too large")
			}
			return
		}
		engine.ServeHTTP(c.Writer, c.Request)
		closeIfAbandoned(c, engine)
	}
}

// closeIfAbandoned ends the session of a long-poll GET whose client went
// away before it was answered: a closed tab (or a lost network) aborts its
// poll and sends nothing else. Node's engine.io closes the session then
// ("poll connection closed prematurely"), so the socket disconnects at once
// and a lesson page's player leaves at once; the library would wait for the
// ping timeout. The request context ends while the handler runs only when
// the client's connection closes.
func closeIfAbandoned(c *gin.Context, engine http.Handler) {
	r := c.Request
	sid := c.Query("sid")
	if r.Method != http.MethodGet || sid == "" || c.Query("transport") != "polling" || r.Context().Err() == nil {
		return
	}
	if sc, ok := engine.(sessionCloser); ok {
		sc.CloseSession(sid, "poll connection closed prematurely")
	}
}

// sessionCloser ends an Engine.IO session (realtime's handler has it).
type sessionCloser interface{ CloseSession(sid, reason string) }

// serveBundle serves an embedded file with a version ETag, answering
// revalidations with 304 as Node's socket.io does.
func serveBundle(c *gin.Context, contentType string, body []byte) {
	if c.Request.Method != http.MethodGet && c.Request.Method != http.MethodHead {
		c.String(http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	h := c.Writer.Header()
	h.Set("Cache-Control", "public, max-age=0")
	h.Set("ETag", clientETag)
	if match := c.GetHeader("If-None-Match"); match == clientETag || match == "W/"+clientETag {
		c.Status(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	c.Status(http.StatusOK)
	if c.Request.Method == http.MethodGet {
		_, _ = c.Writer.Write(body)
	}
}

// bodyFits refuses polling POSTs whose size is unknown or over the limit
// with 413 before the engine reads them: the library cuts an oversize
// chunked body silently and answers 200.
func bodyFits(c *gin.Context, max int64) bool {
	if c.Request.Method != http.MethodPost {
		return true
	}
	if c.Request.ContentLength < 0 || c.Request.ContentLength > max {
		c.Header("Connection", "close")
		c.String(http.StatusRequestEntityTooLarge, "body too large: at most "+strconv.FormatInt(max, 10)+" bytes with a Content-Length")
		c.Abort()
		return false
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, max)
	return true
}
