// Command cursorbench measures the live-cursor fan-out: N clients on one
// board, M of them moving at H Hz, against the server in batched and in
// naive (one broadcast per move) mode. It runs the server binary as a
// child process so its CPU time is the server's alone.
//
//	go build -o /tmp/rc ./server && go run ./server/cmd/cursorbench -server /tmp/rc
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/realtime-circles/realtime-circles/server/internal/sioclient"
)

func main() {
	bin := flag.String("server", "", "path to the built server binary (required)")
	clients := flag.Int("clients", 500, "clients on the board")
	movers := flag.Int("movers", 50, "clients moving their cursor")
	hz := flag.Int("hz", 30, "moves per second per mover")
	dur := flag.Duration("duration", 10*time.Second, "measuring time per mode")
	modes := flag.String("modes", "batched,naive", "cursor modes to run")
	flag.Parse()
	if *bin == "" {
		fmt.Fprintln(os.Stderr, "-server is required")
		os.Exit(2)
	}
	for _, mode := range strings.Split(*modes, ",") {
		r, err := run(*bin, mode, *clients, *movers, *hz, *dur)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", mode, err)
			os.Exit(1)
		}
		fmt.Println(r)
	}
}

type result struct {
	mode               string
	sent               int64
	positions, packets int64
	dur                time.Duration
	p50, p99           time.Duration
	cpu                time.Duration
}

func (r result) String() string {
	s := r.dur.Seconds()
	return fmt.Sprintf("%-8s moves sent %7.0f/s  positions delivered %9.0f/s  packets %9.0f/s  latency p50 %6.1fms p99 %7.1fms  server CPU %5.1f%% of one core",
		r.mode, float64(r.sent)/s, float64(r.positions)/s, float64(r.packets)/s,
		float64(r.p50.Microseconds())/1000, float64(r.p99.Microseconds())/1000, 100*r.cpu.Seconds()/s)
}

func run(bin, mode string, n, movers, hz int, dur time.Duration) (result, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return result{}, err
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "-addr", addr, "-cursor-mode", mode, "-log-level", "error")
	// Every client dials from 127.0.0.1: lift the per-address limit.
	cmd.Env = append(os.Environ(), "MAX_CONNS_PER_IP=0")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return result{}, fmt.Errorf("starting server: %w", err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	url := "http://" + addr
	for i := 0; ; i++ {
		if resp, err := http.Get(url + "/"); err == nil {
			resp.Body.Close()
			break
		}
		if i > 200 {
			return result{}, fmt.Errorf("server not ready")
		}
		time.Sleep(50 * time.Millisecond)
	}

	start := time.Now()
	var measuring atomic.Bool
	var positions, packets, sent atomic.Int64
	var latMu sync.Mutex
	var lat []time.Duration
	const sampled = 20 // receivers whose latencies are recorded
	cs := make([]*sioclient.Client, n)
	for i := range n {
		i := i
		opts := sioclient.Options{Auth: map[string]any{"board": "bench"}}
		opts.OnEvent = func(name string, args []json.RawMessage) {
			if name != "cursors" || !measuring.Load() || len(args) == 0 {
				return
			}
			var batch []struct{ X, Y float64 }
			if json.Unmarshal(args[0], &batch) != nil {
				return
			}
			packets.Add(1)
			positions.Add(int64(len(batch)))
			if i < sampled {
				now := time.Since(start).Milliseconds()
				latMu.Lock()
				for _, c := range batch {
					d := (now - int64(c.X) + 10000) % 10000
					lat = append(lat, time.Duration(d)*time.Millisecond)
				}
				latMu.Unlock()
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		c, err := sioclient.Dial(ctx, url, opts)
		cancel()
		if err != nil {
			return result{}, fmt.Errorf("client %d: %w", i, err)
		}
		defer c.Close()
		cs[i] = c
	}
	for i := range movers {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err := cs[n-1-i].EmitWithAck(ctx, "register-player", "M"+strconv.Itoa(i%100))
		cancel()
		if err != nil {
			return result{}, fmt.Errorf("registering mover %d: %w", i, err)
		}
	}

	cpu0, err := cpuTime(cmd.Process.Pid)
	if err != nil {
		return result{}, err
	}
	measuring.Store(true)
	t0 := time.Now()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range movers {
		c := cs[n-1-i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(time.Second / time.Duration(hz))
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				x := time.Since(start).Milliseconds() % 10000 // the send time, read back as latency
				if c.Emit("cursor", map[string]any{"x": x, "y": i}) == nil {
					sent.Add(1)
				}
			}
		}()
	}
	time.Sleep(dur)
	close(stop)
	wg.Wait()
	measuring.Store(false)
	elapsed := time.Since(t0)
	cpu1, err := cpuTime(cmd.Process.Pid)
	if err != nil {
		return result{}, err
	}
	latMu.Lock()
	slices.Sort(lat)
	r := result{mode: mode, sent: sent.Load(), positions: positions.Load(), packets: packets.Load(), dur: elapsed, cpu: cpu1 - cpu0}
	if len(lat) > 0 {
		r.p50, r.p99 = lat[len(lat)/2], lat[len(lat)*99/100]
	}
	latMu.Unlock()
	return r, nil
}

// cpuTime is a process's user+system CPU time from /proc (Linux).
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, fmt.Errorf("reading server CPU time: %w", err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / 100, nil // USER_HZ = 100
}
