package board

import "strings"

// MaxInitials is the longest accepted initials. The lesson asks for 2–3;
// we accept 1 so nobody is locked out by a short name.
const MaxInitials = 3

// ParseInitials accepts a string or {initials: string} (both shapes appear in
// students' clients) and returns it trimmed and upper-cased. Only letters and
// digits pass, so initials can never carry markup to another page.
func ParseInitials(raw any) (string, error) {
	if m, ok := raw.(map[string]any); ok {
		raw = m["initials"]
	}
	s, ok := raw.(string)
	if !ok {
		return "", invalidf("initials: want a string of 1–%d letters or digits, got %s", MaxInitials, kind(raw))
	}
	s = strings.ToUpper(strings.TrimSpace(s))
	n := 0
	for _, r := range s {
		n++
		if !isAlnum(r) {
			return "", invalidf("initials: only letters and digits are allowed")
		}
	}
	if n < 1 || n > MaxInitials {
		return "", invalidf("initials: want 1–%d letters or digits, got %d characters", MaxInitials, n)
	}
	return s, nil
}

// isAlnum admits ASCII letters and digits only: Unicode letters would let
// look-alike and zero-width tricks into everyone's player list.
func isAlnum(r rune) bool {
	return r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9'
}
