// Package web holds the HTTP side: every route of the app in one place,
// the page, static files, the Socket.IO client bundle and the guards in
// front of Socket.IO.
package web

import (
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/realtime-circles/realtime-circles/server/internal/board"
)

// Config is what the routes need.
type Config struct {
	Logger *slog.Logger
	// Views and Public are the page's templates and static files
	// (the repo's views/ and public/ directories).
	Views, Public fs.FS
	// ReloadViews re-parses templates on each request (students editing views/).
	ReloadViews bool
	// SocketIO serves Engine.IO requests under /socket.io/.
	SocketIO http.Handler
	// Health reports /healthz; Metrics serves /metrics (Prometheus).
	Health  func() Health
	Metrics http.Handler
	// MetricsToken must come as "Authorization: Bearer <token>" for
	// /metrics; empty: /metrics is 404 here (serve it on METRICS_ADDR).
	MetricsToken string
	// BoardOpen reports whether a board may be opened (it exists, or the
	// node has room for another); nil: always.
	BoardOpen func(name string) bool
	// WSDemo serves the plain-WebSocket cursor demo's socket at /ws (nil: off).
	WSDemo http.Handler
}

// NewHandler returns the app's HTTP handler: all routes are declared here.
func NewHandler(cfg Config) (http.Handler, error) {
	pages, err := newPages(cfg.Views, cfg.ReloadViews)
	if err != nil {
		return nil, err
	}
	pages.open = cfg.BoardOpen
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(gin.Recovery(), pathLimits, accessLog(cfg.Logger))
	r.HandleMethodNotAllowed = false

	r.GET("/", pages.board(board.Default))
	r.GET("/b/:name", pages.namedBoard)
	r.Any("/socket.io/*path", socketIO(cfg.SocketIO))
	r.GET("/healthz", healthz(cfg.Health))
	r.GET("/metrics", metricsRoute(cfg.Metrics, cfg.MetricsToken))
	if cfg.WSDemo != nil {
		r.GET("/ws", wsDemo(cfg.WSDemo))
	}
	r.NoRoute(static(cfg.Public))
	return r, nil
}

// static serves public/ for GET and HEAD, like express.static in the lesson.
func static(public fs.FS) gin.HandlerFunc {
	files := http.FileServerFS(public)
	return func(c *gin.Context) {
		if c.Request.Method != http.MethodGet && c.Request.Method != http.MethodHead {
			c.String(http.StatusNotFound, "404 page not found")
			return
		}
		files.ServeHTTP(c.Writer, c.Request)
	}
}

// Path limits: a file name is at most 255 bytes on the filesystems
// public/ lives on (longer asks the OS for ENAMETOOLONG, which the file
// server answers with 500), and no route takes a URL near 8 KiB.
const (
	maxSegment = 255
	maxURI     = 8 << 10
)

// pathLimits answers over-long URLs with 414 and over-long path segments
// with 404 before any route sees them.
func pathLimits(c *gin.Context) {
	if len(c.Request.RequestURI) > maxURI {
		c.String(http.StatusRequestURITooLong, "URI too long: at most %d bytes", maxURI)
		c.Abort()
		return
	}
	for seg := range strings.SplitSeq(c.Request.URL.Path, "/") {
		if len(seg) > maxSegment {
			c.String(http.StatusNotFound, "404 page not found")
			c.Abort()
			return
		}
	}
}

type pages struct {
	views  fs.FS
	reload bool
	tmpl   *template.Template
	open   func(string) bool
}

func newPages(views fs.FS, reload bool) (*pages, error) {
	p := &pages{views: views, reload: reload}
	t, err := p.parse()
	if err != nil {
		return nil, err
	}
	p.tmpl = t
	return p, nil
}

func (p *pages) parse() (*template.Template, error) {
	return template.ParseFS(p.views, "*.html")
}

func (p *pages) namedBoard(c *gin.Context) {
	name := c.Param("name")
	if !board.ValidName(name) {
		c.String(http.StatusNotFound, "no such board: a board name is 1–32 letters, digits or '-'")
		return
	}
	if p.open != nil && !p.open(name) {
		c.Header("Retry-After", "60")
		c.String(http.StatusServiceUnavailable, board.ErrFull.Error())
		return
	}
	p.board(name)(c)
}

func (p *pages) board(name string) gin.HandlerFunc {
	return func(c *gin.Context) {
		t := p.tmpl
		if p.reload {
			var err error
			if t, err = p.parse(); err != nil {
				c.String(http.StatusInternalServerError, "views/: %v", err)
				return
			}
		}
		c.Header("Content-Type", "text/html; charset=utf-8")
		c.Status(http.StatusOK)
		if err := t.ExecuteTemplate(c.Writer, "index.html", map[string]any{
			"Board":     name,
			"IsDefault": name == board.Default,
		}); err != nil {
			_ = c.Error(err)
		}
	}
}

// wsDemo upgrades WebSocket requests to the demo's hub; a browser opening
// /ws itself is sent to the demo's page.
func wsDemo(hub http.Handler) gin.HandlerFunc {
	return func(c *gin.Context) {
		if !strings.EqualFold(c.GetHeader("Upgrade"), "websocket") {
			c.Redirect(http.StatusFound, "/ws-demo.html")
			return
		}
		hub.ServeHTTP(c.Writer, c.Request)
	}
}
