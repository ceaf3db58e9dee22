package web

import (
	"log/slog"
	"time"

	"github.com/gin-gonic/gin"
)

// accessLog writes one debug line per request; Socket.IO polling makes
// request lines too chatty for info level.
func accessLog(log *slog.Logger) gin.HandlerFunc {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		log.Debug("http", "method", c.Request.Method, "path", c.Request.URL.Path,
			"status", c.Writer.Status(), "dur", time.Since(start))
	}
}
