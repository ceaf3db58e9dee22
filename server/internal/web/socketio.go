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
func socketIO(engine http.Handler) gin.HandlerFunc {
	return func(c *gin.Context) {
		switch c.Param("path") {
		case "/socket.io.js":
			serveBundle(c, "application/javascript; charset=utf-8", clientjs.Script)
			return
		case "/socket.io.js.map":
			serveBundle(c, "application/json; charset=utf-8", clientjs.SourceMap)
			return
		}
		engine.ServeHTTP(c.Writer, c.Request)
	}
}

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
