package main

import (
	"context"
	"log/slog"
	"sync/atomic"

	"github.com/realtime-circles/realtime-circles/server/internal/cluster"
	"github.com/realtime-circles/realtime-circles/server/internal/config"
	"github.com/realtime-circles/realtime-circles/server/internal/metrics"
	"github.com/realtime-circles/realtime-circles/server/internal/realtime"
	"github.com/realtime-circles/realtime-circles/server/internal/web"
)

// membership is this process's place in a cluster: nil node on a single
// node. It owns the draining flag /healthz reports.
type membership struct {
	id       string // NODE_ID, else made up at start: /healthz names it on a single node too
	node     *cluster.Node
	draining atomic.Bool
}

// joinCluster sets up the Redis node when REDIS_URL is set and points the
// Socket.IO options at its store and adapter.
func joinCluster(cfg config.Config, log *slog.Logger, m *metrics.Metrics, opts *realtime.Options) (*membership, error) {
	ms := &membership{id: cfg.NodeID}
	if ms.id == "" {
		ms.id = cluster.NewNodeID()
	}
	if cfg.RedisURL == "" {
		return ms, nil
	}
	node, err := cluster.New(cluster.Options{
		URL: cfg.RedisURL, TLSVerify: cfg.RedisTLSVerify, NodeID: ms.id,
		BoardIdleTTL: cfg.BoardIdleTTL,
		Logger:       log, OnRedisError: m.RedisError, OnDropped: m.RedisDropped,
	})
	if err != nil {
		return nil, err
	}
	ms.node = node
	opts.Store = node
	opts.Adapter = node.Adapter()
	log.Info("cluster mode", "node", node.ID())
	return ms, nil
}

// start connects the node to the Socket.IO server and starts its loops.
func (ms *membership) start(rt *realtime.Server) {
	if ms.node != nil {
		ms.node.SetHooks(cluster.Hooks{SendPlayers: rt.SendPlayers, LocalBoards: rt.LocalBoards})
		ms.node.Start()
	}
}

// drain marks the node as leaving (/healthz 503) and removes its players
// from the shared list at once.
func (ms *membership) drain(ctx context.Context, log *slog.Logger) {
	ms.draining.Store(true)
	if ms.node != nil {
		if err := ms.node.Drain(ctx); err != nil {
			log.Error("removing this node's players from redis", "err", err)
		}
	}
}

func (ms *membership) close(log *slog.Logger) {
	if ms.node != nil {
		if err := ms.node.Close(); err != nil {
			log.Error("closing cluster node", "err", err)
		}
	}
}

func (ms *membership) health() web.Health {
	h := web.Health{Ready: true, Status: "ok", Redis: "off", Node: ms.id}
	if ms.node != nil {
		h.Node = ms.node.ID()
		h.Redis = map[bool]string{true: "up", false: "down"}[ms.node.RedisUp()]
	}
	if ms.draining.Load() {
		h.Ready, h.Status = false, "draining"
	}
	return h
}
