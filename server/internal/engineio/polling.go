package engineio

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/zishang520/socket.io/servers/engine/v3/transports"
)

// pollingTransport is HTTP long-polling (Node's polling.ts): a GET waits
// until there is something to send and takes all of it as one payload; a
// POST carries packets from the client. At most one of each at a time.
type pollingTransport struct {
	transports.Transport // the library's base: what is not ours

	sock           *Socket
	supportsBinary bool // v3 without b64: binary payloads allowed

	// Under sock.mu:
	poll       chan struct{} // closed to release the waiting GET; nil: none waits
	posting    bool
	closePkt   bool // the next (or waiting) poll carries the close packet
	noopPkt    bool // release the waiting poll with a noop (upgrade)
	closed     bool
	collecting bool // a GET is writing its response
}

func newPollingTransport(sock *Socket, r *http.Request) *pollingTransport {
	t := &pollingTransport{Transport: transports.MakeTransport(), sock: sock}
	t.Transport.SetSid(sock.id)
	t.supportsBinary = r.URL.Query().Get("b64") == ""
	return t
}

func (t *pollingTransport) Name() string          { return transports.POLLING }
func (t *pollingTransport) HandlesUpgrades() bool { return false }
func (t *pollingTransport) Protocol() int         { return t.sock.protocol }
func (t *pollingTransport) Sid() string           { return t.sock.id }

// Writable reports a waiting GET and nothing queued.
func (t *pollingTransport) Writable() bool {
	s := t.sock
	s.mu.Lock()
	defer s.mu.Unlock()
	return t.poll != nil && len(s.out) == 0 && !t.closed
}

func (t *pollingTransport) ReadyState() string {
	s := t.sock
	s.mu.Lock()
	defer s.mu.Unlock()
	if t.closed {
		return "closed"
	}
	return "open"
}

// kick releases a waiting GET (sock.mu held).
func (t *pollingTransport) kick() {
	if t.poll != nil {
		close(t.poll)
		t.poll = nil
	}
}

// close hands a waiting GET the close packet, or leaves it for the next
// poll; a discarded transport (upgraded, or the server closing) closes at
// once (sock.mu held).
func (t *pollingTransport) close(discard bool) bool {
	if t.closed {
		return true
	}
	if t.sock.upgraded && t.sock.transport != t {
		// Discarded by an upgrade: a poll still waiting gets a noop.
		t.noopPkt = true
		t.closed = true
		t.kick()
		return true
	}
	t.closePkt = true
	if t.poll != nil || discard {
		t.closed = true
		t.kick()
		return true
	}
	return false
}

// onPoll serves a GET: the handshake's first poll or a long poll.
func (t *pollingTransport) onPoll(w http.ResponseWriter, r *http.Request) {
	s := t.sock
	s.mu.Lock()
	if t.poll != nil || t.collecting {
		s.mu.Unlock()
		writeError(w, errBadRequest, "overlapping poll")
		s.onTransportError(t, errors.New("overlap from client"))
		return
	}
	if t.closed && !t.closePkt && !t.noopPkt {
		s.mu.Unlock()
		writeError(w, errBadRequest, "session closed")
		return
	}
	ready := len(s.out) > 0 || t.closePkt || t.noopPkt || s.probed
	var wait chan struct{}
	if !ready {
		wait = make(chan struct{})
		t.poll = wait
	}
	s.mu.Unlock()

	if wait != nil {
		select {
		case <-wait:
		case <-r.Context().Done():
			s.mu.Lock()
			gone := t.poll == wait
			if gone {
				t.poll = nil
			}
			s.mu.Unlock()
			if gone {
				s.onTransportError(t, errors.New("poll connection closed prematurely"))
				return
			}
			<-wait // released at the same moment: answer as usual
		}
	}

	s.mu.Lock()
	t.collecting = true
	batch := s.take()
	sendClose := t.closePkt
	if sendClose {
		t.closePkt, t.closed = false, true
	}
	noop := t.noopPkt || (len(batch) == 0 && !sendClose)
	t.noopPkt = false
	s.mu.Unlock()

	ps := batch
	if sendClose {
		ps = append(ps, packet{typ: typeClose})
	} else if noop && len(ps) == 0 {
		ps = append(ps, packet{typ: typeNoop})
	}
	body, binary := encodePayload(ps, s.protocol, t.supportsBinary)
	compress := shouldCompress(ps)
	if sendClose || len(batch) == 0 {
		clear(batch)
	} else {
		s.recycle(batch)
	}
	h := w.Header()
	if binary {
		h.Set("Content-Type", "application/octet-stream")
	} else {
		h.Set("Content-Type", "text/plain; charset=UTF-8")
	}
	if compress {
		body = s.srv.compressPoll(h, r, body)
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Cache-Control", "no-store")
	_, err := w.Write(body)

	s.mu.Lock()
	t.collecting = false
	s.mu.Unlock()
	if sendClose {
		s.onClose("forced close", nil)
		return
	}
	if err == nil && r.Context().Err() != nil {
		// The client went away as its poll was answered: the payload went
		// nowhere, and no poll will follow.
		err = r.Context().Err()
	}
	if err != nil {
		s.onTransportError(t, fmt.Errorf("poll write: %w", err))
	}
}

// onPost serves a POST of packets from the client.
func (t *pollingTransport) onPost(w http.ResponseWriter, r *http.Request) {
	s := t.sock
	s.mu.Lock()
	if t.posting {
		s.mu.Unlock()
		writeError(w, errBadRequest, "overlapping data request")
		s.onTransportError(t, errors.New("data request overlap from client"))
		return
	}
	t.posting = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		t.posting = false
		s.mu.Unlock()
	}()

	binary := r.Header.Get("Content-Type") == "application/octet-stream"
	if binary && s.protocol == 4 {
		// v4 sends binary base64-encoded in text payloads.
		writeError(w, errBadRequest, "binary payloads are base64 in Engine.IO v4")
		s.onTransportError(t, errors.New("invalid content"))
		return
	}
	max := s.srv.opts.MaxPayload
	if r.ContentLength > max {
		http.Error(w, fmt.Sprintf("payload over %d bytes", max), http.StatusRequestEntityTooLarge)
		s.onTransportError(t, errors.New("payload too large"))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, max+1))
	if err == nil && int64(len(body)) > max {
		http.Error(w, fmt.Sprintf("payload over %d bytes", max), http.StatusRequestEntityTooLarge)
		s.onTransportError(t, errors.New("payload too large"))
		return
	}
	if err != nil {
		writeError(w, errBadRequest, "reading the body failed")
		s.onTransportError(t, fmt.Errorf("data request: %w", err))
		return
	}
	var ps []packet
	if binary {
		ps, err = decodeBinaryPayload(body)
	} else {
		ps, err = decodePayload(string(body), s.protocol)
	}
	if err != nil {
		writeError(w, errBadRequest, "invalid Engine.IO payload: "+err.Error())
		s.onClose("parse error", err)
		return
	}
	for _, p := range ps {
		if p.typ == typeClose {
			s.onTransportClose(t)
			break
		}
		s.onPacket(t, p)
	}
	h := w.Header()
	h.Set("Content-Type", "text/html")
	h.Set("Content-Length", "2")
	_, _ = io.WriteString(w, "ok")
}
