// Command server runs realtime-circles: the lesson's page on Gin with a
// Socket.IO relay. See README.md.
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/redis/go-redis/v9"

	"github.com/realtime-circles/realtime-circles/server/internal/config"
	"github.com/realtime-circles/realtime-circles/server/internal/gcpace"
)

func main() {
	if err := serve(); err != nil {
		fmt.Fprintf(os.Stderr, "server: %v\n", err)
		os.Exit(1)
	}
}

// serve sets what is process-wide, once per process and never in run
// (which tests start many times at once), then runs the server until
// SIGTERM or SIGINT.
func serve() error {
	// go-redis logs through a process-wide logger.
	redis.SetLogger(redisLog{log.New(os.Stderr, "redis: ", log.LstdFlags)})
	// GOGC is process-wide too.
	headroom, err := config.GCHeadroom(os.Getenv)
	if err != nil {
		return err
	}
	pacer := gcpace.Start(headroom)
	defer pacer.Stop()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return run(ctx, os.Args, os.Getenv, os.Stdout)
}

// redisLog drops go-redis's "failed to dial" lines, one per attempt and
// dozens per outage: the cluster node logs each outage once ("redis
// down", then "redis up"). Anything else go-redis says is kept.
type redisLog struct{ l *log.Logger }

func (r redisLog) Printf(_ context.Context, format string, v ...any) {
	if strings.Contains(format, "failed to dial") {
		return
	}
	r.l.Printf(format, v...)
}
