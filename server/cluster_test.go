package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/realtime-circles/realtime-circles/server/internal/board"
	"github.com/realtime-circles/realtime-circles/server/internal/cluster"
	"github.com/realtime-circles/realtime-circles/server/internal/realtime"
	"github.com/realtime-circles/realtime-circles/server/internal/sioclient"
)

// redisServer is a real redis-server on a free loopback port, without
// persistence, killed when the test ends.
type redisServer struct {
	t    testing.TB
	bin  string
	port int
	cmd  *exec.Cmd
	// certFile and keyFile, when set, make it listen with TLS only.
	certFile, keyFile string
	extra             []string // more redis-server arguments (--replicaof …)
	dir               string   // working directory (dump files)
}

func startRedis(t testing.TB) *redisServer {
	t.Helper()
	r := newRedis(t)
	r.Start()
	return r
}

func newRedis(t testing.TB) *redisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("redis-server not installed: %v", err)
		}
		t.Skipf("redis-server not installed: %v", err)
	}
	r := &redisServer{t: t, bin: bin, port: freePort(t), dir: t.TempDir()}
	t.Cleanup(r.Kill)
	return r
}

func (r *redisServer) URL() string {
	scheme := "redis"
	if r.certFile != "" {
		scheme = "rediss"
	}
	return scheme + "://127.0.0.1:" + strconv.Itoa(r.port) + "/0"
}

// Start (re)starts the server on its port and waits until it answers.
func (r *redisServer) Start() {
	r.t.Helper()
	port := strconv.Itoa(r.port)
	// --dir: a replica's full sync writes dump.rdb even without --save.
	args := []string{"--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--loglevel", "warning", "--dir", r.dir, "--port", port}
	opts := &redis.Options{Addr: "127.0.0.1:" + port}
	if r.certFile != "" {
		args = append(args[:len(args)-1], "0", "--tls-port", port, "--tls-cert-file", r.certFile, "--tls-key-file", r.keyFile, "--tls-auth-clients", "no")
		opts.TLSConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the test's own self-signed certificate
	}
	r.cmd = exec.Command(r.bin, append(args, r.extra...)...)
	r.cmd.Stdout, r.cmd.Stderr = io.Discard, io.Discard
	if err := r.cmd.Start(); err != nil {
		r.t.Fatalf("starting redis-server: %v", err)
	}
	c := redis.NewClient(opts)
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for c.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			r.t.Fatalf("redis-server on %d not answering", r.port)
		}
		time.Sleep(20 * time.Millisecond) // polling for readiness
	}
}

// Kill stops the server with SIGKILL, as a crash would.
func (r *redisServer) Kill() {
	if r.cmd != nil && r.cmd.Process != nil {
		_ = r.cmd.Process.Kill()
		_ = r.cmd.Wait()
		r.cmd = nil
	}
}

// testNode is an extra cluster member the test drives directly, to read
// what Redis holds through the same store the servers use.
func testNode(t testing.TB, url string) *cluster.Node {
	t.Helper()
	n, err := cluster.New(cluster.Options{URL: url, NodeID: "test-reader"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close() })
	return n
}

func clusterEnv(r *redisServer) map[string]string { return map[string]string{"REDIS_URL": r.URL()} }

