// Package clientjs embeds the stock socket.io-client browser bundle that
// Node's socket.io serves at /socket.io/socket.io.js. The Go library does
// not serve it when mounted under a router, so we do.
//
// To refresh: npm pack socket.io-client@<version>, copy
// package/dist/socket.io.js and socket.io.js.map here, and update Version.
package clientjs

import _ "embed"

// Version is the socket.io-client release of the embedded bundle.
const Version = "4.8.4"

var (
	//go:embed socket.io.js
	Script []byte
	//go:embed socket.io.js.map
	SourceMap []byte
)
