package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// work writes one heartbeat row a second, so a test sees when writers stop
// (quiesce) and start again. A failed beat is reported and retried on the next
// tick: the table appears only once the first migration has run.
func work(ctx context.Context) error {
	url, err := databaseURL()
	if err != nil {
		return err
	}
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return fmt.Errorf("DATABASE_URL is not a valid PostgreSQL URL: %w", err)
	}
	defer pool.Close()
	name, _ := os.Hostname()
	version := reportedVersion()
	fmt.Printf("worker %s (%s) writing a heartbeat every second\n", name, version)
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	for {
		beat, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := pool.Exec(beat, "INSERT INTO worker_heartbeats (worker, version) VALUES ($1, $2)", name, version)
		cancel()
		if err != nil && ctx.Err() == nil {
			fmt.Fprintf(os.Stderr, "worker: heartbeat failed: %v\n", err)
		}
		select {
		case <-ctx.Done():
			fmt.Println("worker: stopped")
			return nil
		case <-ticker.C:
		}
	}
}
