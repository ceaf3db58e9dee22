// Package realtimecircles embeds the page (views/ and public/) so the
// binary runs from any directory; the server prefers the files on disk when
// it finds them, so students' edits show on a browser refresh.
package realtimecircles

import "embed"

// Files holds views/ and public/ as they were at build time.
//
//go:embed views public
var Files embed.FS
