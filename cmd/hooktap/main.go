// Command hooktap is a local development tunnel and event inspector for
// webhooks. See `hooktap help`.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "hooktap:", err)
		var ue usageError
		var ie interruptedError
		switch {
		case errors.As(err, &ue):
			os.Exit(2)
		case errors.As(err, &ie):
			os.Exit(130)
		}
		os.Exit(1)
	}
}
