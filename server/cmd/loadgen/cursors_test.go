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
