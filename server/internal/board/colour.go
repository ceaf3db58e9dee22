package board

import (
	"errors"
	"slices"
	"strconv"
	"strings"
)

// MaxColourLen is the longest colour string accepted: any real colour fits.
const MaxColourLen = 64

// ValidColour reports whether s is a CSS colour a browser draws with
// something visible: a colour CSS Color 4 accepts (hex, rgb()/rgba(),
// hsl()/hsla(), hwb(), lab(), lch(), oklab(), oklch(), color(), or a named
// colour; out-of-range numbers are fine, browsers clamp them) that is not
// fully transparent, in at most MaxColourLen characters. Anything else
// (url(), expressions, markup, what browsers ignore such as rgb(1/2/3)) is
// refused, so a relayed colour can only ever paint a circle.
func ValidColour(s string) bool {
	alpha, ok := ColourAlpha(s)
	return ok && alpha > 0
}

// ColourAlpha parses s as a CSS colour (the grammar ValidColour accepts,
// transparent ones included) and returns its alpha, clamped to [0, 1] as
// browsers do.
func ColourAlpha(s string) (float64, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	if len(s) == 0 || len(s) > MaxColourLen {
		return 0, false
	}
	if hex, ok := strings.CutPrefix(s, "#"); ok {
		return hexAlpha(hex)
	}
	if open := strings.IndexByte(s, '('); open > 0 && strings.HasSuffix(s, ")") {
		// No space between the name and "(": "rgb (1,2,3)" is not a colour.
		return functionAlpha(s[:open], s[open+1:len(s)-1])
	}
	if s == "transparent" {
		return 0, true
	}
	return 1, namedColours[s]
}

func hexAlpha(h string) (float64, bool) {
	for _, r := range h {
		if !strings.ContainsRune("0123456789abcdef", r) {
			return 0, false
		}
	}
	switch len(h) {
	case 3, 6:
		return 1, true
	case 4:
		v, _ := strconv.ParseUint(h[3:], 16, 8)
		return float64(v) / 15, true
	case 8:
		v, _ := strconv.ParseUint(h[6:], 16, 8)
		return float64(v) / 255, true
	}
	return 0, false
}

// Component kinds of colour functions.
const (
	num   = 1 << iota // <number>
	pct               // <percentage>
	angle             // <number> or <angle> (a hue)
	none              // the keyword none (modern syntax only)
)

// modern is each function's three components in the space-separated
// syntax (CSS Color 4), all of which also take none.
var modern = map[string][3]int{
	"rgb": {num | pct, num | pct, num | pct}, "rgba": {num | pct, num | pct, num | pct},
	"hsl": {angle, num | pct, num | pct}, "hsla": {angle, num | pct, num | pct},
	"hwb": {angle, num | pct, num | pct},
	"lab": {num | pct, num | pct, num | pct}, "oklab": {num | pct, num | pct, num | pct},
	"lch": {num | pct, num | pct, angle}, "oklch": {num | pct, num | pct, angle},
}

// colorSpaces are the predefined spaces of color().
var colorSpaces = map[string]bool{"srgb": true, "srgb-linear": true, "display-p3": true, "a98-rgb": true,
	"prophoto-rgb": true, "rec2020": true, "xyz": true, "xyz-d50": true, "xyz-d65": true}

// functionAlpha checks fn(args) against CSS Color 4: the legacy comma
// syntax for rgb(a)/hsl(a), else the modern one, [c1 c2 c3 [/ alpha]].
func functionAlpha(fn, args string) (float64, bool) {
	toks := colourTokens(args)
	if fn == "color" {
		if len(toks) == 0 || !colorSpaces[toks[0]] {
			return 0, false
		}
		return modernAlpha(toks[1:], [3]int{num | pct, num | pct, num | pct})
	}
	kinds, known := modern[fn]
	if !known {
		return 0, false
	}
	if slices.Contains(toks, ",") {
		return legacyAlpha(fn, toks)
	}
	return modernAlpha(toks, kinds)
}

