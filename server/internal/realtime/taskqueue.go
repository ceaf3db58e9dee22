package realtime

import (
	"reflect"
	"runtime"
	"unsafe"

	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/queue"
)

// releaseTaskQueues lets every Socket.IO socket's task queue be freed once
// its session has closed.
//
// The library (servers/socket v3.0.2) gives each socket a task queue
// (socket.go:150 queue.New()). queue.New (pkg/queue/queue.go:30) sets a
// finalizer on a queue whose sync.Cond points back into it: an object in a
// cycle with a finalizer is never collected, so every socket's queue (8 KB
// of task slice, and what its tasks hold) stayed forever. The socket
// closes its queue (socket.go:601 TryClose) but never clears the
// finalizer, and the field is unexported: this is the one place we reach
// it, by reflection, pinned to v3.0.2 (TestTaskQueuesFreed fails if the
// field moves or the leak returns).
func (s *Server) releaseTaskQueues() {
	watch := func(so *socket.Socket) {
		_ = so.Conn().Once("close", func(...any) { releaseTaskQueue(so) })
	}
	// Middlewares see every socket that is not recovered, including those
	// they refuse; the connection event sees the recovered ones.
	s.io.Use(func(so *socket.Socket, next func(*socket.ExtendedError)) {
		watch(so)
		next(nil)
	})
	s.io.On("connection", func(args ...any) {
		if so, ok := args[0].(*socket.Socket); ok && so.Recovered() {
			watch(so)
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

// taskQueueOf reads the socket's unexported taskQueue field (socket.go:137).
func taskQueueOf(so *socket.Socket) *queue.Queue {
	f := reflect.ValueOf(so).Elem().FieldByName("taskQueue")
	if !f.IsValid() || f.Type() != reflect.TypeFor[*queue.Queue]() {
		return nil
	}
	return *(**queue.Queue)(unsafe.Pointer(f.UnsafeAddr()))
}
