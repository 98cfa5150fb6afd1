// Command yard runs the Yard server. All of it lives in server/app; main only supplies the
// signal-aware context and the process's streams.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/yardhq/yard/server/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := app.Main(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}
