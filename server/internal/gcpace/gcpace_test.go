package gcpace

import (
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		base             int
		headroom, gcBase uint64 // gcBase: live heap + stacks + globals
		want             int
	}{
		{100, 64 * mib, 27 * mib, 240},  // 237 %, rounded up
		{100, 64 * mib, 64 * mib, 100},  // GOGC's own distance is as far
		{100, 64 * mib, 125 * mib, 100}, // 5000 idle connections: plain GOGC
		{200, 64 * mib, 50 * mib, 200},  // an operator's larger GOGC stands
		{100, 64 * mib, 0, 6400},        // an empty heap counts as 1 MiB
	} {
		if got := Percent(c.base, c.headroom, c.gcBase); got != c.want {
			t.Errorf("Percent(%d, %d MiB, %d MiB) = %d, want %d", c.base, c.headroom/mib, c.gcBase/mib, got, c.want)
		}
	}
}

func TestFilling(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		grown, allocated uint64
		want             bool
	}{
		{24 * mib, 48 * mib, true},  // connections opening: half stays
		{1 * mib, 64 * mib, false},  // a hall's events: garbage
		{16 * mib, 64 * mib, false}, // a quarter is not more than a quarter
		{0, 0, false},
	} {
		if got := Filling(c.grown, c.allocated); got != c.want {
			t.Errorf("Filling(%d MiB grown, %d MiB allocated) = %v", c.grown/mib, c.allocated/mib, got)
		}
	}
}

// collectUntil runs collections, with work between them, until the
// Pacer has set GOGC to something cond accepts.
func collectUntil(t *testing.T, p *Pacer, what string, work func(), cond func(int) bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond(p.GOGC()) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: GOGC still %d", what, p.GOGC())
		}
		work()
		runtime.GC() // each collection runs the Pacer's cleanup
		runtime.Gosched()
	}
}

// The Pacer raises GOGC for a small heap, lowers it to a quarter while a
// heap past the headroom fills with what stays, raises it again once
// what is allocated is garbage, and Stop puts GOGC back.
func TestPacerSetsGOGC(t *testing.T) {
	base := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(base) })
	const headroom = 16 << 20
	p := Start(headroom)
	garbage := func() { busy(20 * time.Millisecond) }
	collectUntil(t, p, "garbage", garbage, func(gogc int) bool { return gogc > 100 })
	if got := debug.SetGCPercent(p.GOGC()); got != p.GOGC() {
		t.Errorf("GOGC is %d; the Pacer says it set %d", got, p.GOGC())
	}

	var kept [][]byte // what stays, as connections' state does
	fill := func() {
		for range 8 {
			kept = append(kept, make([]byte, 1<<20))
		}
	}
	collectUntil(t, p, "filling", fill, func(gogc int) bool { return gogc == 25 })
	if live := liveHeap(); live < headroom {
		t.Errorf("filling GOGC with %d MiB live, under the %d MiB headroom", live>>20, headroom>>20)
	}
	kept = nil
	collectUntil(t, p, "garbage again", garbage, func(gogc int) bool { return gogc > 100 })

	p.Stop()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("after Stop GOGC is %d, want 100 back", got)
	}
}

func TestOffWhenGOGCOff(t *testing.T) {
	base := debug.SetGCPercent(-1)
	t.Cleanup(func() { debug.SetGCPercent(base) })
	p := Start(1 << 30)
	runtime.GC()
	if p.GOGC() != -1 {
		t.Errorf("GOGC=off: the Pacer set %d", p.GOGC())
	}
	p.Stop()
	if got := debug.SetGCPercent(-1); got != -1 {
		t.Errorf("GOGC is %d after Stop, want off", got)
	}
}

var sink []byte

// busy allocates garbage for d, well over quietRate.
func busy(d time.Duration) {
	for end := time.Now().Add(d); time.Now().Before(end); {
		sink = make([]byte, 1<<20)
	}
	sink = nil
}

// After a busy spell, once quiet, the Pacer returns the free memory to
// the OS, once per spell.
func TestTrimWhenQuiet(t *testing.T) {
	base := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(base) })
	p := start(1<<30, 10*time.Millisecond)
	defer p.Stop()
	for spell := 1; spell <= 2; spell++ {
		busy(100 * time.Millisecond)
		deadline := time.Now().Add(10 * time.Second)
		for p.Trims() < spell {
			if time.Now().After(deadline) {
				t.Fatalf("spell %d: %d trims after going quiet", spell, p.Trims())
			}
			time.Sleep(5 * time.Millisecond) // polling the Pacer, not asserting
		}
		if free := readMetric("/memory/classes/heap/free:bytes"); free > 16<<20 {
			t.Errorf("spell %d: %d MiB free kept after the trim", spell, free>>20)
		}
	}
	if p.Trims() != 2 {
		t.Errorf("%d trims for 2 busy spells", p.Trims())
	}
}