// Every event crosses nodes: player lists, add-circle, each clear alias;
// all nodes show the same list; circles drawn on node 1 are in Redis for a
// late joiner on node 3 and survive node 1 stopping.
func TestClusterEventsCross(t *testing.T) {
	r := startRedis(t)
	nodes := []*testServer{startServer(t, clusterEnv(r)), startServer(t, clusterEnv(r)), startServer(t, clusterEnv(r))}
	var cs []*sioclient.Client
	for _, n := range nodes {
		cs = append(cs, dial(t, n, sioclient.Options{}))
	}
	for i, ini := range []string{"AA", "BB", "CC"} {
		register(t, cs[i], ini)
		for _, c := range cs {
			waitPlayers(t, c, []string{"AA", "BB", "CC"}[:i+1]...)
		}
	}

	// add-circle from each node reaches every node; figures for the report.
	var worst time.Duration
	for i, sender := range cs {
		start := time.Now()
		if err := sender.Emit("add-circle", map[string]any{"x": i + 1, "y": 2, "dia": 3, "rgba": "red"}); err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			var got board.Circle
			if err := next(t, c, "add-circle").Decode(0, &got); err != nil {
				t.Fatal(err)
			}
			if int(got.X) != i+1 || got.Initials != []string{"AA", "BB", "CC"}[i] {
				t.Errorf("client %d got %+v from node %d", i, got, i+1)
			}
			worst = max(worst, time.Since(start))
		}
	}
	t.Logf("add-circle to 3 nodes: slowest delivery %v", worst)

	// A late joiner on node 3 gets node 1's circles from the shared store.
	reader := testNode(t, r.URL())
	circles, err := reader.Circles(ctxT(t, 5*time.Second), board.Default)
	if err != nil || len(circles) != 3 {
		t.Fatalf("circles in redis = %v, %v; want the 3 drawn", circles, err)
	}

	// Each clear alias sent on node 2 reaches every client under every name.
	for _, name := range realtime.ClearEvents {
		if err := cs[1].Emit(name); err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			for _, alias := range realtime.ClearEvents {
				next(t, c, alias)
			}
		}
	}
	if circles, _ := reader.Circles(ctxT(t, 5*time.Second), board.Default); len(circles) != 0 {
		t.Errorf("after clear, redis holds %d circles", len(circles))
	}

	// A circle drawn, then node 1 stops: its players leave the list
	// everywhere, the circle stays for late joiners.
	cs[0].Emit("add-circle", map[string]any{"x": 9, "y": 9, "dia": 9, "rgba": "blue"})
	next(t, cs[2], "add-circle")
	nodes[0].Stop(t)
	waitPlayers(t, cs[1], "BB", "CC")
	waitPlayers(t, cs[2], "BB", "CC")
	if circles, _ := reader.Circles(ctxT(t, 5*time.Second), board.Default); len(circles) != 1 || circles[0].X != 9 {
		t.Errorf("after node 1 stopped, redis circles = %v", circles)
	}
}

// Registrations racing on three nodes end with every client holding the
// list Redis holds, whatever order the nodes' emits arrived in.
func TestClusterListConverges(t *testing.T) {
	r := startRedis(t)
	var cs []*sioclient.Client
	for range 3 {
		n := startServer(t, clusterEnv(r))
		cs = append(cs, dial(t, n, sioclient.Options{}), dial(t, n, sioclient.Options{}))
	}
	done := make(chan error, len(cs))
	for i, c := range cs {
		go func() {
			_, err := c.EmitWithAck(ctxT(t, 10*time.Second), "register-player", "P"+strconv.Itoa(i))
			done <- err
		}()
	}
	for range cs {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	truth, err := testNode(t, r.URL()).Players(ctxT(t, 5*time.Second), board.Default)
	if err != nil || len(truth) != len(cs) {
		t.Fatalf("redis list = %v, %v", truth, err)
	}
	for _, c := range cs {
		waitPlayers(t, c, truth...)
	}
}

// A node killed with SIGKILL leaves no trace: its players vanish from
// every other node's list within 10 s (heartbeat TTL 5 s + reaper 1 s).
func TestClusterNodeKilled(t *testing.T) {
	r := startRedis(t)
	bin := buildServer(t)
	victim := startProcess(t, bin, map[string]string{"REDIS_URL": r.URL(), "NODE_ID": "victim"})
	survivor := startServer(t, clusterEnv(r))

	x := dial(t, victim.testServer, sioclient.Options{})
	y := dial(t, survivor, sioclient.Options{})
	register(t, x, "KI")
	register(t, y, "YY")
	waitPlayers(t, y, "KI", "YY")

	killed := time.Now()
	victim.kill()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		ev, err := y.Next(ctx, "update-player-list")
		if err != nil {
			t.Fatalf("the killed node's player still listed 10 s after kill -9: %v", err)
		}
		var list []string
		_ = ev.Decode(0, &list)
		if strings.Join(list, ",") == "YY" {
			break
		}
	}
	t.Logf("kill -9 → player list without the dead node's players: %v", time.Since(killed))
}

