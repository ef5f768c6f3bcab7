package rangefs

// recvWindow is the receiving side of one credit window (a stream's or the session's). The
// sender may have at most size bytes outstanding: sent, and not yet given back as CREDIT.
// The receiver gives credit back as its consumer takes bytes out, in batches of a quarter
// window so that a CREDIT frame is not sent per DATA frame.
//
// The zero value is unusable; it is not safe for concurrent use (the Client guards it).
type recvWindow struct {
	size    int64 // the window announced in HELLO
	used    int64 // received and not yet credited back
	pending int64 // consumed, to be credited back
}

func newRecvWindow(size uint32) recvWindow { return recvWindow{size: int64(size)} }

// onData records n received bytes and reports whether the sender stayed within its credit.
func (w *recvWindow) onData(n int64) bool {
	w.used += n
	return w.used <= w.size
}

// flush returns all the credit owed, batched or not.
func (w *recvWindow) flush() uint32 {
	inc := w.pending
	w.used -= inc
	w.pending = 0
	return uint32(inc)
}

// consumed records n bytes taken by the consumer and returns the credit to send now, or 0.
func (w *recvWindow) consumed(n int64) uint32 {
	w.pending += n
	if w.pending < max(w.size/4, 1) {
		return 0
	}
	inc := w.pending
	w.used -= inc
	w.pending = 0
	return uint32(inc)
}
