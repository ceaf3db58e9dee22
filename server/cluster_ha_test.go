package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/realtime-circles/realtime-circles/server/internal/board"
	"github.com/realtime-circles/realtime-circles/server/internal/cluster"
	"github.com/realtime-circles/realtime-circles/server/internal/sioclient"
)

// listWatch records every player list one client receives, with when.
type listWatch struct {
	mu    sync.Mutex
	lists []timedList
	c     chan struct{} // closed and replaced on each list
}

type timedList struct {
	at   time.Time
	list string // initials joined with ","
}

// watchLists dials a client whose player lists are recorded as they come.
func watchLists(t testing.TB, s *testServer, opts sioclient.Options) (*sioclient.Client, *listWatch) {
	t.Helper()
	w := &listWatch{c: make(chan struct{})}
	opts.OnEvent = func(name string, args []json.RawMessage) {
		if name != "update-player-list" || len(args) == 0 {
			return
		}
		var list []string
		_ = json.Unmarshal(args[0], &list)
		w.mu.Lock()
		w.lists = append(w.lists, timedList{time.Now(), strings.Join(list, ",")})
		close(w.c)
		w.c = make(chan struct{})
		w.mu.Unlock()
	}
	return dial(t, s, opts), w
}

// since returns the lists received after t0.
func (w *listWatch) since(t0 time.Time) []timedList {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []timedList
	for _, l := range w.lists {
		if !l.at.Before(t0) {
			out = append(out, l)
		}
	}
	return out
}

// wait waits until the last list received equals want, and returns when it came.
func (w *listWatch) wait(t testing.TB, want string, limit time.Duration) time.Time {
	t.Helper()
	deadline := time.After(limit)
	for {
		w.mu.Lock()
		ch := w.c
		var last timedList
		if len(w.lists) > 0 {
			last = w.lists[len(w.lists)-1]
		}
		w.mu.Unlock()
		if last.list == want && !last.at.IsZero() {
			return last.at
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("list never became %q within %v (last %q)", want, limit, last.list)
		}
	}
}

// A node holding 200 players gets SIGTERM (with a drain delay, during
// which it still serves): observers on the other node go from the full
// list straight to the list without the node's players, never through
// [] or a partial list, and keep it.
func TestClusterSIGTERMManyPlayers(t *testing.T) {
	const victims, observers, registered = 200, 20, 5
	r := startRedis(t)
	victim := startServer(t, clusterEnv(r), "-drain-delay", "1s")
	other := startServer(t, clusterEnv(r))

	var ws []*listWatch
	var obs []*sioclient.Client
	for range observers {
		c, w := watchLists(t, other, sioclient.Options{})
		obs, ws = append(obs, c), append(ws, w)
	}
	var final []string
	for i := range registered {
		ini := "O" + strconv.Itoa(i)
		register(t, obs[i], ini)
		final = append(final, ini)
	}
	full := slices.Clone(final)
	quiet := sioclient.Options{OnEvent: func(string, []json.RawMessage) {}}
	for i := range victims {
		c := dial(t, victim, quiet)
		register(t, c, strconv.Itoa(i))
		full = append(full, strconv.Itoa(i))
	}
	for _, w := range ws {
		w.wait(t, strings.Join(full, ","), 20*time.Second)
	}

	stopped := time.Now()
	go victim.Stop(t)
	var slowest time.Duration
	for _, w := range ws {
		slowest = max(slowest, w.wait(t, strings.Join(final, ","), 10*time.Second).Sub(stopped))
	}
	// Late stray lists (a re-send timer, the victim's closes) would come
	// within a few hundred ms; give them a second.
	time.Sleep(time.Second) // waiting for events that must not come
	for i, w := range ws {
		got := w.since(stopped)
		for _, l := range got {
			if l.list != strings.Join(final, ",") && l.list != strings.Join(full, ",") {
				t.Errorf("observer %d saw %q after SIGTERM (want only the full list, then %q)", i, l.list, strings.Join(final, ","))
			}
		}
		if last := got[len(got)-1].list; last != strings.Join(final, ",") {
			t.Errorf("observer %d ends with %q", i, last)
		}
		if len(got) > 3 {
			t.Errorf("observer %d got %d lists after SIGTERM, want one per board (a re-send or two at most)", i, len(got))
		}
	}
	t.Logf("SIGTERM with %d players → right list on %d observers: %v", victims, observers, slowest)
}

