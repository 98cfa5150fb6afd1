package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/yardhq/yard/server/config"
	"github.com/yardhq/yard/server/version"
)

const usage = `Yard: a real-time collaborative workspace for Kubernetes.

Usage:
  yard serve [flags]   run the server (yard serve --help lists every flag)
  yard version         print the version
`

// Main is the whole command line: main only supplies the process's context and streams.
// It returns the exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "yard", version.Version)
		return 0
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage)
		return 0
	case "serve":
	default:
		fmt.Fprintf(stderr, "yard: unknown command %q\n\n%s", args[0], usage)
		return 2
	}

	cfg, err := config.Parse(args[1:], getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "yard serve:", err)
		return 2
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "yard serve: invalid configuration:\n  %s\n", strings.ReplaceAll(err.Error(), "\n", "\n  "))
		return 2
	}
	log := NewLogger(stderr, cfg.LogFormat, cfg.LogLevel)
	a, err := New(cfg, log)
	if err != nil {
		log.Error("cannot start", "err", err)
		return 1
	}
	if err := a.Run(ctx); err != nil {
		log.Error("server stopped with an error", "err", err)
		return 1
	}
	return 0
}

// NewLogger returns the process logger: text or JSON, at level.
func NewLogger(w io.Writer, format, level string) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: lvl}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
