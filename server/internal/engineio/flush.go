package engineio

import (
	"errors"
	"net"
	"runtime"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// flushers are a few goroutines per server that write connections' queued
// frames with writes that never wait (Centrifugo's per-client queue,
// with the writing shared): under load a connection's queue grows while
// it waits its turn and leaves in one writev. A connection whose socket
// buffer is full gets a writer goroutine of its own until its backlog is
// written, so a slow client never holds a flusher up. No goroutine is
// made per message, and an idle connection has none for writing.
type flushers struct {
	ch chan *wsTransport

	mu      sync.RWMutex
	stopped bool
	stop    chan struct{}
	wg      sync.WaitGroup
}

func startFlushers() *flushers {
	f := &flushers{ch: make(chan *wsTransport, 4096), stop: make(chan struct{})}
	for range max(2, runtime.GOMAXPROCS(0)) {
		f.wg.Add(1)
		go f.run()
	}
	return f
}

// offer queues t for a flusher; false when they are stopped or all busy
// with a full queue.
func (f *flushers) offer(t *wsTransport) bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.stopped {
		return false
	}
	select {
	case f.ch <- t:
		return true
	default:
		return false
	}
}

func (f *flushers) run() {
	defer f.wg.Done()
	var bufs net.Buffers
	scratch := new([]byte)
	w := newNowWriter()
	for {
		select {
		case t := <-f.ch:
			bufs = t.flush(bufs, scratch, w)
			clear(bufs[:cap(bufs)])
		case <-f.stop:
			for { // what was offered before the stop is still written
				select {
				case t := <-f.ch:
					bufs = t.flush(bufs, scratch, w)
				default:
					return
				}
			}
		}
	}
}

// close stops the flushers once what they were offered is written.
func (f *flushers) close() {
	f.mu.Lock()
	if !f.stopped {
		f.stopped = true
		close(f.stop)
	}
	f.mu.Unlock()
	f.wg.Wait()
}

// nowWriter writes without waiting. One per flusher: its callback is
// made once, as a closure made per write was a heap allocation per
// delivery.
type nowWriter struct {
	chunk net.Buffers
	n     int
	err   error
	fn    func(fd uintptr) bool
}

func newNowWriter() *nowWriter {
	w := &nowWriter{}
	w.fn = func(fd uintptr) bool {
		w.n, w.err = unix.Writev(int(fd), w.chunk)
		return true // never wait for the socket to drain
	}
	return w
}

// write writes bufs without waiting and returns what the socket could
// not take yet (copied: bufs may point at a flusher's scratch space).
func (w *nowWriter) write(raw syscall.RawConn, bufs net.Buffers) (net.Buffers, error) {
	defer func() { w.chunk = nil }()
	for len(bufs) > 0 {
		w.chunk = bufs[:min(len(bufs), 1024)] // IOV_MAX
		if err := raw.Write(w.fn); err != nil {
			return nil, err
		}
		n, werr := w.n, w.err
		if errors.Is(werr, unix.EAGAIN) || errors.Is(werr, unix.EINTR) {
			n, werr = 0, nil
		}
		if werr != nil {
			return nil, werr
		}
		written := total(w.chunk)
		bufs = consume(bufs, n)
		if n < written {
			var rest []byte
			for _, b := range bufs {
				rest = append(rest, b...)
			}
			return net.Buffers{rest}, nil
		}
	}
	return nil, nil
}

// writeAll writes bufs with writev, waiting for the socket to drain as
// often as it must (the connection's write deadline bounds each wait):
// the writer goroutine's way to write a backlog. A wrapped connection
// (a listener that counts them) loses net.Buffers' own writev; the raw
// descriptor keeps it.
func writeAll(raw syscall.RawConn, bufs net.Buffers) error {
	var werr error
	err := raw.Write(func(fd uintptr) bool {
		for len(bufs) > 0 {
			chunk := bufs[:min(len(bufs), 1024)] // IOV_MAX
			n, e := unix.Writev(int(fd), chunk)
			switch {
			case errors.Is(e, unix.EAGAIN):
				return false // wait until writable, then go on
			case errors.Is(e, unix.EINTR):
				continue
			case e != nil:
				werr = e
				return true
			}
			bufs = consume(bufs, n)
		}
		return true
	})
	if err != nil {
		return err
	}
	return werr
}

func total(bufs net.Buffers) (n int) {
	for _, b := range bufs {
		n += len(b)
	}
	return n
}

// consume drops the first n bytes of bufs.
func consume(bufs net.Buffers, n int) net.Buffers {
	for len(bufs) > 0 && n >= len(bufs[0]) {
		n -= len(bufs[0])
		bufs = bufs[1:]
	}
	if len(bufs) > 0 && n > 0 {
		bufs[0] = bufs[0][n:]
	}
	return bufs
}
