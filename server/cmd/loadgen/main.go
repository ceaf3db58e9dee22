// Command loadgen measures a Socket.IO circles server under load, and runs
// the same workload against the Go server and the Node reference
// (bench/node) side by side so every figure is read as a ratio from one run.
//
// N WebSocket clients connect; S of them send add-circle at R events/s in
// total. Each circle encodes its sender and sequence number in its numbers
// (y = sender, x + 10000·(dia-1) = seq), and the generator keeps the send
// time of every event, so each receiver counts loss, reordering and latency.
// The server runs as a subprocess so its CPU time and memory come from
// /proc/<pid>.
//
//	go build -o bin/server ./server && go run ./server/cmd/loadgen -go-bin bin/server
//
// See bench/README.md for the scenarios and figures.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/realtime-circles/realtime-circles/server/internal/sioclient"
)

type options struct {
	targets     []string
	goBin       string
	rawBin      string
	nodeDir     string
	nodeBin     string
	url         string
	clients     int
	senders     int
	rates       []int
	duration    time.Duration
	drain       time.Duration
	batch       bool
	dialers     int
	settle      time.Duration
	goEnv       []string
	dialTimeout time.Duration
	cursors     int
	cursorHz    int
	serverCPUs  string
	clientCPUs  string
	observers   int
}

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer) error {
	var o options
	var targets, rates, goEnv string
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.StringVar(&targets, "targets", "go,node", "comma-separated: go, go-library (the Go server relaying through the library's io.To().Emit), go-norecovery and go-library-norecovery (the same with connection state recovery off), raw (a bare WebSocket broadcaster, the floor), node (each started as a subprocess), or url (a running server at -url)")
	fs.StringVar(&o.goBin, "go-bin", "bin/server", "the Go server binary (go build -o bin/server ./server)")
	fs.StringVar(&o.rawBin, "raw-bin", "bin/rawbroadcast", "the bare broadcaster, the floor (go build -o bin/rawbroadcast ./server/cmd/rawbroadcast)")
	fs.StringVar(&o.nodeDir, "node-dir", "bench/node", "folder of the Node reference (npm install there first)")
	fs.StringVar(&o.nodeBin, "node", "node", "node executable")
	fs.StringVar(&o.url, "url", "", "server URL for -targets url")
	fs.IntVar(&o.clients, "clients", 1000, "WebSocket clients")
	fs.IntVar(&o.senders, "senders", 10, "clients that also send (the first S)")
	fs.StringVar(&rates, "rates", "10", "comma-separated total add-circle/s, one measured step each")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "sending time per step")
	fs.DurationVar(&o.drain, "drain", 10*time.Second, "how long to wait for stragglers after a step")
	fs.BoolVar(&o.batch, "batch", false, "clients announce auth {batch: true} (the hall page); the Go server then sends one circles packet per tick")
	fs.IntVar(&o.dialers, "dialers", 50, "concurrent handshakes while connecting")
	fs.DurationVar(&o.settle, "settle", 5*time.Second, "wait after connecting before reading idle memory (the Go server returns what a burst of connections touched after 2 s quiet: gcpace)")
	fs.StringVar(&goEnv, "go-env", "RATE_LIMIT=1000000,MAX_CONNS_PER_IP=0", "extra environment for the Go server (comma-separated K=V)")
	fs.DurationVar(&o.dialTimeout, "dial-timeout", 10*time.Second, "a handshake slower than this counts as hung")
	fs.IntVar(&o.cursors, "cursors", 0, "clients (the first C) that register and send cursor {x, y} at -cursor-hz each")
	fs.IntVar(&o.cursorHz, "cursor-hz", 30, "cursor moves per second per cursor client")
	fs.StringVar(&o.serverCPUs, "server-cpus", "", "run each server under taskset -c LIST (e.g. 0)")
	fs.StringVar(&o.clientCPUs, "client-cpus", "", "run the generator under taskset -c LIST (e.g. 1), so it does not compete with the server")
	fs.IntVar(&o.observers, "observers", 0, "clients (every clients/N-th) that decode every circle and cursor for latency, order and cursor checks; the others only count circles, for loss (0: all). In the hall one generator core cannot decode 3.6M cursor positions/s and would measure its own queue")
	cpuProfile := fs.String("cpuprofile", "", "write the generator's own CPU profile to this file (is the generator the bottleneck?)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	o.targets = splitList(targets)
	o.goEnv = splitList(goEnv)
	for _, r := range splitList(rates) {
		n, err := strconv.Atoi(r)
		if err != nil || n <= 0 {
			return fmt.Errorf("-rates: %q is not a positive number", r)
		}
		o.rates = append(o.rates, n)
	}
	if o.senders > o.clients || o.senders < 1 {
		return fmt.Errorf("-senders must be in [1, -clients]")
	}
	if o.cursors < 0 || o.cursors > o.clients || o.cursorHz < 1 {
		return fmt.Errorf("-cursors must be in [0, -clients] and -cursor-hz ≥ 1")
	}
	if o.cursors > 0 && cursorCapacity(o) > maxCursorSeq {
		return fmt.Errorf("-cursor-hz × -duration × steps must stay under %d moves per cursor", maxCursorSeq)
	}
	if o.observers < 0 || o.observers > o.clients {
		return fmt.Errorf("-observers must be in [0, -clients]")
	}
	if o.clientCPUs != "" && os.Getenv(pinnedEnv) == "" {
		return pinSelf(o.clientCPUs, args)
	}

	if *cpuProfile != "" && (o.clientCPUs == "" || os.Getenv(pinnedEnv) != "") {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fmt.Errorf("-cpuprofile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("-cpuprofile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	var results []*result
	for _, t := range o.targets {
		fmt.Fprintf(os.Stderr, "== %s\n", t)
		r, err := runTarget(t, o)
		if err != nil {
			return fmt.Errorf("%s: %w", t, err)
		}
		results = append(results, r)
	}
	printTable(out, o, results)
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// result is one target's figures.
type result struct {
	target     string
	connect    time.Duration
	connected  int
	hung       int
	failed     int
	idleKB     float64 // RSS growth per connection, KB
	liveKB     float64 // Go only (else NaN): live heap growth per connection after a GC, KB
	stackKB    float64 // Go only: goroutine stack growth per connection, KB
	goroutines float64 // Go only: goroutines per connection
	steps      []stepResult
	peakRSSMB  float64
}

type stepResult struct {
	rate       int
	sent       int64
	expected   int64
	delivered  int64
	inWindow   int64 // deliveries during the sending window
	window     time.Duration
	reordered  int64
	packets    int64
	cpu        time.Duration
	genCPU     time.Duration // the generator's own CPU over the step
	elapsed    time.Duration // sending + draining
	lat        *histogram
	disconnect int

	observed        int // connected clients that decode everything (-observers)
	cursorSent      int64
	cursorDelivered int64 // new positions seen, summed over observers
	cursorInWindow  int64
	cursorPackets   int64
	cursorStale     int64 // (receiver, cursor) pairs missing the last position
	cursorLat       *histogram
}

func runTarget(target string, o options) (*result, error) {
	var proc *serverProc
	url := o.url
	switch target {
	case "go", "go-library", "go-norecovery", "go-library-norecovery":
		env := o.goEnv
		if strings.HasPrefix(target, "go-library") {
			env = append(env, "RELAY_PATH=library")
		}
		var args []string
		if strings.HasSuffix(target, "-norecovery") {
			args = []string{"-recovery-window", "-1s"}
		}
		// pprof on loopback: its heap endpoint runs a GC before the
		// idle-memory breakdown is read from /metrics.
		pprofPort, err := freePort()
		if err != nil {
			return nil, err
		}
		env = append(slices.Clip(env), "PPROF_ADDR=127.0.0.1:"+strconv.Itoa(pprofPort), "METRICS_TOKEN="+metricsToken)
		p, err := startProc(target, o.serverCPUs, o.goBin, args, env)
		if err != nil {
			return nil, err
		}
		p.pprof = "http://127.0.0.1:" + strconv.Itoa(pprofPort)
		proc = p
	case "raw":
		p, err := startProc("raw", o.serverCPUs, o.rawBin, nil, nil)
		if err != nil {
			return nil, err
		}
		proc = p
	case "node":
		p, err := startProc("node", o.serverCPUs, o.nodeBin, []string{o.nodeDir + "/server.js"}, nil)
		if err != nil {
			return nil, err
		}
		proc = p
	case "url":
		if url == "" {
			return nil, errors.New("-targets url needs -url")
		}
	default:
		return nil, fmt.Errorf("unknown target %q", target)
	}
	if proc != nil {
		defer proc.stop()
		url = proc.url
	}
	return measure(target, url, proc, o)
}

func measure(target, url string, proc *serverProc, o options) (*result, error) {
	res := &result{target: target}
	time.Sleep(time.Second) // let the fresh process settle before the baseline
	baseRSS := proc.rss()
	baseHeap, baseStacks, baseG, goMem := proc.goMemory()

	run := newRun(o.clients, o.senders, o)
	start := time.Now()
	var wg sync.WaitGroup
	var hung, failed atomic.Int64
	var firstErr atomic.Value
	jobs := make(chan int)
	for range o.dialers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				ctx, cancel := context.WithTimeout(context.Background(), o.dialTimeout)
				opts := sioclient.Options{OnRawEvent: run.receivers[i].onEvent}
				if o.batch {
					opts.Auth = map[string]any{"batch": true}
				}
				c, err := sioclient.Dial(ctx, url, opts)
				cancel()
				if err != nil {
					if errors.Is(err, context.DeadlineExceeded) {
						hung.Add(1)
					} else {
						failed.Add(1)
						firstErr.CompareAndSwap(nil, err.Error())
					}
					continue
				}
				run.clients[i] = c
			}
		}()
	}
	for i := range o.clients {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	res.connect = time.Since(start)
	res.hung, res.failed = int(hung.Load()), int(failed.Load())
	res.connected = o.clients - res.hung - res.failed
	if e := firstErr.Load(); e != nil {
		fmt.Fprintf(os.Stderr, "  first dial error: %s\n", e)
	}
	fmt.Fprintf(os.Stderr, "  %d connected in %v (hung %d, failed %d)\n", res.connected, res.connect.Round(time.Millisecond), res.hung, res.failed)
	defer run.closeAll()
	for i := range o.senders {
		if run.clients[i] == nil {
			return nil, fmt.Errorf("sender %d did not connect", i)
		}
	}
	if o.cursors > 0 {
		if err := run.register(target, o.cursors); err != nil {
			return nil, err
		}
		waitQuiet(proc, 30*time.Second)
		fmt.Fprintf(os.Stderr, "  %d cursor clients registered\n", o.cursors)
	}
	time.Sleep(o.settle)
	res.liveKB, res.stackKB, res.goroutines = math.NaN(), math.NaN(), math.NaN()
	if proc != nil && res.connected > 0 {
		n := float64(res.connected)
		res.idleKB = float64(proc.rss()-baseRSS) / 1024 / n
		if heap, stacks, g, ok := proc.goMemory(); ok && goMem {
			res.liveKB, res.stackKB, res.goroutines = (heap-baseHeap)/1024/n, (stacks-baseStacks)/1024/n, (g-baseG)/n
		}
	}

	for _, rate := range o.rates {
		st := run.step(rate, res.connected, o, proc)
		fmt.Fprintf(os.Stderr, "  rate %d/s: delivered %d/%d, %.0f/s in window, p99 %v\n", rate, st.delivered, st.expected,
			float64(st.inWindow)/st.window.Seconds(), st.lat.quantile(0.99))
		if o.cursors > 0 {
			fmt.Fprintf(os.Stderr, "  cursors: sent %d, new positions seen %d, p99 %v, stale at end %d\n", st.cursorSent, st.cursorDelivered,
				st.cursorLat.quantile(0.99), st.cursorStale)
		}
		res.steps = append(res.steps, st)
	}
	if proc != nil {
		res.peakRSSMB = float64(proc.peakRSS()) / (1 << 20)
	}
	return res, nil
}

// run holds the clients and what they received.
type load struct {
	clients   []*sioclient.Client
	receivers []*receiver
	senders   int
	sendTimes []*sendLog // per sender
	delivered atomic.Int64
	packets   atomic.Int64

	cursorTimes     []*sendLog // per cursor sender; seq in x
	cursorDelivered atomic.Int64
	cursorPackets   atomic.Int64
}

// sendLog is one sender's send times, indexed by sequence number. Entries
// are written before the event is sent and read by receivers afterwards.
type sendLog struct {
	times     []atomic.Int64 // allocated once for all steps
	used      int64          // sequence numbers handed out (pacer only)
	stepStart atomic.Int64   // first seq of the current step
}

func perSenderEvents(rate int, d time.Duration, senders int) int {
	return int(int64(rate)*int64(d/time.Millisecond)/1000/int64(senders)) + 1
}

func newRun(clients, senders int, o options) *load {
	r := &load{clients: make([]*sioclient.Client, clients), senders: senders}
	capacity := 0
	for _, rate := range o.rates {
		capacity += perSenderEvents(rate, o.duration, senders)
	}
	for range senders {
		r.sendTimes = append(r.sendTimes, &sendLog{times: make([]atomic.Int64, capacity)})
	}
	for range o.cursors {
		r.cursorTimes = append(r.cursorTimes, &sendLog{times: make([]atomic.Int64, cursorCapacity(o))})
	}
	stride := 1
	if o.observers > 0 {
		stride = clients / o.observers
	}
	for i := range clients {
		r.receivers = append(r.receivers, &receiver{run: r, observe: o.observers == 0 || (i%stride == 0 && i/stride < o.observers),
			maxSeq: make([]int64, senders), curMax: make([]int64, o.cursors)})
	}
	return r
}

func (r *load) closeAll() {
	var wg sync.WaitGroup
	for _, c := range r.clients {
		if c != nil {
			wg.Add(1)
			go func() { defer wg.Done(); c.Close() }()
		}
	}
	wg.Wait()
}

// step sends at rate events/s for o.duration and waits for deliveries.
func (r *load) step(rate, connected int, o options, proc *serverProc) stepResult {
	perSender := perSenderEvents(rate, o.duration, r.senders)
	for _, sl := range r.sendTimes {
		sl.stepStart.Store(sl.used)
		sl.used += int64(perSender)
	}
	for _, sl := range r.cursorTimes {
		sl.stepStart.Store(sl.used)
		sl.used += int64(len(sl.times) / len(o.rates))
	}
	for _, rc := range r.receivers {
		rc.reset()
	}
	r.delivered.Store(0)
	r.packets.Store(0)
	r.cursorDelivered.Store(0)
	r.cursorPackets.Store(0)
	self := &serverProc{pid: os.Getpid()}
	cpu0, self0 := proc.cpu(), self.cpu()

	stopCursors := make(chan struct{})
	cursorLast := make(chan []int64, 1)
	if len(r.cursorTimes) > 0 {
		go func() { cursorLast <- r.paceCursors(o.cursorHz, stopCursors) }()
	} else {
		cursorLast <- nil
	}

	// One pacer: it emits the events due so far, round-robin over senders,
	// so each sender's events leave in sequence order.
	var sent int64
	next := make([]int64, r.senders)
	for i, sl := range r.sendTimes {
		next[i] = sl.stepStart.Load()
	}
	total := int64(perSender) * int64(r.senders)
	begin := time.Now()
	buf := make([]byte, 0, 128)
	for sent < total {
		due := int64(time.Since(begin).Seconds() * float64(rate))
		if due > total {
			due = total
		}
		for ; sent < due; sent++ {
			s := int(sent % int64(r.senders))
			seq := next[s]
			next[s]++
			sl := r.sendTimes[s]
			buf = appendCircle(buf[:0], s, seq)
			sl.times[seq].Store(time.Now().UnixNano())
			_ = r.clients[s].EmitRaw(string(buf))
		}
		time.Sleep(time.Millisecond)
	}
	close(stopCursors)
	window := time.Since(begin)
	inWindow := r.delivered.Load()
	curInWindow := r.cursorDelivered.Load()
	last := <-cursorLast

	expected := sent * int64(connected)
	deadline := time.Now().Add(o.drain)
	prev, lastChange := int64(-1), time.Now()
	for time.Now().Before(deadline) {
		d := r.delivered.Load()
		if d >= expected {
			break
		}
		if d != prev {
			prev, lastChange = d, time.Now()
		} else if time.Since(lastChange) > 3*time.Second {
			break // nothing more is coming
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The Go server sends the last positions once more, reliably, ~6 ticks
	// after the moves stop: give that a second.
	end := time.Now().Add(time.Second)
	if deadline.Before(end) {
		end = deadline
	}
	for last != nil && time.Now().Before(end) && r.staleCursors(last) > 0 {
		time.Sleep(50 * time.Millisecond)
	}
	cpu, selfCPU := proc.cpu()-cpu0, self.cpu()-self0

	st := stepResult{rate: rate, sent: sent, expected: expected, window: window, inWindow: inWindow, cpu: cpu, lat: &histogram{},
		cursorInWindow: curInWindow, cursorLat: &histogram{}, genCPU: selfCPU, elapsed: time.Since(begin)}
	for s, l := range last {
		if l >= 0 {
			st.cursorSent += l + 1 - r.cursorTimes[s].stepStart.Load()
		}
	}
	if last != nil {
		st.cursorStale = r.staleCursors(last)
	}
	for i, rc := range r.receivers {
		if rc.observe && r.clients[i] != nil {
			st.observed++
		}
		rc.mu.Lock()
		st.delivered += rc.count
		st.reordered += rc.reordered
		st.lat.merge(&rc.lat)
		st.cursorDelivered += rc.curCount
		st.cursorLat.merge(&rc.curLat)
		rc.mu.Unlock()
	}
	st.packets = r.packets.Load()
	st.cursorPackets = r.cursorPackets.Load()
	for _, c := range r.clients {
		if c != nil {
			select {
			case <-c.Done():
				st.disconnect++
			default:
			}
		}
	}
	return st
}

// appendCircle builds 2["add-circle",{...}] with the sender in y and the
// sequence number in x and dia.
func appendCircle(b []byte, sender int, seq int64) []byte {
	b = append(b, `2["add-circle",{"initials":"LG","x":`...)
	b = strconv.AppendInt(b, seq%10000, 10)
	b = append(b, `,"y":`...)
	b = strconv.AppendInt(b, int64(sender), 10)
	b = append(b, `,"dia":`...)
	b = strconv.AppendInt(b, 1+seq/10000, 10)
	b = append(b, `,"rgba":"rgba(1,2,3,0.5)"}]`...)
	return b
}

// receiver is one client's view of the events.
type receiver struct {
	run       *load
	observe   bool // decodes every circle and cursor (see -observers)
	mu        sync.Mutex
	maxSeq    []int64 // per sender, highest seq seen this step (-1: none)
	count     int64
	reordered int64
	lat       histogram

	curMax   []int64 // per cursor sender, newest position seen this step (-1: none)
	curCount int64
	curLat   histogram
}

func (rc *receiver) reset() {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for i := range rc.maxSeq {
		rc.maxSeq[i] = -1
	}
	rc.count, rc.reordered = 0, 0
	rc.lat = histogram{}
	for i := range rc.curMax {
		rc.curMax[i] = -1
	}
	rc.curCount = 0
	rc.curLat = histogram{}
}

// onEvent handles ["add-circle",{...}], ["circles",[{...},...]] (with the
// tick's cursors as a second array, if any) and ["cursors",[...]]; other
// events are ignored.
func (rc *receiver) onEvent(arr []byte) {
	now := time.Now().UnixNano()
	var name []byte
	if len(arr) > 2 && arr[1] == '"' {
		if end := indexByte(arr[2:], '"'); end >= 0 {
			name = arr[2 : 2+end]
		}
	}
	rest := arr[2+len(name):]
	if string(name) == "cursors" {
		rc.run.cursorPackets.Add(1)
		if rc.observe {
			rc.onCursors(rest, now)
		}
		return
	}
	if string(name) != "add-circle" && string(name) != "circles" {
		return
	}
	rc.run.packets.Add(1)
	if string(name) == "circles" {
		// ["circles",[circles…],[cursors…]]: a tick's cursors ride along.
		// Circle objects are flat, so the first ']' closes their array.
		if end := indexByte(rest, ']'); end >= 0 {
			if cursors := rest[end+1:]; rc.observe && indexByte(cursors, '[') >= 0 {
				rc.onCursors(cursors, now)
			}
			rest = rest[:end]
		}
	}
	if !rc.observe {
		rc.countOnly(rest)
		return
	}
	rc.mu.Lock()
	n := int64(0)
	eachObject(rest, func(o []byte) {
		x, ok1 := field(o, `"x":`)
		y, ok2 := field(o, `"y":`)
		dia, ok3 := field(o, `"dia":`)
		if !ok1 || !ok2 || !ok3 || y < 0 || int(y) >= len(rc.maxSeq) {
			return
		}
		s := int(y)
		seq := x + 10000*(dia-1)
		sl := rc.run.sendTimes[s]
		if seq < sl.stepStart.Load() || seq >= int64(len(sl.times)) || sl.times[seq].Load() == 0 {
			return // a straggler from an earlier step
		}
		if seq < rc.maxSeq[s] {
			rc.reordered++
		} else {
			rc.maxSeq[s] = seq
		}
		rc.count++
		n++
		rc.lat.add(time.Duration(now - sl.times[seq].Load()))
	})
	rc.mu.Unlock()
	rc.run.delivered.Add(n)
}

// countOnly counts the circles in circles for a client that does not
// observe: flat objects, one '{' each.
func (rc *receiver) countOnly(circles []byte) {
	n := int64(bytes.Count(circles, []byte{'{'}))
	rc.mu.Lock()
	rc.count += n
	rc.mu.Unlock()
	rc.run.delivered.Add(n)
}

// eachObject calls fn with each flat {...} object in b, without decoding.
func eachObject(b []byte, fn func(o []byte)) {
	for {
		obj := indexByte(b, '{')
		if obj < 0 {
			return
		}
		end := indexByte(b[obj:], '}')
		if end < 0 {
			return
		}
		fn(b[obj : obj+end])
		b = b[obj+end:]
	}
}

func indexByte(b []byte, c byte) int { return bytes.IndexByte(b, c) }

// index is the first key in o, without converting o to a string: the
// generator scans every received byte, and must not be what saturates
// first (a converted string was a quarter of its CPU in the hall).
func index(o []byte, key string) int {
	for off := 0; ; {
		i := bytes.IndexByte(o[off:], key[0])
		if i < 0 {
			return -1
		}
		i += off
		if len(o)-i >= len(key) && string(o[i:i+len(key)]) == key {
			return i
		}
		off = i + 1
	}
}

// field reads a non-negative integer after key in a flat JSON object.
func field(o []byte, key string) (int64, bool) {
	i := index(o, key)
	if i < 0 {
		return 0, false
	}
	var v int64
	j := i + len(key)
	for j < len(o) && o[j] == ' ' {
		j++
	}
	start := j
	for ; j < len(o) && o[j] >= '0' && o[j] <= '9'; j++ {
		v = v*10 + int64(o[j]-'0')
	}
	return v, j > start
}

// serverProc is a server under test, started by the generator.
type serverProc struct {
	name  string
	cmd   *exec.Cmd
	url   string
	pid   int
	pprof string // the Go server's pprof listener, if any
}

// metricsToken opens the Go server's /metrics (not public by default).
const metricsToken = "loadgen"

// goMemory is a Go server's live heap, goroutine stacks and goroutines
// right after a GC, from its /metrics; ok is false for other servers.
func (p *serverProc) goMemory() (heap, stacks, goroutines float64, ok bool) {
	if p == nil || p.pprof == "" {
		return 0, 0, 0, false
	}
	resp, err := http.Get(p.pprof + "/debug/pprof/heap?gc=1") // GC first
	if err != nil {
		return 0, 0, 0, false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	req, _ := http.NewRequest(http.MethodGet, p.url+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+metricsToken)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		return 0, 0, 0, false
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, 0, 0, false
	}
	found := 0
	for line := range strings.Lines(string(body)) {
		name, value, _ := strings.Cut(strings.TrimSpace(line), " ")
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			continue
		}
		switch name {
		case "go_memstats_heap_alloc_bytes":
			heap, found = v, found+1
		case "go_memstats_stack_inuse_bytes":
			stacks, found = v, found+1
		case "go_goroutines":
			goroutines, found = v, found+1
		}
	}
	return heap, stacks, goroutines, found == 3
}

func startProc(name, cpus, bin string, args, env []string) (*serverProc, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	bin, args, err = pinnedCommand(cpus, bin, args)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(port), "LOG_LEVEL=error")
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdout = os.Stderr
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	p := &serverProc{name: name, cmd: cmd, url: "http://127.0.0.1:" + strconv.Itoa(port), pid: cmd.Process.Pid}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(p.url + "/")
		if err == nil {
			resp.Body.Close()
			return p, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.stop()
	return nil, fmt.Errorf("%s did not answer on %s within 20s", bin, p.url)
}

func (p *serverProc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
}

// cpu is the process's user+system CPU time so far.
func (p *serverProc) cpu() time.Duration {
	if p == nil {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.pid))
	if err != nil {
		return 0
	}
	// Fields after the parenthesised command name: utime is the 14th field
	// of the line, stime the 15th, in clock ticks (100 per second on Linux).
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

func (p *serverProc) status(key string) int64 {
	if p == nil {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, key+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

func (p *serverProc) rss() int64     { return p.status("VmRSS") }
func (p *serverProc) peakRSS() int64 { return p.status("VmHWM") }

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