// Redis dies mid-class: each node keeps serving its own clients (circles
// and the local list), /healthz says so; when Redis comes back the nodes
// reconnect by themselves and the list is rebuilt from every node.
func TestClusterRedisRestart(t *testing.T) {
	r := startRedis(t)
	n1, n2 := startServer(t, clusterEnv(r)), startServer(t, clusterEnv(r))
	a, a2 := dial(t, n1, sioclient.Options{}), dial(t, n1, sioclient.Options{})
	b := dial(t, n2, sioclient.Options{})
	register(t, a, "AA")
	register(t, b, "BB")
	waitPlayers(t, a2, "AA", "BB")

	r.Kill()
	waitHealth(t, n1, "down")
	// Local delivery continues.
	if _, err := a.EmitWithAck(ctxT(t, 10*time.Second), "add-circle", map[string]any{"x": 1, "y": 1, "dia": 5, "rgba": "red"}); err != nil {
		t.Fatal(err)
	}
	next(t, a2, "add-circle")
	register(t, a2, "A2")
	waitPlayers(t, a, "AA", "A2") // node 1 alone knows its own players

	restarted := time.Now()
	r.Start() // empty: no persistence
	waitHealth(t, n1, "up")
	waitHealth(t, n2, "up")
	waitPlayers(t, b, "AA", "BB", "A2")
	waitPlayers(t, a, "AA", "BB", "A2")
	t.Logf("redis restart → list rebuilt on the other node: %v", time.Since(restarted))

	// Emits cross again once the adapter has resubscribed (messages sent
	// before that are lost, so keep drawing until one arrives).
	drawUntilCrossed(t, ctxT(t, 20*time.Second), a, b, "20 s after redis restarted")
	t.Logf("redis restart → add-circle crosses nodes again: %v", time.Since(restarted))
}

// /healthz names the node and Redis state; /metrics counts events.
func TestClusterHealthAndMetrics(t *testing.T) {
	r := startRedis(t)
	s := startServer(t, clusterEnv(r))
	h := waitHealth(t, s, "up")
	if h.Node == "" || h.Status != "ok" {
		t.Errorf("healthz = %+v", h)
	}
	c := dial(t, s, sioclient.Options{})
	register(t, c, "MM")
	c.Emit("add-circle", map[string]any{"x": 1, "y": 1, "dia": 5, "rgba": "red"})
	next(t, c, "add-circle")
	c.Emit("no-such-event-" + strings.Repeat("x", 10))
	c.EmitWithAck(ctxT(t, 5*time.Second), "add-circle", "bad")

	_, body := getMetrics(t, s)
	for _, want := range []string{
		`circles_connected_clients 1`,
		`circles_events_in_total{event="add-circle"} 2`,
		`circles_events_in_total{event="other"} 1`,
		`circles_events_out_total{event="add-circle"} 1`,
		`circles_events_out_total{event="update-player-list"}`,
		`circles_events_rejected_total{event="add-circle"} 1`,
		`circles_redis_errors_total 0`,
		`circles_redis_dropped_total 0`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

type health struct{ Status, Node, Redis string }

// waitHealth polls /healthz until Redis has the given state.
func waitHealth(t testing.TB, s *testServer, redisState string) health {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var h health
		resp, err := http.Get(s.URL + "/healthz")
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&h)
			resp.Body.Close()
		}
		if err == nil && h.Redis == redisState {
			return h
		}
		if time.Now().After(deadline) {
			t.Fatalf("healthz never reported redis %s (last %+v, %v)", redisState, h, err)
		}
		time.Sleep(50 * time.Millisecond) // polling, not asserting
	}
}

