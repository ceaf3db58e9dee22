package main

import (
	"fmt"
	"io"
	"math"
	"math/bits"
	"strings"
	"text/tabwriter"
	"time"
)

// histogram counts durations in log-linear buckets (16 per power of two,
// ≤ 6% error), cheap enough to update on every delivery.
type histogram struct {
	buckets [64 * 16]int64
	n       int64
	max     time.Duration
}

func bucketOf(us uint64) int {
	if us < 16 {
		return int(us)
	}
	e := bits.Len64(us) - 5 // keep the top 5 bits: 1 + 4 of mantissa
	return e*16 + int(us>>uint(e))
}

func bucketLow(b int) time.Duration {
	if b < 16 {
		return time.Duration(b) * time.Microsecond
	}
	e, m := b/16, b%16+16
	return time.Duration(uint64(m)<<uint(e-1)) * time.Microsecond
}

func (h *histogram) add(d time.Duration) {
	if d < 0 {
		d = 0
	}
	b := bucketOf(uint64(d / time.Microsecond))
	if b >= len(h.buckets) {
		b = len(h.buckets) - 1
	}
	h.buckets[b]++
	h.n++
	if d > h.max {
		h.max = d
	}
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.buckets {
		h.buckets[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	want := int64(math.Ceil(q * float64(h.n)))
	var seen int64
	for i, c := range h.buckets {
		seen += c
		if seen >= want {
			return min(bucketLow(i+1), h.max)
		}
	}
	return h.max
}

// printTable prints one row per figure, one column per target, and the
// Go/Node ratio when both ran.
func printTable(out io.Writer, o options, rs []*result) {
	fmt.Fprintf(out, "\nclients=%d senders=%d cursors=%d@%dHz duration=%v batch=%v server-cpus=%q client-cpus=%q\n\n",
		o.clients, o.senders, o.cursors, o.cursorHz, o.duration, o.batch, o.serverCPUs, o.clientCPUs)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight|tabwriter.Debug)
	head := []string{"figure"}
	for _, r := range rs {
		head = append(head, r.target)
	}
	goI, nodeI := -1, -1
	for i, r := range rs {
		switch r.target {
		case "go":
			goI = i
		case "node":
			nodeI = i
		}
	}
	ratio := goI >= 0 && nodeI >= 0
	if ratio {
		head = append(head, "go/node")
	}
	fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
	row := func(name string, val func(r *result) float64, format string) {
		cells := []string{name}
		for _, r := range rs {
			if v := val(r); math.IsNaN(v) {
				cells = append(cells, "-") // not measured for this server
			} else {
				cells = append(cells, fmt.Sprintf(format, v))
			}
		}
		if ratio {
			g, n := val(rs[goI]), val(rs[nodeI])
			if n != 0 && !math.IsNaN(g/n) {
				cells = append(cells, fmt.Sprintf("%.2f×", g/n))
			} else {
				cells = append(cells, "-")
			}
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
	}
	// latencyRows prints a histogram's p50, p90, p99 and max in ms.
	latencyRows := func(name string, h func(r *result) *histogram) {
		for _, q := range []float64{0.50, 0.90, 0.99} {
			row(fmt.Sprintf("%s p%.0f (ms)", name, q*100), func(r *result) float64 { return msf(h(r).quantile(q)) }, "%.1f")
		}
		row(name+" max (ms)", func(r *result) float64 { return msf(h(r).max) }, "%.1f")
	}
	row("connect all (s)", func(r *result) float64 { return r.connect.Seconds() }, "%.2f")
	row("connected", func(r *result) float64 { return float64(r.connected) }, "%.0f")
	row("hung handshakes", func(r *result) float64 { return float64(r.hung) }, "%.0f")
	row("failed handshakes", func(r *result) float64 { return float64(r.failed) }, "%.0f")
	row("idle KB/conn", func(r *result) float64 { return r.idleKB }, "%.1f")
	row("  of which live heap KB/conn (after GC)", func(r *result) float64 { return r.liveKB }, "%.1f")
	row("  goroutine stacks KB/conn", func(r *result) float64 { return r.stackKB }, "%.1f")
	row("  goroutines/conn", func(r *result) float64 { return r.goroutines }, "%.2f")
	for i, rate := range o.rates {
		st := func(r *result) *stepResult { return &r.steps[i] }
		p := fmt.Sprintf("[%d/s] ", rate)
		row(p+"offered deliveries/s", func(r *result) float64 { return float64(st(r).expected) / st(r).window.Seconds() }, "%.0f")
		row(p+"delivered/s (window)", func(r *result) float64 { return float64(st(r).inWindow) / st(r).window.Seconds() }, "%.0f")
		row(p+"fraction delivered", func(r *result) float64 { return frac(st(r).delivered, st(r).expected) }, "%.4f")
		row(p+"lost", func(r *result) float64 { return float64(st(r).expected - st(r).delivered) }, "%.0f")
		if o.observers > 0 {
			row(p+"observers (latency, order, cursors)", func(r *result) float64 { return float64(st(r).observed) }, "%.0f")
		}
		row(p+"reordered", func(r *result) float64 { return float64(st(r).reordered) }, "%.0f")
		row(p+"packets received", func(r *result) float64 { return float64(st(r).packets) }, "%.0f")
		latencyRows(p+"latency", func(r *result) *histogram { return st(r).lat })
		row(p+"server CPU µs/delivery", func(r *result) float64 {
			if st(r).delivered == 0 {
				return 0
			}
			return float64(st(r).cpu.Microseconds()) / float64(st(r).delivered)
		}, "%.2f")
		if o.cursors > 0 {
			row(p+"cursor moves sent", func(r *result) float64 { return float64(st(r).cursorSent) }, "%.0f")
			row(p+"cursor positions seen/s by observers (window)", func(r *result) float64 { return float64(st(r).cursorInWindow) / st(r).window.Seconds() }, "%.0f")
			row(p+"cursor positions seen / sent×observers", func(r *result) float64 {
				return frac(st(r).cursorDelivered, st(r).cursorSent*int64(st(r).observed))
			}, "%.4f")
			row(p+"cursors packets (alone) received", func(r *result) float64 { return float64(st(r).cursorPackets) }, "%.0f")
			latencyRows(p+"cursor latency", func(r *result) *histogram { return st(r).cursorLat })
			row(p+"server CPU µs/(circle+position) seen", func(r *result) float64 {
				n := st(r).delivered + st(r).cursorDelivered*int64(r.connected)/int64(max(1, st(r).observed))
				if n == 0 {
					return 0
				}
				return float64(st(r).cpu.Microseconds()) / float64(n)
			}, "%.2f")
			row(p+"cursor last position missing", func(r *result) float64 { return float64(st(r).cursorStale) }, "%.0f")
		}
		row(p+"server CPU % (step)", func(r *result) float64 { return 100 * st(r).cpu.Seconds() / st(r).elapsed.Seconds() }, "%.0f")
		row(p+"generator CPU % (step)", func(r *result) float64 { return 100 * st(r).genCPU.Seconds() / st(r).elapsed.Seconds() }, "%.0f")
		row(p+"clients disconnected", func(r *result) float64 { return float64(st(r).disconnect) }, "%.0f")
	}
	row("peak RSS (MB)", func(r *result) float64 { return r.peakRSSMB }, "%.0f")
	_ = tw.Flush()
}

func frac(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func msf(d time.Duration) float64 { return float64(d) / 1e6 }
