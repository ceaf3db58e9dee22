package cluster

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/realtime-circles/realtime-circles/server/internal/board"
)

// Redis layout, per board b (names are board.ValidName, safe in keys); K
// is <prefix><KeyFormat>:, so nodes of a release with another layout
// never read these keys as theirs (a rolling deploy across a layout change
// runs as two clusters until the old nodes are gone):
//
//	K board:<b>:order    ZSET socket id → join time (µs): the list's order
//	K board:<b>:who      HASH socket id → "<node>\n<initials>"
//	K board:<b>:circles  LIST of circle JSON, oldest first, at most board.MaxCircles
//	K boards             SET of boards that have players (what the reaper scans)
//	K node:<id>          heartbeat, expires HeartbeatTTL after the node stops
//	K changed            channel: {"b":board,"o":node,"k":kind} after each change
//	K socket.io…         the Socket.IO adapter's channels
//
// A board's keys expire BoardIdleTTL after its last change; every change
// and every heartbeat of a node with clients on the board pushes that back.
//
// Every player change runs as one script that also reads the new list
// and publishes the change, so the list returned and the order of
// notifications are Redis's own order.

// listLua appends the board's initials, in join order, to out.
const listLua = `
local ids = redis.call('ZRANGE', KEYS[1], 0, -1)
for _, id in ipairs(ids) do
  local w = redis.call('HGET', KEYS[2], id)
  if w then
    local nl = string.find(w, '\n', 1, true)
    out[#out+1] = string.sub(w, nl + 1)
  end
end
return out
`

// KEYS: order, who.
var playersScript = redis.NewScript("local out = {}\n" + listLua)

// expireLua pushes back the expiry of the board's player keys (ARGV[ttl]).
const expireLua = `
local function expire(ttl)
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('PEXPIRE', KEYS[2], ttl)
end
`

// KEYS: order, who, boards. ARGV: id, "<node>\n<initials>", board, channel, message, score or "", ttl ms.
var joinScript = redis.NewScript(expireLua + `
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score then
  if ARGV[6] ~= '' then
    score = ARGV[6]
  else
    local t = redis.call('TIME')
    score = string.format('%.0f', t[1] * 1000000 + t[2])
  end
  redis.call('ZADD', KEYS[1], score, ARGV[1])
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('SADD', KEYS[3], ARGV[3])
expire(ARGV[7])
redis.call('PUBLISH', ARGV[4], ARGV[5])
local out = {score}
` + listLua)

// rebuildScript makes the board's entries of one node exactly the given
// players, keeping the join time of those already listed, in one step.
// KEYS: order, who, boards. ARGV: board, node, ttl ms, then per player
// id, "<node>\n<initials>", score. Returns how many entries changed.
var rebuildScript = redis.NewScript(expireLua + `
local keep = {}
for i = 4, #ARGV, 3 do keep[ARGV[i]] = true end
local mine = ARGV[2] .. '\n'
local changed = 0
local all = redis.call('HGETALL', KEYS[2])
for i = 1, #all, 2 do
  if string.sub(all[i + 1], 1, #mine) == mine and not keep[all[i]] then
    redis.call('HDEL', KEYS[2], all[i])
    redis.call('ZREM', KEYS[1], all[i])
    changed = changed + 1
  end
end
for i = 4, #ARGV, 3 do
  if not redis.call('ZSCORE', KEYS[1], ARGV[i]) then
    redis.call('ZADD', KEYS[1], ARGV[i + 2], ARGV[i])
    changed = changed + 1
  end
  if redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) == 1 then
    changed = changed + 1
  end
end
if redis.call('ZCARD', KEYS[1]) == 0 then
  redis.call('SREM', KEYS[3], ARGV[1])
else
  redis.call('SADD', KEYS[3], ARGV[1])
  expire(ARGV[3])
end
return changed
`)

// KEYS: order, who, boards. ARGV: board, channel, message, ttl ms, ids...
// Returns {removed count, initials...}.
var leaveScript = redis.NewScript(expireLua + `
local removed = 0
for i = 5, #ARGV do
  removed = removed + redis.call('ZREM', KEYS[1], ARGV[i])
  redis.call('HDEL', KEYS[2], ARGV[i])
end
if redis.call('ZCARD', KEYS[1]) == 0 then
  redis.call('SREM', KEYS[3], ARGV[1])
else
  expire(ARGV[4])
end
if removed > 0 then
  redis.call('PUBLISH', ARGV[2], ARGV[3])
end
local out = {tostring(removed)}
` + listLua)

