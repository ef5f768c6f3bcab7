package rangefs

import (
	"sync"

	"github.com/rangecast/rangecast/pkg/wire"
)

// fdBudget is the server-wide budget of file descriptors (ServerOptions.MaxOpenFiles). Per-
// session limits alone (256 handles and 64 READs) times 64 peers exceed the process's
// RLIMIT_NOFILE: with a lower limit, four sessions exhausted it (measured 2026-11) and every
// other session's OPENs failed with I/O errors. The budget is shared fairly: a session may hold
// at most max(total / active sessions, fdFloor), so that one session cannot starve the others,
// and is refused with StatusTooManyHandles, which clients read as "busy, try again", beyond it.
//
// It counts what a session holds open beyond a request: handles, files opened for a path READ,
// directories being read for LIST. The descriptors os.Root opens for an instant while it walks a
// path, and everything else in the process, live in the reserve MaxOpenFiles leaves.
type fdBudget struct {
	mu       sync.Mutex
	total    int
	used     int
	sessions int // active sessions, each entitled to a fair share
}

// fdFloor is the share every session may hold however many sessions there are, as long as
// the total allows: enough to play a video and list a directory.
const fdFloor = 8

// errBusy refuses a descriptor beyond the session's share or the server's budget.
var errBusy = statusErrorf(wire.StatusTooManyHandles, "server busy: too many open files, try again later")

// join counts a session in; leave counts it out.
func (b *fdBudget) join() {
	b.mu.Lock()
	b.sessions++
	b.mu.Unlock()
}

func (b *fdBudget) leave() {
	b.mu.Lock()
	b.sessions--
	b.mu.Unlock()
}

// take reserves one descriptor for a session that holds *held, or returns errBusy.
func (b *fdBudget) take(held *int) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	share := max(b.total/max(b.sessions, 1), min(fdFloor, b.total))
	if b.used >= b.total || *held >= share {
		return errBusy
	}
	b.used++
	*held++
	return nil
}

// give returns one descriptor taken by take.
func (b *fdBudget) give(held *int) {
	b.mu.Lock()
	b.used--
	*held--
	b.mu.Unlock()
}
