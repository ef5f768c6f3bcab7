package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/rangecast/rangecast/pkg/rangefs"
	"github.com/rangecast/rangecast/pkg/signal"
)

// connect opens a session to the daemon named by link, with the native client's settings.
func connect(ctx context.Context, link string) (*signal.Session, error) {
	s, err := signal.Connect(ctx, link, signal.NativeDialOptions())
	if err != nil {
		return nil, explain(err)
	}
	return s, nil
}

// explain turns the errors people meet into sentences that say what to do.
func explain(err error) error {
	switch {
	case errors.Is(err, signal.ErrBadLink):
		return fmt.Errorf("%w (copy the whole link the daemon printed, with its #t= part)", err)
	case errors.Is(err, signal.ErrUnauthorized):
		return fmt.Errorf("the daemon refused the link's token: %w", err)
	case errors.Is(err, signal.ErrTooManyPeers):
		return fmt.Errorf("the daemon is busy: %w", err)
	case errors.Is(err, signal.ErrSetupTimeout):
		return fmt.Errorf("could not connect to the daemon: %w", err)
	case errors.Is(err, rangefs.ErrGoingAway):
		return fmt.Errorf("the daemon shut down: %w", err)
	case errors.Is(err, rangefs.ErrChanged):
		return fmt.Errorf("the file changed on the daemon while it was being read: %w", err)
	case errors.Is(err, rangefs.ErrClosed):
		return fmt.Errorf("lost the connection to the daemon: %w", err)
	}
	return err
}
