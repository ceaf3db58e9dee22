package realtime

import (
	"reflect"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/queue"
	"github.com/zishang520/socket.io/v3/pkg/utils"
)

// Two defects of the library's Socket.IO layer (servers/socket v3.0.2)
// keep memory or a goroutine for every client, and only its unexported
// fields lead to them. This file is the one place that reaches them, by
// reflection, pinned to v3.0.2: TestTaskQueuesFreed and
// TestConnectTimersReleased fail if a field moves or a leak returns.
//
//   - Each socket's task queue (socket.go:150 queue.New()) carries a
//     finalizer (pkg/queue/queue.go:30) on an object that reaches itself
//     (its sync.Cond points at its own mutex): the runtime never frees a
//     cycle with a finalizer, so every socket's queue (an 8 KB task slice
//     and what its tasks hold) stayed for good. The socket closes its
//     queue (socket.go:601) but never clears the finalizer.
//   - Each client's connect timeout (client.go:78 utils.SetTimeout) runs in
//     a goroutine that waits on the timer or a stop channel; ClearTimeout
//     (client.go:118, on join) stops the timer and tells the goroutine with
//     a non-blocking send (pkg/utils/timer.go:69-75), which is lost when
//     the goroutine has not reached its select yet: it then waits forever
//     on a timer that will never fire, holding the client and its session
//     (about 1 in 10 clients under load).

// releaseLibraryLeaks registers the two fixes. Every socket passes the
// middleware (recovery does not skip middlewares here), where its task
// queue and its client's connect timer are still reachable.
func (s *Server) releaseLibraryLeaks() {
	var timers sync.Map // *socket.Socket → *utils.Timer, until joined
	s.io.Use(func(so *socket.Socket, next func(*socket.ExtendedError)) {
		if t := connectTimerOf(so.Client()); t != nil {
			timers.Store(so, t)
		}
		_ = so.Conn().Once("close", func(...any) {
			releaseTaskQueue(so)
			if t, ok := timers.LoadAndDelete(so); ok {
				releaseTimer(t.(*utils.Timer))
			}
		})
		next(nil)
	})
	// The client cleared its connect timer before this event
	// (client.go:115-120); a goroutine that missed the stop ends now.
	s.io.On("connection", func(args ...any) {
		if t, ok := timers.LoadAndDelete(args[0]); ok {
			releaseTimer(t.(*utils.Timer))
		}
	})
}

// releaseTaskQueue closes so's task queue (idempotent: the socket closed
// it already, or is about to) and clears its finalizer.
func releaseTaskQueue(so *socket.Socket) {
	if q := taskQueueOf(so); q != nil {
		q.TryClose()
		runtime.SetFinalizer(q, nil)
	}
}

// releaseTimer ends a cleared timer's goroutine if the clear was lost:
// closing the stop channel wakes it (and is harmless if it has gone).
// Only a timer the library has cleared, or no longer uses, is released.
func releaseTimer(t *utils.Timer) {
	if ch := field[chan struct{}](t, "stopCh"); ch != nil {
		close(*ch)
	}
}

// taskQueueOf reads Socket.taskQueue (socket.go:137).
func taskQueueOf(so *socket.Socket) *queue.Queue {
	if q := field[*queue.Queue](so, "taskQueue"); q != nil {
		return *q
	}
	return nil
}

// connectTimerOf reads Client.connectTimeout (client.go:27).
func connectTimerOf(c *socket.Client) *utils.Timer {
	if c == nil {
		return nil
	}
	if p := field[atomic.Pointer[utils.Timer]](c, "connectTimeout"); p != nil {
		return p.Load()
	}
	return nil
}

// field points at the unexported field name of *ptr if it has type T,
// else nil.
func field[T any](ptr any, name string) *T {
	v := reflect.ValueOf(ptr)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return nil
	}
	f := v.Elem().FieldByName(name)
	if !f.IsValid() || f.Type() != reflect.TypeFor[T]() {
		return nil
	}
	return (*T)(unsafe.Pointer(f.UnsafeAddr()))
}
