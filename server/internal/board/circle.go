// Package board holds what a drawing board is made of: circles, players and
// the rules that keep what students send from reaching other pages unchecked.
package board

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// Limits on a circle. Clicks land inside a browser window, so coordinates
// are bounded by the largest screens we expect, with room to spare.
const (
	MaxCoord = 10000 // px, x and y are in [0, MaxCoord]
	MinDia   = 1     // px
	MaxDia   = 1000  // px; the lesson draws 10–100
)

// Circle is one click on the board, in the shape the lesson's clients emit:
// {initials, x, y, dia, rgba}.
type Circle struct {
	Initials string  `json:"initials"`
	X        float64 `json:"x"`
	Y        float64 `json:"y"`
	Dia      float64 `json:"dia"`
	RGBA     string  `json:"rgba"`
}

// ErrInvalid marks input rejected by validation; the message that wraps it
// is safe to show to the sender.
var ErrInvalid = errors.New("invalid")

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// ParseCircle validates a decoded add-circle payload and returns a clean
// copy holding only the known fields. Initials are checked when present;
// the caller replaces them with the sender's registered initials.
func ParseCircle(raw any) (Circle, error) {
	m, ok := raw.(map[string]any)
	if !ok {
		return Circle{}, invalidf("circle: want an object {x, y, dia, rgba}, got %s", kind(raw))
	}
	var c Circle
	var err error
	if c.X, err = number(m, "x", 0, MaxCoord); err != nil {
		return Circle{}, err
	}
	if c.Y, err = number(m, "y", 0, MaxCoord); err != nil {
		return Circle{}, err
	}
	if c.Dia, err = number(m, "dia", MinDia, MaxDia); err != nil {
		return Circle{}, err
	}
	colour, _ := m["rgba"].(string)
	if alpha, ok := ColourAlpha(colour); !ok {
		return Circle{}, invalidf("circle.rgba: want a CSS colour of at most %d characters, such as rgba(255,0,0,0.5)", MaxColourLen)
	} else if alpha <= 0 {
		return Circle{}, invalidf("circle.rgba: a fully transparent colour draws nothing")
	}
	c.RGBA = strings.TrimSpace(colour)
	if v, present := m["initials"]; present && v != nil && v != "" {
		if c.Initials, err = ParseInitials(v); err != nil {
			return Circle{}, err
		}
	}
	return c, nil
}

func number(m map[string]any, field string, lo, hi float64) (float64, error) {
	f, ok := m[field].(float64)
	if !ok || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, invalidf("circle.%s: want a number, got %s", field, kind(m[field]))
	}
	if f < lo || f > hi {
		return 0, invalidf("circle.%s: %g is outside [%g, %g]", field, f, lo, hi)
	}
	if f == 0 {
		f = 0 // -0 goes out as 0
	}
	return f, nil
}

// kind names a decoded JSON value's type for error messages without
// echoing the value itself back.
func kind(v any) string {
	switch v.(type) {
	case nil:
		return "nothing"
	case string:
		return "a string"
	case float64, int, int64, uint64:
		return "a number"
	case bool:
		return "a boolean"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	default:
		return fmt.Sprintf("%T", v)
	}
}