// reapScript removes the players of every node on the board whose
// heartbeat key is gone, checked inside the script so a node that has just
// re-asserted itself is never reaped. (Reads heartbeat keys not listed in
// KEYS: fine on a single Redis, which is what this app targets.)
// KEYS: order, who, boards. ARGV: board, channel, message, heartbeat key prefix, own node.
var reapScript = redis.NewScript(`
local all = redis.call('HGETALL', KEYS[2])
local alive = {}
alive[ARGV[5]] = true
local removed = 0
for i = 1, #all, 2 do
  local w = all[i + 1]
  local node = string.sub(w, 1, string.find(w, '\n', 1, true) - 1)
  if alive[node] == nil then
    alive[node] = redis.call('EXISTS', ARGV[4] .. node) == 1
  end
  if not alive[node] then
    redis.call('HDEL', KEYS[2], all[i])
    redis.call('ZREM', KEYS[1], all[i])
    removed = removed + 1
  end
end
if redis.call('ZCARD', KEYS[1]) == 0 then
  redis.call('SREM', KEYS[3], ARGV[1])
end
if removed > 0 then
  redis.call('PUBLISH', ARGV[2], ARGV[3])
end
return removed
`)

// Kinds of change notification.
const (
	kindPlayers  = "players" // a join or leave on the origin node
	kindReaped   = "reaped"  // a dead node's players were removed
	kindRebuilt  = "rebuilt" // a node re-asserted its players
	kindNodeLeft = "left"    // a node shut down and removed its players
	kindCleared  = "cleared" // circles cleared
)

type notice struct {
	Board  string `json:"b"`
	Origin string `json:"o"`
	Kind   string `json:"k"`
}

func (n *Node) notice(b, kind string) string {
	m, _ := json.Marshal(notice{Board: b, Origin: n.id, Kind: kind})
	return string(m)
}

func (n *Node) boardKeys(b string) []string {
	return []string{n.key("board", b, "order"), n.key("board", b, "who"), n.key("boards")}
}

// Join registers a player here and in Redis, and returns the shared list.
// While Redis is down (or the call fails) it answers from this node's own
// players, without waiting on Redis: the emit of that list stays on this
// node (the publisher drops cross-node messages while Redis is down), and
// the player is written back when Redis returns.
func (n *Node) Join(ctx context.Context, b string, p board.Player) ([]string, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	ps := n.local[b]
	if ps == nil {
		ps = make(map[string]localPlayer)
		n.local[b] = ps
	}
	lp := ps[p.ID]
	lp.initials = p.Initials
	if lp.score == 0 {
		lp.score = float64(time.Now().UnixMicro()) // replaced by Redis's clock below
	}
	ps[p.ID] = lp
	if n.draining {
		// Our players are out of the shared list for good: a joiner here
		// is not added, and the list this node emits is still the shared one.
		return n.sharedList(ctx, b), nil
	}
	if !n.up.Load() {
		n.dirty = true
		return n.localList(b), nil
	}
	ctx, cancel := n.callCtx(ctx)
	defer cancel()
	res, err := joinScript.Run(ctx, n.rdb, n.boardKeys(b),
		p.ID, n.id+"\n"+p.Initials, b, n.key("changed"), n.notice(b, kindPlayers), "", n.ttlArg()).StringSlice()
	if err != nil {
		n.failedWrite("join", err)
		return n.localList(b), nil
	}
	if s, err := strconv.ParseFloat(res[0], 64); err == nil {
		lp.score = s
		ps[p.ID] = lp
	}
	return res[1:], nil
}

// Leave removes a player here and from Redis.
func (n *Node) Leave(ctx context.Context, b, id string) ([]string, bool, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	_, known := n.local[b][id]
	delete(n.local[b], id)
	if len(n.local[b]) == 0 {
		delete(n.local, b)
	}
	if n.draining {
		// Drain removed this node's players from the shared list in one
		// step; a leave now changes nothing anyone else sees, and the
		// node-local list must not reach the other nodes' pages.
		return nil, false, nil
	}
	if !n.up.Load() {
		n.dirty = true
		return n.localList(b), known, nil
	}
	ctx, cancel := n.callCtx(ctx)
	defer cancel()
	res, err := leaveScript.Run(ctx, n.rdb, n.boardKeys(b), b, n.key("changed"), n.notice(b, kindPlayers), n.ttlArg(), id).StringSlice()
	if err != nil {
		n.failedWrite("leave", err)
		return n.localList(b), known, nil
	}
	return res[1:], known || res[0] != "0", nil
}

func (n *Node) removeIDs(ctx context.Context, b string, ids []string, kind string) error {
	args := append([]any{b, n.key("changed"), n.notice(b, kind), n.ttlArg()}, toAny(ids)...)
	return leaveScript.Run(ctx, n.rdb, n.boardKeys(b), args...).Err()
}

