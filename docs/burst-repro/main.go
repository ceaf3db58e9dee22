// Command burst-repro shows why realtime-circles pins zishang520's Socket.IO
// v3.0.2: it makes 1000 quick io.Emit calls to five websocket clients and
// counts what each receives, and in which order.
//
//	go run .                                   # v3.0.2, served in-process
//	(cd v2 && go run . 127.0.0.1:4025) &       # v2.5.0 (its own module: it
//	go run . -addr 127.0.0.1:4025              # cannot share a go.mod with v3)
//
// This is its own module so neither library version enters the app's go.mod.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

const burst, clients = 1000, 5

func main() {
	addr := flag.String("addr", "", "host:port of a running burst server (default: serve v3.0.2 in-process)")
	flag.Parse()
	if *addr == "" {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			log.Fatal(err)
		}
		go http.Serve(ln, newServer()) //nolint:errcheck // ends with the process
		*addr = ln.Addr().String()
	}
	url := "ws://" + *addr + "/socket.io/?EIO=4&transport=websocket"

	for round := 1; round <= 3; round++ {
		var wg sync.WaitGroup
		got := make([]int, clients)
		reordered := make([]int, clients)
		conns := make([]*websocket.Conn, clients)
		for i := range conns {
			c, _, err := websocket.DefaultDialer.Dial(url, nil)
			if err != nil {
				log.Fatal(err)
			}
			conns[i] = c
			c.ReadMessage()                                     // Engine.IO open
			c.WriteMessage(websocket.TextMessage, []byte("40")) // Socket.IO CONNECT
			c.ReadMessage()                                     // CONNECT reply
			wg.Add(1)
			go func() {
				defer wg.Done()
				last := -1
				c.SetReadDeadline(time.Now().Add(3 * time.Second))
				for {
					_, msg, err := c.ReadMessage()
					if err != nil {
						return // the deadline: the burst is over
					}
					s := string(msg)
					if !strings.HasPrefix(s, `42["n",`) {
						continue
					}
					n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(s, `42["n",`), "]"))
					got[i]++
					if n < last {
						reordered[i]++
					}
					last = n
				}
			}()
		}
		conns[0].WriteMessage(websocket.TextMessage, []byte(`42["go"]`))
		wg.Wait()
		fmt.Printf("round %d: received of %d per client %v, out of order %v\n", round, burst, got, reordered)
		for _, c := range conns {
			c.Close()
		}
	}
}
