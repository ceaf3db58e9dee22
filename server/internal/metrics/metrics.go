// Package metrics holds the server's Prometheus counters, on a registry
// owned by the server value (never the global default registry, so two
// servers in one test process keep separate counts).
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is one server's counters. A nil *Metrics counts nothing, so
// callers need no checks.
type Metrics struct {
	reg         *prometheus.Registry
	clients     prometheus.Gauge
	eventsIn    byEvent
	eventsOut   byEvent
	rejected    byEvent
	redisErrors prometheus.Counter
	dropped     prometheus.Counter
}

// byEvent is a counter per known event name plus "other", looked up once
// at start: EventOut runs once per delivered packet.
type byEvent struct {
	known map[string]prometheus.Counter
	other prometheus.Counter
}

func newByEvent(vec *prometheus.CounterVec, known []string) byEvent {
	b := byEvent{known: make(map[string]prometheus.Counter, len(known)), other: vec.WithLabelValues("other")}
	for _, name := range known {
		b.known[name] = vec.WithLabelValues(name)
	}
	return b
}

func (b byEvent) inc(name string) {
	if c, ok := b.known[name]; ok {
		c.Inc()
		return
	}
	b.other.Inc()
}

// New registers the counters. Events are labelled only with the known
// names, since clients choose event names and labels must stay bounded:
// received (and rejected) events with the names the server handles, sent
// ones with the names it emits, so no label is a name that is always 0.
func New(received, sent []string) *Metrics {
	vec := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, []string{"event"})
	}
	in := vec("circles_events_in_total", "Events received from clients, by name.")
	out := vec("circles_events_out_total", "Events delivered to this node's clients, by name.")
	rejected := vec("circles_events_rejected_total", "Events rejected (invalid input or store failure), by name.")
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		clients: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "circles_connected_clients", Help: "Socket.IO clients connected to this node.",
		}),
		eventsIn:  newByEvent(in, received),
		eventsOut: newByEvent(out, sent),
		rejected:  newByEvent(rejected, received),
		redisErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "circles_redis_errors_total", Help: "Failed Redis calls (store, heartbeat, adapter).",
		}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "circles_redis_dropped_total",
			Help: "Cross-node messages and Redis writes dropped because Redis was down or the write queue full.",
		}),
	}
	m.reg.MustRegister(m.clients, in, out, rejected, m.redisErrors, m.dropped,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Connected and Disconnected track connected clients.
func (m *Metrics) Connected() {
	if m != nil {
		m.clients.Inc()
	}
}

func (m *Metrics) Disconnected() {
	if m != nil {
		m.clients.Dec()
	}
}

// EventIn counts an event received from a client.
func (m *Metrics) EventIn(event string) {
	if m != nil {
		m.eventsIn.inc(event)
	}
}

// EventOut counts an event delivered to a client. It takes the name as
// bytes of the encoded packet: looking them up allocates nothing.
func (m *Metrics) EventOut(event []byte) { m.EventOutN(event, 1) }

// EventOutN counts an event delivered to n clients (a broadcast).
func (m *Metrics) EventOutN(event []byte, n int) {
	if m == nil || n <= 0 {
		return
	}
	if c, ok := m.eventsOut.known[string(event)]; ok {
		c.Add(float64(n))
	} else {
		m.eventsOut.other.Add(float64(n))
	}
}

// Rejected counts a rejected event.
func (m *Metrics) Rejected(event string) {
	if m != nil {
		m.rejected.inc(event)
	}
}

// RedisError counts a failed Redis call.
func (m *Metrics) RedisError(error) {
	if m != nil {
		m.redisErrors.Inc()
	}
}

// RedisDropped counts a cross-node message or Redis write dropped.
func (m *Metrics) RedisDropped() {
	if m != nil {
		m.dropped.Inc()
	}
}

// Gauge registers a gauge read from f at each scrape (the memory caps'
// usage: replay bytes, boards, circles).
func (m *Metrics) Gauge(name, help string, f func() float64) {
	if m != nil {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
	}
}