// Players lists a board's initials in join order: the shared list while
// Redis answers, this node's own players while it is down.
func (n *Node) Players(ctx context.Context, b string) ([]string, error) {
	if n.up.Load() {
		ctx, cancel := n.callCtx(ctx)
		defer cancel()
		res, err := playersScript.Run(ctx, n.rdb, n.boardKeys(b)[:2]).StringSlice()
		if err == nil {
			return res, nil
		}
		n.failed("players", err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.localList(b), nil
}

// HasPlayer looks for the initials in Players' list.
func (n *Node) HasPlayer(ctx context.Context, b, initials string) (bool, error) {
	list, err := n.Players(ctx, b)
	return slices.Contains(list, initials), err
}

// sharedList is the shared list, or this node's view while Redis is down.
// Callers hold n.mu.
func (n *Node) sharedList(ctx context.Context, b string) []string {
	if n.up.Load() {
		ctx, cancel := n.callCtx(ctx)
		defer cancel()
		res, err := playersScript.Run(ctx, n.rdb, n.boardKeys(b)[:2]).StringSlice()
		if err == nil {
			return res
		}
		n.failed("players", err)
	}
	return n.localList(b)
}

// AddCircle appends to the board's capped circle list. The write is
// queued (publish.go), never waited for: while Redis is down the circle is
// still relayed live on this node; only late joiners elsewhere miss it.
func (n *Node) AddCircle(ctx context.Context, b string, c board.Circle) error {
	_ = n.seen.AddCircle(ctx, b, c)
	data, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("encoding circle: %w", err)
	}
	k := n.key("board", b, "circles")
	ttl := n.opts.BoardIdleTTL
	n.write(func(ctx context.Context, p redis.Pipeliner) {
		p.RPush(ctx, k, data)
		p.LTrim(ctx, k, -board.MaxCircles, -1)
		p.PExpire(ctx, k, ttl)
	})
	return nil
}

// Circles returns the board's circles, oldest first. While Redis is down
// it returns the ones this node has seen drawn here.
func (n *Node) Circles(ctx context.Context, b string) ([]board.Circle, error) {
	if !n.up.Load() {
		return n.seen.Circles(ctx, b)
	}
	ctx, cancel := n.callCtx(ctx)
	defer cancel()
	raw, err := n.rdb.LRange(ctx, n.key("board", b, "circles"), 0, -1).Result()
	if err != nil {
		n.failed("circles", err)
		return n.seen.Circles(ctx, b)
	}
	out := make([]board.Circle, 0, len(raw))
	for _, r := range raw {
		var c board.Circle
		if err := json.Unmarshal([]byte(r), &c); err != nil {
			n.log.Warn("skipping undecodable circle in redis", "board", b, "err", err)
			continue
		}
		out = append(out, c)
	}
	return out, nil
}

// Clear empties the board's circles everywhere. Queued like AddCircle,
// so it lands after the circles drawn before it.
func (n *Node) Clear(ctx context.Context, b string) error {
	_ = n.seen.Clear(ctx, b)
	k, ch, msg := n.key("board", b, "circles"), n.key("changed"), n.notice(b, kindCleared)
	n.write(func(ctx context.Context, p redis.Pipeliner) {
		p.Del(ctx, k)
		p.Publish(ctx, ch, msg)
	})
	return nil
}

// failedWrite records a failure of a write this node must replay when
// Redis returns. Callers hold n.mu.
func (n *Node) failedWrite(op string, err error) {
	n.dirty = true
	n.failed(op, err)
}

// callCtx bounds one Redis call made while a caller waits (a client's
// event, under the server's board lock), so a stalled Redis costs at most
// CallTimeout once: the failure marks Redis down and later calls answer
// locally without trying.
func (n *Node) callCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, n.opts.CallTimeout)
}

func (n *Node) ttlArg() int64 { return n.opts.BoardIdleTTL.Milliseconds() }

// localList is this node's own players on a board, in join order. Callers hold n.mu.
func (n *Node) localList(b string) []string {
	type entry struct {
		id string
		p  localPlayer
	}
	var es []entry
	for id, p := range n.local[b] {
		es = append(es, entry{id, p})
	}
	slices.SortFunc(es, func(x, y entry) int {
		return cmp.Or(cmp.Compare(x.p.score, y.p.score), cmp.Compare(x.id, y.id))
	})
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.p.initials
	}
	return out
}

func formatScore(s float64) string { return strconv.FormatFloat(s, 'f', 0, 64) }

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
