package engineio

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Engine.IO packet types, as they appear on the wire.
const (
	typeOpen    = '0'
	typeClose   = '1'
	typePing    = '2'
	typePong    = '3'
	typeMessage = '4'
	typeUpgrade = '5'
	typeNoop    = '6'
)

// recordSeparator separates packets in a v4 polling payload.
const recordSeparator = '\x1e'

// packet is one Engine.IO packet. A message is either text or binary
// (bin != nil); a shared broadcast message carries msg instead.
type packet struct {
	typ   byte
	plain bool // sent with Compress(false): never compressed
	text  string
	bin   []byte
	msg   *Message
}

func (p packet) data() string {
	if p.msg != nil {
		return p.msg.text
	}
	return p.text
}

// errInvalidPacket reports input that is not Engine.IO.
var errInvalidPacket = errors.New("invalid Engine.IO packet")

// decodeText reads one text packet: its type digit then its data; "b…"
// is a base64 binary message (polling, and v3's b64 mode): "b" and base64
// in v4, "b4" and base64 in v3 (v4's base64 may itself start with 4).
func decodeText(s string, protocol int) (packet, error) {
	if s == "" {
		return packet{}, fmt.Errorf("%w: empty", errInvalidPacket)
	}
	if s[0] == 'b' {
		raw := s[1:]
		if protocol == 3 {
			if !strings.HasPrefix(raw, "4") {
				return packet{}, fmt.Errorf("%w: base64 packet not a message", errInvalidPacket)
			}
			raw = raw[1:]
		}
		bin, err := base64.StdEncoding.DecodeString(raw)
		if err != nil {
			return packet{}, fmt.Errorf("%w: bad base64", errInvalidPacket)
		}
		return packet{typ: typeMessage, bin: bin}, nil
	}
	if s[0] < typeOpen || s[0] > typeNoop {
		return packet{}, fmt.Errorf("%w: type %q", errInvalidPacket, s[0])
	}
	return packet{typ: s[0], text: s[1:]}, nil
}

// decodePayload splits a text polling body into packets: v4 separates
// them with \x1e, v3 prefixes each with its length in UTF-16 code units
// and a colon.
func decodePayload(body string, protocol int) ([]packet, error) {
	if body == "" {
		return nil, fmt.Errorf("%w: empty payload", errInvalidPacket)
	}
	var out []packet
	if protocol == 4 {
		for body != "" || out == nil {
			i := strings.IndexByte(body, recordSeparator)
			part := body
			if i >= 0 {
				part, body = body[:i], body[i+1:]
			} else {
				body = ""
			}
			p, err := decodeText(part, protocol)
			if err != nil {
				return nil, err
			}
			out = append(out, p)
			if i >= 0 && body == "" {
				return nil, fmt.Errorf("%w: trailing separator", errInvalidPacket)
			}
		}
		return out, nil
	}
	for body != "" {
		colon := strings.IndexByte(body, ':')
		if colon <= 0 || colon > 9 {
			return nil, fmt.Errorf("%w: bad length prefix", errInvalidPacket)
		}
		n, err := strconv.Atoi(body[:colon])
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%w: bad length prefix", errInvalidPacket)
		}
		body = body[colon+1:]
		i, units := 0, 0
		for units < n && i < len(body) {
			r, size := utf8.DecodeRuneInString(body[i:])
			units += utf16.RuneLen(r)
			i += size
		}
		if units != n {
			return nil, fmt.Errorf("%w: length prefix past the body", errInvalidPacket)
		}
		p, err := decodeText(body[:i], protocol)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
		body = body[i:]
	}
	return out, nil
}

// decodeBinaryPayload reads a v3 binary polling body (XHR2): for each
// packet, 0 (string) or 1 (binary), its length as decimal digits each in
// a byte, 0xFF, then the packet; a binary packet's first byte is its type.
func decodeBinaryPayload(body []byte) ([]packet, error) {
	var out []packet
	for len(body) > 0 {
		kind := body[0]
		if kind > 1 {
			return nil, fmt.Errorf("%w: bad binary payload", errInvalidPacket)
		}
		body = body[1:]
		n, i := 0, 0
		for ; i < len(body) && body[i] != 0xFF; i++ {
			if body[i] > 9 || i > 8 {
				return nil, fmt.Errorf("%w: bad binary length", errInvalidPacket)
			}
			n = n*10 + int(body[i])
		}
		if i == 0 || i == len(body) || n == 0 || len(body) < i+1+n {
			return nil, fmt.Errorf("%w: bad binary length", errInvalidPacket)
		}
		data := body[i+1 : i+1+n]
		body = body[i+1+n:]
		if kind == 0 {
			if !utf8.Valid(data) {
				return nil, fmt.Errorf("%w: invalid UTF-8", errInvalidPacket)
			}
			p, err := decodeText(string(data), 3)
			if err != nil {
				return nil, err
			}
			out = append(out, p)
			continue
		}
		if data[0] != typeMessage-'0' && data[0] != typeMessage {
			return nil, fmt.Errorf("%w: binary packet of type %d", errInvalidPacket, data[0])
		}
		out = append(out, packet{typ: typeMessage, bin: append([]byte(nil), data[1:]...)})
	}
	return out, nil
}

// appendText appends p's text form: its type then its data, or for a
// binary message "b" and base64 (v3: "b4").
func appendText(b []byte, p packet, protocol int) []byte {
	if p.bin != nil {
		b = append(b, 'b')
		if protocol == 3 {
			b = append(b, typeMessage)
		}
		return base64.StdEncoding.AppendEncode(b, p.bin)
	}
	b = append(b, p.typ)
	return append(b, p.data()...)
}

// encodePayload is a polling response body. binary reports a v3 XHR2
// binary payload (application/octet-stream).
func encodePayload(ps []packet, protocol int, supportsBinary bool) (body []byte, binary bool) {
	if protocol == 4 {
		for i, p := range ps {
			if i > 0 {
				body = append(body, recordSeparator)
			}
			body = appendText(body, p, 4)
		}
		return body, false
	}
	hasBinary := false
	for _, p := range ps {
		hasBinary = hasBinary || p.bin != nil
	}
	if !supportsBinary || !hasBinary {
		var one []byte
		for _, p := range ps {
			one = appendText(one[:0], p, 3)
			body = strconv.AppendInt(body, int64(utf16Len(one)), 10)
			body = append(body, ':')
			body = append(body, one...)
		}
		return body, false
	}
	for _, p := range ps {
		var data []byte
		kind := byte(0)
		if p.bin != nil {
			kind = 1
			data = append([]byte{typeMessage - '0'}, p.bin...)
		} else {
			data = appendText(nil, p, 3)
		}
		body = append(body, kind)
		for _, d := range strconv.Itoa(len(data)) {
			body = append(body, byte(d-'0'))
		}
		body = append(body, 0xFF)
		body = append(body, data...)
	}
	return body, true
}

// utf16Len counts UTF-16 code units, v3's unit for payload lengths
// (JavaScript's String length).
func utf16Len(b []byte) int {
	n := 0
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		n += utf16.RuneLen(r)
		b = b[size:]
	}
	return n
}
