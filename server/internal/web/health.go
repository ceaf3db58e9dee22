package web

import (
	"crypto/subtle"
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

// metricsRoute serves Prometheus metrics to a scraper that sends the
// token; 404 without a token configured (or without metrics), so the
// public port does not even show that /metrics exists.
func metricsRoute(h http.Handler, token string) gin.HandlerFunc {
	if h == nil || token == "" {
		return func(c *gin.Context) { c.String(http.StatusNotFound, "404 page not found") }
	}
	want := []byte("Bearer " + token)
	return func(c *gin.Context) {
		if subtle.ConstantTimeCompare([]byte(c.GetHeader("Authorization")), want) != 1 {
			c.Header("WWW-Authenticate", `Bearer realm="metrics"`)
			c.String(http.StatusUnauthorized, "401 unauthorized: send Authorization: Bearer $METRICS_TOKEN")
			return
		}
		h.ServeHTTP(c.Writer, c.Request)
	}
}
