//go:build !js

package peer

import (
	"time"

	"github.com/pion/webrtc/v4"
)

// detachedRW is the part of pion/datachannel's ReadWriteCloserDeadliner a
// detached channel uses.
type detachedRW interface {
	ReadDataChannel(p []byte) (n int, isString bool, err error)
	WriteDataChannel(p []byte, isString bool) (n int, err error)
	SetReadDeadline(t time.Time) error
}

// detached is the native transport: a detached pion DataChannel. Reads come
// straight from the SCTP stream's reassembly queue, so unread data stays
// within SCTP's receive window and the sender stops when it is full.
type detached struct {
	dc *webrtc.DataChannel
	rw detachedRW
}

func (d *detached) label() string { return d.dc.Label() }

// read returns one message. pion/sctp (v1.11) keeps a message that does not
// fit and reports io.ErrShortBuffer, which pion/datachannel passes on with
// n = 0; string messages are returned as bytes.
func (d *detached) read(p []byte) (int, error) {
	n, _, err := d.rw.ReadDataChannel(p)
	return n, err
}

// write queues p on the SCTP association; it does not block (pion's
// blocking-write mode is off).
func (d *detached) write(p []byte) error {
	_, err := d.rw.WriteDataChannel(p, false)
	return err
}

func (d *detached) bufferedAmount() int { return int(d.dc.BufferedAmount()) } //nolint:gosec // bounded by the high-water mark

// drained reports whether every message written was acknowledged by the peer. pion counts a
// stream's bytes as buffered until they are SACKed, but a SACK that arrives after the peer
// reset the stream (as a peer that closes on reading an ERROR does) no longer finds the stream
// and leaves its count stuck above zero (pion/sctp v1.11). The association's count, over every
// stream, has no such trap: when it is zero, our messages were acknowledged too.
func (d *detached) drained() bool {
	if d.dc.BufferedAmount() == 0 {
		return true
	}
	t := d.dc.Transport()
	return t == nil || t.BufferedAmount() == 0
}

// setOnLow uses pion's event, which calls f on a new goroutine.
func (d *detached) setOnLow(threshold int, f func()) {
	d.dc.SetBufferedAmountLowThreshold(uint64(threshold)) //nolint:gosec // positive, from Config
	d.dc.OnBufferedAmountLow(f)
}

// unblock sets a read deadline in the past: closing the stream alone leaves a
// pending read waiting until the peer answers the stream reset.
func (d *detached) unblock() { _ = d.rw.SetReadDeadline(time.Unix(1, 0)) }

// close resets the outgoing stream after the data already queued on it.
func (d *detached) close() error { return d.dc.Close() }
