package main

import (
	"slices"
	"testing"
)

func TestEachCursor(t *testing.T) {
	// The rest of ["cursors",[…]] and of ["circles",[…],[…]] after the circles.
	batch := `,[["AbC-d_1",12,3],{"id":"Xy","initials":"AB","color":"hsl(120, 70%, 45%)","x":40,"y":5},["Zz",7,0]]]`
	var got [][2]int64
	eachCursor([]byte(batch), func(x, y int64) { got = append(got, [2]int64{x, y}) })
	if want := [][2]int64{{12, 3}, {40, 5}, {7, 0}}; !slices.Equal(got, want) {
		t.Errorf("eachCursor = %v, want %v", got, want)
	}
}

func TestField(t *testing.T) {
	o := []byte(`{"initials":"LG","x":12,"y": 7,"dia":3,"xx":"x"}`)
	for key, want := range map[string]int64{`"x":`: 12, `"y":`: 7, `"dia":`: 3} {
		if v, ok := field(o, key); !ok || v != want {
			t.Errorf("field %s = %d, %v; want %d", key, v, ok, want)
		}
	}
	if _, ok := field(o, `"z":`); ok {
		t.Error(`field "z": found in an object without it`)
	}
	if i := index([]byte(`"x""x":`), `"x":`); i != 3 {
		t.Errorf("index after a partial match = %d, want 3", i)
	}
}

// -observers picks every clients/N-th client; the others count circles
// only, so loss is still checked on every client.
func TestObservers(t *testing.T) {
	r := newRun(1000, 10, options{rates: []int{1}, duration: 1, observers: 300})
	var observed int
	for _, rc := range r.receivers {
		if rc.observe {
			observed++
		}
	}
	if observed != 300 {
		t.Errorf("%d observers, want 300", observed)
	}
	counter := r.receivers[1]
	counter.onEvent([]byte(`["circles",[{"x":1,"y":0,"dia":1},{"x":2,"y":0,"dia":1}],[["Zz",7,0]]]`))
	counter.onEvent([]byte(`["add-circle",{"x":3,"y":0,"dia":1}]`))
	if counter.count != 3 || r.delivered.Load() != 3 {
		t.Errorf("a counting client saw %d circles (run: %d), want 3", counter.count, r.delivered.Load())
	}
	if all := newRun(10, 1, options{rates: []int{1}, duration: 1}); !all.receivers[9].observe {
		t.Error("without -observers every client observes")
	}
}
