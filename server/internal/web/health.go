package web

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// Health is what /healthz reports. Ready false answers 503 (draining), so
// a balancer stops sending new clients.
type Health struct {
	Ready  bool   `json:"-"`
	Status string `json:"status"` // "ok" or "draining"
	Node   string `json:"node"`   // this process's node id
	Redis  string `json:"redis"`  // "up", "down", or "off" on a single node
}

func healthz(report func() Health) gin.HandlerFunc {
	return func(c *gin.Context) {
		h := Health{Ready: true, Status: "ok", Redis: "off"}
		if report != nil {
			h = report()
		}
		code := http.StatusOK
		if !h.Ready {
			code = http.StatusServiceUnavailable
		}
		c.Header("Cache-Control", "no-store")
		c.JSON(code, h)
	}
}

// metricsRoute serves Prometheus metrics; 404 when the server has none.
func metricsRoute(h http.Handler) gin.HandlerFunc {
	if h == nil {
		return func(c *gin.Context) { c.String(http.StatusNotFound, "404 page not found") }
	}
	return gin.WrapH(h)
}
