package realtime

import (
	"reflect"

	"github.com/zishang520/socket.io/parsers/socket/v3/parser"
	"github.com/zishang520/socket.io/servers/socket/v3"
)

// relay sends events to a room. With the library's in-memory adapter it
// encodes the packet once and hands it to each member's Client.WriteToEngine
// itself, leaving WsPreEncodedFrame unset: the library's own Broadcast sets
// it, and the WebSocket transport then builds a gorilla PreparedMessage per
// recipient and per packet (engine/v3 transports/websocket.go send: ~25% of
// the CPU of a broadcast), where the plain write path reuses the
// connection's buffer. Everything else is what adapter.Broadcast does: same
// encoder, same members (the adapter's room), same connected check, same
// per-client write, in the caller's goroutine, so per-client order with the
// library's own emits is kept (all of them run under Server.boardMu).
//
// With any other adapter it calls io.To(room).Emit: recoveryAdapter
// (recovery.go, connection state recovery on) then encodes once the same
// way after storing the packet for replay; the Redis adapter is the only
// way to reach the other nodes.
type relay struct {
	io    *socket.Server
	local bool
}

func newRelay(io *socket.Server, forceLibrary bool) *relay {
	defaultAdapter := reflect.TypeOf(socket.MakeAdapter())
	return &relay{io: io, local: !forceLibrary && reflect.TypeOf(io.Sockets().Adapter()) == defaultAdapter}
}

// emit sends event(args...) to every socket in room.
func (r *relay) emit(room socket.Room, event string, args ...any) {
	if !r.local {
		_ = r.io.To(room).Emit(event, args...)
		return
	}
	nsp := r.io.Sockets()
	members, ok := nsp.Adapter().Rooms().Load(room)
	if !ok {
		return
	}
	encoded := r.io.Encoder().Encode(&parser.Packet{
		Type: parser.EVENT,
		Nsp:  "/",
		Data: append([]any{event}, args...),
	})
	opts := &socket.WriteOptions{PreEncoded: true}
	sockets := nsp.Sockets()
	for _, id := range members.Keys() {
		if so, ok := sockets.Load(id); ok && so.Connected() {
			so.Client().WriteToEngine(encoded, opts)
		}
	}
}
