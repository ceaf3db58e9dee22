package board

// Point is a pointer position on the page, in the same coordinates as a
// circle's centre (CSS pixels from the viewport's top left).
type Point struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
}

// ParsePoint accepts the shapes the seeds' demos emit: (x, y) as two
// numbers or one {x, y} object. It returns a clean copy holding only x and
// y, each a finite number in [0, MaxCoord].
func ParsePoint(args []any) (Point, error) {
	var m map[string]any
	switch {
	case len(args) >= 2:
		m = map[string]any{"x": args[0], "y": args[1]}
	case len(args) == 1:
		var ok bool
		if m, ok = args[0].(map[string]any); !ok {
			return Point{}, invalidf("point: want {x, y} or two numbers, got %s", kind(args[0]))
		}
	default:
		return Point{}, invalidf("point: want {x, y} or two numbers, got nothing")
	}
	var p Point
	var err error
	if p.X, err = coord(m, "x"); err != nil {
		return Point{}, err
	}
	if p.Y, err = coord(m, "y"); err != nil {
		return Point{}, err
	}
	return p, nil
}

func coord(m map[string]any, field string) (float64, error) {
	f, err := number(m, field, 0, MaxCoord)
	if err != nil {
		// number names the field circle.*; say point.* instead.
		return 0, invalidf("point.%s: want a number in [0, %d]", field, MaxCoord)
	}
	return f, nil
}
