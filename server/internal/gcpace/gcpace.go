// Package gcpace keeps Go's garbage collector from running too often
// while the heap is small. GOGC=100 starts a collection each time the
// heap has grown by as much as survived the last one. A hall of 1000
// pages keeps ~27 MB live and allocates ~15 MB/s decoding what they send,
// so it collected every second, and on one core each 70–100 ms mark
// phase took half the CPU: circles drawn meanwhile missed a tick or two
// (p99 82–98 ms against 55–59 ms collecting a quarter as often).
//
// A Pacer gives the collector a minimum headroom: after each collection
// it sets GOGC so the next starts no sooner than Headroom bytes later,
// or GOGC's own distance if that is larger. Big heaps (thousands of
// idle connections) get plain GOGC, or less while they fill (below);
// small ones trade at most Headroom bytes of memory for fewer pauses.
// The Go team's GC guide describes the trade; GOMEMLIMIT still caps the
// total if set.
//
// Past the headroom, the Pacer also watches what survives. While such a
// heap fills (connections opening: half of what a connection allocates
// stays for its lifetime), it collects at a quarter of GOGC. Go's
// collector never moves an object: a survivor allocated among garbage
// pins its page however long after the garbage goes, and only later
// survivors of its size fill the holes. 5000 connections opened at
// GOGC=100 kept 198 MB of pages for 126 MB of objects; opened so, 142 MB.
// A smaller heap keeps the headroom throughout (a hall's queues move its
// live heap by megabytes between collections, which short cycles would
// mistake for filling), and pays at most that much for it.
//
// The price is paid only while busy: once the heap has been quiet for
// two seconds (under 1 MiB/s allocated), the Pacer collects and returns
// the free memory to the OS once. Left alone the runtime keeps what a
// burst (5000 connections opening) touched until long after, with or
// without the headroom.
package gcpace

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"
)

// Pacer adjusts GOGC after every collection until Stop.
type Pacer struct {
	headroom uint64
	base     int // GOGC when started

	mu      sync.Mutex
	stopped bool
	percent int // what was set last
	trims   int // memory returned after a busy spell, times
	// At the last decision (adjust): the live heap, all bytes ever allocated.
	live, allocs uint64

	quit chan struct{}
	done chan struct{}
}

// quietRate is the allocation rate under which the heap counts as quiet;
// quietFor is how long it must stay so before the memory goes back.
const (
	quietRate = 1 << 20 // bytes per second
	quietFor  = 2 * time.Second
)

// Start paces collections for headroom bytes (0: does nothing). GOGC is
// process-wide: start one Pacer per process (main does), never per
// server.
func Start(headroom uint64) *Pacer { return start(headroom, time.Second) }

func start(headroom uint64, every time.Duration) *Pacer {
	base := debug.SetGCPercent(100)
	debug.SetGCPercent(base)
	p := &Pacer{headroom: headroom, base: base, percent: base, quit: make(chan struct{}), done: make(chan struct{})}
	if headroom == 0 || base < 0 { // GOGC=off: the operator decides
		p.stopped = true
		close(p.done)
		return p
	}
	p.live, p.allocs = liveHeap(), allocated()
	p.arm()
	go p.trimWhenQuiet(every)
	return p
}

// trimWhenQuiet returns free memory to the OS once per quiet spell.
func (p *Pacer) trimWhenQuiet(every time.Duration) {
	defer close(p.done)
	t := time.NewTicker(every)
	defer t.Stop()
	last := allocated()
	var quiet time.Duration
	trimmed := false
	for {
		select {
		case <-p.quit:
			return
		case <-t.C:
		}
		now := allocated()
		if float64(now-last)/every.Seconds() >= quietRate {
			quiet, trimmed = 0, false
		} else {
			quiet += every
		}
		last = now
		if quiet >= quietFor && !trimmed {
			debug.FreeOSMemory()
			trimmed = true
			last = allocated() // the collection's own allocations are not load
			p.mu.Lock()
			p.trims++
			p.mu.Unlock()
		}
	}
}

// arm runs adjust after the next collection: a fresh object's cleanup
// runs once a collection has found it unreachable.
func (p *Pacer) arm() {
	// Not a tiny allocation (under 16 bytes, pointer-free), which may
	// share its block with others and outlive them.
	runtime.AddCleanup(new([32]byte), func(p *Pacer) {
		if p.adjust() {
			p.arm()
		}
	}, p)
}

// adjust sets GOGC from what was allocated since the last decision and
// how much of it survived; it reports false once stopped. It decides
// once half the headroom has been allocated, or, while filling, after
// every cycle that allocated minEvidence: the short cycles end with the
// burst.
func (p *Pacer) adjust() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return false
	}
	live, allocs := liveHeap(), allocated()
	grown, spent := live-min(live, p.live), allocs-p.allocs
	filling := p.percent == fillPercent(p.base)
	if spent < p.headroom/2 && (!filling || spent < minEvidence) {
		return true // and measure the next cycles from the same point
	}
	p.live, p.allocs = live, allocs
	percent := Percent(p.base, p.headroom, live+gcRoots())
	if live >= p.headroom && Filling(grown, spent) {
		percent = fillPercent(p.base)
	}
	if percent != p.percent {
		debug.SetGCPercent(percent)
		p.percent = percent
	}
	return true
}

// minEvidence is the least allocated to tell filling from garbage.
const minEvidence = 4 << 20

// Filling reports a heap that grew by more than a quarter of what was
// allocated since the last decision: survivors, not garbage.
func Filling(grown, allocated uint64) bool { return grown > allocated/4 }

// fillPercent is GOGC while the heap fills: a quarter of the operator's.
func fillPercent(base int) int { return max(base/4, 1) }

// Stop puts GOGC back as it was.
func (p *Pacer) Stop() {
	p.mu.Lock()
	if !p.stopped {
		p.stopped = true
		debug.SetGCPercent(p.base)
		close(p.quit)
	}
	p.mu.Unlock()
	<-p.done
}

// Trims is how many times the Pacer returned memory after a busy spell.
func (p *Pacer) Trims() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.trims
}

// GOGC reports what the Pacer set last.
func (p *Pacer) GOGC() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.percent
}

// Percent is the GOGC that starts the next collection headroom bytes
// after this one, or base if that comes later. GOGC is a percentage of
// the live heap plus the GC roots (stacks and globals: several MB in a
// small heap), which the caller passes as gcBase. It is rounded up to a
// multiple of 10 %, so small changes do not reset GOGC every collection.
func Percent(base int, headroom, gcBase uint64) int {
	gcBase = max(gcBase, 1<<20)
	want := int((headroom*100 + gcBase - 1) / gcBase)
	want = (want + 9) / 10 * 10
	return max(base, want)
}

func liveHeap() uint64  { return readMetric("/gc/heap/live:bytes") }
func allocated() uint64 { return readMetric("/gc/heap/allocs:bytes") }
func gcRoots() uint64 {
	return readMetric("/gc/scan/stack:bytes") + readMetric("/gc/scan/globals:bytes")
}

func readMetric(name string) uint64 {
	s := []metrics.Sample{{Name: name}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}
