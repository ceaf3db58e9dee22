// Package metrics holds the server's Prometheus counters, on a registry
// owned by the server value (never the global default registry, so two
// servers in one test process keep separate counts).
package metrics

import (
	"net/http"
	"slices"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is one server's counters. A nil *Metrics counts nothing, so
// callers need no checks.
type Metrics struct {
	reg         *prometheus.Registry
	known       []string // event names counted by name; others count as "other"
	clients     prometheus.Gauge
	eventsIn    *prometheus.CounterVec
	eventsOut   *prometheus.CounterVec
	rejected    *prometheus.CounterVec
	redisErrors prometheus.Counter
}

// New registers the counters. Events are labelled only with the known
// names, since clients choose event names and labels must stay bounded.
func New(knownEvents []string) *Metrics {
	m := &Metrics{
		reg:   prometheus.NewRegistry(),
		known: slices.Clone(knownEvents),
		clients: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "circles_connected_clients", Help: "Socket.IO clients connected to this node.",
		}),
		eventsIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "circles_events_in_total", Help: "Events received from clients, by name.",
		}, []string{"event"}),
		eventsOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "circles_events_out_total", Help: "Events delivered to this node's clients, by name.",
		}, []string{"event"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "circles_events_rejected_total", Help: "Events rejected (invalid input or store failure), by name.",
		}, []string{"event"}),
		redisErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "circles_redis_errors_total", Help: "Failed Redis calls (store, heartbeat, adapter).",
		}),
	}
	m.reg.MustRegister(m.clients, m.eventsIn, m.eventsOut, m.rejected, m.redisErrors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

func (m *Metrics) label(event string) string {
	if slices.Contains(m.known, event) {
		return event
	}
	return "other"
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
		m.eventsIn.WithLabelValues(m.label(event)).Inc()
	}
}

// EventOut counts an event delivered to a client.
func (m *Metrics) EventOut(event string) {
	if m != nil {
		m.eventsOut.WithLabelValues(m.label(event)).Inc()
	}
}

// Rejected counts a rejected event.
func (m *Metrics) Rejected(event string) {
	if m != nil {
		m.rejected.WithLabelValues(m.label(event)).Inc()
	}
}

// RedisError counts a failed Redis call.
func (m *Metrics) RedisError(error) {
	if m != nil {
		m.redisErrors.Inc()
	}
}
