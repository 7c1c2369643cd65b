package main

import (
	"context"
	"errors"
	"io"
)

func runReconcile(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return errors.New("reconcile: not built yet (issue 4)")
}
