package main

import (
	"context"
	"errors"
	"io"
)

func benchReconcile(ctx context.Context, args []string, stdout io.Writer) error {
	return errors.New("reconcile bench: not written yet")
}
