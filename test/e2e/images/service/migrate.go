package main

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrate applies the one migration of this image's version in a single
// transaction, statement by statement, printing each; any error rolls all of
// it back and exits non-zero. Which versions ran is the caller's ledger.
func migrate(ctx context.Context, version string) error {
	sql, err := migrationFiles.ReadFile("migrations/" + version + ".sql")
	if err != nil {
		return fmt.Errorf("this image has no migration for version %q; it knows %s", version, strings.Join(knownMigrations(), ", "))
	}
	url, err := databaseURL()
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("cannot connect to DATABASE_URL: %w", err)
	}
	defer conn.Close(context.Background())
	statements := splitStatements(string(sql))
	fmt.Printf("migrate %s: %d statements in one transaction\n", version, len(statements))
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.Background())
	for i, statement := range statements {
		fmt.Printf("migrate %s: [%d/%d] %s\n", version, i+1, len(statements), firstLine(statement))
		if _, err := tx.Exec(ctx, statement); err != nil {
			return fmt.Errorf("migration %s failed at statement %d of %d, rolled back: %w", version, i+1, len(statements), err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("migration %s failed to commit: %w", version, err)
	}
	fmt.Printf("migrate %s: committed\n", version)
	return nil
}

func knownMigrations() []string {
	entries, _ := fs.ReadDir(migrationFiles, "migrations")
	names := make([]string, 0, len(entries))
	for _, entry := range entries {
		names = append(names, strings.TrimSuffix(entry.Name(), ".sql"))
	}
	sort.Strings(names)
	return names
}

// splitStatements drops `--` comment lines and splits on a `;` that ends a line;
// the migrations are ours, so no statement holds a `;` at a line end inside a string.
func splitStatements(sql string) []string {
	var statements []string
	var current []string
	for _, line := range strings.Split(sql, "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "--") {
			continue
		}
		current = append(current, line)
		if strings.HasSuffix(trimmed, ";") {
			statements = append(statements, strings.Join(current, "\n"))
			current = nil
		}
	}
	if len(current) > 0 {
		statements = append(statements, strings.Join(current, "\n"))
	}
	return statements
}

func firstLine(statement string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(statement), "\n")
	return line
}