// metricValue reads one sample from /metrics.
func metricValue(t testing.TB, s *testServer, name string) float64 {
	t.Helper()
	code, body := getMetrics(t, s)
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return f
		}
	}
	t.Fatalf("/metrics (%d) has no %s", code, name)
	return 0
}

// Redis is killed while a player draws: the sender's own node keeps
// delivering at local speed (acks, circles, a join), nobody honest is
// rate-limited, cross-node messages are dropped and counted, the outage
// is logged once per node; when Redis returns (empty) every client's next
// list is the whole one, soon.
func TestClusterRedisOutageTraffic(t *testing.T) {
	r := startRedis(t)
	bin := buildServer(t)
	env := func(id string) map[string]string {
		return map[string]string{"REDIS_URL": r.URL(), "NODE_ID": id, "METRICS_TOKEN": testMetricsToken}
	}
	n1 := startProcess(t, bin, env("n1"))
	n2 := startProcess(t, bin, env("n2"))

	a, wa := watchLists(t, n1.testServer, sioclient.Options{})
	a2 := dial(t, n1.testServer, sioclient.Options{})
	b, wb := watchLists(t, n2.testServer, sioclient.Options{})
	register(t, a, "AA")
	register(t, a2, "A2")
	register(t, b, "BB")
	wa.wait(t, "AA,A2,BB", 10*time.Second)
	wb.wait(t, "AA,A2,BB", 10*time.Second)

	// a draws 15 circles a second (the limit is 20/s); a2, on the same
	// node, times each one's arrival.
	var mu sync.Mutex
	sent := map[int]time.Time{}
	var lat []time.Duration
	var outageLat []time.Duration
	var ackErrs []string
	outage := false
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for {
			ctx, cancel := context.WithCancel(context.Background())
			go func() {
				select {
				case <-stop:
				case <-time.After(30 * time.Second):
				}
				cancel()
			}()
			ev, err := a2.Next(ctx, "add-circle")
			if err != nil {
				return
			}
			var c board.Circle
			_ = ev.Decode(0, &c)
			mu.Lock()
			if at, ok := sent[int(c.X)]; ok {
				d := time.Since(at)
				lat = append(lat, d)
				if outage {
					outageLat = append(outageLat, d)
				}
			}
			mu.Unlock()
		}
	}()
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Second / 15)
		defer tick.Stop()
		for i := 1; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			mu.Lock()
			sent[i] = time.Now()
			mu.Unlock()
			go func() {
				reply, err := a.EmitWithAck(ctxT(t, 10*time.Second), "add-circle", circle(float64(i)))
				if err != nil || !strings.Contains(string(reply[0]), `"ok":true`) {
					mu.Lock()
					ackErrs = append(ackErrs, fmt.Sprintf("%s %v", reply, err))
					mu.Unlock()
				}
			}()
		}
	}()

	time.Sleep(time.Second) // traffic before the outage
	mu.Lock()
	outage = true
	mu.Unlock()
	r.Kill()
	killed := time.Now()
	waitHealth(t, n1.testServer, "down")
	// A join on node 1 during the outage reaches node 1's clients at once.
	a3 := dial(t, n1.testServer, sioclient.Options{})
	joined := time.Now()
	register(t, a3, "A3")
	localJoin := wa.wait(t, "AA,A2,A3", 5*time.Second).Sub(joined)
	for time.Since(killed) < 3*time.Second {
		time.Sleep(100 * time.Millisecond) // the outage lasts 3 s
	}
	dropped := metricValue(t, n1.testServer, "circles_redis_dropped_total")
	mu.Lock()
	outage = false
	mu.Unlock()

	r.Start() // empty: no persistence
	back := time.Now()
	want := "AA,A2,BB,A3"
	var slowest time.Duration
	for _, w := range []*listWatch{wa, wb} {
		slowest = max(slowest, w.wait(t, want, 10*time.Second).Sub(back))
	}
	time.Sleep(time.Second) // traffic after the outage
	close(stop)
	wg.Wait()

	for i, w := range []*listWatch{wa, wb} {
		for _, l := range w.since(back) {
			if l.list != want {
				t.Errorf("client %d got %q %v after redis returned, want only %q", i, l.list, l.at.Sub(back), want)
			}
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(ackErrs) > 0 {
		t.Errorf("%d add-circle acks failed, e.g. %s", len(ackErrs), ackErrs[0])
	}
	if len(outageLat) < 20 {
		t.Fatalf("only %d same-node deliveries during the outage", len(outageLat))
	}
	slices.Sort(outageLat)
	p50, p99 := outageLat[len(outageLat)/2], outageLat[len(outageLat)*99/100]
	if p99 > 250*time.Millisecond {
		t.Errorf("same-node delivery during the outage: p99 %v (want ≤ 50 ms; bound 250 ms)", p99)
	}
	if dropped == 0 {
		t.Errorf("circles_redis_dropped_total = 0 after an outage with traffic")
	}
	for _, p := range []*procServer{n1, n2} {
		logs := p.logs.String()
		if n := strings.Count(logs, "redis down"); n != 1 {
			t.Errorf("node logged %d 'redis down' lines, want 1", n)
		}
		if n := strings.Count(logs, "failed to dial"); n != 0 {
			t.Errorf("node logged %d 'failed to dial' lines", n)
		}
	}
	t.Logf("outage: same-node add-circle p50 %v p99 %v (%d circles); local join %v; dropped %v; redis back → right list everywhere %v",
		p50, p99, len(outageLat), localJoin, dropped, slowest)
}

// Board keys carry the key format and expire after BOARD_IDLE_TTL
// without a change; a change pushes the expiry back, and a board with a
// client connected never expires.
func TestClusterKeysExpire(t *testing.T) {
	const ttl = 2 * time.Second
	r := startRedis(t)
	s := startServer(t, map[string]string{"REDIS_URL": r.URL(), "BOARD_IDLE_TTL": ttl.String()})
	rc := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(r.port)})
	defer rc.Close()
	ctx := ctxT(t, 60*time.Second)

	draw := func(c *sioclient.Client, x float64) {
		t.Helper()
		if reply, err := c.EmitWithAck(ctx, "add-circle", circle(x)); err != nil || !strings.Contains(string(reply[0]), `"ok":true`) {
			t.Fatalf("add-circle: %s %v", reply, err)
		}
	}
	gone := dial(t, s, sioclient.Options{Auth: map[string]any{"board": "gone"}})
	live := dial(t, s, sioclient.Options{Auth: map[string]any{"board": "live"}})
	register(t, gone, "GO")
	register(t, live, "LI")
	prefix := "rc:" + cluster.KeyFormat + ":"
	circles := prefix + "board:gone:circles"
	// Circles reach Redis through the node's write queue, just after
	// the local relay: wait for them.
	inRedis := func(k string, ok func(time.Duration) bool) {
		t.Helper()
		for d := rc.PTTL(ctx, k).Val(); !ok(d); d = rc.PTTL(ctx, k).Val() {
			if ctx.Err() != nil {
				t.Fatalf("%s: expiry %v", k, d)
			}
			time.Sleep(10 * time.Millisecond) // polling Redis
		}
	}
	draw(gone, 1)
	draw(live, 2)
	inRedis(circles, func(d time.Duration) bool { return d > 0 })
	inRedis(prefix+"board:live:circles", func(d time.Duration) bool { return d > 0 })
	keys, err := rc.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, prefix) {
			t.Errorf("key %q lacks the format prefix %q", k, prefix)
		}
		if strings.Contains(k, ":board:") {
			if d := rc.PTTL(ctx, k).Val(); d <= 0 || d > ttl {
				t.Errorf("%s expires in %v, want (0, %v]", k, d, ttl)
			}
		}
	}
	if !slices.Contains(keys, circles) || !slices.Contains(keys, prefix+"board:gone:who") {
		t.Fatalf("keys %v lack board gone's", keys)
	}

	// A change pushes the expiry back. (A node without clients on the
	// board, and without the heartbeat loop, so nothing else does.)
	writer, err := cluster.New(cluster.Options{URL: r.URL(), NodeID: "test-writer", BoardIdleTTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close()
	quiet := prefix + "board:quiet:circles"
	_ = writer.AddCircle(ctx, "quiet", board.Circle{Initials: "QQ", X: 1, Y: 1, Dia: 5, RGBA: "red"})
	inRedis(quiet, func(d time.Duration) bool { return d > 0 && d <= ttl/2 })
	drawn := time.Now()
	_ = writer.AddCircle(ctx, "quiet", board.Circle{Initials: "QQ", X: 2, Y: 1, Dia: 5, RGBA: "red"})
	inRedis(quiet, func(d time.Duration) bool { return d > ttl*3/4 })
	if time.Since(drawn) > ttl/4 {
		t.Errorf("the expiry was pushed back only %v after a new circle", time.Since(drawn))
	}

	// Nobody on board gone: its keys go after the TTL. Board live has a
	// client, so its keys stay, though it has not changed for longer.
	gone.Close()
	left := time.Now()
	for rc.Exists(ctx, circles).Val() == 1 {
		if time.Since(left) > ttl+5*time.Second {
			t.Fatalf("%s still there %v after its board's last change", circles, time.Since(left))
		}
		time.Sleep(50 * time.Millisecond) // polling Redis
	}
	t.Logf("idle board's keys expired %v after its client left (TTL %v, pushed back each second while it had one)", time.Since(left), ttl)
	for _, k := range []string{"circles", "who", "order"} {
		if rc.Exists(ctx, prefix+"board:live:"+k).Val() != 1 {
			t.Errorf("board live (client connected) lost its %s key", k)
		}
	}
	if got := boardOf(t, dial(t, s, sioclient.Options{Auth: map[string]any{"board": "live"}})); len(got) != 1 {
		t.Errorf("late joiner on board live got %d circles, want 1", len(got))
	}
}

// startSentinel runs one redis-sentinel on a free loopback port watching
// primary under the name "circles", quick to declare it down.
func startSentinel(t testing.TB, primary *redisServer) int {
	t.Helper()
	bin, err := exec.LookPath("redis-sentinel")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("redis-sentinel not installed: %v", err)
		}
		t.Skipf("redis-sentinel not installed: %v", err)
	}
	port := freePort(t)
	conf := filepath.Join(t.TempDir(), "sentinel.conf") // sentinel rewrites it
	text := fmt.Sprintf(`port %d
bind 127.0.0.1
sentinel monitor circles 127.0.0.1 %d 1
sentinel down-after-milliseconds circles 500
sentinel failover-timeout circles 5000
`, port, primary.port)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, conf)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting redis-sentinel: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return port
}