// colourTokens splits a function's arguments at CSS whitespace, keeping ","
// and "/" as tokens of their own. A scan, not a strings.Replacer: building
// one per circle was a sixth of the hall's allocations.
func colourTokens(args string) []string {
	toks := make([]string, 0, 8)
	start := -1
	for i := 0; i < len(args); i++ {
		switch c := args[i]; c {
		case ' ', '\t', '\n', '\r', '\f', ',', '/':
			if start >= 0 {
				toks = append(toks, args[start:i])
				start = -1
			}
			if c == ',' || c == '/' {
				toks = append(toks, args[i:i+1])
			}
		default:
			if start < 0 {
				start = i
			}
		}
	}
	if start >= 0 {
		toks = append(toks, args[start:])
	}
	return toks
}

func modernAlpha(toks []string, kinds [3]int) (float64, bool) {
	if len(toks) != 3 && len(toks) != 5 {
		return 0, false
	}
	for i, k := range kinds {
		if _, ok := component(toks[i], k|none); !ok {
			return 0, false
		}
	}
	if len(toks) == 3 {
		return 1, true
	}
	if toks[3] != "/" {
		return 0, false
	}
	return alphaValue(toks[4], true)
}

// legacyAlpha is rgb(r, g, b[, a]) with all three numbers or all three
// percentages, or hsl(h, s%, l%[, a]); no none.
func legacyAlpha(fn string, toks []string) (float64, bool) {
	if len(toks) != 5 && len(toks) != 7 {
		return 0, false
	}
	for i := 1; i < len(toks); i += 2 {
		if toks[i] != "," {
			return 0, false
		}
	}
	c := []string{toks[0], toks[2], toks[4]}
	switch fn {
	case "rgb", "rgba":
		kind := num
		if strings.HasSuffix(c[0], "%") {
			kind = pct
		}
		for _, t := range c {
			if _, ok := component(t, kind); !ok {
				return 0, false
			}
		}
	case "hsl", "hsla":
		_, okH := component(c[0], angle)
		_, okS := component(c[1], pct)
		_, okL := component(c[2], pct)
		if !okH || !okS || !okL {
			return 0, false
		}
	default:
		return 0, false
	}
	if len(toks) == 5 {
		return 1, true
	}
	return alphaValue(toks[6], false)
}

// alphaValue is an <alpha-value> (number or percentage) clamped to [0, 1];
// none (modern syntax) is 0.
func alphaValue(tok string, noneOK bool) (float64, bool) {
	if tok == "none" {
		return 0, noneOK
	}
	if v, ok := component(tok, pct); ok {
		return min(max(v/100, 0), 1), true
	}
	v, ok := component(tok, num)
	return min(max(v, 0), 1), ok
}

// component parses one token of a kind allowed by kinds; for a
// percentage, the value is the number before "%".
func component(tok string, kinds int) (float64, bool) {
	if tok == "none" {
		return 0, kinds&none != 0
	}
	if kinds&pct != 0 {
		if n, ok := strings.CutSuffix(tok, "%"); ok {
			return cssNumber(n)
		}
	}
	if kinds&angle != 0 {
		for _, unit := range []string{"deg", "grad", "rad", "turn"} {
			if n, ok := strings.CutSuffix(tok, unit); ok {
				return cssNumber(n)
			}
		}
	}
	if kinds&(num|angle) != 0 {
		return cssNumber(tok)
	}
	return 0, false
}

// cssNumber parses a CSS <number>: [+-] digits [. digits] or [+-] . digits,
// with an optional exponent. Not Go's syntax: no "1.", "inf", "0x1p3", "_".
func cssNumber(s string) (float64, bool) {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			n++
		}
		return n
	}
	intPart := digits()
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return 0, false
		}
	} else if intPart == 0 {
		return 0, false
	}
	if i < len(s) && s[i] == 'e' {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return 0, false
		}
	}
	if i != len(s) {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, false
	}
	return f, true // ±Inf for a huge exponent: clamped like any big number
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
	steelblue tan teal thistle tomato turquoise violet wheat white whitesmoke
	yellow yellowgreen`)
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}()
