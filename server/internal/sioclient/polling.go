package sioclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// The Engine.IO v4 polling payload separates packets with a record separator.
const separator = "\x1e"

func (c *Client) openPolling(ctx context.Context) error {
	pkts, err := c.get(ctx)
	if err != nil {
		return fmt.Errorf("polling handshake: %w", err)
	}
	if len(pkts) == 0 {
		return errors.New("polling handshake: empty response")
	}
	if err := c.handshake(pkts[0]); err != nil {
		return err
	}
	for _, p := range pkts[1:] {
		c.onEngine(p)
	}
	go c.pollLoop()
	c.startHeartbeat()
	return nil
}

func (c *Client) pollLoop() {
	defer close(c.pollDone)
	for {
		select {
		case <-c.stopPoll:
			return
		case <-c.done:
			return
		default:
		}
		if c.frozen.Load() {
			return
		}
		c.mu.Lock()
		c.pollSent = time.Now()
		c.mu.Unlock()
		pkts, err := c.get(c.pollCtx)
		c.mu.Lock()
		c.pollSent = time.Time{}
		c.mu.Unlock()
		if err != nil {
			c.fail(fmt.Errorf("polling: %w", err))
			return
		}
		for _, p := range pkts {
			c.onEngine(p)
		}
	}
}

func (c *Client) get(ctx context.Context) ([]string, error) {
	u := c.base
	u.RawQuery = c.query("polling")
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	for k, v := range c.opts.Header {
		req.Header[k] = v
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET: HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return c.decodePayload(string(body))
}

func (c *Client) post(pkt string) error {
	u := c.base
	u.RawQuery = c.query("polling")
	body := pkt
	if c.opts.EIO == 3 {
		body = strconv.Itoa(jsLen(pkt)) + ":" + pkt
	}
	req, err := http.NewRequest(http.MethodPost, u.String(), strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	for k, v := range c.opts.Header {
		req.Header[k] = v
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("POST: %w", err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST: HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(answer)))
	}
	return nil
}

// decodePayload splits a polling response into Engine.IO packets.
func (c *Client) decodePayload(body string) ([]string, error) {
	if c.opts.EIO == 4 {
		return strings.Split(body, separator), nil
	}
	// EIO 3: "<length>:<packet>" repeated; length counts UTF-16 code units.
	var out []string
	for body != "" {
		colon := strings.IndexByte(body, ':')
		if colon < 0 {
			return nil, fmt.Errorf("bad EIO3 payload %.40q", body)
		}
		n, err := strconv.Atoi(body[:colon])
		if err != nil {
			return nil, fmt.Errorf("bad EIO3 length %q", body[:colon])
		}
		body = body[colon+1:]
		i, units := 0, 0
		for units < n && i < len(body) {
			r, size := utf8.DecodeRuneInString(body[i:])
			units += len(utf16.Encode([]rune{r}))
			i += size
		}
		out = append(out, body[:i])
		body = body[i:]
	}
	return out, nil
}

// jsLen is a string's length as JavaScript counts it.
func jsLen(s string) int { return len(utf16.Encode([]rune(s))) }

// upgrade moves a polling session to WebSocket the way the browser client
// does: probe, stop polling, then send the upgrade packet.
func (c *Client) upgrade(ctx context.Context) error {
	ws, err := c.dialWebSocket(ctx)
	if err != nil {
		return err
	}
	if err := ws.WriteMessage(1, []byte("2probe")); err != nil {
		ws.Close()
		return err
	}
	_, msg, err := ws.ReadMessage()
	if err != nil || string(msg) != "3probe" {
		ws.Close()
		return fmt.Errorf("probe answered %q: %v", msg, err)
	}
	// The server answers the pending poll with a noop once probed; the poll
	// loop then stops, so no packet is read out of order.
	close(c.stopPoll)
	select {
	case <-c.pollDone:
	case <-ctx.Done():
		ws.Close()
		return ctx.Err()
	}
	c.writeMu.Lock()
	err = ws.WriteMessage(1, []byte("5"))
	c.ws = ws
	c.writeMu.Unlock()
	if err != nil {
		return err
	}
	go c.readWebSocket()
	return nil
}
