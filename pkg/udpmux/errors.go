//go:build !js

package udpmux

import (
	"errors"
	"io"
	"net"
)

// ErrClosed is returned by Mux.GetConn and Mux.Accept once the Mux is closed.
// errors.Is(ErrClosed, net.ErrClosed) holds.
var ErrClosed error = closedError{what: "udpmux: mux closed"}

// errConnClosed is returned by the I/O methods of a conn that was closed, or
// whose ufrag was removed, or whose Mux was closed. It matches net.ErrClosed,
// which pion's candidate read loop treats as a normal end, and
// io.ErrClosedPipe, which its write path treats as fatal rather than
// transient.
var errConnClosed error = closedError{what: "udpmux: conn closed"}

type closedError struct{ what string }

func (e closedError) Error() string { return e.what }

func (e closedError) Is(target error) bool {
	return target == net.ErrClosed || target == io.ErrClosedPipe
}

// Errors of GetConn and of a conn's WriteTo.
var (
	// ErrUnknownAddress is returned by GetConn for an address the Mux does
	// not listen on.
	ErrUnknownAddress = errors.New("udpmux: not a listen address of this mux")
	// ErrInvalidUfrag is returned by GetConn for an empty or oversized ufrag.
	ErrInvalidUfrag = errors.New("udpmux: invalid ufrag")
	// ErrAddressFamily is returned by a conn's WriteTo for a destination of
	// the other address family than the conn's socket.
	ErrAddressFamily = errors.New("udpmux: destination address family does not match the socket")
	// ErrInvalidDestination is returned by a conn's WriteTo for a destination
	// that is not a valid UDP address.
	ErrInvalidDestination = errors.New("udpmux: invalid destination address")
)