// With REDIS_URL naming a Sentinel-managed primary, the primary's death
// is a short outage: Sentinel promotes the replica, the nodes find it
// through Sentinel, the list (replicated) is intact, and joins and
// circles cross nodes again.
func TestClusterSentinelFailover(t *testing.T) {
	primary := startRedis(t)
	replica := newRedis(t)
	replica.extra = []string{"--replicaof", "127.0.0.1", strconv.Itoa(primary.port)}
	replica.Start()
	sport := startSentinel(t, primary)
	ctx := ctxT(t, 90*time.Second)
	sc := redis.NewSentinelClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(sport)})
	defer sc.Close()
	for {
		// Sentinel must know the replica before it can promote it.
		if rs, err := sc.Replicas(ctx, "circles").Result(); err == nil && len(rs) == 1 && rs[0]["flags"] == "slave" {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("sentinel never saw the replica")
		}
		time.Sleep(100 * time.Millisecond) // polling sentinel
	}

	env := map[string]string{"REDIS_URL": "redis-sentinel://127.0.0.1:" + strconv.Itoa(sport) + "/circles"}
	n1, n2 := startServer(t, env), startServer(t, env)
	a := dial(t, n1, sioclient.Options{})
	b, wb := watchLists(t, n2, sioclient.Options{})
	b2 := dial(t, n2, sioclient.Options{}) // b's events go to its watcher
	register(t, a, "AA")
	register(t, b, "BB")
	wb.wait(t, "AA,BB", 10*time.Second)
	rp := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(replica.port)})
	defer rp.Close()
	for rp.ZCard(ctx, "rc:"+cluster.KeyFormat+":board:main:order").Val() != 2 {
		if ctx.Err() != nil {
			t.Fatal("the list never reached the replica")
		}
		time.Sleep(20 * time.Millisecond) // polling the replica
	}

	primary.Kill()
	killed := time.Now()
	for {
		addr, err := sc.GetMasterAddrByName(ctx, "circles").Result()
		if err == nil && addr[1] == strconv.Itoa(replica.port) {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("sentinel never promoted the replica")
		}
		time.Sleep(50 * time.Millisecond) // polling sentinel
	}
	promoted := time.Since(killed)

	// A join on node 1 after the failover reaches node 2 with the
	// players from before it; node 2's page never shows another list.
	register(t, dial(t, n1, sioclient.Options{}), "CC")
	at := wb.wait(t, "AA,BB,CC", 30*time.Second)
	for _, l := range wb.since(killed) {
		if l.list != "AA,BB" && l.list != "AA,BB,CC" {
			t.Errorf("node 2's client got %q during the failover", l.list)
		}
	}
	// Circles cross nodes again (the adapter resubscribed to the new primary).
	drawUntilCrossed(t, ctx, a, b2, "after the failover")
	t.Logf("sentinel failover: promoted %v after the kill; list with a new player on the other node %v after; circles cross %v after",
		promoted, at.Sub(killed), time.Since(killed))
}
