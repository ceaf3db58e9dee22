package board

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// Whatever a client sends, ParseCircle either rejects it with ErrInvalid
// or returns a circle inside the limits with a safe colour and initials.
func FuzzParseCircle(f *testing.F) {
	for _, s := range []string{
		`{"x":10,"y":20,"dia":30,"rgba":"rgba(1,2,3,0.5)","initials":"ab"}`,
		`{"x":0,"y":10000,"dia":1,"rgba":"#abc"}`,
		`{"x":-1,"y":1,"dia":1,"rgba":"red"}`,
		`{"x":1,"y":1,"dia":1,"rgba":"red;background:url(//evil)"}`,
		`{"x":1,"y":1,"dia":1,"rgba":"red","initials":"<b>"}`,
		`{"x":"1","y":1,"dia":1e400,"rgba":"red"}`,
		`"circle"`, `null`, `[]`, `{}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var raw any
		if json.Unmarshal([]byte(in), &raw) != nil {
			return
		}
		c, err := ParseCircle(raw)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error without ErrInvalid: %v", err)
			}
			if strings.ContainsAny(err.Error(), "<>") {
				t.Fatalf("error echoes markup: %q", err)
			}
			return
		}
		if c.X < 0 || c.X > MaxCoord || c.Y < 0 || c.Y > MaxCoord || c.Dia < MinDia || c.Dia > MaxDia {
			t.Fatalf("out of range: %+v", c)
		}
		if !ValidColour(c.RGBA) || strings.ContainsAny(c.RGBA, `<>;"'`) {
			t.Fatalf("unsafe colour %q", c.RGBA)
		}
		if c.Initials != "" {
			if _, err := ParseInitials(c.Initials); err != nil {
				t.Fatalf("initials %q: %v", c.Initials, err)
			}
		}
	})
}

// ParseInitials returns 1–MaxInitials upper-case ASCII letters or digits.
func FuzzParseInitials(f *testing.F) {
	for _, s := range []string{`"ab"`, `" q1 "`, `{"initials":"zz"}`, `"ABCD"`, `"<img>"`, `"é"`, `"a\u200bb"`, `42`, `null`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var raw any
		if json.Unmarshal([]byte(in), &raw) != nil {
			return
		}
		s, err := ParseInitials(raw)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error without ErrInvalid: %v", err)
			}
			return
		}
		if len(s) < 1 || len(s) > MaxInitials {
			t.Fatalf("length %d: %q", len(s), s)
		}
		for _, r := range s {
			if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
				t.Fatalf("character %q in %q", r, s)
			}
		}
	})
}
