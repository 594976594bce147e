package main

import (
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The names and labels the promote driver reads (drivers/metrics/prometheus.ts defaults).
const (
	requestsMetric = "http_requests_total"
	durationMetric = "http_request_duration_seconds"
)

var bounds = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// Handlers are counted by route pattern, never by raw path, so a scan cannot grow the label set.
type seriesKey struct {
	handler string
	status  int
}

type metrics struct {
	mu       sync.Mutex
	version  string
	requests map[seriesKey]uint64
	buckets  []uint64 // cumulative per bound, then +Inf
	sum      float64
}

func newMetrics() *metrics {
	return &metrics{requests: map[seriesKey]uint64{}, buckets: make([]uint64, len(bounds)+1)}
}

type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

// count wraps every request: its status and duration are recorded once the handler returns.
func (m *metrics) count(version string, mux *http.ServeMux) http.Handler {
	m.version = version
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started := time.Now()
		rec := &recorder{ResponseWriter: w, status: 200}
		mux.ServeHTTP(rec, r)
		_, pattern := mux.Handler(r)
		if pattern == "" {
			pattern = "other"
		} else {
			if i := strings.IndexByte(pattern, ' '); i >= 0 {
				pattern = pattern[i+1:]
			}
			pattern = strings.TrimSuffix(pattern, "{$}")
		}
		m.observe(seriesKey{handler: pattern, status: rec.status}, time.Since(started).Seconds())
	})
}

func (m *metrics) observe(key seriesKey, seconds float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests[key]++
	for i, bound := range bounds {
		if seconds <= bound {
			m.buckets[i]++
		}
	}
	m.buckets[len(bounds)]++
	m.sum += seconds
}

func (m *metrics) write(w io.Writer) {
	m.mu.Lock()
	defer m.mu.Unlock()
	keys := make([]seriesKey, 0, len(m.requests))
	for key := range m.requests {
		keys = append(keys, key)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].handler != keys[j].handler {
			return keys[i].handler < keys[j].handler
		}
		return keys[i].status < keys[j].status
	})
	fmt.Fprintf(w, "# HELP %s Requests answered, by handler and HTTP status.\n# TYPE %s counter\n", requestsMetric, requestsMetric)
	for _, key := range keys {
		fmt.Fprintf(w, "%s{version=%q,handler=%q,status=\"%d\"} %d\n", requestsMetric, m.version, key.handler, key.status, m.requests[key])
	}
	fmt.Fprintf(w, "# HELP %s Time to answer a request.\n# TYPE %s histogram\n", durationMetric, durationMetric)
	for i, bound := range bounds {
		le := strconv.FormatFloat(bound, 'g', -1, 64)
		fmt.Fprintf(w, "%s_bucket{version=%q,le=%q} %d\n", durationMetric, m.version, le, m.buckets[i])
	}
	fmt.Fprintf(w, "%s_bucket{version=%q,le=\"+Inf\"} %d\n", durationMetric, m.version, m.buckets[len(bounds)])
	fmt.Fprintf(w, "%s_sum{version=%q} %g\n", durationMetric, m.version, m.sum)
	fmt.Fprintf(w, "%s_count{version=%q} %d\n", durationMetric, m.version, m.buckets[len(bounds)])
}
