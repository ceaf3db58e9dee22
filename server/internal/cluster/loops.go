package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Timings of the list re-sends. Two nodes' list emits travel on separate
// connections, so a client can get them out of order; when changes to a
// board come from different nodes within raceWindow, every node re-sends
// the list from Redis to its own clients settle after the last change.
const (
	raceWindow = 2 * time.Second
	settle     = 150 * time.Millisecond
)

// Start runs the heartbeat, the reaper and the change listener until Close.
func (n *Node) Start() {
	n.wg.Add(2)
	go func() {
		defer n.wg.Done()
		n.listen()
	}()
	go func() {
		defer n.wg.Done()
		t := time.NewTicker(n.opts.Heartbeat)
		defer t.Stop()
		for {
			n.beat()
			select {
			case <-n.ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

// beat refreshes the heartbeat, re-asserts this node's players when Redis
// may lack them, and reaps dead nodes.
func (n *Node) beat() {
	ctx, cancel := context.WithTimeout(n.ctx, n.opts.HeartbeatTTL)
	defer cancel()
	n.mu.Lock()
	draining := n.draining
	n.mu.Unlock()
	if draining {
		return
	}
	// GET returns the old value: none means the key expired or Redis lost
	// its data, and either way other nodes may have reaped our players.
	_, err := n.rdb.SetArgs(ctx, n.key("node", n.id), "1", redis.SetArgs{TTL: n.opts.HeartbeatTTL, Get: true}).Result()
	missing := errors.Is(err, redis.Nil)
	if err != nil && !missing {
		n.failed("heartbeat", err)
		return
	}
	n.mu.Lock()
	need := n.dirty || missing
	n.mu.Unlock()
	if need {
		if err := n.rebuild(ctx); err != nil {
			n.failed("rebuild", err)
			return
		}
	}
	if !n.up.Swap(true) {
		n.log.Info("redis up", "rebuilt", need)
	}
	n.reap(ctx)
	n.forget()
}

// rebuild writes this node's players back to Redis and drops entries of
// this node for players that left while Redis was unreachable.
func (n *Node) rebuild(ctx context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	boards, err := n.rdb.SMembers(ctx, n.key("boards")).Result()
	if err != nil {
		return err
	}
	for _, b := range boards {
		who, err := n.rdb.HGetAll(ctx, n.key("board", b, "who")).Result()
		if err != nil {
			return err
		}
		var stale []string
		for id, w := range who {
			if node, _, _ := strings.Cut(w, "\n"); node == n.id {
				if _, ok := n.local[b][id]; !ok {
					stale = append(stale, id)
				}
			}
		}
		if len(stale) > 0 {
			if err := n.removeIDs(ctx, b, stale, kindRebuilt); err != nil {
				return err
			}
		}
	}
	for b, ps := range n.local {
		for id, p := range ps {
			score := ""
			if p.score != 0 {
				score = formatScore(p.score)
			}
			if err := joinScript.Run(ctx, n.rdb, n.boardKeys(b),
				id, n.id+"\n"+p.initials, b, n.key("changed"), n.notice(b, kindRebuilt), score).Err(); err != nil {
				return err
			}
		}
	}
	n.dirty = false
	return nil
}

// reap removes the players of nodes whose heartbeat expired. Every node
// reaps; the script is atomic, so only one removes and notifies.
func (n *Node) reap(ctx context.Context) {
	boards, err := n.rdb.SMembers(ctx, n.key("boards")).Result()
	if err != nil {
		n.failed("reap", err)
		return
	}
	for _, b := range boards {
		removed, err := reapScript.Run(ctx, n.rdb, n.boardKeys(b),
			b, n.key("changed"), n.notice(b, kindReaped), n.key("node", ""), n.id).Int()
		if err != nil {
			n.failed("reap", err)
			return
		}
		if removed > 0 {
			n.log.Info("removed players of dead nodes", "board", b, "players", removed)
		}
	}
}

// listen follows change notifications. Its own loop (not the adapter's)
// so a down Redis is retried at a gentle pace.
func (n *Node) listen() {
	ps := n.rdb.Subscribe(n.ctx, n.key("changed"))
	// Receive ignores ctx once it is reading; closing the PubSub ends it.
	stop := context.AfterFunc(n.ctx, func() { _ = ps.Close() })
	defer stop()
	for {
		msg, err := ps.Receive(n.ctx)
		if err != nil {
			if n.ctx.Err() != nil || errors.Is(err, redis.ErrClosed) {
				return
			}
			n.failed("subscribe", err)
			select {
			case <-time.After(200 * time.Millisecond):
			case <-n.ctx.Done():
				return
			}
			continue
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			// (Re)subscribed: notifications sent while we were away are
			// lost, so re-send every local board's list from Redis.
			if m.Kind == "subscribe" {
				n.resendAll()
			}
		case *redis.Message:
			n.onNotice(m.Payload)
		}
	}
}

func (n *Node) onNotice(payload string) {
	var nt notice
	if err := json.Unmarshal([]byte(payload), &nt); err != nil || nt.Board == "" {
		n.log.Warn("ignoring malformed change notice", "payload", payload)
		return
	}
	switch nt.Kind {
	case kindCleared:
		if nt.Origin != n.id {
			_ = n.seen.Clear(n.ctx, nt.Board)
		}
		return
	case kindPlayers:
		now := time.Now()
		n.hooksMu.Lock()
		last := n.last[nt.Board]
		n.last[nt.Board] = origin{node: nt.Origin, at: now}
		n.hooksMu.Unlock()
		if last.node == "" || last.node == nt.Origin || now.Sub(last.at) > raceWindow {
			return // one node's emits arrive in order: nothing to fix
		}
	}
	n.schedule(nt.Board)
}

// schedule re-sends a board's list to local clients after the changes settle.
func (n *Node) schedule(b string) {
	n.hooksMu.Lock()
	defer n.hooksMu.Unlock()
	if n.hooks.SendPlayers == nil || n.ctx.Err() != nil {
		return
	}
	if t, ok := n.resend[b]; ok {
		t.Reset(settle)
		return
	}
	send := n.hooks.SendPlayers
	n.resend[b] = time.AfterFunc(settle, func() {
		n.hooksMu.Lock()
		delete(n.resend, b)
		n.hooksMu.Unlock()
		send(b)
	})
}

func (n *Node) resendAll() {
	n.hooksMu.Lock()
	local := n.hooks.LocalBoards
	n.hooksMu.Unlock()
	if local == nil {
		return
	}
	for _, b := range local() {
		n.schedule(b)
	}
}

// forget drops origin records older than the race window, so boards
// used once do not accumulate.
func (n *Node) forget() {
	n.hooksMu.Lock()
	defer n.hooksMu.Unlock()
	for b, o := range n.last {
		if time.Since(o.at) > raceWindow {
			delete(n.last, b)
		}
	}
}

// Drain removes this node's players from Redis at once and tells the
// other nodes; later joins here stay local. Call it when shutdown starts.
func (n *Node) Drain(ctx context.Context) error {
	n.mu.Lock()
	n.draining = true
	boards := make(map[string][]string, len(n.local))
	for b, ps := range n.local {
		for id := range ps {
			boards[b] = append(boards[b], id)
		}
	}
	n.mu.Unlock()
	var errs []error
	for b, ids := range boards {
		if err := n.removeIDs(ctx, b, ids, kindNodeLeft); err != nil {
			errs = append(errs, err)
		}
	}
	if err := n.rdb.Del(ctx, n.key("node", n.id)).Err(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