// buildServer compiles the server, for tests that must kill it for real.
func buildServer(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "server")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// procServer is the server as a child process.
type procServer struct {
	*testServer
	cmd    *exec.Cmd
	waited chan struct{} // closed when the process has exited
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *procServer) kill() {
	_ = p.cmd.Process.Kill()
	<-p.waited
}

func startProcess(t testing.TB, bin string, env map[string]string) *procServer {
	t.Helper()
	port := freePort(t)
	cmd := exec.Command(bin, "-addr", "127.0.0.1:"+strconv.Itoa(port), "-dir", "..")
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &procServer{testServer: &testServer{URL: "http://127.0.0.1:" + strconv.Itoa(port), Port: port, logs: logs}, cmd: cmd, waited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.waited) }()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("server process output:\n%s", logs.String())
		}
	})
	// Ready when /healthz names this process: the port was free when
	// picked, but another process on a shared machine may have taken it.
	exited := p.waited
	deadline := time.Now().Add(20 * time.Second)
	for {
		var h health
		resp, err := http.Get(p.URL + "/healthz")
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&h)
			resp.Body.Close()
		}
		if err == nil && h.Node == env["NODE_ID"] {
			return p
		}
		select {
		case <-exited:
			t.Fatalf("server process exited:\n%s", logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("server process not ready (%+v, %v):\n%s", h, err, logs.String())
		}
		time.Sleep(20 * time.Millisecond) // polling for readiness
	}
}

// Through the real server: once run's context is cancelled (SIGTERM),
// /healthz answers 503 "draining" for -drain-delay while connected clients
// are still served; only then are they told to go. The server never stops
// answering before /healthz said so.
func TestHealthDrainingHTTP(t *testing.T) {
	s := startServer(t, nil, "-drain-delay", "3s")
	c := dial(t, s, sioclient.Options{})
	register(t, c, "DR")
	if code, h := getHealth(t, s); code != http.StatusOK || h.Status != "ok" {
		t.Fatalf("healthz before shutdown: %d %+v", code, h)
	}
	s.stop() // what SIGTERM does to run's context
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, h := getHealth(t, s)
		if code == http.StatusServiceUnavailable && h.Status == "draining" {
			break
		}
		if code != http.StatusOK || time.Now().After(deadline) {
			t.Fatalf("healthz after shutdown began: %d %+v; want 503 draining", code, h)
		}
		time.Sleep(10 * time.Millisecond) // polling, not asserting
	}
	if reply, err := c.EmitWithAck(ctxT(t, 10*time.Second), "add-circle", circle(1)); err != nil || !strings.Contains(string(reply[0]), `"ok":true`) {
		t.Errorf("add-circle while draining: %s, %v", reply, err)
	}
	select {
	case <-c.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("client not told to go after the drain delay")
	}
	s.Stop(t)
}

// getHealth fetches /healthz; a failed request fails the test.
func getHealth(t testing.TB, s *testServer) (int, health) {
	t.Helper()
	resp, err := http.Get(s.URL + "/healthz")
	if err != nil {
		t.Fatalf("healthz: %v", err)
	}
	defer resp.Body.Close()
	var h health
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		t.Fatalf("healthz body: %v", err)
	}
	return resp.StatusCode, h
}

// /healthz answers 503 once shutdown has begun, so a balancer stops
// sending new clients to a draining node.
func TestHealthDraining(t *testing.T) {
	ms := &membership{id: "n1"}
	if h := ms.health(); !h.Ready || h.Redis != "off" || h.Node != "n1" {
		t.Errorf("single node health = %+v", h)
	}
	ms.drain(context.Background(), nil)
	if h := ms.health(); h.Ready || h.Status != "draining" {
		t.Errorf("draining health = %+v, want not ready", h)
	}
}

