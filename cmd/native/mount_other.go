//go:build !linux

package main

import (
	"context"
	"errors"
	"io"
)

func runMount(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return errors.New("mount needs Linux (FUSE); use 'rangecast http' instead")
}
