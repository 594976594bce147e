// Command service is the test service that the end-to-end tests release: a
// small HTTP server with the endpoints the upgrade runbook relies on (health,
// version, metrics, smoke, writes to PostgreSQL), its migrations and a worker.
//
//	service            serve HTTP on :8080 (LISTEN_ADDR overrides)
//	service migrate    apply the migration of this image's version, once, in one transaction
//	service worker     write a heartbeat row every second until stopped
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// versionFile is baked into each image, so every tag has its own content and digest.
const versionFile = "/etc/service-release"

// imageVersion is the version this image was built as; RELEASE_VERSION (set by
// the platform on every container) wins for what the server reports.
func imageVersion() string {
	if data, err := os.ReadFile(versionFile); err == nil {
		return strings.TrimSpace(string(data))
	}
	return os.Getenv("RELEASE_VERSION")
}

func reportedVersion() string {
	if v := os.Getenv("RELEASE_VERSION"); v != "" {
		return v
	}
	return imageVersion()
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	mode := "serve"
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}
	var err error
	switch mode {
	case "serve":
		err = serve(ctx)
	case "migrate":
		err = migrate(ctx, imageVersion())
	case "worker":
		err = work(ctx)
	default:
		err = fmt.Errorf("unknown subcommand %q; use serve, migrate or worker", mode)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "service %s: %v\n", mode, err)
		os.Exit(1)
	}
}

// databaseURL is required by every mode that writes; its value is never printed (it holds the password).
func databaseURL() (string, error) {
	url := os.Getenv("DATABASE_URL")
	if url == "" {
		return "", fmt.Errorf("DATABASE_URL is not set; give a postgres:// URL of the service database")
	}
	return url, nil
}
