package board

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseInitials(t *testing.T) {
	good := []struct {
		in   any
		want string
	}{
		{"ab", "AB"}, {" xyz ", "XYZ"}, {"a", "A"}, {"1b2", "1B2"},
		{map[string]any{"initials": "q"}, "Q"},
	}
	for _, tc := range good {
		got, err := ParseInitials(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseInitials(%#v) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	bad := []any{"", "   ", "abcd", "<b>", "a b", "é", "ab\u200b", "<img src=x onerror=alert(1)>", 42, nil, true,
		[]any{"ab"}, map[string]any{"initials": 1}, map[string]any{}}
	for _, in := range bad {
		if got, err := ParseInitials(in); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseInitials(%#v) = %q, %v; want ErrInvalid", in, got, err)
		}
	}
}

func circle(x, y, dia any, rgba any) map[string]any {
	return map[string]any{"x": x, "y": y, "dia": dia, "rgba": rgba}
}

func TestParseCircle(t *testing.T) {
	c, err := ParseCircle(map[string]any{"initials": "ab", "x": 10.0, "y": 20.5, "dia": 30.0, "rgba": " rgba(1,2,3,0.4) ", "onclick": "x"})
	if err != nil {
		t.Fatal(err)
	}
	if want := (Circle{Initials: "AB", X: 10, Y: 20.5, Dia: 30, RGBA: "rgba(1,2,3,0.4)"}); c != want {
		t.Errorf("got %+v, want %+v", c, want)
	}
	// -0 is relayed as 0.
	c, err = ParseCircle(circle(math.Copysign(0, -1), math.Copysign(0, -1), 5.0, "red"))
	if err != nil || math.Signbit(c.X) || math.Signbit(c.Y) {
		t.Errorf("-0: got %+v, %v; want x and y 0", c, err)
	}

	bad := map[string]any{
		"not an object":  "circle",
		"array":          []any{1.0, 2.0},
		"nil":            nil,
		"x missing":      map[string]any{"y": 1.0, "dia": 1.0, "rgba": "red"},
		"x string":       circle("1", 1.0, 1.0, "red"),
		"x negative":     circle(-1.0, 1.0, 1.0, "red"),
		"x huge":         circle(MaxCoord+1.0, 1.0, 1.0, "red"),
		"y NaN":          circle(1.0, math.NaN(), 1.0, "red"),
		"y Inf":          circle(1.0, math.Inf(1), 1.0, "red"),
		"dia zero":       circle(1.0, 1.0, 0.0, "red"),
		"dia huge":       circle(1.0, 1.0, MaxDia+1.0, "red"),
		"rgba missing":   circle(1.0, 1.0, 1.0, nil),
		"rgba number":    circle(1.0, 1.0, 1.0, 5.0),
		"rgba markup":    circle(1.0, 1.0, 1.0, "<script>alert(1)</script>"),
		"rgba url":       circle(1.0, 1.0, 1.0, "url(javascript:alert(1))"),
		"rgba inject":    circle(1.0, 1.0, 1.0, "red; background-image: url(x)"),
		"rgba invisible": circle(1.0, 1.0, 1.0, "rgba(0,0,0,0)"),
		"rgba too long":  circle(1.0, 1.0, 1.0, "rgb("+strings.Repeat("0", 60)+"1, 2, 3)"),
		"rgba ignored":   circle(1.0, 1.0, 1.0, "rgb(1/2/3)"),
		"bad initials":   map[string]any{"initials": "<b>", "x": 1.0, "y": 1.0, "dia": 1.0, "rgba": "red"},
	}
	for name, in := range bad {
		if _, err := ParseCircle(in); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
}

func TestValidColour(t *testing.T) {
	for _, s := range []string{"red", "RebeccaPurple", "#abc", "#abcd", "#a1b2c3", "#a1b2c3d4",
		"rgba(255,0,0,0.5)", "rgb(1, 2, 3)", "rgb(1 2 3 / 50%)", "hsl(120deg 50% 50%)", "hsla(120, 50%, 50%, .3)",
		"rgb(300, -5, 0)", "oklch(60% 0.15 50)", "color(srgb 1 0 0 / .5)", "rgb(none 2 3)", strings.Repeat(" ", 100) + "red"} {
		if !ValidColour(s) {
			t.Errorf("ValidColour(%q) = false", s)
		}
	}
	for _, s := range []string{"", "#ab", "#abcde", "#ggg", "redd", "rgb(1,2)", "rgb(1,2,3,4,5)", "rgb(a,b,c)",
		"rgba(1,2,3,0.5);x:y", "expression(alert(1))", "url(x)", "rgb(NaN,1,1)", "var(--x)",
		strings.Repeat("a", 100), "rgb(1/2/3)", "rgb (1,2,3)", "rgb(1., 2, 3)", "rgb(1, 2%, 3)",
		"rgb(" + strings.Repeat("0", 60) + "1, 2, 3)", // a colour to a browser, but over 64 characters
		"transparent", "#0000", "rgba(0,0,0,0)", "rgb(1 2 3 / none)", "rgba(1,2,3,-1)"} {
		if ValidColour(s) {
			t.Errorf("ValidColour(%q) = true", s)
		}
	}
}

// Alpha is clamped to [0, 1] as browsers do; any CSS whitespace separates.
func TestColourAlpha(t *testing.T) {
	for s, want := range map[string]float64{"red": 1, "#0008": 8.0 / 15, "#00000080": 128.0 / 255,
		"rgba(1,2,3,5)": 1, "rgba(1,2,3,-1)": 0, "rgb(1 2 3 / 150%)": 1, "rgb(1 2 3 / 25%)": 0.25,
		"hsl(1 2% 3% / none)": 0, "transparent": 0, "rgb(1 2 3 / 1e999)": 1,
		"rgba(\t1 ,2,\n3 , .5 )": 0.5, "rgb(1\f2\r3/.5)": 0.5} {
		if got, ok := ColourAlpha(s); !ok || math.Abs(got-want) > 1e-9 {
			t.Errorf("ColourAlpha(%q) = %v, %v; want %v", s, got, ok, want)
		}
	}
}

func TestValidName(t *testing.T) {
	for _, s := range []string{"main", "a", "room-1", strings.Repeat("x", 32)} {
		if !ValidName(s) {
			t.Errorf("ValidName(%q) = false", s)
		}
	}
	for _, s := range []string{"", "a b", "a/b", "<x>", "é", strings.Repeat("x", 33), "a_b"} {
		if ValidName(s) {
			t.Errorf("ValidName(%q) = true", s)
		}
	}
}

func TestMemoryPlayers(t *testing.T) {
	ctx := context.Background()
	m := NewMemory()
	must := func(list []string, err error) []string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return list
	}
	must(m.Join(ctx, "b", Player{ID: "1", Initials: "AA"}))
	must(m.Join(ctx, "b", Player{ID: "2", Initials: "AA"}))
	must(m.Join(ctx, "other", Player{ID: "3", Initials: "CC"}))
	if got := must(m.Join(ctx, "b", Player{ID: "1", Initials: "AB"})); !slices.Equal(got, []string{"AB", "AA"}) {
		t.Errorf("re-register: %v", got)
	}
	list, removed, err := m.Leave(ctx, "b", "1")
	if err != nil || !removed || !slices.Equal(list, []string{"AA"}) {
		t.Errorf("Leave = %v %v %v", list, removed, err)
	}
	if _, removed, _ := m.Leave(ctx, "b", "1"); removed {
		t.Errorf("second Leave removed again")
	}
	if got := must(m.Players(ctx, "other")); !slices.Equal(got, []string{"CC"}) {
		t.Errorf("boards mixed: %v", got)
	}
	for _, c := range []struct {
		board, initials string
		want            bool
	}{{"b", "AA", true}, {"b", "AB", false}, {"b", "CC", false}, {"other", "CC", true}, {"nobody", "AA", false}} {
		if got, err := m.HasPlayer(ctx, c.board, c.initials); got != c.want || err != nil {
			t.Errorf("HasPlayer(%s, %s) = %v, %v; want %v", c.board, c.initials, got, err, c.want)
		}
	}
	m.Leave(ctx, "b", "2")
	m.Leave(ctx, "other", "3")
	if len(m.boards) != 0 {
		t.Errorf("empty boards kept: %d", len(m.boards))
	}
	if got := must(m.Players(ctx, "nobody")); got == nil {
		t.Errorf("Players of an unknown board is nil; want [] so it encodes as an array")
	}
}

func TestMemoryCircles(t *testing.T) {
	ctx := context.Background()
	m := NewMemory()
	for i := range MaxCircles + 10 {
		if err := m.AddCircle(ctx, "b", Circle{X: float64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := m.Circles(ctx, "b")
	if len(got) != MaxCircles || got[0].X != 10 || got[len(got)-1].X != MaxCircles+9 {
		t.Fatalf("kept %d circles, first %v last %v; want the newest %d", len(got), got[0].X, got[len(got)-1].X, MaxCircles)
	}
	if c := cap(m.boards["b"].circles); c > 2*MaxCircles {
		t.Errorf("backing array grew to %d", c)
	}
	if err := m.Clear(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if got, _ := m.Circles(ctx, "b"); len(got) != 0 {
		t.Errorf("after Clear: %d circles", len(got))
	}
	if _, err := m.Join(ctx, "p", Player{ID: "1", Initials: "AB"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := m.Circles(ctx, "p"); got == nil {
		t.Errorf("Circles of a board with a player only is nil; want [] so it encodes as an array")
	}
	m.Leave(ctx, "p", "1")
	if len(m.boards) != 0 {
		t.Errorf("cleared empty board kept")
	}
}

// Boards without sockets are evicted least recently used first when a
// cap is reached and after the idle TTL; boards with sockets never are,
// and a new board is refused when all are live.
func TestMemoryLimits(t *testing.T) {
	ctx := context.Background()
	m := NewMemoryLimited(Limits{MaxBoards: 3, MaxCircles: 10, IdleTTL: time.Minute})
	for _, name := range []string{"a", "b", "c"} {
		if err := m.Open(name, false); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			_ = m.AddCircle(ctx, name, Circle{Initials: "X", X: 1, Y: 1, Dia: 1, RGBA: "red"})
		}
	}
	if err := m.Open("d", false); !errors.Is(err, ErrFull) {
		t.Fatalf("4th board with 3 live: %v, want ErrFull", err)
	}
	if m.CanOpen("d") || !m.CanOpen("a") {
		t.Error("CanOpen disagrees with Open")
	}
	// 10 circles at most: a's oldest falls off.
	_ = m.AddCircle(ctx, "a", Circle{Initials: "X", X: 2, Y: 1, Dia: 1, RGBA: "red"})
	_ = m.AddCircle(ctx, "a", Circle{Initials: "X", X: 3, Y: 1, Dia: 1, RGBA: "red"})
	if _, n := m.Stats(); n != 10 {
		t.Errorf("%d circles kept, cap 10", n)
	}
	m.Release("b")
	m.Release("c")
	if err := m.Open("d", false); err != nil {
		t.Fatalf("with b and c idle: %v", err)
	}
	if cs, _ := m.Circles(ctx, "b"); len(cs) != 0 {
		t.Error("b, the least recently used idle board, was not evicted")
	}
	if cs, _ := m.Circles(ctx, "c"); len(cs) != 3 {
		t.Error("c was evicted before b")
	}
	m.Sweep(time.Now().Add(2 * time.Minute))
	if boards, _ := m.Stats(); boards != 2 {
		t.Errorf("after the idle TTL: %d boards, want a and d (live)", boards)
	}
}
