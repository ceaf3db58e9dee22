package realtime

import (
	"encoding/json"
	"testing"
)

// A tick's cursors encode in one buffer as they did one by one: full
// entries as objects, compact ones as [id, x, y], an id that needs
// escaping escaped.
func TestCursorListJSON(t *testing.T) {
	list := cursorList{
		{ID: "aZ0-_", X: 1.5, Y: -2},
		{ID: "p1", Initials: "AB", Color: "hsl(10, 80%, 50%)", X: 0, Y: 1e-7},
		{ID: `q"<\`, X: 3, Y: 4},
	}
	got, err := json.Marshal(map[string]any{"c": list, "one": list[0], "none": cursorList{}})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"c":[["aZ0-_",1.5,-2],{"id":"p1","initials":"AB","color":"hsl(10, 80%, 50%)","x":0,"y":1e-7},["q\"\u003c\\",3,4]],` +
		`"none":[],"one":["aZ0-_",1.5,-2]}`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
