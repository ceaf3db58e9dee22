package main

import (
	"net/http"

	"github.com/zishang520/socket.io/servers/socket/v3"
)

// newServer answers "go" with a burst of io.Emit("n", i).
func newServer() http.Handler {
	io := socket.NewServer(nil, nil)
	io.On("connection", func(args ...any) {
		s := args[0].(*socket.Socket)
		s.On("go", func(...any) {
			for i := range burst {
				io.Emit("n", i)
			}
		})
	})
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", io.ServeHandler(nil))
	return mux
}
