package board

import (
	"math"
	"strconv"
	"strings"
)

// ValidColour reports whether s is a CSS colour we are willing to relay:
// #rgb/#rgba/#rrggbb/#rrggbbaa, rgb()/rgba()/hsl()/hsla() with numeric
// arguments, or a named colour. Anything else (url(), expressions, markup)
// is refused, so a relayed colour can only ever paint a circle.
func ValidColour(s string) bool {
	s = strings.ToLower(strings.TrimSpace(s))
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	if hex, ok := strings.CutPrefix(s, "#"); ok {
		return validHex(hex)
	}
	if fn, args, ok := cutFunction(s); ok {
		return validFunction(fn, args)
	}
	return namedColours[s]
}

func validHex(h string) bool {
	switch len(h) {
	case 3, 4, 6, 8:
	default:
		return false
	}
	for _, r := range h {
		if !strings.ContainsRune("0123456789abcdef", r) {
			return false
		}
	}
	return true
}

func cutFunction(s string) (fn, args string, ok bool) {
	open := strings.IndexByte(s, '(')
	if open < 0 || !strings.HasSuffix(s, ")") {
		return "", "", false
	}
	return strings.TrimSpace(s[:open]), s[open+1 : len(s)-1], true
}

// validFunction accepts both the legacy comma syntax, rgba(1, 2, 3, 0.5),
// and the modern space syntax, rgb(1 2 3 / 50%).
func validFunction(fn, args string) bool {
	switch fn {
	case "rgb", "rgba", "hsl", "hsla":
	default:
		return false
	}
	args = strings.ReplaceAll(args, "/", " ")
	args = strings.ReplaceAll(args, ",", " ")
	parts := strings.Fields(args)
	if len(parts) != 3 && len(parts) != 4 {
		return false
	}
	for i, p := range parts {
		if fn[0] == 'h' && i == 0 {
			p = strings.TrimSuffix(p, "deg")
		}
		p = strings.TrimSuffix(p, "%")
		f, err := strconv.ParseFloat(p, 64)
		if err != nil || math.IsNaN(f) || f < -360 || f > 360 {
			return false
		}
	}
	return true
}

// namedColours are CSS Color Module Level 4's named colours.
var namedColours = func() map[string]bool {
	names := strings.Fields(`aliceblue antiquewhite aqua aquamarine azure beige bisque black
	blanchedalmond blue blueviolet brown burlywood cadetblue chartreuse chocolate coral
	cornflowerblue cornsilk crimson cyan darkblue darkcyan darkgoldenrod darkgray darkgreen
	darkgrey darkkhaki darkmagenta darkolivegreen darkorange darkorchid darkred darksalmon
	darkseagreen darkslateblue darkslategray darkslategrey darkturquoise darkviolet deeppink
	deepskyblue dimgray dimgrey dodgerblue firebrick floralwhite forestgreen fuchsia gainsboro
	ghostwhite gold goldenrod gray green greenyellow grey honeydew hotpink indianred indigo
	ivory khaki lavender lavenderblush lawngreen lemonchiffon lightblue lightcoral lightcyan
	lightgoldenrodyellow lightgray lightgreen lightgrey lightpink lightsalmon lightseagreen
	lightskyblue lightslategray lightslategrey lightsteelblue lightyellow lime limegreen linen
	magenta maroon mediumaquamarine mediumblue mediumorchid mediumpurple mediumseagreen
	mediumslateblue mediumspringgreen mediumturquoise mediumvioletred midnightblue mintcream
	mistyrose moccasin navajowhite navy oldlace olive olivedrab orange orangered orchid
	palegoldenrod palegreen paleturquoise palevioletred papayawhip peachpuff peru pink plum
	powderblue purple rebeccapurple red rosybrown royalblue saddlebrown salmon sandybrown
	seagreen seashell sienna silver skyblue slateblue slategray slategrey snow springgreen
	steelblue tan teal thistle tomato transparent turquoise violet wheat white whitesmoke
	yellow yellowgreen`)
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}()
