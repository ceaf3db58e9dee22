package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

// Cursors: the first -cursors clients register (the server relays cursors
// of registered players only) and send `cursor` {x, y} at -cursor-hz each,
// with the cursor sender in y and its sequence number in x. The Go server
// keeps each player's latest position and sends a board's changed cursors
// once per tick as one volatile `cursors` event; positions overwritten
// within a tick are never sent, by design, so the figures are: new
// positions each receiver saw, their latency, and whether every receiver
// ended up with every cursor's last position ("stale at end": the
// cursor's zero-lost).

// maxCursorSeq bounds a cursor sender's sequence numbers: x is in
// [0, board.MaxCoord].
const maxCursorSeq = 10000

func cursorCapacity(o options) int {
	n := 0
	for range o.rates {
		n += int(int64(o.cursorHz)*int64(o.duration/time.Millisecond)/1000) + 1
	}
	return n
}

// register sends register-player from the cursor clients and, against the
// Go server, waits for each ack. The Node relay does not ack it. They
// register as "CR", not the "LG" unregistered senders put on their
// circles: the server refuses a circle from an unregistered socket that
// carries a registered player's initials.
func (r *load) register(target string, n int) error {
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		c := r.clients[i]
		if c == nil {
			return fmt.Errorf("cursor client %d did not connect", i)
		}
		if target == "node" {
			if err := c.EmitRaw(`2["register-player","CR"]`); err != nil {
				return fmt.Errorf("register-player: %w", err)
			}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if _, err := c.EmitWithAck(ctx, "register-player", "CR"); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return fmt.Errorf("register-player: %w", err)
	}
	return nil
}

// waitQuiet waits until the server uses under 10% of a CPU (the player-list
// broadcasts that registration causes are done), at most limit.
func waitQuiet(proc *serverProc, limit time.Duration) {
	if proc == nil {
		return
	}
	deadline := time.Now().Add(limit)
	prev := proc.cpu()
	for time.Now().Before(deadline) {
		time.Sleep(500 * time.Millisecond)
		now := proc.cpu()
		if now-prev < 50*time.Millisecond {
			return
		}
		prev = now
	}
	fmt.Fprintf(os.Stderr, "  server still busy after %v\n", limit)
}

// paceCursors sends cursor moves round-robin over the cursor senders at
// hz each until stop is closed, and returns the last sequence number each
// sender sent (-1: none).
func (r *load) paceCursors(hz int, stop <-chan struct{}) []int64 {
	n := len(r.cursorTimes)
	next := make([]int64, n)
	last := make([]int64, n)
	for i, sl := range r.cursorTimes {
		next[i] = sl.stepStart.Load()
		last[i] = -1
	}
	rate := float64(hz * n)
	begin := time.Now()
	var sent int64
	buf := make([]byte, 0, 64)
	for {
		select {
		case <-stop:
			return last
		default:
		}
		due := int64(time.Since(begin).Seconds() * rate)
		for ; sent < due; sent++ {
			s := int(sent % int64(n))
			seq := next[s]
			sl := r.cursorTimes[s]
			if seq >= int64(len(sl.times)) {
				continue // the step ran past its planned length
			}
			next[s]++
			buf = append(buf[:0], `2["cursor",{"x":`...)
			buf = strconv.AppendInt(buf, seq, 10)
			buf = append(buf, `,"y":`...)
			buf = strconv.AppendInt(buf, int64(s), 10)
			buf = append(buf, `}]`...)
			sl.times[seq].Store(time.Now().UnixNano())
			if r.clients[s].EmitRaw(string(buf)) == nil {
				last[s] = seq
			}
		}
		time.Sleep(time.Millisecond)
	}
}

// staleCursors counts (receiver, cursor) pairs where the receiver has not
// seen the cursor's last position.
func (r *load) staleCursors(last []int64) int64 {
	var stale int64
	for i, rc := range r.receivers {
		if r.clients[i] == nil || !rc.observe {
			continue
		}
		rc.mu.Lock()
		for s, l := range last {
			if l >= 0 && rc.curMax[s] != l {
				stale++
			}
		}
		rc.mu.Unlock()
	}
	return stale
}

// onCursors handles the entries of a cursor batch.
func (rc *receiver) onCursors(rest []byte, now int64) {
	rc.mu.Lock()
	n := int64(0)
	eachCursor(rest, func(seq, y int64) {
		if y < 0 || int(y) >= len(rc.curMax) {
			return
		}
		s := int(y)
		sl := rc.run.cursorTimes[s]
		if seq < sl.stepStart.Load() || seq >= int64(len(sl.times)) || sl.times[seq].Load() == 0 || seq <= rc.curMax[s] {
			return // an earlier step's, or a repeat (the settle send)
		}
		rc.curMax[s] = seq
		n++
		rc.curLat.add(time.Duration(now - sl.times[seq].Load()))
	})
	rc.curCount += n
	rc.mu.Unlock()
	rc.run.cursorDelivered.Add(n)
}

// eachCursor calls fn with x and y of each entry of a cursor batch: full
// entries are objects {"id":…,"initials":…,"x":X,"y":Y}, compact ones the
// array ["id",X,Y]. Ids and initials hold no brackets or braces.
func eachCursor(b []byte, fn func(x, y int64)) {
	start := indexByte(b, '[') // the batch itself
	if start < 0 {
		return
	}
	b = b[start+1:]
	for {
		i := 0
		for i < len(b) && b[i] != '{' && b[i] != '[' && b[i] != ']' {
			i++
		}
		if i == len(b) || b[i] == ']' {
			return
		}
		open, closer := b[i], byte('}')
		if open == '[' {
			closer = ']'
		}
		end := indexByte(b[i:], closer)
		if end < 0 {
			return
		}
		entry := b[i : i+end]
		b = b[i+end+1:]
		if open == '{' {
			x, ok1 := field(entry, `"x":`)
			y, ok2 := field(entry, `"y":`)
			if ok1 && ok2 {
				fn(x, y)
			}
			continue
		}
		// ["id",X,Y: the numbers follow the id's closing quote.
		q := indexByte(entry[2:], '"')
		if q < 0 {
			continue
		}
		nums := entry[2+q+1:]
		x, ok1 := field(nums, ",")
		if !ok1 {
			continue
		}
		comma := indexByte(nums[1:], ',')
		if comma < 0 {
			continue
		}
		if y, ok2 := field(nums[1+comma:], ","); ok2 {
			fn(x, y)
		}
	}
}
