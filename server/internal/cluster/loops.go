package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"time"

	"github.com/redis/go-redis/v9"
)

// Timings of the list re-sends. Two nodes' list emits travel on separate
// connections, so a client can get them out of order; when changes to a
// board come from different nodes within raceWindow, every node re-sends
// the list from Redis to its own clients settle after the last change.
// After an outage every node writes its players back (within one
// ProbeInterval of each other) and says so; each re-sends the list
// healSettle after the last of those notices, so pages get the whole list
// rather than each node's part as it arrives.
const (
	raceWindow = 2 * time.Second
	settle     = 150 * time.Millisecond
	healSettle = 200 * time.Millisecond
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
		for {
			n.beat()
			// Down: probe often, so the list heals soon after Redis
			// returns. Up: beat each Heartbeat, or at once when a call
			// finds Redis gone (a short outage must not wait a whole beat).
			wait := n.opts.ProbeInterval
			if n.up.Load() {
				wait = n.opts.Heartbeat
			}
			t := time.NewTimer(wait)
			select {
			case <-n.ctx.Done():
				t.Stop()
				return
			case <-t.C:
			case <-n.wentDown:
				t.Stop()
				n.sleep(n.opts.ProbeInterval)
			}
		}
	}()
}

// beat refreshes the heartbeat, writes this node's players back when
// Redis may lack them, refreshes the expiry of the boards it serves, and
// reaps dead nodes. It is also the probe that closes the breaker.
func (n *Node) beat() {
	n.mu.Lock()
	draining := n.draining
	n.mu.Unlock()
	if draining {
		return
	}
	wasUp := n.up.Load()
	if !wasUp && !n.reachable() {
		return // still down: no go-redis dial, no error to log
	}
	ctx, cancel := context.WithTimeout(n.ctx, n.opts.HeartbeatTTL)
	defer cancel()
	// GET returns the old value: none means the key expired or Redis lost
	// its data, and either way other nodes may have reaped our players.
	_, err := n.rdb.SetArgs(ctx, n.key("node", n.id), "1", redis.SetArgs{TTL: n.opts.HeartbeatTTL, Get: true}).Result()
	missing := errors.Is(err, redis.Nil)
	if err != nil && !missing {
		n.failed("heartbeat", err)
		return
	}
	n.mu.Lock()
	need := n.dirty || missing || !wasUp
	n.mu.Unlock()
	if need {
		var boards []string
		if wasUp {
			boards, err = n.reassert(ctx)
		} else {
			boards, err = n.rebuild(ctx)
		}
		if err != nil {
			n.failed("rebuild", err)
			return
		}
		if !wasUp {
			n.log.Info("redis up: this node's players written back", "boards", len(boards))
		}
		n.announce(ctx, boards)
	}
	n.refresh(ctx)
	n.reap(ctx)
	n.forget()
}

// reachable is the probe while Redis is down: a plain TCP connect, so
// the outage costs no go-redis dial errors. With Sentinel the primary's
// address is go-redis's to find, so it always says yes.
func (n *Node) reachable() bool {
	if n.addr == "" {
		return true
	}
	c, err := (&net.Dialer{Timeout: n.opts.CallTimeout}).DialContext(n.ctx, "tcp", n.addr)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

// rebuild writes this node's players back to Redis after an outage,
// one script per board, and drops its entries for players that left
// meanwhile. The breaker is open, so joins and leaves meanwhile answer
// locally and mark the node dirty: it holds n.mu only to copy the players,
// and runs again if they changed. On success it closes the breaker and
// returns the boards it wrote.
func (n *Node) rebuild(ctx context.Context) ([]string, error) {
	for range 10 {
		n.mu.Lock()
		snap := n.snapshot()
		n.mu.Unlock()
		written, err := n.writeBack(ctx, snap)
		if err != nil {
			return nil, err
		}
		n.mu.Lock()
		dirty := n.dirty
		if !dirty {
			n.setUp(true) // under n.mu: no join or leave between the check and this
		}
		n.mu.Unlock()
		if !dirty {
			return written, nil
		}
	}
	return nil, errors.New("players kept changing during the rebuild")
}

// reassert writes this node's players back while Redis is up (it lost
// our entries, or this is the first beat): under n.mu, so a join or leave
// waits the few milliseconds rather than being dropped or overwritten.
func (n *Node) reassert(ctx context.Context) ([]string, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	written, err := n.writeBack(ctx, n.snapshot())
	if err != nil {
		n.dirty = true
	}
	return written, err
}

// snapshot copies this node's players as rebuildScript arguments and
// clears dirty. Callers hold n.mu.
func (n *Node) snapshot() map[string][]any {
	n.dirty = false
	snap := make(map[string][]any, len(n.local))
	for b, ps := range n.local {
		for id, p := range ps {
			score := p.score
			if score == 0 {
				score = float64(time.Now().UnixMicro())
			}
			snap[b] = append(snap[b], id, n.id+"\n"+p.initials, formatScore(score))
		}
	}
	return snap
}

// writeBack makes Redis hold exactly snap as this node's players.
func (n *Node) writeBack(ctx context.Context, snap map[string][]any) ([]string, error) {
	boards, err := n.rdb.SMembers(ctx, n.key("boards")).Result()
	if err != nil {
		return nil, err
	}
	for _, b := range boards {
		if _, ok := snap[b]; !ok {
			snap[b] = nil // may hold our entries of players gone meanwhile
		}
	}
	var written []string
	for b, players := range snap {
		args := append([]any{b, n.id, n.ttlArg()}, players...)
		changed, err := rebuildScript.Run(ctx, n.rdb, n.boardKeys(b), args...).Int()
		if err != nil {
			return nil, err
		}
		if changed > 0 || len(players) > 0 {
			written = append(written, b)
		}
	}
	return written, nil
}

// announce tells every node (this one too) which boards were rebuilt, so
// each re-sends their lists once the nodes' rebuilds have settled.
func (n *Node) announce(ctx context.Context, boards []string) {
	if len(boards) == 0 {
		return
	}
	_, err := n.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, b := range boards {
			p.Publish(ctx, n.key("changed"), n.notice(b, kindRebuilt))
		}
		return nil
	})
	if err != nil {
		n.failed("announce", err)
	}
}

