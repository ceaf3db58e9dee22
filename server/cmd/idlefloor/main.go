// Command idlefloor measures what an idle connection costs a Socket.IO
// server with nothing of the lesson in it: the library's Socket.IO layer
// on our Engine.IO layer, bound as the app binds them. It is the floor
// under bin/server's idle figure; the difference is the lesson's.
//
//	go run ./server/cmd/idlefloor -clients 5000 -listeners 0,12
//
// For each listener count it starts itself as the server (a child
// process, so the clients' memory is not counted), connects the clients
// over WebSocket, and prints the server's live heap after a GC, goroutine
// stacks and goroutines per connection. -listeners adds that many no-op
// socket.On listeners per connection (the lesson registers 12).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/realtime-circles/realtime-circles/server/internal/engineio"
	"github.com/realtime-circles/realtime-circles/server/internal/sioclient"
	"github.com/zishang520/socket.io/servers/socket/v3"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "idlefloor:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("idlefloor", flag.ContinueOnError)
	clients := fs.Int("clients", 5000, "idle WebSocket clients")
	listeners := fs.String("listeners", "0,12", "no-op listeners per connection, one server per value")
	serve := fs.String("serve", "", "internal: serve on this address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *serve != "" {
		n, err := strconv.Atoi(*listeners)
		if err != nil {
			return fmt.Errorf("-listeners: %w", err)
		}
		return serveBare(*serve, n)
	}
	fmt.Fprintf(stdout, "%9s %8s %12s %12s %11s\n", "listeners", "clients", "heap KB/conn", "stack KB/conn", "goroutines")
	for _, l := range strings.Split(*listeners, ",") {
		if err := measure(stdout, *clients, strings.TrimSpace(l)); err != nil {
			return err
		}
	}
	return nil
}

// serveBare is the server: Socket.IO on our engine, /mem for the figures.
func serveBare(addr string, listeners int) error {
	eio := engineio.New(engineio.Options{AllowEIO3: true})
	opts := socket.DefaultServerOptions()
	opts.SetServeClient(false)
	io := socket.NewServer(nil, opts)
	io.Bind(eio)
	var connected atomic.Int64
	io.On("connection", func(args ...any) {
		so := args[0].(*socket.Socket)
		for i := range listeners {
			so.On("event-"+strconv.Itoa(i), func(...any) {})
		}
		connected.Add(1)
	})
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", eio)
	mux.HandleFunc("/mem", func(w http.ResponseWriter, _ *http.Request) {
		var m runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m)
		fmt.Fprintf(w, "%d %d %d %d\n", m.HeapAlloc, m.StackInuse, runtime.NumGoroutine(), connected.Load())
	})
	return http.ListenAndServe(addr, mux)
}

// mem is the server's figures.
type mem struct{ heap, stack, goroutines, connected float64 }

func readMem(base string) (mem, error) {
	var m mem
	resp, err := http.Get(base + "/mem")
	if err != nil {
		return m, err
	}
	defer resp.Body.Close()
	_, err = fmt.Fscan(resp.Body, &m.heap, &m.stack, &m.goroutines, &m.connected)
	return m, err
}

// measure starts a server with the given listener count, connects n
// clients and prints one row.
func measure(stdout io.Writer, n int, listeners string) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(os.Args[0], "-serve", addr, "-listeners", listeners)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting the server: %w", err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	base := "http://" + addr
	before, err := waitMem(base, func(mem) bool { return true })
	if err != nil {
		return fmt.Errorf("server not ready: %w", err)
	}

	var conns []*sioclient.Client
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	for w := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 20 {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				c, err := sioclient.Dial(ctx, base, sioclient.Options{Transport: sioclient.WebSocket})
				cancel()
				if err != nil {
					select {
					case errs <- fmt.Errorf("client %d: %w", i, err):
					default:
					}
					return
				}
				mu.Lock()
				conns = append(conns, c)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	select {
	case err := <-errs:
		return err
	default:
	}
	after, err := waitMem(base, func(m mem) bool { return m.connected >= float64(n) })
	if err != nil {
		return err
	}
	per := func(a, b float64) float64 { return (a - b) / float64(n) }
	fmt.Fprintf(stdout, "%9s %8d %12.1f %12.1f %11.2f\n", listeners, n,
		per(after.heap, before.heap)/1024, per(after.stack, before.stack)/1024, per(after.goroutines, before.goroutines))
	return nil
}

// waitMem polls /mem until ok holds (every connection handler has run).
func waitMem(base string, ok func(mem) bool) (mem, error) {
	deadline := time.Now().Add(20 * time.Second)
	for {
		m, err := readMem(base)
		if err == nil && ok(m) {
			return m, nil
		}
		if time.Now().After(deadline) {
			return m, errors.Join(errors.New("timed out"), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
