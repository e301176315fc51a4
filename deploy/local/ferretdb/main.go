// Command ferretdb runs FerretDB v1 (embedded) for local development, on SQLite or on
// PostgreSQL.
//
// It exists because `go install github.com/FerretDB/FerretDB/cmd/ferretdb` panics on a
// missing version file; the embeddable package does not. Built and started by
// deploy/local/devstack.py, which keeps the binary and the data under the cache folder.
//
//	ferretdb -listen-addr 127.0.0.1:27017 -data-dir /path/to/dir
//	ferretdb -listen-addr 127.0.0.1:27017 -handler postgresql -postgresql-url postgres://user@127.0.0.1:28017/postgres
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listenAddr := flag.String("listen-addr", "127.0.0.1:27017", "TCP address to listen on")
	handler := flag.String("handler", "sqlite", "storage: sqlite or postgresql")
	dataDir := flag.String("data-dir", "", "directory for the SQLite databases (created if missing)")
	postgresqlURL := flag.String("postgresql-url", "", "PostgreSQL URL for -handler postgresql")
	logLevel := flag.String("log-level", "warn", "log level: debug, info, warn or error")
	flag.Parse()

	if err := run(*listenAddr, *handler, *dataDir, *postgresqlURL, *logLevel); err != nil {
		fmt.Fprintf(os.Stderr, "ferretdb: %s\n", err)
		os.Exit(1)
	}
}

func run(listenAddr, handler, dataDir, postgresqlURL, logLevel string) error {
	config := ferretdb.Config{Listener: ferretdb.ListenerConfig{TCP: listenAddr}, Handler: handler}
	storage := ""
	switch handler {
	case "sqlite":
		if dataDir == "" {
			return fmt.Errorf("-data-dir is required")
		}
		dir, err := filepath.Abs(dataDir)
		if err != nil {
			return err
		}
		// The SQLite handler needs an existing directory and a URL ending with "/".
		if err = os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		config.SQLiteURL = "file:" + strings.TrimSuffix(dir, "/") + "/"
		storage = "data in " + dir
	case "postgresql":
		if postgresqlURL == "" {
			return fmt.Errorf("-postgresql-url is required with -handler postgresql")
		}
		config.PostgreSQLURL = postgresqlURL
		storage = "data in " + postgresqlURL
	default:
		return fmt.Errorf("bad -handler %q: sqlite or postgresql", handler)
	}

	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		return fmt.Errorf("bad -log-level %q: %w", logLevel, err)
	}
	config.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	f, err := ferretdb.New(&config)
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = f.Run(ctx)
	}()

	fmt.Fprintf(os.Stderr, "ferretdb: listening on %s, %s (pid %d)\n", listenAddr, storage, os.Getpid())

	<-done
	fmt.Fprintln(os.Stderr, "ferretdb: stopped")
	return nil
}
