// Command v2 serves the burst of ../main.go with zishang520's Socket.IO v2.5.0.
package main

import (
	"log"
	"net/http"
	"os"

	"github.com/zishang520/socket.io/v2/socket"
)

func main() {
	io := socket.NewServer(nil, nil)
	io.On("connection", func(args ...any) {
		s := args[0].(*socket.Socket)
		s.On("go", func(...any) {
			for i := range 1000 {
				io.Emit("n", i)
			}
		})
	})
	http.Handle("/socket.io/", io.ServeHandler(nil))
	log.Fatal(http.ListenAndServe(os.Args[1], nil))
}