// What one node shows for boards, batching, cursors and the seeds' events
// is the same across nodes: board x spans nodes 1 and 2, board y nodes 2
// and 3 and sees none of x; a batch client gets node 1's circles in a
// "circles" event; a late joiner on node 3 gets node 1's circles; cursors,
// cursor-leave, spy and mouse (io.To(room).Except(sender)) cross.
func TestClusterPresence(t *testing.T) {
	r := startRedis(t)
	n1, n2, n3 := startServer(t, clusterEnv(r)), startServer(t, clusterEnv(r)), startServer(t, clusterEnv(r))
	onX := sioclient.Options{Auth: map[string]any{"board": "x"}}
	onY := sioclient.Options{Auth: map[string]any{"board": "y"}}
	x1, x2 := dial(t, n1, onX), dial(t, n2, onX)
	x1ID := publicID(t, x1)
	batch2 := dial(t, n2, sioclient.Options{Auth: map[string]any{"board": "x", "batch": true}})
	y2, y3 := dial(t, n2, onY), dial(t, n3, onY)

	register(t, x1, "XA")
	register(t, x2, "XB")
	register(t, y3, "YC")
	for _, c := range []*sioclient.Client{x1, x2, batch2} {
		waitPlayers(t, c, "XA", "XB")
	}
	waitPlayers(t, y2, "YC")

	// add-circle on node 1: lesson clients on node 2 get the same JSON as
	// node 1's own (field names and all: the page reads c.x), batch
	// clients the same circle in the next tick's "circles".
	x1.Emit("add-circle", circle(11))
	local := next(t, x1, "add-circle").Args[0]
	if remote := next(t, x2, "add-circle").Args[0]; !sameJSON(local, remote) || !strings.Contains(string(local), `"x":11`) {
		t.Errorf("add-circle on node 1 %s, on node 2 %s", local, remote)
	}
	var batched []json.RawMessage
	if err := next(t, batch2, realtime.BatchEvent).Decode(0, &batched); err != nil || len(batched) != 1 || !sameJSON(batched[0], local) {
		t.Fatalf("node 2 batch client: %s %s, %v; want [%s]", realtime.BatchEvent, batched, err, local)
	}

	// A late joiner on node 3 gets board x's circles drawn on node 1;
	// one on board y gets none.
	if cs := boardOf(t, dial(t, n3, onX)); len(cs) != 1 || cs[0].X != 11 || cs[0].Initials != "XA" {
		t.Errorf("late joiner on node 3 got board %+v", cs)
	}
	if cs := boardOf(t, dial(t, n3, onY)); len(cs) != 0 {
		t.Errorf("board y joiner got %d of board x's circles", len(cs))
	}

	// Cursors cross in batches; the sender sees none of its own.
	x1.Emit("cursor", map[string]any{"x": 40, "y": 50})
	var cursors []cursor
	for len(cursors) == 0 || cursors[0].X != 40 {
		if err := next(t, x2, "cursors").Decode(0, &cursors); err != nil {
			t.Fatal(err)
		}
	}
	if len(cursors) != 1 || cursors[0].ID != x1ID || cursors[0].Initials != "XA" || cursors[0].Y != 50 {
		t.Errorf("node 2 cursors %+v", cursors)
	}
	if own := next(t, x1, "cursors").Args[0]; !sameShape(own, next(t, x2, "cursors").Args[0]) {
		t.Errorf("cursor fields differ across nodes")
	}
	// A tick with a circle and a move reaches node 2's batch client as one
	// packet, the cursors as JSON the page reads (c.id, c.x).
	for x := 60; ; x++ {
		if x > 65 {
			t.Fatal("six ticks with a move and a circle, never one packet on node 2")
		}
		x1.Emit("cursor", map[string]any{"x": x, "y": 50})
		x1.Emit("add-circle", circle(float64(x)))
		next(t, x1, "add-circle") // keep the lesson clients' queues as they were
		next(t, x2, "add-circle")
		ev := next(t, batch2, realtime.BatchEvent)
		if len(ev.Args) == 1 {
			continue // a tick boundary fell between them
		}
		var moved []cursor
		if err := ev.Decode(1, &moved); err != nil || len(moved) != 1 || moved[0].ID != x1ID || moved[0].X != float64(x) {
			t.Fatalf("node 2 batch client's tick cursors %s (%v)", ev.Args[1], err)
		}
		break
	}

	// spy and mouse cross to the board's other sockets, never the sender.
	x1.Emit("spy", 3, 4)
	x1.Emit("mouse", map[string]any{"x": 5, "y": 6})
	for _, c := range []*sioclient.Client{x2, batch2} {
		if ev := next(t, c, "spy"); string(ev.Args[0]) != `{"x":3,"y":4}` {
			t.Errorf("node 2 spy %s", ev.Args)
		}
		if ev := next(t, c, "mouse"); string(ev.Args[0]) != `{"x":5,"y":6}` {
			t.Errorf("node 2 mouse %s", ev.Args)
		}
	}

	// A clear on node 2 reaches node 1 under every alias.
	x2.Emit("clear-display")
	for _, alias := range realtime.ClearEvents {
		next(t, x1, alias)
		next(t, batch2, alias)
	}

	// Sync points: a circle from the sender's own node comes back to it
	// after any relay of its spy would have; board y's own circle from
	// node 3 reaches node 2 after anything of board x would have.
	x1.Emit("add-circle", circle(12))
	next(t, x1, "add-circle")
	if n := x1.Pending("spy") + x1.Pending("mouse"); n != 0 {
		t.Errorf("the sender got %d relays of its own spy or mouse", n)
	}
	y3.Emit("add-circle", circle(13))
	var got board.Circle
	if err := next(t, y2, "add-circle").Decode(0, &got); err != nil || got.X != 13 {
		t.Fatalf("board y add-circle %+v, %v", got, err)
	}
	for _, ev := range []string{"add-circle", "clear", "cursors", "spy", "mouse", realtime.BatchEvent} {
		if n := y2.Pending(ev); n != 0 {
			t.Errorf("board y client got %d %s events of board x", n, ev)
		}
	}
	if n := batch2.Pending("add-circle"); n != 0 {
		t.Errorf("batch client got %d add-circle events", n)
	}

	// Leaving removes the cursor on the other node at once.
	x1.Close()
	var leave struct{ ID string }
	if err := next(t, x2, "cursor-leave").Decode(0, &leave); err != nil || leave.ID != x1ID {
		t.Errorf("node 2 cursor-leave %+v, %v", leave, err)
	}
	waitPlayers(t, x2, "XB")
}

