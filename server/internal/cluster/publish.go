package cluster

import (
	"context"

	"github.com/redis/go-redis/v9"
)

// Writes nobody waits for (circles, clears, and every message the
// Socket.IO adapter publishes) go through one bounded FIFO queue and one
// goroutine, which sends what has piled up as one pipeline. So a client's
// event never waits on Redis: its own node delivers at local speed whether
// Redis is fast, slow or gone. One queue keeps this node's writes and
// publishes in the order they were made. While Redis is down, or when the
// queue is full, they are dropped and counted (OnDropped): a backlog
// replayed minutes later would reach pages out of context, in a burst.
const (
	writeQueue = 4096 // writes waiting; about 0.4 s of a hall's full add-circle rate
	writeBatch = 256  // writes per pipeline
)

type writeOp func(ctx context.Context, p redis.Pipeliner)

// write queues a write, or drops it while Redis is down or the queue is full.
func (n *Node) write(op writeOp) {
	if !n.up.Load() {
		n.dropped()
		return
	}
	select {
	case n.writes <- op:
	default:
		n.dropped()
	}
}

func (n *Node) dropped() {
	if n.opts.OnDropped != nil {
		n.opts.OnDropped()
	}
}

// writer sends queued writes until Close.
func (n *Node) writer() {
	batch := make([]writeOp, 0, writeBatch)
	for {
		select {
		case <-n.ctx.Done():
			return
		case op := <-n.writes:
			batch = append(batch[:0], op)
		}
	more:
		for len(batch) < writeBatch {
			select {
			case op := <-n.writes:
				batch = append(batch, op)
			default:
				break more
			}
		}
		if !n.up.Load() {
			for range batch {
				n.dropped()
			}
			continue
		}
		ctx, cancel := context.WithTimeout(n.ctx, n.opts.CallTimeout)
		_, err := n.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, op := range batch {
				op(ctx, p)
			}
			return nil
		})
		cancel()
		if err != nil {
			n.failed("write", err)
		}
	}
}

// publisher is the client the Socket.IO adapter publishes with: PUBLISH
// joins the write queue and returns at once. Everything else (its
// subscriptions) goes to the real client.
type publisher struct {
	*redis.Client
	n *Node
}

func (p publisher) Publish(ctx context.Context, channel string, message any) *redis.IntCmd {
	p.n.write(func(ctx context.Context, pl redis.Pipeliner) { pl.Publish(ctx, channel, message) })
	cmd := redis.NewIntCmd(ctx)
	cmd.SetVal(0)
	return cmd
}
