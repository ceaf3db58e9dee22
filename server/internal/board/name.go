package board

import "regexp"

// Default is the board served at "/"; /b/<name> opens others.
const Default = "main"

var namePattern = regexp.MustCompile(`^[A-Za-z0-9-]{1,32}$`)

// ValidName reports whether name may name a board: letters, digits and '-',
// 1–32 characters, so it is safe in a URL, a room name and a Redis key.
func ValidName(name string) bool { return namePattern.MatchString(name) }