// sameJSON reports whether two JSON texts hold the same value, whatever
// the order of object keys.
func sameJSON(a, b json.RawMessage) bool {
	var x, y any
	return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && equalJSON(x, y)
}

// sameShape reports whether the first entries of two JSON arrays have
// the same shape: objects with the same keys, or arrays of one length.
func sameShape(a, b json.RawMessage) bool {
	var x, y []any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil || len(x) == 0 || len(y) == 0 {
		return false
	}
	shape := func(v any) string {
		switch v := v.(type) {
		case map[string]any:
			return "{" + strings.Join(slices.Sorted(maps.Keys(v)), ",") + "}"
		case []any:
			return fmt.Sprintf("[%d]", len(v))
		}
		return fmt.Sprintf("%T", v)
	}
	return shape(x[0]) == shape(y[0])
}

// drawUntilCrossed has from draw circles until one reaches to, on another
// node: emits sent before the adapter has (re)subscribed are lost.
func drawUntilCrossed(t *testing.T, ctx context.Context, from, to *sioclient.Client, when string) {
	t.Helper()
	for i := 0; ; i++ {
		from.Emit("add-circle", map[string]any{"x": i, "y": 1, "dia": 5, "rgba": "red"})
		try, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		_, err := to.Next(try, "add-circle")
		cancel()
		if err == nil {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("add-circle does not cross nodes %s", when)
		}
	}
}
