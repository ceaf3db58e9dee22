package cluster

import (
	"encoding/json"
	"fmt"

	sioredis "github.com/zishang520/socket.io/adapters/redis/v3"
	"github.com/zishang520/socket.io/parsers/socket/v3/parser"
	"github.com/zishang520/socket.io/v3/pkg/utils"
)

// wireParser is the Redis adapter's message encoding: the adapter's
// default MessagePack (v3/pkg/utils/msgpack.go), but an emitted payload is
// first turned into the plain values its JSON holds. MessagePack names a
// struct's fields by their msgpack tag or else the Go field name, never
// the json tag, so a board.Circle emitted on one node reached the other
// nodes' pages as {"X":…,"Initials":…}, and the page, reading c.x, drew
// nothing there. Clients on the emitting node get the JSON encoding; with
// this, clients on every node get the same.
type wireParser struct{}

func (wireParser) Encode(v any) ([]byte, error) {
	var err error
	switch m := v.(type) {
	case *sioredis.RedisPacket:
		if m != nil && m.Packet != nil {
			cp := *m // never change the caller's packet: it is also sent locally
			cp.Packet, err = plainPacket(m.Packet)
			v = &cp
		}
	case *sioredis.RedisRequest:
		if m != nil && m.Packet != nil {
			cp := *m
			cp.Packet, err = plainPacket(m.Packet)
			v = &cp
		}
	}
	if err != nil {
		return nil, err
	}
	return utils.MsgPack().Encode(v)
}

func (wireParser) Decode(data []byte, v any) error {
	return utils.MsgPack().Decode(data, v)
}

// plainPacket returns a copy of p whose data is its JSON value (maps,
// slices, strings, float64s). Binary payloads are left as they are.
func plainPacket(p *parser.Packet) (*parser.Packet, error) {
	if p.Data == nil || parser.HasBinary(p.Data) {
		return p, nil
	}
	b, err := json.Marshal(p.Data)
	if err != nil {
		return nil, fmt.Errorf("encoding %v packet data for redis: %w", p.Type, err)
	}
	cp := *p
	cp.Data = nil
	if err := json.Unmarshal(b, &cp.Data); err != nil {
		return nil, fmt.Errorf("decoding %v packet data for redis: %w", p.Type, err)
	}
	return &cp, nil
}