// refresh pushes back the expiry of the boards this node has players or
// clients on: a board in use is never idle, however quiet.
func (n *Node) refresh(ctx context.Context) {
	n.mu.Lock()
	boards := make(map[string]bool, len(n.local))
	for b := range n.local {
		boards[b] = true
	}
	n.mu.Unlock()
	n.hooksMu.Lock()
	local := n.hooks.LocalBoards
	n.hooksMu.Unlock()
	if local != nil {
		for _, b := range local() {
			boards[b] = true
		}
	}
	if len(boards) == 0 {
		return
	}
	ttl := n.opts.BoardIdleTTL
	_, err := n.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for b := range boards {
			for _, k := range []string{"order", "who", "circles"} {
				p.PExpire(ctx, n.key("board", b, k), ttl)
			}
		}
		return nil
	})
	if err != nil {
		n.failed("refresh", err)
	}
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
			// Resubscribe once the heartbeat has found Redis back and
			// written our players: no redialling meanwhile.
			if !n.up.Load() {
				n.waitUp(0)
			} else {
				n.sleep(200 * time.Millisecond)
			}
			continue
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			// (Re)subscribed: notifications sent while we were away are
			// lost, so re-send every local board's list from Redis. Not
			// before our own players are back (then the rebuild's notice
			// does it).
			if m.Kind == "subscribe" && n.up.Load() {
				n.resendAll(healSettle)
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
	case kindRebuilt:
		n.schedule(nt.Board, healSettle)
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
	n.schedule(nt.Board, settle)
}

// schedule re-sends a board's list to local clients after the changes
// settle: wait after the last change.
func (n *Node) schedule(b string, wait time.Duration) {
	n.hooksMu.Lock()
	defer n.hooksMu.Unlock()
	if n.hooks.SendPlayers == nil || n.ctx.Err() != nil {
		return
	}
	if t, ok := n.resend[b]; ok {
		t.Reset(wait)
		return
	}
	send := n.hooks.SendPlayers
	n.resend[b] = time.AfterFunc(wait, func() {
		n.hooksMu.Lock()
		delete(n.resend, b)
		n.hooksMu.Unlock()
		if !n.up.Load() {
			// Our players are not back in Redis yet: the list would be
			// our local view. Our own rebuild's notice re-sends it.
			return
		}
		send(b)
	})
}

func (n *Node) resendAll(wait time.Duration) {
	n.hooksMu.Lock()
	local := n.hooks.LocalBoards
	n.hooksMu.Unlock()
	if local == nil {
		return
	}
	for _, b := range local() {
		n.schedule(b, wait)
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

// Drain removes this node's players from Redis at once, one script and
// one notice per board, so every other node re-sends each board's list
// once, read from Redis. Later joins and leaves here stay out of Redis and
// emit nothing of their own. Call it when shutdown starts, before any
// socket is closed.
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
