package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

type server struct {
	version  string
	metrics  *metrics
	failRate float64
	// served counts `GET /` answers, so FAIL_RATE fails an exact share rather than a random one.
	served    uint64
	servedMu  sync.Mutex
	smokeFail bool
	db        *pgxpool.Pool
}

func serve(ctx context.Context) error {
	failRate, err := parseFailRate(os.Getenv("FAIL_RATE"))
	if err != nil {
		return err
	}
	s := &server{
		version:   reportedVersion(),
		metrics:   newMetrics(),
		failRate:  failRate,
		smokeFail: os.Getenv("SMOKE_FAIL") == "1",
	}
	// The database is optional for serving: health, version and metrics work without it.
	if url := os.Getenv("DATABASE_URL"); url != "" {
		pool, err := pgxpool.New(ctx, url)
		if err != nil {
			return fmt.Errorf("DATABASE_URL is not a valid PostgreSQL URL: %w", err)
		}
		defer pool.Close()
		s.db = pool
	}
	addr := os.Getenv("LISTEN_ADDR")
	if addr == "" {
		addr = ":8080"
	}
	httpServer := &http.Server{Addr: addr, Handler: s.routes(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = httpServer.Shutdown(shutdown)
	}()
	fmt.Printf("service %s listening on %s\n", s.version, addr)
	if err := httpServer.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func parseFailRate(text string) (float64, error) {
	if text == "" {
		return 0, nil
	}
	rate, err := strconv.ParseFloat(text, 64)
	if err != nil || rate < 0 || rate > 1 || math.IsNaN(rate) {
		return 0, fmt.Errorf("FAIL_RATE must be a number from 0 to 1; got %q", text)
	}
	return rate, nil
}

func (s *server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { text(w, 200, "ok") })
	mux.HandleFunc("GET /{$}", s.root)
	mux.HandleFunc("GET /smoke", s.smoke)
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		w.WriteHeader(200)
		s.metrics.write(w)
	})
	mux.HandleFunc("POST /items", s.addItem)
	mux.HandleFunc("GET /items/count", s.countItems)
	return s.metrics.count(s.version, mux)
}

func (s *server) root(w http.ResponseWriter, _ *http.Request) {
	if s.shouldFail() {
		text(w, 500, fmt.Sprintf("%s failed this request on purpose (FAIL_RATE=%g)", s.version, s.failRate))
		return
	}
	text(w, 200, s.version)
}

// shouldFail fails request n exactly when it crosses a multiple of 1/FAIL_RATE: over any
// run of requests the failed share is FAIL_RATE, to within one request.
func (s *server) shouldFail() bool {
	s.servedMu.Lock()
	defer s.servedMu.Unlock()
	s.served++
	n := float64(s.served)
	return math.Floor(n*s.failRate) > math.Floor((n-1)*s.failRate)
}

func (s *server) smoke(w http.ResponseWriter, _ *http.Request) {
	if s.smokeFail {
		text(w, 500, fmt.Sprintf("%s smoke check failed (SMOKE_FAIL=1)", s.version))
		return
	}
	text(w, 200, "smoke ok")
}

func (s *server) addItem(w http.ResponseWriter, r *http.Request) {
	if s.db == nil {
		text(w, 503, "DATABASE_URL is not set")
		return
	}
	var id int64
	err := s.db.QueryRow(r.Context(), "INSERT INTO items (version) VALUES ($1) RETURNING id", s.version).Scan(&id)
	if err != nil {
		text(w, 500, "insert failed: "+err.Error())
		return
	}
	text(w, 201, strconv.FormatInt(id, 10))
}

func (s *server) countItems(w http.ResponseWriter, r *http.Request) {
	if s.db == nil {
		text(w, 503, "DATABASE_URL is not set")
		return
	}
	var count int64
	if err := s.db.QueryRow(r.Context(), "SELECT count(*) FROM items").Scan(&count); err != nil {
		text(w, 500, "count failed: "+err.Error())
		return
	}
	text(w, 200, strconv.FormatInt(count, 10))
}

func text(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprintln(w, body)
}
